"""``make demo``: the local stack, the catalogue's topics, the schemas, one message per flow.

Each sample is produced to its court's outbox with the project's codec and CloudEvents headers,
then read back from the broker, decoded via the registry, and shown in a table. Kafka and the
registry are left running afterwards; the services the flow part starts are stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from courtbus.access import acl_admin
from courtbus.app import ops
from courtbus.app.participants import Participants
from courtbus.app.samples import one_per_flow
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.topics import load_catalogue
from courtbus.config import Connection, default_stack_home, stack_connection
from courtbus.domain.masking import mask_id, mask_ids_in_text
from courtbus.stack import Stack
from courtbus.stack.layout import stack_config
from courtbus.wire.client import make_envelope, make_producer, read_events, send
from courtbus.wire.envelope import Event
from courtbus.wire.messages import by_record
from courtbus.wire.schemas import SchemaSet


def _summary(event: Event) -> str:
    p = event.payload
    parts = []
    for key in ("case_number", "matter", "ground", "kind", "proceeds", "amount"):
        value = p.get(key)
        if isinstance(value, dict):
            value = value.get("text")
        if value is not None:
            parts.append(f"{key}={value}")
    for key in ("debtor", "subject"):
        if isinstance(p.get(key), dict):
            parts.append(f"{key}={p[key]['name']} {mask_id(p[key]['id_number'])}")
    return mask_ids_in_text(", ".join(parts))


def run_demo(
    out: Console,
    home: Path | None,
    port_base: int | None = None,
    registry_port: int | None = None,
    *,
    insecure: bool = False,
    web_port: int = 8000,
    keep_running_s: float = 60.0,
) -> None:
    """Run the demo end to end, printing progress and the messages that arrived. Ports not
    given are those on record in the stack folder (else 9092 and 8081). A new stack is secure
    (TLS, a certificate per participant and service, ACLs from the directory) unless
    ``insecure``; a stack already in the folder keeps what it was made with.

    Raises:
        CourtbusError: any step failing, with its code.
    """
    started = time.monotonic()
    cfg = stack_config(
        home or default_stack_home(),
        port_base=port_base,
        registry_port=registry_port,
        secure=False if insecure else None,
        default_secure=True,
    )
    with out.status("starting the local stack…") as status:
        state = Stack(cfg, progress=lambda msg: status.update(msg)).up()
    how = (
        "TLS, a certificate per participant"
        if state.secure and state.pki
        else "plaintext: made with --insecure; `courtbus stack down --wipe` for a secure one"
    )
    out.print(
        f"[green]✓[/green] stack up: Kafka {state.bootstrap}, registry {state.registry_url} "
        f"({how}; {time.monotonic() - started:.1f}s)",
        highlight=False,
    )
    conn = stack_connection(state)  # the operator's certificate on a secure stack
    secure = bool(state.secure and state.pki)
    try:
        _run_on_stack(
            out,
            conn,
            cfg.home,
            started,
            state.login if secure else None,
            web_port=web_port,
            keep_running_s=keep_running_s,
        )
    except BaseException:  # a failed step or Ctrl-C: the stack is not stopped
        out.print(stopped_early_line(home), highlight=False)
        raise
    for line in closing_lines(time.monotonic() - started, home):
        out.print(line, highlight=False)


def _run_on_stack(
    out: Console,
    conn: Connection,
    home: Path,
    started: float,
    login: Callable[[str], Connection] | None = None,
    *,
    web_port: int = 8000,
    keep_running_s: float = 60.0,
) -> None:
    """Topics (and on a secure stack the directory's ACLs), schemas, one message per flow, then
    the flow scenes and the running scenario with the web app (services stopped after)."""
    plan = ops.plan_topics(conn)
    done = ops.apply_topics(conn, plan)
    out.print(
        f"[green]✓[/green] topics: {len(plan.specs)} in catalogue, {len(done)} change(s) applied"
    )
    who = None
    if login is not None:
        directory = load_directory()
        acls = acl_admin.plan(conn, directory, load_catalogue())
        applied = acl_admin.apply(conn, acls)
        out.print(
            f"[green]✓[/green] ACLs: {len(acls.add) + acls.kept} from the directory, "
            f"{len(applied.added)} added, {len(applied.removed)} removed"
        )
        who = Participants.secure(conn, login, directory, home)
        out.print(
            f"[green]✓[/green] signing keys: one per court and agency "
            f"({len(who.signers)}), public keys in {home / 'keys' / 'public.yaml'}",
            highlight=False,
        )
    schemas = SchemaSet.load()
    ids = ops.register_schemas(conn, schemas)
    ops.register_feed_schemas(conn, schemas)  # the operator's: the feed router may only read
    out.print(f"[green]✓[/green] schemas: {len(ids)} registered (FULL_TRANSITIVE)")

    envelope = make_envelope(conn, schemas)
    producers: dict[str, Any] = {}  # each court sends as itself (its outbox's principal)
    sent: dict[str, tuple[str, int, int]] = {}
    try:
        for source, topic, record, payload in one_per_flow():
            principal = source.replace(":", ".", 1)  # court:320583 → court.320583
            envelope.signer = who.signer(principal) if who else None  # signed as its sender
            built = envelope.build(topic, record, payload, source)
            if principal not in producers:
                producers[principal] = make_producer(who.conn(principal) if who else conn)
            partition, offset = send(producers[principal], built)
            sent[built.event.id] = (topic, partition, offset)
    finally:
        for producer in producers.values():
            producer.close()
    out.print(f"[green]✓[/green] sent {len(sent)} messages (acks=all, idempotent)")

    topics = sorted({t for t, _, _ in sent.values()})
    arrived: dict[str, Event] = {}
    for item in read_events(conn, envelope, topics, max_records=10_000, timeout_s=10):
        if isinstance(item, Event) and item.headers.id in sent:
            arrived[item.headers.id] = item
            if len(arrived) == len(sent):
                break
    table = Table(title="delivered through Kafka, decoded via the registry", show_lines=True)
    table.add_column("flow / event", no_wrap=True)
    table.add_column("route", overflow="fold")
    table.add_column("content", overflow="fold")
    for event_id in sent:
        if (event := arrived.get(event_id)) is None:
            continue
        flow = by_record(event.record).flow
        route = f"{event.headers.source}\n→ {event.topic}@{event.partition}:{event.offset}\nkey {event.key}"
        table.add_row(f"[bold]{flow}[/bold]\n{event.headers.type}", route, _summary(event))
    out.print(table)
    missing = set(sent) - set(arrived)
    if missing:
        out.print(f"[red]✗ {len(missing)} message(s) did not arrive[/red]")
        raise SystemExit(1)
    out.print(
        f"[green]✓ one delivered message per flow[/green] in {time.monotonic() - started:.1f}s"
    )
    from courtbus.app.demo_flow import run_flow_demo

    run_flow_demo(out, conn, home, who, web_port=web_port, keep_running_s=keep_running_s)


def stopped_early_line(home: Path | None = None) -> str:
    """Said when the demo stops before its end: the stack it started is still running."""
    where = f" --home {home}" if home else ""
    return (
        "the demo stopped early; Kafka and the registry are still running "
        f"(stop them with `courtbus stack down{where}`)"
    )


def closing_lines(elapsed_s: float, home: Path | None = None) -> list[str]:
    """What is left running after the demo, and the commands to stop or restart it.

    Kafka and the registry keep running (``Stack.up`` starts them in the background); the
    bus's services (``demo_services.SERVICES``) ran as the demo's child processes, with deadlines
    shortened to seconds, and were stopped when the scenes ended.
    """
    from courtbus.app.demo_services import SERVICES

    where = f" --home {home}" if home else ""
    env = f"COURTBUS_STACK_HOME={home} " if home else ""
    serve = ", ".join(f"`{env}courtbus serve {name}`" for name in SERVICES)
    return [
        f"done in {elapsed_s:.1f}s",
        f"Kafka and the registry are still running: stop them with `courtbus stack down{where}`",
        f"the {', '.join(SERVICES)} services have stopped (they ran only for the demo); start "
        f"them again, each in its own terminal, with {serve}",
    ]

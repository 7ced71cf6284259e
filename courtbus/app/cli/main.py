"""The ``courtbus`` command: local stack, topics, schemas, directory, demo.

A thin shell over the library: every command resolves its inputs, calls one library function,
and prints with rich. A ``CourtbusError`` becomes one red line and exit code 1.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from courtbus.app.cli import (
    acl,
    blacklist,
    bus,
    credentials,
    delegation,
    distribution,
    keys,
    metrics,
    restrictions,
    web,
)
from courtbus.app.cli import reconcile as reconcile_cli
from courtbus.errors import ClusterError, CourtbusError, SchemaError

if TYPE_CHECKING:
    from courtbus.catalogue.admin import Action

app = typer.Typer(
    help="courtbus: cross-court enforcement message bus on Kafka.", no_args_is_help=True
)
stack_app = typer.Typer(
    help="Run a local Kafka + schema registry stack (no Docker).", no_args_is_help=True
)
topics_app = typer.Typer(help="Compare and apply the topic catalogue.", no_args_is_help=True)
schemas_app = typer.Typer(help="Register and check Avro schemas.", no_args_is_help=True)
directory_app = typer.Typer(help="The participant directory.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(directory_app, name="directory")
app.add_typer(acl.acl_app, name="acl")
app.add_typer(metrics.metrics_app, name="metrics")
app.add_typer(web.web_app, name="web")
app.add_typer(delegation.delegation_app, name="delegation")
app.add_typer(bus.dlq_app, name="dlq")
app.add_typer(blacklist.blacklist_app, name="blacklist")
app.add_typer(restrictions.restrictions_app, name="restrictions")
app.add_typer(restrictions.watchdog_app, name="watchdog")
app.add_typer(distribution.distribution_app, name="distribution")
app.add_typer(credentials.credentials_app, name="credentials")
app.add_typer(keys.keys_app, name="keys")
app.command("inbox")(bus.inbox)
app.command("feed")(bus.feed)
app.command("serve")(bus.serve)
app.command("reconcile")(reconcile_cli.reconcile)

out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Stack folder (default: $COURTBUS_STACK_HOME, else .stack/ in a source checkout, "
        "else ~/.local/share/courtbus).",
    ),
]
BootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka bootstrap servers (default: $COURTBUS_BOOTSTRAP or the local stack).",
    ),
]
RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        help="Registry URL, …/apis/ccompat/v7 (default: $COURTBUS_REGISTRY_URL or the local stack).",
    ),
]
CatalogueOpt = Annotated[Path | None, typer.Option("--catalogue", help="Topic catalogue YAML.")]
DirectoryOpt = Annotated[
    Path | None, typer.Option("--directory", help="Participant directory YAML.")
]
ProfileOpt = Annotated[
    str, typer.Option("--profile", help="Replication profile: auto, single or cluster.")
]


def _print_version(value: bool) -> None:
    """``--version``: the installed distribution's version (package metadata), then exit."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        out.print(f"courtbus {version('courtbus')}", highlight=False)
    except PackageNotFoundError:
        out.print("courtbus (version unknown: not installed; run `pip install -e .`)")
    raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """courtbus: cross-court enforcement message bus on Kafka."""


def main() -> None:
    """Console-script entry point: run the app, turning courtbus errors into one line.

    kafka-python's own log lines are silenced below CRITICAL (``COURTBUS_KAFKA_LOG`` names
    another level); a cluster that cannot be reached is one ``CLUSTER_UNREACHABLE`` line.
    """
    from courtbus.logs import configure_logging

    configure_logging(logging.WARNING, kafka_level=logging.CRITICAL)
    try:
        app()
    except CourtbusError as exc:
        _print_error(exc)
        sys.exit(1)
    except Exception as exc:
        if (unreachable := kafka_unreachable(exc)) is None:
            raise
        _print_error(unreachable)
        sys.exit(1)


def _print_error(exc: CourtbusError) -> None:
    """One line on stderr, never wrapped, resident IDs masked."""
    from rich.markup import escape

    from courtbus.domain.masking import mask_ids_in_text

    reason = escape(mask_ids_in_text(" ".join(exc.reason.split())))
    err.print(f"[red]error[/red] {exc.code}: {reason}", highlight=False, soft_wrap=True)


def kafka_unreachable(exc: BaseException) -> CourtbusError | None:
    """A kafka-python connection or timeout error (a ``RetriableError``: no broker answered)
    that escaped the library, as ``CLUSTER_UNREACHABLE``; None for anything else."""
    kafka_errors = sys.modules.get("kafka.errors")
    if kafka_errors is None or not isinstance(exc, kafka_errors.RetriableError):
        return None
    bootstrap = os.environ.get("COURTBUS_BOOTSTRAP")
    if not bootstrap:
        try:
            from courtbus.config import resolve

            bootstrap = resolve().bootstrap
        except CourtbusError:
            bootstrap = "the configured bootstrap servers"
    detail = str(exc)
    if not detail.startswith(type(exc).__name__):
        detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return ClusterError(f"cannot reach Kafka at {bootstrap}: {detail}", code="CLUSTER_UNREACHABLE")


# -- stack -------------------------------------------------------------------------------------


@stack_app.command("up")
def stack_up(
    nodes: Annotated[
        int | None,
        typer.Option(help="Brokers: 1, or 3 (replication 3, min ISR 2). [default: recorded, or 1]"),
    ] = None,
    secure: Annotated[
        bool | None,
        typer.Option(
            "--secure/--insecure",
            help="TLS with client certificates on every port (a SCRAM listener over TLS "
            "beside), ACL authorizer; --insecure: plaintext, for local experiments only. "
            "[default: recorded, or secure]",
        ),
    ] = None,
    port_base: Annotated[
        int | None,
        typer.Option(
            help="Broker n listens on base+2(n-1), its controller on the next port. "
            "[default: recorded, or 9092]"
        ),
    ] = None,
    registry_port: Annotated[
        int | None, typer.Option(help="Schema registry HTTP port. [default: recorded, or 8081]")
    ] = None,
    registry: Annotated[bool, typer.Option(help="Start the schema registry too.")] = True,
    home: HomeOpt = None,
) -> None:
    """Fetch Kafka and Apicurio Registry (cached), start them on 127.0.0.1, wait until ready.

    A stack folder that already holds a stack is restarted with the settings on record there
    (nodes, security, ports); an option that differs from its data is ``STACK_CONFIG_MISMATCH``.
    """
    from courtbus.config import default_stack_home
    from courtbus.stack import Stack
    from courtbus.stack.layout import stack_config

    cfg = stack_config(
        home or default_stack_home(),
        nodes=nodes,
        secure=secure,
        port_base=port_base,
        registry_port=registry_port,
        registry=registry,
        default_secure=True,
    )
    started = time.monotonic()
    with out.status("starting stack…") as status:
        state = Stack(cfg, progress=lambda msg: status.update(msg)).up()
    out.print(f"[green]stack up[/green] in {time.monotonic() - started:.1f}s")
    out.print(f"  bootstrap  {state.bootstrap}")
    if state.registry_url:
        out.print(f"  registry   {state.registry_url}")
    if state.secure and state.pki:
        out.print(f"  TLS        client certificates from the CA in {state.pki}")
        out.print(f"  SCRAM      {state.scram_bootstrap} (SASL_SSL)")
        out.print(f"  operator   {state.pki}/issued/operator (what the CLI uses here)")
    elif state.secure:
        out.print(f"  SASL/SCRAM user admin, password in {cfg.home / 'state.json'}")


@stack_app.command("fetch")
def stack_fetch() -> None:
    """Download Kafka and Apicurio Registry into the cache (what `stack up` does first)."""
    from courtbus.stack import artifacts

    cache = artifacts.default_cache_dir()
    for what, fetch in (
        ("Kafka", artifacts.ensure_kafka),
        ("Apicurio Registry", artifacts.ensure_registry),
    ):
        started = time.monotonic()
        with out.status(f"fetching {what}…"):
            path = fetch(cache)
        out.print(f"[green]✓[/green] {what}: {path} ({time.monotonic() - started:.1f}s)")
    java = artifacts.find_java(artifacts.REGISTRY_MIN_JAVA)
    out.print(f"[green]✓[/green] Java {artifacts.REGISTRY_MIN_JAVA}+ for the registry: {java}")


@stack_app.command("down")
def stack_down(
    home: HomeOpt = None,
    wipe: Annotated[
        bool, typer.Option(help="Also delete the brokers' data (topics, records, schemas).")
    ] = False,
) -> None:
    """Stop exactly the processes `stack up` started here; data is kept unless --wipe."""
    from courtbus.config import default_stack_home
    from courtbus.stack import Stack, StackConfig

    stopped = Stack(StackConfig(home or default_stack_home(), registry=False)).down(wipe=wipe)
    out.print(f"stopped {', '.join(stopped)}" if stopped else "no stack running here")
    if wipe:
        out.print("data wiped")


@stack_app.command("status")
def stack_status(home: HomeOpt = None) -> None:
    """Show each process of the local stack and whether it runs. Exit 1 if any is down."""
    from courtbus.config import default_stack_home
    from courtbus.stack import Stack, StackConfig

    rows = Stack(StackConfig(home or default_stack_home(), registry=False)).status()
    if not rows:
        out.print("no stack running here (start one with `courtbus stack up`)")
        raise typer.Exit(1)
    table = Table("process", "endpoint", "state")
    for name, endpoint, state in rows:
        table.add_row(
            name, endpoint, f"[green]{state}[/green]" if state == "up" else f"[red]{state}[/red]"
        )
    out.print(table)
    if any(state != "up" for *_, state in rows):
        raise typer.Exit(1)


# -- topics ------------------------------------------------------------------------------------


def _print_actions(actions: list[Action]) -> None:
    table = Table("action", "topic", "detail")
    for a in actions:
        table.add_row(
            a.kind.value if a.applies else f"[yellow]{a.kind.value}[/yellow]", a.topic, a.detail
        )
    out.print(table)


def _check_topic_inputs(catalogue: Path | None, directory: Path | None, profile: str) -> None:
    """Catalogue, directory and profile read and checked before anything connects.

    Raises:
        ConfigError: an unreadable or invalid file, or an unknown profile (``CATALOGUE_INVALID``).
    """
    from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
    from courtbus.catalogue.directory import load_directory
    from courtbus.catalogue.topics import DEFAULT_PATH as CATALOGUE_PATH
    from courtbus.catalogue.topics import load_catalogue

    cat = load_catalogue(catalogue or CATALOGUE_PATH)
    load_directory(directory or DIRECTORY_PATH)
    if profile != "auto":
        cat.profile(profile)


@topics_app.command("plan")
def topics_plan(
    bootstrap: BootstrapOpt = None,
    catalogue: CatalogueOpt = None,
    directory: DirectoryOpt = None,
    profile: ProfileOpt = "auto",
    home: HomeOpt = None,
) -> None:
    """Show how the cluster differs from the catalogue (changes nothing)."""
    from courtbus.app import ops
    from courtbus.app.cli.common import cli_connection

    _check_topic_inputs(catalogue, directory, profile)
    plan = ops.plan_topics(
        cli_connection(bootstrap, stack_home=home), catalogue, directory, profile
    )
    todo = sum(a.applies for a in plan.actions)
    if plan.actions:
        _print_actions(plan.actions)
    if todo == 0:
        out.print(f"[green]in sync[/green]: {len(plan.specs)} topics match the catalogue")
    else:
        out.print(f"{todo} change(s) to apply")
    if len(plan.actions) > todo:
        out.print(
            f"[yellow]{len(plan.actions) - todo} to review by hand[/yellow] (never done automatically)"
        )


@topics_app.command("apply")
def topics_apply(
    bootstrap: BootstrapOpt = None,
    catalogue: CatalogueOpt = None,
    directory: DirectoryOpt = None,
    profile: ProfileOpt = "auto",
    home: HomeOpt = None,
) -> None:
    """Create topics, add partitions and alter configs until the cluster matches (idempotent)."""
    from courtbus.app import ops
    from courtbus.app.cli.common import cli_connection

    _check_topic_inputs(catalogue, directory, profile)
    conn = cli_connection(bootstrap, stack_home=home)
    plan = ops.plan_topics(conn, catalogue, directory, profile)
    done = ops.apply_topics(conn, plan)
    if done:
        _print_actions(done)
    out.print(f"applied {len(done)} change(s); {len(plan.specs)} topics in catalogue")
    review = [a for a in plan.actions if not a.applies]
    if review:
        out.print("[yellow]left for review by hand:[/yellow]")
        _print_actions(review)


# -- schemas -----------------------------------------------------------------------------------

FolderOpt = Annotated[
    Path | None,
    typer.Option("--folder", help="Schema folder (default: the schemas shipped with the package)."),
]


@schemas_app.command("register")
def schemas_register(
    registry: RegistryOpt = None,
    home: HomeOpt = None,
    folder: FolderOpt = None,
    compatibility: Annotated[
        str, typer.Option(help="Rule set on each subject.")
    ] = "FULL_TRANSITIVE",
) -> None:
    """Register every message schema (subject = Avro full name) and set its compatibility rule,
    and each agency feed's projected schema (the directory's feeds)."""
    from rich.progress import Progress

    from courtbus.app import ops
    from courtbus.config import Connection, check_registry_url, resolve
    from courtbus.wire.schemas import DEFAULT_DIR, SchemaSet

    schemas = SchemaSet.load(folder or DEFAULT_DIR)
    target: str | Connection
    if registry:
        url = target = check_registry_url(registry, source="--registry")
    else:
        target = resolve(stack_home=home)
        url = target.require_registry("--registry")
    with Progress(console=out, transient=True) as bar:
        task = bar.add_task("registering schemas", total=len(schemas.messages))
        ids = ops.register_schemas(target, schemas, compatibility, lambda _n: bar.advance(task))
    feeds = ops.register_feed_schemas(target, schemas)  # the operator's: the router may not
    table = Table("subject", "id")
    for name, schema_id in [*ids.items(), *feeds.items()]:
        table.add_row(name, str(schema_id))
    out.print(table)
    out.print(
        f"[green]registered {len(ids)} schemas[/green] at {url} ({compatibility}), and "
        f"{len(feeds)} agency feeds' projected schemas"
    )


@schemas_app.command("check")
def schemas_check(
    history: Annotated[
        str,
        typer.Option(
            "--history",
            help="Released versions to check against: auto (git in a source checkout, else the "
            "history shipped with the package), git, shipped or none.",
        ),
    ] = "auto",
    against: Annotated[
        str, typer.Option(help="Git revision whose history counts as released.")
    ] = "HEAD",
    registry: Annotated[
        str | None, typer.Option("--registry", help="Also check every version this registry holds.")
    ] = None,
    folder: FolderOpt = None,
) -> None:
    """Check each schema is FULL_TRANSITIVE-compatible with every released version."""
    from courtbus.app import ops
    from courtbus.config import check_registry_url
    from courtbus.wire import compat
    from courtbus.wire.history import as_released, released_history
    from courtbus.wire.schemas import DEFAULT_DIR, SchemaSet

    current = SchemaSet.load(folder or DEFAULT_DIR)
    versions, where = released_history(history, against)
    released = as_released(versions)
    if registry:
        url = check_registry_url(registry, source="--registry")
        released += ops.registry_released(url, sorted(current.messages))
        where += f" and the registry {registry}"
    problems = compat.check_against(current, released)
    for p in problems:
        err.print(f"[red]incompatible[/red] {p}", highlight=False)
    if problems:
        raise typer.Exit(1)
    out.print(
        f"[green]compatible[/green]: {len(current.messages)} message schemas against "
        f"{len(released)} released version(s), from {where}",
        highlight=False,
        soft_wrap=True,
    )


@schemas_app.command("history")
def schemas_history(
    write: Annotated[
        bool, typer.Option("--write", help="Rewrite the shipped history file from git.")
    ] = False,
) -> None:
    """Compare the history shipped with the package (every committed version of each message
    schema, for `schemas check` outside git) with git; --write refreshes it. Exit 1 if stale."""
    from courtbus.resources import schema_history_path, source_checkout
    from courtbus.wire.history import git_checkout, git_versions, history_json, with_current
    from courtbus.wire.schemas import SchemaSet

    checkout = source_checkout()
    why_not = (
        "courtbus runs from an installed package" if checkout is None else git_checkout(checkout)
    )
    if checkout is None or why_not is not None:
        raise SchemaError(
            f"the history is made from git: {why_not}", code="SCHEMA_HISTORY_UNAVAILABLE"
        )
    text = history_json(with_current(git_versions(checkout), SchemaSet.load()))
    path = schema_history_path()
    try:
        shipped = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        shipped = ""
    if shipped == text:
        out.print(f"[green]up to date[/green]: {path}", highlight=False, soft_wrap=True)
    elif write:
        path.write_text(text, encoding="utf-8")
        out.print(f"[green]written[/green]: {path}", highlight=False, soft_wrap=True)
    else:
        err.print(
            f"[red]stale[/red]: {path} differs from git; run `courtbus schemas history --write` "
            "and commit it",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


# -- directory ---------------------------------------------------------------------------------


@directory_app.command("check")
def directory_check(directory: DirectoryOpt = None) -> None:
    """Validate the participant directory and summarise it."""
    from courtbus.catalogue.directory import DEFAULT_PATH, load_directory

    d = load_directory(directory or DEFAULT_PATH)
    out.print(
        f"[green]valid[/green]: {len(d.courts)} courts in {len(d.provinces())} provinces, "
        f"{len(d.agencies)} agencies, {len(d.feeds)} feeds, {len(d.groups)} groups"
    )


@directory_app.command("show")
def directory_show(directory: DirectoryOpt = None) -> None:
    """List the courts and agencies."""
    from courtbus.catalogue.directory import DEFAULT_PATH, load_directory

    d = load_directory(directory or DEFAULT_PATH)
    table = Table("id", "designation", "name", "province", "level")
    for c in d.courts:
        table.add_row(c.id, c.designation, c.name, c.province, c.level.value)
    out.print(table)
    agencies = Table("agency", "name", "kind", "feeds")
    for a in d.agencies:
        feeds = ", ".join(
            f"{f.flow}{'/' + '+'.join(f.kinds) if f.kinds else ''}"
            for f in d.feeds
            if f.agency == a.id
        )
        agencies.add_row(a.id, a.name, a.kind.value, feeds)
    out.print(agencies)


@directory_app.command("generate")
def directory_generate(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the directory YAML.")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same file.")] = 0,
    courts: Annotated[
        int, typer.Option("--courts", help="Courts in all (the shipped ones included).")
    ] = 3500,
    banks: Annotated[
        int,
        typer.Option(
            "--banks", help="Banks besides the shipped agencies, each with a blacklist feed."
        ),
    ] = 48,
) -> None:
    """Write a synthetic national directory (the shipped one plus generated courts and banks)
    for scale tests; point the services at it with COURTBUS_DIRECTORY."""
    from courtbus.synth.directory import Sizes, write_directory

    d = write_directory(out_path, seed, Sizes(courts=courts, banks=banks))
    out.print(
        f"[green]wrote[/green] {out_path}: {len(d.courts)} courts in "
        f"{len(d.provinces())} provinces, {len(d.agencies)} agencies, {len(d.feeds)} feeds, "
        f"{len(d.groups)} groups (seed {seed})"
    )


# -- demo --------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    home: HomeOpt = None,
    port_base: Annotated[
        int | None,
        typer.Option(help="Broker port base for the demo stack. [default: recorded, or 9092]"),
    ] = None,
    registry_port: Annotated[
        int | None,
        typer.Option(help="Registry port for the demo stack. [default: recorded, or 8081]"),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="A new stack in plaintext, for local experiments only."),
    ] = False,
    web_port: Annotated[
        int,
        typer.Option(
            help="Port of the REST API and dashboard (another if taken).", min=1, max=65535
        ),
    ] = 8000,
    keep_running: Annotated[
        float,
        typer.Option(
            help="Seconds to keep a multi-court scenario flowing after the scenes, "
            "for the dashboard (0: none; Ctrl-C ends it).",
            min=0,
        ),
    ] = 60.0,
) -> None:
    """Bring the stack up (secure: TLS, a certificate per participant and service, ACLs from
    the directory), apply topics, register schemas, send one message per flow, show them; then
    run the services, the web API and dashboard (its URL printed), every flow's scenes, and
    keep messages flowing for ``--keep-running`` seconds."""
    from courtbus.app.demo import run_demo

    run_demo(
        out,
        home,
        port_base,
        registry_port,
        insecure=insecure,
        web_port=web_port,
        keep_running_s=keep_running,
    )

"""Helpers for integration tests: waiting on conditions, reading topics to their end, consumer
group progress, and the services run as processes (``Services``, started by the
``start_services`` fixture of ``conftest.py``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from courtbus.config import Connection
from courtbus.stack import Stack, StackConfig

T = TypeVar("T")
POLL_S = 0.05  # the poll interval of the wait loops


def wait_until(
    predicate: Callable[[], T],
    timeout_s: float = 30,
    what: str | Callable[[], str] = "the condition",
    interval_s: float = POLL_S,
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that (or fail).

    ``what`` may be a callable giving the failure's description (evaluated only on failure).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout_s}s waiting for {detail}")
        time.sleep(interval_s)


class TopicReader:
    """Reads every partition of some topics (committed records only), from the start or from
    where the topics ended when the reader was made (``from_end=True``)."""

    def __init__(self, conn: Connection, *topics: str, from_end: bool = False) -> None:
        self.consumer = KafkaConsumer(
            **conn.kafka_settings(),
            enable_auto_commit=False,
            isolation_level="read_committed",
            consumer_timeout_ms=200,
        )
        parts = []
        for topic in topics:
            for p in self.consumer.partitions_for_topic(topic) or ():
                parts.append(TopicPartition(topic, p))
        self.parts = parts
        self.consumer.assign(parts)
        if from_end:
            for tp, end in self.consumer.end_offsets(parts).items():
                self.consumer.seek(tp, end)
        else:
            self.consumer.seek_to_beginning(*parts)
        self.records: list[Any] = []

    def poll(self) -> None:
        """Take what has arrived: up to the topics' (read_committed) end offsets as of now, or
        until 200 ms pass without a record. Bounded, so that a caller watching a steady flow
        (records arriving more often than every 200 ms) gets to look at them."""
        ends = self.consumer.end_offsets(self.parts)
        while True:
            got = self.consumer.poll(timeout_ms=200)
            for records in got.values():
                self.records.extend(records)
            if not got or all(self.consumer.position(tp) >= end for tp, end in ends.items()):
                return

    def read_to_end(self, timeout_s: float = 30) -> list[Any]:
        """Read up to the topics' read_committed end offsets as of now; all records so far."""
        ends = self.consumer.end_offsets(self.parts)

        def done() -> bool:
            batch = self.consumer.poll(timeout_ms=100)
            for records in batch.values():
                self.records.extend(records)
            return all(self.consumer.position(tp) >= end for tp, end in ends.items())

        wait_until(done, timeout_s, "the end of " + ", ".join(sorted({t.topic for t in ends})))
        return self.records

    def wait_for(
        self, predicate: Callable[[Any], bool], timeout_s: float = 30, count: int = 1
    ) -> list[Any]:
        """Records matching ``predicate`` once there are ``count`` of them (or fail)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            found = [r for r in self.records if predicate(r)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(found)} of {count} expected records after {timeout_s}s"
                )

    def close(self) -> None:
        self.consumer.close()


def header(record: Any, name: str) -> str | None:
    """A header's value as text."""
    for key, value in record.headers or ():
        if key == name and value is not None:
            return bytes(value).decode("utf-8", errors="replace")
    return None


# -- consumer group progress ------------------------------------------------------------------


class GroupProgress:
    """How far consumer groups got: committed offsets against read_committed end offsets."""

    def __init__(self, conn: Connection) -> None:
        self.admin = KafkaAdminClient(**conn.kafka_settings())
        self.consumer = KafkaConsumer(
            **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
        )

    def __enter__(self) -> GroupProgress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()

    def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        return [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(self.consumer.partitions_for_topic(topic) or ())
        ]

    def committed(
        self, group: str, parts: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        """The group's committed offset of each partition (None: nothing committed)."""
        parts = list(parts)
        found = self.admin.list_group_offsets({group: parts}).get(group, {})
        result: dict[TopicPartition, int | None] = {}
        for tp in parts:
            meta = found.get(tp)
            result[tp] = meta.offset if meta is not None and meta.offset >= 0 else None
        return result

    def consumed_past(self, group: str, tp: TopicPartition, offset: int) -> bool:
        """Whether the group committed a position past ``offset`` on ``tp`` (processed it)."""
        committed = self.committed(group, [tp])[tp]
        return committed is not None and committed > offset

    def lag(self, group: str, topics: Iterable[str]) -> list[str]:
        """The partitions of ``topics`` where ``group`` has not processed every committed
        record: empty when it is caught up everywhere, else one description per partition.

        A partition is caught up when the group's committed offset reached the partition's
        read_committed end offset. But a transactional producer's commit or abort marker
        takes an offset of its own after its records (and a killed worker's aborted records
        take some too), while a worker commits the offset after the last record it processed.
        So where the committed offset is short of the end, a read_committed consumer reads
        from the committed offset to the end: caught up if that gap holds no record.
        """
        parts = self.partitions(topics)
        ends = self.consumer.end_offsets(parts)
        committed = self.committed(group, parts)
        behind = {tp: committed[tp] or 0 for tp in parts if (committed[tp] or 0) < ends[tp]}
        if not behind:
            return []
        self.consumer.assign(list(behind))
        for tp, offset in behind.items():
            self.consumer.seek(tp, offset)
        unread: dict[TopicPartition, int] = {}

        def read_gap() -> bool:
            for tp, records in self.consumer.poll(timeout_ms=100).items():
                unread[tp] = unread.get(tp, 0) + len(records)
            return all(self.consumer.position(tp) >= ends[tp] for tp in behind)

        wait_until(read_gap, 10, f"{group}'s uncommitted gaps {sorted(behind)}")
        return [
            f"{group} on {tp.topic}[{tp.partition}]: committed {behind[tp]}, end {ends[tp]}, "
            f"{unread[tp]} record(s) not processed"
            for tp in behind
            if unread.get(tp)
        ]


# -- a stack of a test's own -----------------------------------------------------------------


@contextmanager
def private_stack(home: Path, nodes: int = 1) -> Iterator[tuple[Stack, Connection]]:
    """Kafka (``nodes`` brokers) and a registry of their own in ``home``, the catalogue's
    topics applied and every schema registered; stopped after. For a test that must count
    everything on its topics, which the session's shared stack fills with other modules'
    records (and their services' restored timers)."""
    from courtbus.app import ops
    from courtbus.wire.schemas import SchemaSet
    from tests.ports import free_block

    base = free_block(2 * nodes + 2)  # each node: client + controller; the registry: 2
    stack = Stack(
        StackConfig(
            home,
            nodes=nodes,
            port_base=base,
            registry_port=base + 2 * nodes,
            registry_storage="memory",
        )
    )
    state = stack.up()
    try:
        conn = Connection(state.bootstrap, state.registry_url)
        ops.apply_topics(conn, ops.plan_topics(conn))
        ops.register_schemas(conn.require_registry(), SchemaSet.load())
        yield stack, conn
    finally:
        stack.down()


# -- services as processes --------------------------------------------------------------------


class ServiceProcess:
    """A service run as ``python -m <module>``, its output in a log file (appended to across
    restarts). It is ready once it logs ``ready``, and ``assigned`` too if given (e.g. the
    line a worker logs when it has its partitions)."""

    def __init__(
        self,
        module: str,
        conn: Connection,
        log: Path,
        ready: str,
        env: dict[str, str] | None = None,
        assigned: str | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.module, self.log, self.ready, self.assigned = module, log, ready, assigned
        self.command = command or [sys.executable, "-m", module]  # e.g. ``courtbus serve``
        self.env = {
            **os.environ,
            "COURTBUS_BOOTSTRAP": conn.bootstrap,
            "COURTBUS_REGISTRY_URL": conn.registry_url or "",
            "COURTBUS_STATE_DIR": str(log.parent / "state"),
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._marks = (0, 0)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count(self, pattern: str | re.Pattern[str]) -> int:
        """How many times ``pattern`` (a regular expression) occurs in the log so far."""
        return len(re.findall(pattern, self.log_text()))

    def launch(self, env: dict[str, str] | None = None) -> None:
        """Start the process; ``env`` adds settings for this run only. See ``wait_ready``."""
        text = self.log_text()
        self._marks = (text.count(self.ready), text.count(self.assigned) if self.assigned else 0)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**self.env, **(env or {})},
            )

    def wait_ready(self, timeout_s: float = 60) -> None:
        """Wait for the ready line(s) of the latest launch (or fail if the process ended)."""

        def ready() -> bool:
            text = self.log_text()
            if text.count(self.ready) > self._marks[0] and (
                not self.assigned or text.count(self.assigned) > self._marks[1]
            ):
                return True
            assert self.alive, f"{self.module} exited:\n{self.log_text()[-3000:]}"
            return False

        wait_until(ready, timeout_s, lambda: f"{self.module}:\n{self.log_text()[-3000:]}")

    def start(self, timeout_s: float = 60, env: dict[str, str] | None = None) -> None:
        """Start and wait until it logs its ready line; ``env`` adds settings for this run."""
        self.launch(env)
        self.wait_ready(timeout_s)

    def kill(self) -> None:
        """SIGKILL, and reap the process."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting (see ``stop``)."""
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()

    def stop(self) -> None:
        """SIGTERM and wait for the process to leave its group and exit (SIGKILL after 30 s)."""
        self.terminate()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, env: dict[str, str] | None = None) -> None:
        """Stop cleanly, then start again (``env``: extra settings for the new run)."""
        self.stop()
        self.start(env=env)


SERVICE_MODULES = {
    "projector": "services.projector",
    "gateway": "services.gateway",
    "delegation": "services.delegation",
    "blacklist": "services.blacklist",
    "feeds": "services.feeds",
    "watchdog": "services.watchdog",
    "restriction": "services.restriction",
    "distribution": "services.distribution",
}
ALL_SERVICES = ("projector", "gateway", "delegation")


class Services(Mapping[str, ServiceProcess]):
    """Some of the services (projector, gateway, delegation), each a process logging to
    ``<home>/<name>.log`` with its state under ``<home>/state``, ready (also after a restart)
    once its worker has its partitions.

    ``env`` goes to every service, ``own_env`` (by service name) to one (e.g. each its
    ``COURTBUS_METRICS_PORT``). The projector gets a read model of its own
    (``sqlite:///<home>/read.db``, ``store_url``) and a fresh consumer group
    (``projector_group``) unless ``env`` names them.
    """

    def __init__(
        self,
        conn: Connection,
        home: Path,
        env: dict[str, str] | None = None,
        which: Iterable[str] = ALL_SERVICES,
        own_env: Mapping[str, dict[str, str]] | None = None,
    ) -> None:
        self.conn, self.home = conn, home
        self.env = {
            "COURTBUS_STORE_URL": f"sqlite:///{home / 'read.db'}",
            "COURTBUS_PROJECTOR_GROUP": f"projector-{uuid.uuid4().hex[:6]}",
            **(env or {}),
        }
        self.store_url = self.env["COURTBUS_STORE_URL"]
        self.projector_group = self.env["COURTBUS_PROJECTOR_GROUP"]
        self.procs: dict[str, ServiceProcess] = {}
        for name in which:
            group = self.group(name)
            self.procs[name] = ServiceProcess(
                SERVICE_MODULES[name],
                conn,
                home / f"{name}.log",
                f"{group} consuming",
                {**self.env, **(own_env or {}).get(name, {})},
                assigned=f"{group} restored",
            )

    def group(self, name: str) -> str:
        """The consumer group of a service."""
        return self.projector_group if name == "projector" else f"courtbus-{name}"

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.procs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.procs)

    def __len__(self) -> int:
        return len(self.procs)

    def start(self, timeout_s: float = 60) -> None:
        """Start them all at once and wait until each has its partitions."""
        for proc in self.procs.values():
            proc.launch()
        for proc in self.procs.values():
            proc.wait_ready(timeout_s)

    def stop(self) -> None:
        """Stop them all cleanly (SIGTERM to all, then wait for each)."""
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.stop()


def mirror_rows(
    url: str, prefix: str, table: str = "partner_blacklist"
) -> dict[str, dict[str, Any]]:
    """The rows of a partner mirror whose entry id starts with ``prefix``, by entry id (empty
    before the sync has made its table)."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        if not inspect(engine).has_table(table):
            return {}
        with engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT * FROM {table} WHERE entry_id LIKE :p"), {"p": prefix + "%"}
            ).mappings()
            return {r["entry_id"]: dict(r) for r in rows}
    finally:
        engine.dispose()


class MirrorSync:
    """``AgencyClient(agency).sync(flow, url)`` following changes in a thread, until ``stop``."""

    def __init__(self, conn: Connection, agency: str, url: str, flow: str = "blacklist") -> None:
        import threading

        from courtbus.sdk import AgencyClient

        self.client = AgencyClient(agency, conn)
        self.stopping = threading.Event()
        self.result: list[Any] = []
        self.errors: list[BaseException] = []
        self.url, self.flow = url, flow
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result.append(self.client.sync(self.flow, self.url, stop=self.stopping.is_set))
        except BaseException as exc:  # reported by stop() and wait_for()
            self.errors.append(exc)

    def wait_for(self, prefix: str, expected: set[str], timeout_s: float = 60) -> None:
        """Until the mirror's ids under ``prefix`` are ``expected`` (fails if the sync died)."""
        wait_until(
            lambda: set(mirror_rows(self.url, prefix)) == expected or self.errors,
            timeout_s,
            lambda: f"mirror {sorted(mirror_rows(self.url, prefix))} != {sorted(expected)}",
        )
        assert not self.errors, self.errors

    def stop(self) -> Any:
        """Stop the sync; its ``SyncResult``."""
        self.stopping.set()
        self.thread.join(timeout=30)
        self.client.close()
        assert not self.errors, self.errors
        return self.result[0]


class WatchdogAlerts:
    """The watchdog alerts a court has received for one case, as they arrive (``repeat_s``:
    the watchdog's repeat, for ``quiet``)."""

    def __init__(self, court: Any, case: str, repeat_s: float) -> None:
        self.court, self.case, self.repeat_s = court, case, repeat_s
        self.seen: dict[str, tuple[float, Any]] = {}  # ce_id -> (when first read, alert)

    def poll(self) -> list[Any]:
        """Every alert so far, oldest first (the inbox is read from its start each time)."""
        for e in self.court.inbox(timeout_s=0.5):
            if (
                e.record.endswith(".CaseWatchdogAlert")
                and e.payload["case_number"]["text"] == self.case
            ):
                self.seen.setdefault(e.headers.id, (time.monotonic(), e))
        return [e for _, e in self.seen.values()]

    def wait(self, count: int, timeout_s: float = 60) -> list[Any]:
        def enough() -> list[Any]:
            found = self.poll()
            return found if len(found) >= count else []

        return wait_until(enough, timeout_s, f"{count} watchdog alert(s) for {self.case}")

    def wait_listing(self, item_ids: set[str], timeout_s: float = 60) -> Any:
        """The first alert listing exactly ``item_ids`` (an item reaches the watchdog through its
        own flow, so an earlier alert may list fewer; the alerts repeat)."""

        def listing() -> Any:
            for e in self.poll():
                if {i["item_id"] for i in e.payload["items"]} == item_ids:
                    return e
            return None

        return wait_until(
            listing,
            timeout_s,
            lambda: (
                f"an alert for {self.case} listing "
                f"{sorted(item_ids)}; got {[e.payload['items'] for e in self.poll()]}"
            ),
        )

    def quiet(self, timeout_s: float = 40) -> None:
        """Until no alert has come for twice the repeat (fails if they keep coming)."""

        def still() -> bool:
            self.poll()
            last = max((t for t, _ in self.seen.values()), default=0.0)
            return time.monotonic() - last > 2 * self.repeat_s

        wait_until(still, timeout_s, f"the alerts for {self.case} to stop", interval_s=0.5)


def dead_letter_code(conn: Connection, event_id: str, timeout_s: float = 60) -> str | None:
    """The ``dlq_code`` of the dead letter of the message whose ``ce_id`` is ``event_id``
    (waits for it; fails if it never comes)."""
    reader = TopicReader(conn, "bus.deadletter")
    try:
        dead = reader.wait_for(
            lambda r: dict(r.headers).get("ce_id") == event_id.encode(), timeout_s=timeout_s
        )
        return header(dead[0], "dlq_code")
    finally:
        reader.close()

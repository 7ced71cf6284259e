"""What the ACL tests try, and what they expect, on a real broker.

``expected_cells`` is the matrix written from issue 18's rules and the flows themselves
(their ``inputs`` and ``stores``), not from ``courtbus.access.acl``: the tests check that
module against it. ``Prober`` tries each cell with a real client of the principal (librdkafka,
as the services run): a fetch and a produce per topic, an offset commit per consumer group,
``init_transactions`` per transactional id (kafka-python's commit: librdkafka's retries a
refused coordinator lookup silently). A cell either succeeds or fails with an
authorization error; anything else (a timeout, another error) fails the test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import confluent_kafka as ck
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from kafka.errors import KafkaError as KafkaPythonError
from kafka.structs import OffsetAndMetadata

from courtbus.catalogue.directory import Directory
from courtbus.config import Connection
from courtbus.runtime.flow import TIMERS, Flow
from courtbus.wire.messages import FLOWS
from services.blacklist.flow import BlacklistFlow
from services.delegation.flow import DelegationFlow
from services.distribution.flow import DistributionFlow
from services.feeds.flow import FeedsFlow
from services.gateway.flow import GatewayFlow
from services.projector.flow import ProjectorFlow
from services.restriction.flow import RestrictionFlow
from services.watchdog.flow import WatchdogFlow

log = logging.getLogger("tests.acl")
_quiet = logging.getLogger("tests.acl.rdkafka")
_quiet.setLevel(logging.CRITICAL)  # librdkafka logs every refusal: the cells say it

# (principal, what, resource): what is "read" / "write" (a topic), "group" or "txn"
Cell = tuple[str, str, str]

SERVICE_FLOWS: dict[str, type[Flow]] = {
    "gateway": GatewayFlow,
    "delegation": DelegationFlow,
    "blacklist": BlacklistFlow,
    "restriction": RestrictionFlow,
    "distribution": DistributionFlow,
    "feeds": FeedsFlow,
    "projector": ProjectorFlow,
    "watchdog": WatchdogFlow,
}
# What each service writes besides dead letters, alerts, notices and changelogs: read off its
# flow's outputs (services/*/flow.py).
SERVICE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "gateway": tuple(f"bus.{f}.events" for f in FLOWS),
    "delegation": ("bus.delegation.events", "bus.delegation.caps"),
    "blacklist": ("blacklist.entries", "bus.blacklist.debtors"),
    "restriction": ("restriction.controls",),
    "distribution": ("bus.distribution.events", "distribution.cases"),
    "feeds": (),
    "projector": (),
    "watchdog": ("bus.watchdog.items",),
}
AUTH_ERRORS = frozenset(
    {
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
        ck.KafkaError.GROUP_AUTHORIZATION_FAILED,
        ck.KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        ck.KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    }
)


def own_group(principal: str) -> str:
    """A consumer group the principal may use under the issue's rules."""
    if principal.startswith("service."):
        return f"courtbus-{SERVICE_FLOWS[principal.split('.', 1)[1]].name}"
    return f"{principal}.probe"


def own_transactional_id(service: str) -> str:
    """A transactional id as a worker of ``service`` makes it (``<group>-<slot id>``)."""
    return f"courtbus-{SERVICE_FLOWS[service].name}-0a1b2c3d4e5f"


def principals(directory: Directory) -> list[str]:
    """Every principal the bus has for this directory."""
    return [
        *(f"court.{c.id}" for c in directory.courts),
        *(f"agency.{a.id}" for a in directory.agencies),
        *(f"service.{s}" for s in SERVICE_FLOWS),
        "operator",
    ]


def expected_cells(directory: Directory, topics: Iterable[str]) -> set[Cell]:
    """The cells that succeed under issue 18's rules (every other one is denied)."""
    topics = set(topics)
    cells: set[Cell] = set()
    inboxes = {f"court.{c.id}.inbox" for c in directory.courts}
    notices = inboxes | {f"agency.{a.id}.feed" for a in directory.agencies}
    outboxes = {f"court.{c.id}.outbox" for c in directory.courts}
    outboxes |= {f"agency.{a.id}.outbox" for a in directory.agencies}
    for court in directory.courts:
        me = f"court.{court.id}"
        cells |= {(me, "write", f"{me}.outbox"), (me, "read", f"{me}.inbox")}
        cells |= {
            (me, "read", f"group.{g}.blacklist")
            for g, members in directory.groups.items()
            if court.id in members
        }
        cells.add((me, "group", own_group(me)))
    for agency in directory.agencies:
        me = f"agency.{agency.id}"
        cells |= {(me, "write", f"{me}.outbox"), (me, "read", f"{me}.feed")}
        cells |= {(me, "read", f"{me}.{f.flow}") for f in directory.feeds if f.agency == agency.id}
        cells.add((me, "group", own_group(me)))
    for service, flow in SERVICE_FLOWS.items():
        me = f"service.{service}"
        reads = set(flow.inputs.topics) if flow.inputs.topics else set(outboxes)
        stores = [s.name for s in flow.stores] + ([TIMERS] if flow.timers else [])
        logs = {f"bus.{flow.name}.{s}.changelog" for s in stores}
        writes = {"bus.deadletter", "bus.alerts", *SERVICE_OUTPUTS[service], *logs}
        if service == "feeds":  # routes the views, tells nobody
            writes |= {f"agency.{f.agency}.{f.flow}" for f in directory.feeds}
            writes |= {f"group.{g}.blacklist" for g in directory.groups}
        else:  # refuses records and notifies their senders
            writes |= notices
        reads |= logs  # restores its stores from them
        cells |= {(me, "read", t) for t in reads} | {(me, "write", t) for t in writes}
        cells |= {
            (me, "group", own_group(me)),
            (me, "group", f"{own_group(me)}-restore"),
            (me, "txn", own_transactional_id(service)),
        }
    # the operator: what the stack grants it at start, ALL on every topic, group and
    # transactional id (it runs the registry's storage and replays dead letters)
    cells |= {c for c in all_cells(directory, topics) if c[0] == "operator"}
    return {c for c in cells if c[1] not in ("read", "write") or c[2] in topics}


def all_cells(directory: Directory, topics: Iterable[str]) -> set[Cell]:
    """Every principal × every topic × {read, write}, every group and transactional id."""
    everyone = principals(directory)
    groups = [own_group(p) for p in everyone if p != "operator"]
    groups += [f"{own_group(p)}-restore" for p in everyone if p.startswith("service.")]
    ids = [own_transactional_id(s) for s in SERVICE_FLOWS]
    cells: set[Cell] = set()
    for p in everyone:
        cells |= {(p, op, t) for t in topics for op in ("read", "write")}
        cells |= {(p, "group", g) for g in groups} | {(p, "txn", i) for i in ids}
    return cells


@dataclass
class Outcome:
    """What the probes found: the cells that worked and those refused for authorization."""

    allowed: set[Cell]
    denied: set[Cell]
    other: dict[Cell, str]


def _code(error: Any) -> Any:
    return error.code() if isinstance(error, ck.KafkaError) else None


class Prober:
    """Tries cells as each principal (``login(principal)`` gives its connection)."""

    def __init__(self, login: Callable[[str], Connection], timeout_s: float = 10.0) -> None:
        self.login = login
        self.timeout_s = timeout_s

    def _settings(self, principal: str) -> dict[str, Any]:
        return {
            **self.login(principal).librdkafka_settings(),
            "logger": _quiet,
            "socket.timeout.ms": int(self.timeout_s * 1000),
        }

    def run(self, cells: Iterable[Cell], commit_topics: Mapping[str, str]) -> Outcome:
        """Try every cell; the outcome of each. A group cell commits an offset of the
        principal's ``commit_topics`` entry: a topic it may read, so that the group's ACL alone
        decides (any topic for a principal that may read none)."""
        by_principal: dict[str, list[Cell]] = {}
        for cell in cells:
            by_principal.setdefault(cell[0], []).append(cell)
        outcome = Outcome(set(), set(), {})
        for principal, mine in sorted(by_principal.items()):
            reads = sorted(c[2] for c in mine if c[1] == "read")
            writes = sorted(c[2] for c in mine if c[1] == "write")
            results: dict[Cell, Any] = {}
            results.update(
                {(principal, "read", t): r for t, r in self.reads(principal, reads).items()}
            )
            results.update(
                {(principal, "write", t): r for t, r in self.writes(principal, writes).items()}
            )
            for cell in mine:
                if cell[1] == "group":
                    results[cell] = self.group(principal, cell[2], commit_topics[principal])
                elif cell[1] == "txn":
                    results[cell] = self.transactional(principal, cell[2])
            for cell, result in results.items():
                if result is None:
                    outcome.allowed.add(cell)
                elif _code(result) in AUTH_ERRORS:
                    outcome.denied.add(cell)
                else:
                    outcome.other[cell] = str(result)
        return outcome

    def reads(self, principal: str, topics: list[str]) -> dict[str, Any]:
        """Consuming partition 0 of each topic from offset 0: None (a record came) or the
        error. A topic the principal may not even describe is refused in the metadata the
        consumer asks first (librdkafka then waits for a leader it never learns without
        saying so, so the probe reads that answer); the others are fetched."""
        if not topics:
            return {}
        consumer = ck.Consumer(
            {
                **self._settings(principal),
                "group.id": f"{principal}.reader",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 50,
            }
        )
        found: dict[str, Any] = {}
        try:
            for t in topics:
                meta = consumer.list_topics(topic=t, timeout=self.timeout_s).topics.get(t)
                if meta is not None and meta.error is not None:
                    found[t] = meta.error
            wanted = [t for t in topics if t not in found]
            consumer.assign([ck.TopicPartition(t, 0, 0) for t in wanted])
            deadline = time.monotonic() + self.timeout_s
            while len(found) < len(topics) and time.monotonic() < deadline:
                for m in consumer.consume(100, 0.2):
                    error = m.error()
                    topic = m.topic()
                    if error is None and topic is not None:
                        found.setdefault(topic, None)
                    elif error is not None and topic:
                        found.setdefault(topic, error)
                    elif error is not None:
                        log.info("%s reading: %s", principal, error)
        finally:
            consumer.close()
        for t in topics:
            found.setdefault(t, "no record and no error before the timeout")
        return found

    def writes(self, principal: str, topics: list[str]) -> dict[str, Any]:
        """A produce to partition 0 of each topic with an idempotent producer (what kafka-python
        and the runtime use): None (acknowledged) or the error."""
        if not topics:
            return {}
        fatal: list[Any] = []  # the error that stopped the producer (error_cb)
        producer = ck.Producer(
            {
                **self._settings(principal),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                "message.timeout.ms": int(self.timeout_s * 1000),
                "error_cb": lambda e: fatal.append(e) if e.fatal() else None,
            }
        )
        found: dict[str, Any] = {}

        def delivered(topic: str) -> Callable[[Any, Any], None]:
            def done(err: Any, _msg: Any) -> None:
                found[topic] = err

            return done

        for t in topics:
            try:
                producer.produce(
                    t, key=b"probe", value=b"probe", partition=0, on_delivery=delivered(t)
                )
            except ck.KafkaException as exc:  # the producer already stopped (fatal)
                found[t] = exc.args[0]
        try:
            producer.flush(self.timeout_s + 5)
        except ck.KafkaException as exc:  # a fatal error: the sends not reported fail with it
            fatal.append(exc.args[0])
        for t in topics:
            err = found[t] if t in found else (fatal[0] if fatal else "no delivery report")
            stopped = (
                ck.KafkaError._FATAL,
                ck.KafkaError._PURGE_QUEUE,
                ck.KafkaError._PURGE_INFLIGHT,
            )
            if isinstance(err, ck.KafkaError) and (err.fatal() or err.code() in stopped) and fatal:
                # an idempotent producer that may write nowhere cannot start (KIP-679: its
                # InitProducerId needs WRITE on some topic): the fatal error says why
                cause = fatal[0]
                if isinstance(cause, ck.KafkaError) and "authoriz" in cause.str().lower():
                    err = ck.KafkaError(ck.KafkaError.CLUSTER_AUTHORIZATION_FAILED, cause.str())
            found[t] = err
        return found

    def group(self, principal: str, group: str, topic: str) -> Any:
        """An offset commit for ``group`` (no join: a simple consumer's commit), which needs
        READ on the group (and the topic): None or the error. kafka-python's: librdkafka
        retries a refused coordinator lookup without telling the application."""
        try:
            consumer = KafkaConsumer(
                **self.login(principal).kafka_settings(),
                group_id=group,
                enable_auto_commit=False,
                request_timeout_ms=int(self.timeout_s * 1000),
            )
        except KafkaPythonError as exc:
            return exc
        try:
            consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(0, "", -1)})
        except (GroupAuthorizationFailedError, TopicAuthorizationFailedError) as exc:
            return ck.KafkaError(
                ck.KafkaError.GROUP_AUTHORIZATION_FAILED
                if isinstance(exc, GroupAuthorizationFailedError)
                else ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
                str(exc),
            )
        except KafkaPythonError as exc:
            return exc
        finally:
            consumer.close()
        return None

    def transactional(self, principal: str, transactional_id: str) -> Any:
        """``init_transactions`` with ``transactional_id`` (WRITE and DESCRIBE on it)."""
        producer = ck.Producer(
            {
                **self._settings(principal),
                "transactional.id": transactional_id,
                "transaction.timeout.ms": 10_000,
            }
        )
        try:
            producer.init_transactions(self.timeout_s)
        except ck.KafkaException as exc:
            return exc.args[0]
        return None


def mismatches(outcome: Outcome, expected: set[Cell], tried: set[Cell]) -> Mapping[str, Any]:
    """What differs from ``expected`` among the ``tried`` cells (empty when all is as it should)."""
    found = {
        "denied but expected to work": sorted(
            (expected & tried) - outcome.allowed - set(outcome.other)
        ),
        "worked but expected to be denied": sorted(outcome.allowed - expected),
        "neither worked nor was refused for authorization": dict(sorted(outcome.other.items())),
    }
    return {k: v for k, v in found.items() if v}

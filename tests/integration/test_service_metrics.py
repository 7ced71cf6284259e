"""Issue 19, item 3: every service's ``/metrics`` counts what it really did.

All eight flow services run with a metrics port each. One scenario goes through every flow:
delegation requests, listings, exit bans, distributions, case statuses (one case concluded as
performed with a listing in force: the watchdog alerts), plus bad input of known codes at the
gateway (garbage bytes, missing headers) and behind it (an unknown delegation, a claim on an
unknown distribution, a second conclusion). Once every group has consumed everything and
nothing new is written, each service is scraped and its counters are compared, exactly, with

* the scenario's own numbers: what the gateway read, forwarded to each flow and
  dead-lettered by code, what each flow service dead-lettered by code, the watchdog's alert and
  its open timer;
* what the topics hold: each service's records in (the records of its input topics written
  during the scenario) and out by destination (the records written during the scenario that it
  wrote, known by their headers: ``dlq_service`` on a dead letter, ``ce_source`` on what a
  flow builds, the participant's own source on what the gateway forwards; the feed router's
  copies by their topics).

Counted at commit: an aborted transaction (a record processed twice) would count twice here
and fail the test.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from courtbus.app.samples import PERSON_ID
from courtbus.config import Connection
from courtbus.runtime.metrics import destination
from courtbus.sdk import CourtClient
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope
from tests.gateway_cases import build
from tests.integration.conftest import StartServices
from tests.integration.helpers import (
    GroupProgress,
    Services,
    TopicReader,
    dead_letter_code,
    header,
    wait_until,
)
from tests.integration.own_stack import own_conn, own_registered  # noqa: F401 - own stack
from tests.ports import free_block

pytestmark = pytest.mark.integration

SERVICES = (
    "gateway",
    "delegation",
    "blacklist",
    "restriction",
    "distribution",
    "feeds",
    "projector",
    "watchdog",
)
PORT = dict(zip(SERVICES, range(free_block(len(SERVICES)), 65536), strict=False))
KUNSHAN, SUZHOU, XIAN = "320583", "3205", "6101"
OUTBOX = f"court.{KUNSHAN}.outbox"
RUN = uuid.uuid4().hex[:6]
DEBTOR = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
PERMIT = {"type": "HK_MACAU_PERMIT", "number": "C12345678"}
FIRM = {"kind": "ORGANISATION", "name": "昆山某商贸合伙企业", "id_number": "91320583MA1ABCDE1B"}

# the scenario's good records per flow (each a message the gateway forwards)
DELEGATIONS, LISTINGS, BANS, DISTRIBUTIONS, CASES = 3, 2, 2, 2, 3
# bad records the gateway refuses, by code
GARBAGE, HEADERLESS = 3, 2
# one record each flow service refuses (after the gateway forwarded it), with its code
REFUSED = {
    "delegation": ("DELEGATION_UNKNOWN", 1),
    "distribution": ("DISTRIBUTION_UNKNOWN", 1),
    "watchdog": ("CASE_ILLEGAL_TRANSITION", 1),
}

ALERT = "cn.court.casestatus.watchdog_alert"  # the watchdog's alert's ce_type
Metrics = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(service: str) -> Metrics:
    """A service's /metrics, parsed: (sample name, labels) → value."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{PORT[service]}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def by_label(m: Metrics, name: str, label: str) -> dict[str, float]:
    """``name``'s samples by the value of ``label`` (0s left out)."""
    return {
        dict(labels)[label]: value
        for (n, labels), value in m.items()
        if n == name and label in dict(labels) and value
    }


def value(m: Metrics, name: str) -> float:
    return sum(v for (n, _), v in m.items() if n == name)


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    keys = set(after) | set(before)
    moved = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in keys}
    return {k: n for k, n in moved.items() if n}


# -- the services and what they consume --------------------------------------------------------


def input_topics(service: str, topics: list[str]) -> list[str]:
    """The topics a service consumes, of those that exist."""
    import re

    from services.blacklist.flow import BlacklistFlow
    from services.delegation.flow import DelegationFlow
    from services.distribution.flow import DistributionFlow
    from services.feeds.flow import FeedsFlow
    from services.gateway.flow import GatewayFlow
    from services.projector.flow import ProjectorFlow
    from services.restriction.flow import RestrictionFlow
    from services.watchdog.flow import WatchdogFlow

    flows: dict[str, Any] = {
        "gateway": GatewayFlow,
        "delegation": DelegationFlow,
        "blacklist": BlacklistFlow,
        "restriction": RestrictionFlow,
        "distribution": DistributionFlow,
        "feeds": FeedsFlow,
        "projector": ProjectorFlow,
        "watchdog": WatchdogFlow,
    }
    inputs = flows[service].inputs
    if inputs.pattern:
        return [t for t in topics if re.fullmatch(inputs.pattern, t)]
    return [t for t in inputs.topics if t in topics]


def service_of(name: str) -> str:
    """The service running the flow ``name`` (its spec's: case status's is the watchdog); a
    name of no flow is a service's own (``watchdog``, ``gateway``, ``feeds`` …)."""
    from courtbus.flows import registry

    return next((s.service for s in registry.registered() if s.name == name), None) or name


def writer(record: Any) -> str | None:
    """The service that wrote ``record`` (None: a participant, into its outbox), from its
    topic and headers."""
    topic = record.topic
    parts = topic.split(".")
    if topic.endswith(".outbox"):
        return None
    if parts[0] in ("agency", "group") and parts[-1] != "feed":
        return "feeds"  # a view's copy, the view's headers kept
    if topic == "bus.deadletter":  # every service but the gateway names itself
        return service_of((header(record, "dlq_service") or "bus:gateway").removeprefix("bus:"))
    if parts[0] == "bus" and len(parts) == 3 and parts[2] != "events":
        return service_of(parts[1])  # a flow's own topic (bus.watchdog.items, ...)
    source = header(record, "ce_source") or ""
    if source.startswith("bus:"):
        return service_of(source.removeprefix("bus:"))  # built by the flow
    if parts[0] == "bus" and parts[-1] == "events":
        return "gateway"  # a participant's record, forwarded as it came
    # a participant's record a flow passes on (a request to the executing court's inbox)
    return service_of((header(record, "ce_type") or "").split(".")[2])


class Window:
    """The records of every topic written from when it was made (read_committed)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.consumer = KafkaConsumer(
            **conn.kafka_settings(), enable_auto_commit=False, isolation_level="read_committed"
        )
        self.starts = self.ends()

    def topics(self) -> list[str]:
        return sorted(t for t in self.consumer.topics() if not t.startswith("__"))

    def ends(self) -> dict[TopicPartition, int]:
        parts = [
            TopicPartition(t, p)
            for t in self.topics()
            for p in sorted(self.consumer.partitions_for_topic(t) or ())
        ]
        return {tp: int(end) for tp, end in self.consumer.end_offsets(parts).items()}

    def records(self) -> list[Any]:
        """Every record written since, to the ends as of now (changelogs left out)."""
        ends = {tp: e for tp, e in self.ends().items() if not tp.topic.endswith(".changelog")}
        todo = {tp: e for tp, e in ends.items() if e > self.starts.get(tp, 0)}
        self.consumer.assign(list(todo))
        for tp in todo:
            self.consumer.seek(tp, self.starts.get(tp, 0))
        found: list[Any] = []

        def read() -> bool:
            for records in self.consumer.poll(timeout_ms=200).values():
                found.extend(records)
            return all(self.consumer.position(tp) >= end for tp, end in todo.items())

        wait_until(read, 60, "the scenario's records")
        return found

    def close(self) -> None:
        self.consumer.close()


def settle(conn: Connection, services: Services, window: Window | None = None) -> None:
    """Until every service has processed every record of its inputs and, twice in a row,
    nothing new was written anywhere (a cascade from one flow to the next has ended)."""
    probe = window or Window(conn)
    seen: list[dict[TopicPartition, int]] = []
    with GroupProgress(conn) as progress:

        def quiet() -> bool:
            ends = probe.ends()
            topics = sorted({tp.topic for tp in ends})
            behind = [
                lag
                for name in services
                for lag in progress.lag(services.group(name), input_topics(name, topics))
            ]
            seen.append(ends if not behind else {})
            return len(seen) >= 2 and bool(seen[-1]) and seen[-1] == seen[-2]

        wait_until(quiet, 120, "every service caught up and nothing new written", 0.5)
    if window is None:
        probe.close()


def moved(after: Metrics, before: Metrics) -> dict[str, Any]:
    """How far a service's counters moved: records in, out by destination, dead-lettered by
    code, alerts by type."""

    def labelled(name: str, label: str) -> dict[str, float]:
        return delta(by_label(after, name, label), by_label(before, name, label))

    return {
        "in": value(after, "courtbus_records_in_total")
        - value(before, "courtbus_records_in_total"),
        "out": labelled("courtbus_records_out_total", "destination"),
        "dead": labelled("courtbus_dead_lettered_total", "code"),
        "alerts": labelled("courtbus_alerts_total", "type"),
    }


def observed(records: list[Any], topics: list[str]) -> dict[str, dict[str, Any]]:
    """What the topics say each service did (``moved``'s shape) from the records written."""
    written: dict[str, Counter[str]] = {name: Counter() for name in SERVICES}
    dead: dict[str, Counter[str]] = {name: Counter() for name in SERVICES}
    alerts: dict[str, Counter[str]] = {name: Counter() for name in SERVICES}
    for r in records:
        who = writer(r)
        if who is None:
            continue
        assert who in written, f"a {r.topic} record of an unknown writer {who}"
        written[who][destination(r.topic)] += 1
        if r.topic == "bus.deadletter":
            dead[who][header(r, "dlq_code") or "UNKNOWN"] += 1
        if r.topic == "bus.alerts":
            alerts[who][header(r, "ce_type") or "UNKNOWN"] += 1
    read = Counter(r.topic for r in records)
    return {
        name: {
            "in": sum(read[t] for t in input_topics(name, topics)),
            "out": dict(written[name]),
            "dead": dict(dead[name]),
            "alerts": dict(alerts[name]),
        }
        for name in SERVICES
    }


# -- the scenario ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    own = {name: {"COURTBUS_METRICS_PORT": str(port)} for name, port in PORT.items()}
    return start_services(
        "metrics", env={"COURTBUS_TICK_SECONDS": "0.5"}, which=SERVICES, own_env=own
    )


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in (KUNSHAN, SUZHOU, XIAN)}
    yield clients
    for client in clients.values():
        client.close()


def _case(n: int) -> str:
    return f"(2024)苏0583执{int(RUN, 16) % 80000 + 10000 + n}号"


def test_every_service_counts_exactly_what_it_did(
    services: Services, courts: dict[str, CourtClient], conn: Connection, envelope: Envelope
) -> None:
    kunshan, suzhou, xian = courts[KUNSHAN], courts[SUZHOU], courts[XIAN]
    settle(conn, services)  # what other tests left behind is not the scenario's
    before = {name: scrape(name) for name in SERVICES}
    window = Window(conn)
    sent: Counter[str] = Counter()  # good records per flow topic the gateway forwards

    for n in range(DELEGATIONS):
        kunshan.delegation.request_delegation(
            delegation_id=f"mt-dg-{RUN}-{n}",
            case_number=_case(n),
            executing_court=XIAN,
            matter="FREEZE",
            debtor=DEBTOR,
            asset_kind="DEPOSIT",
            amount="50000.00",
            freeze_period_days=365,
        )
        sent["bus.delegation.events"] += 1
    for n in range(LISTINGS):
        kunshan.blacklist.list_debtor(
            f"mt-bl-{RUN}-{n}",
            _case(n),
            DEBTOR,
            "REFUSED_WITH_ABILITY",
            obligation="给付 10,000.00 元",
            performance="全部未履行",
            conduct="有履行能力而拒不履行",
            title_issuer="江苏省昆山市人民法院",
            title_number="(2023)苏0583民初9号",
            filed_at=v.now() - timedelta(days=90),
        )
        sent["bus.blacklist.events"] += 1
    for n in range(BANS):
        kunshan.restriction.issue_exit_ban(f"mt-rc-{RUN}-{n}", _case(n), DEBTOR, PERMIT)
        sent["bus.restriction.events"] += 1
    for n in range(DISTRIBUTIONS):
        kunshan.distribution.open_distribution(
            f"mt-ds-{RUN}-{n}",
            _case(n),
            FIRM,
            "合伙企业名下昆山市某商铺拍卖价款",
            claim_deadline=date(2024, 6, 30),
            debtor_form="OTHER_ORGANISATION",
            proceeds="50000.01",
            sealed_at=v.now(),
        )
        sent["bus.distribution.events"] += 1
    for n in range(CASES):
        kunshan.casestatus.file_case(_case(100 + n), filed_at=v.now() - timedelta(days=100))
        sent["bus.casestatus.events"] += 1
    # a performed case with a listing in force (its 3 working days long past): one alert
    watched = _case(100)
    kunshan.blacklist.list_debtor(
        f"mt-bl-{RUN}-w",
        watched,
        DEBTOR,
        "REFUSED_WITH_ABILITY",
        obligation="给付 1.00 元",
        performance="全部未履行",
        conduct="有履行能力而拒不履行",
        title_issuer="江苏省昆山市人民法院",
        title_number="(2023)苏0583民初9号",
        filed_at=v.now() - timedelta(days=90),
    )
    sent["bus.blacklist.events"] += 1
    kunshan.casestatus.conclude_case(
        watched, "PERFORMED", concluded_at=v.now() - timedelta(days=10)
    )
    sent["bus.casestatus.events"] += 1

    # refused behind the gateway (forwarded first): REFUSED
    flow_refusals = {
        "delegation": xian.delegation.accept(f"mt-dg-{RUN}-nope"),
        "distribution": suzhou.distribution.file_claim(
            f"mt-ds-{RUN}-nope", "x1", "(2024)苏05执101号", DEBTOR, "100.00"
        ),
        "watchdog": kunshan.casestatus.conclude_case(watched, "PERFORMED"),
    }
    sent["bus.delegation.events"] += 1
    sent["bus.distribution.events"] += 1
    sent["bus.casestatus.events"] += 1

    # refused by the gateway
    producer = KafkaProducer(**conn.kafka_settings(), acks="all")
    try:
        for _ in range(GARBAGE):  # a valid record's headers (its own ce_id), bytes spoilt
            good = build(envelope)
            producer.send(
                OUTBOX,
                key=b"k",
                value=b"\xde\xad\xbe\xef garbage",
                headers=[(k, v or b"") for k, v in good.headers],
            ).get(timeout=10)
        for _ in range(HEADERLESS):
            producer.send(OUTBOX, key=b"k", value=build(envelope).value, headers=[]).get(timeout=10)
    finally:
        producer.close()

    for name, refused in flow_refusals.items():  # the flows' refusals have come through
        assert dead_letter_code(conn, refused.event_id) == REFUSED[name][0], name
    reader = TopicReader(conn, f"court.{KUNSHAN}.inbox")
    try:
        reader.wait_for(
            lambda r: header(r, "ce_type") == ALERT and header(r, "ce_subject") == watched,
            timeout_s=90,
        )
    finally:
        reader.close()
    settle(conn, services, window)
    records = window.records()
    topics = window.topics()
    expected = observed(records, topics)
    window.close()

    # counted when each transaction has committed: a scrape right after may be a moment early
    def now() -> dict[str, dict[str, Any]]:
        return {name: moved(scrape(name), before[name]) for name in SERVICES}

    def differ() -> str:
        got = now()
        return "; ".join(
            f"{n}: counted {got[n]}, topics {expected[n]}"
            for n in SERVICES
            if got[n] != expected[n]
        )

    wait_until(lambda: now() == expected, 30, lambda: f"the counters to match ({differ()})")
    got = now()
    for name in SERVICES:  # exactly what the topics hold
        assert got[name] == expected[name], name

    # -- and what the scenario says ---------------------------------------------------------------
    gateway = got["gateway"]
    assert gateway["in"] == sum(sent.values()) + GARBAGE + HEADERLESS
    forwarded = {t: n for t, n in gateway["out"].items() if t.endswith(".events")}
    assert forwarded == dict(sent)
    assert gateway["out"]["court.*.inbox"] == GARBAGE + HEADERLESS  # each sender told
    assert gateway["dead"] == {"WIRE_BAD_MAGIC": GARBAGE, "HEADER_MISSING": HEADERLESS}
    for name in SERVICES[1:]:
        assert got[name]["dead"] == (dict([REFUSED[name]]) if name in REFUSED else {}), name
    # each request to the executing court, a receipt to the requester; the refusal's notice
    assert got["delegation"]["out"]["court.*.inbox"] == 2 * DELEGATIONS + 1
    assert got["blacklist"]["out"]["blacklist.entries"] == LISTINGS + 1
    # the bans, and a consumption ban for each listing
    assert got["restriction"]["out"]["restriction.controls"] == BANS + LISTINGS + 1
    assert got["distribution"]["out"]["distribution.cases"] == DISTRIBUTIONS
    assert got["watchdog"]["alerts"] == {ALERT: 1}
    assert got["watchdog"]["out"]["court.*.inbox"] == 2  # the alert, the refusal's notice
    # what one service wrote is what the next one read
    out = Counter[str]()
    for name in SERVICES:
        out.update(got[name]["out"])
    for name in SERVICES[1:]:
        assert got[name]["in"] == sum(out[t] for t in input_topics(name, list(out))), name

    # every input record's age observed once; no transaction aborted
    after = {name: scrape(name) for name in SERVICES}
    for name in SERVICES:
        ages = value(after[name], "courtbus_record_latency_seconds_count") - value(
            before[name], "courtbus_record_latency_seconds_count"
        )
        assert ages == got[name]["in"], name
        aborted = by_label(after[name], "courtbus_transactions_total", "outcome").get("aborted", 0)
        assert aborted == by_label(before[name], "courtbus_transactions_total", "outcome").get(
            "aborted", 0
        ), name

    # the open timers: each delegation waits on its next deadline, each control on its
    # acknowledgements, the watched case on its next alert (set at ticks: waited for)
    def timers() -> dict[str, float]:
        return {
            name: value(scrape(name), "courtbus_open_timers")
            - value(before[name], "courtbus_open_timers")
            for name in SERVICES
        }

    waiting = {
        "gateway": 0,
        "delegation": DELEGATIONS,
        "blacklist": 0,
        "restriction": BANS + LISTINGS + 1,
        "distribution": 0,
        "feeds": 0,
        "projector": 0,
        "watchdog": 1,
    }
    wait_until(lambda: timers() == waiting, 30, lambda: f"open timers {timers()} == {waiting}")

    # restore progress: the delegation service, restarted without its local state, reads
    # every record of its changelogs again and ends with nothing left to read
    held = value(scrape("delegation"), "courtbus_open_timers")
    assert held >= DELEGATIONS
    proc = services["delegation"]
    proc.stop()
    shutil.rmtree(proc.log.parent / "state" / services.group("delegation"))
    logs = [t for t in topics if t.startswith("bus.delegation.") and t.endswith(".changelog")]
    reader = TopicReader(conn, *logs)
    try:
        kept = len(reader.read_to_end())
    finally:
        reader.close()
    proc.start()
    fresh = scrape("delegation")  # a new process: its counters start at 0
    assert kept > 0
    assert value(fresh, "courtbus_restored_records") == kept
    assert value(fresh, "courtbus_restore_records_total") == kept
    assert value(fresh, "courtbus_restore_remaining_offsets") == 0
    wait_until(
        lambda: value(scrape("delegation"), "courtbus_open_timers") == held,
        30,
        "the restored delegations' timers",
    )

"""Every command that prints ID numbers masks them unless --show-ids: each runs here over data
holding every kind of number (resident IDs, a credit code, a residence permit, passports), from
the read model or from fakes of what Kafka would hand over, and no number may appear in full.
A command added later must be listed here, as masked-and-tested or as printing no IDs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from courtbus.app import demo
from courtbus.app.cli import bus
from courtbus.app.cli.main import app
from courtbus.bus.deadletters import DeadLetter
from courtbus.runtime.harness import FlowHarness
from courtbus.store import ReadModelWriter
from services.distribution.view import VIEW_TOPIC as DISTRIBUTION_VIEW
from services.projector.flow import ProjectorFlow
from tests.builders import FIRM_CODE, PERSON_ID, one_per_flow
from tests.store_contract import decided, requested
from tests.unit.cli_width import wide_console  # noqa: F401 - autouse fixture
from tests.unit.flows import test_distribution_flow as dist
from tests.unit.flows.test_restriction_flow import REP_ID, exit_ban, harness, issue, view
from tests.unit.test_blacklist_cli import _entry
from tests.unit.test_distribution_store import _to_suit

PASSPORT, DOC_PASSPORT, PERMIT = "X1234567", "E12345678", "C12345678"
CREDITOR_A, CREDITOR_B = dist.A["id_number"], dist.B["id_number"]
SECRETS = (PERSON_ID, FIRM_CODE, REP_ID, PASSPORT, DOC_PASSPORT, PERMIT, CREDITOR_A, CREDITOR_B)
T = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
FOREIGNER = {
    "kind": "PERSON",
    "name": "John Smith",
    "id_number": PASSPORT,
    "id_type": "PASSPORT",
    "nationality": "USA",
}
runner = CliRunner()


def _restrictions() -> list[dict[str, Any]]:
    h = harness()
    views = view(h, issue(h, exit_ban()))  # REP_ID, the firm's FIRM_CODE, permit PERMIT
    passport = {"type": "PASSPORT", "number": DOC_PASSPORT, "nationality": "USA"}
    views += view(
        h,
        issue(
            h, exit_ban("rc-3", subject=FOREIGNER, role="DEBTOR", debtor=None, document=passport)
        ),
    )
    return views


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('masking') / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    firm = _entry("bl-firm", "4408", "粤08", FIRM_CODE, "ORGANISATION")
    firm |= {"legal_representative": "李四", "legal_representative_id": REP_ID}
    model.apply_blacklist_entry("bl-firm", firm)
    model.apply_blacklist_entry(
        "bl-person", _entry("bl-person", "320583", "苏0583", PERSON_ID, "PERSON")
    )
    for payload in _restrictions():
        model.apply_restriction_control(payload)
    item = {
        "item_id": f"restriction:rc-1 {REP_ID}",
        "kind": "RESTRICTION",
        "label": f"EXIT_BAN {REP_ID}",
        "court_id": "3205",
        "since": T,
        "due_at": T,
    }
    model.apply_watchdog_alert(
        "wd-1",
        {
            "case_number": {"text": "(2024)苏05执100号"},
            "court": {"court_id": "3205"},
            "alert_number": 1,
            "items": [item],
            "sent_at": T,
        },
    )
    req = requested("d-1")
    model.apply_event(req)
    model.apply_event(decided(req, "DELIVERED"))
    h = dist.harness()
    projector = FlowHarness(ProjectorFlow(h.envelope, model), start=h.now)
    _to_suit(h)
    for o in h.outputs:
        if o.topic == DISTRIBUTION_VIEW:
            projector.feed_raw(o.topic, o.key, o.value, o.headers)
    model.close()
    return url


# -- fakes of what Kafka would hand over -----------------------------------------------------

REASON = f"debtor {PERSON_ID} of {FIRM_CODE}: listed twice"


def _event(record: str, key: str, payload: dict[str, Any], topic: str = "x.inbox") -> Any:
    return SimpleNamespace(
        topic=topic,
        partition=0,
        offset=0,
        key=key,
        record=f"cn.court.bus.{record}",
        payload=payload,
        headers=SimpleNamespace(time=T),
    )


class FakeCourt:
    def __init__(self, court: str) -> None:
        self.court = court

    def __enter__(self) -> FakeCourt:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def inbox(self, **_kw: Any) -> Iterator[Any]:
        sample = one_per_flow()[0][3]
        yield _event("delegation.DelegationRequested", "dlg-1", sample)
        yield _event(
            "notice.MessageRejected",
            PERSON_ID,
            {"error_code": "X", "reason": REASON, "delegation_id": None},
        )
        yield _event("blacklist.BlacklistNotice", f"bl-{FIRM_CODE}", {"notice": REASON})


class FakeAgency:
    def __init__(self, agency: str, _conn: Any, **_kw: Any) -> None:
        self.conn = None

    def __enter__(self) -> FakeAgency:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def decode(self, raw: Any) -> Any:
        return raw


def _feed(_conn: Any, topics: list[str], _timeout: Any) -> Iterator[Any]:
    for payload in _restrictions():
        yield _event(
            "restriction.RestrictionControl", payload["control_id"], payload, topic=topics[1]
        )
    yield _event("notice.MessageRejected", "m-1", {"reason": REASON, "code": "X"}, topic=topics[0])


LETTER = DeadLetter(
    partition=0,
    offset=1,
    code="BLACKLIST_DUPLICATE",
    reason=REASON,
    source_topic="court.4408.outbox",
    source_partition=0,
    source_offset=3,
    time=T,
    key=b"bl-1",
    value=b"\x00",
    headers=[("ce_subject", REASON.encode())],
)


@pytest.fixture(autouse=True)
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setattr(bus, "court_client", FakeCourt)
    monkeypatch.setattr(bus, "cli_connection", lambda *a, **k: None)
    monkeypatch.setattr("courtbus.sdk.agency.AgencyClient", FakeAgency)
    monkeypatch.setattr("courtbus.wire.client.read_from_start", _feed)
    monkeypatch.setattr("courtbus.bus.deadletters.read_dead_letters", lambda _c: iter([LETTER]))
    monkeypatch.setattr("courtbus.bus.deadletters.find", lambda _c, _r: LETTER)


# command -> (arguments, reads the read model, has --show-ids)
PRINTS_IDS: dict[str, tuple[list[str], bool, bool]] = {
    "blacklist list": ([], True, True),
    "blacklist show": (["bl-firm"], True, True),
    "restrictions list": ([], True, True),
    "restrictions show": (["rc-1"], True, True),
    "watchdog alerts": ([], True, False),
    "distribution list": ([], True, False),
    "distribution show": ([dist.DID], True, True),
    "delegation list": ([], True, False),
    "delegation show": (["d-1"], True, False),
    "inbox": (["4408"], False, False),
    "feed": (["nia"], False, True),
    "dlq list": ([], False, False),
    "dlq show": (["0:1"], False, False),
}
# commands that print no ID numbers (entity and event ids, counts, files, endpoints)
PRINTS_NO_IDS = {
    "stack up",
    "stack fetch",
    "stack down",
    "stack status",
    "credentials issue",
    "credentials revoke",
    "topics plan",
    "topics apply",
    "acl plan",
    "acl apply",
    "metrics targets",
    "web token",
    "schemas register",
    "schemas check",
    "schemas history",
    "directory check",
    "directory show",
    "directory generate",
    "serve",
    "reconcile",  # counts, and samples by topic, offset, ce_id and delegation id: no ID number
    "dlq replay",  # its ref and code; a refusal's reason is masked (mask_ids_in_text)
    "blacklist generate",
    "blacklist sync",
    "blacklist verify-mirror",
    "blacklist verify",
    "delegation send",
    "delegation send-many",
    "delegation accept",
    "delegation materials",
    "delegation supply",
    "delegation return",
    "delegation files-returned",
    "delegation escalate",
    "delegation answer",
    "delegation renew",
    "delegation renewed",
    "delegation released",
    "delegation release",
    "delegation progress",
    "delegation complete",
    "delegation cancel",
    "demo",  # its tables: test_the_demo_tables_mask_every_id below
    "keys new",
    "keys rotate",
    "keys retire",
    "keys list",  # key ids, files, validity windows
}


def _commands(group: Any, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a group (typer's own click, or click's)
            yield from _commands(command, path + " ")
        else:
            yield path


def test_every_command_is_accounted_for() -> None:
    commands = set(_commands(typer.main.get_command(app)))
    assert commands - set(PRINTS_IDS) - PRINTS_NO_IDS == set(), "new command: list it here"
    assert set(PRINTS_IDS) | PRINTS_NO_IDS <= commands


def _run(store: str, command: str, *extra: str) -> str:
    args, reads_store, _ = PRINTS_IDS[command]
    argv = [*command.split(), *args, *extra, *(["--store", store] if reads_store else [])]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, (argv, result.output, result.exception)
    return result.output


@pytest.mark.parametrize("command", sorted(PRINTS_IDS))
def test_no_id_number_is_printed_in_full(store: str, command: str) -> None:
    output = _run(store, command)
    assert [s for s in SECRETS if s in output] == [], output


@pytest.mark.parametrize("command", sorted(c for c, (_, _, ids) in PRINTS_IDS.items() if ids))
def test_show_ids_prints_them(store: str, command: str) -> None:
    assert any(s in _run(store, command, "--show-ids") for s in SECRETS)


def test_the_feed_masks_passports_and_permits_by_field(store: str) -> None:
    full = _run(store, "feed", "--show-ids")
    assert DOC_PASSPORT in full and PASSPORT in full and PERMIT in full and REP_ID in full


def test_the_demo_tables_mask_every_id() -> None:
    for _source, _topic, _record, payload in one_per_flow():
        summary = demo._summary(SimpleNamespace(payload=payload))  # type: ignore[arg-type]
        assert [s for s in (PERSON_ID, FIRM_CODE) if s in summary] == [], summary


def test_a_credit_code_in_any_text_is_masked(tmp_path: Path) -> None:
    from courtbus.domain.masking import mask_ids_in_text

    assert FIRM_CODE not in mask_ids_in_text(f"firm {FIRM_CODE} and {PERSON_ID}")
    assert PERSON_ID not in mask_ids_in_text(f"firm {FIRM_CODE} and {PERSON_ID}")

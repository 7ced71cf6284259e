"""A delegation step from the command line is checked against the read model before it is
sent (the bus still decides) and says where the answer arrives; ``dlq replay`` puts a dead
letter through the gateway's checks again before resending it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from courtbus.app.cli import bus, delegation
from courtbus.app.cli.main import app
from courtbus.bus.deadletters import DeadLetter
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import load_policies
from courtbus.gateway import Gateway
from courtbus.sdk import Sent
from courtbus.store import ReadModelWriter
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.schemas import SchemaSet
from tests.fakes import MemoryRegistry
from tests.gateway_cases import build, valid_payload
from tests.store_contract import decided, requested

runner = CliRunner()


class FakeDelegation:
    """The delegation client's steps: each records what would be sent and is acknowledged."""

    def __getattr__(self, name: str) -> Any:
        def step(*args: Any, **_kw: Any) -> Sent:
            FakeCourt.sent.append((name, args))
            return Sent("ev-1", str(args[0]), 0, 7)

        return step


class FakeCourt:
    """Records what would be sent (``FakeCourt.sent``); every step is acknowledged."""

    sent: ClassVar[list[tuple[str, tuple[Any, ...]]]] = []

    def __init__(self, court: str) -> None:
        self.court = court
        self.delegation = FakeDelegation()

    def __enter__(self) -> FakeCourt:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@pytest.fixture(autouse=True)
def fake_court(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeCourt.sent = []
    monkeypatch.setattr(delegation, "court_client", FakeCourt)
    monkeypatch.setenv("COURTBUS_STACK_HOME", str(tmp_path / "no-stack"))
    monkeypatch.delenv("COURTBUS_STORE_URL", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> str:
    """d-1: requested by 320583 of 6101, delivered."""
    url = f"sqlite:///{tmp_path / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    req = requested("d-1")
    model.apply_event(req)
    model.apply_event(decided(req, "DELIVERED"))
    model.close()
    return url


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["accept", "--as", "6101", "dlg-does-not-exist"], "DELEGATION_UNKNOWN"),
        (["accept", "--as", "320583", "d-1"], "DELEGATION_WRONG_COURT"),
        (
            ["complete", "--as", "6101", "d-1", "--summary", "冻结完毕"],
            "DELEGATION_ILLEGAL_TRANSITION",
        ),
        (["renew", "--as", "320583", "d-1", "--days", "30"], "DELEGATION_ILLEGAL_TRANSITION"),
        (
            ["answer", "--as", "4408", "d-1", "--decision", "ORDERED", "--reason", "r"],
            "DELEGATION_WRONG_COURT",
        ),
    ],
)
def test_a_step_the_read_model_rules_out_is_not_sent(
    store: str, args: list[str], code: str
) -> None:
    result = runner.invoke(app, ["delegation", *args, "--store", store])
    assert getattr(result.exception, "code", None) == code, result.output
    assert FakeCourt.sent == []


def test_a_legal_step_is_sent_and_says_where_the_answer_arrives(store: str) -> None:
    result = runner.invoke(app, ["delegation", "accept", "--as", "6101", "d-1", "--store", store])
    assert result.exit_code == 0, result.output
    assert FakeCourt.sent == [("accept", ("d-1", None))]
    assert "sent acceptance: d-1" in result.output
    assert "checked against the read model" in result.output
    assert "courtbus inbox 6101" in result.output


def test_without_a_read_model_the_step_goes_and_names_the_inbox() -> None:
    result = runner.invoke(app, ["delegation", "accept", "--as", "6101", "dlg-does-not-exist"])
    assert result.exit_code == 0, result.output
    assert FakeCourt.sent == [("accept", ("dlg-does-not-exist", None))]
    assert "checked" not in result.output and "courtbus inbox 6101" in result.output


def test_no_check_sends_what_the_read_model_does_not_know(store: str) -> None:
    argv = ["delegation", "accept", "--as", "6101", "dlg-new", "--store", store, "--no-check"]
    assert runner.invoke(app, argv).exit_code == 0
    assert FakeCourt.sent == [("accept", ("dlg-new", None))]


# -- dlq replay --------------------------------------------------------------------------------


@pytest.fixture
def envelope() -> Envelope:
    return Envelope(AvroCodec(SchemaSet.load(), MemoryRegistry(), auto_register=True))


def _letter(envelope: Envelope, code: str, **payload: Any) -> DeadLetter:
    raw = build(envelope, valid_payload(**payload))
    return DeadLetter(
        partition=1,
        offset=5,
        code=code,
        reason="refused",
        source_topic=raw.topic,
        source_partition=0,
        source_offset=3,
        time=None,
        key=raw.key,
        value=raw.value or b"",
        headers=[(k, v or b"") for k, v in raw.headers],
    )


@pytest.fixture
def replayed(monkeypatch: pytest.MonkeyPatch, envelope: Envelope) -> list[DeadLetter]:
    directory = load_directory()
    gateway = Gateway(envelope, directory, load_policies(directory))
    monkeypatch.setattr(bus, "replay_gateway", lambda _conn: gateway)
    monkeypatch.setattr(bus, "cli_connection", lambda: None)
    done: list[DeadLetter] = []

    def replay(_conn: Any, letter: DeadLetter) -> tuple[int, int]:
        done.append(letter)
        return 0, 99

    monkeypatch.setattr("courtbus.bus.deadletters.replay", replay)
    return done


def _find(monkeypatch: pytest.MonkeyPatch, letter: DeadLetter) -> None:
    monkeypatch.setattr("courtbus.bus.deadletters.find", lambda _conn, _ref: letter)


def test_a_dead_letter_whose_cause_is_unchanged_is_not_resent(
    monkeypatch: pytest.MonkeyPatch, envelope: Envelope, replayed: list[DeadLetter]
) -> None:
    _find(monkeypatch, _letter(envelope, "POLICY_FREEZE_TOO_LONG", freeze_period_days=400))
    result = runner.invoke(app, ["dlq", "replay", "1:5"])
    assert result.exit_code == 1 and replayed == []
    assert "not resent" in result.stderr and "again: POLICY_FREEZE_TOO_LONG" in result.stderr
    forced = runner.invoke(app, ["dlq", "replay", "1:5", "--force"])
    assert forced.exit_code == 0 and len(replayed) == 1
    assert "resending anyway" in forced.stderr and "replayed 1:5" in forced.output


def test_a_dead_letter_the_gateway_now_accepts_is_resent(
    monkeypatch: pytest.MonkeyPatch, envelope: Envelope, replayed: list[DeadLetter]
) -> None:
    _find(monkeypatch, _letter(envelope, "COURT_UNKNOWN"))  # e.g. the court since added
    result = runner.invoke(app, ["dlq", "replay", "1:5"])
    assert result.exit_code == 0, result.output
    assert len(replayed) == 1 and "replayed 1:5 (COURT_UNKNOWN)" in result.output

"""The command line checks its input before it connects, and says plainly when Kafka is away."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import kafka
import pytest
from kafka.errors import AuthorizationError as KafkaAuthorizationError
from kafka.errors import KafkaTimeoutError
from typer.testing import CliRunner

from courtbus.app.cli import bus, delegation
from courtbus.app.cli.main import app
from courtbus.errors import ClusterError

PERSON_ID = "110101199003074514"  # valid checksum
BAD_ID = "110101199003074515"
CASE = "(2024)苏0583执200号"

runner = CliRunner()
cli_main = importlib.import_module("courtbus.app.cli.main")  # the package re-exports main()


def _connect(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("connected to Kafka before the input was checked")


@pytest.fixture(autouse=True)
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach a cluster fails the test."""
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("COURTBUS_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    for module in (delegation, bus):
        monkeypatch.setattr(module, "court_client", _connect)
    for cls in (kafka.KafkaProducer, kafka.KafkaConsumer, kafka.KafkaAdminClient):
        monkeypatch.setattr(cls, "__init__", _connect)


def _send(**override: str) -> list[str]:
    opts = {
        "--as": "320583",
        "--to": "6101",
        "--case": CASE,
        "--matter": "FREEZE",
        "--debtor-name": "张三",
        "--debtor-id": PERSON_ID,
        "--asset-kind": "DEPOSIT",
        "--amount": "1000.00",
        "--freeze-days": "365",
        **override,
    }
    return ["delegation", "send", *(x for kv in opts.items() for x in kv)]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (_send(**{"--as": "999999"}), "COURT_UNKNOWN"),
        (_send(**{"--to": "999999"}), "COURT_UNKNOWN"),
        (_send(**{"--case": "bad"}), "CASE_NUMBER_FORMAT"),
        (_send(**{"--debtor-id": BAD_ID}), "RESIDENT_ID_INVALID"),
        (_send(**{"--amount": "abc"}), "MONEY_INVALID"),
        (_send(**{"--debtor-id": "E12345678"}), "RESIDENT_ID_INVALID"),  # a passport needs a state
        (_send(**{"--debtor-id": "E12345678", "--nationality": "U1"}), "PASSPORT_INVALID"),
        (_send(**{"--amount": "1.001"}), "MONEY_INVALID"),
        (_send(**{"--matter": "FREEZ"}), "REQUEST_INVALID"),
        (_send(**{"--to": "320583"}), "DELEGATION_SELF"),
        (_send(**{"--debtor-name": "张\x1b三"}), "TEXT_CONTROL_CHARACTER"),
        (["delegation", "accept", "--as", "99", "dlg-1"], "COURT_UNKNOWN"),
        (
            [
                "delegation",
                "return",
                "--as",
                "99",
                "dlg-1",
                "--reason",
                "r",
                "--approved-on",
                "2027-11-30",
            ],
            "COURT_UNKNOWN",
        ),
        (
            ["delegation", "progress", "--as", "6101", "dlg-1", "--summary", "s", "--amount", "x"],
            "MONEY_INVALID",
        ),
        (
            ["delegation", "complete", "--as", "6101", "dlg-1", "--summary", "s", "--amount", "-1"],
            "MONEY_OUT_OF_RANGE",
        ),
        (
            ["delegation", "complete", "--as", "6101", "dlg-1", "--summary", "s", "--until", "x"],
            "FIELD_INVALID",
        ),
        (
            [
                "delegation",
                "renewed",
                "--as",
                "6101",
                "dlg-1",
                "--until",
                "2027-02-30",
                "--summary",
                "s",
            ],
            "FIELD_INVALID",
        ),
        (
            ["delegation", "escalate", "--as", "320583", "d", "--to", "99", "--reason", "r"],
            "COURT_UNKNOWN",
        ),
        (
            ["delegation", "cancel", "--as", "320583", "dlg-1", "--reason", "a\u202eb"],
            "TEXT_BIDI_CONTROL",
        ),
        (["inbox", "999"], "COURT_UNKNOWN"),
        (["dlq", "show", "abc"], "DLQ_REF_INVALID"),
        (["dlq", "replay", "1-2"], "DLQ_REF_INVALID"),
        (["topics", "plan", "--profile", "nope"], "CATALOGUE_INVALID"),
        (["topics", "apply", "--profile", "nope"], "CATALOGUE_INVALID"),
    ],
)
def test_bad_input_is_refused_before_connecting(
    args: list[str], code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = _run_main(args)
    captured = capsys.readouterr()
    assert rc == 1
    assert f"error {code}: " in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert PERSON_ID not in captured.err and BAD_ID not in captured.err


def test_a_bad_resident_id_is_masked_in_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run_main(_send(**{"--debtor-id": BAD_ID})) == 1
    assert "110101********4515" in capsys.readouterr().err


def test_send_many_checks_court_and_lines_before_connecting(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "requests.jsonl"
    lines.write_text(
        '{"to": "6101", "case": "bad", "matter": "SEARCH", "debtor_name": "张三", '
        f'"debtor_id": "{BAD_ID}"}}\n',
        encoding="utf-8",
    )
    assert _run_main(["delegation", "send-many", "--as", "999999", "--file", str(lines)]) == 1
    assert "error COURT_UNKNOWN" in capsys.readouterr().err
    result = runner.invoke(app, ["delegation", "send-many", "--as", "320583", "--file", str(lines)])
    assert result.exit_code == 1
    assert "CASE_NUMBER_FORMAT" in result.output and "nothing sent" in result.output
    missing = runner.invoke(
        app, ["delegation", "send-many", "--as", "320583", "--file", "/no/such"]
    )
    assert missing.exit_code == 2


def test_send_many_refuses_a_file_that_is_not_utf8(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "requests.jsonl"
    lines.write_bytes('{"to": "6101", "debtor_name": "张三"}'.encode("gb18030"))
    assert _run_main(["delegation", "send-many", "--as", "320583", "--file", str(lines)]) == 1
    assert "error REQUEST_INVALID: " in capsys.readouterr().err


def test_valid_input_reaches_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks do not refuse a good request: it gets as far as the (patched) client."""
    result = runner.invoke(app, _send())
    assert isinstance(result.exception, AssertionError)
    assert "connected" in str(result.exception)


# -- kafka-python's noise and an unreachable cluster ----------------------------------------------


def _run_main(args: list[str]) -> int:
    saved = sys.argv
    sys.argv = ["courtbus", *args]
    try:
        cli_main.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.argv = saved
    return 0


def test_an_unreachable_cluster_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(_court: str) -> Any:
        raise KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1")

    monkeypatch.setattr(bus, "court_client", unreachable)
    assert _run_main(["inbox", "320583"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error CLUSTER_UNREACHABLE: cannot reach Kafka at 127.0.0.1:1: "
        "KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:1"
    ]


def test_a_long_cluster_error_is_not_wrapped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(_court: str) -> Any:
        raise ClusterError(
            "cannot reach Kafka at 127.0.0.1:1: " + "x" * 200 + "\nmore", code="CLUSTER_UNREACHABLE"
        )

    monkeypatch.setattr(bus, "court_client", unreachable)
    assert _run_main(["inbox", "320583"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_other_errors_are_not_disguised_as_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_main.kafka_unreachable(RuntimeError("boom")) is None
    assert cli_main.kafka_unreachable(KafkaAuthorizationError()) is None
    found = cli_main.kafka_unreachable(KafkaTimeoutError())
    assert found is not None and found.code == "CLUSTER_UNREACHABLE"


def test_kafka_python_logs_stay_out_of_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    kafka_log = logging.getLogger("kafka")
    monkeypatch.setattr(kafka_log, "level", kafka_log.level)
    monkeypatch.delenv("COURTBUS_KAFKA_LOG", raising=False)
    _run_main(["directory", "check"])
    assert kafka_log.getEffectiveLevel() == logging.CRITICAL
    assert not logging.getLogger("kafka.net.manager").isEnabledFor(logging.ERROR)
    monkeypatch.setenv("COURTBUS_KAFKA_LOG", "debug")
    _run_main(["directory", "check"])
    assert kafka_log.getEffectiveLevel() == logging.DEBUG


def test_services_keep_kafka_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    from courtbus.logs import configure_logging, kafka_log_level

    kafka_log = logging.getLogger("kafka")
    monkeypatch.setattr(kafka_log, "level", kafka_log.level)
    monkeypatch.delenv("COURTBUS_KAFKA_LOG", raising=False)
    configure_logging(logging.INFO)
    assert kafka_log.level == logging.WARNING
    monkeypatch.setenv("COURTBUS_KAFKA_LOG", "nonsense")
    assert kafka_log_level(logging.CRITICAL) == logging.CRITICAL


def test_a_passport_with_its_state_passes_the_offline_checks() -> None:
    """With --nationality the ID is read as a passport: checked, then the client connects."""
    result = runner.invoke(app, _send(**{"--debtor-id": "E12345678", "--nationality": "USA"}))
    assert isinstance(result.exception, AssertionError)
    assert "connected" in str(result.exception)


def test_the_cli_waits_5_seconds_for_a_cluster_that_does_not_answer_not_30(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from courtbus.app.cli.common import cli_connection
    from courtbus.config import Connection

    probed: list[float] = []
    monkeypatch.setattr(Connection, "probe", lambda _self, timeout_s: probed.append(timeout_s))
    monkeypatch.delenv("COURTBUS_CONNECT_TIMEOUT_S", raising=False)
    settings = cli_connection().kafka_settings()
    assert probed == [5.0]
    assert settings["bootstrap_timeout_ms"] == 5000
    assert settings["bootstrap_servers"] == "127.0.0.1:1"
    monkeypatch.setenv("COURTBUS_CONNECT_TIMEOUT_S", "2.5")
    assert cli_connection().kafka_settings()["bootstrap_timeout_ms"] == 2500


def test_times_are_printed_in_china_time() -> None:
    from datetime import UTC, datetime

    from courtbus.app.cli.delegation import china_time

    assert china_time(datetime(2024, 3, 18, 16, 0, tzinfo=UTC)) == "2024-03-19 00:00 北京时间"
    assert (
        china_time(datetime(2024, 3, 18, 16, 0, 5), seconds=True) == "2024-03-19 00:00:05 北京时间"
    )
    assert china_time(None) == ""


def test_a_deadline_without_holiday_data_is_shown_as_provisional() -> None:
    from datetime import UTC, datetime

    from courtbus.app.cli.delegation import due_text

    # the end of a last day 2199-01-04, a year no chinesecalendar release knows (as 1.11.0
    # does not know 2027)
    shown = due_text(datetime(2199, 1, 4, 16, 0, tzinfo=UTC))
    assert shown.startswith("2199-01-05 00:00 北京时间")
    assert "provisional: no holiday data for 2199" in shown
    assert due_text(datetime(2024, 3, 18, 16, 0)) == "2024-03-19 00:00 北京时间"
    assert due_text(None) == ""

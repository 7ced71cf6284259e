"""What the read commands check before they read: every filter (a court not in the directory,
a status or state the flow does not have, an ID with a bad check digit), the read model itself
(never created by a read-only command), and paging with the total from a COUNT."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtbus.app.cli.common import out
from courtbus.app.cli.main import app
from courtbus.store import ReadModelWriter
from tests.builders import FIRM_CODE, PERSON_ID
from tests.unit.cli_width import wide_console  # noqa: F401 - autouse fixture
from tests.unit.test_blacklist_cli import _entry

runner = CliRunner()
cli_main = importlib.import_module("courtbus.app.cli.main")
BAD_ID = PERSON_ID[:-1] + ("5" if PERSON_ID[-1] != "5" else "6")  # check digit broken
BAD_CODE = FIRM_CODE[:-1] + ("A" if FIRM_CODE[-1] != "A" else "B")


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stack folder of the test's own, with no read model and no store URL."""
    home = tmp_path / "stack"
    monkeypatch.setenv("COURTBUS_STACK_HOME", str(home))
    monkeypatch.delenv("COURTBUS_STORE_URL", raising=False)
    return home


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["blacklist", "list", "--court", "999999"], "COURT_UNKNOWN", "999999"),
        (["blacklist", "list", "--status", "BOGUS"], "CLI_OPTION_INVALID", "ACTIVE, DELISTED"),
        (["blacklist", "list", "--debtor", BAD_ID], "RESIDENT_ID_INVALID", "********"),
        (["blacklist", "list", "--debtor", BAD_CODE], "CREDIT_CODE_INVALID", ""),
        (
            ["blacklist", "list", "--debtor", "E12345678", "--nationality", "U1"],
            "PASSPORT_INVALID",
            "",
        ),
        (["blacklist", "list", "--nationality", "USA"], "ID_TYPE_MISMATCH", "passport"),
        (["blacklist", "list", "--region", "火星"], "REGION_UNKNOWN", ""),
        (["restrictions", "list", "--court", "999999"], "COURT_UNKNOWN", ""),
        (["restrictions", "list", "--person", BAD_ID], "RESIDENT_ID_INVALID", ""),
        (["restrictions", "list", "--status", "gone"], "CLI_OPTION_INVALID", "ACTIVE, LIFTED"),
        (["watchdog", "alerts", "--court", "999999"], "COURT_UNKNOWN", ""),
        (["distribution", "list", "--court", "999999"], "COURT_UNKNOWN", ""),
        (["delegation", "list", "--court", "999999"], "COURT_UNKNOWN", ""),
        (["delegation", "list", "--state", "BOGUS"], "CLI_OPTION_INVALID", "DELIVERED"),
    ],
)
def test_every_filter_is_checked_before_the_read_model_is_read(
    args: list[str], code: str, says: str
) -> None:
    # no read model exists: the filter's own code comes first, not READMODEL_MISSING
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) == code, result.exception
    assert says in str(result.exception)
    assert BAD_ID not in str(result.exception)


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


READ_COMMANDS = [
    ["delegation", "list"],
    ["delegation", "show", "d-1"],
    ["blacklist", "list"],
    ["blacklist", "show", "bl-1"],
    ["restrictions", "list"],
    ["restrictions", "show", "rc-1"],
    ["watchdog", "alerts"],
    ["distribution", "list"],
    ["distribution", "show", "dist-1"],
]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_a_read_command_never_creates_an_empty_read_model(
    args: list[str], private_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error READMODEL_MISSING: no read model at ")
    assert str(private_home / "readmodel.db") in err[0] and "courtbus serve projector" in err[0]
    assert not private_home.exists()  # nothing created, not even the folder


def test_a_missing_read_model_hints_at_the_stack_home_when_none_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("COURTBUS_STACK_HOME")
    monkeypatch.setenv("COURTBUS_STORE_URL", f"sqlite:///{tmp_path / 'nowhere.db'}")
    result = runner.invoke(app, ["delegation", "list"])
    assert getattr(result.exception, "code", None) == "READMODEL_MISSING"
    assert str(tmp_path / "nowhere.db") in str(result.exception)
    assert not (tmp_path / "nowhere.db").exists()


def test_a_database_the_projector_never_set_up_is_missing_too(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = runner.invoke(app, ["blacklist", "list", "--store", f"sqlite:///{empty}"])
    assert getattr(result.exception, "code", None) == "READMODEL_MISSING"
    assert empty.stat().st_size == 0


@pytest.fixture
def many(tmp_path: Path) -> str:
    """Five entries of one court, their ids longer than a narrow terminal's id column."""
    url = f"sqlite:///{tmp_path / 'read.db'}"
    model = ReadModelWriter(url)
    model.migrate()
    for n in range(5):
        eid = f"bl-2024-320583-zhixing-{n:06d}"
        model.apply_blacklist_entry(eid, _entry(eid, "320583", "苏0583", PERSON_ID, "PERSON"))
    model.close()
    return url


def _list(url: str, *args: str) -> str:
    result = runner.invoke(app, ["blacklist", "list", "--store", url, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_page_says_how_many_of_how_many(many: str) -> None:
    assert "5 entries" in _list(many) and " of " not in _list(many).splitlines()[-1]
    first = _list(many, "--limit", "2")
    assert first.splitlines()[-1] == "2 of 5 entries (page 1 of 3; --page 2 for more)"
    last = _list(many, "--limit", "2", "--page", "3")
    assert last.splitlines()[-1] == "1 of 5 entries (page 3 of 3)"
    shown = [n for n in range(5) if f"zhixing-{n:06d}" in first + last]
    assert shown == [0, 1, 4]
    assert _list(many, "--court", "3205").splitlines()[-1] == "0 entries"
    one = _list(many, "--limit", "1", "--page", "5").splitlines()[-1]
    assert one == "1 of 5 entries (page 5 of 5)"


@pytest.fixture
def narrow() -> Iterator[None]:
    before = out._width
    out.width = 100
    yield
    out._width = before


@pytest.mark.usefixtures("narrow")
def test_ids_stay_whole_on_a_narrow_terminal(many: str) -> None:
    output = _list(many)
    for n in range(5):
        assert f"bl-2024-320583-zhixing-{n:06d}" in output

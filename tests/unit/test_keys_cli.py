"""`courtbus keys new|rotate|retire|list` over a keys file in a temporary folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtbus.app.cli.main import app
from courtbus.security import keys as keyfile

runner = CliRunner()


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "public.yaml"
    monkeypatch.setenv("COURTBUS_KEYS", str(path))
    monkeypatch.delenv("COURTBUS_SIGNING_KEY_PASSWORD", raising=False)
    return path


def invoke(*argv: str) -> str:
    result = runner.invoke(app, list(argv))
    assert result.exit_code == 0, (argv, result.output, result.exception)
    return result.output


def test_new_rotate_retire(keys: Path) -> None:
    invoke("keys", "new", "court.320583")
    (first,) = keyfile.load_keys(keys)
    private = keys.parent / "private" / f"{first.keyid.replace(':', '_')}.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    assert keyfile.load_signer(private, "court.320583").keyid == first.keyid
    assert "PRIVATE KEY" not in invoke("keys", "rotate", "320583", "--rollover-days", "3")
    # both may start in the same second (the CLI keeps whole seconds): told apart by key id
    (old,) = [k for k in keyfile.load_keys(keys) if k.keyid == first.keyid]
    (new,) = [k for k in keyfile.load_keys(keys) if k.keyid != first.keyid]
    assert old.not_after is not None and new.not_before >= old.not_before
    assert (old.not_after - new.not_before).days == 3
    now = datetime.now(UTC)
    assert {k.keyid for k in keyfile.current(keyfile.load_keys(keys), "court.320583", now)} == {
        old.keyid,
        new.keyid,
    }
    invoke("keys", "retire", "court.320583", "--keyid", old.keyid)
    assert [
        k.keyid for k in keyfile.current(keyfile.load_keys(keys), "court.320583", datetime.now(UTC))
    ] == [new.keyid]
    assert "court.320583" in invoke("keys", "list")


def test_an_unknown_participant_is_refused(keys: Path) -> None:
    result = runner.invoke(app, ["keys", "new", "court.999999"])
    assert result.exit_code != 0
    assert not keys.exists()

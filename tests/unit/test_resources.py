"""The package carries its own data and version, found the same way from a checkout and from a
wheel."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from courtbus import resources
from courtbus.config import default_stack_home

PACKAGE = Path(resources.__file__).parent


def test_every_data_file_is_found_inside_the_package() -> None:
    for path in (
        resources.directory_path(),
        resources.catalogue_path(),
        resources.policies_path(),
        resources.policy_examples_path(),
        resources.deadlines_path(),
        resources.deadline_examples_path(),
        resources.schema_history_path(),
    ):
        assert path.is_file(), path
        assert path.is_relative_to(PACKAGE / "data")
    assert len(list(resources.schema_dir().glob("*.avsc"))) > 50


def test_the_environment_still_points_services_at_other_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable, lookup in (
        ("COURTBUS_DIRECTORY", resources.directory_path),
        ("COURTBUS_POLICIES", resources.policies_path),
        ("COURTBUS_DEADLINES", resources.deadlines_path),
    ):
        monkeypatch.setenv(variable, str(tmp_path / variable))
        assert lookup() == tmp_path / variable


def test_pyproject_ships_every_data_file_in_the_wheel() -> None:
    """Each file under ``courtbus/data`` and ``courtbus/stack/poms`` matches a package-data
    glob, so a new kind of data file cannot be left out of the wheel unnoticed."""
    checkout = resources.source_checkout()
    if checkout is None:
        pytest.skip("installed package: no pyproject.toml")
    config = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["courtbus"]
    shipped = [
        p
        for folder in (PACKAGE / "data", PACKAGE / "stack" / "poms")
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert shipped
    relative = [PurePosixPath(p.relative_to(PACKAGE).as_posix()) for p in shipped]
    missing = [str(r) for r in relative if not any(r.match(g) for g in globs)]
    assert missing == []


def test_a_checkout_keeps_its_stack_beside_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURTBUS_STACK_HOME", raising=False)
    checkout = resources.source_checkout()
    if checkout is None:
        pytest.skip("installed package")
    assert default_stack_home() == checkout / ".stack"
    monkeypatch.setenv("COURTBUS_STACK_HOME", "/srv/courtbus")
    assert default_stack_home() == Path("/srv/courtbus")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG folders are Linux's")
def test_an_installed_package_keeps_its_stack_in_the_users_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Never site-packages: ``$XDG_DATA_HOME/courtbus`` (``~/.local/share/courtbus``)."""
    monkeypatch.delenv("COURTBUS_STACK_HOME", raising=False)
    monkeypatch.setattr(resources, "source_checkout", lambda: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_stack_home() == tmp_path / "courtbus"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_stack_home() == tmp_path / ".local" / "share" / "courtbus"


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    from typer.testing import CliRunner

    from courtbus.app.cli.main import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"courtbus {version('courtbus')}\n"

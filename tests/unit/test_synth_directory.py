"""The synthetic national directory: its size and shape, determinism, and the shipped rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtbus.app.cli.main import app
from courtbus.catalogue.directory import CourtLevel, Directory, load_directory
from courtbus.catalogue.policies import load_policies
from courtbus.catalogue.topics import load_catalogue
from courtbus.domain.regions import PROVINCES
from courtbus.resources import data_dir
from courtbus.synth.directory import Sizes, national_directory, render, write_directory


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Directory:
    return write_directory(tmp_path_factory.mktemp("national") / "directory.yaml", seed=0)


def test_it_has_the_national_size_over_every_province_and_level(national: Directory) -> None:
    assert len(national.courts) == 3_500
    assert len(national.provinces()) == len(PROVINCES)
    levels = Counter(c.level for c in national.courts)
    assert levels[CourtLevel.HIGH] == len(PROVINCES)
    assert 300 <= levels[CourtLevel.INTERMEDIATE] <= 450 and levels[CourtLevel.SPECIAL] >= 30
    assert levels[CourtLevel.BASIC] > 2_900
    assert len(national.agencies) > 50 and len(national.feeds) == len(national.agencies)


def test_the_shipped_directory_is_kept_and_its_rules_still_load(national: Directory) -> None:
    shipped = load_directory(data_dir() / "topics" / "directory.yaml")
    assert set(shipped.courts) <= set(national.courts)
    assert set(shipped.agencies) <= set(national.agencies)
    assert dict(national.groups) == dict(shipped.groups)
    load_policies(national)  # the shipped regional rules name some of its courts and groups


def test_the_catalogue_gives_about_ten_thousand_outbox_partitions(national: Directory) -> None:
    catalogue = load_catalogue()
    specs = catalogue.specs(national, catalogue.profile("single"))
    outboxes = [s for s in specs if s.name.endswith(".outbox")]
    assert 10_000 <= sum(s.partitions for s in outboxes) <= 11_000


def test_the_same_seed_gives_the_same_file_and_another_seed_another() -> None:
    small = Sizes(courts=600, banks=3)
    one, again, other = (national_directory(s, small) for s in (0, 0, 1))
    assert render(one, 0) == render(again, 0)
    assert render(other, 0) != render(one, 0)
    assert len(one.courts) == len(other.courts) == 600


def test_directory_generate_writes_a_file_the_services_can_take(tmp_path: Path) -> None:
    out = tmp_path / "national.yaml"
    result = CliRunner().invoke(
        app, ["directory", "generate", "--out", str(out), "--courts", "800", "--banks", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "800 courts" in " ".join(result.output.split())  # rich wraps at the path's length
    directory = load_directory(out)
    assert len(directory.courts) == 800 and len(directory.agencies) == 7

"""The Faust mirror example picks its agency's blacklist feed from the directory and fails with
one line naming the agency's feeds, never a Faust traceback (issue: `COURTBUS_MIRROR_AGENCY=nia`
ended in `TOPIC_NOT_FOUND: agency.nia.blacklist`, nia has only a restriction feed)."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from courtbus.catalogue.directory import load_directory
from courtbus.errors import ValidationError

pytest.importorskip("faust")


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("COURTBUS_REGISTRY_URL", "http://127.0.0.1:1/apis/ccompat/v7")
    monkeypatch.delenv("COURTBUS_MIRROR_TOPIC", raising=False)
    return importlib.import_module("examples.faust_mirror.app")  # reads no settings on import


def test_an_agency_without_the_feed_is_refused_naming_its_feeds() -> None:
    directory = load_directory()
    assert directory.feed_topic("pbccrc", "blacklist") == "agency.pbccrc.blacklist"
    with pytest.raises(ValidationError) as info:
        directory.feed_topic("nia", "blacklist")
    assert info.value.code == "FEED_NOT_GRANTED"
    assert info.value.reason == (
        "agency nia has no blacklist feed (its feeds: restriction (EXIT_BAN)); "
        "agencies with a blacklist feed: icbc, pbccrc"
    )
    with pytest.raises(ValidationError, match="AGENCY_UNKNOWN"):
        directory.feed_topic("nope", "blacklist")


def test_the_mirror_reads_the_feed_of_an_agency_that_has_one(
    mirror: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COURTBUS_MIRROR_AGENCY", "pbccrc")
    assert mirror.Settings.from_env().topic == "agency.pbccrc.blacklist"
    monkeypatch.delenv("COURTBUS_MIRROR_AGENCY")
    assert mirror.Settings.from_env().topic == "blacklist.entries"


@pytest.mark.parametrize(
    ("agency", "line"),
    [
        (
            "nia",
            "error FEED_NOT_GRANTED: agency nia has no blacklist feed (its feeds: "
            "restriction (EXIT_BAN)); agencies with a blacklist feed: icbc, pbccrc",
        ),
        (
            "pbccrc",
            "error CLUSTER_UNREACHABLE: cannot reach Kafka at 127.0.0.1:1: connection refused",
        ),
    ],
)
def test_the_app_fails_with_one_line_before_faust_starts(
    mirror: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    agency: str,
    line: str,
) -> None:
    monkeypatch.setenv("COURTBUS_MIRROR_AGENCY", agency)
    with pytest.raises(SystemExit) as info:
        mirror.main_app()
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [line]


def test_a_missing_topic_says_why(mirror: ModuleType) -> None:
    assert mirror._missing_topic_hint("agency.nia.blacklist").startswith(
        "agency nia has no blacklist feed"
    )
    assert "courtbus topics apply" in mirror._missing_topic_hint("agency.pbccrc.blacklist")

"""The participant directory: the sample is valid; each kind of mistake is named precisely."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from courtbus.catalogue.directory import DEFAULT_PATH, load_directory, parse_directory
from courtbus.errors import ConfigError

SAMPLE: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_sample_directory_meets_the_brief() -> None:
    d = load_directory()
    assert len(d.courts) >= 12
    assert len(d.provinces()) >= 5
    ids = {c.id for c in d.courts}
    # Guanzhong Plain group spans Shaanxi, Shanxi, Gansu, Henan
    assert {d.court(c).province for c in d.groups["guanzhong-plain"]} == {
        "陕西省",
        "山西省",
        "甘肃省",
        "河南省",
    }
    assert {"4408", "4409", "4417", "3205", "320583", "50", "3174"} <= ids
    assert {a.id for a in d.agencies} >= {"nia", "caac", "rail"}
    assert any(a.kind == "bank" for a in d.agencies)


def _mutated(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(SAMPLE)
    change(raw)
    return raw


CASES = [
    (
        "duplicate id",
        lambda r: r["courts"].append(dict(r["courts"][0])),
        "courts[16] (id '32')",
        "duplicate id (already used by courts[0])",
    ),
    (
        "agency id used twice",
        lambda r: r["agencies"].append({"id": "nia", "name": "x", "kind": "bank"}),
        "agencies[5] (id 'nia')",
        "duplicate id (already used by agencies[0])",
    ),
    (
        "unknown province",
        lambda r: r["courts"][0].update(province="江南省"),
        "courts[0] (id '32')",
        "unknown province '江南省'",
    ),
    (
        "malformed court id",
        lambda r: r["courts"][1].update(id="32O5"),
        "courts[1] (id '32O5')",
        "malformed court id",
    ),
    (
        "court id with 5 digits",
        lambda r: r["courts"][1].update(id="32055"),
        "courts[1] (id '32055')",
        "malformed court id",
    ),
    (
        "designation mismatch",
        lambda r: r["courts"][1].update(designation="苏06"),
        "courts[1] (id '3205')",
        "gives id 3206",
    ),
    (
        "province mismatch",
        lambda r: r["courts"][1].update(province="浙江省"),
        "courts[1] (id '3205')",
        "not 浙江省",
    ),
    (
        "level mismatch",
        lambda r: r["courts"][1].update(level="basic"),
        "courts[1] (id '3205')",
        "basic court's id has 6 digits",
    ),
    ("missing field", lambda r: r["courts"][2].pop("name"), "courts[2]", "missing name"),
    (
        "unknown field",
        lambda r: r["courts"][2].update(phone="1"),
        "courts[2]",
        "unknown field(s) phone",
    ),
    (
        "feed to a non-existent agency",
        lambda r: r["feeds"].append(
            {"agency": "cbirc", "flow": "blacklist", "fields": ["entry_id"]}
        ),
        "feeds[5] (agency 'cbirc')",
        "non-existent agency 'cbirc'",
    ),
    (
        "feed of an unknown flow",
        lambda r: r["feeds"][0].update(flow="gossip"),
        "feeds[0] (agency 'nia')",
        "unknown flow 'gossip'",
    ),
    (
        "malformed agency id",
        lambda r: r["agencies"].append({"id": "NIA 2", "name": "x", "kind": "bank"}),
        "agencies[5] (id 'NIA 2')",
        "malformed agency id",
    ),
    (
        "group with unknown court",
        lambda r: r["groups"].update(bad=["9999"]),
        "groups.bad",
        "unknown court(s) 9999",
    ),
]


@pytest.mark.parametrize(("name", "change", "entry", "problem"), CASES, ids=[c[0] for c in CASES])
def test_invalid_directory_names_file_entry_and_problem(
    name: str, change: Any, entry: str, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(_mutated(change), allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_directory(path)
    assert info.value.code == "DIRECTORY_INVALID"
    lines = [ln for ln in str(info.value).splitlines() if problem in ln]
    assert lines, f"no line names {problem!r}: {info.value}"
    assert str(path) in lines[0] and entry in lines[0]


def test_every_problem_is_reported_at_once() -> None:
    def two_mistakes(r: dict[str, Any]) -> None:
        r["courts"][0]["province"] = "江南省"
        r["feeds"][0]["agency"] = "ghost"

    with pytest.raises(ConfigError) as info:
        parse_directory(_mutated(two_mistakes), "d.yaml")
    assert "江南省" in str(info.value) and "ghost" in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_directory(tmp_path / "missing.yaml")
    assert info.value.code == "CONFIG_UNREADABLE"

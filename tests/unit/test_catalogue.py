"""Topic specs derived from catalogue + directory, and the pure plan against a cluster state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from courtbus.catalogue.admin import ActionKind, TopicState, plan
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.topics import load_catalogue, parse_catalogue, parse_duration_ms
from courtbus.errors import ConfigError


def _specs(profile: str = "single") -> dict[str, Any]:
    cat = load_catalogue()
    return {s.name: s for s in cat.specs(load_directory(), cat.profile(profile))}


def test_every_participant_and_bus_topic_is_derived() -> None:
    specs = _specs()
    d = load_directory()
    for court in d.courts:
        assert f"court.{court.id}.outbox" in specs and f"court.{court.id}.inbox" in specs
    for agency in d.agencies:
        assert f"agency.{agency.id}.outbox" in specs and f"agency.{agency.id}.feed" in specs
    for name in ("bus.delegation.events", "bus.deadletter", "bus.alerts", "blacklist.entries"):
        assert name in specs
    feeds = len(d.feeds) + len(d.groups)  # agency.<id>.<flow>, group.<name>.blacklist
    assert len(specs) == 2 * len(d.courts) + 2 * len(d.agencies) + feeds + 31  # 31 bus topics


def test_compaction_retention_overrides_and_profiles() -> None:
    single, cluster = _specs("single"), _specs("cluster")
    assert single["blacklist.entries"].configs["cleanup.policy"] == "compact"
    assert "retention.ms" not in single["blacklist.entries"].configs
    assert single["bus.delegation.events"].configs["retention.ms"] == "-1"
    assert single["court.320583.inbox"].configs["retention.ms"] == str(90 * 86_400_000)
    assert single["court.320583.outbox"].partitions == 6  # override
    assert single["court.3205.outbox"].partitions == 3
    assert (
        single["bus.alerts"].replication,
        single["bus.alerts"].configs["min.insync.replicas"],
    ) == (1, "1")
    assert (
        cluster["bus.alerts"].replication,
        cluster["bus.alerts"].configs["min.insync.replicas"],
    ) == (3, "2")
    cat = load_catalogue()
    assert cat.profile("auto", brokers=3) == cat.profile("cluster")
    assert cat.profile("auto", brokers=1) == cat.profile("single")


@pytest.mark.parametrize("value", ["30", "1w", "-1", "3.5d", ""])
def test_bad_durations(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration_ms(value, "t")


def test_override_of_unknown_topic_is_an_error() -> None:
    cat = parse_catalogue(
        {
            "profiles": {"single": {"replication": 1, "min_insync_replicas": 1}},
            "bus": {"bus.alerts": {}},
            "overrides": {"bus.nope": {"partitions": 2}},
        }
    )
    with pytest.raises(ConfigError, match=r"bus\.nope"):
        cat.specs(load_directory(), cat.profile("single"))


def test_plan_creates_grows_alters_and_reports_what_it_cannot_do() -> None:
    specs = _specs()
    state = {
        "bus.alerts": TopicState(3, 1, {**specs["bus.alerts"].configs}),  # in sync
        "bus.deadletter": TopicState(
            1, 1, {**specs["bus.deadletter"].configs}
        ),  # too few partitions
        "bus.delegation.events": TopicState(
            12, 1, {**specs["bus.delegation.events"].configs}
        ),  # too many
        "blacklist.entries": TopicState(
            6, 1, {"cleanup.policy": "delete", "min.insync.replicas": "1"}
        ),
        "bus.casestatus.events": TopicState(6, 2, {**specs["bus.casestatus.events"].configs}),
        "court.999999.outbox": TopicState(3, 1, {}),  # no longer in the directory
    }
    actions = plan(list(specs.values()), state)
    by = {(a.kind, a.topic) for a in actions}
    assert (ActionKind.ADD_PARTITIONS, "bus.deadletter") in by
    assert (ActionKind.CANNOT_SHRINK, "bus.delegation.events") in by
    assert (ActionKind.ALTER_CONFIG, "blacklist.entries") in by
    assert (ActionKind.REPLICATION_DIFFERS, "bus.casestatus.events") in by
    assert (ActionKind.UNMANAGED, "court.999999.outbox") in by
    assert not any(a.topic == "bus.alerts" for a in actions)
    creates = {a.topic for a in actions if a.kind is ActionKind.CREATE}
    assert creates == set(specs) - set(state)
    assert not any(
        a.applies for a in actions if a.kind in (ActionKind.CANNOT_SHRINK, ActionKind.UNMANAGED)
    )


def test_plan_of_a_matching_cluster_is_empty() -> None:
    specs = _specs()
    state = {n: TopicState(s.partitions, s.replication, dict(s.configs)) for n, s in specs.items()}
    assert plan(list(specs.values()), state) == []


def test_example_deadlines_load_with_a_warning_and_unknown_keys_are_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from courtbus.catalogue.policies import DEADLINE_EXAMPLES_PATH, DEADLINES_PATH, load_deadlines

    shipped = load_deadlines(DEADLINES_PATH)
    assert shipped.matters == {}  # no per-matter period ships without a source
    with caplog.at_level("WARNING", logger="courtbus.policies"):
        examples = load_deadlines(DEADLINE_EXAMPLES_PATH)
    assert "example deadlines" in caplog.text
    assert set(examples.matters) == {"SERVE", "DETAIN"}
    bad = tmp_path / "deadlines.yaml"
    bad.write_text("default: {start: 15d, report: 30d}\nmatter: {}\n")
    with pytest.raises(ConfigError) as info:
        load_deadlines(bad)
    assert info.value.code == "POLICY_INVALID"


def test_feeds_and_groups_derive_compacted_topics_of_six_partitions() -> None:
    specs = _specs()
    d = load_directory()
    assert "agency.icbc.blacklist" in specs and "agency.nia.restriction" in specs
    assert "agency.nia.blacklist" not in specs  # nia is not granted the list
    wanted = [f"agency.{f.agency}.{f.flow}" for f in d.feeds]
    wanted += [f"group.{name}.blacklist" for name in d.groups]
    assert "group.west-guangdong.blacklist" in wanted
    for name in wanted:
        assert specs[name].partitions == 6
        assert specs[name].configs["cleanup.policy"] == "compact"
        assert "retention.ms" not in specs[name].configs
    assert specs["bus.feeds.routes.changelog"].partitions == 6


def test_group_topics_are_managed_and_unknown_feed_rules_refused() -> None:
    from courtbus.catalogue.topics import MANAGED_PREFIXES

    assert "group.x.blacklist".startswith(MANAGED_PREFIXES)
    raw = {
        "profiles": {"single": {"replication": 1, "min_insync_replicas": 1}},
        "feeds": {"region": {"partitions": 6}},
    }
    with pytest.raises(ConfigError) as info:
        parse_catalogue(raw)
    assert info.value.code == "CATALOGUE_INVALID" and "feeds.region" in info.value.reason

"""Deadline warnings and overdue notices from timers indexed by due time, in the harness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from courtbus.bus.records import Output
from courtbus.catalogue.policies import DEADLINE_EXAMPLES_PATH, load_deadlines
from courtbus.runtime.harness import FlowHarness
from courtbus.runtime.state import Table
from services.delegation.flow import DELEGATIONS
from services.delegation.state import Tracked, dump, load
from services.projector.flow import alert_row
from tests.unit.flows.delegation_kit import (
    ACCEPT,
    ALERTS,
    CANCEL,
    COMPLETE,
    EXE,
    FAIL,
    MATERIALS,
    NS,
    PROGRESS,
    REPORT_DUE,
    REQ,
    SERVICE,
    START_DUE,
    T0,
    WARN_BEFORE,
    make_harness,
    request,
    step,
)

DID = "dlg-timer-1"
PROVISIONAL_2199 = "provisional: no holiday data for 2199, only weekends counted as rest days"
REQ_INBOX, EXE_INBOX = f"court.{REQ}.inbox", f"court.{EXE}.inbox"
Fired = tuple[datetime, str, str, str, tuple[str, ...]]  # when, delegation, deadline, kind, to


def fired(h: FlowHarness, outputs: list[Output]) -> list[Fired]:
    """The deadline notices among ``outputs``: one row per notice, with where it went."""
    rows: dict[tuple[str, str, str], list[str]] = {}
    for out in outputs:
        event = h.decode(out)
        assert event.record == NS + "DelegationDeadlineNotice", event.record
        assert event.headers.source == SERVICE
        assert event.payload["sent_at"] == h.now
        assert event.key == event.payload["delegation_id"]
        assert event.payload["requesting_court"]["court_id"] == REQ
        assert event.payload["executing_court"]["court_id"] == EXE
        p = event.payload
        rows.setdefault((p["delegation_id"], p["deadline"], p["notice"]), []).append(out.topic)
    return [(h.now, *key, tuple(topics)) for key, topics in rows.items()]


def run(h: FlowHarness, days: int, *, every: timedelta = timedelta(hours=1)) -> list[Fired]:
    """Tick the harness every ``every`` for ``days``; every notice with when it fired."""
    seen: list[Fired] = []
    end = h.now + timedelta(days=days)
    while h.now < end:
        seen += fired(h, h.advance(seconds=every.total_seconds()))
    return seen


WARN_TO = (REQ_INBOX, EXE_INBOX)
OVERDUE_TO = (REQ_INBOX, EXE_INBOX, ALERTS)
# Deadlines counted as the law counts days (delegation_kit.START_DUE): T0 + 17 days 15 hours
# and T0 + 31 days 15 hours, not T0 + 15 and 30 days; warnings stay 3 days before each.
START_WARN, REPORT_WARN = START_DUE - WARN_BEFORE, REPORT_DUE - WARN_BEFORE


def test_each_notice_fires_once_at_its_time_to_both_courts() -> None:
    h = make_harness()
    request(h, DID)
    assert h.timers() == [(DID, START_WARN)]
    assert run(h, 40) == [
        (START_WARN, DID, "START", "WARNING", WARN_TO),
        (START_DUE, DID, "START", "OVERDUE", OVERDUE_TO),
        (REPORT_WARN, DID, "REPORT", "WARNING", WARN_TO),
        (REPORT_DUE, DID, "REPORT", "OVERDUE", OVERDUE_TO),
    ]
    assert h.timers() == []
    assert h.count("timers") == 0


def test_the_timer_moves_to_the_next_notice() -> None:
    h = make_harness()
    request(h, DID)
    expected = [START_WARN, START_DUE, REPORT_WARN, REPORT_DUE]
    for now, after in zip(expected, [*expected[1:], None], strict=True):
        h.now = now - timedelta(seconds=1)
        assert h.tick() == []  # a second early: nothing
        notices = h.advance(seconds=1)
        assert len(notices) in (2, 3)
        assert h.timers() == ([] if after is None else [(DID, after)])


def test_notice_payload_names_the_deadline() -> None:
    h = make_harness()
    request(h, DID)
    h.advance(days=18)  # a jump straight past the START deadline: its overdue notice only
    [alert] = h.on(ALERTS)
    assert alert.record == NS + "DelegationDeadlineNotice"
    assert alert.payload["deadline"] == "START"
    assert alert.payload["notice"] == "OVERDUE"
    assert alert.payload["due_at"] == START_DUE
    assert alert.payload["delegation_id"] == DID


def test_a_jump_past_both_deadlines_sends_each_overdue_notice_once() -> None:
    h = make_harness()
    request(h, DID)
    outputs = h.advance(days=32)  # past REPORT_DUE, T0 + 31 days 15 hours
    assert fired(h, outputs) == [
        (h.now, DID, "START", "OVERDUE", OVERDUE_TO),
        (h.now, DID, "REPORT", "OVERDUE", OVERDUE_TO),
    ]
    assert h.advance(days=31) == []
    assert h.timers() == []


def test_matter_specific_deadlines() -> None:
    h = make_harness(deadlines=load_deadlines(DEADLINE_EXAMPLES_PATH))
    request(h, DID, matter="DETAIN")  # the examples file: start 3d, report 7d, warn 1d
    # from Friday 03-01: day 3 is Monday 03-04, day 7 Friday 03-08, each ending at 00:00 China
    # time the day after (16:00 UTC, T0 + N days 15 hours); warnings a plain day before
    assert [(when - T0, dl, kind) for when, _, dl, kind, _ in run(h, 10)] == [
        (timedelta(days=2, hours=15), "START", "WARNING"),
        (timedelta(days=3, hours=15), "START", "OVERDUE"),
        (timedelta(days=6, hours=15), "REPORT", "WARNING"),
        (timedelta(days=7, hours=15), "REPORT", "OVERDUE"),
    ]


def test_a_settled_deadline_sends_nothing() -> None:
    h = make_harness()
    request(h, DID)
    h.advance(days=1)
    step(h, ACCEPT, DID)
    assert h.timers() == [(DID, START_WARN)]  # accepting alone does not start
    step(h, PROGRESS, DID)  # started and reported: both deadlines settled
    assert h.timers() == []
    assert run(h, 40) == []


def test_starting_after_the_warning_stops_the_start_notices_only() -> None:
    h = make_harness()
    request(h, DID)
    assert [row[2:4] for row in run(h, 15)] == [("START", "WARNING")]
    step(h, ACCEPT, DID)
    step(h, PROGRESS, DID)  # progress also counts as a report
    assert run(h, 30) == []


def test_acceptance_without_progress_still_goes_overdue() -> None:
    h = make_harness()
    request(h, DID)
    step(h, ACCEPT, DID)
    assert [row[2:4] for row in run(h, 18)] == [("START", "WARNING"), ("START", "OVERDUE")]


def test_ended_delegations_send_nothing() -> None:
    h = make_harness()
    for i, end in enumerate(([MATERIALS, CANCEL], [CANCEL], [ACCEPT, COMPLETE])):
        did = f"dlg-ended-{i}"
        request(h, did)
        for taken in end:
            step(h, taken, did)
    assert h.timers() == []
    assert run(h, 40, every=timedelta(hours=6)) == []


def test_timers_hold_one_entry_per_open_delegation() -> None:
    h = make_harness(partitions=3)
    ids = [f"dlg-open-{i}" for i in range(6)]
    for did in ids:
        request(h, did)
        h.advance(hours=1)
    assert len({h.partition_of(d.encode()) for d in ids}) > 1
    # delivered an hour apart but on the same China day (09:00-14:00): by law one deadline
    assert sorted(h.timers()) == [(d, START_WARN) for d in ids]
    assert h.count("timers") == len(ids)
    step(h, ACCEPT, ids[0])
    step(h, FAIL, ids[0])
    step(h, CANCEL, ids[2])
    step(h, ACCEPT, ids[4])
    step(h, COMPLETE, ids[4])
    assert sorted(key for key, _ in h.timers()) == [ids[1], ids[3], ids[5]]
    assert h.count("timers") == 3
    notices = run(h, 15)  # to T0 + 15 days 6 hours: the three warnings, at the same time
    assert sorted((when, did) for when, did, *_ in notices) == [
        (START_WARN, ids[i]) for i in (1, 3, 5)
    ]
    assert h.count("timers") == 3  # each re-aimed at its overdue notice, not duplicated


def test_a_tick_reads_only_due_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flow looks up only delegations whose timers fell due (no scan of the store)."""
    h = make_harness(partitions=1)
    ids = [f"dlg-many-{i}" for i in range(20)]
    for did in ids:
        request(h, did)
    looked: list[str] = []
    table_get = Table.get

    def spy(self: Table[Any], key: str) -> Any:
        looked.append(key)
        return table_get(self, key)

    monkeypatch.setattr(Table, "get", spy)
    assert h.advance(days=1) == []
    assert looked == []  # nothing due: not one delegation read
    h.advance(days=14)  # past START_WARN, T0 + 14 days 15 hours
    assert sorted(looked) == sorted(ids)


def test_shipped_deadlines_are_the_law_for_every_matter() -> None:
    """No per-matter period is shipped without a source: DETAIN gets the CPL's 15 and 30 days."""
    h = make_harness()
    request(h, DID, matter="DETAIN")
    assert h.timers() == [(DID, START_WARN)]


def test_a_deadline_counted_into_a_year_without_holiday_data_says_so() -> None:
    """Delivered 2198-12-20 (as a request on 2026-12-06 with chinesecalendar 1.11.0, which
    knows no 2027): the 15- and 30-day deadlines fall in 2199, whose holidays no release knows;
    each notice carries why its due time is only provisional."""
    h = make_harness(start=datetime(2198, 12, 20, 1, 0, tzinfo=UTC))
    request(h, DID)
    tracked = kept(h)
    assert [dl.provisional for dl in tracked.delegation.deadlines] == [PROVISIONAL_2199] * 2
    assert load(dump(tracked)) == tracked  # the reason survives the state topic
    alerts = h.on(ALERTS, h.advance(days=40))
    assert [a.payload["deadline"] for a in alerts] == ["START", "REPORT"]
    assert {a.payload["provisional"] for a in alerts} == {PROVISIONAL_2199}
    assert alert_row(alerts[0]).message.endswith(f"; {PROVISIONAL_2199}")  # the read model's


def test_a_deadline_on_a_known_calendar_is_not_provisional() -> None:
    h = make_harness()
    request(h, DID)
    [alert] = h.on(ALERTS, h.advance(days=18))
    assert alert.payload["provisional"] is None


def kept(h: FlowHarness) -> Tracked:
    """The delegation ``DID`` as the flow keeps it, from whichever partition holds it."""
    for state in h.states.values():
        found = state.table(DELEGATIONS).get(DID)
        if found is not None:
            return found
    raise AssertionError("no delegation kept")

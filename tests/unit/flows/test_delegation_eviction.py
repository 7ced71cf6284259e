"""Finished delegations leave the store after the retention; later steps are unknown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.flows.delegation_kit import (
    ACCEPT,
    CANCEL,
    COMPLETE,
    EXE,
    PROGRESS,
    REQ,
    assert_applied,
    assert_refused,
    make_harness,
    request,
    state_of,
    step,
)

DAY = timedelta(days=1)


def test_a_finished_delegation_is_evicted_after_the_retention() -> None:
    h = make_harness(retention=DAY)
    request(h, "dlg-done")
    step(h, CANCEL, "dlg-done")
    assert h.count("delegations") == 1
    h.advance(hours=23)
    assert state_of(h, "dlg-done") == "CANCELLED"
    h.advance(days=2)
    assert h.count("delegations") == 0
    assert state_of(h, "dlg-done") is None
    decided = assert_refused(h, step(h, CANCEL, "dlg-done"), "DELEGATION_UNKNOWN", sender=REQ)
    assert decided.payload["state"] == "REFUSED"
    assert h.count("delegations") == 0


def test_open_delegations_are_kept() -> None:
    h = make_harness(retention=DAY)
    request(h, "dlg-open")
    request(h, "dlg-working")
    step(h, ACCEPT, "dlg-working")
    step(h, PROGRESS, "dlg-working")
    request(h, "dlg-done")
    step(h, CANCEL, "dlg-done")
    h.advance(days=60)
    assert h.count("delegations") == 2
    assert_applied(h, step(h, COMPLETE, "dlg-working"), "COMPLETED")
    assert_applied(h, step(h, ACCEPT, "dlg-open"), "ACCEPTED")
    assert_refused(h, step(h, ACCEPT, "dlg-done"), "DELEGATION_UNKNOWN", sender=EXE)


def test_the_retention_counts_from_the_end() -> None:
    h = make_harness(retention=DAY)
    request(h, "dlg-late")
    h.advance(days=5)
    step(h, ACCEPT, "dlg-late")
    step(h, COMPLETE, "dlg-late")
    h.advance(hours=12)
    assert state_of(h, "dlg-late") == "COMPLETED"
    h.advance(hours=12)  # exactly the retention
    assert state_of(h, "dlg-late") is None


def test_the_default_retention_is_90_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURTBUS_DELEGATION_RETENTION_DAYS", raising=False)
    h = make_harness()
    request(h, "dlg-done")
    step(h, CANCEL, "dlg-done")
    h.advance(days=89)
    assert h.count("delegations") == 1
    h.advance(days=1)
    assert h.count("delegations") == 0


def test_a_zero_retention_evicts_at_the_next_tick() -> None:
    h = make_harness(retention=timedelta(0))
    request(h, "dlg-done")
    step(h, CANCEL, "dlg-done")
    h.advance(seconds=1)
    assert h.count("delegations") == 0

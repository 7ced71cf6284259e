"""The reconciler's judgement (issue 20): it counts a record dropped or repeated on purpose."""

from __future__ import annotations

from courtbus.bus.reconcile import (
    Decision,
    Seen,
    ViewRecord,
    created_ledger,
    decision_ledger,
    delivery_ledger,
    gateway_ledgers,
    rows_ledger,
    view_ledger,
)

OUT = "court.3205.outbox"
EVENTS = "bus.delegation.events"


def _sent(n: int) -> list[Seen]:
    return [Seen(OUT, 0, i, f"id-{i}", "court:3205", "delegation", f"d{i}") for i in range(n)]


def _forwarded(records: list[Seen]) -> list[Seen]:
    return [Seen(EVENTS, 0, i, r.ce_id, r.source, r.flow, r.digest) for i, r in enumerate(records)]


def test_every_outbox_record_forwarded_or_dead_lettered_once() -> None:
    sent = _sent(5)
    dead = [Seen("bus.deadletter", 0, 0, dead_from=sent[4].position)]
    (ledger,) = gateway_ledgers(sent, _forwarded(sent[:4]), dead)
    assert (ledger.flow, ledger.expected, ledger.present, ledger.ok) == ("delegation", 5, 5, True)


def test_a_record_dropped_on_purpose_is_lost() -> None:
    sent = _sent(5)
    (ledger,) = gateway_ledgers(sent, _forwarded(sent[:3]) + _forwarded(sent[4:]), [])
    assert (ledger.lost, ledger.duplicated, ledger.present) == (1, 0, 4)
    assert "id-3" in ledger.samples[0] and not ledger.ok


def test_a_record_repeated_on_purpose_is_duplicated() -> None:
    sent = _sent(3)
    twice = _forwarded(sent) + _forwarded(sent[1:2])
    (ledger,) = gateway_ledgers(sent, twice, [])
    assert (ledger.duplicated, ledger.lost) == (1, 0)
    forwarded_and_dead = gateway_ledgers(
        sent, _forwarded(sent), [Seen("bus.deadletter", 0, 9, dead_from=sent[0].position)]
    )[0]
    assert forwarded_and_dead.duplicated == 1


def test_a_retry_in_the_outbox_is_dropped_and_a_stranger_is_unexpected() -> None:
    sent = _sent(2)
    retry = Seen(OUT, 0, 2, "id-0", "court:3205", "delegation", "d0")  # the same ce_id again
    stranger = Seen(EVENTS, 0, 7, "id-x", "court:3205", "delegation")
    (ledger,) = gateway_ledgers([*sent, retry], [*_forwarded(sent), stranger], [])
    assert (ledger.expected, ledger.present, ledger.unexpected, ledger.lost) == (3, 3, 1, 0)
    bus_own = Seen(EVENTS, 0, 8, "id-y", "bus:delegation", "delegation")  # the bus's receipts
    assert gateway_ledgers(sent, [*_forwarded(sent), bus_own], [])[0].ok


def _decided(step: str, about: str, *, by: str | None, applied: bool = True) -> Decision:
    return Decision(f"dec-{about}", "d-1", step, about, applied, by, "3205", "6104")


def test_each_step_decided_once() -> None:
    steps = [Seen(EVENTS, 0, 0, "req"), Seen(EVENTS, 0, 1, "rcpt")]
    decisions = [
        _decided("DelegationRequested", "req", by="3205"),
        _decided("DelegationDelivered", "rcpt", by=None),
    ]
    assert decision_ledger(steps, decisions).ok
    assert decision_ledger(steps, decisions[:1]).lost == 1
    assert decision_ledger(steps, [*decisions, decisions[0]]).duplicated == 1
    timer = _decided("DelegationReturned", "tick", by=None)  # the bus's own step: no record
    assert decision_ledger(steps, [*decisions, timer]).ok
    court = _decided("DelegationAccepted", "acc", by="6104")
    assert decision_ledger(steps, [*decisions, court]).unexpected == 1


def test_each_applied_step_reaches_the_other_court_once() -> None:
    decisions = [
        _decided("DelegationRequested", "req", by="3205"),
        _decided("DelegationDelivered", "rcpt", by=None),
        _decided("DelegationAccepted", "acc", by="6104"),
        _decided("DelegationCompleted", "bad", by="6104", applied=False),  # refused: nowhere
    ]
    inboxes = {
        "6104": [Seen("court.6104.inbox", 0, 0, "req")],
        "3205": [Seen("court.3205.inbox", 0, 0, "rcpt"), Seen("court.3205.inbox", 0, 1, "acc")],
    }
    ledger = delivery_ledger(decisions, inboxes)
    assert (ledger.expected, ledger.present, ledger.ok) == (3, 3, True)
    inboxes["3205"].append(Seen("court.3205.inbox", 0, 2, "acc"))
    assert delivery_ledger(decisions, inboxes).duplicated == 1
    inboxes["6104"].clear()
    assert delivery_ledger(decisions, inboxes).lost == 1


def test_a_request_cancelled_before_delivery_goes_nowhere() -> None:
    decisions = [
        _decided("DelegationRequested", "req", by="3205"),
        _decided("DelegationCancelled", "can", by="3205"),
    ]
    ledger = delivery_ledger(decisions, {})
    assert (ledger.expected, ledger.ok) == (0, True)


def test_a_table_row_missing_stale_or_twice() -> None:
    want = {"a": 2, "b": 1, "c": None}
    assert rows_ledger("blacklist", "rows", want, {"a": [2], "b": [1], "c": [5]}).ok
    assert rows_ledger("blacklist", "rows", want, {"a": [1], "b": [1], "c": [5]}).lost == 1
    assert rows_ledger("blacklist", "rows", want, {"a": [2], "c": [5]}).lost == 1
    assert rows_ledger("blacklist", "rows", want, {"a": [2], "b": [1, 1], "c": [5]}).duplicated == 1


VIEW = "blacklist.entries"


def _view(*records: tuple[str, int | None]) -> list[ViewRecord]:
    return [ViewRecord(k, v, (VIEW, 0, i)) for i, (k, v) in enumerate(records)]


def test_a_view_record_written_twice_is_duplicated() -> None:
    clean = view_ledger(
        "blacklist", _view(("e1", 1), ("e2", 1), ("e1", 2), ("e1", None), ("e1", 1))
    )
    assert (clean.expected, clean.present, clean.ok) == (4, 4, True)  # after a tombstone: anew
    twice = view_ledger("blacklist", _view(("e1", 1), ("e2", 1), ("e1", 2), ("e1", 2)))
    assert (twice.duplicated, twice.present) == (1, 3) and "e1 at version 2" in twice.samples[0]
    back = view_ledger("blacklist", _view(("e1", 1), ("e1", 3), ("e1", 2)))
    assert (back.unexpected, back.duplicated) == (1, 0)


def test_each_listing_on_the_list_or_refused_once() -> None:
    listed = [
        (f"e{i}", Seen("bus.blacklist.events", 0, i, f"id-{i}", "court:3205")) for i in range(4)
    ]
    refused = [Seen("bus.deadletter", 0, 0, dead_from=listed[3][1].position)]
    ok = created_ledger("blacklist", "listings applied", listed, ["e0", "e1", "e2"], refused)
    assert (ok.expected, ok.present, ok.ok) == (4, 4, True)
    dropped = created_ledger("blacklist", "listings applied", listed, ["e0", "e2"], refused)
    assert (dropped.lost, dropped.present) == (1, 3) and "e1" in dropped.samples[0]
    twice = created_ledger("blacklist", "listings applied", listed, ["e0", "e1", "e2"], refused * 2)
    assert (twice.duplicated, twice.lost) == (1, 0)

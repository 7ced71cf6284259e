"""A request cancelled while its cap reservation is still on its way (bus.delegation.caps).

The reservation record is held back, the requesting court cancels, then the reservation
arrives: the executing court never sees the request, and the cap ends with nothing used.
"""

from __future__ import annotations

from courtbus.domain.money import Money
from courtbus.domain.policy import PolicyCatalogue, PolicyRule
from courtbus.runtime.harness import FlowHarness
from services.delegation.caps import CAPS_TOPIC
from tests.unit.flows.delegation_kit import (
    CANCEL,
    EVENTS,
    EXE,
    NS,
    REQ,
    assert_applied,
    caps_used,
    catalogue,
    make_harness,
    request_payload,
    state_of,
    step,
)


def capped() -> FlowHarness:
    _, shipped, _ = catalogue()
    rule = PolicyRule(
        id="test-cap",
        region="test",
        courts=frozenset({EXE}),
        out_of_region_only=True,
        reason="test",
        annual_deduction_cap=Money.parse("100.00"),
    )
    return make_harness(
        partitions=1, policies=PolicyCatalogue(shipped.legal_max_freeze_days, [rule])
    )


def test_a_cancel_before_the_reservation_returns_delivers_nothing_and_frees_the_cap() -> None:
    h = capped()
    payload = request_payload("dlg-p", matter="DEDUCT", amount="60.00", at=h.now)
    built = h.envelope.build(EVENTS, NS + "DelegationRequested", payload, f"court:{REQ}")
    raw = h._record(EVENTS, built.key, built.value, built.headers)
    state = h.state(raw.partition)
    state.now = h.now
    held = h.engine.handle(raw, state)  # not looped back: the reservation is in flight
    state.committed({})
    assert [o.topic for o in held] == [CAPS_TOPIC]
    assert state_of(h, "dlg-p") == "REQUESTED"

    cancelled = step(h, CANCEL, "dlg-p")
    assert_applied(h, cancelled, "CANCELLED")
    inbox = f"court.{EXE}.inbox"
    assert all(o.topic != inbox for o in cancelled.outputs)

    late = []
    for out in held:  # the reservation arrives after the cancel
        late += h.feed_raw(out.topic, out.key, out.value, out.headers)
    assert all(o.topic != inbox for o in late), "the executing court saw a cancelled request"
    assert all(o.topic != inbox for o in h.outputs)
    assert state_of(h, "dlg-p") == "CANCELLED"
    assert sum(caps_used(h).values()) == 0
    again = step(h, CANCEL, "dlg-p")  # a second cancel is refused, never applied twice
    assert all(o.topic != inbox for o in again.outputs)
    assert sum(caps_used(h).values()) == 0

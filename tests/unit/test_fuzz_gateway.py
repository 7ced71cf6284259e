"""Fuzzing the gateway's check core (``Gateway.check``) and its flow (``GatewayFlow`` through
``FlowHarness``, the engine's refusal path) with random and broken records (``tests.fuzz_records``).

Every record is forwarded once, unchanged, or dead-lettered once with a code of the error tree
(never ``INTERNAL_ERROR``, never an exception out of the check core), within the deadline.
Budget: ``tests.fuzz_records.FUZZ`` (``COURTBUS_FUZZ_PROFILE=soak`` for the long one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import event, example, given

from courtbus.errors import CourtbusError, TransientError
from courtbus.runtime.harness import FlowHarness, memory_envelope
from services.gateway.flow import GatewayFlow
from tests.fuzz_records import FLOW_TOPICS, FUZZ, Case, accounted, cases, known_codes
from tests.fuzz_regressions import REGRESSIONS, Regression, regression_case

NOW = datetime(2024, 2, 29, 9, 0, tzinfo=UTC)
ENVELOPE = memory_envelope()
GATEWAY = GatewayFlow(ENVELOPE).gateway
CODES = known_codes()
FOUND = [regression_case(ENVELOPE, r) for r in REGRESSIONS]


def _examples(test: Any) -> Any:
    """Every regression case as an explicit example of a property (run before the random ones)."""
    for case in FOUND:
        test = example(case=case)(test)
    return test


@FUZZ
@_examples
@given(case=cases(ENVELOPE))
def test_the_check_core_forwards_or_refuses_with_a_code(case: Case) -> None:
    raw = case.raw
    try:
        fwd = GATEWAY.check(raw, NOW)
    except TransientError as exc:  # the in-memory registry is never unavailable
        pytest.fail(f"transient {exc} on {case.steps}")
    except CourtbusError as exc:
        event(exc.code)
        assert exc.code in CODES, (exc.code, case.steps)
        assert not case.clean or case.steps[0].startswith("regression"), exc
        return
    assert fwd.output.topic in FLOW_TOPICS
    assert (fwd.output.key, fwd.output.value, fwd.output.headers) == (
        raw.key,
        raw.value,
        raw.headers,
    )


@FUZZ
@_examples
@given(case=cases(ENVELOPE))
def test_the_gateway_flow_forwards_or_dead_letters_each_record_once(case: Case) -> None:
    harness = FlowHarness(GatewayFlow(ENVELOPE), start=NOW)
    raw = case.raw
    verdict = accounted(case, harness.feed_raw(raw.topic, raw.key, raw.value, raw.headers), CODES)
    event(verdict)
    if case.clean:
        assert verdict == "forwarded"


@pytest.mark.parametrize("regression", REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_what_the_fuzz_campaign_found_stays_fixed(regression: Regression) -> None:
    envelope = memory_envelope()
    case = regression_case(envelope, regression)
    harness = FlowHarness(GatewayFlow(envelope), start=NOW)
    raw = case.raw
    outputs = harness.feed_raw(raw.topic, raw.key, raw.value, raw.headers)
    assert accounted(case, outputs, CODES) == regression[-1]

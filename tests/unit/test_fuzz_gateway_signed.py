"""Fuzzing the gateway with signed records: generated records (``tests.fuzz_records``) signed
by their senders' keys, then broken, into a gateway that requires signatures.

Besides the accounting of every record (forwarded once or dead-lettered once with a code), a
signed record is forwarded only as it was signed: with the value and the ``ce_*`` header
values its sender signed (their order and the case of their names aside, which the gateway's
digest ignores too).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import event, given

from courtbus.gateway import SignaturePolicy
from courtbus.runtime.harness import FlowHarness, memory_envelope
from courtbus.wire.envelope import RecordSigner
from services.gateway.flow import GatewayFlow
from tests.fuzz_records import FUZZ, Case, accounted, cases, known_codes, participant_keys
from tests.gateway_cases import Raw

ENVELOPE = memory_envelope()
CODES = known_codes()
SIGNERS, KEYS_FILE = participant_keys(
    datetime.now(UTC)
)  # each record is signed before it is broken
SIGNING: dict[str, RecordSigner] = dict(SIGNERS)


def _ce(raw: Raw) -> list[tuple[str, bytes | None]]:
    return sorted((k.lower(), v) for k, v in raw.headers if k.lower().startswith("ce_"))


@FUZZ
@given(case=cases(ENVELOPE, signers=SIGNING))
def test_a_signed_record_is_forwarded_only_as_it_was_signed(case: Case) -> None:
    flow = GatewayFlow(ENVELOPE, keys_file=KEYS_FILE, signatures=SignaturePolicy(required=True))
    harness = FlowHarness(flow, start=datetime.now(UTC))  # records are signed at the real time
    raw = case.raw
    verdict = accounted(case, harness.feed_raw(raw.topic, raw.key, raw.value, raw.headers), CODES)
    event(verdict)
    assert case.sent is not None
    if verdict == "forwarded":
        assert raw.value == case.sent.value, case.steps
        assert _ce(raw) == _ce(case.sent), case.steps
    if case.clean:
        assert verdict == "forwarded"

"""Records the fuzz campaign found mishandled, kept byte for byte as regression cases.

Each is ``(name, record type, topic, key, Avro body as hex, headers, expected dead-letter
code)``; the value is the body framed with the id the test's registry gives the record type.
``tests/unit/test_fuzz_gateway.py`` feeds every one to the gateway flow (and to its property
tests as an explicit ``@example``).
"""

from __future__ import annotations

from courtbus.wire.codec import frame
from courtbus.wire.envelope import Envelope
from tests.fuzz_records import Case
from tests.gateway_cases import Raw

Regression = tuple[str, str, str, bytes | None, str, list[tuple[str, bytes | None]], str]

_REQUEST = "cn.court.bus.delegation.DelegationRequested"
_REQUEST_BODY = (
    "2e646c672d3332303538332d323032332d313233342d30312e283230323329e88b8f30353833e689a7313233"
    "34e58fb7ce1f0c33323035383306e689a7a4130c3332303538330ee88b8f3035383308363130310ae99995"
    "303102000ce5bca0e4b88924333230353833313939333033313231323334000002000236e8a5bfe5ae89e6"
    "9f90e993b6e8a18ce8b4a6e688b7e5ad98e6acbe020000000000b71b0002da0580aabcc1be6300"
    "000000"  # kind, enforced_suit, handed_over_measures: null (added after the campaign)
)
_REQUEST_HEADERS: list[tuple[str, bytes | None]] = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"1c459bd1-4eab-800f-b448-f8a7873ec713"),  # bound to the key (event_ids)
    ("ce_source", b"court:320583"),
    ("ce_type", b"cn.court.delegation.requested"),
    ("ce_time", b"2024-02-29T09:00:00Z"),
    ("ce_subject", "(2023)苏0583执1234号".encode()),
    ("ce_correlationid", b"1c459bd1-4eab-800f-b448-f8a7873ec713"),
    ("content-type", b"application/avro"),
]


def _with(
    headers: list[tuple[str, bytes | None]], name: str, value: bytes
) -> list[tuple[str, bytes | None]]:
    return [(k, value if k == name else v) for k, v in headers]


REGRESSIONS: list[Regression] = [
    (
        # found 2026-12: the engine skipped any record whose ce_source was the flow's own
        # (Engine.is_own), so a court writing ce_source bus:gateway into its outbox had its
        # record vanish: no forward, no dead letter, no notice. Now SOURCE_SPOOFED.
        "ce_source bus:gateway in a court's outbox",
        _REQUEST,
        "court.320583.outbox",
        b"dlg-320583-2023-1234-01",
        _REQUEST_BODY,
        _with(_REQUEST_HEADERS, "ce_source", b"bus:gateway"),
        "SOURCE_SPOOFED",
    ),
    (
        "the same record, as sent (the control: forwarded)",
        _REQUEST,
        "court.320583.outbox",
        b"dlg-320583-2023-1234-01",
        _REQUEST_BODY,
        _REQUEST_HEADERS,
        "forwarded",
    ),
    (
        # issue 21 item 2: a ce_id reused with another key lands on another outbox partition,
        # where the gateway's per-partition memory never saw it; ids are bound to their key
        "the same record with a version-4 ce_id (not bound to its key)",
        _REQUEST,
        "court.320583.outbox",
        b"dlg-320583-2023-1234-01",
        _REQUEST_BODY,
        _with(_REQUEST_HEADERS, "ce_id", b"1c459bd1-4eab-400f-9e8d-a832278dd4b0"),
        "EVENT_ID_UNBOUND",
    ),
    (
        "the same record with the ce_id made for another delegation's key",
        _REQUEST,
        "court.320583.outbox",
        b"dlg-320583-2023-1234-01",
        _REQUEST_BODY,
        _with(_REQUEST_HEADERS, "ce_id", b"1c459bd1-4eab-800f-8257-1ff945f24eff"),
        "EVENT_ID_CONFLICT",
    ),
]


def regression_case(envelope: Envelope, regression: Regression) -> Case:
    """The ``Case`` of a regression, its value framed for ``envelope``'s registry."""
    name, record, topic, key, body, headers, _code = regression
    value = frame(envelope.codec.schema_id(record), bytes.fromhex(body))
    return Case(Raw(topic, key, value, list(headers)), (f"regression: {name}",), record)

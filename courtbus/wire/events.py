"""CloudEvents 1.0 Kafka protocol binding, binary content mode, for courtbus records.

Headers ``ce_specversion``, ``ce_id`` (UUID, the idempotency key), ``ce_source``
(``court:<id>`` or ``agency:<id>``), ``ce_type``, ``ce_time``, ``ce_subject``,
``content-type: application/avro``; extensions ``ce_correlationid``, ``ce_causationid``.
Extension names are lower-case alphanumerics, as the CloudEvents spec requires.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from courtbus.errors import ValidationError

SPECVERSION = "1.0"
CONTENT_TYPE = "application/avro"
_SOURCE = re.compile(r"^(court|agency|bus):([A-Za-z0-9][A-Za-z0-9_-]{0,63})$")
REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time")
_KNOWN = frozenset({*REQUIRED, "ce_subject", "ce_correlationid", "ce_causationid", "content-type"})
# str(uuid.UUID(x)) of an id already in this spelling is the id itself: no parse needed
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_HEADER_BYTES = 1024

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class EventHeaders:
    """The CloudEvents attributes of one record."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        source: str,
        ce_type: str,
        subject: str | None = None,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        event_id: str | None = None,
    ) -> EventHeaders:
        """Fresh attributes: a new UUID id (or ``event_id``, the sender's own) and the
        current UTC time."""
        event_id = event_id or str(uuid.uuid4())
        return cls(
            id=event_id,
            source=source,
            type=ce_type,
            time=datetime.now(UTC),
            subject=subject,
            correlation_id=correlation_id or event_id,
            causation_id=causation_id,
        )

    @property
    def source_kind(self) -> str:
        """``court``, ``agency`` or ``bus``."""
        return self.source.split(":", 1)[0]

    @property
    def source_id(self) -> str:
        """The participant id part of the source (``320583`` of ``court:320583``)."""
        return self.source.split(":", 1)[1]

    def to_kafka(self) -> list[tuple[str, bytes]]:
        """Kafka headers in binary content mode."""
        pairs = [
            ("ce_specversion", SPECVERSION),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_time", self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")),
        ]
        if self.subject is not None:
            pairs.append(("ce_subject", self.subject))
        if self.correlation_id is not None:
            pairs.append(("ce_correlationid", self.correlation_id))
        if self.causation_id is not None:
            pairs.append(("ce_causationid", self.causation_id))
        pairs += [(f"ce_{k}", v) for k, v in sorted(self.extensions.items())]
        pairs.append(("content-type", CONTENT_TYPE))
        return [(k, v.encode("utf-8")) for k, v in pairs]

    @classmethod
    def from_kafka(cls, headers: Iterable[tuple[str, bytes | None]] | None) -> EventHeaders:
        """Read and check CloudEvents headers.

        Raises:
            ValidationError: ``HEADER_MISSING``, ``HEADER_DUPLICATE``, ``HEADER_INVALID``,
                ``HEADER_SPECVERSION``, ``HEADER_BAD_ID``, ``HEADER_BAD_TIME``,
                ``HEADER_BAD_SOURCE`` or ``HEADER_CONTENT_TYPE``.
        """
        values: dict[str, str] = {}
        for raw_key, raw in headers or ():
            key = raw_key.lower()
            if key in values:
                raise ValidationError(f"header {key} appears twice", code="HEADER_DUPLICATE")
            if raw is None or len(raw) > MAX_HEADER_BYTES:
                raise ValidationError(f"header {key} is empty or too long", code="HEADER_INVALID")
            try:
                values[key] = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationError(f"header {key} is not UTF-8", code="HEADER_INVALID") from exc
        missing = [h for h in REQUIRED if not values.get(h)]
        if missing:
            raise ValidationError(
                f"missing CloudEvents header(s): {', '.join(missing)}", code="HEADER_MISSING"
            )
        if values["ce_specversion"] != SPECVERSION:
            raise ValidationError(
                f"ce_specversion {values['ce_specversion']!r} is not {SPECVERSION}",
                code="HEADER_SPECVERSION",
            )
        if values.get("content-type", CONTENT_TYPE) != CONTENT_TYPE:
            raise ValidationError(
                f"content-type {values['content-type']!r} is not {CONTENT_TYPE}",
                code="HEADER_CONTENT_TYPE",
            )
        event_id = values["ce_id"]
        if _CANONICAL_UUID.fullmatch(event_id) is None:
            try:
                event_id = str(uuid.UUID(event_id))
            except ValueError as exc:
                raise ValidationError(
                    f"ce_id {values['ce_id']!r} is not a UUID", code="HEADER_BAD_ID"
                ) from exc
        if not _SOURCE.match(values["ce_source"]):
            raise ValidationError(
                f"ce_source {values['ce_source']!r} is not court:<id>, agency:<id> or bus:<id>",
                code="HEADER_BAD_SOURCE",
            )
        try:
            time = datetime.fromisoformat(values["ce_time"])  # RFC 3339, "Z" too (3.11+)
        except ValueError as exc:
            raise ValidationError(
                f"ce_time {values['ce_time']!r} is not an RFC 3339 time", code="HEADER_BAD_TIME"
            ) from exc
        if time.tzinfo is None:
            raise ValidationError(
                f"ce_time {values['ce_time']!r} has no offset", code="HEADER_BAD_TIME"
            )
        extensions = {
            k[3:]: v for k, v in values.items() if k not in _KNOWN and k.startswith("ce_")
        }
        return cls(
            id=event_id,
            source=values["ce_source"],
            type=values["ce_type"],
            time=time,
            subject=values.get("ce_subject"),
            correlation_id=values.get("ce_correlationid"),
            causation_id=values.get("ce_causationid"),
            extensions=extensions,
        )


def sender_court(source: str) -> str | None:
    """The court that sent a step, from its CloudEvents source.

    ``court:6101`` → ``6101``; ``bus:…`` → None (the bus itself). Any other sender (an agency)
    is returned whole, so the state machine sees a stranger, never the bus.
    """
    kind, _, ident = source.partition(":")
    if kind == "court" and ident:
        return ident
    return None if kind == "bus" else source

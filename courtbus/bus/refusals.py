"""What a refusal produces: the dead letter with the original bytes, and a notice to the sender.

Also the alert a service raises when a record makes it fail unexpectedly (``INTERNAL_ERROR``).
ID numbers are masked in every reason.
"""

from __future__ import annotations

import uuid

from courtbus.bus.records import Output, output_of
from courtbus.bus.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, inbox_topic
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import CourtbusError
from courtbus.wire.envelope import Envelope, RawRecord
from courtbus.wire.values import now

NOTICE_RECORD = "cn.court.bus.notice.MessageRejected"
ALERT_RECORD = "cn.court.bus.notice.ServiceAlert"


def header_text(raw: RawRecord, name: str) -> str | None:
    """A record's header ``name`` (lower case; matched in any case) as text, or None if it is
    absent or not UTF-8."""
    for key, value in raw.headers or ():
        if key.lower() == name and value is not None:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return None
    return None


def _event_id(raw: RawRecord) -> str | None:
    event_id = header_text(raw, "ce_id")
    try:
        return str(uuid.UUID(event_id)) if event_id else None
    except ValueError:
        return None


def dead_letter(raw: RawRecord, error: CourtbusError, refused_by: str | None = None) -> Output:
    """The dead letter for a refused record: original key, value and headers, plus why."""
    extra = [
        ("dlq_code", error.code),
        ("dlq_reason", mask_ids_in_text(error.reason)),
        ("dlq_topic", raw.topic),
        ("dlq_partition", str(raw.partition)),
        ("dlq_offset", str(raw.offset)),
        ("dlq_time", now().isoformat()),
    ]
    if refused_by:
        extra.append(("dlq_service", refused_by))
    headers = [(k, v or b"") for k, v in raw.headers or ()] + [(k, v.encode()) for k, v in extra]
    return Output(DEADLETTER_TOPIC, raw.key, raw.value or b"", headers)


def rejection_notice(
    envelope: Envelope,
    raw: RawRecord,
    error: CourtbusError,
    kind: str,
    participant: str,
    source: str = "bus:gateway",
) -> Output:
    """A ``MessageRejected`` notice for the sender's inbox (or an agency's feed).

    ``source`` is the ``ce_source`` of the notice: the service that refused the record.
    """
    event_id = _event_id(raw)
    payload = {
        "rejected_event_id": event_id,
        "rejected_type": header_text(raw, "ce_type"),
        "source_topic": raw.topic,
        "source_partition": raw.partition,
        "source_offset": raw.offset,
        "error_code": error.code,
        "reason": mask_ids_in_text(error.reason),
        "rejected_at": now(),
    }
    out = envelope.build(
        inbox_topic(kind, participant),
        NOTICE_RECORD,
        payload,
        source,
        causation_id=event_id,
        key=f"{raw.topic}:{raw.partition}:{raw.offset}",
    )
    return output_of(out)


def rejection_summary(
    envelope: Envelope,
    refused: list[tuple[RawRecord, CourtbusError]],
    kind: str,
    participant: str,
    source: str,
    limit: str,
) -> Output:
    """One ``MessageRejected`` for several refusals of one sender with one code (past the
    notice limit: ``courtbus.runtime.notices``): ``refused_count`` says how many, the
    ``source_*`` fields name the first, the reason the first's reason and the last's place."""
    first, error = refused[0]
    last = refused[-1][0]
    code = error.code
    reason = (
        f"{len(refused)} records refused with {code} in one batch, past {limit} for one sender "
        f"and code: each is in {DEADLETTER_TOPIC} (dlq_code {code}), from "
        f"{first.topic}@{first.partition}:{first.offset} to "
        f"{last.topic}@{last.partition}:{last.offset}; the first: {error.reason}"
    )
    payload = {
        "rejected_event_id": _event_id(first),
        "rejected_type": header_text(first, "ce_type"),
        "source_topic": first.topic,
        "source_partition": first.partition,
        "source_offset": first.offset,
        "error_code": code,
        "reason": mask_ids_in_text(reason),
        "rejected_at": now(),
        "refused_count": len(refused),
    }
    out = envelope.build(
        inbox_topic(kind, participant),
        NOTICE_RECORD,
        payload,
        source,
        key=f"{first.topic}:{first.partition}:{first.offset}:summary",
    )
    return output_of(out)


def refusal(
    envelope: Envelope,
    raw: RawRecord,
    error: CourtbusError,
    sender: tuple[str, str] | None,
    source: str = "bus:gateway",
) -> list[Output]:
    """The dead letter, and a rejection notice from ``source`` if the sender is known.

    ``sender`` is (kind, participant id), or None when there is no participant to notify.
    """
    outputs = [dead_letter(raw, error, source)]
    if notifiable(sender):
        assert sender is not None
        outputs.append(rejection_notice(envelope, raw, error, *sender, source=source))
    return outputs


def notifiable(sender: tuple[str, str] | None) -> bool:
    """Whether a refusal's sender gets a notice: a court or an agency (not the bus itself)."""
    return sender is not None and sender[0] in ("court", "agency")


def internal_error_alert(
    envelope: Envelope, raw: RawRecord, error: CourtbusError, service: str
) -> Output:
    """A ``ServiceAlert`` on ``bus.alerts``: ``service`` failed on a record and dead-lettered it."""
    event_id = _event_id(raw)
    payload = {
        "service": service,
        "code": error.code,
        "message": mask_ids_in_text(error.reason),
        "source_topic": raw.topic,
        "source_partition": raw.partition,
        "source_offset": raw.offset,
        "event_id": event_id,
        "raised_at": now(),
    }
    out = envelope.build(
        ALERTS_TOPIC,
        ALERT_RECORD,
        payload,
        service,
        causation_id=event_id,
        key=f"{raw.topic}:{raw.partition}:{raw.offset}",
    )
    return output_of(out)

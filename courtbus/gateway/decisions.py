"""Gateway decisions over one raw record: forward it to its flow, or refuse it with a code."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from courtbus.bus.records import Output, forward
from courtbus.bus.topics import OUTBOX, flow_topic
from courtbus.catalogue.directory import Directory
from courtbus.domain import policy
from courtbus.domain.suits import check_enforced_suit
from courtbus.errors import SignatureError, ValidationError
from courtbus.gateway.compiled import Check, compile_payload_check
from courtbus.gateway.rules import (
    Memo,
    check_case_owner,
    check_identities,
    check_sender,
    check_values,
    payload_ok,
)
from courtbus.security.ahead import VerifyAhead
from courtbus.security.signing import DEFAULT_SKEW, HEADER, MISSING, KeyRing, Verified, verify
from courtbus.wire.envelope import OUTBOX_MAX_VALUE_BYTES, Envelope, Event, RawRecord
from courtbus.wire.event_ids import POLICY_ENV, bound_to, is_bound_form
from courtbus.wire.events import EventHeaders
from courtbus.wire.messages import by_record

GATEWAY_SOURCE = "bus:gateway"
DEFAULT_MAX_VALUE_BYTES = OUTBOX_MAX_VALUE_BYTES
MAX_KEY_CHARS = 128  # the read model's id columns
EVENT_ID_CONFLICT = "EVENT_ID_CONFLICT"
EVENT_ID_UNBOUND = "EVENT_ID_UNBOUND"
_SIGNATURE_EXTENSION = HEADER.removeprefix("ce_")  # EventHeaders.extensions drops the ce_
_ABSENT = b"\xff\xff\xff\xff"  # a length no part has: a null key or value


@dataclass(frozen=True, slots=True)
class Forward:
    """An accepted record: the decoded event, the record to put on its flow's topic, and what
    its signature proved (None: unsigned, accepted because signatures are optional)."""

    event: Event
    output: Output
    signed: Verified | None = None


DEFAULT_MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """What the gateway asks of signatures.

    ``required``: a record without a signature is refused (``SIGNATURE_MISSING``) from every
    participant; otherwise (during a migration) only from a participant that has a key in the
    directory, so a signature cannot be stripped from a participant that signs, and a
    participant with no key yet still gets through. A signature present is always verified.
    ``max_age``: how old a signed time may be when the gateway sees the record (older:
    ``SIGNATURE_STALE``); it must stay below the dedup retention, so a record too old to be
    remembered is too old to be accepted. ``skew``: how far ahead of the gateway's clock.
    ``helpers``: processes that make the Ed25519 checks of a batch while the gateway goes on
    (``courtbus.security.ahead``; 0: the gateway makes them itself).
    """

    required: bool = False
    max_age: timedelta = DEFAULT_MAX_AGE
    skew: timedelta = DEFAULT_SKEW
    helpers: int = 1


class Gateway:
    """Checks records from participants' outboxes against the directory, schemas and policy."""

    def __init__(
        self,
        envelope: Envelope,
        directory: Directory,
        policies: policy.PolicyCatalogue,
        *,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        signatures: SignaturePolicy | None = None,
        bound_ids: bool = True,
    ) -> None:
        self.envelope = envelope
        self.bound_ids = bound_ids
        self.directory = directory
        self.policies = policies
        self.max_value_bytes = max_value_bytes
        self._known = {
            "court": frozenset(c.id for c in directory.courts),
            "agency": frozenset(a.id for a in directory.agencies),
        }
        self._designations = {c.id: c.designation for c in directory.courts}
        self._memo = Memo()
        self._checks: dict[str, Check] = {}
        self.signatures = signatures or SignaturePolicy()
        # the directory's keys, each parsed once; who has a key must sign
        self.keyring = KeyRing(directory.keys)
        self._signing = self.keyring.owners()
        self._ahead = VerifyAhead(self.keyring, self.signatures.helpers)

    def _payload_check(self, record: str) -> Check:
        """The fast payload test compiled for ``record`` (the generic one if it cannot be)."""
        check = self._checks.get(record)
        if check is None:
            schema = self.envelope.codec.schemas.messages.get(record)
            try:
                check = payload_ok if schema is None else compile_payload_check(schema.parsed)
            except (ValueError, KeyError, TypeError, SyntaxError):  # a shape it cannot write out
                check = payload_ok
            self._checks[record] = check
        return check

    def owner(self, topic: str) -> tuple[str, str]:
        """(kind, id) of the participant owning an outbox topic.

        Raises:
            ValidationError: ``TOPIC_NOT_OUTBOX`` or ``PARTICIPANT_UNKNOWN``.
        """
        match = OUTBOX.match(topic)
        if match is None:
            raise ValidationError(f"{topic} is not a participant outbox", code="TOPIC_NOT_OUTBOX")
        kind, pid = match.group(1), match.group(2)
        if pid not in self._known.get(kind, ()):
            raise ValidationError(
                f"{kind} {pid} is not in the participant directory", code="PARTICIPANT_UNKNOWN"
            )
        return kind, pid

    def verify(
        self, raw: RawRecord, kind: str, pid: str, now: datetime, headers: EventHeaders
    ) -> Verified | None:
        """The record's signature checked against the outbox owner's keys (None: unsigned and
        allowed, see ``SignaturePolicy``); ``headers``: the record's, as read.

        Raises:
            SignatureError: ``SIGNATURE_*`` (see ``courtbus.security.signing.verify``).
        """
        owner = f"{kind}.{pid}"
        if not headers.extensions.get(_SIGNATURE_EXTENSION):  # absent or empty
            if self.signatures.required or owner in self._signing:
                why = (
                    "signatures are required"
                    if self.signatures.required
                    else (f"{owner} has a signing key in the directory")
                )
                raise SignatureError(f"the record is not signed ({why})", code=MISSING)
            return None
        return verify(
            raw.headers,
            raw.value,
            self.keyring,
            sender=owner,
            now=now,
            max_age=self.signatures.max_age,
            skew=self.signatures.skew,
            ahead=self._ahead.found,
        )

    def verify_ahead(self, records: Sequence[RawRecord]) -> int:
        """Start the Ed25519 checks of the records to come (a batch, in the order they will be
        checked) in the helper processes; how many were started. ``verify`` takes the answers;
        an optimisation only (``courtbus.security.ahead``)."""
        owned = []
        for raw in records:
            try:
                kind, pid = self.owner(raw.topic)
            except ValidationError:  # refused before its signature is looked at
                continue
            owned.append((raw.headers, f"{kind}.{pid}"))
        return self._ahead.start(owned)

    def close(self) -> None:
        """Stop the helper processes, if any were started."""
        self._ahead.close()

    def check(self, raw: RawRecord, now: datetime | None = None) -> Forward:
        """Decide on one record from an outbox (``now``: the gateway's clock, for the
        signature's key window and age).

        Raises:
            CourtbusError: the reason for refusing it (its ``code`` goes to the dead letter),
                except ``RegistryError``, which is transient: retry, do not dead-letter.
        """
        kind, pid = self.owner(raw.topic)
        size = len(raw.value or b"")
        if size > self.max_value_bytes:
            raise ValidationError(
                f"record value of {size} bytes exceeds the gateway limit of {self.max_value_bytes}",
                code="RECORD_TOO_LARGE",
            )
        headers = EventHeaders.from_kafka(raw.headers)
        if headers.source != f"{kind}:{pid}":
            raise ValidationError(
                f"ce_source {headers.source} does not own {raw.topic}", code="SOURCE_SPOOFED"
            )
        signed = self.verify(raw, kind, pid, now or datetime.now(UTC), headers)
        event = self.envelope.read(raw, headers)
        check_sender(event.record, kind, pid, event.payload)
        if not self._payload_check(event.record)(event.payload, self._designations, self._memo):
            check_values(event.payload)  # raise the refusal naming the field
            check_identities(event.payload, self.directory)
        check_case_owner(event.record, kind, pid, event.payload, self.policies.case_ownership)
        check_enforced_suit(event.payload)  # SUIT_NUMBER_INVALID
        mtype = by_record(event.record)
        expected_key = mtype.key(event.payload)
        if not 1 <= len(expected_key) <= MAX_KEY_CHARS or not expected_key.isprintable():
            raise ValidationError(
                f"entity id {expected_key[:40]!r} must be 1–{MAX_KEY_CHARS} printable characters",
                code="KEY_INVALID",
            )
        if event.key != expected_key:
            raise ValidationError(
                f"record key {event.key!r} is not the entity id {expected_key!r}",
                code="KEY_MISMATCH",
            )
        if self.bound_ids and not bound_to(headers.id, raw.key or b""):
            check_event_id(headers.id)
        if mtype.record.endswith(".DelegationRequested"):
            policy.check_request(self.policies, policy.ask_from_payload(event.payload))
        return Forward(event, forward(raw, flow_topic(mtype.flow)), signed)


def check_event_id(event_id: str) -> None:
    """Refuse a ``ce_id`` not bound to its record's key (``courtbus.wire.event_ids``).

    Raises:
        ValidationError: ``EVENT_ID_CONFLICT`` for an id in the bound layout made for another
            key (a ``ce_id`` reused with another entity, which would land on another
            partition: issue 21 item 2), ``EVENT_ID_UNBOUND`` for an id of another layout.
    """
    if is_bound_form(event_id):
        raise ValidationError(
            f"ce_id {event_id} was made for another record key: a ce_id names one event of one "
            "entity, and this one is reused with another entity (or was not made by the bus's "
            "SDK); send it with a new ce_id",
            code=EVENT_ID_CONFLICT,
        )
    raise ValidationError(
        f"ce_id {event_id} is not bound to the record's key: the bus needs ids made by its SDK "
        "(courtbus.wire.event_ids.bound_event_id, UUID version 8), so that one ce_id cannot name "
        f"two entities' events (operators may allow other ids with {POLICY_ENV}=any)",
        code=EVENT_ID_UNBOUND,
    )


def record_digest(raw: RawRecord) -> str:
    """What makes two records with one ``ce_id`` the same event: sha256, 64 hex digits.

    Hashed: the key, the value (Confluent header and Avro body: the bytes the gateway
    forwards) and every ``ce_*`` header (names lower-cased, sorted by name, so the order and
    case a client library writes them in do not matter), each part length-prefixed.
    Not hashed: ``content-type`` (fixed, and optional) and every other header (tracing and
    client metadata), which may differ between two sends of one event. A sender resending an
    event must resend the same bytes (keep the record, do not re-encode it), ``ce_time``
    included. Digests are kept in the gateway's ``seen`` store: changing what is hashed needs
    a new stored format, or every retry within the dedup retention becomes a conflict.
    """
    digest = hashlib.sha256()
    update = digest.update
    _part(update, raw.key)
    _part(update, raw.value)
    headers = raw.headers or ()
    names = tuple([name for name, _ in headers])
    plan = _DIGEST_PLANS.get(names) or _digest_plan(names)
    if plan is None:  # a ce_* name twice (the gateway refuses such a record before this)
        headers = sorted((k.lower(), v) for k, v in headers if k[:3].lower() == "ce_")
        plan = tuple((i, _label(name)) for i, (name, _) in enumerate(headers))
    for index, label in plan:  # _part inlined: this runs for every header of every record
        value = headers[index][1]
        update(label)
        if value is None:
            update(_ABSENT)
        else:
            update(len(value).to_bytes(4, "big"))
            update(value)
    return digest.hexdigest()


_DIGEST_PLANS: dict[tuple[str, ...], tuple[tuple[int, bytes], ...]] = {}
_MAX_PLANS = 256  # header layouts remembered (one per client library and version, in practice)


def _part(update: Callable[[bytes], object], value: bytes | None) -> None:
    """One part, length-prefixed (``_ABSENT`` for None)."""
    if value is None:
        update(_ABSENT)
    else:
        update(len(value).to_bytes(4, "big"))
        update(value)


def _label(name: str) -> bytes:
    """A lower-cased header name as it is hashed: length-prefixed."""
    label = name.encode()
    return len(label).to_bytes(4, "big") + label


def _digest_plan(names: tuple[str, ...]) -> tuple[tuple[int, bytes], ...] | None:
    """Which headers of a record with these header ``names`` ``record_digest`` hashes, in its
    order (by lower-cased name), each with its length-prefixed lower-cased name: worked out
    once per layout, since one client writes every record's headers in one layout. None if a
    ``ce_*`` name comes twice (then the values' order decides, record by record)."""
    ce = sorted((name.lower(), i) for i, name in enumerate(names) if name[:3].lower() == "ce_")
    if len({name for name, _ in ce}) != len(ce):
        return None
    plan = tuple((i, _label(name)) for name, i in ce)
    if len(_DIGEST_PLANS) < _MAX_PLANS:
        _DIGEST_PLANS[names] = plan
    return plan

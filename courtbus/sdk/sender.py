"""``CourtSender``: what every flow client of a court sends through: the court's directory
entry, the regional rules, its keys and its one kafka-python producer to ``court.<id>.outbox``.

Each record is normalised (NFC text, ``\\n`` line ends), checked as the gateway will check it,
encoded and signed with the court's key (when it has one), then sent. The flow clients
(``delegation``, ``blacklist``, ``restriction``, ``distribution``, ``casestatus``, modules of
``courtbus.sdk``) build their payloads and send them here; ``CourtClient``
(``courtbus.sdk.court``) owns the sender and them. Imports none of the flow clients. Blocking:
call it from ordinary threads, never from inside an asyncio or Faust event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from courtbus.catalogue.directory import Directory, load_directory
from courtbus.catalogue.policies import load_policies
from courtbus.config import Connection
from courtbus.domain import policy
from courtbus.domain.text import normalize_payload
from courtbus.errors import ConfigError
from courtbus.gateway.rules import check_values
from courtbus.sdk.sent import Sent
from courtbus.security.keys import signer_for
from courtbus.security.principals import court_principal
from courtbus.security.signing import KeyRing, Signer
from courtbus.wire import values as v
from courtbus.wire.client import (
    SDK_LINGER_MS,
    BulkSendError,
    describe_failures,
    make_envelope,
    make_producer,
    send,
    send_many,
)
from courtbus.wire.envelope import Envelope, OutgoingRecord

log = logging.getLogger("courtbus.sdk")


class PartialSendError(BulkSendError):
    """The broker did not acknowledge some records of a batch (``BULK_SEND_FAILED``).

    ``sent``: the acknowledged ones, in input order. ``failed``: ``(index, key, reason)`` for
    each one that was not (the key of a delegation request is its delegation id); it may or
    may not have been stored: check before resending, e.g. with ``courtbus delegation show``.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: BulkSendError,
        sent: list[Sent],
        failed: list[tuple[int, str, str]],
    ) -> None:
        super().__init__(message, acks=cause.acks, failures=cause.failures, code=cause.code)
        self.sent = sent
        self.failed = failed


def regional_rules(directory: Directory) -> policy.PolicyCatalogue | None:
    """The regional policy catalogue, or None (with a warning) where it cannot be read."""
    try:
        return load_policies(directory)
    except ConfigError as exc:
        log.warning("regional rules not checked before sending: %s", exc)
        return None


class CourtSender:
    """One court's connection to its outbox: one producer, shared by all its flow clients."""

    def __init__(
        self,
        court_id: str,
        conn: Connection,
        *,
        directory: Directory | None = None,
        signing_key: Path | str | Signer | None = None,
    ) -> None:
        """Connect as ``court_id``; with ``signing_key`` (a private key file or a ``Signer``;
        default the file named by ``$COURTBUS_SIGNING_KEY``) every record sent is signed.

        Raises:
            ValidationError: ``COURT_UNKNOWN`` if the court is not in the directory.
            ConfigError: ``SIGNING_KEY_*`` (see ``courtbus.security.keys.signer_for``).
        """
        self.directory = directory or load_directory()
        self.policies = regional_rules(self.directory)
        self.court = self.directory.court(court_id)
        self.conn = conn
        self.keyring = KeyRing(self.directory.keys)
        self.signer = signer_for(court_principal(court_id), signing_key, self.directory.keys)
        self.envelope: Envelope = make_envelope(conn)
        self.envelope.signer = self.signer
        self._producer = make_producer(conn, linger_ms=SDK_LINGER_MS)
        self.outbox = f"court.{court_id}.outbox"
        self.inbox_topic = f"court.{court_id}.inbox"

    def close(self) -> None:
        """Flush and close the producer."""
        self._producer.close()

    def me(self) -> dict[str, str]:
        """This court as a ``Court`` record, the way its payloads name their sender."""
        return v.court(self.court.id)

    def build(
        self, record: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> OutgoingRecord:
        """``payload`` as a ``record`` (the Avro full name) from this court to its outbox: text
        normalised (NFC, ``\\n`` line ends), checked as the gateway will, encoded and signed;
        sends nothing. ``event_id``: the ``ce_id`` to give it (default a new UUID).

        Raises:
            ValidationError: ``TEXT_*``, ``MONEY_*`` or ``HEADER_BAD_ID``.
            SchemaError, SerializationError, RegistryError: see ``AvroCodec.encode``.
        """
        clean: dict[str, Any] = normalize_payload(payload)
        check_values(clean)
        return self.envelope.build(
            self.outbox, record, clean, f"court:{self.court.id}", event_id=event_id
        )

    def send(self, out: OutgoingRecord, key: str | None = None) -> Sent:
        """Send one built record and wait for the broker's acknowledgement; ``Sent.key`` is
        ``key``, default the record's Kafka key.

        Raises:
            ClusterError: the broker did not acknowledge it (see ``courtbus.wire.client.send``).
        """
        partition, offset = send(self._producer, out)
        sent_key = key if key is not None else (out.key or b"").decode()
        return Sent(out.event.id, sent_key, partition, offset)

    def send_record(
        self, record: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> Sent:
        """Send any message this court may send (``record``: the Avro full name), checked and
        normalised as the gateway will; ``Sent.key`` holds the record's key. ``event_id``:
        the ``ce_id`` to give it (default a new UUID).

        Raises:
            ValidationError, SchemaError, SerializationError, RegistryError: see ``build``;
                nothing was sent.
            ClusterError: see ``send``.
        """
        return self.send(self.build(record, payload, event_id=event_id))

    def send_many(
        self,
        records: list[OutgoingRecord],
        keys: list[str],
        *,
        timeout_s: float | None = None,
        on_done: Callable[[bool], None] | None = None,
    ) -> list[Sent]:
        """Send built records without waiting for each acknowledgement, then flush once; one
        ``Sent`` per record, in order, ``Sent.key`` from ``keys``. ``on_done`` is called once per
        record as the broker answers (True: acknowledged), from the producer's thread;
        ``timeout_s`` bounds the flush.

        Raises:
            PartialSendError: ``BULK_SEND_FAILED``, the broker did not acknowledge some
                records; ``sent`` has the acknowledged ones, ``failed`` the others.
        """
        try:
            acks = send_many(self._producer, records, timeout_s=timeout_s, on_done=on_done)
        except BulkSendError as exc:
            sent = [
                Sent(out.event.id, key, *ack)
                for out, key, ack in zip(records, keys, exc.acks, strict=True)
                if ack is not None
            ]
            failed = [(i, keys[i], reason) for i, reason in exc.failures]
            detail = describe_failures([(f"#{i} {key}", reason) for i, key, reason in failed])
            raise PartialSendError(
                f"bulk send to {self.outbox}: {len(sent)} of {len(records)} acknowledged, "
                f"{len(failed)} failed: {detail}",
                cause=exc,
                sent=sent,
                failed=failed,
            ) from exc
        return [
            Sent(out.event.id, key, partition, offset)
            for out, key, (partition, offset) in zip(records, keys, acks, strict=True)
        ]

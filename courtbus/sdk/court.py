"""``CourtClient``: the one object a court's case-management system opens to use the bus.

Its shape: one ``CourtClient`` per court connection owns one ``CourtSender``
(``courtbus.sdk.sender``: the directory, policies, keys and the one kafka-python producer to
``court.<id>.outbox``) and one client per flow over that sender, named as the flows are
(``courtbus.flows``)::

    with CourtClient("320583", conn) as court:
        court.delegation.request_delegation(...)     # DelegationClient
        court.blacklist.list_debtor(...)             # BlacklistClient
        court.restriction.issue_exit_ban(...)        # RestrictionClient
        court.distribution.open_distribution(...)    # DistributionClient
        court.casestatus.file_case(...)              # CaseStatusClient
        for event in court.inbox(timeout_s=5):
            court.verify(event)

Each step is called one way, on its flow's client; what crosses the flows (``send_record``,
``inbox``, ``verify``, ``close``) is the court client's. Every input is checked before it is
sent (see each flow's module). Uses kafka-python (blocking): call it from ordinary threads,
never from inside an asyncio or Faust event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from courtbus.catalogue.directory import Directory
from courtbus.config import Connection
from courtbus.sdk.blacklist import BlacklistClient
from courtbus.sdk.casestatus import CaseStatusClient
from courtbus.sdk.delegation import DelegationClient
from courtbus.sdk.distribution import DistributionClient
from courtbus.sdk.restriction import RestrictionClient
from courtbus.sdk.sender import CourtSender
from courtbus.sdk.sent import Sent as Sent  # re-exported: callers import it from here
from courtbus.sdk.verify import verify_record
from courtbus.security.signing import Signer, Verified
from courtbus.wire.client import read_from_start
from courtbus.wire.envelope import Event


class CourtClient:
    """One court's connection to the bus: its sender and a client per flow over it.

    ``sender``: the ``CourtSender`` (one producer) every flow client sends through;
    ``delegation``, ``blacklist``, ``restriction``, ``distribution``, ``casestatus``: the
    flows' clients, each holding that flow's steps.
    """

    def __init__(
        self,
        court_id: str,
        conn: Connection,
        *,
        directory: Directory | None = None,
        signing_key: Path | str | Signer | None = None,
    ) -> None:
        """Connect as ``court_id``: the arguments and errors are ``CourtSender``'s."""
        self.sender = CourtSender(court_id, conn, directory=directory, signing_key=signing_key)
        self.delegation = DelegationClient(self.sender)
        self.blacklist = BlacklistClient(self.sender)
        self.restriction = RestrictionClient(self.sender)
        self.distribution = DistributionClient(self.sender)
        self.casestatus = CaseStatusClient(self.sender)

    def close(self) -> None:
        """Flush and close the producer (every flow client's)."""
        self.sender.close()

    def __enter__(self) -> CourtClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send_record(
        self, record: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> Sent:
        """Send any message this court may send, of any flow (``record``: the Avro full name),
        checked and normalised as the gateway will; ``Sent.key`` holds the record's key.
        ``event_id``: the ``ce_id`` to give it (default a new UUID). The flow clients' steps
        build their payloads and check them first: prefer them where one fits.

        Raises:
            ValidationError, SchemaError, SerializationError, RegistryError: nothing was sent
                (see ``CourtSender.build``).
            ClusterError: the broker did not acknowledge it.
        """
        return self.sender.send_record(record, payload, event_id=event_id)

    def verify(self, event: Event, *, sender: str | None = None) -> Verified:
        """Check the signature of a record this court received (``inbox``), with the
        directory's keys: who signed it and when (see ``courtbus.sdk.verify``).

        Raises:
            SignatureError: ``SIGNATURE_*``.
        """
        return verify_record(event, self.sender.keyring, sender=sender)

    def inbox(
        self, *, group_id: str | None = None, timeout_s: float | None = None
    ) -> Iterator[Event]:
        """Events delivered to this court, oldest first.

        With ``group_id`` the position is remembered between calls (committed after each event
        is yielded); without it every call starts from the beginning. Stops after ``timeout_s``
        seconds without a new event (None: waits for ever).
        """
        if not group_id:
            for raw in read_from_start(self.sender.conn, [self.sender.inbox_topic], timeout_s):
                yield self.sender.envelope.read(raw)
            return
        consumer = KafkaConsumer(
            self.sender.inbox_topic,
            **self.sender.conn.kafka_settings(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            consumer_timeout_ms=int(timeout_s * 1000) if timeout_s is not None else float("inf"),
        )
        try:
            for raw in consumer:
                yield self.sender.envelope.read(raw)
                consumer.commit()
        finally:
            consumer.close()

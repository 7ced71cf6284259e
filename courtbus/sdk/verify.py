"""What a receiver's SDK checks of a record it got: the sender's signature, with the
directory's keys (``courtbus.security.signing``), long after the bus accepted it.

A record forwarded as it was sent (a delegation request in the executing court's inbox, an
agency's acknowledgement in the issuing court's) carries its sender's signature; a record the
bus wrote (a receipt, a notice, a view, an agency's projected feed) is signed by the bus
service that wrote it (``service.<name>``), when the service is given a key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from courtbus.errors import SignatureError
from courtbus.security.signing import MISSING, KeyRing, Verified, verify
from courtbus.wire.envelope import Event


def verify_record(
    record: Event | Any, ring: KeyRing, *, sender: str | None = None, now: datetime | None = None
) -> Verified:
    """Check the signature of a received record (an ``Event`` from the SDK, or a raw Kafka
    record); what it proves: who signed and when.

    ``sender``: the principal that must have signed; None takes the owner of ``ce_source``
    (``court:320583`` → ``court.320583``, ``bus:delegation`` → ``service.delegation``). The
    key must have been valid when the record was signed (``ce_time``); ``now`` also asks it
    to be valid now.

    Raises:
        SignatureError: ``SIGNATURE_*``: see ``courtbus.security.signing.verify``.
    """
    if isinstance(record, Event):
        if record.value is None:
            raise SignatureError("the event does not hold its record's bytes", code=MISSING)
        return verify(record.raw_headers, record.value, ring, sender=sender, now=now)
    headers = getattr(record, "headers", None) or ()
    return verify(headers, getattr(record, "value", None), ring, sender=sender, now=now)

"""Key-bound event ids: a ``ce_id`` that can name the events of one entity only.

CloudEvents makes ``source`` + ``id`` unique. The gateway remembers accepted ids per outbox
partition, and a record's partition follows its key (the entity id). A reused ``ce_id`` with
another key lands on another partition, where the first record was never seen, so a partition's
memory alone cannot refuse it (issue 21, item 2). The bus therefore binds every id it makes to
the record's key, and the gateway refuses an id that is not bound to its record's key: any two
accepted records with one ``ce_id`` have one key, hence one partition, and meet in one task.

Layout (RFC 9562 UUID version 8, "custom"): the first 64 bits are random (the version nibble
``8`` among them, 60 random bits), then the variant bits ``10`` and the first 62 bits of
``BLAKE2b-64(key, person="courtbus-ce-id")``. Sixty random bits keep the ids of one entity
apart (a collision is expected after about 10⁹ events of one entity); 62 bits of a keyed hash
make an id made for one key useless for any other (finding a second key with the same 62 bits
is a 2⁶² search).

An id chosen by a sender (the REST API's caller's idempotency id, a UUID of any version) is
bound by keeping its first 64 bits and replacing the rest: the same id and key always give the
same bound id, so a retry is still recognised as one.

Not covered: adding partitions to an outbox moves keys between partitions; a retry sent after
that may meet a task that has not seen its first copy (the dedup store is per partition).
"""

from __future__ import annotations

import hashlib
import os
import uuid

_PERSON = b"courtbus-ce-id"
_VARIANT = 0b10 << 62
_LOW = (1 << 64) - 1
_VERSION_MASK = ~(0xF << 76) & ((1 << 128) - 1)
_VERSION_8 = 0x8 << 76
POLICY_ENV = "COURTBUS_EVENT_IDS"  # the gateway's setting: bound (the default) or any


def key_bits(key: bytes) -> int:
    """The low 64 bits of an id bound to ``key``: the variant, then 62 bits of its hash."""
    digest = hashlib.blake2b(key, digest_size=8, person=_PERSON).digest()
    return _VARIANT | (int.from_bytes(digest, "big") >> 2)


def bound_event_id(key: bytes, base: str | None = None) -> str:
    """A new ``ce_id`` bound to ``key`` (``base``: a UUID the sender chose, whose first 64
    bits are kept, so one base and key always give one id; an id already bound to ``key``
    comes back unchanged).

    Raises:
        ValueError: ``base`` is not a UUID.
    """
    high = uuid.UUID(base).int >> 64 if base is not None else int.from_bytes(os.urandom(8), "big")
    value = ((high << 64) & _VERSION_MASK) | _VERSION_8 | key_bits(key)
    return str(uuid.UUID(int=value))


def bound_to(event_id: str, key: bytes) -> bool:
    """Whether the canonical (lower-case, hyphenated) ``event_id`` is bound to ``key``."""
    if len(event_id) != 36 or event_id[14] != "8":
        return False
    try:
        low = int(event_id[19:23] + event_id[24:], 16)
    except ValueError:
        return False
    return low == key_bits(key)


def is_bound_form(event_id: str) -> bool:
    """Whether the canonical ``event_id`` has the bound layout (version 8, RFC variant)."""
    return len(event_id) == 36 and event_id[14] == "8" and event_id[19] in "89ab"

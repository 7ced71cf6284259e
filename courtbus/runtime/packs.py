"""Packed stores: a batch's new entries of one store as one changelog record. No Kafka client.

A store declared ``StoreSpec(..., packed=True)`` (the gateway's ``seen``) writes, per batch and
task, one record keyed ``PACK`` + a random id whose value holds every entry the batch put,
instead of one record per entry: the gateway's dedup state then costs one send per batch, not
one per forwarded record. The pack's time column is the latest expiry of its entries, so the
pack itself is evicted (a tombstone, which lets compaction drop it) once all of them expired.
Entries of a packed store leave only by expiry: their evictions stay local (a restore brings
back an expired entry, and the next tick evicts it again), and ``Table.delete`` refuses.
A restore unpacks each pack into its entries and keeps a marker of the pack (empty value,
the pack's time), so the pack is evicted like any entry.
"""

from __future__ import annotations

import struct

from courtbus.errors import StateError

PACK = b"\x00pack\x1f"  # key prefix: no flow's key starts with a NUL byte
MAX_PACK_BYTES = 256 * 1024  # well under a broker's message.max.bytes (1 MiB by default)
_HEAD = struct.Struct(">IqI")  # key length, time (NO_TIME: none), value length
NO_TIME = -(2**63)

Item = tuple[bytes, bytes, int | None]  # key, value, time column


def pack_all(items: list[Item], limit: int = MAX_PACK_BYTES) -> list[bytes]:
    """``items`` as pack values of at most about ``limit`` bytes each (at least one item each)."""
    packs: list[bytes] = []
    parts: list[bytes] = []
    size = 0
    for key, value, t in items:
        if parts and size + _HEAD.size + len(key) + len(value) > limit:
            packs.append(b"".join(parts))
            parts, size = [], 0
        parts += (_HEAD.pack(len(key), NO_TIME if t is None else t, len(value)), key, value)
        size += _HEAD.size + len(key) + len(value)
    if parts:
        packs.append(b"".join(parts))
    return packs


def unpack(data: bytes) -> list[Item]:
    """The entries of one pack value.

    Raises:
        StateError: ``PACK_CORRUPT`` if the value is not a pack.
    """
    items: list[Item] = []
    at = 0
    try:
        while at < len(data):
            klen, t, vlen = _HEAD.unpack_from(data, at)
            at += _HEAD.size
            key, value = data[at : at + klen], data[at + klen : at + klen + vlen]
            at += klen + vlen
            if len(key) != klen or len(value) != vlen:
                raise StateError("a pack record is truncated", code="PACK_CORRUPT")
            items.append((key, value, None if t == NO_TIME else t))
    except struct.error as exc:
        raise StateError(f"a pack record is corrupt: {exc}", code="PACK_CORRUPT") from exc
    return items

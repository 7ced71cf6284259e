"""Digests of a court's active entries, to find where the national view and the court differ
without sending every id: ids fall into buckets (by their hash); a bucket's digest is its count
and a hash of its sorted ids. Pure; the court's SDK and the blacklist service compute the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BUCKETS = 64  # enough to narrow a repair to a few hundred ids of a 10,000-entry court


def bucket_of(entry_id: str, buckets: int = BUCKETS) -> int:
    """The bucket of an entry id: the first 8 hex digits of its sha256, modulo ``buckets``."""
    return int(hashlib.sha256(entry_id.encode()).hexdigest()[:8], 16) % buckets


def bucket_hash(entry_ids: Iterable[str]) -> str:
    """The hash of a bucket: sha256 of its sorted ids, one per line (first 16 hex digits)."""
    return hashlib.sha256("\n".join(sorted(entry_ids)).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket's digest."""

    count: int
    hash: str


def digest(entry_ids: Iterable[str], buckets: int = BUCKETS) -> dict[int, Bucket]:
    """The digest of a set of ids: its non-empty buckets."""
    grouped: dict[int, list[str]] = {}
    for eid in entry_ids:
        grouped.setdefault(bucket_of(eid, buckets), []).append(eid)
    return {b: Bucket(len(ids), bucket_hash(ids)) for b, ids in grouped.items()}


def differing(view: Mapping[int, Bucket], court: Mapping[int, Bucket]) -> list[int]:
    """The buckets where two digests differ (an empty bucket on one side counts)."""
    return sorted(b for b in set(view) | set(court) if view.get(b) != court.get(b))

"""``Sent``: what the broker acknowledged for one record a participant sent.

A leaf module: the court's sender, its flow clients (delegation, blacklist, restriction,
distribution, case status) and the agency client all return it, so it imports nothing of
theirs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sent:
    """What the broker acknowledged: the event id (ce_id), the record's key (the entity it is
    about, whatever the flow: a delegation, list-entry, control or distribution id),
    partition and offset."""

    event_id: str
    key: str
    partition: int
    offset: int

    @property
    def delegation_id(self) -> str:
        """Deprecated read-only alias of ``key``, kept for existing callers of the public SDK
        (it held every flow's key, not only delegations'); warns ``DeprecationWarning``."""
        warnings.warn(
            "Sent.delegation_id is deprecated: use Sent.key", DeprecationWarning, stacklevel=2
        )
        return self.key

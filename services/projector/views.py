"""How the projector writes each flow's topic into the read model: a ``ViewHandler`` per flow,
named by the flow's spec (``FlowSpec.projector``, e.g. ``"services.projector.views:BLACKLIST"``).

A handler keeps a record's rows for the batch (``keep``) or writes them at once, in a savepoint
of the batch (``apply``, after a failed batch). ``event`` is ``None`` for a tombstone, given only
to a handler that takes them (``tombstones``); the others get the record decoded as before, so
a tombstone where none belongs is refused as undecodable.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

from courtbus.store import ReadModelWriter, StoredEvent
from courtbus.store.batch import PendingRows
from courtbus.wire.envelope import Event, RawRecord

log = logging.getLogger("courtbus.projector")


def stored(event: Event) -> StoredEvent:
    """A decoded event as the read model stores it."""
    h = event.headers
    return StoredEvent(
        event_id=h.id,
        topic=event.topic,
        partition=event.partition,
        offset=event.offset,
        record=event.record,
        ce_type=h.type,
        source=h.source,
        subject=h.subject,
        key=event.key,
        time=h.time,
        payload=event.payload,
    )


class ViewHandler(ABC):
    """Writes one flow's records (its events or its view) into the read model."""

    tombstones: bool = True  # a tombstone comes as ``event=None``; False: it is decoded (refused)

    @abstractmethod
    def keep(self, pending: PendingRows, raw: RawRecord, event: Event | None) -> None:
        """Check one record's rows and keep them for the batch's write."""

    @abstractmethod
    def apply(self, model: ReadModelWriter, raw: RawRecord, event: Event | None) -> None:
        """Write one record's rows now.

        Raises:
            StoreError: the store cannot take them (``STORE_UNAVAILABLE``: retried).
        """


class Events(ViewHandler):
    """A flow's events, each stored once by ``ce_id`` (the delegations' steps and decisions)."""

    tombstones = False

    def keep(self, pending: PendingRows, raw: RawRecord, event: Event | None) -> None:
        """Keep the event."""
        if event is not None:
            pending.add_event(stored(event))

    def apply(self, model: ReadModelWriter, raw: RawRecord, event: Event | None) -> None:
        """Store the event."""
        if event is not None:
            result = model.apply_event(stored(event))
            log.debug("%s %s: %s", event.record, event.headers.id, result)


class BlacklistEntries(ViewHandler):
    """``blacklist.entries``: an entry's state by entry id; a tombstone: the entry left."""

    def keep(self, pending: PendingRows, raw: RawRecord, event: Event | None) -> None:
        """Keep the entry's row (or its removal)."""
        if event is None:
            pending.add_blacklist_entry((raw.key or b"").decode(), None)
        else:
            pending.add_blacklist_entry(event.key or "", event.payload)

    def apply(self, model: ReadModelWriter, raw: RawRecord, event: Event | None) -> None:
        """Write the entry's row (or remove it)."""
        if event is None:
            model.apply_blacklist_entry((raw.key or b"").decode(), None)
        else:
            model.apply_blacklist_entry(event.key or "", event.payload)


class RestrictionControls(ViewHandler):
    """``restriction.controls``; a tombstone (the view forgets a lifted control) is ignored:
    the read model keeps the control as LIFTED."""

    def keep(self, pending: PendingRows, raw: RawRecord, event: Event | None) -> None:
        """Keep the control's row."""
        if event is not None:
            pending.add_restriction_control(event.payload)

    def apply(self, model: ReadModelWriter, raw: RawRecord, event: Event | None) -> None:
        """Write the control's row."""
        if event is not None:
            model.apply_restriction_control(event.payload)


class Distributions(ViewHandler):
    """``distribution.cases``; a tombstone is ignored, as for the restrictions."""

    def keep(self, pending: PendingRows, raw: RawRecord, event: Event | None) -> None:
        """Keep the distribution's rows."""
        if event is not None:
            pending.add_distribution(event.payload, event.headers.time)

    def apply(self, model: ReadModelWriter, raw: RawRecord, event: Event | None) -> None:
        """Write the distribution's rows."""
        if event is not None:
            model.apply_distribution(event.payload, event.headers.time)


EVENTS = Events()
BLACKLIST = BlacklistEntries()
RESTRICTION = RestrictionControls()
DISTRIBUTION = Distributions()

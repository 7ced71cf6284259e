"""The gateway flow: outbox record → forward to its flow, or refuse (dead letter + notice).

Accepted ``ce_id`` values are kept per task in the ``seen`` store, for the dedup retention
(``COURTBUS_DEDUP_DAYS``, default 7), so a duplicate is dealt with even after a restart. Each
is stored with where it came in and the digest of the record (``record_digest``: key, value
and ``ce_*`` headers), as ``"topic:partition:offset <sha256 hex>"``. A later record with that
``ce_id``:

* with the same digest is an exact duplicate (a producer retry): dropped, logged at info;
* with another digest is refused with ``EVENT_ID_CONFLICT`` (dead letter, notice to the sender)
  and a ``ServiceAlert`` on ``bus.alerts``. The first copy accepted is the one kept, whichever
  is genuine: the gateway cannot tell, it only never drops a differing copy silently;
* stored before digests were kept (``"topic:partition:offset"`` alone) counts as an exact
  duplicate, as it always did.

Scope: the store is keyed by ``ce_id`` alone. CloudEvents makes ``source`` + ``id`` unique,
and every record of a task has the same source: a task is one partition of one participant's
outbox, and the gateway refuses a ``ce_source`` that does not own the outbox. So the dedup is
per outbox partition. A producer sends every retry of a ``ce_id`` to the same partition (the
record key, the entity id, is the same), so retries meet; a conflicting copy with another key,
on another partition, is not seen here. It is caught downstream (the delegation flow refuses
a second request for one delegation with ``DELEGATION_DUPLICATE``); no cross-partition dedup
is attempted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from courtbus.bus.records import Output
from courtbus.bus.refusals import internal_error_alert
from courtbus.bus.topics import OUTBOX_PATTERN
from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import DEFAULT_PATH as POLICY_PATH
from courtbus.catalogue.policies import load_policies
from courtbus.errors import CourtbusError, ValidationError
from courtbus.gateway import EVENT_ID_CONFLICT, Gateway, record_digest
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec
from courtbus.wire.envelope import Envelope, RawRecord

log = logging.getLogger("courtbus.gateway")
# ce_id -> "topic:partition:offset <digest>" (or the legacy "topic:partition:offset")
# packed: one changelog record per batch and task holds the batch's ce_ids (one send per
# forwarded record, not two); they leave by expiry only
SEEN: StoreSpec[str] = StoreSpec("seen", str.encode, bytes.decode, packed=True)
RULES_CHECK_S = 2.0


class GatewayFlow(Flow):
    """Checks each outbox record; drops exact duplicates, refuses a reused ``ce_id``."""

    name = "gateway"
    source = "bus:gateway"
    inputs = Inputs(pattern=OUTBOX_PATTERN)  # new outboxes are picked up without a restart
    stores = (SEEN,)
    decode = False  # the gateway decodes itself, after the checks that need no schema

    def __init__(
        self,
        envelope: Envelope,
        directory_path: Path = DIRECTORY_PATH,
        policy_path: Path = POLICY_PATH,
        dedup_retention: timedelta | None = None,
    ) -> None:
        super().__init__(envelope)
        self.directory_path = directory_path
        self.policy_path = policy_path
        days = float(os.environ.get("COURTBUS_DEDUP_DAYS", "7"))
        self.dedup_retention = dedup_retention or timedelta(days=days)
        self.gateway = self._load_rules()
        self._mtimes = self._rule_mtimes()
        self._checked: datetime | None = None

    def _rule_mtimes(self) -> tuple[float, float]:
        return (self.directory_path.stat().st_mtime, self.policy_path.stat().st_mtime)

    def _load_rules(self) -> Gateway:
        directory = load_directory(self.directory_path)
        return Gateway(self.envelope, directory, load_policies(directory, self.policy_path))

    def sender(self, raw: RawRecord) -> tuple[str, str] | None:
        """The outbox's owner (never the claimed ``ce_source``, which may be spoofed)."""
        try:
            return self.gateway.owner(raw.topic)
        except CourtbusError:
            return None

    def prepare(self, records: Sequence[RawRecord], state: State) -> None:
        """Look the batch's ``ce_id`` values up in ``seen`` at once (one query, not one each)."""
        ids = []
        for raw in records:
            for name, value in raw.headers or ():
                if name == "ce_id" and value is not None:
                    ids.append(value.decode("utf-8", "replace"))
                    break
        state.table(SEEN).prefetch(ids)

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Forward and remember the ``ce_id``; nothing for an exact duplicate; raise to refuse.

        Raises:
            CourtbusError: the gateway's checks, or ``EVENT_ID_CONFLICT``: the ``ce_id`` was
                accepted before with another key, value or ``ce_*`` headers.
        """
        raw = record.raw
        fwd = self.gateway.check(raw)
        seen = state.table(SEEN)
        event_id = fwd.event.headers.id
        digest = record_digest(raw)
        stored = seen.get(event_id)
        if stored is not None:
            first, _, kept = stored.partition(" ")
            if not kept or kept == digest:  # no digest: stored before digests were kept
                log.info("dropped duplicate %s from %s (first at %s)", event_id, raw.topic, first)
                return []
            raise ValidationError(
                f"ce_id {event_id} was accepted from {first} with another key, value or "
                "ce_* headers; this copy is refused (a resent event must be byte-identical)",
                code=EVENT_ID_CONFLICT,
            )
        seen.put(event_id, f"{raw.topic}:{raw.partition}:{raw.offset} {digest}",
                 expires=state.now + self.dedup_retention)  # fmt: skip
        return [fwd.output]

    def on_refused(self, record: Incoming, error: CourtbusError, state: State) -> list[Output]:
        """An alert on ``bus.alerts`` for a reused ``ce_id``: operators must look at both."""
        if error.code != EVENT_ID_CONFLICT:
            return []
        return [internal_error_alert(self.envelope, record.raw, error, self.source)]

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        """Re-read the directory and policy files when they change (new participants, rules)."""
        if self._checked is not None and (now - self._checked).total_seconds() < RULES_CHECK_S:
            return []
        self._checked = now
        try:
            mtimes = self._rule_mtimes()
        except OSError as exc:  # a file being replaced: keep the current rules, look again later
            log.warning("rule file unreadable, keeping the current rules: %s", exc)
            return []
        if mtimes != self._mtimes:
            self._mtimes = mtimes
            try:
                self.gateway = self._load_rules()
                log.info("directory/policy reloaded: %d courts", len(self.gateway.directory.courts))
            except CourtbusError as exc:
                log.error("keeping the previous directory/policy: %s", exc)
        return []

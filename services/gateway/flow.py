"""The gateway flow: outbox record → forward to its flow, or refuse (dead letter + notice).

Accepted ``ce_id`` values are kept per task in the ``seen`` store, for the dedup retention
(``COURTBUS_DEDUP_DAYS``, default 7), so an exact duplicate is dropped even after a restart.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from courtbus.bus.records import Output
from courtbus.bus.topics import OUTBOX_PATTERN
from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import DEFAULT_PATH as POLICY_PATH
from courtbus.catalogue.policies import load_policies
from courtbus.errors import CourtbusError
from courtbus.gateway import Gateway
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec
from courtbus.wire.envelope import Envelope, RawRecord

log = logging.getLogger("courtbus.gateway")
SEEN: StoreSpec[str] = StoreSpec("seen", str.encode, bytes.decode)  # ce_id -> where it came in
RULES_CHECK_S = 2.0


class GatewayFlow(Flow):
    """Checks each outbox record; drops exact duplicates of accepted ``ce_id`` values."""

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

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Forward and remember the ``ce_id``; nothing for a duplicate; raise to refuse."""
        fwd = self.gateway.check(record.raw)
        seen = state.table(SEEN)
        event_id = fwd.event.headers.id
        if event_id in seen:
            log.info("dropped duplicate %s from %s", event_id, record.raw.topic)
            return []
        raw = record.raw
        seen.put(event_id, f"{raw.topic}:{raw.partition}:{raw.offset}",
                 expires=state.now + self.dedup_retention)  # fmt: skip
        return [fwd.output]

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

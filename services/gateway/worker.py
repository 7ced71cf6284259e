"""The gateway processor: outbox record → forward, or dead letter + rejection notice."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from courtbus.catalogue.directory import DEFAULT_PATH as DIRECTORY_PATH
from courtbus.catalogue.directory import load_directory
from courtbus.catalogue.policies import DEFAULT_PATH as POLICY_PATH
from courtbus.catalogue.policies import load_policies
from courtbus.errors import CourtbusError, RegistryError
from courtbus.gateway import Gateway, Output, refusal
from courtbus.gateway.core import OUTBOX_PATTERN
from courtbus.wire.envelope import Envelope
from services.runtime import Journaled

log = logging.getLogger("courtbus.gateway")
SEEN_TOPIC = "bus.gateway.seen"


class GatewayProcessor:
    """Checks each outbox record; remembers accepted ``ce_id`` values to drop exact duplicates."""

    name = "courtbus-gateway"

    def __init__(
        self,
        envelope: Envelope,
        directory_path: Path = DIRECTORY_PATH,
        policy_path: Path = POLICY_PATH,
    ) -> None:
        self.envelope = envelope
        self.directory_path = directory_path
        self.policy_path = policy_path
        self.gateway = self._load_rules()
        self._mtimes = self._rule_mtimes()
        self.seen: Journaled[str, bool] = Journaled()

    def _rule_mtimes(self) -> tuple[float, float]:
        return (self.directory_path.stat().st_mtime, self.policy_path.stat().st_mtime)

    def _load_rules(self) -> Gateway:
        directory = load_directory(self.directory_path)
        return Gateway(self.envelope, directory, load_policies(directory, self.policy_path))

    def subscription(self) -> tuple[list[str], str | None]:
        """Every participant outbox, by pattern: new outboxes are picked up without a restart."""
        return [], OUTBOX_PATTERN

    def restore_topics(self) -> list[str]:
        """The dedup store."""
        return [SEEN_TOPIC]

    def restore(self, record: Any) -> None:
        """One accepted ce_id."""
        if record.key:
            self.seen[record.key.decode()] = True

    def begin(self) -> None:
        """Start a batch."""
        self.seen.mark()

    def rollback(self) -> None:
        """Forget ids marked by an aborted batch."""
        self.seen.rollback()

    def flush(self) -> list[Output]:
        """Nothing: dedup marks go out with each forward."""
        return []

    def tick(self, now: datetime) -> list[Output]:
        """Re-read the directory and policy files when they change (new participants, rules)."""
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

    def handle(self, raw: Any) -> list[Output]:
        """Forward + dedup mark, nothing (duplicate), or dead letter + notice."""
        try:
            fwd = self.gateway.check(raw)
        except RegistryError:
            raise
        except CourtbusError as exc:
            log.warning("refused %s@%d:%d %s", raw.topic, raw.partition, raw.offset, exc)
            return refusal(self.envelope, raw, exc, _owner(self.gateway, raw.topic))
        event_id = fwd.event.headers.id
        if event_id in self.seen:
            log.info("dropped duplicate %s from %s", event_id, raw.topic)
            return []
        self.seen[event_id] = True
        mark = Output(
            SEEN_TOPIC, event_id.encode(), f"{raw.topic}:{raw.partition}:{raw.offset}".encode(), []
        )
        return [fwd.output, mark]


def _owner(gateway: Gateway, topic: str) -> tuple[str, str] | None:
    """The outbox's owner, or None if the topic is no known participant's outbox."""
    try:
        return gateway.owner(topic)
    except CourtbusError:
        return None

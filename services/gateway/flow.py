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

**Replays of signed records.** A byte-identical copy of a signed record is a producer retry
only while it comes within the retry window (``COURTBUS_RETRY_WINDOW_S``, default 900 s) of
the first copy's acceptance: the idempotent producer already removes its own network retries
at the broker, so a copy that reaches the gateway is an application resend (the SDK's caller
resending after a timeout, which happens within minutes), and one coming later is a replay:
refused with ``SIGNATURE_REPLAYED`` (dead letter, notice). A copy signed longer ago than the
signature age limit (``COURTBUS_SIGNATURE_MAX_AGE_H``, default 24 h, kept below the dedup
retention) is refused ``SIGNATURE_STALE`` before the store is asked, so a replay after its
``ce_id`` has left the store is refused too. The acceptance time is the third field of the
stored value (``"topic:partition:offset <digest> <accepted at>"``); a value without it counts
as a retry.

**Metrics.** ``refused`` counts refusals by code, ``verified`` and ``unsigned`` the records
accepted with and without a signature (the engine logs each refusal at warning).

Scope: the store is keyed by ``ce_id`` alone. CloudEvents makes ``source`` + ``id`` unique,
and every record of a task has the same source: a task is one partition of one participant's
outbox, and the gateway refuses a ``ce_source`` that does not own the outbox. So the store is
per outbox partition, and a ``ce_id`` reused with another key (another partition) could not be
seen here. It is refused all the same: every ``ce_id`` must be bound to its record's key
(``courtbus.wire.event_ids``; the SDK makes such ids), and one that is not is refused with
``EVENT_ID_CONFLICT`` (an id made for another key) or ``EVENT_ID_UNBOUND`` (an id of another
layout), so all accepted records with one ``ce_id`` share a key, a partition and this store.
``COURTBUS_EVENT_IDS=any`` lifts the binding rule for senders not yet on the SDK's ids, and
with it the cross-partition refusal.
"""

from __future__ import annotations

import logging
from collections import Counter
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
from courtbus.errors import ConfigError, CourtbusError, SignatureError, ValidationError
from courtbus.gateway import EVENT_ID_CONFLICT, Gateway, SignaturePolicy, record_digest
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec
from courtbus.security.keys import keys_path
from courtbus.security.signing import REPLAYED
from courtbus.wire.envelope import Envelope, RawRecord

log = logging.getLogger("courtbus.gateway")
# ce_id -> "topic:partition:offset <digest>" (or the legacy "topic:partition:offset")
# packed: one changelog record per batch and task holds the batch's ce_ids (one send per
# forwarded record, not two); they leave by expiry only
SEEN: StoreSpec[str] = StoreSpec("seen", str.encode, bytes.decode, packed=True)
RULES_CHECK_S = 2.0
DEFAULT_RETRY_WINDOW = timedelta(seconds=900)
DEFAULT_DEDUP_RETENTION = timedelta(days=7)  # COURTBUS_DEDUP_DAYS


class GatewayFlow(Flow):
    """Checks each outbox record; drops exact duplicates, refuses a reused ``ce_id``."""

    name = "gateway"
    source = "bus:gateway"
    inputs = Inputs(pattern=OUTBOX_PATTERN)  # new outboxes are picked up without a restart
    stores = (SEEN,)
    decode = False  # the gateway decodes itself, after the checks that need no schema
    # it never writes to an outbox: a record there claiming ce_source bus:gateway is a spoof
    # (SOURCE_SPOOFED), not its own output to skip (found by the fuzz campaign)
    reads_own_outputs = False

    def __init__(
        self,
        envelope: Envelope,
        directory_path: Path = DIRECTORY_PATH,
        policy_path: Path = POLICY_PATH,
        dedup_retention: timedelta | None = None,
        *,
        keys_file: Path | None = None,
        signatures: SignaturePolicy | None = None,
        retry_window: timedelta | None = None,
        bound_ids: bool = True,
    ) -> None:
        """``dedup_retention``: how long a forwarded ``ce_id`` is remembered (default 7
        days); ``signatures``: what is asked of signatures (default ``SignaturePolicy()``:
        optional); ``retry_window``: how long a refused record's resend counts as a retry
        (default 15 minutes); ``bound_ids``: a ``ce_id`` must be bound to its key (default).
        The service's ``GatewaySettings`` give them from the environment.

        Raises:
        ConfigError: ``SIGNATURES_INVALID`` (the signature age limit not below the dedup
            retention), or the directory's, keys' or policy's errors.
        """
        super().__init__(envelope)
        self.directory_path = directory_path
        self.policy_path = policy_path
        self.keys_file = keys_file or keys_path()
        self.dedup_retention = dedup_retention or DEFAULT_DEDUP_RETENTION
        self.signatures = signatures or SignaturePolicy()
        self.bound_ids = bound_ids
        if self.signatures.max_age >= self.dedup_retention:
            raise ConfigError(
                f"the signature age limit ({self.signatures.max_age}) must be below the dedup "
                f"retention ({self.dedup_retention}), or an old record could be replayed once "
                "its ce_id is forgotten",
                code="SIGNATURES_INVALID",
            )
        self.retry_window = DEFAULT_RETRY_WINDOW if retry_window is None else retry_window
        self.refused: Counter[str] = Counter()
        self.verified = 0
        self.unsigned = 0
        self.gateway = self._load_rules()
        self._mtimes = self._rule_mtimes()
        self._checked: datetime | None = None

    def _rule_mtimes(self) -> tuple[float, float, float]:
        keys = self.keys_file.stat().st_mtime if self.keys_file.exists() else 0.0
        return (self.directory_path.stat().st_mtime, self.policy_path.stat().st_mtime, keys)

    def _load_rules(self) -> Gateway:
        directory = load_directory(self.directory_path, self.keys_file)
        return Gateway(
            self.envelope,
            directory,
            load_policies(directory, self.policy_path),
            signatures=self.signatures,
            bound_ids=self.bound_ids,
        )

    def sender(self, raw: RawRecord) -> tuple[str, str] | None:
        """The outbox's owner (never the claimed ``ce_source``, which may be spoofed)."""
        try:
            return self.gateway.owner(raw.topic)
        except CourtbusError:
            return None

    def close(self) -> None:
        """Stop the signature helpers."""
        self.gateway.close()

    def prepare_batch(self, records: Sequence[RawRecord]) -> None:
        """Start the batch's signature checks in the helper processes (``Gateway.verify_ahead``)."""
        self.gateway.verify_ahead(records)

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
        fwd = self.gateway.check(raw, state.now)
        seen = state.table(SEEN)
        event_id = fwd.event.headers.id
        digest = record_digest(raw)
        stored = seen.get(event_id)
        if stored is not None:
            first, _, rest = stored.partition(" ")
            kept, _, accepted = rest.partition(" ")
            if not kept or kept == digest:  # no digest: stored before digests were kept
                if (
                    fwd.signed is not None
                    and accepted
                    and (state.now - datetime.fromisoformat(accepted) > self.retry_window)
                ):
                    raise SignatureError(
                        f"ce_id {event_id} was accepted at {accepted} from {first}; this "
                        f"identical copy comes more than {self.retry_window} later, so it is "
                        "a replay, not a retry",
                        code=REPLAYED,
                    )
                log.info("dropped duplicate %s from %s (first at %s)", event_id, raw.topic, first)
                return []
            raise ValidationError(
                f"ce_id {event_id} was accepted from {first} with another key, value or "
                "ce_* headers; this copy is refused (a resent event must be byte-identical)",
                code=EVENT_ID_CONFLICT,
            )
        where = f"{raw.topic}:{raw.partition}:{raw.offset}"
        seen.put(
            event_id,
            f"{where} {digest} {state.now.isoformat()}",
            expires=state.now + self.dedup_retention,
        )
        if fwd.signed is None:
            self.unsigned += 1
        else:
            self.verified += 1
        return [fwd.output]

    def on_refused(self, record: Incoming, error: CourtbusError, state: State) -> list[Output]:
        """An alert on ``bus.alerts`` for a reused ``ce_id``: operators must look at both.
        Every refusal is counted by code (``refused``)."""
        self.refused[error.code] += 1  # the engine logs the refusal itself
        if error.code != EVENT_ID_CONFLICT:  # also a ce_id made for another key
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
                old, self.gateway = self.gateway, self._load_rules()
                old.close()
                log.info("directory/policy reloaded: %d courts", len(self.gateway.directory.courts))
            except CourtbusError as exc:
                log.error("keeping the previous directory/policy: %s", exc)
        return []

"""How a worker runs: connection, pacing, timeouts, and the state folder it claims.

Every setting the environment may set is a field of ``RuntimeSettings`` (``from_settings``);
the defaults suit a local stack.
"""

from __future__ import annotations

import fcntl
import gc
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

from pydantic import Field

from courtbus.config import Connection, default_stack_home
from courtbus.errors import StateError
from courtbus.settings import EnvSettings


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Settings of one worker process."""

    connection: Connection
    state_dir: Path
    group_id: str | None = None  # default courtbus-<flow name>
    instance: int | None = None  # state slot; None: the first free one
    tick_s: float = 5.0
    poll_ms: int = 100
    max_records: int = 2000
    commit_interval_ms: int = 50  # a batch gathers records this long before its transaction
    # A batch's records leave after this wait, while the offsets are added to the transaction
    # (two round trips); the commit flushes what is left at once. Longer saves the producer
    # thread a few wake-ups per batch and adds those round trips to every hop's latency.
    linger_ms: int = 5
    fetch_max_wait_ms: int = 100
    # A flow with paced inputs: how much the consumer fetches ahead (KiB), so a live record is
    # never queued behind more than about a batch of a backlog (librdkafka's one queue).
    paced_queue_kbytes: int = 512
    session_timeout_ms: int = 10_000
    max_poll_interval_ms: int = 300_000
    transaction_timeout_ms: int = 10_000
    metadata_max_age_ms: int = 5_000
    retry_backoff_s: float = 2.0
    max_attempts: int = 3
    # Outputs (courtbus.runtime.outputs): the largest produce request, how often a topic not
    # seen yet is looked up before its record is dead-lettered, and how long a topic confirmed
    # missing is taken as missing without asking again.
    max_request_bytes: int = 1_048_576
    output_lookups: int = 3
    missing_topic_recheck_s: float = 30.0
    changelog_partitions: int = 6  # for pattern inputs; topic inputs use their own count
    max_checkpoint_age_s: float = 12 * 3600  # older local state is restored in full
    # Fault injection for crash tests: hold each open transaction this long (after logging
    # "transaction open") before committing, so a test can kill a worker inside one.
    hold_open_ms: int = 0
    # Refusal notices per sender and error code per window before one summary per batch
    # (courtbus.runtime.notices; 0: every refusal its own notice)
    notice_limit: int = 20
    notice_window_s: float = 60.0

    @classmethod
    def from_settings(
        cls, connection: Connection, settings: RuntimeSettings, **overrides: object
    ) -> WorkerConfig:
        """Settings from ``settings`` (a service's, which extend ``RuntimeSettings``), its
        unset fields left at this class's defaults, then ``overrides``."""
        values: dict[str, object] = {
            field: value
            for name, field in _WORKER_FIELDS.items()
            if (value := getattr(settings, name)) is not None
        }
        values["state_dir"] = settings.state_dir or default_stack_home() / "state"
        values.update(overrides)
        return cls(connection, **values)  # type: ignore[arg-type]  # checked by the dataclass


class RuntimeSettings(EnvSettings):
    """The runtime's environment, one variable per field, ``COURTBUS_`` + the field's name in
    capitals: ``COURTBUS_STATE_DIR`` (default ``<stack home>/state``), ``COURTBUS_GROUP``
    (default ``courtbus-<flow>``), ``COURTBUS_INSTANCE`` (a state slot; default the first
    free one), ``COURTBUS_TICK_SECONDS`` (5), ``COURTBUS_SESSION_TIMEOUT_MS`` (10,000),
    ``COURTBUS_TRANSACTION_TIMEOUT_MS`` (10,000), ``COURTBUS_MAX_RECORDS`` (a batch's most,
    2,000), ``COURTBUS_COMMIT_INTERVAL_MS`` (50), ``COURTBUS_LINGER_MS`` (5),
    ``COURTBUS_FETCH_MAX_WAIT_MS`` (100), ``COURTBUS_NOTICE_LIMIT`` (20),
    ``COURTBUS_NOTICE_WINDOW_S`` (60) and, for crash tests, ``COURTBUS_TEST_HOLD_OPEN_MS`` (0).
    Frozen; a blank variable counts as unset, and an unset one is None here (the defaults
    named are ``WorkerConfig``'s). A wrong one is ``RUNTIME_CONFIG_INVALID``.
    """

    invalid_code: ClassVar[str] = "RUNTIME_CONFIG_INVALID"

    # None: unset (the WorkerConfig default applies)
    state_dir: Path | None = None
    group: str | None = None
    instance: int | None = Field(default=None, ge=0)
    tick_seconds: float | None = Field(default=None, gt=0)
    session_timeout_ms: int | None = Field(default=None, ge=1_000)
    transaction_timeout_ms: int | None = Field(default=None, ge=1_000)
    max_records: int | None = Field(default=None, ge=1)
    commit_interval_ms: int | None = Field(default=None, ge=0)
    linger_ms: int | None = Field(default=None, ge=0)
    fetch_max_wait_ms: int | None = Field(default=None, ge=0)
    test_hold_open_ms: int | None = Field(default=None, ge=0)
    notice_limit: int | None = Field(default=None, ge=0)
    notice_window_s: float | None = Field(default=None, gt=0)


# RuntimeSettings field → WorkerConfig field, for the ones the environment may set
_WORKER_FIELDS = {
    "group": "group_id",
    "instance": "instance",
    "tick_seconds": "tick_s",
    "session_timeout_ms": "session_timeout_ms",
    "transaction_timeout_ms": "transaction_timeout_ms",
    "max_records": "max_records",
    "commit_interval_ms": "commit_interval_ms",
    "linger_ms": "linger_ms",
    "fetch_max_wait_ms": "fetch_max_wait_ms",
    "test_hold_open_ms": "hold_open_ms",
    "notice_limit": "notice_limit",
    "notice_window_s": "notice_window_s",
}


@dataclass
class Slot:
    """A state folder this process holds a lock on, and the id its transactions use."""

    number: int
    path: Path
    uid: str
    lock: IO[str]

    def release(self) -> None:
        """Let another process take the folder."""
        self.lock.close()


def claim_slot(base: Path, instance: int | None = None) -> Slot:
    """Lock ``base/worker-<n>`` for this process: slot ``instance``, or the first free one.

    A restarted worker takes a free slot back, with its transactional id (so it fences its
    killed predecessor at once) and its local state (so it restores only the changelog tail).

    Raises:
        StateError: ``STATE_SLOT_BUSY`` if ``instance`` is held by another process.
    """
    numbers = [instance] if instance is not None else range(1024)
    for number in numbers:
        path = base / f"worker-{number}"
        path.mkdir(parents=True, exist_ok=True)
        lock = (path / "lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        id_file = path / "id"
        if not id_file.exists():
            id_file.write_text(uuid.uuid4().hex[:12])
        return Slot(number, path, id_file.read_text().strip(), lock)
    raise StateError(
        f"state folder {base}/worker-{instance} is in use by another worker; "
        "give each worker its own COURTBUS_INSTANCE or leave it unset",
        code="STATE_SLOT_BUSY",
    )


# Young-generation collections every 50,000 allocations instead of CPython's 700: a worker
# allocates a few dozen objects per record, so the default runs the collector every few
# records (measured with bench.gateway_checks: 74.8 µs CPU per record with the default,
# 69.5 with these, 66.6 with no collector at all). Cycles are still freed, in bigger rounds.
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Move what start-up made (modules, schemas, rules) out of the collector's sight
    (``gc.freeze``) and collect the young generation less often (``GC_THRESHOLDS``): run by a
    service once it is set up, before its worker starts."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

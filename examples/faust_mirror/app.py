"""An agency's mirror of the dishonest-debtor list, kept by a Faust app (courtbus[faust]).

Reads ``blacklist.entries`` (or an agency's feed ``agency.<id>.blacklist``): key = entry id,
value = registry-framed Avro, a tombstone removes the key. Keeps a Faust table entry id ->
entry (JSON) of the active entries only, and a second table entry id -> the ``ce_id`` last
applied, so a redelivered event is skipped. It writes nothing but its two tables' changelogs
(and, if asked, a JSON snapshot of the active set for tests and operators).

At least once, on purpose: Faust's exactly-once mode does not hold (measured with
faust-streaming 0.15.3; see faust-streaming issues #517 and #177). After a crash Faust replays
from the last committed offset; re-applying an entry's events in order gives the same table,
and an event whose ``ce_id`` is the one last applied for its key is skipped.

Run (settings from the environment, see ``Settings``)::

    python -m examples.faust_mirror.app worker -l info
    faust -A examples.faust_mirror.app worker -l info
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.types import EventT

from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.catalogue.directory import load_directory
from courtbus.config import Connection, resolve
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import ClusterError, ConfigError, CourtbusError
from courtbus.faust import CODEC_NAME, ce_id, install, json_safe
from courtbus.sdk.agency import is_removed

log = logging.getLogger("courtbus.faust_mirror")

VIEW_TOPIC = BLACKLIST_VIEW


@dataclass(frozen=True, slots=True)
class Settings:
    """What the mirror reads and where it keeps its state.

    ``COURTBUS_BOOTSTRAP``, ``COURTBUS_REGISTRY_URL`` (or the local stack), and:
    ``COURTBUS_MIRROR_TOPIC`` (default ``blacklist.entries``; or ``COURTBUS_MIRROR_AGENCY=pbccrc``
    for ``agency.pbccrc.blacklist``, an agency the directory grants a blacklist feed), ``COURTBUS_MIRROR_APP_ID`` (the Faust app id and consumer
    group, default ``courtbus-mirror``), ``COURTBUS_MIRROR_DATA`` (Faust's data folder),
    ``COURTBUS_MIRROR_PARTITIONS`` (the topic's partition count; asked of the cluster if
    unset), ``COURTBUS_MIRROR_SNAPSHOT`` (a JSON file of the active set, rewritten on change),
    ``COURTBUS_MIRROR_SESSION_TIMEOUT_S`` (how soon the group gives a crashed worker's
    partitions to another; Faust's default if unset, 60 s).
    """

    conn: Connection
    topic: str
    app_id: str
    data_dir: Path
    partitions: int | None = None
    snapshot: Path | None = None
    session_timeout_s: float | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings.

        Raises:
            ConfigError: no cluster is named, or a bad bootstrap list or registry URL.
            ValidationError: ``AGENCY_UNKNOWN``, or ``FEED_NOT_GRANTED`` (the agency has no
                blacklist feed in the directory: the message names its feeds).
        """
        env = os.environ
        agency = env.get("COURTBUS_MIRROR_AGENCY")
        topic = env.get("COURTBUS_MIRROR_TOPIC") or (
            load_directory().feed_topic(agency, "blacklist") if agency else VIEW_TOPIC
        )
        app_id = env.get("COURTBUS_MIRROR_APP_ID") or "courtbus-mirror"
        partitions = env.get("COURTBUS_MIRROR_PARTITIONS")
        snapshot = env.get("COURTBUS_MIRROR_SNAPSHOT")
        session = env.get("COURTBUS_MIRROR_SESSION_TIMEOUT_S")
        return cls(
            conn=resolve(),
            topic=topic,
            app_id=app_id,
            data_dir=Path(env.get("COURTBUS_MIRROR_DATA") or f"{app_id}-data"),
            partitions=int(partitions) if partitions else None,
            snapshot=Path(snapshot) if snapshot else None,
            session_timeout_s=float(session) if session else None,
        )


TABLES = ("entries", "applied")  # the app's tables: their changelogs are declared first


@contextlib.contextmanager
def _cluster_errors(conn: Connection) -> Iterator[None]:
    """kafka-python's errors inside as ``ClusterError`` ``CLUSTER_UNREACHABLE``."""
    from kafka.errors import KafkaError

    try:
        yield
    except KafkaError as exc:
        raise ClusterError(
            f"cannot reach Kafka at {conn.bootstrap}: {type(exc).__name__}",
            code="CLUSTER_UNREACHABLE",
        ) from exc


@contextlib.contextmanager
def _metadata(conn: Connection) -> Iterator[Any]:
    """A kafka-python consumer for metadata only, closed after; errors as ``_cluster_errors``."""
    from kafka import KafkaConsumer

    with _cluster_errors(conn):
        consumer = KafkaConsumer(**conn.kafka_settings())
        try:
            yield consumer
        finally:
            consumer.close()


def declare_changelogs(
    conn: Connection, app_id: str, tables: Iterable[str], partitions: int
) -> None:
    """Create the tables' changelog topics (``<app id>-<table>-changelog``, compacted, with the
    source topic's partitions) and wait until the cluster's metadata shows them, before Faust
    starts. Faust creates them itself and checks their partitions at once; on a busy broker
    the metadata it reads may not show the new topic yet, and the table's agent crashes with
    ``PartitionsMismatch`` ("has 0 partitions"), seen in the suite under load.

    Raises:
        ConfigError: ``TOPIC_PARTITIONS_MISMATCH``: a changelog exists with other partitions.
        ClusterError: ``CLUSTER_UNREACHABLE``.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = [f"{app_id}-{table}-changelog" for table in tables]
    with _cluster_errors(conn):
        admin = KafkaAdminClient(**conn.kafka_settings())
        try:
            for name in names:
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(
                        [
                            NewTopic(
                                name, partitions, -1, topic_configs={"cleanup.policy": "compact"}
                            )
                        ]
                    )
        finally:
            admin.close()
    with _metadata(conn) as consumer:
        deadline = time.monotonic() + 60
        for name in names:
            while True:
                consumer.topics()  # a metadata refresh
                found = consumer.partitions_for_topic(name) or set()
                if len(found) == partitions:
                    break
                if found:
                    raise ConfigError(
                        f"{name} has {len(found)} partitions, the source topic {partitions}: "
                        "delete it (the table is rebuilt from the source) or set "
                        "COURTBUS_MIRROR_PARTITIONS",
                        code="TOPIC_PARTITIONS_MISMATCH",
                    )
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"{name} not in the metadata after 60 s", code="CLUSTER_UNREACHABLE"
                    )
                time.sleep(0.2)


def topic_partitions(conn: Connection, topic: str) -> int:
    """The partition count of ``topic``: the tables' changelogs must have as many.

    kafka-python, once, before Faust's event loop starts (never inside an agent: it blocks).

    Raises:
        ConfigError: ``TOPIC_NOT_FOUND``, with the reason (an agency without that feed, or the
            topics not applied).
        ClusterError: ``CLUSTER_UNREACHABLE``.
    """
    with _metadata(conn) as consumer:
        parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise ConfigError(
            f"topic {topic} not found at {conn.bootstrap}: {_missing_topic_hint(topic)}",
            code="TOPIC_NOT_FOUND",
        )
    return len(parts)


def _missing_topic_hint(topic: str) -> str:
    """Why a topic may be missing: an agency without that feed (naming its feeds), or the
    catalogue's topics not applied to this cluster yet."""
    match topic.split("."):
        case ["agency", agency, flow]:
            try:
                load_directory().feed_topic(agency, flow)
            except CourtbusError as exc:
                return exc.reason
    return "run `courtbus topics apply` (or name another topic in COURTBUS_MIRROR_TOPIC)"


def apply(
    entries: MutableMapping[str, Any],
    applied: MutableMapping[str, Any],
    key: str,
    value: Any,
    event_id: str | None,
) -> str:
    """Apply one record of the view to the mirror; says what it did.

    ``duplicate``: its ``ce_id`` is the one last applied for ``key`` (a redelivery), skipped.
    ``kept``: an active entry, stored. ``removed``: delisted (``status`` DELISTED or a
    ``delisted_at``: a projected feed may carry either), or a tombstone (no value). The rule
    is the SDK mirror's (``courtbus.sdk.agency.is_removed``), so both keep the same set.
    """
    if event_id is not None and applied.get(key) == event_id:
        return "duplicate"
    if not is_removed(value):
        entries[key] = json_safe(value)
        outcome = "kept"
    else:
        if key in entries:
            del entries[key]
        outcome = "removed"
    if event_id is not None:
        applied[key] = event_id
    elif key in applied:  # a tombstone: the key is gone from the view
        del applied[key]
    return outcome


def active_set(entries: MutableMapping[str, Any]) -> dict[str, Any]:
    """The mirror's active entries (this worker's partitions), by entry id."""
    return {str(k): v for k, v in sorted(entries.items())}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True))
    os.replace(tmp, path)  # readers never see half a file


def create_app(settings: Settings) -> faust.App:
    """The Faust app: one agent, two tables, and the snapshot timer if asked for.

    Raises:
        ClusterError: ``CLUSTER_UNREACHABLE`` (said at once, before Faust's own retries).
        ConfigError: ``TOPIC_NOT_FOUND``, ``REGISTRY_NOT_CONFIGURED``.
    """
    settings.conn.probe()
    partitions = settings.partitions or topic_partitions(settings.conn, settings.topic)
    declare_changelogs(settings.conn, settings.app_id, TABLES, partitions)
    install(settings.conn.require_registry())
    credentials = None
    if settings.conn.username and settings.conn.password:
        credentials = faust.SASLCredentials(
            username=settings.conn.username,
            password=settings.conn.password,
            mechanism="SCRAM-SHA-512",
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {}
    if settings.session_timeout_s is not None:
        extra["broker_session_timeout"] = settings.session_timeout_s
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.conn.bootstrap.split(",")],
        broker_credentials=credentials,
        processing_guarantee="at_least_once",  # exactly_once does not hold: see the docstring
        datadir=str(settings.data_dir),
        store="memory://",  # rebuilt from the changelogs at start
        topic_partitions=partitions,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        **extra,
    )
    source = app.topic(settings.topic, key_type=str, value_serializer=CODEC_NAME)
    entries = app.Table(TABLES[0], partitions=partitions, key_type=str)
    applied = app.Table(TABLES[1], partitions=partitions, key_type=str, value_type=str)
    counts = {"kept": 0, "removed": 0, "duplicate": 0}

    @app.agent(source)
    async def mirror(stream: AsyncIterable[Any]) -> None:
        events: AsyncIterable[EventT[Any]] = stream.events()  # type: ignore[attr-defined]
        async for event in events:
            if event.key is None:
                log.error("record without a key at offset %s: skipped", event.message.offset)
                continue
            outcome = apply(entries, applied, str(event.key), event.value, ce_id(event))
            counts[outcome] += 1

    if settings.snapshot is not None:
        path, last = settings.snapshot, {"text": ""}

        @app.timer(interval=0.2)  # type: ignore[untyped-decorator]  # faust's timer is untyped
        async def write_snapshot() -> None:
            data = {"topic": settings.topic, "active": active_set(entries), **counts}
            text = json.dumps(data, sort_keys=True)
            if text != last["text"]:
                _write_json(path, data)
                last["text"] = text

    return app


def main_app() -> faust.App:
    """The app from the environment; a courtbus error is one line on stderr and exit code 2,
    before Faust starts (a topic the agency has no feed for names the feeds it has)."""
    try:
        return create_app(Settings.from_env())
    except CourtbusError as exc:
        print(f"error {exc.code}: {mask_ids_in_text(exc.reason)}", file=sys.stderr)
        raise SystemExit(2) from None


_made: list[faust.App] = []


def __getattr__(name: str) -> faust.App:
    """``app``, made on first use (``faust -A examples.faust_mirror.app`` asks for it), so
    importing this module reads no settings and connects nowhere."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _made:
        _made.append(main_app())
    return _made[0]


if __name__ == "__main__":
    main_app().main()

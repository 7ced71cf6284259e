"""``courtbus serve <name>`` stops on SIGTERM and SIGINT, leaving no service process behind.

The command execs the service on POSIX (the CLI's process becomes ``python -m services.<name>``),
so the signal reaches the worker itself: it finishes its batch, leaves its group and exits 0.
Every process of the machine whose environment holds this run's state folder is looked for
afterwards: none may be left (an orphan reparented to init would keep consuming).

Issue 21 item 7's records around the signal: ``courtbus serve gateway`` is stopped by the
signal in the middle of a stream of valid requests and served again; every request, those
before, during and after the stop, is forwarded exactly once.
"""

from __future__ import annotations

import signal
import sys
import uuid
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from kafka import KafkaProducer, TopicPartition

from courtbus.app import ops
from courtbus.config import Connection
from courtbus.wire.envelope import Envelope
from tests.gateway_cases import Raw, build, valid_payload
from tests.integration.helpers import GroupProgress, ServiceProcess, TopicReader, wait_until

pytestmark = pytest.mark.integration


def _processes_with(marker: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_courtbus_serve_stops_on_a_signal_and_leaves_no_process(
    conn: Connection, registered: dict[str, int], tmp_path: Path, sig: signal.Signals
) -> None:
    ops.apply_topics(conn, ops.plan_topics(conn))
    group = f"serve-signal-{sig.name.lower()}-{tmp_path.name}"
    service = ServiceProcess(
        "services.watchdog",
        conn,
        tmp_path / "watchdog.log",
        f"{group} consuming",
        env={"COURTBUS_GROUP": group},
        assigned=f"{group} restored",
        command=[sys.executable, "-m", "courtbus", "serve", "watchdog"],
    )
    marker = str(tmp_path / "state")  # COURTBUS_STATE_DIR of this run only
    service.start(timeout_s=90)
    assert service.proc is not None
    assert _processes_with(marker) == [service.proc.pid]  # exec'd: one process, the service
    service.proc.send_signal(sig)
    assert service.proc.wait(timeout=60) == 0, service.log_text()[-2000:]
    wait_until(lambda: not _processes_with(marker), 10, lambda: str(_processes_with(marker)))
    assert "Traceback" not in service.log_text()


GATEWAY_GROUP = "courtbus-gateway"  # the gateway's own group: it goes on where the last stopped
FLOW = "bus.delegation.events"


@pytest.mark.timeout(240)
def test_records_around_a_signal_are_forwarded_exactly_once(
    conn: Connection, envelope: Envelope, tmp_path: Path
) -> None:
    """SIGTERM only: SIGINT takes the same path in the worker (the test above stops the
    process with both), and each case costs two gateway starts (~50 s)."""
    sig = signal.SIGTERM
    ops.apply_topics(conn, ops.plan_topics(conn))
    gateway = ServiceProcess(
        "services.gateway",
        conn,
        tmp_path / "gateway.log",
        f"{GATEWAY_GROUP} consuming",
        assigned=f"{GATEWAY_GROUP} restored",
        command=[sys.executable, "-m", "courtbus", "serve", "gateway"],
    )
    marker = str(tmp_path / "state")
    raws = [
        build(envelope, valid_payload(delegation_id=f"dlg-320583-sig-{uuid.uuid4().hex[:8]}"))
        for _ in range(60)
    ]
    ids = {dict(raw.headers)["ce_id"] for raw in raws}
    reader = TopicReader(conn, FLOW, from_end=True)
    producer = KafkaProducer(**conn.kafka_settings(), acks="all")
    places: list[tuple[str, int, int]] = []

    def send(part: list[Raw]) -> None:
        for raw in part:
            headers = [(k, h if h is not None else b"") for k, h in raw.headers]
            meta = producer.send(raw.topic, key=raw.key, value=raw.value, headers=headers).get(
                timeout=10
            )
            places.append((raw.topic, meta.partition, meta.offset))

    try:
        gateway.start(timeout_s=90)
        send(raws[:20])
        reader.wait_for(lambda r: dict(r.headers).get("ce_id") in ids, timeout_s=60)
        send(raws[20:40])  # in flight as the signal comes
        assert gateway.proc is not None
        gateway.proc.send_signal(sig)
        assert gateway.proc.wait(timeout=60) == 0, gateway.log_text()[-2000:]
        wait_until(lambda: not _processes_with(marker), 10, lambda: str(_processes_with(marker)))
        send(raws[40:])  # while it is down
        gateway.start(timeout_s=90)
        reader.wait_for(
            lambda r: dict(r.headers).get("ce_id") in ids, count=len(raws), timeout_s=90
        )
        with GroupProgress(conn) as progress:  # every one processed: its output committed
            for topic, partition, offset in places:
                tp = TopicPartition(topic, partition)
                wait_until(
                    partial(progress.consumed_past, GATEWAY_GROUP, tp, offset),
                    60,
                    f"{GATEWAY_GROUP} past {tp}@{offset}",
                    interval_s=0.2,
                )
        forwarded: list[bytes | None] = [dict(r.headers).get("ce_id") for r in reader.read_to_end()]
    finally:
        gateway.stop()
        producer.close()
        reader.close()
    counts = Counter(forwarded)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)  # each exactly once
    assert "Traceback" not in gateway.log_text()

"""Helpers for integration tests: a topic reader that waits for records, a service process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from courtbus.config import Connection


class TopicReader:
    """Reads every partition of some topics from the start (committed records only)."""

    def __init__(self, conn: Connection, *topics: str) -> None:
        self.consumer = KafkaConsumer(**conn.kafka_settings(), enable_auto_commit=False,
                                      isolation_level="read_committed", consumer_timeout_ms=200)  # fmt: skip
        parts = []
        for topic in topics:
            for p in self.consumer.partitions_for_topic(topic) or ():
                parts.append(TopicPartition(topic, p))
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        self.records: list[Any] = []

    def poll(self) -> None:
        for rec in self.consumer:
            self.records.append(rec)

    def wait_for(
        self, predicate: Callable[[Any], bool], timeout_s: float = 30, count: int = 1
    ) -> list[Any]:
        """Records matching ``predicate`` once there are ``count`` of them (or fail)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            found = [r for r in self.records if predicate(r)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(found)} of {count} expected records after {timeout_s}s"
                )

    def close(self) -> None:
        self.consumer.close()


def header(record: Any, name: str) -> str | None:
    """A header's value as text."""
    for key, value in record.headers or ():
        if key == name and value is not None:
            return bytes(value).decode("utf-8", errors="replace")
    return None


class ServiceProcess:
    """A service run as ``python -m <module>``, its output in a log file."""

    def __init__(
        self,
        module: str,
        conn: Connection,
        log: Path,
        ready: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.module, self.log, self.ready = module, log, ready
        self.env = {**os.environ, "COURTBUS_BOOTSTRAP": conn.bootstrap,
                    "COURTBUS_REGISTRY_URL": conn.registry_url or "",
                    "COURTBUS_STATE_DIR": str(log.parent / "state"), **(env or {})}  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> None:
        mark = self.log.read_text().count(self.ready) if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        deadline = time.monotonic() + timeout_s
        while self.log.read_text().count(self.ready) <= mark:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.module} did not start:\n{self.log.read_text()[-3000:]}"
                )
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

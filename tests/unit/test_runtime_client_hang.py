"""The transactional producer gives up on a ``send_offsets_to_transaction`` that outlives its
timeout (librdkafka #5456, #5511: it can block for good while the group coordinator is away),
so the worker starts a new session instead of hanging. A stand-in for librdkafka's producer
object only (pure unit test: no broker)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from kafka import TopicPartition

from courtbus.runtime import client
from courtbus.runtime.client import ClientError, TransactionalProducer


class Blocking:
    """librdkafka's producer as the bug leaves it: send_offsets never returns."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[str] = []

    def send_offsets_to_transaction(self, parts: Any, metadata: Any, timeout: float) -> None:
        self.calls.append("send_offsets")
        self.release.wait()

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def flush(self, timeout: float) -> int:
        self.calls.append("flush")
        return 0


class Answering(Blocking):
    def __init__(self, error: BaseException | None = None) -> None:
        super().__init__()
        self.error = error

    def send_offsets_to_transaction(self, parts: Any, metadata: Any, timeout: float) -> None:
        self.calls.append(f"send_offsets {timeout}")
        if self.error is not None:
            raise self.error


def _producer(stand_in: Blocking, timeout_ms: int = 1000) -> TransactionalProducer:
    producer = TransactionalProducer(
        {"bootstrap.servers": "127.0.0.1:1"},
        transactional_id="t-hang",
        transaction_timeout_ms=timeout_ms,
        linger_ms=0,
        max_request_bytes=1_000_000,
    )
    producer._producer = stand_in  # type: ignore[assignment]  # the stand-in
    return producer


def test_a_send_offsets_that_never_returns_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "OFFSETS_GRACE_S", 0.3)
    stand_in = Blocking()
    producer = _producer(stand_in)
    producer.offsets_timeout_s = 0.2
    began = time.monotonic()
    with pytest.raises(ClientError, match="librdkafka#5456"):
        producer.send_offsets({TopicPartition("t", 0): 5}, object())
    took = time.monotonic() - began
    assert 0.5 <= took < 3, took  # its timeout (0.2 s) and the grace (0.3 s), no more
    assert producer.hung is not None
    # abandoned: nothing more is asked of it, and closing it does not touch it
    with pytest.raises(ClientError, match="abandoned"):
        producer.abort()
    with pytest.raises(ClientError, match="abandoned"):
        producer.send_offsets({TopicPartition("t", 0): 6}, object())
    producer.close()
    assert stand_in.calls == ["send_offsets"]
    stand_in.release.set()


def test_an_answer_in_time_passes_through() -> None:
    ok = Answering()
    _producer(ok, timeout_ms=1500).send_offsets({TopicPartition("t", 0): 5}, object())
    assert ok.calls == ["send_offsets 1.5"]  # the transaction's timeout, in seconds
    import confluent_kafka as ck

    refused = Answering(ck.KafkaException(ck.KafkaError(ck.KafkaError._FENCED)))
    producer = _producer(refused)
    with pytest.raises(ClientError, match="send_offsets_to_transaction"):
        producer.send_offsets({TopicPartition("t", 0): 5}, object())
    assert producer.hung is None  # an error is an answer: the worker aborts as before

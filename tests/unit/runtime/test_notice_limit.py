"""Notice floods (issue 21, item 8): past its limit a sender gets one summary notice per batch;
every refused record still goes to the dead letters, and each is told exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from courtbus.bus.records import Output
from courtbus.runtime.harness import FlowHarness
from courtbus.runtime.notices import NoticeLimiter
from tests.unit.runtime.test_engine import ACCEPTED, TOPIC, Probe, header, payload

T0 = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
NOTICE = "cn.court.bus.notice.MessageRejected"


def _harness(limit: int = 20, window_s: float = 60) -> FlowHarness:
    return FlowHarness(Probe(), start=T0, partitions=1, notices=NoticeLimiter(limit, window_s))


def _batch(
    h: FlowHarness, n: int, *, source: str = "court:6104", kind: str = "bad", tag: str = ""
) -> list[Output]:
    """``n`` records from ``source`` in one batch: refused (``bad``) or applied (``ok``)."""
    records = []
    for i in range(n):
        built = h.envelope.build(TOPIC, ACCEPTED, payload(f"{kind}-{tag}{source}-{i}"), source)
        records.append((TOPIC, built.key, built.value, built.headers))
    return h.feed_batch(records)


def _split(h: FlowHarness, outputs: list[Output]) -> tuple[list[Output], list[dict], list[dict]]:
    """(dead letters, single notices' payloads, summaries' payloads)."""
    dead = [o for o in outputs if o.topic == "bus.deadletter"]
    notices = [h.decode(o) for o in outputs if o.topic.endswith(".inbox")]
    assert all(n.record == NOTICE for n in notices)
    single = [n.payload for n in notices if n.payload["refused_count"] is None]
    summaries = [n.payload for n in notices if n.payload["refused_count"] is not None]
    return dead, single, summaries


def test_a_burst_gives_the_limit_of_notices_and_one_summary_per_batch() -> None:
    h = _harness(limit=20)
    dead, single, summaries = _split(h, _batch(h, 50))
    assert len(dead) == 50  # every record, with its own bytes
    assert {header(d, "dlq_code") for d in dead} == {"PROBE_BAD"}
    assert len(single) == 20
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary["refused_count"] == 30 and summary["error_code"] == "PROBE_BAD"
    offsets = sorted(int(header(d, "dlq_offset") or -1) for d in dead)
    assert summary["source_offset"] == offsets[20]  # the first record not told on its own
    assert f"@0:{offsets[-1]}" in summary["reason"] and "bus.deadletter" in summary["reason"]
    told = {n["source_offset"] for n in single}
    assert told == set(offsets[:20])

    # the window still runs: the next batch's refusals are all summed up
    dead, single, summaries = _split(h, _batch(h, 10, tag="2"))
    assert (len(dead), len(single), [s["refused_count"] for s in summaries]) == (10, 0, [10])

    # a new window: notices of their own again
    h.now = h.now.replace(minute=2)
    dead, single, summaries = _split(h, _batch(h, 5, tag="3"))
    assert (len(dead), len(single), summaries) == (5, 5, [])


def test_each_refusal_is_told_exactly_once_across_batches() -> None:
    h = _harness(limit=7)
    refused = told = 0
    for n in (3, 9, 1, 25, 4):
        dead, single, summaries = _split(h, _batch(h, n, tag=str(n)))
        refused += len(dead)
        told += len(single) + sum(s["refused_count"] for s in summaries)
        assert len(summaries) <= 1
    assert refused == told == 42


def test_senders_and_codes_have_budgets_of_their_own() -> None:
    h = _harness(limit=2)
    _, single, summaries = _split(h, _batch(h, 5, source="court:6104"))
    assert (len(single), [s["refused_count"] for s in summaries]) == (2, [3])
    _, single, summaries = _split(h, _batch(h, 3, source="court:6101"))
    assert (len(single), [s["refused_count"] for s in summaries]) == (2, [1])


def test_valid_records_between_refusals_are_untouched() -> None:
    h = _harness(limit=1)
    outputs = _batch(h, 3) + _batch(h, 2, kind="ok")
    assert [o.topic for o in outputs if o.topic == "probe.out"] == ["probe.out"] * 2


def test_a_limit_of_zero_tells_every_refusal() -> None:
    h = _harness(limit=0)
    dead, single, summaries = _split(h, _batch(h, 40))
    assert (len(dead), len(single), summaries) == (40, 40, [])

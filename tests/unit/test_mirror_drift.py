"""Drift in a partner's mirror (courtbus.sdk.mirror_drift, Mirror.repair): the digest finds the
buckets that differ, the comparison names the ids, the repair leaves the offsets alone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from courtbus.domain import blacklist_digest as digests
from courtbus.sdk.agency import Mirror
from courtbus.sdk.mirror_drift import compare
from tests.unit.test_agency_sync import FIELDS, TOPIC, change, payload


def test_compare_finds_exactly_the_lost_and_the_stray_ids() -> None:
    feed = [f"bl-{n}" for n in range(500)]
    held = set(feed) - {"bl-7", "bl-300"} | {"bl-stray"}
    buckets, missing, extra = compare(feed, held)
    assert missing == ("bl-300", "bl-7") and extra == ("bl-stray",)
    assert set(buckets) == {digests.bucket_of(i) for i in ("bl-7", "bl-300", "bl-stray")}
    assert compare(feed, feed) == ((), (), ())


def test_repair_writes_and_deletes_without_moving_the_offsets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mirror.db'}"
    mirror = Mirror(url, "blacklist", FIELDS)
    mirror.apply([change(n, n, payload(n)) for n in range(10)])
    engine = create_engine(url)
    with engine.begin() as conn:  # lost by hand, and one row that never was on the feed
        conn.execute(text("DELETE FROM partner_blacklist WHERE entry_id IN ('bl-2', 'bl-5')"))
        conn.execute(text("UPDATE partner_blacklist SET entry_id = 'bl-x' WHERE entry_id = 'bl-9'"))
    engine.dispose()
    expected = {f"bl-{n}": payload(n) for n in range(10)}
    _buckets, missing, extra = compare(expected, mirror.ids())
    assert (missing, extra) == (("bl-2", "bl-5", "bl-9"), ("bl-x",))
    mirror.repair({k: expected[k] for k in missing}, extra)
    assert mirror.ids() == set(expected)
    assert mirror.offsets(TOPIC) == {0: 10}
    assert compare(expected, mirror.ids()) == ((), (), ())
    mirror.close()

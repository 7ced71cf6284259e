"""Digests find exactly the buckets where two sets of entry ids differ."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from courtbus.domain.blacklist_digest import BUCKETS, bucket_of, differing, digest

ids = st.sets(st.from_regex(r"bl-[a-z0-9]{1,12}", fullmatch=True), max_size=200)


@given(ids)
def test_equal_sets_have_equal_digests_in_any_order(entries: set[str]) -> None:
    assert digest(entries) == digest(sorted(entries, reverse=True))
    assert differing(digest(entries), digest(set(entries))) == []


@given(ids, st.data())
def test_a_missing_or_extra_id_shows_exactly_its_bucket(
    entries: set[str], data: st.DataObject
) -> None:
    extra = data.draw(st.from_regex(r"bl-x[0-9]{1,8}", fullmatch=True))
    view = entries - {extra}
    court = entries | {extra}
    assert differing(digest(view), digest(court)) == [bucket_of(extra)]


def test_buckets_spread_and_stay_in_range() -> None:
    used = {bucket_of(f"bl-{i}") for i in range(2000)}
    assert used == set(range(BUCKETS))
    assert all(d.count > 0 for d in digest(f"bl-{i}" for i in range(100)).values())

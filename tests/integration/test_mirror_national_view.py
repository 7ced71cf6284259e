"""Every partner mirror equals the national view, with every service of the list running
(issue 22, blocker 1).

The restriction service gives the consumption ban a listing requires the listing's own id, and
the feed router kept one route per key for both views: the ban's record withdrew the listing
from icbc's, pbccrc's and the west-guangdong group's feeds, and the listing's withdrew caac's
ban. Here courts list (Suzhou twice, Zhanjiang once, a member of west-guangdong), the bans are
issued, one listing is delisted as performed; then icbc's and pbccrc's mirrors hold exactly the
ACTIVE entries, field by field as the view projects them for each, the group's feed and caac's
bans are all there, and a difference planted in icbc's feed (a tombstone for an ACTIVE entry) is
found by the drift check against the view (which a check against the feed cannot see) and
repaired.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from courtbus.config import Connection
from courtbus.sdk import AgencyClient, CourtClient
from courtbus.wire import values as v
from tests.integration.conftest import StartServices
from tests.integration.helpers import Services, TopicReader, mirror_rows, wait_until

pytestmark = pytest.mark.integration
SUZHOU, ZHANJIANG = "3205", "4408"
CASE_PREFIX = {SUZHOU: "苏05", ZHANJIANG: "粤08"}
DEBTORS = ("320583198801011236", "110101199003074477", "440803198507250019")


@pytest.fixture(scope="module")
def services(start_services: StartServices) -> Services:
    return start_services("mirror-view", which=("gateway", "blacklist", "restriction", "feeds"))


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in (SUZHOU, ZHANJIANG)}
    yield clients
    for client in clients.values():
        client.close()


def _latest(conn: Connection, topic: str, prefix: str) -> dict[str, bytes | None]:
    reader = TopicReader(conn, topic)
    try:
        records = reader.read_to_end()
    finally:
        reader.close()
    latest: dict[str, bytes | None] = {}
    for r in records:
        key = (r.key or b"").decode()
        if key.startswith(prefix):
            latest[key] = r.value
    return latest


def _list(court: CourtClient, eid: str, debtor_id: str) -> None:
    case = f"(2024){CASE_PREFIX[court.sender.court.id]}执{uuid.uuid4().int % 90000 + 10000}号"
    court.blacklist.list_debtor(
        eid,
        case,
        {"kind": "PERSON", "name": "赵六", "id_number": debtor_id},
        "REFUSED_WITH_ABILITY",
        obligation="给付 5,000.00 元",
        performance="全部未履行",
        conduct="有履行能力而拒不履行",
        title_issuer="人民法院",
        title_number="(2023)苏05民初7号",
        filed_at=v.now() - timedelta(days=60),
    )


def test_every_mirror_equals_the_national_view_after_list_ban_and_lift(
    conn: Connection, courts: dict[str, CourtClient], tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"bl-nv-{run}-"
    kept, performed, west = prefix + "1", prefix + "2", prefix + "3"
    _list(courts[SUZHOU], kept, DEBTORS[0])
    _list(courts[SUZHOU], performed, DEBTORS[1])
    _list(courts[ZHANJIANG], west, DEBTORS[2])

    # the bans the listings require reach caac (their records share the listings' keys)
    wait_until(
        lambda: all(
            _latest(conn, "agency.caac.restriction", prefix).get(e) for e in (kept, performed, west)
        ),
        90,
        "caac's three bans",
    )
    courts[SUZHOU].blacklist.delist(performed, "PERFORMED")
    view_done = wait_until(
        lambda: (lambda d: d if d.get(performed) is not None and len(d) == 3 else None)(
            _latest(conn, "blacklist.entries", prefix)
        ),
        60,
        "the delisting in the national view",
    )
    assert set(view_done) == {kept, performed, west}

    mirrors = {}
    for agency in ("icbc", "pbccrc"):
        url = f"sqlite:///{tmp_path / agency}.db"
        with AgencyClient(agency, conn) as client:
            check = wait_until(
                lambda c=client, u=url: (lambda r: r if not _ours(r, prefix) else None)(
                    c.verify_mirror("blacklist", u, repair=False)
                ),
                120,
                f"{agency}'s mirror equal to the national view for this test's entries",
            )
        assert check.against == "view"
        rows = mirror_rows(url, prefix)
        assert set(rows) == {kept, west}, agency  # every ACTIVE listing, the delisted one not
        mirrors[agency] = url
    # the group's feed and caac's bans: nothing withdrawn
    group = _latest(conn, "group.west-guangdong.blacklist", prefix)
    assert set(group) == {west} and group[west] is not None
    caac = _latest(conn, "agency.caac.restriction", prefix)
    assert all(caac.get(e) is not None for e in (kept, performed, west))

    # a difference planted in icbc's feed: a tombstone for an ACTIVE entry
    producer = KafkaProducer(**conn.kafka_settings())
    producer.send("agency.icbc.blacklist", key=kept.encode(), value=None)
    producer.flush()
    producer.close()
    with AgencyClient("icbc", conn) as icbc:
        icbc.sync("blacklist", mirrors["icbc"], follow=False)
        assert set(mirror_rows(mirrors["icbc"], prefix)) == {west}  # the mirror followed it
        by_feed = icbc.verify_mirror("blacklist", mirrors["icbc"], against="feed", repair=False)
        assert not _ours(by_feed, prefix)  # the feed carries the error: it sees nothing
        found = icbc.verify_mirror("blacklist", mirrors["icbc"], repair=True)
        assert _ours(found, prefix) == {"missing": [kept]} and found.repaired
        assert set(mirror_rows(mirrors["icbc"], prefix)) == {kept, west}
        again = icbc.verify_mirror("blacklist", mirrors["icbc"], repair=False)
        assert not _ours(again, prefix)


def _ours(check: Any, prefix: str) -> dict[str, list[str]]:
    """The drift a check found among this test's entries (other modules' entries share the
    view and the feeds, and one of them deletes pbccrc's feed on purpose: real drift there)."""
    found = {
        kind: [i for i in getattr(check, kind) if i.startswith(prefix)]
        for kind in ("missing", "changed", "extra")
    }
    return {kind: ids for kind, ids in found.items() if ids}


def test_a_row_changed_in_the_mirror_is_found_field_by_field(
    conn: Connection, courts: dict[str, CourtClient], tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, text

    eid = f"bl-nv-{uuid.uuid4().hex[:8]}-c"
    _list(courts[SUZHOU], eid, DEBTORS[0])
    url = f"sqlite:///{tmp_path / 'pbccrc.db'}"
    with AgencyClient("pbccrc", conn) as client:

        def synced() -> bool:
            client.sync("blacklist", url, follow=False)
            return eid in mirror_rows(url, eid)

        wait_until(synced, 60, "the listing in pbccrc's mirror")
        engine = create_engine(url)
        with engine.begin() as db:
            db.execute(
                text(
                    "UPDATE partner_blacklist SET ground = 'EVADED_EXECUTION' WHERE entry_id = :e"
                ),
                {"e": eid},
            )
        engine.dispose()
        check: Any = client.verify_mirror("blacklist", url)
        assert _ours(check, eid) == {"changed": [eid]} and check.repaired
        assert mirror_rows(url, eid)[eid]["ground"] == "REFUSED_WITH_ABILITY"

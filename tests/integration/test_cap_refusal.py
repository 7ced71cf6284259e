"""A request refused on its annual deduction cap shows in SQL as refused, with its code.

Gateway, delegation service and projector run as processes; the projector stores the
delegation service's decisions, so the refused request is a REFUSED row, not REQUESTED.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stdnum.cn import ric

from courtbus.app import ops
from courtbus.catalogue.policies import EXAMPLES_PATH
from courtbus.config import Connection
from courtbus.sdk import CourtClient
from courtbus.store import ReadModelQueries
from tests.integration.helpers import ServiceProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def read_db(
    conn: Connection, registered: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    ops.apply_topics(conn, ops.plan_topics(conn))
    home: Path = tmp_path_factory.mktemp("caps")
    url = f"sqlite:///{home / 'read.db'}"
    env = {
        "COURTBUS_STORE_URL": url,
        "COURTBUS_PROJECTOR_GROUP": f"projector-{uuid.uuid4().hex[:6]}",
    }
    # No place is named for an annual housing-fund deduction cap (report:786-788): the cap
    # ships only as an example, which these services load.
    rules = {"COURTBUS_POLICIES": str(EXAMPLES_PATH)}
    procs = [
        ServiceProcess("services.projector", conn, home / "projector.log", "consuming", env),
        ServiceProcess(
            "services.gateway", conn, home / "gateway.log", "courtbus-gateway consuming", rules
        ),
        ServiceProcess(
            "services.delegation",
            conn,
            home / "delegation.log",
            "courtbus-delegation consuming",
            rules,
        ),
    ]
    for p in procs:
        p.start()
    try:
        yield url
    finally:
        for p in procs:
            p.stop()


def _debtor_id() -> str:
    """A valid resident ID of Kunshan no other test uses (its own cap counter)."""
    body = f"32058319930312{500 + uuid.uuid4().int % 500:03d}"
    return body + ric.calc_check_digit(body + "0")


@pytest.mark.timeout(300)
def test_a_cap_refused_request_is_refused_in_sql_with_its_code(
    conn: Connection, read_db: str
) -> None:
    debtor = {"kind": "PERSON", "name": "王五", "id_number": _debtor_id()}
    tag = uuid.uuid4().hex[:6]
    first, second = f"dlg-cap-{tag}-1", f"dlg-cap-{tag}-2"
    with CourtClient("3205", conn) as court:  # Suzhou → Xianyang (Shaanxi, the example's region)
        for did in (first, second):
            court.delegation.request_delegation(
                delegation_id=did,
                case_number="(2024)苏05执700号",
                executing_court="6104",
                matter="DEDUCT",
                debtor=debtor,
                asset_kind="HOUSING_FUND",
                amount="30000.00",
            )
    model = ReadModelQueries(read_db)
    try:
        deadline = time.monotonic() + 120
        while True:
            rows = {did: model.delegation(did) for did in (first, second)}
            if all(rows.values()):
                break
            assert time.monotonic() < deadline, f"rows not projected: {rows}"
            time.sleep(0.2)
        # The two requests sit on different partitions: whichever reservation reaches the
        # debtor's cap counter first is delivered, and the other is refused.
        by_state = {row.state: row for row in rows.values() if row is not None}
        assert set(by_state) == {"DELIVERED", "REFUSED"}, rows
        refused = by_state["REFUSED"]
        assert refused.refusal_code == "POLICY_DEDUCTION_CAP"
        assert "50,000.00" in (refused.refusal_reason or "")
        assert "example" in (refused.refusal_reason or "")  # never mistaken for law
        assert [(h.applied, h.error_code) for h in model.history(refused.delegation_id)] == [
            (False, "POLICY_DEDUCTION_CAP")
        ]
        assert debtor["id_number"] not in (refused.refusal_reason or "")
    finally:
        model.close()

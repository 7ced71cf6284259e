"""Annual deduction caps, counted where every request for one debtor meets.

A delegation's state lives in the task of its delegation id, but a cap counts one debtor's
deductions across all delegations, so its counters live in the task of ``debtor:year`` on the
flow's internal topic ``bus.delegation.caps`` (co-partitioned with ``bus.delegation.events``):

1. the delegation's task asks: ``reserve`` keyed by ``debtor:year``;
2. the debtor's task reserves against every cap rule, or refuses: ``granted`` / ``refused``
   keyed by the delegation id, back in the delegation's task, which delivers or refuses;
3. at an end state the delegation's task sends ``settle``: reserved becomes what was deducted.

Internal records are JSON (``cb_kind`` header), never seen by participants.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from courtbus.bus.records import Output, internal_record, read_internal
from courtbus.domain import policy
from courtbus.domain.money import Money
from courtbus.errors import ValidationError
from courtbus.runtime import State, StoreSpec
from courtbus.wire.envelope import RawRecord

CAPS_TOPIC = "bus.delegation.caps"
CHINA = ZoneInfo("Asia/Shanghai")
COUNTERS: StoreSpec[int] = StoreSpec("caps", lambda n: str(n).encode(), lambda b: int(b))


def _record(key: str, kind: str, body: dict[str, Any]) -> Output:
    return internal_record(CAPS_TOPIC, key, kind, body)


def read(raw: RawRecord) -> tuple[str, dict[str, Any]]:
    """(kind, body) of an internal caps record.

    Raises:
        ValidationError: ``CAPS_RECORD_INVALID``.
    """
    return read_internal(raw, ("reserve", "granted", "refused", "settle"), "CAPS_RECORD_INVALID")


def expiry(cap_key: str) -> datetime:
    """A counter (``rule:debtor:year``) is kept until the year after its year ends."""
    year = int(cap_key.rsplit(":", 1)[1])
    return datetime(year + 2, 1, 1, tzinfo=CHINA)


def reserve(
    route: str, delegation_id: str, keys: dict[str, str], ask: policy.DelegationAsk
) -> Output:
    """Ask the debtor's task to reserve ``ask.amount`` against the cap rules ``keys``."""
    return _record(
        route,
        "reserve",
        {
            "delegation_id": delegation_id,
            "keys": keys,
            "ask": {
                "requesting_court": ask.requesting_court,
                "executing_court": ask.executing_court,
                "matter": ask.matter,
                "asset_kind": ask.asset_kind,
                "freeze_period_days": ask.freeze_period_days,
                "amount": str(ask.amount.yuan) if ask.amount is not None else None,
            },
        },
    )


def settle(route: str, keys: list[str], reserved_fen: int, actual_fen: int) -> Output:
    """Turn a reservation into what was really deducted (0: release it)."""
    body = {"keys": keys, "reserved_fen": reserved_fen, "actual_fen": actual_fen}
    return _record(route, "settle", body)


def decide(policies: policy.PolicyCatalogue, body: dict[str, Any], state: State) -> Output:
    """In the debtor's task: reserve against every cap, or refuse; the answer for the delegation."""
    a = body["ask"]
    ask = policy.DelegationAsk(
        a["requesting_court"],
        a["executing_court"],
        a["matter"],
        a["asset_kind"],
        a["freeze_period_days"],
        Money.parse(a["amount"]) if a["amount"] is not None else None,
    )
    counters = state.table(COUNTERS)
    keys: dict[str, str] = body["keys"]
    used = {rule: Money(counters.get(key) or 0) for rule, key in keys.items()}
    did = str(body["delegation_id"])
    try:
        policy.check_request(policies, ask, used)
    except ValidationError as exc:
        return _record(
            did, "refused", {"delegation_id": did, "code": exc.code, "reason": exc.reason}
        )
    amount = ask.amount.fen if ask.amount is not None else 0
    for key in keys.values():
        counters.put(key, (counters.get(key) or 0) + amount, expires=expiry(key))
    return _record(did, "granted", {"delegation_id": did, "reserved_fen": amount})


def apply_settle(body: dict[str, Any], state: State) -> None:
    """In the debtor's task: adjust the counters of a settled reservation."""
    counters = state.table(COUNTERS)
    for key in body["keys"]:
        left = (counters.get(key) or 0) - int(body["reserved_fen"]) + int(body["actual_fen"])
        counters.put(key, max(left, 0), expires=expiry(key))

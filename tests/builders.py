"""The tests' own data: valid identity numbers and one message per flow, built here rather than
taken from the demo's ``courtbus.app.samples`` (which may change with the demo). Fictitious
people and firms. Imports only ``courtbus.wire.values``.

Each builder takes the message's time and ``change`` (fields to replace in the payload).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from courtbus.wire import values as v

# (source participant, outbox topic, record, payload)
Sample = tuple[str, str, str, dict[str, Any]]

PERSON_ID = "320583199303121234"  # valid GB 11643 checksum; not a real person
FIRM_CODE = "91440800MA4UABCD1B"  # valid GB 32100 checksum; not a real firm
PARTNERSHIP_CODE = "91500103MA5UCDEF2D"  # valid GB 32100 checksum; not a real partnership
NS = "cn.court.bus."


def _sample(court: str, record: str, payload: dict[str, Any], change: dict[str, Any]) -> Sample:
    return (f"court:{court}", f"court.{court}.outbox", NS + record, payload | change)


def delegation_requested(at: datetime, **change: Any) -> Sample:
    """court 320583 asks court 6101 to freeze a person's deposit (``DelegationRequested``)."""
    payload = {
        "delegation_id": "dlg-320583-2023-1234-01",
        "matter": "FREEZE",
        "case_number": v.case_number("(2023)苏0583执1234号"),
        "requesting_court": v.court("320583"),
        "executing_court": v.court("6101"),
        "debtor": v.debtor("PERSON", "张三", PERSON_ID),
        "asset_kind": "DEPOSIT",
        "asset_description": "西安某银行账户存款",
        "amount": v.money("120000.00"),
        "freeze_period_days": 365,
        "requested_at": at,
        "note": None,
        "kind": "MATTER",
        "enforced_suit": "(2023)苏0583民初456号",
        "handed_over_measures": None,
    }
    return _sample("320583", "delegation.DelegationRequested", payload, change)


def debtor_listed(at: datetime, **change: Any) -> Sample:
    """court 4408 lists a firm that refused to perform (``DebtorListed``)."""
    payload = {
        "entry_id": "bl-4408-2024-77",
        "case_number": v.case_number("(2024)粤08执77号"),
        "listing_court": v.court("4408"),
        "debtor": v.debtor("ORGANISATION", "湛江某贸易有限公司", FIRM_CODE),
        "legal_representative": "李四",
        "legal_representative_id": PERSON_ID,
        "ground": "REFUSED_WITH_ABILITY",
        "serious": False,
        "period_months": None,
        "obligation": "支付货款人民币 860,000.00 元及利息",
        "listed_at": at,
        "performance": "全部未履行",
        "conduct": "有履行能力而拒不履行生效法律文书确定的义务",
        "title_issuer": "广东省湛江市中级人民法院",
        "title_number": "(2023)粤08民初12号",
        "filed_at": at - timedelta(days=90),
        "applicant": None,
        "security_provided": False,
        "sealed_property_sufficient": False,
        "later_in_order": False,
        "otherwise_not_refusal": False,
        "enforced_suit": "(2023)粤08民初12号",
    }
    return _sample("4408", "blacklist.DebtorListed", payload, change)


def restriction_issued(at: datetime, **change: Any) -> Sample:
    """court 3205 bans a person with a passport from leaving (``RestrictionIssued``)."""
    payload = {
        "control_id": "rc-3205-2023-88-exit",
        "case_number": v.case_number("(2023)苏05执88号"),
        "issuing_court": v.court("3205"),
        "kind": "EXIT_BAN",
        "role": "DEBTOR",
        "debtor": None,
        "subject": v.debtor("PERSON", "张三", PERSON_ID),
        "travel_document": None,
        "document": {"type": "PASSPORT", "number": "E12345678", "nationality": "CHN"},
        "agencies": ["nia"],
        "prohibited": [],
        "issued_at": at,
        "effective_from": at.date(),
        "effective_until": None,
        "reason": "被执行人未履行生效法律文书确定的义务",
    }
    return _sample("3205", "restriction.RestrictionIssued", payload, change)


def distribution_opened(at: datetime, **change: Any) -> Sample:
    """court 50 opens a distribution of a partnership's auction proceeds
    (``DistributionOpened``): 参与分配 is for a citizen or an other organisation, which a
    registered partnership is and a limited company is not (民诉法解释 第五百零六条)."""
    partnership = v.debtor("ORGANISATION", "重庆某餐饮管理合伙企业（普通合伙）", PARTNERSHIP_CODE)
    payload = {
        "distribution_id": "dist-50-2024-5",
        "case_number": v.case_number("(2024)渝执5号"),
        "presiding_court": v.court("50"),
        "debtor": partnership,
        "debtor_form": "OTHER_ORGANISATION",
        "asset_description": "重庆市渝中区某商铺拍卖价款",
        "proceeds": v.money("3500000.00"),
        "claim_deadline": at.date() + timedelta(days=30),
        "opened_at": at,
        "enforcement_started_at": None,
        "sealed_at": None,
    }
    return _sample("50", "distribution.DistributionOpened", payload, change)


def case_filed(at: datetime, **change: Any) -> Sample:
    """court 3174 files an enforcement case against a firm (``CaseFiled``)."""
    payload = {
        "case_number": v.case_number("(2024)沪74执301号"),
        "court": v.court("3174"),
        "debtors": [v.debtor("ORGANISATION", "湛江某贸易有限公司", FIRM_CODE)],
        "amount": v.money("12500000.00"),
        "filed_at": at,
    }
    return _sample("3174", "casestatus.CaseFiled", payload, change)


# one builder per flow, in one_per_flow's order
FLOWS = (delegation_requested, debtor_listed, restriction_issued, distribution_opened, case_filed)


def one_per_flow(at: datetime | None = None) -> list[Sample]:
    """One valid message for each of the five flows (delegation, blacklist, restriction,
    distribution, case status), in that order, each from its own court, sent ``at`` (None:
    now)."""
    t = at or v.now()
    return [build(t) for build in FLOWS]

"""Sample messages, one per flow, for ``make demo`` and the tests. Fictitious people and firms."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from courtbus.wire import values as v

# (source participant, outbox topic, record, payload)
Sample = tuple[str, str, str, dict[str, Any]]

PERSON_ID = "320583199303121234"  # valid GB 11643 checksum; not a real person
FIRM_CODE = "91440800MA4UABCD1B"  # valid GB 32100 checksum; not a real firm
PARTNERSHIP_CODE = "91500103MA5UCDEF2D"  # valid GB 32100 checksum; not a real partnership


def one_per_flow() -> list[Sample]:
    """One realistic message for each of the five flows (delegation … case status)."""
    t = v.now()
    return [
        (
            "court:320583",
            "court.320583.outbox",
            "cn.court.bus.delegation.DelegationRequested",
            {
                "delegation_id": "dlg-320583-2023-1234-01",
                "case_number": v.case_number("(2023)苏0583执1234号"),
                "requesting_court": v.court("320583"),
                "executing_court": v.court("6101"),
                "matter": "FREEZE",
                "debtor": v.debtor("PERSON", "张三", PERSON_ID),
                "asset_kind": "DEPOSIT",
                "asset_description": "西安某银行账户存款",
                "amount": v.money("120000.00"),
                "freeze_period_days": 365,
                "requested_at": t,
                "note": None,
                "kind": "MATTER",  # a freeze: 事项委托 (法释〔2011〕11号 (2020 修正) 第二条第二款)
                "enforced_suit": "(2023)苏0583民初456号",
                "handed_over_measures": None,  # a MATTER hands nothing over (第六条第三款: a CASE)
            },
        ),
        (
            "court:4408",
            "court.4408.outbox",
            "cn.court.bus.blacklist.DebtorListed",
            {
                "entry_id": "bl-4408-2024-77",
                "case_number": v.case_number("(2024)粤08执77号"),
                "listing_court": v.court("4408"),
                "debtor": v.debtor("ORGANISATION", "湛江某贸易有限公司", FIRM_CODE),
                "legal_representative": "李四",
                "ground": "REFUSED_WITH_ABILITY",
                "serious": False,
                "period_months": None,
                "obligation": "支付货款人民币 860,000.00 元及利息",
                "listed_at": t,
                "legal_representative_id": PERSON_ID,
                "performance": "全部未履行",
                "conduct": "有履行能力而拒不履行生效法律文书确定的义务",
                "title_issuer": "广东省湛江市中级人民法院",
                "title_number": "(2023)粤08民初12号",
                "filed_at": t - timedelta(days=90),
                "applicant": None,
                "security_provided": False,
                "sealed_property_sufficient": False,
                "later_in_order": False,
                "otherwise_not_refusal": False,
                "enforced_suit": "(2023)粤08民初12号",
            },
        ),
        (
            "court:3205",
            "court.3205.outbox",
            "cn.court.bus.restriction.RestrictionIssued",
            {
                "control_id": "rc-3205-2023-88-exit",
                "case_number": v.case_number("(2023)苏05执88号"),
                "issuing_court": v.court("3205"),
                "kind": "EXIT_BAN",
                "subject": v.debtor("PERSON", "张三", PERSON_ID),
                "travel_document": None,
                "agencies": ["nia"],
                "issued_at": t,
                "effective_from": date.today(),
                "effective_until": None,
                "reason": "被执行人未履行生效法律文书确定的义务",
                "role": "DEBTOR",
                "debtor": None,
                "document": {"type": "PASSPORT", "number": "E12345678", "nationality": "CHN"},
                "prohibited": [],
            },
        ),
        (
            "court:50",
            "court.50.outbox",
            "cn.court.bus.distribution.DistributionOpened",
            {
                "distribution_id": "dist-50-2024-5",
                "case_number": v.case_number("(2024)渝执5号"),
                "presiding_court": v.court("50"),
                # 参与分配 is for a citizen or an other organisation (民诉法解释 (2022 修正) 第五百零六条); a
                # registered partnership is an other organisation (第五十二条), a limited company
                # is not (an enterprise legal person: 第五百一十一条至第五百一十四条).
                "debtor": v.debtor(
                    "ORGANISATION", "重庆某餐饮管理合伙企业（普通合伙）", PARTNERSHIP_CODE
                ),
                "asset_description": "重庆市渝中区某商铺拍卖价款",
                "proceeds": v.money("3500000.00"),
                "claim_deadline": date.today() + timedelta(days=30),
                "opened_at": t,
                "debtor_form": "OTHER_ORGANISATION",
                "enforcement_started_at": None,
                "sealed_at": None,
            },
        ),
        (
            "court:3174",
            "court.3174.outbox",
            "cn.court.bus.casestatus.CaseFiled",
            {
                "case_number": v.case_number("(2024)沪74执301号"),
                "court": v.court("3174"),
                "debtors": [v.debtor("ORGANISATION", "湛江某贸易有限公司", FIRM_CODE)],
                "amount": v.money("12500000.00"),
                "filed_at": t,
            },
        ),
    ]

"""The two kinds of delegation (法释〔2011〕11号 (2020 修正) 第二条): each kind's clocks, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courtbus.domain.delegation import (
    DeadlineKind,
    Delegation,
    Detail,
    EscalationDecision,
    HandedOver,
    Kind,
    NoticeKind,
    State,
    Step,
    apply,
    check_handover,
    check_kind,
    due_notices,
    next_notice_at,
    request,
)
from courtbus.errors import ValidationError
from tests.builders import PERSON_ID

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)  # Friday, 17:00 in China
REQ, EXE = "320583", "6101"
DELIVERED = T0 + timedelta(hours=1)
FILE_DUE = datetime(2024, 3, 8, 16, 0, tzinfo=UTC)  # day 7 is Friday 03-08; end of it, China
START_DUE = datetime(2024, 3, 18, 16, 0, tzinfo=UTC)  # day 15 Saturday 03-16 -> Monday 03-18


def _delivered(kind: Kind | None, matter: str) -> Delegation:
    d = request("d-k", REQ, EXE, matter, T0, kind=kind)
    return apply(d, Step.DELIVERED, None, DELIVERED)


def test_a_case_delegation_is_filed_in_7_days_then_starts_in_15() -> None:
    """第七条: 受托法院收到委托执行函后，应当在7日内予以立案; 民事诉讼法 第二百四十条: 15 and 30 days."""
    d = _delivered(Kind.CASE, "OTHER")
    assert d.kind is Kind.CASE
    assert [x.kind for x in d.deadlines] == [
        DeadlineKind.FILE,
        DeadlineKind.START,
        DeadlineKind.REPORT,
    ]
    assert d.deadlines[0].due == FILE_DUE and d.deadlines[1].due == START_DUE
    assert next_notice_at(d) == FILE_DUE - timedelta(days=3)
    _, notices = due_notices(d, FILE_DUE + timedelta(seconds=1))
    assert [(n.deadline, n.kind) for n in notices] == [(DeadlineKind.FILE, NoticeKind.OVERDUE)]


def test_accepting_a_case_delegation_files_it() -> None:
    d = apply(_delivered(Kind.CASE, "DEDUCT"), Step.ACCEPTED, EXE, DELIVERED + timedelta(days=1))
    _, notices = due_notices(d, FILE_DUE + timedelta(seconds=1))
    assert notices == []  # filed; START not near yet
    asked = apply(
        _delivered(Kind.CASE, "DEDUCT"), Step.MATERIALS_REQUESTED, EXE, DELIVERED
    )  # asking for materials does not stop the filing clock: the text does not say it does
    _, notices = due_notices(asked, FILE_DUE + timedelta(seconds=1))
    assert (DeadlineKind.FILE, NoticeKind.OVERDUE) in {(n.deadline, n.kind) for n in notices}


@pytest.mark.parametrize("matter", ["SEARCH", "FREEZE", "SEAL", "SERVE", "DEDUCT", "EVICT"])
def test_a_matter_delegation_has_no_filing_start_or_report_clock(matter: str) -> None:
    """第二条第二款: 不作为委托执行案件立案办理，但应当积极予以协助 (no period)."""
    d = _delivered(Kind.MATTER, matter)
    assert d.deadlines == () and next_notice_at(d) is None
    assert due_notices(d, DELIVERED + timedelta(days=400))[1] == []


def test_a_matter_delegation_asks_materials_without_the_30_days() -> None:
    d = apply(_delivered(Kind.MATTER, "FREEZE"), Step.MATERIALS_REQUESTED, EXE, DELIVERED)
    assert d.state is State.MATERIALS_ASKED and d.deadlines == ()
    d = apply(d, Step.MATERIALS_SUPPLIED, REQ, DELIVERED + timedelta(days=40))
    assert d.state is State.DELIVERED


def test_a_matter_delegation_keeps_watching_its_freeze() -> None:
    d = apply(_delivered(Kind.MATTER, "FREEZE"), Step.ACCEPTED, EXE, DELIVERED)
    until = DELIVERED + timedelta(days=365)
    d = apply(d, Step.COMPLETED, EXE, DELIVERED, detail=Detail(until=until))
    assert [x.kind for x in d.deadlines] == [DeadlineKind.LAPSE]


@pytest.mark.parametrize(
    ("step", "detail"),
    [
        (Step.ESCALATED, None),
        (Step.ESCALATION_ANSWERED, Detail(decision=EscalationDecision.ORDERED)),
    ],
)
def test_a_matter_delegation_cannot_be_escalated(step: Step, detail: Detail | None) -> None:
    d = _delivered(Kind.MATTER, "SEARCH")
    by = REQ if step is Step.ESCALATED else "61"
    with pytest.raises(ValidationError) as info:
        apply(d, step, by, DELIVERED + timedelta(days=200), detail=detail)
    assert info.value.code == "DELEGATION_NOT_FOR_MATTER" and "第二条" in info.value.reason


def test_a_matter_delegation_cannot_be_returned() -> None:
    d = apply(_delivered(Kind.MATTER, "SEAL"), Step.MATERIALS_REQUESTED, EXE, DELIVERED)
    later = DELIVERED + timedelta(days=60)
    with pytest.raises(ValidationError) as info:
        apply(d, Step.RETURNED, EXE, later, detail=Detail(approved_at=later))
    assert info.value.code == "DELEGATION_NOT_FOR_MATTER" and "第八条" in info.value.reason


def test_a_case_delegation_escalates_after_15_days() -> None:
    d = _delivered(Kind.CASE, "OTHER")
    assert apply(d, Step.ESCALATED, REQ, START_DUE).escalated


@pytest.mark.parametrize("matter", ["SEARCH", "FREEZE", "SEAL", "SERVE"])
def test_a_case_delegation_of_an_art_2_act_is_refused(matter: str) -> None:
    """第二条第二款: 查询、冻结、查封……送达 are not filed as a 委托执行 case."""
    with pytest.raises(ValidationError) as info:
        request("d-k", REQ, EXE, matter, T0, kind=Kind.CASE)
    assert info.value.code == "DELEGATION_KIND_NOT_ALLOWED"
    assert "第二条" in info.value.reason and "委托异地法院协助查询" in info.value.reason


@pytest.mark.parametrize("kind", ["case", "BOTH", ""])
def test_an_unknown_kind_is_refused(kind: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_kind(kind, "OTHER")
    assert info.value.code == "DELEGATION_KIND_INVALID"


def test_a_request_of_no_kind_keeps_its_old_clocks() -> None:
    """Sent before kinds: START and REPORT only, escalation and return as before."""
    d = _delivered(None, "FREEZE")
    assert d.kind is None
    assert [x.kind for x in d.deadlines] == [DeadlineKind.START, DeadlineKind.REPORT]
    assert apply(d, Step.ESCALATED, REQ, START_DUE).escalated


def _sdk_request(**change: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "case_number": "(2024)苏0583执100号",
        "executing_court": "6101",
        "matter": "SEARCH",
        "debtor": {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
    }
    return fields | change


def test_the_sdk_refuses_a_case_search_and_normalises_the_suit() -> None:
    from courtbus.catalogue.directory import load_directory
    from courtbus.sdk.delegation import check_request

    directory = load_directory()
    with pytest.raises(ValidationError) as info:
        check_request(_sdk_request(kind="CASE"), court_id="320583", directory=directory)
    assert info.value.code == "DELEGATION_KIND_NOT_ALLOWED"
    req = check_request(
        _sdk_request(kind="MATTER", enforced_suit="（2023）苏0583民初 12号"),
        court_id="320583",
        directory=directory,
    )
    assert (req.kind, req.enforced_suit) == ("MATTER", "(2023)苏0583民初12号")
    with pytest.raises(ValidationError) as info:
        check_request(
            _sdk_request(enforced_suit="(2023)苏0583执1号"), court_id="320583", directory=directory
        )
    assert info.value.code == "SUIT_NUMBER_INVALID"


# -- 第六条第三款: a case's own measures handed over with at least a month left -------------


def test_a_handed_over_measure_needs_a_month_left() -> None:
    """A month from 2024-03-01 17:00 China runs out at the end of 04-01 (民法典 201/202)."""
    month = datetime(2024, 4, 1, 16, 0, tzinfo=UTC)
    check_handover(Kind.CASE, [HandedOver("FREEZE", month)], T0)  # a month left: passes
    check_handover("CASE", [HandedOver("SEIZE", month + timedelta(days=300))], T0)
    check_handover(Kind.MATTER, [], T0)  # nothing handed over: any kind
    for measure, until, code in (
        ("SEAL", month - timedelta(minutes=1), "DELEGATION_MEASURE_NOT_RENEWED"),
        ("FREEZE", T0, "DELEGATION_MEASURE_LAPSED"),
        ("DEDUCT", month, "DELEGATION_HANDOVER_INVALID"),
    ):
        with pytest.raises(ValidationError) as info:
            check_handover(Kind.CASE, [HandedOver("FREEZE", month), HandedOver(measure, until)], T0)
        assert info.value.code == code
        assert "measure 2" in info.value.reason
    with pytest.raises(ValidationError) as info:
        check_handover(Kind.MATTER, [HandedOver("FREEZE", month)], T0)
    assert (
        info.value.code == "DELEGATION_HANDOVER_NEEDS_CASE" and "第六条第三款" in info.value.reason
    )
    with pytest.raises(ValidationError, match="DELEGATION_HANDOVER_NEEDS_CASE"):
        check_handover(None, [HandedOver("FREEZE", month)], T0)


def test_the_policy_check_reads_the_hand_over_from_a_decoded_payload() -> None:
    from courtbus.catalogue.directory import load_directory
    from courtbus.catalogue.policies import load_policies
    from courtbus.domain import policy

    rules = load_policies(load_directory())
    until = T0 + timedelta(days=20)
    payload = {
        "requesting_court": {"court_id": REQ},
        "executing_court": {"court_id": EXE},
        "matter": "EVICT",
        "kind": "CASE",
        "requested_at": T0,
        "amount": None,
        "handed_over_measures": [{"measure": "SEAL", "asset_description": "房产", "until": until}],
    }
    ask = policy.ask_from_payload(payload)
    assert ask.handed_over == (HandedOver("SEAL", until),) and ask.at == T0
    with pytest.raises(ValidationError, match="DELEGATION_MEASURE_NOT_RENEWED"):
        policy.check_request(rules, ask)
    renewed = {"measure": "SEAL", "asset_description": "房产", "until": until + timedelta(days=365)}
    policy.check_request(
        rules, policy.ask_from_payload(payload | {"handed_over_measures": [renewed]})
    )
    naive = {"measure": "SEAL", "asset_description": "房产", "until": until.replace(tzinfo=None)}
    with pytest.raises(ValidationError, match="DELEGATION_HANDOVER_INVALID"):
        policy.ask_from_payload(payload | {"handed_over_measures": [naive]})


def test_the_sdk_refuses_a_measure_handed_over_with_under_a_month_left() -> None:
    from courtbus.catalogue.directory import load_directory
    from courtbus.sdk.delegation import check_request

    directory = load_directory()
    soon = datetime.now(UTC) + timedelta(days=10)
    later = datetime.now(UTC) + timedelta(days=200)
    case = {"kind": "CASE", "matter": "EVICT"}
    with pytest.raises(ValidationError) as info:
        check_request(
            _sdk_request(
                **case,
                handed_over_measures=[
                    {"measure": "FREEZE", "asset_description": "银行存款", "until": soon}
                ],
            ),
            court_id="320583",
            directory=directory,
        )
    assert info.value.code == "DELEGATION_MEASURE_NOT_RENEWED"
    with pytest.raises(ValidationError) as info:
        check_request(
            _sdk_request(
                kind="MATTER",
                handed_over_measures=[
                    {"measure": "FREEZE", "asset_description": "银行存款", "until": later}
                ],
            ),
            court_id="320583",
            directory=directory,
        )
    assert info.value.code == "DELEGATION_HANDOVER_NEEDS_CASE"
    req = check_request(
        _sdk_request(
            **case,
            handed_over_measures=[{"measure": "SEAL", "asset_description": "房产", "until": later}],
        ),
        court_id="320583",
        directory=directory,
    )
    assert [m.until for m in req.handed_over_measures] == [later]


def test_the_cli_reads_a_hand_over_as_measure_last_day_description() -> None:
    from courtbus.app.cli.delegation import parse_hand_over, parse_request_line

    seal = parse_hand_over("seal:2027-06-30:昆山市某路1号房产")
    assert seal == {
        "measure": "SEAL",
        "asset_description": "昆山市某路1号房产",
        "until": datetime(2027, 6, 30, 16, 0, tzinfo=UTC),
    }
    for bad in ("SEAL:2027-06-30", "SEAL:2027-13-01:房产", "SEAL:2027-06-30: "):
        with pytest.raises(ValidationError, match="FIELD_INVALID"):
            parse_hand_over(bad)
    line = parse_request_line(
        '{"to": "6101", "case": "(2024)苏0583执1号", "matter": "EVICT", "kind": "CASE", '
        '"debtor-name": "张三", "debtor-id": "x", "hand-over": ["FREEZE:2027-01-31:银行存款"]}'
    )
    assert [m["measure"] for m in line["handed_over_measures"]] == ["FREEZE"]

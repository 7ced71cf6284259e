"""Restriction rules: who an exit or consumption ban binds, what agencies enforce, who lifts,
which acknowledgements are owed (最高人民法院关于限制被执行人高消费及有关消费的若干规定; 民事诉讼法
限制出境)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courtbus.domain import restriction as rs
from courtbus.domain.restriction import Consumption, Kind, Role, Subject, TravelDocument
from courtbus.errors import ValidationError

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
REP = Subject(
    Role.LEGAL_REPRESENTATIVE,
    "李四",
    "320583199303121234",
    TravelDocument.HK_MACAU_PERMIT,
    "C12345678",
)
DEBTOR = Subject(
    Role.DEBTOR, "张三", "320583199303121234", TravelDocument.PASSPORT, "E12345678", "CHN"
)

REFUSED = [
    (
        "an exit ban on an organisation with no named person",
        Kind.EXIT_BAN,
        "ORGANISATION",
        [],
        "RESTRICTION_NO_PERSON",
    ),
    (
        "an organisation named as its own subject",
        Kind.CONSUMPTION_BAN,
        "ORGANISATION",
        [REP, Subject(Role.DEBTOR, "某公司", "91440800MA4UABCD1B")],
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "a person debtor's ban on someone else",
        Kind.CONSUMPTION_BAN,
        "PERSON",
        [REP],
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "an exit ban without a document",
        Kind.EXIT_BAN,
        "PERSON",
        [Subject(Role.DEBTOR, "张三", "320583199303121234")],
        "RESTRICTION_DOCUMENT_INVALID",
    ),
    # issue 21, citations 5: 执行程序解释 第二十四条 does not name the 实际控制人
    (
        "an exit ban on an organisation's actual controller",
        Kind.EXIT_BAN,
        "ORGANISATION",
        [
            Subject(
                Role.ACTUAL_CONTROLLER,
                "王五",
                "320583199303121234",
                TravelDocument.HK_MACAU_PERMIT,
                "C12345678",
            )
        ],
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "a consumption ban on a legal agent",
        Kind.CONSUMPTION_BAN,
        "PERSON",
        [Subject(Role.LEGAL_AGENT, "王五", "320583199303121234")],
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "an organisation's legal agent",
        Kind.EXIT_BAN,
        "ORGANISATION",
        [
            Subject(
                Role.LEGAL_AGENT,
                "王五",
                "320583199303121234",
                TravelDocument.HK_MACAU_PERMIT,
                "C12345678",
            )
        ],
        "RESTRICTION_SUBJECT_INVALID",
    ),
    (
        "a passport without its state",
        Kind.EXIT_BAN,
        "PERSON",
        [Subject(Role.DEBTOR, "张三", "320583199303121234", TravelDocument.PASSPORT, "E12345678")],
        "RESTRICTION_DOCUMENT_INVALID",
    ),
]


@pytest.mark.parametrize(
    ("name", "kind", "debtor", "subjects", "code"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_subjects(
    name: str, kind: Kind, debtor: str, subjects: list[Subject], code: str
) -> None:
    with pytest.raises(ValidationError) as info:
        rs.check_subjects(kind, debtor, subjects)
    assert info.value.code == code


def test_allowed_subjects() -> None:
    rs.check_subjects(Kind.EXIT_BAN, "PERSON", [DEBTOR])
    rs.check_subjects(Kind.EXIT_BAN, "ORGANISATION", [REP])
    rs.check_subjects(
        Kind.CONSUMPTION_BAN,
        "ORGANISATION",
        [Subject(Role.ACTUAL_CONTROLLER, "王五", "320583199303121234")],
    )


def test_exit_bans_bind_the_persons_of_art_24_and_a_legal_agent() -> None:
    with pytest.raises(ValidationError) as info:
        rs.check_subjects(
            Kind.EXIT_BAN,
            "ORGANISATION",
            [
                Subject(
                    Role.ACTUAL_CONTROLLER,
                    "王五",
                    "320583199303121234",
                    TravelDocument.HK_MACAU_PERMIT,
                    "C12345678",
                )
            ],
        )
    assert "第二十四条" in info.value.reason and "ACTUAL_CONTROLLER" in info.value.reason
    for role in (Role.PRINCIPAL, Role.RESPONSIBLE_PERSON):
        rs.check_subjects(
            Kind.EXIT_BAN,
            "ORGANISATION",
            [
                Subject(
                    role, "王五", "320583199303121234", TravelDocument.HK_MACAU_PERMIT, "C12345678"
                )
            ],
        )
    # the 法定代理人 of a debtor without full capacity (第二十四条第二款)
    rs.check_subjects(
        Kind.EXIT_BAN,
        "PERSON",
        [
            Subject(
                Role.LEGAL_AGENT,
                "王五",
                "320583199303121234",
                TravelDocument.HK_MACAU_PERMIT,
                "C12345678",
            )
        ],
    )


def test_the_organisation_refusal_cites_article_3() -> None:
    with pytest.raises(ValidationError) as info:
        rs.check_subjects(Kind.CONSUMPTION_BAN, "ORGANISATION", [])
    assert "第三条" in info.value.reason


def test_the_nine_kinds_of_article_3_and_who_enforces_them() -> None:
    assert len(Consumption) == 9
    every = frozenset(Consumption)
    assert rs.forbidden_for("caac", every) == {Consumption.PREMIUM_TRANSPORT}
    assert rs.forbidden_for("rail", every) == {
        Consumption.PREMIUM_TRANSPORT,
        Consumption.HIGH_SPEED_RAIL,
    }
    assert rs.forbidden_for("rail", frozenset({Consumption.PRIVATE_SCHOOL})) == frozenset()


def test_only_the_issuing_court_lifts_once() -> None:
    c = rs.issued("rc-1", "3205", Kind.EXIT_BAN, frozenset({"nia"}), T0)
    with pytest.raises(ValidationError) as info:
        rs.lift(c, "6101", rs.LiftReason.PERFORMED, T0)
    assert info.value.code == "RESTRICTION_NOT_ISSUER"
    lifted = rs.lift(c, "3205", rs.LiftReason.PERFORMED, T0)
    with pytest.raises(ValidationError) as info:
        rs.lift(lifted, "3205", rs.LiftReason.PERFORMED, T0)
    assert info.value.code == "RESTRICTION_NOT_ACTIVE"
    with pytest.raises(ValidationError) as info:
        rs.check_exemption(lifted, "3205")
    assert info.value.code == "RESTRICTION_NOT_ACTIVE"
    rs.check_exemption(c, "3205")


def test_acknowledgements_owed_after_the_deadline_once_each() -> None:
    c = rs.issued("rc-1", "3205", Kind.CONSUMPTION_BAN, frozenset({"caac", "rail"}), T0)
    with pytest.raises(ValidationError) as info:
        rs.acknowledge(c, "nia", "ISSUE")
    assert info.value.code == "RESTRICTION_AGENCY_NOT_ENTITLED"
    with pytest.raises(ValidationError) as info:
        rs.acknowledge(c, "caac", "LIFT")
    assert info.value.code == "RESTRICTION_ACK_INVALID"
    c = rs.acknowledge(c, "caac", "ISSUE")
    assert rs.owed(c, T0 + timedelta(hours=11)) == []
    assert rs.owed(c, T0 + timedelta(hours=12)) == [("rail", "ISSUE")]
    lifted = rs.lift(c, "3205", rs.LiftReason.CREDITOR_CONSENT, T0 + timedelta(days=1))
    assert rs.owed(lifted, T0 + timedelta(days=1, hours=12)) == [("caac", "LIFT"), ("rail", "LIFT")]
    assert rs.owed(rs.reject(lifted, "rail", "LIFT"), T0 + timedelta(days=2)) == [("caac", "LIFT")]


def test_a_rejection_excuses_only_its_step_and_a_later_ack_counts() -> None:
    c = rs.issued("rc-1", "3205", Kind.CONSUMPTION_BAN, frozenset({"caac", "rail"}), T0)
    with pytest.raises(ValidationError) as info:
        rs.reject(c, "rail", "LIFT")
    assert info.value.code == "RESTRICTION_ACK_INVALID"
    c = rs.reject(c, "rail")
    assert rs.owed(c, T0 + timedelta(hours=12)) == [("caac", "ISSUE")]
    c = rs.acknowledge(c, "rail", "ISSUE")
    assert ("rail", "ISSUE") in c.acked and not c.rejected
    lifted = rs.lift(c, "3205", rs.LiftReason.PERFORMED, T0 + timedelta(days=1))
    assert rs.owed(lifted, T0 + timedelta(days=1, hours=12)) == [("caac", "LIFT"), ("rail", "LIFT")]


def test_which_agencies_a_control_concerns() -> None:
    granted = {
        "nia": frozenset({"EXIT_BAN"}),
        "caac": frozenset({"CONSUMPTION_BAN"}),
        "rail": frozenset({"CONSUMPTION_BAN"}),
        "hotels": frozenset(),
    }
    every = frozenset(Consumption)
    assert rs.agencies_for(Kind.EXIT_BAN, granted, frozenset()) == {"nia", "hotels"}
    assert rs.agencies_for(Kind.CONSUMPTION_BAN, granted, every) == {"caac", "rail", "hotels"}
    # a ban on high-speed trains alone is not the airlines' concern
    only_rail = frozenset({Consumption.HIGH_SPEED_RAIL})
    assert rs.agencies_for(Kind.CONSUMPTION_BAN, granted, only_rail) == {"rail", "hotels"}

"""Exit and consumption restrictions (限制出境, 限制高消费): who may be restricted, what a
consumption ban forbids, who may lift, and which agency answers are still owed. Pure: no I/O,
no clocks.

Sources:
- 最高人民法院关于限制被执行人高消费及有关消费的若干规定 (法释〔2015〕17号, "the consumption
  provisions", 2015 修正; UNVERIFIED: the document number 法释〔2015〕17号 — no text read
  names it; the 2010 text read in LawRefBook/Laws lacks the 2015 changes, whose wording was
  read on court and law-firm pages): art. 1 (a debtor listed as dishonest shall be restricted), art. 3 (the forbidden
  kinds; para. 2: the persons an organisation's ban binds, 实际控制人 included, and their
  因私消费 with their own property, allowed on application), art. 8 (a debtor's consumption
  needed for living or business, allowed on application), art. 9 (lifting);
- 民事诉讼法 (2023 修正) 第二百六十六条 (2021 版 第二百六十二条, 2017 版 第二百五十五条): 人民法院可以对其采取或者通知有关
  单位协助采取限制出境 (the same text in all three);
- 最高人民法院关于适用《中华人民共和国民事诉讼法》执行程序若干问题的解释 ("执行程序解释", 2020 修正)
  第二十三条至第二十五条 (read in LawRefBook/Laws): whose exit may be restricted. Art. 24:
  被执行人为单位的，可以对其法定代表人、主要负责人或者影响债务履行的直接责任人员限制出境; 被执行人为
  无民事行为能力人或者限制民事行为能力人的，可以对其法定代理人限制出境. It does not name the
  实际控制人, whom only a consumption ban binds (限高 (2015 修正) 第三条第二款);
- the source report: the exit-ban system links the courts, the National Immigration
  Administration and the border ports (report:356-366); courts and airlines enforce consumption
  bans on flights (report:372-374).

The acknowledgement deadline (12 hours by default) is an operational choice, not law.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from courtbus.errors import ValidationError

# UNVERIFIED document number (see the module docstring)
CONSUMPTION_PROVISIONS = (
    "最高人民法院关于限制被执行人高消费及有关消费的若干规定 (2015 修正, 法释〔2015〕17号)"
)
EXIT_BAN_SOURCE = (
    "民事诉讼法 (2023 修正) 第二百六十六条 (2021 版 第二百六十二条, 2017 版 第二百五十五条)"
)
EXIT_BAN_PERSONS = (
    "执行程序解释 (2020 修正) 第二十四条: 被执行人为单位的，可以对其法定代表人、主要负责人或者影响债务履行的直接"
    "责任人员限制出境。被执行人为无民事行为能力人或者限制民事行为能力人的，可以对其法定代理人限制出境"
)
ACK_DEADLINE = timedelta(hours=12)  # operational default, configurable


def consumption_art(number: str) -> str:
    """A citation of one article of the consumption provisions."""
    return f"{CONSUMPTION_PROVISIONS} 第{number}条"


class Kind(StrEnum):
    """限制出境 or 限制高消费."""

    EXIT_BAN = "EXIT_BAN"
    CONSUMPTION_BAN = "CONSUMPTION_BAN"


class Consumption(StrEnum):
    """What a consumption ban forbids: the consumption provisions, art. 3 (一)-(九)."""

    PREMIUM_TRANSPORT = "PREMIUM_TRANSPORT"  # (一) 飞机、列车软卧、轮船二等以上舱位
    LUXURY_VENUES = "LUXURY_VENUES"  # (二) 星级以上宾馆、酒店、夜总会、高尔夫球场
    PROPERTY_PURCHASE = "PROPERTY_PURCHASE"  # (三) 购买不动产或者新建、扩建、高档装修房屋
    PREMIUM_OFFICE_LEASE = "PREMIUM_OFFICE_LEASE"  # (四) 租赁高档写字楼、宾馆、公寓等场所办公
    NON_ESSENTIAL_VEHICLE = "NON_ESSENTIAL_VEHICLE"  # (五) 购买非经营必需车辆
    TRAVEL_HOLIDAY = "TRAVEL_HOLIDAY"  # (六) 旅游、度假
    PRIVATE_SCHOOL = "PRIVATE_SCHOOL"  # (七) 子女就读高收费私立学校
    HIGH_PREMIUM_INSURANCE = "HIGH_PREMIUM_INSURANCE"  # (八) 支付高额保费购买保险理财产品
    HIGH_SPEED_RAIL = "HIGH_SPEED_RAIL"  # (九) G字头动车组全部座位、其他动车组一等以上座位等


# Which agency enforces which forbidden kind (the directory grants the feeds).
ENFORCED_BY: dict[str, frozenset[Consumption]] = {
    "caac": frozenset({Consumption.PREMIUM_TRANSPORT}),  # flights
    "rail": frozenset({Consumption.PREMIUM_TRANSPORT, Consumption.HIGH_SPEED_RAIL}),
}


class Role(StrEnum):
    """Who a restriction binds: the debtor, or a person of an organisation debtor (art. 3)."""

    DEBTOR = "DEBTOR"
    LEGAL_REPRESENTATIVE = "LEGAL_REPRESENTATIVE"  # 法定代表人
    PRINCIPAL = "PRINCIPAL"  # 主要负责人
    RESPONSIBLE_PERSON = "RESPONSIBLE_PERSON"  # 影响债务履行的直接责任人员
    ACTUAL_CONTROLLER = "ACTUAL_CONTROLLER"  # 实际控制人: consumption bans only (art. 3 para. 2)
    LEGAL_AGENT = "LEGAL_AGENT"  # 法定代理人 of a debtor without full capacity: exit bans only


# The persons of an organisation debtor each kind of ban may bind.
ORGANISATION_ROLES: dict[Kind, frozenset[Role]] = {
    Kind.EXIT_BAN: frozenset(
        {Role.LEGAL_REPRESENTATIVE, Role.PRINCIPAL, Role.RESPONSIBLE_PERSON}
    ),  # 执行程序解释 (2020 修正) 第二十四条第一款
    Kind.CONSUMPTION_BAN: frozenset(
        {Role.LEGAL_REPRESENTATIVE, Role.PRINCIPAL, Role.RESPONSIBLE_PERSON, Role.ACTUAL_CONTROLLER}
    ),  # 限高 (2015 修正) 第三条第二款
}


class TravelDocument(StrEnum):
    """The document an exit ban names."""

    PASSPORT = "PASSPORT"  # 护照 (a foreigner's with its nationality)
    HK_MACAU_PERMIT = "HK_MACAU_PERMIT"  # 往来港澳通行证
    TAIWAN_PERMIT = "TAIWAN_PERMIT"  # 往来台湾通行证
    HOME_RETURN_PERMIT = "HOME_RETURN_PERMIT"  # 港澳居民来往内地通行证
    TAIWAN_COMPATRIOT_PERMIT = "TAIWAN_COMPATRIOT_PERMIT"  # 台湾居民来往大陆通行证


class LiftReason(StrEnum):
    """Why a restriction is lifted (the consumption provisions, art. 9, and correction)."""

    PERFORMED = "PERFORMED"  # 履行完毕: the court shall lift
    SECURITY_PROVIDED = "SECURITY_PROVIDED"  # 提供确实有效的担保: the court may lift
    CREDITOR_CONSENT = "CREDITOR_CONSENT"  # 经申请执行人同意: the court may lift
    CASE_CONCLUDED = "CASE_CONCLUDED"
    ERROR = "ERROR"  # issued in error (correction)


class Status(StrEnum):
    """A control is in force or lifted."""

    ACTIVE = "ACTIVE"
    LIFTED = "LIFTED"


_DOCUMENT = re.compile(r"^[A-Z0-9]{5,20}$")


@dataclass(frozen=True, slots=True)
class Subject:
    """A natural person a restriction binds, with an identity and, for an exit ban, a document."""

    role: Role
    name: str
    id_number: str
    document: TravelDocument | None = None
    document_number: str | None = None
    nationality: str | None = None


def check_subjects(kind: Kind, debtor_kind: str, subjects: list[Subject]) -> None:
    """An exit ban binds natural persons only: the debtor, or an organisation's named persons.

    Raises:
        ValidationError: ``RESTRICTION_NO_PERSON`` (an organisation with no named person),
            ``RESTRICTION_SUBJECT_INVALID`` (a role that does not fit the debtor),
            ``RESTRICTION_DOCUMENT_INVALID`` (an exit ban without a typed document number,
            a foreign passport without its nationality).
    """
    if debtor_kind == "ORGANISATION":
        persons = [s for s in subjects if s.role is not Role.DEBTOR]
        if not persons:
            if kind is Kind.EXIT_BAN:
                raise ValidationError(
                    "an exit ban binds natural persons only: name the legal representative, "
                    f"principal or directly responsible person ({EXIT_BAN_PERSONS})",
                    code="RESTRICTION_NO_PERSON",
                )
            raise ValidationError(
                "an organisation's consumption ban binds its persons: name the legal "
                "representative, principal, directly responsible person or actual controller "
                f"({consumption_art('三')}第二款)",
                code="RESTRICTION_NO_PERSON",
            )
        if len(persons) != len(subjects):
            raise ValidationError(
                "an organisation is not itself a person to restrict; name its persons",
                code="RESTRICTION_SUBJECT_INVALID",
            )
        for s in persons:
            if s.role not in ORGANISATION_ROLES[kind]:
                allowed = ", ".join(sorted(r.value for r in ORGANISATION_ROLES[kind]))
                source = (
                    EXIT_BAN_PERSONS if kind is Kind.EXIT_BAN else f"{consumption_art('三')}第二款"
                )
                raise ValidationError(
                    f"a {kind.value} of an organisation binds {allowed}, not {s.role.value} "
                    f"({source}; the 实际控制人 is bound by a consumption ban only, "
                    f"{consumption_art('三')}第二款)",
                    code="RESTRICTION_SUBJECT_INVALID",
                )
    elif kind is Kind.EXIT_BAN and [s.role for s in subjects] == [Role.LEGAL_AGENT]:
        pass  # the 法定代理人 of a debtor without full capacity (第二十四条第二款)
    elif [s.role for s in subjects] != [Role.DEBTOR]:
        raise ValidationError(
            "a natural-person debtor's restriction binds the debtor alone (an exit ban may bind "
            f"instead the 法定代理人 of a debtor without full capacity: {EXIT_BAN_PERSONS})",
            code="RESTRICTION_SUBJECT_INVALID",
        )
    if kind is Kind.EXIT_BAN:
        for s in subjects:
            if s.document is None or not _DOCUMENT.match(s.document_number or ""):
                raise ValidationError(
                    f"an exit ban names each person's travel document and its number "
                    f"(5-20 capital letters and digits); {s.name} has none",
                    code="RESTRICTION_DOCUMENT_INVALID",
                )
            if s.document is TravelDocument.PASSPORT and s.nationality is None:
                raise ValidationError(
                    f"{s.name}'s passport needs its issuing state (ISO 3166-1 alpha-3)",
                    code="RESTRICTION_DOCUMENT_INVALID",
                )


def forbidden_for(agency: str, forbidden: frozenset[Consumption]) -> frozenset[Consumption]:
    """What of a consumption ban ``agency`` enforces (empty: the ban is not its concern)."""
    return forbidden & ENFORCED_BY.get(agency, frozenset())


@dataclass(frozen=True, slots=True)
class Control:
    """One restriction as the bus keeps it, with the acknowledgements still owed."""

    control_id: str
    issuing_court: str
    kind: Kind
    agencies: frozenset[str]
    issued_at: datetime
    status: Status = Status.ACTIVE
    lifted_at: datetime | None = None
    lift_reason: LiftReason | None = None
    acked: frozenset[tuple[str, str]] = frozenset()  # (agency, ISSUE|LIFT)
    rejected: frozenset[tuple[str, str]] = frozenset()  # (agency, ISSUE|LIFT)
    overdue_sent: frozenset[tuple[str, str]] = frozenset()
    exemptions: tuple[str, ...] = field(default_factory=tuple)


def issued(
    control_id: str, court: str, kind: Kind, agencies: frozenset[str], at: datetime
) -> Control:
    """A new control, owed an ISSUE acknowledgement by each agency."""
    return Control(control_id, court, kind, agencies, at)


def lift(control: Control, court: str | None, reason: LiftReason, at: datetime) -> Control:
    """The issuing court lifts a control; each agency then owes a LIFT acknowledgement.

    Raises:
        ValidationError: ``RESTRICTION_NOT_ISSUER`` or ``RESTRICTION_NOT_ACTIVE``.
    """
    _check_owner(control, court, "lift")
    if control.status is not Status.ACTIVE:
        raise ValidationError(
            f"control {control.control_id} is already lifted", code="RESTRICTION_NOT_ACTIVE"
        )
    return replace(control, status=Status.LIFTED, lifted_at=at, lift_reason=reason)


def acknowledge(control: Control, agency: str, target: str) -> Control:
    """An agency confirms it enforces (ISSUE) or has lifted (LIFT) the control.

    Raises:
        ValidationError: ``RESTRICTION_AGENCY_NOT_ENTITLED`` (not one of the control's
            agencies), ``RESTRICTION_ACK_INVALID`` (a LIFT acknowledgement before the lift).
    """
    _check_agency(control, agency)
    if target == "LIFT" and control.status is not Status.LIFTED:
        raise ValidationError(
            f"control {control.control_id} is not lifted: nothing to acknowledge",
            code="RESTRICTION_ACK_INVALID",
        )
    step = (agency, target)
    return replace(control, acked=control.acked | {step}, rejected=control.rejected - {step})


def reject(control: Control, agency: str, target: str = "ISSUE") -> Control:
    """An agency cannot carry out a step of the control (e.g. an identity mismatch): the court
    is told, and no acknowledgement of that step is owed any more (a later one still counts).

    Raises:
        ValidationError: ``RESTRICTION_AGENCY_NOT_ENTITLED``, ``RESTRICTION_ACK_INVALID`` (a
            LIFT before the lift).
    """
    _check_agency(control, agency)
    if target == "LIFT" and control.status is not Status.LIFTED:
        raise ValidationError(
            f"control {control.control_id} is not lifted: nothing to reject",
            code="RESTRICTION_ACK_INVALID",
        )
    return replace(control, rejected=control.rejected | {(agency, target)})


def check_agency(control: Control, agency: str) -> None:
    """``agency`` is one of the control's agencies (it may answer or report on it).

    Raises:
        ValidationError: ``RESTRICTION_AGENCY_NOT_ENTITLED``.
    """
    _check_agency(control, agency)


def agencies_for(
    kind: Kind, granted: dict[str, frozenset[str]], forbidden: frozenset[Consumption]
) -> frozenset[str]:
    """The agencies that enforce a control and owe its acknowledgements.

    ``granted``: agency → the kinds its directory feed of restrictions names (empty: all).
    A consumption ban concerns an agency of ``ENFORCED_BY`` only if it forbids something that
    agency enforces (``forbidden_for``); an agency the table does not know is taken at the
    directory's word.
    """
    return frozenset(
        agency
        for agency, kinds in granted.items()
        if (not kinds or kind.value in kinds)
        and (
            kind is not Kind.CONSUMPTION_BAN
            or agency not in ENFORCED_BY
            or forbidden_for(agency, forbidden)
        )
    )


def check_exemption(control: Control, court: str | None) -> None:
    """An exemption (a trip or expense allowed) needs a control in force, granted by its
    issuing court. Two provisions allow one on application: art. 8 (the debtor's consumption
    needed for living or business: 因生活或者经营必需) and art. 3 para. 2 (an organisation's
    persons' 因私消费 with their own property, for an organisation's ban only).

    Raises:
        ValidationError: ``RESTRICTION_NOT_ISSUER`` or ``RESTRICTION_NOT_ACTIVE``.
    """
    _check_owner(control, court, "grant an exemption from")
    if control.status is not Status.ACTIVE:
        raise ValidationError(
            f"control {control.control_id} is lifted: there is nothing to exempt from",
            code="RESTRICTION_NOT_ACTIVE",
        )


def owed(
    control: Control, now: datetime, deadline: timedelta = ACK_DEADLINE
) -> list[tuple[str, str]]:
    """The (agency, ISSUE|LIFT) acknowledgements overdue at ``now`` and not yet reported."""
    target, since = (
        ("LIFT", control.lifted_at)
        if control.status is Status.LIFTED
        else ("ISSUE", control.issued_at)
    )
    if since is None or now < since + deadline:
        return []
    return sorted(
        (agency, target)
        for agency in control.agencies
        if (agency, target) not in control.acked
        and (agency, target) not in control.rejected
        and (agency, target) not in control.overdue_sent
    )


def _check_owner(control: Control, court: str | None, what: str) -> None:
    if court != control.issuing_court:
        raise ValidationError(
            f"only the issuing court {control.issuing_court} may {what} control "
            f"{control.control_id}, not {court or 'an unknown sender'}",
            code="RESTRICTION_NOT_ISSUER",
        )


def _check_agency(control: Control, agency: str) -> None:
    if agency not in control.agencies:
        raise ValidationError(
            f"agency {agency} is not entitled to control {control.control_id}",
            code="RESTRICTION_AGENCY_NOT_ENTITLED",
        )

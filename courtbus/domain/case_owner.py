"""Whose case a case number is: a court acts only on its own cases (issue 21 item 1).

Pure: no I/O; imports the domain layer only.

The rule. A case number's 法院代字 names the court that handles the case:
最高人民法院《关于人民法院案件案号的若干规定》(法〔2015〕137号, as amended by 法〔2018〕335号, version unverified)
第二条: 法院代字是案件承办法院的简化标识. So a court that files a case step, lists a debtor,
issues a restriction, asks for a delegation or opens a distribution "on" a case number acts on
the case of the court whose 代字 that number carries, and that must be the sender.

The exceptions, and where each comes from:

* **A delegated matter** (委托执行). The executing court files the delegated case under its
  own number (最高人民法院关于委托执行若干问题的规定, 法释〔2011〕11号, 2020 修正, 第二条第一款:
  受托法院应当依法立案; 第七条: within 7 days). Its messages on the bus
  (``DelegationAccepted`` … ``DelegationReleased``) name the delegation by its id, never the
  requesting court's case number, so no exception is needed: the check applies to the fields
  of :data:`OWNED_CASE_FIELDS`, which only the requesting court sends.
* **提级执行 / 指定执行.** The superior court may decide to execute the case itself or assign
  another court (民事诉讼法 2023 修正 第二百三十七条 (2021: 第二百三十三条; 2017: 第二百二十六条);
  执行程序解释 2020 修正 第十一条、第十二条; 委托执行规定 2020 修正 第十一条). The court that then
  executes files its own case: 最高人民法院关于进一步规范指定执行等执行案件立案、结案、统计和考核
  工作的通知 (法明传〔2018〕335号, version unverified) 第三条: 首次执行案件因指定执行、提级执行、委托执行(全案)结案的,
  以"销案"方式结案; 接受指定执行、提级执行、委托执行(全案)而立执行案件的, 立"执"字案号 (read on a
  copy of 北大法宝's text, fzzfyjy.cupl.edu.cn; a notice, not a judicial interpretation). So
  the default needs no exception either: that court acts under its own 执 number. Where a
  region works otherwise (a step still sent under the original number while the new case is
  being filed), the law leaves room and it is configurable (:class:`CaseOwnership`,
  ``case_numbers:`` in ``policies/regional.yaml``), off by default and shown only as a marked
  example: ``superior_may_act`` lets a court act on the case number of a court below it (its
  id a proper prefix of the case court's id, the way 法〔2015〕137号 (version unverified) 第五条 builds the 中级、
  基层 codes from the 高院's); ``assigned`` names single cases a ruling handed to another
  court (case number → court id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from courtbus.errors import ValidationError

CASE_NUMBER_RULE = "法〔2015〕137号 (法〔2018〕335号 修改) 第二条: 法院代字是案件承办法院的简化标识"
SUPERIOR_SOURCE = (
    "民事诉讼法 (2023 修正) 第二百三十七条; 执行程序解释 (2020 修正) 第十一条、第十二条; "
    "委托执行规定 (2020 修正) 第十一条; the court that takes the case files it under its own 执 "
    "number: 法明传〔2018〕335号 (version unverified) 第三条"
)
CASE_NOT_SENDERS = "CASE_NOT_SENDERS"

# record short name -> the payload fields holding a case number the sender must own. Only
# records whose sender is named by the payload (courtbus.gateway.rules.SENDERS) and whose
# case number is the sender's own: a claim's case_number is the claiming court's own
# enforcement case (民诉法解释 (2022 修正) 第五百零六条: 已经取得执行依据的债权人), a resumed case's new
# number is the resuming court's. Not here: a suit's or judgment's number (heard elsewhere).
OWNED_CASE_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "DelegationRequested": ("case_number",),
        "DebtorListed": ("case_number",),
        "RestrictionIssued": ("case_number",),
        "DistributionOpened": ("case_number",),
        "DistributionClaimFiled": ("case_number",),
        "CaseFiled": ("case_number",),
        "CaseConcluded": ("case_number",),
        "CaseSuspended": ("case_number",),
        "CaseResumed": ("case_number", "resumed_case_number"),
    }
)


@dataclass(frozen=True, slots=True)
class CaseOwnership:
    """Which courts may act on a case number that is not theirs (see the module's docstring).

    ``source`` is what the configuration rests on; ``example`` marks one loaded from an
    examples file (not law: a refusal's text and the README say so).
    """

    superior_may_act: bool = False
    assigned: Mapping[str, str] = field(default_factory=dict)  # case number text -> court id
    source: str = ""
    example: bool = False


STRICT = CaseOwnership()
"""The default: only the court whose 代字 the case number carries acts on it."""


def is_superior(court_id: str, case_court_id: str) -> bool:
    """Whether ``court_id`` is above ``case_court_id`` by the ids' structure (``32`` above
    ``3205`` above ``320583``; 法〔2015〕137号 (version unverified) 第五条). Special courts whose code is not built
    from their superior's (a railway court's basic courts, say) are not found this way: name
    their cases in ``assigned``."""
    return len(court_id) < len(case_court_id) and case_court_id.startswith(court_id)


def check_case_owner(
    case_text: str,
    case_court_id: str,
    sender_court_id: str,
    where: str,
    ownership: CaseOwnership = STRICT,
) -> None:
    """The sender may act on this case number.

    Raises:
        ValidationError: ``CASE_NOT_SENDERS``, saying whose case it is and what would allow it.
    """
    if case_court_id == sender_court_id:
        return
    if ownership.superior_may_act and is_superior(sender_court_id, case_court_id):
        return
    if ownership.assigned.get(case_text) == sender_court_id:
        return
    raise ValidationError(
        f"{where} {case_text} is court {case_court_id}'s case (its 法院代字; {CASE_NUMBER_RULE}), "
        f"not court {sender_court_id}'s: a court acts on its own cases. Send the step under "
        "your own case number: a delegated matter under the number your court filed it with "
        "(委托执行规定 (2020 修正) 第二条、第七条), a case taken up or assigned (提级执行 / 指定执行, "
        f"{SUPERIOR_SOURCE}) under the number of the court that now executes it",
        code=CASE_NOT_SENDERS,
    )


def check_owned_cases(
    short: str, payload: Mapping[str, object], sender_court_id: str, ownership: CaseOwnership
) -> None:
    """Every case number of :data:`OWNED_CASE_FIELDS` in a ``short`` record is the sender's.

    Expects a payload whose case numbers were already checked (their ``court_id`` agrees with
    the text); a field that is absent or null is skipped.

    Raises:
        ValidationError: ``CASE_NOT_SENDERS``.
    """
    for name in OWNED_CASE_FIELDS.get(short, ()):
        case = payload.get(name)
        if isinstance(case, Mapping):
            check_case_owner(
                str(case.get("text")),
                str(case.get("court_id")),
                sender_court_id,
                f"{short}.{name}",
                ownership,
            )

"""Enforcement case-type codes (类型代字) and the special-court numbers in court designations.

Pure data; imports nothing from outside the standard library.

Source: 最高人民法院《关于人民法院案件案号的若干规定》(法〔2015〕137号) and its annex
《人民法院案件类型及其代字标准》 (as revised in 2018), 执行类案件. The same list of
enforcement cases (实施类: 首次执行, 恢复执行, 财产保全执行; 审查类: 执行异议, 执行复议,
执行监督, 执行请示, 执行协调, 其他执行) is in 最高人民法院《关于执行案件立案、结案若干问题的
意见》(法发〔2014〕26号) 第二条.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CaseType:
    """One case type of the standard: its code in case numbers and its name."""

    code: str  # 类型代字, e.g. 执恢
    name: str  # 案件类型, e.g. 恢复执行案件


ENFORCEMENT_CASE_TYPES: tuple[CaseType, ...] = (
    CaseType("执", "首次执行案件"),
    CaseType("执恢", "恢复执行案件"),
    CaseType("执保", "财产保全执行案件"),
    CaseType("执异", "执行异议案件"),
    CaseType("执复", "执行复议案件"),
    CaseType("执监", "执行监督案件"),
    CaseType("执协", "执行协调案件"),
    CaseType("执请", "执行请示案件"),
    CaseType("执他", "其他执行案件"),
)
"""Every enforcement case type the bus accepts, in the standard's order."""

NOT_CASE_TYPES: dict[str, str] = {
    "执转": "not a code of the standard: a transfer from enforcement to bankruptcy (执转破) "
    "is filed as a bankruptcy case (破申)",
    "执破": "not a code of the standard: bankruptcy cases use 破 codes (破申, 破, ...)",
}
"""Codes sometimes written but not in the standard, with why; refused as unknown type codes."""

BY_TYPE_CODE: dict[str, CaseType] = {t.code: t for t in ENFORCEMENT_CASE_TYPES}

SPECIAL_COURT_NUMBERS: dict[str, str] = {
    "71": "铁路运输法院",  # railway transport courts, e.g. 辽71
    "72": "海事法院",  # maritime courts, e.g. 沪72 (上海海事法院)
    "73": "知识产权法院",  # intellectual-property courts, e.g. 京73
    "74": "金融法院",  # financial courts, e.g. 沪74 (上海金融法院)
}
"""Two-digit numbers after a province abbreviation that name a special court, not a city."""

SUPREME_COURT_DESIGNATION = "最高法"
MILITARY_COURT_DESIGNATION = "军"

"""Enforcement case-type codes (类型代字) and the special-court numbers in court designations.

Pure data; imports nothing from outside the standard library.

Sources:

- 最高人民法院《关于人民法院案件案号的若干规定》(法〔2015〕137号) and its annex
  《人民法院案件类型及其代字标准》, as amended by 《关于修改〈关于人民法院案件案号的若干规定〉的
  决定》(法〔2018〕335号, version unverified; read on zh.wikisource.org): 第二条 the elements of a case number (收案
  年度、法院代字、专门审判代字、类型代字、案件编号: the 2018 amendment added the 专门审判代字, one
  Chinese character the Supreme People's Court sets for a kind of specialised trial); 第五条第二款
  第三项 the two-digit numbers of special intermediate courts (``SPECIAL_COURT_NUMBERS``).
- 最高人民法院《关于执行案件立案、结案若干问题的意见》(法发〔2014〕26号; read on a court's page,
  qqherls.hljcourt.gov.cn): 第一条 the kinds of enforcement case (执行实施类: 申请执行人申请、审判
  机构移送、受托、提级、指定和依职权; 执行审查类: 异议、复议、申诉、请示、协调、管辖权的移转),
  第二条 that the 立案机构 files them, 第四条 that it gives each its 类型代字 and number under the
  意见.
- UNVERIFIED: the enforcement rows of the annex (the codes below) were not read in an official
  text; they are the codes case numbers print (执, 执恢, 执保, 执异, 执复, 执监, 执协, 执请, 执他).
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

SUIT_CASE_TYPES: tuple[CaseType, ...] = (
    CaseType("民初", "民事一审案件"),
    CaseType("民终", "民事二审案件"),
)
"""The civil suits an enforcement may name as the one it enforces (``enforced_suit``): first
instance and appeal. UNVERIFIED, like the enforcement rows: the civil rows of the annex of
法〔2015〕137号 were not read; 民初 and 民终 are the codes case numbers print."""

NOT_CASE_TYPES: dict[str, str] = {
    "执转": "not a code of the standard: a transfer from enforcement to bankruptcy (执转破) "
    "is filed as a bankruptcy case (破申)",
    "执破": "not a code of the standard: bankruptcy cases use 破 codes (破申, 破, ...)",
}
"""Codes sometimes written but not in the standard, with why; refused as unknown type codes."""

BY_TYPE_CODE: dict[str, CaseType] = {t.code: t for t in ENFORCEMENT_CASE_TYPES}

SPECIAL_COURT_NUMBERS: dict[str, str] = {
    "71": "铁路运输中级法院",  # e.g. 辽71
    "72": "海事法院",  # e.g. 沪72 (上海海事法院)
    "73": "知识产权法院",  # e.g. 京73
    "74": "油田中级法院",
    **{str(n): "林业中级法院" for n in range(75, 81)},
    **{str(n): "农垦中级法院" for n in range(81, 86)},
    **{str(n): "跨行政区划中级法院" for n in range(87, 96)},
    **{str(n): "为省（自治区）内部分县级行政区划对应设立的中级法院" for n in range(96, 100)},
}
"""Two-digit numbers after a province abbreviation that name a special intermediate court, not
a city: 法〔2015〕137号 (version unverified) 第五条第二款第三项 as amended by 法〔2018〕335号 (71 铁路, 72 海事, 73 知识产权,
74 油田, 75-80 林业, 81-85 农垦, 87-95 跨行政区划, 96-99). 74 is not 金融法院 in that text; the
financial courts' designations (上海金融法院 沪74 in the directory, as its case numbers print)
come from no text read here (UNVERIFIED)."""

SPECIALISED_TRIAL_CODE_DOC = (
    "法〔2018〕335号 (version unverified) 第二条: 专门审判代字是最高人民法院确定的专门审判类别简称，用1个中文汉字表示 "
    "(between the 法院代字 and the 类型代字)"
)
"""The 专门审判代字 element. The bus's case numbers do not carry one yet: the SPC's list of
codes was not read (UNVERIFIED), and ``cn.court.bus.CaseNumber`` has no field for it, so a
case number with one is refused as not an enforcement number (CASE_NUMBER_TYPE_CODE)."""

SUPREME_COURT_DESIGNATION = "最高法"
MILITARY_COURT_DESIGNATION = "军"

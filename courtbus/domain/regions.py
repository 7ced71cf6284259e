"""Province-level divisions and the one-character designations courts use in case numbers.

Pure data; imports nothing from outside the standard library. Codes are GB/T 2260 two-digit
province codes, which prefix every ``court_id``; 兵 (XPCC courts) uses 66. A few cities that
regional rules name are listed too: a city's courts share a four-digit court-id prefix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Province:
    """A province-level division as courts name it."""

    code: str  # two ASCII digits, GB/T 2260
    abbr: str  # the designation character(s) in case numbers, e.g. 苏
    name: str  # e.g. 江苏省


PROVINCES: tuple[Province, ...] = (
    Province("11", "京", "北京市"),
    Province("12", "津", "天津市"),
    Province("13", "冀", "河北省"),
    Province("14", "晋", "山西省"),
    Province("15", "内", "内蒙古自治区"),
    Province("21", "辽", "辽宁省"),
    Province("22", "吉", "吉林省"),
    Province("23", "黑", "黑龙江省"),
    Province("31", "沪", "上海市"),
    Province("32", "苏", "江苏省"),
    Province("33", "浙", "浙江省"),
    Province("34", "皖", "安徽省"),
    Province("35", "闽", "福建省"),
    Province("36", "赣", "江西省"),
    Province("37", "鲁", "山东省"),
    Province("41", "豫", "河南省"),
    Province("42", "鄂", "湖北省"),
    Province("43", "湘", "湖南省"),
    Province("44", "粤", "广东省"),
    Province("45", "桂", "广西壮族自治区"),
    Province("46", "琼", "海南省"),
    Province("50", "渝", "重庆市"),
    Province("51", "川", "四川省"),
    Province("52", "黔", "贵州省"),
    Province("53", "云", "云南省"),
    Province("54", "藏", "西藏自治区"),
    Province("61", "陕", "陕西省"),
    Province("62", "甘", "甘肃省"),
    Province("63", "青", "青海省"),
    Province("64", "宁", "宁夏回族自治区"),
    Province("65", "新", "新疆维吾尔自治区"),
    Province("66", "兵", "新疆生产建设兵团"),
)

BY_CODE: dict[str, Province] = {p.code: p for p in PROVINCES}
BY_ABBR: dict[str, Province] = {p.abbr: p for p in PROVINCES}


@dataclass(frozen=True, slots=True)
class City:
    """A prefecture-level city, as a regional rule names it.

    The directory records only a court's province, but a court id carries its city: the
    intermediate court of a city is ``<province><city>`` (辽02 → ``2102``, the GB/T 2260 code
    of 大连市) and its basic courts extend that prefix (辽0202 → ``210202``). Special courts
    seated in the city (maritime, railway transport: 辽72, 辽71) have other numbers and are
    not among its courts.
    """

    prefix: str  # four ASCII digits: the GB/T 2260 province + city code
    name: str  # province and city, e.g. 辽宁省大连市


# Only the cities a regional rule names (policies/regional.yaml).
CITIES: tuple[City, ...] = (City("2102", "辽宁省大连市"),)

BY_NAME: dict[str, Province] = {p.name: p for p in PROVINCES}
CITY_BY_NAME: dict[str, City] = {c.name: c for c in CITIES}

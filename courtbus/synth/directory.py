"""A synthetic participant directory at national size (about 3,500 courts), same shape as
``topics/directory.yaml``: for scale tests of what grows with the directory (the gateway's
tasks, one outbox per participant, the topic catalogue).

Pure: no I/O but ``write_directory``, no clock; imports the catalogue, the domain layer and
the standard library. Deterministic: the same seed and sizes give the same file on every run.

What is real: the province-level divisions and their designations (courtbus.domain.regions),
the shape of court ids (province + prefecture + county digits, GB/T 2260 style: districts
from 02, counties from 21, county-level cities from 81; the municipalities' basic courts under
their 01), the number of prefecture-level divisions of each province (roughly, 2020) and the
court levels. The split of county-level courts is proportioned on each province's 2020 count
of county-level divisions and scaled to ``courts``; special courts (railway transport 71,
maritime 72, intellectual property 73, financial 74) stand where such courts are seated.
What is invented: every city, county and court name. The shipped directory's entries are
kept as they are (its courts, agencies, feeds and groups), so the shipped regional rules,
which name some of them, still load against the generated one.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from courtbus.catalogue.directory import (
    Agency,
    AgencyKind,
    Court,
    CourtLevel,
    Directory,
    Feed,
    load_directory,
)
from courtbus.domain.courts import designation_from_court_id
from courtbus.domain.regions import BY_CODE, PROVINCES

NATIONAL_COURTS = 3_500
"""About how many courts China has (the Supreme People's Court aside)."""

# Prefecture-level divisions per province (for the four municipalities: their intermediate
# courts, 京01-京04 and so on), and county-level divisions (2020, roughly), which the basic
# courts follow. 兵团 (66): its divisions' intermediate courts and its basic courts.
_PREFECTURES: dict[str, int] = {
    "11": 4,
    "12": 3,
    "13": 11,
    "14": 11,
    "15": 12,
    "21": 14,
    "22": 9,
    "23": 13,
    "31": 3,
    "32": 13,
    "33": 11,
    "34": 16,
    "35": 9,
    "36": 11,
    "37": 16,
    "41": 17,
    "42": 17,
    "43": 14,
    "44": 21,
    "45": 14,
    "46": 4,
    "50": 5,
    "51": 21,
    "52": 9,
    "53": 16,
    "54": 7,
    "61": 10,
    "62": 14,
    "63": 8,
    "64": 5,
    "65": 14,
    "66": 14,
}
_COUNTIES: dict[str, int] = {
    "11": 16,
    "12": 16,
    "13": 167,
    "14": 117,
    "15": 103,
    "21": 100,
    "22": 60,
    "23": 121,
    "31": 16,
    "32": 95,
    "33": 90,
    "34": 104,
    "35": 84,
    "36": 100,
    "37": 136,
    "41": 157,
    "42": 103,
    "43": 122,
    "44": 122,
    "45": 111,
    "46": 25,
    "50": 38,
    "51": 183,
    "52": 88,
    "53": 129,
    "54": 74,
    "61": 107,
    "62": 86,
    "63": 44,
    "64": 22,
    "65": 107,
    "66": 40,
}
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
# Special courts (法院组织法 (2018 修订) 第十五条): province code -> numbers seated there.
_SPECIAL_KINDS = {
    "71": "铁路运输中级法院",
    "72": "海事法院",
    "73": "知识产权法院",
    "74": "金融法院",
}
_SPECIAL: dict[str, tuple[str, ...]] = {
    "11": ("71", "73", "74"),
    "12": ("71", "72"),
    "21": ("71", "72"),
    "22": ("71",),
    "23": ("71",),
    "31": ("71", "72", "73", "74"),
    "32": ("71",),
    "33": ("72",),
    "35": ("71", "72"),
    "37": ("71", "72"),
    "41": ("71",),
    "42": ("71", "72"),
    "43": ("71",),
    "44": ("71", "72", "73"),
    "45": ("71", "72"),
    "46": ("72", "73"),
    "50": ("74",),
    "51": ("71",),
    "53": ("71",),
    "61": ("71",),
    "62": ("71",),
    "65": ("71",),
}
# Characters names are drawn from (two each): common in Chinese place names.
_NAME_CHARS = (
    "安平宁阳江河山城东西南北新永长丰德兴化临清泉林湖海州通昌华定武乐康宜龙凤台水石云明"
    "广福庆吉远泰和成文白黄金青松桂春溪源沙川峰"
)
_NATIONAL_BANKS = (
    ("abc", "中国农业银行股份有限公司"),
    ("boc", "中国银行股份有限公司"),
    ("ccb", "中国建设银行股份有限公司"),
    ("bocom", "交通银行股份有限公司"),
    ("psbc", "中国邮政储蓄银行股份有限公司"),
    ("cmb", "招商银行股份有限公司"),
    ("citic", "中信银行股份有限公司"),
    ("ceb", "中国光大银行股份有限公司"),
    ("cmbc", "中国民生银行股份有限公司"),
    ("cib", "兴业银行股份有限公司"),
    ("spdb", "上海浦东发展银行股份有限公司"),
    ("pab", "平安银行股份有限公司"),
    ("hxb", "华夏银行股份有限公司"),
    ("cgb", "广发银行股份有限公司"),
    ("czb", "浙商银行股份有限公司"),
    ("cbhb", "渤海银行股份有限公司"),
)
_BANK_FIELDS = (
    "entry_id",
    "case_number",
    "listing_court",
    "debtor",
    "ground",
    "period_months",
    "listed_at",
    "delisted_at",
    "reason",
)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the generated directory is: ``courts`` in all (the shipped ones included, at
    least one high and one intermediate court per province) and ``banks`` beyond the shipped
    agencies (national banks first, then one rural credit union per province)."""

    courts: int = NATIONAL_COURTS
    banks: int = len(_NATIONAL_BANKS) + len(PROVINCES)


def _numeral(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十 (up to 99), as court and division names write them."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else "十" if tens == 1 else digits[tens] + "十"
    return head + (digits[ones] if ones else "")


class _Names:
    """Two-character names, unique within one scope (a province, a prefecture)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def take(self) -> str:
        for _ in range(10_000):
            name = "".join(self.rng.choices(_NAME_CHARS, k=2))
            if name not in self.used and name[0] != name[1]:
                self.used.add(name)
                return name
        raise RuntimeError("name pool exhausted")  # 73 × 72 names: never reached


def _county_counts(total_basic: int) -> dict[str, int]:
    """Basic courts per province: proportional to its county-level divisions, summing to
    ``total_basic`` (largest remainders), at least one each."""
    weight = sum(_COUNTIES.values())
    exact = {code: total_basic * n / weight for code, n in _COUNTIES.items()}
    counts = {code: max(1, int(x)) for code, x in exact.items()}
    rest = total_basic - sum(counts.values())
    for code in sorted(exact, key=lambda c: (int(exact[c]) - exact[c], c))[: max(0, rest)]:
        counts[code] += 1
    return counts


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` (each at least 1 if total allows), unevenly."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in rng.sample(range(parts), k=min(parts, total - sum(counts))):
        counts[i] += 1
    return counts


def _basic_numbers(rng: random.Random, count: int) -> list[str]:
    """Two-digit county codes of one prefecture's ``count`` basic courts (at most 97):
    districts from 02, counties from 21, county-level cities from 81 (GB/T 2260)."""
    if count <= 0:
        return []
    districts = min(18, rng.randint(1, max(1, count // 2)))
    cities = min(19, rng.randint(0, count // 5), count - districts)
    counties = count - districts - cities
    if counties > 60:  # counties end at 80, where the cities begin
        counties = 60
    numbers = [f"{2 + i:02d}" for i in range(districts)]
    numbers += [f"{21 + i:02d}" for i in range(counties)]
    return numbers + [f"{81 + i:02d}" for i in range(cities)]


def _province_courts(code: str, basic: int, rng: random.Random) -> Iterator[Court]:
    province = BY_CODE[code]
    names = _Names(rng)
    yield Court(code, province.abbr, f"{province.name}高级人民法院", province.name, CourtLevel.HIGH)
    prefectures = _PREFECTURES[code]
    city_names = []
    for p in range(1, prefectures + 1):
        city = f"第{_numeral(p)}师" if code == "66" else f"{names.take()}市"
        city_names.append(city)
        court_id = f"{code}{p:02d}"
        name = (
            f"{province.name}第{_numeral(p)}中级人民法院"
            if code in _MUNICIPALITIES
            else f"{province.name}{city}中级人民法院"
        )
        yield Court(
            court_id,
            designation_from_court_id(court_id),
            name,
            province.name,
            CourtLevel.INTERMEDIATE,
        )
    for number in _SPECIAL.get(code, ()):
        court_id = f"{code}{number}"
        yield Court(
            court_id,
            designation_from_court_id(court_id),
            f"{province.name}{_SPECIAL_KINDS[number]}",
            province.name,
            CourtLevel.SPECIAL,
        )
    # a municipality's districts and counties are all under its 01 (京0101 东城区人民法院)
    homes = [1] if code in _MUNICIPALITIES else list(range(1, prefectures + 1))
    for home, count in zip(homes, _split(rng, basic, len(homes)), strict=True):
        local = _Names(rng)
        city = "" if code in _MUNICIPALITIES else city_names[home - 1]
        for number in _basic_numbers(rng, count):
            court_id = f"{code}{home:02d}{number}"
            kind = "区" if number < "21" else "县" if number < "81" else "市"
            label = "垦区" if code == "66" else kind
            name = f"{province.name}{city}{local.take()}{label}人民法院"
            yield Court(
                court_id, designation_from_court_id(court_id), name, province.name, CourtLevel.BASIC
            )


def _banks(count: int) -> Iterator[tuple[Agency, Feed]]:
    pool = [(i, n) for i, n in _NATIONAL_BANKS]
    pool += [(f"rcu-{p.code}", f"{p.name}农村信用社联合社") for p in PROVINCES]
    for agency_id, name in pool[:count]:
        yield (
            Agency(agency_id, name, AgencyKind.BANK),
            Feed(agency_id, "blacklist", (), _BANK_FIELDS),
        )


def national_directory(
    seed: int = 0, sizes: Sizes = Sizes(), base: Directory | None = None
) -> Directory:
    """A directory of about ``sizes.courts`` courts over every province, and agencies.

    ``base`` (default: the shipped directory) is kept as it is; generated entries whose id is
    already there are left out. Courts are ordered by province, then id.
    """
    base = base if base is not None else load_directory(_shipped())
    fixed = sum(1 + _PREFECTURES[p.code] + len(_SPECIAL.get(p.code, ())) for p in PROVINCES)
    per_province = _county_counts(max(len(PROVINCES), sizes.courts - fixed))
    courts = {c.id: c for c in base.courts}
    for province in PROVINCES:
        local = random.Random(f"{seed}:{province.code}")
        for court in _province_courts(province.code, per_province[province.code], local):
            courts.setdefault(court.id, court)
    # trim or fill to the exact size: drop basic courts from the end, never a shipped one
    order = sorted(courts.values(), key=lambda c: (c.id[:2], len(c.id) > 2, c.id))
    shipped = {c.id for c in base.courts}
    extra = len(order) - sizes.courts
    if extra > 0:  # the shipped courts beyond the generated ones
        drop = [
            c.id for c in reversed(order) if c.level is CourtLevel.BASIC and c.id not in shipped
        ][:extra]
        gone = set(drop)
        order = [c for c in order if c.id not in gone]
    agencies = list(base.agencies)
    feeds = list(base.feeds)
    known = {a.id for a in agencies}
    for agency, feed in _banks(sizes.banks):
        if agency.id not in known:
            agencies.append(agency)
            feeds.append(feed)
    return Directory(tuple(order), tuple(agencies), tuple(feeds), dict(base.groups))


def _shipped() -> Path:
    from courtbus.resources import data_dir

    return data_dir() / "topics" / "directory.yaml"


def _scalar(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def render(directory: Directory, seed: int) -> str:
    """``directory`` as directory YAML, one flow mapping per court and agency."""
    lines = [
        f"# Synthetic national participant directory (courtbus.synth.directory, seed {seed}):",
        f"# {len(directory.courts)} courts, {len(directory.agencies)} agencies. Ids and levels "
        "look real; every name is invented.",
        "# Generated: `courtbus directory generate`; point the services at it with "
        "COURTBUS_DIRECTORY.",
        "",
        "courts:",
    ]
    for c in directory.courts:
        lines.append(
            f"  - {{id: {_scalar(c.id)}, designation: {_scalar(c.designation)}, "
            f"name: {_scalar(c.name)}, province: {_scalar(c.province)}, level: {c.level.value}}}"
        )
    lines += ["", "agencies:"]
    for a in directory.agencies:
        lines.append(f"  - {{id: {_scalar(a.id)}, name: {_scalar(a.name)}, kind: {a.kind.value}}}")
    lines += ["", "feeds:"]
    for f in directory.feeds:
        kinds = f", kinds: [{', '.join(f.kinds)}]" if f.kinds else ""
        lines.append(
            f"  - {{agency: {_scalar(f.agency)}, flow: {f.flow}{kinds}, "
            f"fields: [{', '.join(f.fields)}]}}"
        )
    lines += ["", "groups:"]
    for name, members in directory.groups.items():
        lines.append(f"  {name}: [{', '.join(_scalar(m) for m in members)}]")
    return "\n".join(lines) + "\n"


def write_directory(path: Path, seed: int = 0, sizes: Sizes = Sizes()) -> Directory:
    """Generate a national directory and write it to ``path`` (validated by reading it back).

    Raises:
        ConfigError: ``DIRECTORY_INVALID`` if what was written does not validate (a bug).
    """
    directory = national_directory(seed, sizes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(directory, seed), encoding="utf-8")
    return load_directory(path)

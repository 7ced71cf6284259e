"""Every legal citation names the version it cites (issue 21).

The scanner is deliberately simple: a cited instrument (a short name such as 民事诉讼法 or
民诉法解释, a full 最高人民法院关于……的规定/解释 title, or a document number such as
法释〔2011〕11号) followed within a few characters by an article (第…条, Art. N) must have a
version marker between the two: a year (not the one inside a document number's 〔〕), 修正,
修订, 修改, 版, "amended by", "unverified" or "ibid.". An article cited with no instrument before it (第五百零九条
after 民诉法解释 (2022 修正) 第五百零八条) takes the version of the one it follows.

Versions and the texts they were checked against: see the commit "citations name their
versions" (LawRefBook/Laws: 民事诉讼法 2021/2023, 民诉法解释 2020/2022, 执行程序解释 2020,
委托执行规定 2020, 民法典, 企业破产法 2006, 公司法 2023, 查封扣押冻结规定 2020, 人民法院组织法
2018, 建设工程施工合同解释（一） 2020; 限高 2010 text plus the 2015 修正 as published).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ALLOWED_FILES: frozenset[str] = frozenset()  # none: every file names its versions
ALLOWED_GLOBS: tuple[str, ...] = ()

# Quotations of a law's own text, which cites another law the way the text does.
QUOTATIONS = ("符合企业破产法第二条第一款",)

SHORT_NAMES = (
    "民诉法解释",
    "民事诉讼法",
    "民法典",
    "企业破产法",
    "公司法",
    "执行程序解释",
    "限制高消费规定",
    "限高",
    "委托执行规定",
    "失信名单规定",
    "查封扣押冻结规定",
    "法院组织法",
    "建设工程施工合同解释",
)
INSTRUMENT = re.compile(
    "|".join(map(re.escape, SHORT_NAMES))
    + r"|最高人民法院关于[^，。；;:：()（）\n]{2,60}?(?:规定|解释|意见|批复|通知)(?:（[一二三]）)?"
    + r"|法(?:释|发|明传)?〔\d{4}〕\d+号"
)
ARTICLE = re.compile(r"第[一二三四五六七八九十百千零〇\d、]+条|\b[Aa]rt\. ?\d+")
# A year outside a document number's 〔〕, or a word that names the version.
MARKER = re.compile(
    r"(?<!〔)(?<!\d)(?:19|20)\d{2}(?!\d)(?!〕)|修正|修订|修改|版|amended by|unverified|ibid\."
)
GAP = 40  # characters between the instrument and the article


def unversioned(text: str) -> list[tuple[int, str]]:
    """(line, citation) for each instrument followed by an article with no version between."""
    for quote in QUOTATIONS:
        text = text.replace(quote, " " * len(quote))
    found: list[tuple[int, str]] = []
    matches = list(INSTRUMENT.finditer(text))
    for i, m in enumerate(matches):
        limit = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        article = ARTICLE.search(text, m.end(), min(limit, m.end() + GAP))
        if article is None:
            continue
        between = text[m.start() : article.start()]
        if MARKER.search(between):
            continue
        line = text.count("\n", 0, m.start()) + 1
        found.append((line, text[m.start() : article.end()].replace("\n", " ")))
    return found


def scanned() -> list[Path]:
    files = [
        *sorted((ROOT / "courtbus").rglob("*.py")),
        *sorted((ROOT / "services").rglob("*.py")),
        *sorted((ROOT / "courtbus/data").rglob("*.yaml")),
        *sorted((ROOT / "courtbus/data/schemas/avro").glob("*.avsc")),
        ROOT / "README.md",
    ]
    kept = []
    for path in files:
        rel = path.relative_to(ROOT)
        if str(rel) in ALLOWED_FILES or any(rel.match(g) for g in ALLOWED_GLOBS):
            continue
        kept.append(path)
    return kept


def test_every_citation_names_its_version() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {cite}"
        for path in scanned()
        for line, cite in unversioned(path.read_text(encoding="utf-8"))
    ]
    assert not bad, "citations without a version:\n" + "\n".join(bad)


def test_the_scan_covers_the_sources() -> None:
    names = {str(p.relative_to(ROOT)) for p in scanned()}
    assert "README.md" in names
    assert "courtbus/domain/distribution_plan.py" in names
    assert "courtbus/data/policies/deadlines.yaml" in names
    assert any(n.endswith("DistributionView.avsc") for n in names)
    assert "courtbus/domain/delegation.py" in names
    assert "services/delegation/flow.py" in names


def test_unversioned_citations_are_found() -> None:
    old = (
        "参与分配 (民诉法解释 第五百零六条)\n"
        "# Counting: 民事诉讼法 第八十五条\n"
        "a construction price (民法典 第八百零七条)\n"
        "the bankruptcy test (企业破产法 第二条第一款)\n"
        "(分公司: 公司法\n    第十三条第二款)\n"
        "(执行程序解释 第二十四条; 限高 第三条第二款)\n"
        "(法释〔2011〕11号 第八条: 视为撤回委托)\n"
        "(最高人民法院关于委托执行若干问题的规定 (法释〔2011〕11号) 第八条)\n"
        "the maxima of 民诉法解释 art. 485\n"
        "民事诉讼法 第二百四十条 (2021 版 第二百三十六条)\n"
    )
    assert [line for line, _ in unversioned(old)] == [1, 2, 3, 4, 5, 7, 7, 8, 9, 10, 11]


def test_versioned_citations_pass() -> None:
    new = (
        "民诉法解释 (2022 修正) 第四百八十五条\n"
        "民事诉讼法 (2023 修正) 第二百四十条 (2021 版 第二百三十六条, 2017 版 第二百二十九条)\n"
        "民法典 (2020) 第八百零七条; 企业破产法 (2006) 第二条第一款\n"
        "公司法 (2023 修订) 第十三条第二款; 执行程序解释 (2020 修正) 第二十四条\n"
        "限高 (2015 修正) 第三条第二款; 法释〔2011〕11号 (2020 修正) 第八条\n"
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释 (2022 修正) 第四百八十五条\n"
        "法发〔2017〕2号 (version unverified) 第8条; 民诉法解释 ibid. 第五百零七条\n"
        "符合企业破产法第二条第一款规定情形的\n"
        "第五百零九条 alone follows the instrument before it\n"
    )
    assert unversioned(new) == []

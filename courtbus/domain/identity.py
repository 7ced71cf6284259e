"""Identities: court ids and designations, case numbers (案号), debtor IDs, ID masking.

Pure: imports python-stdnum (checksums) and the standard library only, no I/O but one
logged warning (never with the ID) the first time an ID is accepted over stdnum's objection.

Validators check the canonical spelling; ``strict=True`` (the gateway) also refuses any other
spelling, and the SDK calls :func:`canonical_id` / :func:`normalize_case_number` first.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc

from courtbus.domain.case_types import (
    ENFORCEMENT_CASE_TYPES,
    MILITARY_COURT_DESIGNATION,
    SUPREME_COURT_DESIGNATION,
)
from courtbus.domain.regions import BY_ABBR, BY_CODE
from courtbus.errors import ValidationError

_COURT_ID = re.compile(r"^(\d{2})(\d{2}|\d{4})?$")
_DESIGNATION = re.compile(r"^(\D+?)(\d{2}|\d{4})?$")

# Courts whose designation has no province abbreviation (法〔2015〕137号 (version unverified) 第四条: 最高法; 军 for the
# 中国人民解放军军事法院): the Supreme People's Court (never followed by digits) and the military
# courts. Their court ids ``00`` and ``90`` are the bus's own: no national numeric court code
# was found in any text read (GB/T 2260 has neither), so they are two-digit prefixes no province
# code uses, chosen here.
SUPREME_COURT_ID = "00"
MILITARY_COURT_PREFIX = "90"
_NATIONAL_BY_DESIGNATION: dict[str, str] = {
    SUPREME_COURT_DESIGNATION: SUPREME_COURT_ID,
    MILITARY_COURT_DESIGNATION: MILITARY_COURT_PREFIX,
}
_NATIONAL_BY_PREFIX: dict[str, str] = {v: k for k, v in _NATIONAL_BY_DESIGNATION.items()}

# Enforcement case-type codes (类型代字) the bus accepts (see courtbus.domain.case_types for
# the table and its source). Longest first, so 执恢 wins over 执.
CASE_TYPE_CODES: tuple[str, ...] = tuple(
    sorted((t.code for t in ENFORCEMENT_CASE_TYPES), key=lambda c: (-len(c), c))
)
_CASE_NUMBER = re.compile(
    r"^\((?P<year>\d{4})\)(?P<designation>\D+?\d*)(?P<type>"
    + "|".join(CASE_TYPE_CODES)
    + r")(?P<seq>[1-9]\d{0,5})号$"
)
_FULL_WIDTH_BRACKETS = ("（", "）", "〔", "〕", "［", "］", "【", "】")
MIN_CASE_YEAR = 1990
MAX_CASE_YEAR = 2099


def court_id_from_designation(designation: str) -> str:
    """Turn a case-number court designation into a topic-safe court id.

    ``苏0583`` → ``320583``; ``苏05`` → ``3205``; ``苏`` → ``32``; ``沪74`` → ``3174``
    (special courts keep their number, ``case_types.SPECIAL_COURT_NUMBERS``: 71 railway, 72
    maritime, 73 IP, 74 oilfield, …; 沪74 is 上海金融法院 as its case numbers print);
    ``最高法`` → ``00``; ``军`` → ``90`` (``军01`` → ``9001``).

    Raises:
        ValidationError: ``COURT_DESIGNATION_INVALID`` for an unknown province or bad digits.
    """
    match = _DESIGNATION.match(designation)
    prefix = None if match is None else match.group(1)
    if prefix == SUPREME_COURT_DESIGNATION and match is not None and match.group(2) is None:
        return SUPREME_COURT_ID
    if match is not None and prefix == MILITARY_COURT_DESIGNATION:
        return MILITARY_COURT_PREFIX + (match.group(2) or "")
    if match is None or prefix not in BY_ABBR:
        raise ValidationError(
            f"unknown court designation {designation!r}: expected 最高法, or a province "
            "abbreviation (or 军) followed by 0, 2 or 4 digits, e.g. 苏0583",
            code="COURT_DESIGNATION_INVALID",
        )
    return BY_ABBR[match.group(1)].code + (match.group(2) or "")


def designation_from_court_id(court_id: str) -> str:
    """Turn a court id back into its case-number designation (``320583`` → ``苏0583``).

    Raises:
        ValidationError: ``COURT_ID_MALFORMED`` if the id is not 2, 4 or 6 digits with a
            known province prefix.
    """
    validate_court_id(court_id)
    if court_id[:2] in _NATIONAL_BY_PREFIX:
        return _NATIONAL_BY_PREFIX[court_id[:2]] + court_id[2:]
    return BY_CODE[court_id[:2]].abbr + court_id[2:]


def validate_court_id(court_id: str) -> str:
    """Check a court id's shape and province prefix and return it unchanged.

    The prefix is a province code, ``00`` (the Supreme People's Court, exactly ``00``) or
    ``90`` (military courts).

    Raises:
        ValidationError: ``COURT_ID_MALFORMED``.
    """
    match = _COURT_ID.match(court_id)
    if match is None or not court_id.isascii():
        raise ValidationError(
            f"malformed court id {court_id!r}: expected 2, 4 or 6 ASCII digits "
            "(province code + designation digits), e.g. 320583",
            code="COURT_ID_MALFORMED",
        )
    if match.group(1) not in BY_CODE and match.group(1) not in _NATIONAL_BY_PREFIX:
        raise ValidationError(
            f"malformed court id {court_id!r}: {match.group(1)!r} is not a province code",
            code="COURT_ID_MALFORMED",
        )
    if match.group(1) == SUPREME_COURT_ID and court_id != SUPREME_COURT_ID:
        raise ValidationError(
            f"malformed court id {court_id!r}: the Supreme People's Court is {SUPREME_COURT_ID}",
            code="COURT_ID_MALFORMED",
        )
    return court_id


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """A parsed enforcement case number 案号, e.g. ``(2023)苏0583执1234号``."""

    year: int
    court_id: str
    type_code: str
    sequence: int

    @property
    def designation(self) -> str:
        """The court designation as written in the case number (``苏0583``)."""
        return designation_from_court_id(self.court_id)

    def __str__(self) -> str:
        return f"({self.year}){self.designation}{self.type_code}{self.sequence}号"

    @classmethod
    def parse(cls, text: str) -> CaseNumber:
        """Parse a case number strictly; ``str()`` of the result gives the same text back.

        Only the canonical spelling passes: the SDK calls :func:`normalize_case_number` first.

        Raises:
            ValidationError: ``CASE_NUMBER_BRACKETS`` (full-width brackets),
                ``CASE_NUMBER_NOT_CANONICAL`` (a valid case number spelt otherwise, e.g.
                with spaces or full-width digits), ``CASE_NUMBER_TYPE_CODE`` (not an
                enforcement type code), ``COURT_DESIGNATION_INVALID``, ``CASE_NUMBER_YEAR``
                or ``CASE_NUMBER_FORMAT`` (anything else).
        """
        if not isinstance(text, str):
            raise ValidationError("case number must be text", code="CASE_NUMBER_FORMAT")
        if any(b in text for b in _FULL_WIDTH_BRACKETS):
            raise ValidationError(
                f"case number {text!r} uses full-width brackets; write the year in ASCII "
                "brackets, e.g. (2023)苏0583执1234号",
                code="CASE_NUMBER_BRACKETS",
            )
        canonical = normalize_case_number(text)
        parsed = cls._parse_canonical(canonical)
        if canonical != text:
            raise ValidationError(
                f"case number {text!r} is not in canonical form; send {canonical!r}",
                code="CASE_NUMBER_NOT_CANONICAL",
            )
        return parsed

    @classmethod
    def _parse_canonical(cls, text: str) -> CaseNumber:
        match = _CASE_NUMBER.match(text)
        if match is None:
            raise _diagnose_case_number(text)
        year = int(match["year"])
        if not MIN_CASE_YEAR <= year <= MAX_CASE_YEAR:
            raise ValidationError(
                f"case number {text!r}: year {year} outside {MIN_CASE_YEAR}–{MAX_CASE_YEAR}",
                code="CASE_NUMBER_YEAR",
            )
        court_id = court_id_from_designation(match["designation"])
        return cls(year, court_id, match["type"], int(match["seq"]))


_BRACKETS_TO_ASCII = str.maketrans(dict.fromkeys("（〔［【", "(") | dict.fromkeys("）〕］】", ")"))
_WHITESPACE = re.compile(r"\s+")


def normalize_case_number(text: str) -> str:
    """The canonical spelling of a case number, for the SDK to call before sending.

    Full-width brackets (（）〔〕［］【】) become ASCII ``()``, full-width digits become ASCII
    (NFKC), and all whitespace goes. Nothing is validated: pass the result to
    :meth:`CaseNumber.parse`. ``（２０２４）沪72执1号 `` → ``(2024)沪72执1号``.
    """
    folded = unicodedata.normalize("NFKC", text.translate(_BRACKETS_TO_ASCII))
    return _WHITESPACE.sub("", folded)


def _diagnose_case_number(text: str) -> ValidationError:
    """Say which part of a case number is wrong, for a useful error."""
    loose = re.match(
        r"^\((\d{4})\)(" + SUPREME_COURT_DESIGNATION + r"|\D+?)(\d*)(\D+?)(\d+)号$", text
    )
    if loose is not None:
        designation = loose.group(2) + loose.group(3)
        try:
            court_id_from_designation(designation)
        except ValidationError as exc:
            return ValidationError(f"case number {text!r}: {exc.reason}", code=exc.code)
        if loose.group(4) not in CASE_TYPE_CODES:
            return ValidationError(
                f"case number {text!r}: {loose.group(4)!r} is not an enforcement case-type "
                f"code (one of {', '.join(CASE_TYPE_CODES)})",
                code="CASE_NUMBER_TYPE_CODE",
            )
    return ValidationError(
        f"case number {text!r} is not of the form (YYYY)<designation><type code><number>号, "
        "e.g. (2023)苏0583执1234号",
        code="CASE_NUMBER_FORMAT",
    )


class DebtorKind(StrEnum):
    """Natural person or organisation."""

    PERSON = "PERSON"
    ORGANISATION = "ORGANISATION"


class IdType(StrEnum):
    """Which document a debtor's ID number comes from (told apart by its shape)."""

    RESIDENT_ID = "RESIDENT_ID"  # 居民身份证, GB 11643-1999, 18 characters
    LEGACY_RESIDENT_ID = "LEGACY_RESIDENT_ID"  # 15-digit 居民身份证 issued before GB 11643-1999
    HMT_RESIDENCE_PERMIT = "HMT_RESIDENCE_PERMIT"  # 港澳台居民居住证 (810000/820000/830000…)
    FOREIGN_PERMANENT_RESIDENT_ID = "FOREIGN_PERMANENT_RESIDENT_ID"  # 外国人永久居留身份证
    PASSPORT = "PASSPORT"  # number + ISO 3166-1 alpha-3 nationality; named, never detected
    CREDIT_CODE = "CREDIT_CODE"  # 统一社会信用代码, GB 32100-2015


@dataclass(frozen=True, slots=True)
class IdCheck:
    """A valid ID: its canonical value, its document, and doubts that did not refuse it.

    ``warnings`` never contain the ID itself (at most its region code). ``nationality`` is
    the issuing state of a passport (ISO 3166-1 alpha-3), None for every other document.
    """

    value: str
    id_type: IdType
    warnings: tuple[str, ...] = ()
    nationality: str | None = None


_log = logging.getLogger(__name__)

# GB/T 2260 province codes a resident ID's first two digits can carry (兵 / 66 is a court
# prefix only: XPCC residents hold 65 Xinjiang codes).
_ID_PROVINCES = frozenset(code for code in BY_CODE if code != "66")
# 港澳台居民居住证: 国务院办公厅《港澳台居民居住证申领发放办法》(国办发〔2018〕81号) 第四条 — UNVERIFIED:
# neither the document number nor the article was read in a text (only the format is checked) —
# the resident-ID format (GB 11643) with 810000 (Hong Kong), 820000 (Macau) or 830000 (Taiwan)
# as the address code.
HMT_PERMIT_PREFIXES: dict[str, str] = {"810000": "香港", "820000": "澳门", "830000": "台湾"}
_EIGHTEEN = re.compile(r"^\d{17}[\dX]$")
_FIFTEEN = re.compile(r"^\d{15}$")
# 外国人永久居留身份证, 2017 format (15 characters): ISO 3166-1 alpha-3 nationality + 12 digits.
_OLD_FOREIGN_PR = re.compile(r"^[A-Z]{3}\d{12}$")
# Passports (ICAO Doc 9303): up to 9 characters in the machine-readable zone; some states
# issue longer numbers, so up to 20 letters and digits are accepted.
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
_ALPHA3 = re.compile(r"^[A-Z]{3}$")


def _refuse(what: str, number: str, why: str, code: str = "RESIDENT_ID_INVALID") -> ValidationError:
    return ValidationError(f"{what} {mask_id(number)} is invalid: {why}", code=code)


def _birth_date_ok(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return born.year >= 1900


def _stdnum_region_opinion(number: str) -> tuple[str, ...]:
    """python-stdnum's opinion of an 18-digit ID's region code, kept as a warning."""
    try:
        ric.validate(number)
    except stdnum_exceptions.ValidationError as exc:
        return (
            f"python-stdnum does not know region code {number[:6]} at the birth date "
            f"({type(exc).__name__}); accepted on format, birth date and check digit",
        )
    return ()


def _check_eighteen(number: str) -> IdCheck:
    """GB 11643-1999: 6-digit address code, 8-digit birth date, 3-digit sequence, check digit
    (ISO 7064 MOD 11-2). HMT residence permits and the 2023 foreigner's permanent-residence ID
    share the format."""
    if len(number) != 18:
        raise _refuse("resident ID", number, "must have 18 characters")
    if _EIGHTEEN.match(number) is None:
        raise _refuse("resident ID", number, "must be 17 digits and a digit or X")
    if ric.calc_check_digit(number) != number[-1]:
        raise _refuse("resident ID", number, "the check digit does not match")
    if not _birth_date_ok(number[6:14]):
        raise _refuse("resident ID", number, "the birth date is not a date")
    if number[:6] in HMT_PERMIT_PREFIXES:
        return IdCheck(number, IdType.HMT_RESIDENCE_PERMIT)
    if number[0] == "9":
        # 外国人永久居留身份证, 2023 format (国家移民管理局公告, 2023-12-01): 9, 2-digit
        # acceptance province (GB/T 2260), 3-digit nationality code, birth date, sequence, and
        # the GB 11643 check digit.
        if number[1:3] not in _ID_PROVINCES:
            raise _refuse("permanent-residence ID", number, f"{number[1:3]} is not a province code")
        return IdCheck(number, IdType.FOREIGN_PERMANENT_RESIDENT_ID)
    if number[:2] not in _ID_PROVINCES:
        raise _refuse("resident ID", number, f"{number[:2]} is not a province code (GB/T 2260)")
    return IdCheck(number, IdType.RESIDENT_ID, _stdnum_region_opinion(number))


def upgrade_legacy_resident_id(number: str) -> str:
    """The 18-character form of a 15-digit ID (GB 11643-1999 附录: insert 19, add the check
    digit). Does not validate."""
    body = number[:6] + "19" + number[6:]
    return body + ric.calc_check_digit(body + "0")


def _check_fifteen(number: str) -> IdCheck:
    """15-digit ID: 6-digit address code, YYMMDD birth date (19YY), 3-digit sequence, no
    check digit."""
    if number[:2] not in _ID_PROVINCES:
        raise _refuse("resident ID", number, f"{number[:2]} is not a province code (GB/T 2260)")
    if not _birth_date_ok("19" + number[6:12]):
        raise _refuse("resident ID", number, "the birth date is not a date")
    opinion = _stdnum_region_opinion(upgrade_legacy_resident_id(number))
    return IdCheck(
        number,
        IdType.LEGACY_RESIDENT_ID,
        ("15-digit ID from before GB 11643-1999: it has no check digit", *opinion),
    )


@lru_cache(maxsize=65536)  # the same debtors recur; stdnum's region look-up is the slow part
def check_person_id(number: str) -> IdCheck:
    """Validate a natural person's ID number as written (canonical spelling only).

    Accepts an 18-character resident ID (GB 11643-1999; a region code that python-stdnum does
    not know at the birth date is accepted with a warning, which is logged without the ID), a
    15-digit legacy resident ID, a 港澳台居民居住证 number (810000/820000/830000 + the
    resident-ID format) and a 外国人永久居留身份证 (2023: 18 digits starting with 9 and the
    resident-ID check digit; 2017: 3 letters + 12 digits).

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``; the message shows the number masked.
    """
    if not isinstance(number, str):
        raise ValidationError("resident ID must be text", code="RESIDENT_ID_INVALID")
    if _FIFTEEN.match(number) is not None:
        result = _check_fifteen(number)
    elif _OLD_FOREIGN_PR.match(number) is not None:
        result = IdCheck(number, IdType.FOREIGN_PERMANENT_RESIDENT_ID)
    else:
        result = _check_eighteen(number)
    for warning in result.warnings:
        _log.warning(mask_ids_in_text(f"{result.id_type} {mask_id(number)}: {warning}"))
    return result


def validate_resident_id(number: str, *, strict: bool = False) -> str:
    """Validate a person's ID (see :func:`check_person_id`) and return it canonical.

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``, or (``strict``) ``ID_NOT_CANONICAL`` for a
            valid ID spelt otherwise (lower-case x, spaces, full-width digits).
    """
    return _check(DebtorKind.PERSON, number, strict=strict).value


def validate_hmt_residence_permit(number: str) -> str:
    """Validate a 港澳台居民居住证 number (国办发〔2018〕81号).

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``.
    """
    result = check_person_id(number)
    if result.id_type is not IdType.HMT_RESIDENCE_PERMIT:
        raise _refuse("residence permit", number, "must start with 810000, 820000 or 830000")
    return result.value


def validate_foreign_permanent_resident_id(number: str) -> str:
    """Validate a 外国人永久居留身份证 number (2017: 3 letters + 12 digits; 2023: 18 digits
    starting with 9, with the GB 11643 check digit).

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``.
    """
    result = check_person_id(number)
    if result.id_type is not IdType.FOREIGN_PERMANENT_RESIDENT_ID:
        raise _refuse(
            "permanent-residence ID", number, "must be 3 letters + 12 digits or 9 + 17 digits"
        )
    return result.value


def validate_passport(number: str, nationality: str) -> tuple[str, str]:
    """Validate a passport number and its issuing state (ISO 3166-1 alpha-3), canonical only.

    Only the shape of the nationality is checked (three capital letters): the bus carries no
    country list. :func:`validate_debtor_id` calls it for ``id_type=PASSPORT``.

    Raises:
        ValidationError: ``PASSPORT_INVALID``.
    """
    if _ALPHA3.match(nationality) is None:
        raise ValidationError(
            f"passport nationality {nationality!r} is not an ISO 3166-1 alpha-3 code, e.g. USA",
            code="PASSPORT_INVALID",
        )
    if _PASSPORT.match(number) is None:
        raise _refuse(
            "passport number",
            number,
            "must be 5 to 20 capital letters and digits",
            code="PASSPORT_INVALID",
        )
    return number, nationality


# GB 32100-2015 《法人和其他组织统一社会信用代码编码规则》 附录 A (表 A.1): the first character
# is the registration-management department, the second the organisation category under it.
# A (军队) and N (农业) were added to the table after 2015; verify against the current text.
CREDIT_CODE_DEPARTMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "1": (
        "机构编制",
        {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    ),
    "2": ("外交", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {
            "1": "外国旅游部门常驻代表机构",
            "2": "港澳台地区旅游部门常驻内地（大陆）代表机构",
            "9": "其他",
        },
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他", {"1": "其他"}),
}


class OrganisationForm(StrEnum):
    """What a credit code's first two characters say about the holder (GB 32100-2015)."""

    ENTERPRISE = "ENTERPRISE"  # 9+1 企业: 企业法人 and non-legal-person enterprises alike
    INDIVIDUAL_BUSINESS = "INDIVIDUAL_BUSINESS"  # 9+2 个体工商户
    FARMERS_COOPERATIVE = "FARMERS_COOPERATIVE"  # 9+3 农民专业合作社
    OTHER_ORGANISATION = "OTHER_ORGANISATION"  # 其他组织: every other department/category


@dataclass(frozen=True, slots=True)
class CreditCodeCategory:
    """The registration department and organisation category of a credit code."""

    department_code: str
    department: str
    category_code: str
    category: str
    form: OrganisationForm


_ENTERPRISE_FORMS = {
    "1": OrganisationForm.ENTERPRISE,
    "2": OrganisationForm.INDIVIDUAL_BUSINESS,
    "3": OrganisationForm.FARMERS_COOPERATIVE,
}


def credit_code_category(code: str) -> CreditCodeCategory:
    """Who registered the organisation and what kind it is, from a credit code's first two
    characters (GB 32100-2015 附录 A). Tells an enterprise (9+1, where 企业法人 are) from
    other organisations (其他组织); the code cannot tell a 企业法人 from a branch or a
    partnership, which are enterprises too.

    Raises:
        ValidationError: ``CREDIT_CODE_INVALID`` for a department or category not in the table.
    """
    department = CREDIT_CODE_DEPARTMENTS.get(code[:1])
    if department is None or code[1:2] not in department[1]:
        raise _refuse(
            "unified social credit code",
            code,
            "its first two characters are not a registration department and organisation "
            "category of GB 32100-2015",
            code="CREDIT_CODE_INVALID",
        )
    name, categories = department
    form = _ENTERPRISE_FORMS[code[1]] if code[0] == "9" else OrganisationForm.OTHER_ORGANISATION
    return CreditCodeCategory(code[0], name, code[1], categories[code[1]], form)


# GB 32100-2015 §4: every character of the code is a digit or a capital letter but I, O, Z, S
# and V (the department and category too: they are checked against 附录 A after this)
_USCC_BODY = re.compile(r"^[0-9A-HJ-NP-RT-UW-Y]{2}\d{6}[0-9A-HJ-NP-RT-UW-Y]{10}$")


@lru_cache(maxsize=65536)
def check_credit_code(code: str) -> IdCheck:
    """Validate a unified social credit code as written (GB 32100-2015): 18 characters, a
    department and category of 附录 A, a 6-digit administrative-division code, the 9-character
    organisation code and the check character. python-stdnum's refusal of a letter department
    (A, N, Y) is kept as a warning.

    Raises:
        ValidationError: ``CREDIT_CODE_INVALID``.
    """
    if not isinstance(code, str):
        raise ValidationError("credit code must be text", code="CREDIT_CODE_INVALID")
    what = "unified social credit code"
    if len(code) != 18 or _USCC_BODY.match(code) is None:
        raise _refuse(what, code, "must be 18 characters of GB 32100", "CREDIT_CODE_INVALID")
    try:
        check = uscc.calc_check_digit(code)
    except (ValueError, KeyError, IndexError):  # stdnum's own refusal of a character
        raise _refuse(
            what, code, "must be 18 characters of GB 32100", "CREDIT_CODE_INVALID"
        ) from None
    if check != code[-1]:
        raise _refuse(what, code, "the check character does not match", "CREDIT_CODE_INVALID")
    credit_code_category(code)
    warnings: tuple[str, ...] = ()
    try:
        uscc.validate(code)
    except stdnum_exceptions.ValidationError as exc:
        warnings = (f"python-stdnum refuses it ({type(exc).__name__})",)
        _log.warning(f"credit code {mask_id(code)}: {warnings[0]}")
    return IdCheck(code, IdType.CREDIT_CODE, warnings)


def validate_credit_code(code: str, *, strict: bool = False) -> str:
    """Validate a unified social credit code (GB 32100-2015) and return it canonical.

    Raises:
        ValidationError: ``CREDIT_CODE_INVALID``, or (``strict``) ``ID_NOT_CANONICAL`` for a
            valid code spelt otherwise.
    """
    return _check(DebtorKind.ORGANISATION, code, strict=strict).value


_DASHES_AND_SPACES = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff0d]+")


def canonical_id(kind: DebtorKind | str, value: str) -> str:
    """The one spelling of a debtor ID, for the SDK to call before sending.

    Full-width letters and digits become ASCII (NFKC), letters upper case (a final ``x``
    becomes ``X``), spaces and hyphens go. Nothing is validated.

    Raises:
        ValidationError: ``DEBTOR_KIND_INVALID``.
    """
    _debtor_kind(kind)
    return _DASHES_AND_SPACES.sub("", unicodedata.normalize("NFKC", value)).upper()


def canonical_nationality(value: str) -> str:
    """The one spelling of a passport's nationality, for the SDK to call before sending:
    ASCII (NFKC), upper case, no spaces (`` usa `` → ``USA``). Nothing is validated."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", value)).upper()


def _debtor_kind(kind: DebtorKind | str) -> DebtorKind:
    try:
        return DebtorKind(kind)
    except ValueError as exc:
        raise ValidationError(
            f"debtor kind {kind!r} is not PERSON or ORGANISATION", code="DEBTOR_KIND_INVALID"
        ) from exc


def _check(kind: DebtorKind, value: str, *, strict: bool) -> IdCheck:
    """Check the canonical spelling; if ``strict``, refuse any other spelling of a valid ID."""
    if not isinstance(value, str):
        raise ValidationError("debtor ID must be text", code="RESIDENT_ID_INVALID")
    canonical = canonical_id(kind, value)
    check = check_person_id if kind is DebtorKind.PERSON else check_credit_code
    result = check(canonical)
    if strict and canonical != value:
        raise ValidationError(
            f"debtor ID {mask_id(canonical)} is not in canonical form: upper-case letters, "
            "ASCII digits, no spaces or hyphens",
            code="ID_NOT_CANONICAL",
        )
    return result


_ORGANISATION_TYPES = frozenset({IdType.CREDIT_CODE})


def _declared_type(id_type: IdType | str | None) -> IdType | None:
    if id_type is None:
        return None
    try:
        return IdType(id_type)
    except ValueError as exc:
        raise ValidationError(
            f"id_type {id_type!r} is not one of {', '.join(IdType)}", code="ID_TYPE_MISMATCH"
        ) from exc


def _check_passport(value: str, nationality: str | None, *, strict: bool) -> IdCheck:
    """A passport: its number and its issuing state, both canonical if ``strict``."""
    if not nationality:
        raise ValidationError(
            "a passport needs the issuing state: give nationality as an ISO 3166-1 alpha-3 "
            "code, e.g. USA",
            code="PASSPORT_INVALID",
        )
    if not isinstance(value, str) or not isinstance(nationality, str):
        raise ValidationError(
            "passport number and nationality must be text", code="PASSPORT_INVALID"
        )
    number = canonical_id(DebtorKind.PERSON, value)
    state = canonical_nationality(nationality)
    validate_passport(number, state)
    if strict and (number != value or state != nationality):
        raise ValidationError(
            f"passport {mask_id(number)} ({state}) is not in canonical form: upper-case "
            "letters, ASCII digits, no spaces or hyphens",
            code="ID_NOT_CANONICAL",
        )
    return IdCheck(number, IdType.PASSPORT, nationality=state)


def check_debtor_id(
    kind: DebtorKind | str,
    id_number: str,
    *,
    strict: bool = False,
    id_type: IdType | str | None = None,
    nationality: str | None = None,
) -> IdCheck:
    """Validate a debtor's ID by kind and say which document it is and any warnings.

    Raises:
        ValidationError: as :func:`validate_debtor_id`.
    """
    debtor_kind = _debtor_kind(kind)
    declared = _declared_type(id_type)
    if declared is IdType.PASSPORT:
        if debtor_kind is not DebtorKind.PERSON:
            raise ValidationError(
                "only a natural person (kind PERSON) is named by passport",
                code="ID_TYPE_MISMATCH",
            )
        return _check_passport(id_number, nationality, strict=strict)
    if nationality is not None:
        raise ValidationError(
            "nationality is given only with id_type PASSPORT (a permanent-residence ID carries "
            "its own)",
            code="ID_TYPE_MISMATCH",
        )
    if declared is not None and (declared in _ORGANISATION_TYPES) != (
        debtor_kind is DebtorKind.ORGANISATION
    ):
        raise ValidationError(
            f"id_type {declared} does not name a debtor of kind {debtor_kind}",
            code="ID_TYPE_MISMATCH",
        )
    result = _check(debtor_kind, id_number, strict=strict)
    if declared is not None and result.id_type is not declared:
        raise ValidationError(
            f"debtor ID {mask_id(result.value)} is a {result.id_type}, not a {declared}",
            code="ID_TYPE_MISMATCH",
        )
    return result


def validate_debtor_id(
    kind: DebtorKind | str,
    id_number: str,
    *,
    strict: bool = False,
    id_type: IdType | str | None = None,
    nationality: str | None = None,
) -> str:
    """Validate a debtor's ID by kind and return its canonical spelling.

    A person's ID is a resident ID (18 or 15 digits), a 港澳台居民居住证 or a 外国人永久居留
    身份证 number (see :func:`check_person_id`), told apart by shape, or a passport, which is
    never guessed: it needs ``id_type=PASSPORT`` and its ``nationality`` (ISO 3166-1 alpha-3,
    see :func:`validate_passport`). An organisation's ID is a unified social credit code.
    Any other ``id_type`` given must be the document the number's shape says it is, and
    ``nationality`` goes only with a passport. With ``strict`` (the gateway's check), a valid
    ID (or nationality) not spelt canonically is refused; without it (the delegation flow,
    which keys caps on the canonical form) it is canonicalised.

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``, ``CREDIT_CODE_INVALID``,
            ``PASSPORT_INVALID`` (a bad number or nationality, or none given),
            ``ID_TYPE_MISMATCH`` (``id_type`` is not what the number is, does not fit the
            kind, or ``nationality`` without a passport), ``DEBTOR_KIND_INVALID`` or
            (``strict``) ``ID_NOT_CANONICAL``.
    """
    return check_debtor_id(
        kind, id_number, strict=strict, id_type=id_type, nationality=nationality
    ).value


_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_id(number: str) -> str:
    """Mask a resident ID for logs and errors: ``320583********123X`` (region and tail only).

    Anything that is not 18 characters (a passport number, a 15-character ID) is masked whole
    but for its last two characters: ``E12345678`` → ``*******78``.
    """
    if len(number) == 18:
        return number[:6] + "*" * 8 + number[14:]
    return "*" * max(len(number) - 2, 0) + number[-2:]


_LEGACY_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{6})(\d{3})(?![0-9A-Za-z])")
_OLD_PR_LIKE = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{3}\d{2})(\d{6})(\d{4})(?![0-9A-Za-z])")
# A unified social credit code (GB 32100, the shape ``_USCC_BODY`` checks), masked as
# ``mask_id`` masks any 18-character number: the first six and the last four kept.
_CREDIT_CODE_LIKE = re.compile(
    r"(?<![0-9A-Za-z])([0-9A-Z]{2}\d{4})(\d{2}[0-9A-HJ-NP-RT-UW-Y]{6})([0-9A-HJ-NP-RT-UW-Y]{4})"
    r"(?![0-9A-Za-z])"
)


def mask_ids_in_text(text: str) -> str:
    """Mask every ID-shaped run inside free text: 18-character resident IDs (and permits of
    that format), unified social credit codes, 15-digit legacy IDs and 15-character
    permanent-residence IDs. (A passport number has no shape of its own: it is masked by
    field, ``mask_id``, never found in free text.)"""
    text = _ID_LIKE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _CREDIT_CODE_LIKE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _LEGACY_ID_LIKE.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), text)
    return _OLD_PR_LIKE.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), text)


def debtor_key(canonical: str, nationality: str | None = None) -> str:
    """One key per debtor however the ID was spelt, and not itself personal data: a 15-digit
    legacy ID counts as its 18-digit form, a passport number with its issuing state; the
    first 24 hex digits of the sha256. Used for per-debtor state (caps, blacklist rules)."""
    if len(canonical) == 15 and canonical.isdigit():
        canonical = upgrade_legacy_resident_id(canonical)
    if nationality:  # a passport number is unique only within its issuing state
        canonical = f"{nationality.upper()}:{canonical}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]

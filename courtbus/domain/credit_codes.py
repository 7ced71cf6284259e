"""Unified social credit codes (统一社会信用代码, GB 32100-2015): checked, and what their first
characters say about the holder.

Pure: imports python-stdnum (checksums), the ID types and the error tree.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import uscc

from courtbus.domain.id_types import IdCheck, IdType
from courtbus.domain.id_types import refuse_id as _refuse
from courtbus.domain.masking import mask_id
from courtbus.errors import ValidationError

_log = logging.getLogger(__name__)


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

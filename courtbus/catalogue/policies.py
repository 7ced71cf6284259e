"""Load ``policies/regional.yaml`` into a ``PolicyCatalogue``, resolving regions to courts.

Every rule the bus enforces names its source (``source: report:N`` or a legal article); a file
marked ``examples: true`` may hold rules no source places, and they are flagged as examples.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from courtbus import resources
from courtbus.catalogue.directory import Directory
from courtbus.catalogue.topics import parse_duration_ms
from courtbus.domain.case_numbers import CaseNumber
from courtbus.domain.case_owner import STRICT, CaseOwnership
from courtbus.domain.courts import validate_court_id
from courtbus.domain.delegation import DeadlineRule
from courtbus.domain.money import Money
from courtbus.domain.policy import (
    ART_485,
    ART_485_MAX_FREEZE_DAYS,
    EXAMPLE_MARK,
    PolicyCatalogue,
    PolicyRule,
)
from courtbus.domain.regions import BY_NAME, CITY_BY_NAME
from courtbus.errors import ConfigError, ValidationError
from courtbus.yaml_files import read_yaml

DEFAULT_PATH = resources.policies_path()  # $COURTBUS_POLICIES or the shipped rules
log = logging.getLogger("courtbus.policies")
# The shipped rules plus rules that are examples only (for the demo and tests), never law.
EXAMPLES_PATH = resources.policy_examples_path()
# Deadlines with per-matter periods nobody has found a source for: examples only, never law.
DEADLINE_EXAMPLES_PATH = resources.deadline_examples_path()
MATTERS = frozenset(
    {"SEARCH", "FREEZE", "SEAL", "DEDUCT", "SEIZE", "DETAIN", "EVICT", "SERVE", "OTHER"}
)
ASSETS = frozenset(
    {"DEPOSIT", "MOVABLE", "IMMOVABLE", "HOUSING_FUND", "VEHICLE", "EQUITY", "SECURITIES", "OTHER"}
)
_TOP = {"legal_max_freeze_days", "rules", "examples", "extends", "case_numbers"}
_FIELDS = {
    "id",
    "region",
    "applies_to",
    "asset_kinds",
    "allowed_matters",
    "forbidden_matters",
    "max_freeze_days",
    "annual_deduction_cap",
    "reason",
    "source",
}
_REPORT_LINES = re.compile(r"^report:(\d+)(?:-(\d+))?$")
_ARTICLE = re.compile(r"第[〇零一二三四五六七八九十百千0-9]+条")


def _names(value: Any, known: frozenset[str], where: str) -> frozenset[str]:
    items = frozenset(str(v) for v in value or [])
    unknown = sorted(items - known)
    if unknown:
        raise ConfigError(f"{where}: unknown {', '.join(unknown)}", code="POLICY_INVALID")
    return items


def parse_source(value: Any, where: str) -> str:
    """Check a rule's ``source``: lines of the report (``report:N``, ``report:N-M``) or an
    article of law or an SPC provision (naming its article, ``第…条``).

    Raises:
        ConfigError: ``POLICY_SOURCE_MISSING`` if there is none or it names neither.
    """
    text = "" if value is None else str(value).strip()
    if not text:
        raise ConfigError(
            f"{where}: no source: (report:N or a legal article); a rule no source places in "
            "its region belongs in an examples file (examples: true)",
            code="POLICY_SOURCE_MISSING",
        )
    lines = _REPORT_LINES.match(text)
    if lines is not None and 0 < int(lines[1]) <= int(lines[2] or lines[1]):
        return text
    if text.startswith("report:") or not _ARTICLE.search(text):
        raise ConfigError(
            f"{where}: source {text!r} names neither report lines (report:N or report:N-M, "
            "N <= M) nor an article (第…条)",
            code="POLICY_SOURCE_MISSING",
        )
    return text


def _courts(region: str, directory: Directory, where: str) -> frozenset[str]:
    """The courts of a group, a province or a city (by court-id prefix), from ``directory``.

    A province or city with no court in the directory yet has no courts: its rules wait.
    """
    if region in directory.groups:
        return frozenset(directory.groups[region])
    if region in BY_NAME:
        return frozenset(c.id for c in directory.courts if c.province == region)
    city = CITY_BY_NAME.get(region)
    if city is not None:
        return frozenset(c.id for c in directory.courts if c.id.startswith(city.prefix))
    raise ConfigError(
        f"{where}: region {region!r} is neither a province, a city of "
        "courtbus.domain.regions.CITIES nor a group of the directory",
        code="POLICY_INVALID",
    )


def _legal(raw: Any, source: str) -> dict[str, int]:
    """The legal maxima: every asset kind mapped to one of the three of Art. 485."""
    legal = {str(k): int(v) for k, v in (raw or {}).items()}
    where = f"{source}: legal_max_freeze_days"
    _names(legal, ASSETS, where)
    missing = sorted(ASSETS - set(legal))
    if missing:
        raise ConfigError(
            f"{where}: missing {', '.join(missing)} (every asset kind needs its {ART_485} maximum)",
            code="POLICY_INVALID",
        )
    tiers = sorted(ART_485_MAX_FREEZE_DAYS.values())
    for asset, days in sorted(legal.items()):
        if days not in tiers:
            raise ConfigError(
                f"{where}: {asset} {days} days is none of the {ART_485} maxima "
                f"({', '.join(map(str, tiers))})",
                code="POLICY_INVALID",
            )
    return legal


def parse_policies(
    raw: Any,
    directory: Directory,
    source: str = "<memory>",
    base: PolicyCatalogue | None = None,
) -> PolicyCatalogue:
    """Validate policy data against the directory.

    Every rule needs a ``source`` unless the data is marked ``examples: true``; the rules of
    such data are flagged as examples. ``base`` is the catalogue an examples file ``extends``:
    its legal maxima apply and its rules come first.

    Raises:
        ConfigError: ``POLICY_SOURCE_MISSING`` for a rule without a usable source, else
            ``POLICY_INVALID``, naming the file, the rule and the problem.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: must be a mapping", code="POLICY_INVALID")
    unknown_top = sorted(set(map(str, raw)) - _TOP)
    if unknown_top:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown_top)}", code="POLICY_INVALID"
        )
    examples = raw.get("examples", False)
    if not isinstance(examples, bool):
        raise ConfigError(f"{source}: examples must be true or false", code="POLICY_INVALID")
    if "extends" in raw and not examples:
        raise ConfigError(
            f"{source}: only an examples file (examples: true) may extend a catalogue",
            code="POLICY_INVALID",
        )
    if "extends" in raw and base is None:
        raise ConfigError(
            f"{source}: extends {raw['extends']!r} was not loaded (use load_policies)",
            code="POLICY_INVALID",
        )
    if base is not None and "legal_max_freeze_days" in raw:
        raise ConfigError(
            f"{source}: the legal maxima come from the extended catalogue, not this file",
            code="POLICY_INVALID",
        )
    legal = (
        dict(base.legal_max_freeze_days)
        if base is not None
        else _legal(raw.get("legal_max_freeze_days"), source)
    )
    rules: list[PolicyRule] = list(base.rules) if base is not None else []
    seen: set[str] = {r.id for r in rules}
    for i, entry in enumerate(raw.get("rules") or []):
        where = f"{source}: rules[{i}]"
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("region"):
            raise ConfigError(f"{where}: needs id and region", code="POLICY_INVALID")
        where = f"{source}: rules[{i}] ({entry['id']})"
        if entry["id"] in seen:
            raise ConfigError(f"{where}: duplicate rule id", code="POLICY_INVALID")
        seen.add(entry["id"])
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown field(s) {', '.join(unknown)}", code="POLICY_INVALID"
            )
        rule_source = (
            ""
            if examples and entry.get("source") is None
            else parse_source(entry.get("source"), where)
        )
        region = str(entry["region"])
        courts = _courts(region, directory, where)
        applies_to = entry.get("applies_to", "out_of_region")
        if applies_to not in ("out_of_region", "all"):
            raise ConfigError(
                f"{where}: applies_to must be out_of_region or all", code="POLICY_INVALID"
            )
        max_freeze = {str(k): int(v) for k, v in (entry.get("max_freeze_days") or {}).items()}
        _names(max_freeze, ASSETS, f"{where}: max_freeze_days")
        for asset, days in max_freeze.items():
            if asset in legal and days > legal[asset]:
                raise ConfigError(
                    f"{where}: {asset} {days} days is above the legal maximum {legal[asset]}",
                    code="POLICY_INVALID",
                )
        cap = None
        if entry.get("annual_deduction_cap") is not None:
            try:
                cap = Money.parse(str(entry["annual_deduction_cap"]))
            except ValidationError as exc:
                raise ConfigError(
                    f"{where}: annual_deduction_cap: {exc.reason}", code="POLICY_INVALID"
                ) from exc
        reason = str(entry.get("reason", ""))
        if examples and not reason.startswith(EXAMPLE_MARK):
            reason = f"{EXAMPLE_MARK} {reason}".rstrip()
        allowed = entry.get("allowed_matters")
        rules.append(
            PolicyRule(
                id=str(entry["id"]),
                region=region,
                courts=courts,
                out_of_region_only=applies_to == "out_of_region",
                reason=reason,
                asset_kinds=_names(entry.get("asset_kinds"), ASSETS, f"{where}: asset_kinds"),
                allowed_matters=None
                if allowed is None
                else _names(allowed, MATTERS, f"{where}: allowed_matters"),
                forbidden_matters=_names(
                    entry.get("forbidden_matters"), MATTERS, f"{where}: forbidden_matters"
                ),
                max_freeze_days=max_freeze,
                annual_deduction_cap=cap,
                source=rule_source,
                example=examples,
            )
        )
    ownership = base.case_ownership if base is not None else STRICT
    if raw.get("case_numbers") is not None:
        ownership = _case_ownership(
            raw["case_numbers"], directory, f"{source}: case_numbers", examples=examples
        )
    return PolicyCatalogue(legal, tuple(rules), ownership)


_CASE_NUMBER_KEYS = {"superior_may_act", "assigned", "source"}


def _case_ownership(raw: Any, directory: Directory, where: str, *, examples: bool) -> CaseOwnership:
    """``case_numbers:``: who may act on a case number that is not the sender's
    (``courtbus.domain.case_owner``). Needs a ``source`` unless in an examples file."""
    if not isinstance(raw, dict) or set(map(str, raw)) - _CASE_NUMBER_KEYS:
        raise ConfigError(
            f"{where}: keys are {', '.join(sorted(_CASE_NUMBER_KEYS))}", code="POLICY_INVALID"
        )
    superior = raw.get("superior_may_act", False)
    if not isinstance(superior, bool):
        raise ConfigError(f"{where}.superior_may_act must be true or false", code="POLICY_INVALID")
    assigned: dict[str, str] = {}
    for i, entry in enumerate(raw.get("assigned") or []):
        spot = f"{where}.assigned[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"case", "court"}:
            raise ConfigError(f"{spot}: needs case and court", code="POLICY_INVALID")
        try:
            case = str(CaseNumber.parse(str(entry["case"])))
            court = validate_court_id(str(entry["court"]))
            directory.court(court)
        except ValidationError as exc:
            raise ConfigError(f"{spot}: {exc.reason}", code="POLICY_INVALID") from exc
        assigned[case] = court
    rule_source = (
        "" if examples and raw.get("source") is None else parse_source(raw.get("source"), where)
    )
    return CaseOwnership(superior, assigned, rule_source, examples)


def load_policies(directory: Directory, path: Path = DEFAULT_PATH) -> PolicyCatalogue:
    """Read and validate the policy catalogue (``EXAMPLES_PATH``: the shipped rules and the
    examples, flagged as such).

    An examples file may ``extends:`` a catalogue (a path relative to it) that is itself
    neither an examples file nor extends another.

    Raises:
        ConfigError: ``POLICY_SOURCE_MISSING``, ``POLICY_INVALID`` or ``CONFIG_UNREADABLE``.
    """
    raw = read_yaml(path)
    base = None
    if isinstance(raw, dict) and raw.get("extends") is not None:
        base_path = path.parent / str(raw["extends"])
        base_raw = read_yaml(base_path)
        if isinstance(base_raw, dict) and ("extends" in base_raw or base_raw.get("examples")):
            raise ConfigError(
                f"{path}: extends {base_path}, which is an examples file or extends another",
                code="POLICY_INVALID",
            )
        base = parse_policies(base_raw, directory, str(base_path))
    return parse_policies(raw, directory, str(path), base)


DEADLINES_PATH = resources.deadlines_path()  # $COURTBUS_DEADLINES or the shipped deadlines


@dataclass(frozen=True, slots=True)
class DeadlineRules:
    """The default deadline rule and the matters that differ from it."""

    default: DeadlineRule
    matters: dict[str, DeadlineRule]

    def for_matter(self, matter: str) -> DeadlineRule:
        """The rule for one matter type."""
        return self.matters.get(matter, self.default)


_RULE_KEYS = ("start", "report", "warn_before", "supply", "lapse_warn_before", "file", "files_back")


def _rule(raw: Any, where: str, base: DeadlineRule | None = None) -> DeadlineRule:
    if not isinstance(raw, dict) or set(raw) - set(_RULE_KEYS):
        raise ConfigError(f"{where}: keys are {', '.join(_RULE_KEYS)}", code="POLICY_INVALID")
    base = base or DeadlineRule()

    def span(key: str, fallback: timedelta) -> timedelta:
        if key not in raw:
            return fallback
        return timedelta(milliseconds=int(parse_duration_ms(raw[key], f"{where}.{key}")))

    rule = DeadlineRule(
        span("start", base.start),
        span("report", base.report),
        span("warn_before", base.warn_before),
        span("supply", base.supply),
        span("lapse_warn_before", base.lapse_warn_before),
        span("file", base.file),
        span("files_back", base.files_back),
    )
    if not timedelta(0) < rule.start <= rule.report:
        raise ConfigError(f"{where}: need 0 < start <= report", code="POLICY_INVALID")
    if min(rule.supply, rule.file, rule.files_back) <= timedelta(0):
        raise ConfigError(f"{where}: need supply, file and files_back > 0", code="POLICY_INVALID")
    return rule


def load_deadlines(path: Path = DEADLINES_PATH) -> DeadlineRules:
    """Read ``policies/deadlines.yaml`` (``$COURTBUS_DEADLINES`` points services elsewhere).

    Raises:
        ConfigError: ``POLICY_INVALID`` or ``CONFIG_UNREADABLE``.
    """
    raw = read_yaml(path) or {}
    unknown = set(raw) - {"default", "matters", "examples"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown keys {', '.join(sorted(unknown))} (default, matters, examples)",
            code="POLICY_INVALID",
        )
    if raw.get("examples") is True:
        log.warning("%s: example deadlines loaded (not law; for the demo and tests)", path)
    default = _rule(raw.get("default", {}), f"{path}: default")
    matters = {}
    for matter, entry in (raw.get("matters") or {}).items():
        if matter not in MATTERS:
            raise ConfigError(f"{path}: matters.{matter}: unknown matter", code="POLICY_INVALID")
        matters[str(matter)] = _rule(entry, f"{path}: matters.{matter}", default)
    return DeadlineRules(default, matters)

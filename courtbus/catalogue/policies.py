"""Load ``policies/regional.yaml`` into a ``PolicyCatalogue``, resolving regions to courts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from courtbus.catalogue.directory import Directory
from courtbus.catalogue.files import read_yaml
from courtbus.catalogue.topics import parse_duration_ms
from courtbus.domain.delegation import DeadlineRule
from courtbus.domain.money import Money
from courtbus.domain.policy import PolicyCatalogue, PolicyRule
from courtbus.errors import ConfigError, ValidationError

DEFAULT_PATH = Path(
    os.environ.get("COURTBUS_POLICIES")
    or Path(__file__).resolve().parents[2] / "policies" / "regional.yaml"
)
MATTERS = frozenset(
    {"SEARCH", "FREEZE", "SEAL", "DEDUCT", "SEIZE", "DETAIN", "EVICT", "SERVE", "OTHER"}
)
ASSETS = frozenset(
    {"DEPOSIT", "MOVABLE", "IMMOVABLE", "HOUSING_FUND", "VEHICLE", "EQUITY", "SECURITIES", "OTHER"}
)
_FIELDS = {"id", "region", "applies_to", "asset_kinds", "allowed_matters", "forbidden_matters",
           "max_freeze_days", "annual_deduction_cap", "reason"}  # fmt: skip


def _names(value: Any, known: frozenset[str], where: str) -> frozenset[str]:
    items = frozenset(str(v) for v in value or [])
    unknown = sorted(items - known)
    if unknown:
        raise ConfigError(f"{where}: unknown {', '.join(unknown)}", code="POLICY_INVALID")
    return items


def parse_policies(raw: Any, directory: Directory, source: str = "<memory>") -> PolicyCatalogue:
    """Validate policy data against the directory.

    Raises:
        ConfigError: ``POLICY_INVALID`` naming the file, the rule and the problem.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: must be a mapping", code="POLICY_INVALID")
    legal = {str(k): int(v) for k, v in (raw.get("legal_max_freeze_days") or {}).items()}
    _names(legal, ASSETS, f"{source}: legal_max_freeze_days")
    rules: list[PolicyRule] = []
    seen: set[str] = set()
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
        region = str(entry["region"])
        courts = frozenset(directory.groups.get(region, ())) or frozenset(
            c.id for c in directory.courts if c.province == region
        )
        if not courts:
            raise ConfigError(
                f"{where}: region {region!r} is neither a province with courts nor a group",
                code="POLICY_INVALID",
            )
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
        allowed = entry.get("allowed_matters")
        rules.append(PolicyRule(
            id=str(entry["id"]), region=region, courts=courts,
            out_of_region_only=applies_to == "out_of_region", reason=str(entry.get("reason", "")),
            asset_kinds=_names(entry.get("asset_kinds"), ASSETS, f"{where}: asset_kinds"),
            allowed_matters=None if allowed is None else _names(allowed, MATTERS, f"{where}: allowed_matters"),
            forbidden_matters=_names(entry.get("forbidden_matters"), MATTERS, f"{where}: forbidden_matters"),
            max_freeze_days=max_freeze, annual_deduction_cap=cap,
        ))  # fmt: skip
    return PolicyCatalogue(legal, tuple(rules))


def load_policies(directory: Directory, path: Path = DEFAULT_PATH) -> PolicyCatalogue:
    """Read and validate the policy catalogue.

    Raises:
        ConfigError: ``POLICY_INVALID`` or ``CONFIG_UNREADABLE``.
    """
    return parse_policies(read_yaml(path), directory, str(path))


DEADLINES_PATH = Path(
    os.environ.get("COURTBUS_DEADLINES")
    or Path(__file__).resolve().parents[2] / "policies" / "deadlines.yaml"
)


@dataclass(frozen=True, slots=True)
class DeadlineRules:
    """The default deadline rule and the matters that differ from it."""

    default: DeadlineRule
    matters: dict[str, DeadlineRule]

    def for_matter(self, matter: str) -> DeadlineRule:
        """The rule for one matter type."""
        return self.matters.get(matter, self.default)


def _rule(raw: Any, where: str, base: DeadlineRule | None = None) -> DeadlineRule:
    if not isinstance(raw, dict) or set(raw) - {"start", "report", "warn_before"}:
        raise ConfigError(f"{where}: needs start, report and warn_before", code="POLICY_INVALID")
    base = base or DeadlineRule()

    def span(key: str, fallback: timedelta) -> timedelta:
        if key not in raw:
            return fallback
        return timedelta(milliseconds=int(parse_duration_ms(raw[key], f"{where}.{key}")))

    rule = DeadlineRule(
        span("start", base.start),
        span("report", base.report),
        span("warn_before", base.warn_before),
    )
    if not timedelta(0) < rule.start <= rule.report:
        raise ConfigError(f"{where}: need 0 < start <= report", code="POLICY_INVALID")
    return rule


def load_deadlines(path: Path = DEADLINES_PATH) -> DeadlineRules:
    """Read ``policies/deadlines.yaml`` (``$COURTBUS_DEADLINES`` points services elsewhere).

    Raises:
        ConfigError: ``POLICY_INVALID`` or ``CONFIG_UNREADABLE``.
    """
    raw = read_yaml(path) or {}
    default = _rule(raw.get("default", {}), f"{path}: default")
    matters = {}
    for matter, entry in (raw.get("matters") or {}).items():
        if matter not in MATTERS:
            raise ConfigError(f"{path}: matters.{matter}: unknown matter", code="POLICY_INVALID")
        matters[str(matter)] = _rule(entry, f"{path}: matters.{matter}", default)
    return DeadlineRules(default, matters)

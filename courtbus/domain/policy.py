"""Regional policy rules for delegations, checked when a request is sent. Pure: no I/O.

A violation names the rule that broke and what would have been allowed; a freeze period over a
maximum is refused, never silently cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from courtbus.domain.case_owner import STRICT, CaseOwnership
from courtbus.domain.delegation import HandedOver, check_handover, check_kind, check_not_self
from courtbus.domain.money import Money
from courtbus.errors import ValidationError

# The legal maxima of a freeze (最高人民法院关于适用《中华人民共和国民事诉讼法》的解释,
# 2022 修正, 第四百八十五条): bank deposits 1 year, movables 2 years, immovables and other
# property rights 3 years. Every asset kind maps to one of the three; policies/regional.yaml
# (legal_max_freeze_days) says which, and why.
ART_485 = "民诉法解释 (2022 修正) 第四百八十五条"
ART_485_MAX_FREEZE_DAYS: Mapping[str, int] = {
    "银行存款 (bank deposits)": 365,
    "动产 (movables)": 730,
    "不动产、其他财产权 (immovables, other property rights)": 1095,
}
EXAMPLE_MARK = "[示例/example]"  # starts the reason of every rule from an examples file


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One regional rule (see ``policies/regional.yaml`` for the fields' meaning).

    ``source`` names what the rule rests on (``report:N`` or a legal article); ``example`` marks
    a rule from an examples file, which no source places in its region: not law, and its
    reason starts with ``EXAMPLE_MARK`` so no clerk takes it for law.
    """

    id: str
    region: str
    courts: frozenset[str]  # the region's courts, resolved from province, city or group
    out_of_region_only: bool
    reason: str
    asset_kinds: frozenset[str] = frozenset()
    allowed_matters: frozenset[str] | None = None
    forbidden_matters: frozenset[str] = frozenset()
    max_freeze_days: Mapping[str, int] = field(default_factory=dict)
    annual_deduction_cap: Money | None = None
    source: str = ""
    example: bool = False

    @property
    def why(self) -> str:
        """The reason with its source, as a refusal quotes it."""
        return f"{self.reason}; source: {self.source}" if self.source else self.reason


@dataclass(frozen=True, slots=True)
class PolicyCatalogue:
    """All rules, plus the legal freeze maxima that apply everywhere, and who may act on a
    case number that is not the sender's (``case_numbers:``; default: nobody)."""

    legal_max_freeze_days: Mapping[str, int]
    rules: Sequence[PolicyRule]
    case_ownership: CaseOwnership = STRICT


@dataclass(frozen=True, slots=True)
class DelegationAsk:
    """What a delegation request asks, as the policy check needs it."""

    requesting_court: str
    executing_court: str
    matter: str
    asset_kind: str | None
    freeze_period_days: int | None
    amount: Money | None
    kind: str | None = None  # CASE (委托执行), MATTER (事项委托); None: sent before kinds
    # a CASE's own freezes, seals and seizures handed over, and when (the request's time)
    handed_over: tuple[HandedOver, ...] = ()
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: its id, a stable code, a readable message and what is allowed."""

    rule_id: str
    code: str
    message: str
    allowed: str


def ask_from_payload(payload: Mapping[str, object]) -> DelegationAsk:
    """The ask of a ``DelegationRequested`` payload (courts as ``{"court_id": ...}`` records).

    Raises:
        ValidationError: ``MONEY_*`` if the amount is not an exact amount of money.
    """
    requesting = payload["requesting_court"]
    executing = payload["executing_court"]
    amount = payload.get("amount")
    period = payload.get("freeze_period_days")
    asset = payload.get("asset_kind")
    kind = payload.get("kind")
    measures = payload.get("handed_over_measures")
    at = payload.get("requested_at")
    return DelegationAsk(
        str(requesting["court_id"] if isinstance(requesting, Mapping) else requesting),
        str(executing["court_id"] if isinstance(executing, Mapping) else executing),
        str(payload["matter"]),
        None if asset is None else str(asset),
        None if period is None else period if type(period) is int else int(str(period)),
        None if amount is None else Money.parse(amount if type(amount) is Decimal else str(amount)),
        None if kind is None else str(kind),
        _handed_over(measures),
        at if isinstance(at, datetime) else None,
    )


def _handed_over(raw: object) -> tuple[HandedOver, ...]:
    """The ``handed_over_measures`` of a decoded payload (a list of records, or None)."""
    if not isinstance(raw, Sequence):
        return ()
    found: list[HandedOver] = []
    for m in raw:
        until = m.get("until") if isinstance(m, Mapping) else None
        if not isinstance(until, datetime) or until.tzinfo is None:
            raise ValidationError(
                "a handed-over measure needs its term's end (until, a time with its zone)",
                code="DELEGATION_HANDOVER_INVALID",
            )
        found.append(HandedOver(str(m["measure"]), until))
    return tuple(found)


def check_law(ask: DelegationAsk) -> None:
    """The law's checks of a delegation request, without the regional rules: a court may not
    delegate to itself, the kind fits the matter (``delegation.check_kind``), and the measures
    a case hands over have a month left (``delegation.check_handover``, at ``ask.at``).

    Raises:
        ValidationError: ``DELEGATION_SELF``, ``DELEGATION_KIND_INVALID``,
            ``DELEGATION_KIND_NOT_ALLOWED`` or a code of ``delegation.check_handover``.
    """
    check_not_self(ask.requesting_court, ask.executing_court)
    check_kind(ask.kind, ask.matter)
    if ask.handed_over:  # most requests hand nothing over: no clock read for them
        check_handover(ask.kind, ask.handed_over, ask.at or datetime.now(UTC))


def check_request(
    catalogue: PolicyCatalogue,
    ask: DelegationAsk,
    deducted_this_year: Mapping[str, Money] | None = None,
) -> None:
    """Refuse a delegation request the law or a regional rule does not allow.

    The one check the SDK, the gateway and the delegation service all call: ``check_law``,
    then every rule of ``check`` (annual caps only when ``deducted_this_year`` is given, i.e.
    in the delegation service, which keeps the counts).

    Raises:
        ValidationError: a code of ``check_law``, or the first violation's code naming its
            rule and what is allowed.
    """
    check_law(ask)
    violations = check(catalogue, ask, deducted_this_year)
    if violations:
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        raise ValidationError(
            f"rule {first.rule_id}: {first.message}; allowed: {first.allowed}{more}",
            code=first.code,
        )


def _applies(rule: PolicyRule, ask: DelegationAsk) -> bool:
    if ask.executing_court not in rule.courts:
        return False
    if rule.out_of_region_only and ask.requesting_court in rule.courts:
        return False
    return not rule.asset_kinds or (ask.asset_kind or "OTHER") in rule.asset_kinds


def cap_rules(catalogue: PolicyCatalogue, ask: DelegationAsk) -> list[PolicyRule]:
    """The annual-deduction-cap rules that apply to ``ask`` (only deductions count)."""
    if ask.matter != "DEDUCT":
        return []
    return [r for r in catalogue.rules if r.annual_deduction_cap is not None and _applies(r, ask)]


def check(
    catalogue: PolicyCatalogue,
    ask: DelegationAsk,
    deducted_this_year: Mapping[str, Money] | None = None,
) -> list[Violation]:
    """Every rule ``ask`` breaks (empty: allowed).

    ``deducted_this_year`` maps a cap rule's id to what earlier out-of-region delegations
    already took (or reserved) from the same debtor in that region this year; without it the
    annual caps are not checked (the stateless check at the gateway).
    """
    found: list[Violation] = []
    asset = ask.asset_kind or "OTHER"
    if ask.matter == "FREEZE" and ask.freeze_period_days is None:
        found.append(
            Violation(
                "law",
                "POLICY_FREEZE_PERIOD_MISSING",
                "a freeze request must state its period in days",
                "freeze_period_days > 0",
            )
        )
    legal = catalogue.legal_max_freeze_days.get(asset)
    if ask.freeze_period_days is not None and legal is not None and ask.freeze_period_days > legal:
        found.append(
            Violation(
                "law",
                "POLICY_FREEZE_TOO_LONG",
                f"freeze of {ask.freeze_period_days} days exceeds the legal maximum for {asset}",
                f"at most {legal} days ({ART_485}; renew before expiry)",
            )
        )
    for rule in catalogue.rules:
        if not _applies(rule, ask):
            continue
        if rule.allowed_matters is not None and ask.matter not in rule.allowed_matters:
            found.append(
                Violation(
                    rule.id,
                    "POLICY_MATTER_NOT_ALLOWED",
                    f"{rule.region}: {ask.matter} of {asset} is not allowed ({rule.why})",
                    "matters: " + ", ".join(sorted(rule.allowed_matters)),
                )
            )
        if ask.matter in rule.forbidden_matters:
            found.append(
                Violation(
                    rule.id,
                    "POLICY_MATTER_NOT_ALLOWED",
                    f"{rule.region}: {ask.matter} is not accepted ({rule.why})",
                    "not: " + ", ".join(sorted(rule.forbidden_matters)),
                )
            )
        limit = rule.max_freeze_days.get(asset)
        if (
            ask.freeze_period_days is not None
            and limit is not None
            and ask.freeze_period_days > limit
        ):
            found.append(
                Violation(
                    rule.id,
                    "POLICY_FREEZE_TOO_LONG",
                    f"{rule.region}: freeze of {ask.freeze_period_days} days for {asset} exceeds the "
                    f"regional maximum ({rule.why})",
                    f"at most {limit} days",
                )
            )
        cap = rule.annual_deduction_cap
        if ask.matter == "DEDUCT" and cap is not None and deducted_this_year is not None:
            already = deducted_this_year.get(rule.id, Money(0))
            total = already + (ask.amount or Money(0))
            if total > cap:
                left = Money(max(cap.fen - already.fen, 0))
                found.append(
                    Violation(
                        rule.id,
                        "POLICY_DEDUCTION_CAP",
                        f"{rule.region}: deductions for this debtor would reach {total} this year, "
                        f"over the cap of {cap} ({rule.why})",
                        f"at most {left} more this year",
                    )
                )
    return found

"""The read model's tables as typed SQLAlchemy 2 ORM classes (the migrations create them).

Timestamps are ``timestamptz`` on PostgreSQL; SQLite keeps no zone, so they are written in UTC
and read back UTC-aware. Money is exact ``numeric(18,2)`` (text on SQLite, whose numbers are
floats).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")

# Constraint names the migrations use too, so later migrations can refer to them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A surrogate key: BIGINT on PostgreSQL, INTEGER on SQLite (only that auto-increments there).
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that only takes aware values and always returns UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware → UTC (SQLite would silently drop the offset).

        Raises:
            ValueError: a naive datetime.
        """
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC-aware, whatever the database and session time zone gave."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Amount(TypeDecorator[Decimal]):
    """Exact ``numeric(18,2)``; stored as text on SQLite so no digit is lost to a float."""

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """TEXT on SQLite, NUMERIC(18,2) elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(18, 2))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Rounded to cents; text on SQLite."""
        if value is None:
            return None
        cents = Decimal(value).quantize(CENT)
        return str(cents) if dialect.name == "sqlite" else cents

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """A ``Decimal`` with two places."""
        return None if value is None else Decimal(str(value)).quantize(CENT)


class Base(DeclarativeBase):
    """Root of the read model's ORM classes."""

    metadata = MetaData(naming_convention=NAMING)


class EventRecord(Base):
    """Every event the read model saw, once: the primary key on ce_id makes replays no-ops."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_record", "record"), Index("ix_events_key", "key"))

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    record: Mapped[str] = mapped_column(String(255))
    ce_type: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text)  # JSON text, ID numbers masked


class DelegationRecord(Base):
    """The current state of each delegation (事项委托), as the delegation service decided it.

    A request the service refused is a row too, in state REFUSED with its ``refusal_code``.
    """

    __tablename__ = "delegations"
    __table_args__ = (
        Index("ix_delegations_requesting_court", "requesting_court"),
        Index("ix_delegations_executing_court", "executing_court"),
        Index("ix_delegations_state", "state"),
        Index("ix_delegations_requested_at", "requested_at"),
    )

    delegation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # NULL only for a row made from a decision whose request event was never stored.
    case_number: Mapped[str | None] = mapped_column(Text)
    requesting_court: Mapped[str] = mapped_column(String(16))
    executing_court: Mapped[str] = mapped_column(String(16))
    matter: Mapped[str] = mapped_column(String(32))
    asset_kind: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(Amount())
    debtor_name: Mapped[str | None] = mapped_column(Text)
    debtor_id_masked: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reported: Mapped[bool] = mapped_column(Boolean)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    start_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The step last decided on (no foreign key: that step may never have been stored).
    last_event_id: Mapped[str] = mapped_column(String(64))
    event_count: Mapped[int] = mapped_column(Integer)  # steps applied
    refusal_code: Mapped[str | None] = mapped_column(String(64))  # state REFUSED: why
    refusal_reason: Mapped[str | None] = mapped_column(Text)  # ID numbers masked
    kind: Mapped[str | None] = mapped_column(String(8))  # CASE, MATTER; NULL: sent before kinds
    enforced_suit: Mapped[str | None] = mapped_column(String(64))  # 民初 / 民终 number


class HistoryRecord(Base):
    """Each decided step of a delegation, applied or refused: one row per step decided on
    (``event_id``), made from one decision (``decision_id``)."""

    __tablename__ = "delegation_history"
    __table_args__ = (
        Index("ix_delegation_history_delegation_id_time", "delegation_id", "time", "id"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    # No foreign key: a step refused for an unknown delegation is recorded too.
    delegation_id: Mapped[str] = mapped_column(String(128))
    # The step decided on; no foreign key: the decision may name a step never stored.
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    record: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255))
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    applied: Mapped[bool] = mapped_column(Boolean)
    error_code: Mapped[str | None] = mapped_column(String(64))
    state_after: Mapped[str | None] = mapped_column(String(16))
    # The DelegationDecided this row was made from (NULL only in rows older than 0002).
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("events.event_id"), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)  # a refusal's reason, ID numbers masked


class DeadLetterRecord(Base):
    """A record the bus dead-lettered; one row per source position."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint(
            "source_topic", "source_partition", "source_offset", name="uq_dead_letters_source"
        ),
        Index("ix_dead_letters_code", "code"),
    )

    id: Mapped[int] = mapped_column(SurrogateKey, primary_key=True, autoincrement=True)
    source_topic: Mapped[str] = mapped_column(String(255))
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[str] = mapped_column(Text)  # JSON: [[name, base64 value], ...]
    dead_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertRecord(Base):
    """An alert from ``bus.alerts``."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_time", "time"),)

    alert_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    delegation_id: Mapped[str | None] = mapped_column(String(128))
    court_id: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(UTCDateTime())


class BlacklistRecord(Base):
    """One entry of the dishonest-debtor list as the blacklist service's view has it.

    The debtor's ID is stored in full: it is part of what the provisions publish (最高人民法院
    关于公布失信被执行人名单信息的若干规定 第六条); readers mask it unless asked (``--show-ids``).
    ``province`` is the listing court's province code, for ``--region``.
    """

    __tablename__ = "blacklist_entries"

    entry_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    listing_court: Mapped[str] = mapped_column(String(16), index=True)
    province: Mapped[str] = mapped_column(String(8), index=True)
    case_number: Mapped[str] = mapped_column(Text)
    debtor_kind: Mapped[str] = mapped_column(String(16))
    debtor_name: Mapped[str] = mapped_column(Text)
    debtor_id: Mapped[str] = mapped_column(String(64), index=True)
    ground: Mapped[str] = mapped_column(String(40))
    serious: Mapped[bool] = mapped_column(Boolean)
    period_months: Mapped[int | None] = mapped_column(Integer)
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    entry: Mapped[str] = mapped_column(Text)  # the whole view record as JSON


class RestrictionRecord(Base):
    """One exit or consumption ban (限制出境, 限制高消费) as the view ``restriction.controls``
    last had it; a lifted control stays (LIFTED) after the view's tombstone forgets it.

    ID and travel-document numbers are stored in full (a court reads its own controls); every
    reader masks them unless asked (``--show-ids``). ``prohibited``: the art. 3 kinds, comma
    separated; ``province``: the issuing court's province code.
    """

    __tablename__ = "restriction_controls"

    control_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24))
    issuing_court: Mapped[str] = mapped_column(String(16), index=True)
    province: Mapped[str] = mapped_column(String(8))
    case_number: Mapped[str] = mapped_column(Text)
    person_name: Mapped[str] = mapped_column(Text)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    debtor_name: Mapped[str | None] = mapped_column(Text)
    debtor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    document_type: Mapped[str | None] = mapped_column(String(32))
    document_number: Mapped[str | None] = mapped_column(String(64))
    prohibited: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_until: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lift_reason: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RestrictionAckRecord(Base):
    """One entitled agency's answer to one step (ISSUE or LIFT) of a control."""

    __tablename__ = "restriction_acks"

    control_id: Mapped[str] = mapped_column(
        ForeignKey("restriction_controls.control_id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(String(8), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reference: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RestrictionExemptionRecord(Base):
    """An exemption the issuing court granted: a debtor's consumption needed for living or
    business (限制高消费规定 (2015 修正) 第八条), or an organisation's person's 因私消费 with their own property
    (第三条第二款)."""

    __tablename__ = "restriction_exemptions"

    control_id: Mapped[str] = mapped_column(
        ForeignKey("restriction_controls.control_id", ondelete="CASCADE"), primary_key=True
    )
    exemption_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kinds: Mapped[str] = mapped_column(Text)  # comma separated
    agencies: Mapped[str] = mapped_column(Text)  # comma separated
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())


class InterceptionRecord(Base):
    """An interception an entitled agency reported (port or station, time, outcome)."""

    __tablename__ = "restriction_interceptions"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    control_id: Mapped[str] = mapped_column(
        ForeignKey("restriction_controls.control_id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[str] = mapped_column(String(32))
    intercepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))


class WatchdogAlertRecord(Base):
    """A watchdog alert (CaseWatchdogAlert): a case concluded as performed with items still in
    force; ``items`` is JSON ``[{"kind", "item_id", "court_id", ...}]``."""

    __tablename__ = "watchdog_alerts"
    __table_args__ = (Index("ix_watchdog_alerts_court_id_time", "court_id", "time"),)

    alert_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    court_id: Mapped[str] = mapped_column(String(16))
    case_number: Mapped[str] = mapped_column(Text)
    alert_number: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    items: Mapped[str] = mapped_column(Text)


class DistributionRecord(Base):
    """One distribution (参与分配) as the view ``distribution.cases`` last had it."""

    __tablename__ = "distributions"

    distribution_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    presiding_court: Mapped[str] = mapped_column(String(16), index=True)
    case_number: Mapped[str] = mapped_column(Text)
    debtor_name: Mapped[str] = mapped_column(Text)
    debtor_id: Mapped[str] = mapped_column(String(64))  # in full: readers mask it
    debtor_form: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transferred_to: Mapped[str | None] = mapped_column(String(16))
    current_plan: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _distribution_fk() -> ForeignKey:
    return ForeignKey("distributions.distribution_id", ondelete="CASCADE")


class DistributionClaimRecord(Base):
    """A claim filed on a distribution, with the presiding court's decision."""

    __tablename__ = "distribution_claims"

    distribution_id: Mapped[str] = mapped_column(_distribution_fk(), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    court_id: Mapped[str] = mapped_column(String(16))
    case_number: Mapped[str | None] = mapped_column(Text)
    claimant_name: Mapped[str] = mapped_column(Text)
    claimant_id: Mapped[str] = mapped_column(String(64))
    claim_class: Mapped[str] = mapped_column(String(16))
    priority_kind: Mapped[str | None] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer)
    claimed: Mapped[Decimal] = mapped_column(Amount())
    status: Mapped[str] = mapped_column(String(16))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DistributionPlanRecord(Base):
    """One version of a distribution's plan; earlier versions stay when it is revised."""

    __tablename__ = "distribution_plans"

    distribution_id: Mapped[str] = mapped_column(_distribution_fk(), primary_key=True)
    plan_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    proceeds: Mapped[Decimal] = mapped_column(Amount())
    costs: Mapped[Decimal] = mapped_column(Amount())
    costs_paid: Mapped[Decimal] = mapped_column(Amount())
    surplus: Mapped[Decimal] = mapped_column(Amount())
    ordinary_order: Mapped[str] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AllocationRecord(Base):
    """What one claim gets under one version of a plan."""

    __tablename__ = "distribution_allocations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["distribution_id", "plan_version"],
            ["distribution_plans.distribution_id", "distribution_plans.plan_version"],
            ondelete="CASCADE",
        ),
    )

    distribution_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plan_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # payment order
    claim_class: Mapped[str] = mapped_column(String(16))
    priority_kind: Mapped[str | None] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer)
    claimed: Mapped[Decimal] = mapped_column(Amount())
    allocated: Mapped[Decimal] = mapped_column(Amount())


class ObjectionRecord(Base):
    """An objection (Art. 509), an opposition or a suit (Art. 510), in the order taken;
    ``disputes`` is JSON ``[{"claim_id", "amount"}]`` (an objection's disputed amounts)."""

    __tablename__ = "distribution_objections"

    distribution_id: Mapped[str] = mapped_column(_distribution_fk(), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))
    court_id: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    disputes: Mapped[str] = mapped_column(Text)


class DepositRecord(Base):
    """An amount deposited (提存) while a suit runs (Art. 510)."""

    __tablename__ = "distribution_deposits"

    distribution_id: Mapped[str] = mapped_column(_distribution_fk(), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Amount())

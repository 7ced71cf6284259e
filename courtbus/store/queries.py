"""The readers' side of the read model: delegations, their history, dead letters, alerts.

Read-only: nothing here writes. ``ReadModelQueries(url)`` or ``ReadModelQueries(database)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from courtbus.store import delegation_rows as rows
from courtbus.store import distribution_rows, restriction_rows
from courtbus.store.database import OnDatabase
from courtbus.store.distribution_rows import DistributionRow
from courtbus.store.jsonify import headers_from_json
from courtbus.store.models import (
    AlertRecord,
    BlacklistRecord,
    DeadLetterRecord,
    DelegationRecord,
    DistributionRecord,
    HistoryRecord,
    RestrictionRecord,
)
from courtbus.store.region import Region
from courtbus.store.restriction_rows import RestrictionRow, WatchdogAlertRow
from courtbus.store.values import (
    AlertRow,
    BlacklistRow,
    DeadLetterRow,
    DelegationRow,
    HistoryRow,
)


@dataclass(frozen=True)
class StoredKeys:
    """What the reconciler compares with the topics: every dead letter's source position, every
    decision's id in the delegation history, and each view table's (key, version)."""

    dead_letters: list[tuple[str, int, int]]
    decisions: list[str]
    listings: list[tuple[str, int]]
    restrictions: list[tuple[str, int]]
    distributions: list[tuple[str, int]]


class ReadModelQueries(OnDatabase):
    """Queries over what the projector stored."""

    def stored_keys(self) -> StoredKeys:
        """The keys of every row the reconciler checks (``courtbus reconcile``).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        dl = DeadLetterRecord
        with self._db.guard(), self._db.sessions() as session:
            return StoredKeys(
                dead_letters=[
                    (t, int(p), int(o))
                    for t, p, o in session.execute(
                        select(dl.source_topic, dl.source_partition, dl.source_offset)
                    )
                ],
                decisions=[d for d in session.scalars(select(HistoryRecord.decision_id)) if d],
                listings=[
                    (k, int(v))
                    for k, v in session.execute(
                        select(BlacklistRecord.entry_id, BlacklistRecord.version)
                    )
                ],
                restrictions=[
                    (k, int(v))
                    for k, v in session.execute(
                        select(RestrictionRecord.control_id, RestrictionRecord.version)
                    )
                ],
                distributions=[
                    (k, int(v))
                    for k, v in session.execute(
                        select(DistributionRecord.distribution_id, DistributionRecord.version)
                    )
                ],
            )

    def delegations(
        self,
        *,
        court: str | None = None,
        state: str | None = None,
        region: Region | None = None,
        overdue_at: datetime | None = None,
        requested_before: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[DelegationRow]:
        """Delegations, oldest request first; ``court`` matches requesting or executing, and
        ``region`` either court; ``overdue_at``: those overdue at that time
        (:func:`overdue_clause`); ``requested_before``: requested before that time (an age);
        ``limit`` rows from ``offset`` (a page).

        Refused requests are rows too (``state="REFUSED"``).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = _delegations_query(court, state, region, overdue_at, requested_before)
        query = query.order_by(DelegationRecord.requested_at, DelegationRecord.delegation_id)
        query = query.offset(offset or None).limit(limit)
        with self._db.guard(), self._db.sessions() as session:
            return [rows.delegation_row(r) for r in session.scalars(query)]

    def delegation_count(
        self,
        *,
        court: str | None = None,
        state: str | None = None,
        region: Region | None = None,
        overdue_at: datetime | None = None,
        requested_before: datetime | None = None,
    ) -> int:
        """How many delegations ``delegations`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(_delegations_query(court, state, region, overdue_at, requested_before))

    def delegation(self, delegation_id: str) -> DelegationRow | None:
        """One delegation, or None if no decision about its request (or a later step) was
        stored.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            found = session.get(DelegationRecord, delegation_id)
            return None if found is None else rows.delegation_row(found)

    def history(self, delegation_id: str) -> list[HistoryRow]:
        """Every decided step of a delegation, applied or refused, by (step time, id): one row
        per step decided on.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = (
            select(HistoryRecord)
            .where(HistoryRecord.delegation_id == delegation_id)
            .order_by(HistoryRecord.time, HistoryRecord.id)
        )
        with self._db.guard(), self._db.sessions() as session:
            return [rows.history_row(r) for r in session.scalars(query)]

    def dead_letters(
        self,
        *,
        code: str | None = None,
        region: Region | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[DeadLetterRow]:
        """Dead letters in the order they were stored, optionally only those with ``code``;
        ``region``: those refused from a region's courts' topics; ``limit`` rows from
        ``offset``.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``; SerializationError ``STORE_HEADERS_CORRUPT``.
        """
        query = _dead_letters_query(code, region).order_by(DeadLetterRecord.id)
        query = query.offset(offset or None).limit(limit)
        with self._db.guard(), self._db.sessions() as session:
            return [_dead_letter_row(r) for r in session.scalars(query)]

    def dead_letter_count(self, *, code: str | None = None, region: Region | None = None) -> int:
        """How many dead letters ``dead_letters`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(_dead_letters_query(code, region))

    def dead_letter(self, dl_id: int) -> DeadLetterRow | None:
        """One dead letter by its surrogate id, or None.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``; SerializationError ``STORE_HEADERS_CORRUPT``.
        """
        with self._db.guard(), self._db.sessions() as session:
            found = session.get(DeadLetterRecord, dl_id)
            return None if found is None else _dead_letter_row(found)

    def alerts(self) -> list[AlertRow]:
        """Every alert, oldest first.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = select(AlertRecord).order_by(AlertRecord.time, AlertRecord.alert_id)
        with self._db.guard(), self._db.sessions() as session:
            return [
                AlertRow(r.alert_id, r.kind, r.delegation_id, r.court_id, r.message, r.time)
                for r in session.scalars(query)
            ]

    def blacklist_entries(
        self,
        *,
        court: str | None = None,
        provinces: tuple[str, ...] | None = None,
        courts: tuple[str, ...] | None = None,
        debtor_id: str | None = None,
        status: str | None = None,
        region: Region | None = None,
        listed_before: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[BlacklistRow]:
        """Entries of the dishonest-debtor list, newest listing first; ``limit`` rows from
        ``offset`` (a page).

        ``provinces`` (2-digit codes) and ``courts`` (a sharing group's members) filter by the
        listing court, and so does ``region``; ``debtor_id`` is the canonical ID;
        ``listed_before``: listed before that time (an age).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = _blacklist_query(court, provinces, courts, debtor_id, status, region, listed_before)
        query = query.order_by(BlacklistRecord.listed_at.desc(), BlacklistRecord.entry_id)
        query = query.offset(offset or None).limit(limit)
        with self._db.guard(), self._db.sessions() as session:
            return [_blacklist_row(r) for r in session.scalars(query)]

    def blacklist_count(
        self,
        *,
        court: str | None = None,
        provinces: tuple[str, ...] | None = None,
        courts: tuple[str, ...] | None = None,
        debtor_id: str | None = None,
        status: str | None = None,
        region: Region | None = None,
        listed_before: datetime | None = None,
    ) -> int:
        """How many entries ``blacklist_entries`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(
            _blacklist_query(court, provinces, courts, debtor_id, status, region, listed_before)
        )

    def _count(self, query: Select[Any]) -> int:
        counting = select(func.count()).select_from(query.subquery())
        with self._db.guard(), self._db.sessions() as session:
            return int(session.scalar(counting) or 0)

    def blacklist_entry(self, entry_id: str) -> BlacklistRow | None:
        """One entry, or None.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            found = session.get(BlacklistRecord, entry_id)
            return None if found is None else _blacklist_row(found)

    def restrictions(
        self,
        *,
        court: str | None = None,
        person_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        region: Region | None = None,
        awaiting_ack: bool = False,
        issued_before: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RestrictionRow]:
        """Exit and consumption bans, newest first, each with its agencies' answers,
        exemptions and interceptions. ``court``: the issuing court; ``person_id`` (canonical):
        the person bound or the debtor; ``status``: ACTIVE or LIFTED; ``kind``: EXIT_BAN or
        CONSUMPTION_BAN; ``region``: the issuing court's; ``awaiting_ack``: an agency's answer
        still PENDING or OVERDUE; ``limit`` rows from ``offset`` (a page).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return restriction_rows.find_controls(
                session,
                court=court,
                person_id=person_id,
                status=status,
                kind=kind,
                region=region,
                awaiting_ack=awaiting_ack,
                issued_before=issued_before,
                limit=limit,
                offset=offset,
            )

    def restriction_count(
        self,
        *,
        court: str | None = None,
        person_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        region: Region | None = None,
        awaiting_ack: bool = False,
        issued_before: datetime | None = None,
    ) -> int:
        """How many controls ``restrictions`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(
            restriction_rows.controls_query(
                court, person_id, status, kind, region, awaiting_ack, issued_before
            )
        )

    def restriction(self, control_id: str) -> RestrictionRow | None:
        """One control, or None.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return restriction_rows.find_control(session, control_id)

    def watchdog_alerts(
        self, *, court: str | None = None, region: Region | None = None
    ) -> list[WatchdogAlertRow]:
        """Watchdog alerts, oldest first; ``court``: those to one handling court; ``region``:
        to a region's courts.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return restriction_rows.find_watchdog_alerts(session, court, region)

    def distributions(
        self,
        *,
        court: str | None = None,
        region: Region | None = None,
        states: tuple[str, ...] | None = None,
        started_before: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[DistributionRow]:
        """Distributions (参与分配), newest change first; ``court``: presiding or claiming, and
        ``region`` likewise; ``states``: in one of them; ``limit`` rows from ``offset`` (a page).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return distribution_rows.find_distributions(
                session,
                court=court,
                region=region,
                states=states,
                started_before=started_before,
                limit=limit,
                offset=offset,
            )

    def distribution_count(
        self,
        *,
        court: str | None = None,
        region: Region | None = None,
        states: tuple[str, ...] | None = None,
        started_before: datetime | None = None,
    ) -> int:
        """How many distributions ``distributions`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(
            distribution_rows.distributions_query(court, region, states, started_before)
        )

    def distribution(self, distribution_id: str) -> DistributionRow | None:
        """One distribution with its claims, every plan version, objections and deposits.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return distribution_rows.find_distribution(session, distribution_id)


# The delegation states as the rows name them (the store never imports the state machine; a
# unit test checks these against courtbus.domain.delegation): not started yet, and ended.
UNSTARTED_STATES = ("REQUESTED", "DELIVERED", "ACCEPTED", "MATERIALS_ASKED")
ENDED_STATES = (
    "REJECTED",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "RETURNED",
    "TRANSFERRED",
    "REFUSED",
)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Delegations overdue at ``now``: not yet started when the start deadline has passed
    (民事诉讼法 (2023 修正) 第二百四十条, 2021 版 第二百三十六条: 十五日内开始执行), or not ended when the report deadline has
    passed (the deadlines as the delegation service reckoned them; ``now >= due`` is overdue,
    ``courtbus.domain.calendar``)."""
    return or_(
        (DelegationRecord.start_due <= now) & DelegationRecord.state.in_(UNSTARTED_STATES),
        (DelegationRecord.report_due <= now) & DelegationRecord.state.not_in(ENDED_STATES),
    )


def passed_deadlines(
    state: str, start_due: datetime | None, report_due: datetime | None, now: datetime
) -> list[tuple[str, datetime]]:
    """The deadlines of a delegation in ``state`` overdue at ``now``, as ``overdue_clause``
    counts them in SQL: ``("start", due)`` and/or ``("report", due)``."""
    passed: list[tuple[str, datetime]] = []
    if start_due is not None and start_due <= now and state in UNSTARTED_STATES:
        passed.append(("start", start_due))
    if report_due is not None and report_due <= now and state not in ENDED_STATES:
        passed.append(("report", report_due))
    return passed


def _delegations_query(
    court: str | None,
    state: str | None,
    region: Region | None,
    overdue_at: datetime | None,
    requested_before: datetime | None,
) -> Select[Any]:
    query = select(DelegationRecord)
    if court is not None:
        query = query.where(
            or_(
                DelegationRecord.requesting_court == court,
                DelegationRecord.executing_court == court,
            )
        )
    if state is not None:
        query = query.where(DelegationRecord.state == state)
    if region is not None:
        where = region.clause(DelegationRecord.requesting_court, DelegationRecord.executing_court)
        if where is not None:
            query = query.where(where)
    if overdue_at is not None:
        query = query.where(overdue_clause(overdue_at))
    if requested_before is not None:
        query = query.where(DelegationRecord.requested_at < requested_before)
    return query


def _dead_letters_query(code: str | None, region: Region | None) -> Select[Any]:
    query = select(DeadLetterRecord)
    if code is not None:
        query = query.where(DeadLetterRecord.code == code)
    if (
        region is not None
        and (where := region.topic_clause(DeadLetterRecord.source_topic)) is not None
    ):
        query = query.where(where)
    return query


def _blacklist_query(
    court: str | None,
    provinces: tuple[str, ...] | None,
    courts: tuple[str, ...] | None,
    debtor_id: str | None,
    status: str | None,
    region: Region | None = None,
    listed_before: datetime | None = None,
) -> Select[Any]:
    """The entries that match the filters, unordered (listed and counted alike)."""
    query = select(BlacklistRecord)
    if listed_before is not None:
        query = query.where(BlacklistRecord.listed_at < listed_before)
    if region is not None and (where := region.clause(BlacklistRecord.listing_court)) is not None:
        query = query.where(where)
    if court is not None:
        query = query.where(BlacklistRecord.listing_court == court)
    if provinces is not None:
        query = query.where(BlacklistRecord.province.in_(provinces))
    if courts is not None:
        query = query.where(BlacklistRecord.listing_court.in_(courts))
    if debtor_id is not None:
        query = query.where(BlacklistRecord.debtor_id == debtor_id)
    if status is not None:
        query = query.where(BlacklistRecord.status == status)
    return query


def _blacklist_row(r: BlacklistRecord) -> BlacklistRow:
    return BlacklistRow(
        r.entry_id,
        r.status,
        r.listing_court,
        r.province,
        r.case_number,
        r.debtor_kind,
        r.debtor_name,
        r.debtor_id,
        r.ground,
        r.serious,
        r.period_months,
        r.listed_at,
        r.expires_at,
        r.updated_at,
        r.delisted_at,
        r.reason,
        r.version,
        json.loads(r.entry),
    )


def _dead_letter_row(r: DeadLetterRecord) -> DeadLetterRow:
    return DeadLetterRow(
        r.source_topic,
        r.source_partition,
        r.source_offset,
        r.code,
        r.reason,
        r.key,
        r.value,
        headers_from_json(r.headers),
        r.dead_at,
        id=r.id,
    )

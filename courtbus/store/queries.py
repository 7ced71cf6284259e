"""The readers' side of the read model: delegations, their history, dead letters, alerts.

Read-only: nothing here writes. ``ReadModelQueries(url)`` or ``ReadModelQueries(database)``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, func, or_, select

from courtbus.store import delegation_rows as rows
from courtbus.store import distribution_rows, restriction_rows
from courtbus.store.database import OnDatabase
from courtbus.store.distribution_rows import DistributionRow
from courtbus.store.jsonify import headers_from_json
from courtbus.store.model import (
    AlertRow,
    BlacklistRow,
    DeadLetterRow,
    DelegationRow,
    HistoryRow,
)
from courtbus.store.models import (
    AlertRecord,
    BlacklistRecord,
    DeadLetterRecord,
    DelegationRecord,
    HistoryRecord,
)
from courtbus.store.restriction_rows import RestrictionRow, WatchdogAlertRow


class ReadModelQueries(OnDatabase):
    """Queries over what the projector stored."""

    def delegations(
        self, *, court: str | None = None, state: str | None = None
    ) -> list[DelegationRow]:
        """Delegations, oldest request first; ``court`` matches requesting or executing.

        Refused requests are rows too (``state="REFUSED"``).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
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
        query = query.order_by(DelegationRecord.requested_at, DelegationRecord.delegation_id)
        with self._db.guard(), self._db.sessions() as session:
            return [rows.delegation_row(r) for r in session.scalars(query)]

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

    def dead_letters(self, *, code: str | None = None) -> list[DeadLetterRow]:
        """Dead letters in the order they were stored, optionally only those with ``code``.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``; SerializationError ``STORE_HEADERS_CORRUPT``.
        """
        query = select(DeadLetterRecord).order_by(DeadLetterRecord.id)
        if code is not None:
            query = query.where(DeadLetterRecord.code == code)
        with self._db.guard(), self._db.sessions() as session:
            return [_dead_letter_row(r) for r in session.scalars(query)]

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
        limit: int | None = None,
        offset: int = 0,
    ) -> list[BlacklistRow]:
        """Entries of the dishonest-debtor list, newest listing first; ``limit`` rows from
        ``offset`` (a page).

        ``provinces`` (2-digit codes) and ``courts`` (a sharing group's members) filter by the
        listing court; ``debtor_id`` is the canonical ID.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        query = _blacklist_query(court, provinces, courts, debtor_id, status)
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
    ) -> int:
        """How many entries ``blacklist_entries`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(_blacklist_query(court, provinces, courts, debtor_id, status))

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
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RestrictionRow]:
        """Exit and consumption bans, newest first, each with its agencies' answers,
        exemptions and interceptions. ``court``: the issuing court; ``person_id`` (canonical):
        the person bound or the debtor; ``status``: ACTIVE or LIFTED; ``kind``: EXIT_BAN or
        CONSUMPTION_BAN; ``limit`` rows from ``offset`` (a page).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return restriction_rows.find_controls(
                session, court=court, person_id=person_id, status=status, kind=kind,
                limit=limit, offset=offset,
            )  # fmt: skip

    def restriction_count(
        self,
        *,
        court: str | None = None,
        person_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> int:
        """How many controls ``restrictions`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(restriction_rows.controls_query(court, person_id, status, kind))

    def restriction(self, control_id: str) -> RestrictionRow | None:
        """One control, or None.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return restriction_rows.find_control(session, control_id)

    def watchdog_alerts(self, *, court: str | None = None) -> list[WatchdogAlertRow]:
        """Watchdog alerts, oldest first; ``court``: those to one handling court.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return restriction_rows.find_watchdog_alerts(session, court)

    def distributions(
        self, *, court: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[DistributionRow]:
        """Distributions (参与分配), newest change first; ``court``: presiding or claiming;
        ``limit`` rows from ``offset`` (a page).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return distribution_rows.find_distributions(
                session, court=court, limit=limit, offset=offset
            )

    def distribution_count(self, *, court: str | None = None) -> int:
        """How many distributions ``distributions`` would list with no limit (one COUNT).

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        return self._count(distribution_rows.distributions_query(court))

    def distribution(self, distribution_id: str) -> DistributionRow | None:
        """One distribution with its claims, every plan version, objections and deposits.

        Raises:
            StoreError: ``STORE_UNAVAILABLE``.
        """
        with self._db.guard(), self._db.sessions() as session:
            return distribution_rows.find_distribution(session, distribution_id)


def _blacklist_query(
    court: str | None,
    provinces: tuple[str, ...] | None,
    courts: tuple[str, ...] | None,
    debtor_id: str | None,
    status: str | None,
) -> Select[Any]:
    """The entries that match the filters, unordered (listed and counted alike)."""
    query = select(BlacklistRecord)
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
        r.entry_id, r.status, r.listing_court, r.province, r.case_number, r.debtor_kind,
        r.debtor_name, r.debtor_id, r.ground, r.serious, r.period_months, r.listed_at,
        r.expires_at, r.updated_at, r.delisted_at, r.reason, r.version, json.loads(r.entry),
    )  # fmt: skip


def _dead_letter_row(r: DeadLetterRecord) -> DeadLetterRow:
    return DeadLetterRow(
        r.source_topic, r.source_partition, r.source_offset, r.code, r.reason, r.key,
        r.value, headers_from_json(r.headers), r.dead_at, id=r.id,
    )  # fmt: skip

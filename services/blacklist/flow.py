"""The blacklist flow: the national dishonest-debtor list (失信被执行人名单) over
``bus.blacklist.events``, kept as the compacted view ``blacklist.entries``.

**Partitioning.** Courts key their messages by entry id (an update or a delisting names only
the entry), so an entry's state lives in the task of its entry id. The per-debtor rules (one
open listing per debtor and case, the applicant's 6-month lockout after a deletion at its
request) need every entry of one debtor in one place, so they live in the task of the debtor
(a hash of the canonical ID) on the flow's internal topic ``bus.blacklist.debtors``,
co-partitioned with ``bus.blacklist.events``:

1. the entry's task checks the listing (art. 2-4, 6) and asks the debtor's task (``list``);
2. the debtor's task refuses a duplicate or a locked-out applicant, or records the case, and
   answers in the entry's task (``granted`` / ``refused``), which publishes or refuses;
3. a delisting releases the case (``release``) and, at the applicant's request, locks it out.

The same two-step pattern as the delegation caps; one debtor's rules hold whatever the number
of partitions and workers.

**View.** Every change writes the entry's full state to ``blacklist.entries`` (key: entry id):
the view and its change stream at once. A delisted entry stays there as DELISTED for
``COURTBUS_BLACKLIST_GRACE_SECONDS`` (default 7 days), so late subscribers see the delisting,
then a tombstone removes it. Expiry and overdue deadlines run on the flow's timers, without any
court's message.

**Drift.** The court's task also keeps which of the court's entries the view lists, by digest
bucket (``courtbus.domain.blacklist_digest``); the flow reads the view back, so a tombstone
written from outside (a lost entry) takes the entry out. A court's ``BlacklistDigest`` is
answered with a ``BlacklistDriftReport`` naming the buckets that differ and the ids the view
holds there; the court re-sends what the view lacks (a ``DebtorListed`` with the same entry id
republishes a lost entry) and delists what it no longer has, until the digests are equal.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from courtbus.bus.records import KeptRecord, Output, internal_record, output_of, read_internal
from courtbus.bus.refusals import refusal
from courtbus.bus.topics import ALERTS_TOPIC, BLACKLIST_VIEW, flow_topic, inbox_topic
from courtbus.catalogue.directory import Directory
from courtbus.domain import blacklist as bl
from courtbus.domain import blacklist_digest as digests
from courtbus.domain.calendar import provisional_at
from courtbus.domain.courts import superior_of
from courtbus.domain.identity import debtor_key, validate_debtor_id
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import CourtbusError, ValidationError
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec
from courtbus.wire import values as v
from courtbus.wire.envelope import Envelope, Event, RawRecord
from courtbus.wire.events import sender_court
from services.blacklist.state import Debtor, Kept, dump_debtor, dump_kept, load_debtor, load_kept

log = logging.getLogger("courtbus.blacklist")
EVENTS = flow_topic("blacklist")
DEBTORS_TOPIC = "bus.blacklist.debtors"
VIEW_TOPIC = BLACKLIST_VIEW  # the view this flow writes
NS = "cn.court.bus.blacklist."
DEFAULT_GRACE = timedelta(days=7)  # COURTBUS_BLACKLIST_GRACE_SECONDS: a delisting in the view
ENTRIES: StoreSpec[Kept] = StoreSpec("entries", dump_kept, load_kept)
DEBTORS: StoreSpec[Debtor] = StoreSpec("debtors", dump_debtor, load_debtor)
# A court's entries in the view, per digest bucket: "<court>|<bucket>" → sorted entry ids.
COURTS: StoreSpec[list[str]] = StoreSpec(
    "courts", lambda ids: json.dumps(ids).encode(), lambda b: list(json.loads(b))
)
_INTERNAL_KINDS = ("list", "granted", "refused", "release", "member")
_TIMES = ("filed_at", "listed_at")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class BlacklistFlow(Flow):
    """The blacklist flow over ``bus.blacklist.events`` and its internal debtor topic."""

    name = "blacklist"
    source = "bus:blacklist"
    inputs = Inputs(topics=(EVENTS, DEBTORS_TOPIC, VIEW_TOPIC))
    raw_topics = frozenset({DEBTORS_TOPIC, VIEW_TOPIC})  # read raw
    stores = (ENTRIES, DEBTORS, COURTS)
    timers = True

    def __init__(
        self, envelope: Envelope, directory: Directory, grace: timedelta | None = None
    ) -> None:
        """``grace``: how long a delisted entry stays in the view before its tombstone
        (default 7 days; the service's ``BlacklistSettings`` give it from the environment)."""
        super().__init__(envelope)
        self.directory = directory
        self.grace = DEFAULT_GRACE if grace is None else grace

    # -- events ------------------------------------------------------------------------------

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Outputs for one court message or internal debtor record; raise to refuse."""
        if record.raw.topic == DEBTORS_TOPIC:
            return self._on_internal(record.raw, state)
        if record.raw.topic == VIEW_TOPIC:
            return self._on_view(record.raw, state)
        event = record.decoded
        if event.headers.source_kind == "bus":
            return []
        short = event.record.removeprefix(NS)
        court = sender_court(event.headers.source)
        if short == "BlacklistDigest":
            return [self._compare(event, court, state)]
        eid = str(event.payload["entry_id"])
        if short == "DebtorListed":
            return self._list(record.raw, event, eid, court, state)
        table = state.table(ENTRIES)
        kept = table.get(eid)
        if kept is None or kept.pending is not None:
            raise ValidationError(f"no entry {eid} on the list", code="BLACKLIST_UNKNOWN")
        p = event.payload
        now = state.now
        if short == "DebtorListingUpdated":
            entry = bl.update(
                kept.entry,
                court,
                now,
                period_months=p.get("period_months"),
                serious=p.get("serious"),
                period_given=p.get("period_months") is not None,
            )
            return self._changed(state, replace(kept, entry=entry))
        if short == "DebtorDelisted":
            entry = bl.delist(kept.entry, court, bl.Reason(str(p["reason"])), now)
            return self._delisted(state, replace(kept, entry=entry))
        if short == "DebtorCorrectionApplied":
            entry = bl.correction_applied(kept.entry, court, p["applied_at"])
            out = self._notice(
                entry,
                bl.NoticeKind.CORRECTION_REVIEW_DUE,
                entry.review_due,
                now,
                f"correction applied for ({p['ground']}): review within "
                f"{bl.REVIEW_DAYS} days ({bl.art('十二')})",
            )
            return [*self._store(state, replace(kept, entry=entry)), out]
        if short == "DebtorCorrectionDecided":
            entry = bl.correction_decided(kept.entry, court, bool(p["upheld"]), now)
            return self._store(state, replace(kept, entry=entry))
        if short == "DebtorDeletionReasonReported":
            reason = bl.Reason(str(p["reason"]))
            entry = bl.deletion_reason(kept.entry, reason, p["arisen_at"])
            if entry.deletion_due is not None:
                detail = (
                    f"{reason.value} reported by court {court}: delete within "
                    f"{bl.DELETION_WORKING_DAYS} working days ({bl.art('十')})"
                )
            else:
                detail = (
                    f"{reason.value} reported by court {court}; the entry has a period and "
                    f"leaves when it ends ({bl.art('十')}); it may be deleted early "
                    f"({bl.art('二')})"
                )
            out = self._notice(entry, bl.NoticeKind.DELETION_DUE, entry.deletion_due, now, detail)
            return [*self._store(state, replace(kept, entry=entry)), out]
        raise ValidationError(f"{short} is not a blacklist step", code="TYPE_NOT_ALLOWED")

    def _list(
        self, raw: RawRecord, event: Event, eid: str, court: str | None, state: State
    ) -> list[Output]:
        p = event.payload
        listing_court = str(p["listing_court"]["court_id"])
        existing = state.table(ENTRIES).get(eid)
        if existing is not None:
            e = existing.entry
            if not existing.in_view and court == e.listing_court and e.status is bl.Status.ACTIVE:
                log.info("republished %s, lost from the view, on its court's re-send", eid)
                return self._changed(state, replace(existing, in_view=True))
            raise ValidationError(f"entry id {eid} is already used", code="BLACKLIST_ENTRY_EXISTS")
        if court != listing_court:
            raise ValidationError(
                f"the listing names court {listing_court} but came from {court}",
                code="SOURCE_NOT_PARTY",
            )
        d = p["debtor"]
        canonical = validate_debtor_id(
            str(d["kind"]),
            str(d["id_number"]),
            id_type=d.get("id_type"),
            nationality=d.get("nationality"),
        )
        if p.get("legal_representative_id"):
            validate_debtor_id("PERSON", str(p["legal_representative_id"]))
        listing = bl.Listing(
            debtor_kind=str(d["kind"]),
            debtor_id=canonical,
            ground=bl.Ground(str(p["ground"])),
            serious=bool(p["serious"]),
            period_months=p.get("period_months"),
            listed_at=p["listed_at"],
            legal_representative=p.get("legal_representative"),
            performance=p.get("performance"),
            conduct=p.get("conduct"),
            title_issuer=p.get("title_issuer"),
            title_number=p.get("title_number"),
            filed_at=p.get("filed_at"),
            security_provided=bool(p.get("security_provided")),
            sealed_property_sufficient=bool(p.get("sealed_property_sufficient")),
            later_in_order=bool(p.get("later_in_order")),
            otherwise_not_refusal=bool(p.get("otherwise_not_refusal")),
        )
        bl.check_listing(listing)
        applicant = p.get("applicant")
        applicant_key = None
        if applicant:
            applicant_key = debtor_key(
                validate_debtor_id(str(applicant["kind"]), str(applicant["id_number"])),
                applicant.get("nationality"),
            )
        published = {
            name: _iso(p.get(name))
            for name in (
                "case_number",
                "listing_court",
                "debtor",
                "legal_representative",
                "legal_representative_id",
                "obligation",
                "performance",
                "conduct",
                "title_issuer",
                "title_number",
                "filed_at",
                "listed_at",
            )
        }
        key = debtor_key(canonical, d.get("nationality"))
        case = str(p["case_number"]["text"])
        entry = bl.listed(eid, listing_court, listing)
        kept = Kept(entry, published, key, case, applicant_key, KeptRecord.of(raw).to_json())
        state.table(ENTRIES).put(eid, kept)
        body = {"entry_id": eid, "case": case, "applicant": applicant_key}
        return [_internal(key, "list", body)]

    # -- the debtor's task -------------------------------------------------------------------

    def _on_internal(self, raw: RawRecord, state: State) -> list[Output]:
        kind, body = _read_internal(raw)
        eid = str(body["entry_id"])
        if kind == "list":
            return [self._decide(raw, body, state)]
        if kind == "release":
            self._release(raw, body, state)
            return []
        if kind == "member":
            self._member(body, state)
            return []
        kept = state.table(ENTRIES).get(eid)
        if kept is None or kept.pending is None:
            return []  # answered already (a replay)
        request = KeptRecord.from_json(kept.pending)
        if kind == "granted":
            log.info("listed %s", eid)
            return self._changed(state, replace(kept, pending=None))
        state.table(ENTRIES).delete(eid)
        state.timers.cancel(eid)
        error = ValidationError(str(body["reason"]), code=str(body["code"]))
        return refusal(
            self.envelope, request, error, ("court", kept.entry.listing_court), self.source
        )

    def _decide(self, raw: RawRecord, body: dict[str, Any], state: State) -> Output:
        key = (raw.key or b"").decode()
        table = state.table(DEBTORS)
        debtor = table.get(key) or Debtor()
        eid, case = str(body["entry_id"]), str(body["case"])
        if case in debtor.cases and debtor.cases[case] != eid:
            return _internal(
                eid,
                "refused",
                {
                    "entry_id": eid,
                    "code": "BLACKLIST_DUPLICATE",
                    "reason": f"the debtor is already listed for case {case} as entry "
                    f"{debtor.cases[case]}",
                },
            )
        until = debtor.locked_until(body.get("applicant"), state.now)
        if until is not None:
            return _internal(
                eid,
                "refused",
                {
                    "entry_id": eid,
                    "code": "BLACKLIST_RELIST_LOCKED",
                    "reason": f"this applicant had the debtor deleted at its request; it cannot have "
                    f"the debtor relisted until {until.isoformat()} ({bl.art('十')})",
                },
            )
        debtor.cases[case] = eid
        table.put(key, debtor)
        return _internal(eid, "granted", {"entry_id": eid})

    def _release(self, raw: RawRecord, body: dict[str, Any], state: State) -> None:
        key = (raw.key or b"").decode()
        table = state.table(DEBTORS)
        debtor = table.get(key) or Debtor()
        if debtor.cases.get(str(body["case"])) == str(body["entry_id"]):
            del debtor.cases[str(body["case"])]
        if body.get("lockout") and body.get("until"):
            debtor.lockouts[str(body["lockout"])] = str(body["until"])
        now = state.now
        debtor.lockouts = {
            a: u for a, u in debtor.lockouts.items() if (t := _time(u)) is not None and t > now
        }
        if debtor.cases or debtor.lockouts:
            latest = max(
                (datetime.fromisoformat(u) for u in debtor.lockouts.values()), default=None
            )
            table.put(key, debtor, expires=None if debtor.cases else latest)
        else:
            table.delete(key)

    # -- changes and the view ----------------------------------------------------------------

    def _changed(self, state: State, kept: Kept) -> list[Output]:
        """Store, publish the view record, and tell the court's task whether it is listed."""
        e = kept.entry
        member = {
            "court": e.listing_court,
            "entry_id": e.entry_id,
            "active": e.status is bl.Status.ACTIVE,
        }
        return [
            *self._store(state, kept),
            self._view(kept),
            _internal(e.listing_court, "member", member),
        ]

    def _on_view(self, raw: RawRecord, state: State) -> list[Output]:
        """A record of the view that this flow did not write: a tombstone from outside removes
        an entry still listed, which the court's next digest will find."""
        if raw.value is not None:
            return []
        eid = (raw.key or b"").decode()
        kept = state.table(ENTRIES).get(eid)
        if kept is None or kept.entry.status is not bl.Status.ACTIVE or not kept.in_view:
            return []  # our own tombstone after the grace, or already known lost
        log.warning("entry %s was removed from the view from outside the blacklist service", eid)
        state.table(ENTRIES).put(eid, replace(kept, in_view=False))
        member = {"court": kept.entry.listing_court, "entry_id": eid, "active": False}
        return [_internal(kept.entry.listing_court, "member", member)]

    def _member(self, body: dict[str, Any], state: State) -> None:
        """In the court's task: keep which of the court's entries the view lists, by bucket."""
        eid = str(body["entry_id"])
        key = f"{body['court']}|{digests.bucket_of(eid)}"
        table = state.table(COURTS)
        ids = set(table.get(key) or [])
        if body["active"]:
            ids.add(eid)
        else:
            ids.discard(eid)
        if ids:
            table.put(key, sorted(ids))
        else:
            table.delete(key)

    def _compare(self, event: Event, court: str | None, state: State) -> Output:
        """In the court's task: the court's digest against the view's; the drift report."""
        p = event.payload
        court_id = str(p["court_id"])
        if court != court_id or str(p["court"]["court_id"]) != court_id:
            raise ValidationError(
                f"a digest of court {court_id} must come from that court, not {court}",
                code="SOURCE_NOT_PARTY",
            )
        if int(p["bucket_count"]) != digests.BUCKETS:
            raise ValidationError(
                f"digests use {digests.BUCKETS} buckets, not {p['bucket_count']}",
                code="BLACKLIST_DIGEST_INVALID",
            )
        table = state.table(COURTS)
        held = {b: table.get(f"{court_id}|{b}") or [] for b in range(digests.BUCKETS)}
        view = {
            b: digests.Bucket(len(ids), digests.bucket_hash(ids)) for b, ids in held.items() if ids
        }
        theirs = {
            int(b["bucket"]): digests.Bucket(int(b["count"]), str(b["hash"])) for b in p["buckets"]
        }
        differing = digests.differing(view, theirs)
        payload = {
            "court_id": court_id,
            "court": v.court(court_id),
            "digest_id": p["digest_id"],
            "bucket_count": digests.BUCKETS,
            "in_sync": not differing,
            "differing": [
                {
                    "bucket": b,
                    "view_count": len(held[b]),
                    "court_count": theirs[b].count if b in theirs else 0,
                    "view_entry_ids": held[b],
                }
                for b in differing
            ],
            "checked_at": state.now,
        }
        log.info("digest of court %s: %d bucket(s) differ", court_id, len(differing))
        topic = inbox_topic("court", court_id)
        built = self.envelope.build(topic, NS + "BlacklistDriftReport", payload, self.source)
        return output_of(built)

    def _delisted(self, state: State, kept: Kept) -> list[Output]:
        e = kept.entry
        kept = replace(kept, tombstone_at=state.now + self.grace)
        body: dict[str, Any] = {"entry_id": e.entry_id, "case": kept.case}
        if e.reason is bl.Reason.CREDITOR_REQUEST and kept.applicant_key:
            body |= {
                "lockout": kept.applicant_key,
                "until": bl.lockout_until(state.now).isoformat(),
            }
        return [*self._changed(state, kept), _internal(kept.debtor_key, "release", body)]

    def _store(self, state: State, kept: Kept) -> list[Output]:
        state.table(ENTRIES).put(kept.entry.entry_id, kept)
        times = [t for t in (bl.next_due(kept.entry), kept.tombstone_at) if t is not None]
        if times:
            state.timers.schedule(kept.entry.entry_id, min(times))
        else:
            state.timers.cancel(kept.entry.entry_id)
        return []

    def _view(self, kept: Kept) -> Output:
        e, pub = kept.entry, kept.published
        payload: dict[str, Any] = {
            name: (_time(pub[name]) if name in _TIMES else pub[name]) for name in pub
        }
        payload |= {
            "entry_id": e.entry_id,
            "status": e.status.value,
            "ground": e.ground.value,
            "serious": e.serious,
            "period_months": e.period_months,
            "expires_at": e.expires_at,
            "updated_at": e.updated_at,
            "delisted_at": e.delisted_at,
            "reason": e.reason.value if e.reason else None,
            "version": e.version,
        }
        built = self.envelope.build(VIEW_TOPIC, NS + "BlacklistEntry", payload, self.source)
        return output_of(built)

    def _notice(
        self,
        entry: bl.Entry,
        kind: bl.NoticeKind,
        due: datetime | None,
        now: datetime,
        detail: str,
    ) -> Output:
        if due is not None and kind is not bl.NoticeKind.EXPIRED:  # expiry: months, no holidays
            note = provisional_at(due)  # days counted into a year without holiday data
            detail += f"; the due time is {note}" if note else ""
        payload = {
            "entry_id": entry.entry_id,
            "listing_court": v.court(entry.listing_court),
            "notice": kind.value,
            "due_at": due,
            "sent_at": now,
            "detail": mask_ids_in_text(detail),
        }
        topic = inbox_topic("court", entry.listing_court)
        return output_of(self.envelope.build(topic, NS + "BlacklistNotice", payload, self.source))

    # -- timers ------------------------------------------------------------------------------

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        """Expiries, overdue deadlines and tombstones whose time has come."""
        outputs: list[Output] = []
        table = state.table(ENTRIES)
        for due in state.timers.due_entries(table, now, tombstone_at=lambda k: k.tombstone_at):
            eid, kept = due.key, due.value
            if due.tombstoned:
                outputs.append(Output(VIEW_TOPIC, eid.encode(), None, []))
                continue
            e = kept.entry
            if e.status is bl.Status.ACTIVE and e.expires_at is not None and now >= e.expires_at:
                expired = bl.delist(e, None, bl.Reason.EXPIRED, now)
                detail = f"the listing period ended at {e.expires_at.isoformat()} ({bl.art('十')})"
                outputs += self._delisted(state, replace(kept, entry=expired))
                outputs.append(
                    self._notice(expired, bl.NoticeKind.EXPIRED, e.expires_at, now, detail)
                )
                continue
            marked, kinds = bl.overdue(e, now)
            outputs += self._store(state, replace(kept, entry=marked))
            for kind in kinds:
                outputs += self._overdue(marked, kind, now)
        return outputs

    def _overdue(self, e: bl.Entry, kind: bl.NoticeKind, now: datetime) -> list[Output]:
        due = {
            bl.NoticeKind.DELETION_OVERDUE: e.deletion_due,
            bl.NoticeKind.CORRECTION_REVIEW_OVERDUE: e.review_due,
            bl.NoticeKind.CORRECTION_OVERDUE: e.correction_due,
        }[kind]
        what = {
            bl.NoticeKind.DELETION_OVERDUE: f"not deleted within {bl.DELETION_WORKING_DAYS} working "
            f"days of {e.deletion_reason.value if e.deletion_reason else 'a reason'} ({bl.art('十')})",
            bl.NoticeKind.CORRECTION_REVIEW_OVERDUE: f"an application for correction not reviewed "
            f"within {bl.REVIEW_DAYS} days ({bl.art('十二')})",
            bl.NoticeKind.CORRECTION_OVERDUE: f"an upheld correction not made within "
            f"{bl.CORRECTION_WORKING_DAYS} working days ({bl.art('十二')})",
        }[kind]
        out = self._notice(e, kind, due, now, f"entry {e.entry_id}: {what}")
        outputs = [out, Output(ALERTS_TOPIC, out.key, out.value, out.headers)]
        superior = superior_of(e.listing_court)
        if superior is not None and any(c.id == superior for c in self.directory.courts):
            outputs.append(Output(inbox_topic("court", superior), out.key, out.value, out.headers))
        log.info("%s for %s", kind.value, e.entry_id)
        return outputs

    def on_refused(self, record: Incoming, error: CourtbusError, state: State) -> list[Output]:
        """A refused listing leaves nothing behind (its pending entry is not kept)."""
        return []


def _internal(key: str, kind: str, body: dict[str, Any]) -> Output:
    return internal_record(DEBTORS_TOPIC, key, kind, body)


def _read_internal(raw: RawRecord) -> tuple[str, dict[str, Any]]:
    """(kind, body) of an internal record.

    Raises:
        ValidationError: ``BLACKLIST_RECORD_INVALID``.
    """
    return read_internal(raw, _INTERNAL_KINDS, "BLACKLIST_RECORD_INVALID")

"""The restriction flow: exit and consumption bans (限制出境, 限制高消费) over
``bus.restriction.events``, kept as the compacted view ``restriction.controls``. Imports no
Kafka client.

**Partitioning.** Courts and agencies key every restriction message by control id, so a
control, its answers and its timers live in the task of the control id: no internal topic.

**Issue.** A court's ``RestrictionIssued`` names one natural person (``subject``, with
``role``; an organisation debtor in ``debtor``), a typed travel document for an exit ban and,
for a consumption ban, the forbidden kinds of art. 3 (none named: all of them). It is checked
by ``courtbus.domain.restriction`` (an exit ban binds natural persons only, an organisation's
ban names its persons: art. 3 of 最高人民法院关于限制被执行人高消费及有关消费的若干规定 (2015 修正) and
民事诉讼法 (2023 修正) 第二百六十六条 on 限制出境) and the control is owed an acknowledgement by each agency
the directory grants the kind to (``topics/directory.yaml``: nia exit bans, report:356-366;
caac and rail consumption bans, report:372-374), narrowed to those that enforce something it
forbids (``rs.agencies_for``). The view record goes to ``restriction.controls``; the feed
router (``services/feeds``) projects it to each agency's granted fields.

**Answers.** An agency's ``RestrictionAcknowledged`` (with its reference),
``RestrictionRejected`` (e.g. an identity mismatch) and ``InterceptionReported`` (port or
station, time, outcome) are forwarded as they came to the issuing court's inbox; the first two
update the view's per-agency state, an interception is added to its ``interceptions``. An agency that is not one of the control's, or a control
the flow does not hold, is refused.

**Deadline.** An entitled agency that has not acknowledged an issue or a lift within
``COURTBUS_RESTRICTION_ACK_SECONDS`` (default 12 hours: an operational choice, not law) of
the bus receiving it raises, once per agency and step, a ``ServiceAlert``
(``RESTRICTION_ACK_OVERDUE``) on ``bus.alerts`` and a ``RestrictionNotice`` (``ACK_OVERDUE``,
the negative receipt) to the issuing court; the view shows it ``OVERDUE``. A rejection
excuses that step; a late acknowledgement still counts.

**Lift and exemptions.** Only the issuing court lifts, once (art. 9); the agencies then owe a
lift acknowledgement. The issuing court records an application for an exemption and grants
or refuses it (art. 3, last paragraph); a granted one goes into the view, so it reaches the
agencies concerned. A lifted control stays in the view as LIFTED for
``COURTBUS_RESTRICTION_GRACE_SECONDS`` (default 7 days, an operational choice), then a
tombstone removes it.

**Listings.** A debtor listed as dishonest shall be restricted (art. 1, second paragraph): the
flow reads the list's view ``blacklist.entries`` and issues, in the listing court's name, the
consumption ban each ACTIVE entry requires, lifting it on a delisting for performance or
correction (``services.restriction.listings``); the court is told either way
(``RestrictionNotice``). ``COURTBUS_RESTRICTION_FROM_LISTINGS=0`` turns this off.

**Initial load.** A fresh worker over an existing list (8.6 M entries in 2023) meets the
whole view at once. An entry last changed more than ``COURTBUS_RESTRICTION_BULK_AGE_SECONDS``
(default 300 s) before the bus reads it is a backlog record: its ban is issued the same way
and published to the view, but its court gets no notice per entry; the bans of a court's
backlog are counted in the task, and once the backlog of that task has been quiet for
``COURTBUS_RESTRICTION_BULK_QUIET_SECONDS`` (60 s) the court gets one summary
``RestrictionNotice`` (``ISSUED_FOR_LISTING``, ``control_id`` empty, the count and the first
and last entry in ``detail``) per task that held some of its entries. A listing made while the
service runs is read within seconds and keeps its own notice. Every ban of the list is in
``restriction.controls``, keyed by its entry id, for the court to look up. A listing's IDs were
checked by the blacklist service when it was listed (``services.blacklist.flow``), so the ban
takes them as they are (the structural rules, e.g. an organisation's entry without its legal
representative's ID, are still checked). Progress (bans issued, rate, records read of the
view's records) is logged every ``COURTBUS_RESTRICTION_PROGRESS_SECONDS`` (30 s).

The load is a bulk path: the list's view is a bulk input (``on_records``: a task's records of
a batch at once, their controls looked up in one query) and a paced one (at most 500 a batch;
the runtime carries the rest and takes the courts' and agencies' records first). A backlog
ban's view record is built straight from the entry (the same record as ``_listing_ban``'s),
its control is stored as the entry itself (``Listed``, made into a ``Kept`` when something
needs it, and stored as one on its first change), and the acknowledgement deadlines of a
batch's bans are one timer (``DUE_TIMER``, store ``listing_due``): when it fires, each of those
controls owes what it owed (``rs.owed``), as with a timer of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from courtbus.bus.records import Output, forward, output_of
from courtbus.bus.refusals import ALERT_RECORD
from courtbus.bus.topics import (
    ALERTS_TOPIC,
    BLACKLIST_VIEW,
    RESTRICTION_VIEW,
    flow_topic,
    inbox_topic,
)
from courtbus.catalogue.directory import Directory
from courtbus.domain import restriction as rs
from courtbus.domain.identity import validate_debtor_id
from courtbus.domain.masking import mask_ids_in_text
from courtbus.domain.person_ids import validate_passport
from courtbus.errors import ValidationError
from courtbus.runtime import Flow, Incoming, Inputs, State, StoreSpec, json_store
from courtbus.runtime.state import to_ms
from courtbus.wire import values as v
from courtbus.wire.envelope import Builder, Envelope, Event, RawRecord
from courtbus.wire.events import sender_court
from services.restriction import listings
from services.restriction.state import Kept, Listed, dump_control, load_control

log = logging.getLogger("courtbus.restriction")
FLOW = "restriction"
EVENTS = flow_topic(FLOW)
VIEW_TOPIC = RESTRICTION_VIEW
ENTRY_RECORD = "cn.court.bus.blacklist.BlacklistEntry"
NS = "cn.court.bus.restriction."
VIEW_RECORD = NS + "RestrictionControl"
# A control as JSON (Kept), or a ban of the initial load nobody changed since (Listed).
CONTROLS: StoreSpec[Kept | Listed] = StoreSpec("controls", dump_control, load_control)
# Per court, the bans an initial load issued in this task and not yet summed up to the court.
LOAD: StoreSpec[Any] = json_store("listing_load")
LOAD_TIMER = "#listing-load:"  # + court id: its summary's timer (no control id starts so)
# The initial load's bans of one batch and task whose acknowledgements fall due together:
# group id -> their control ids, with one timer (DUE_TIMER + group id) instead of one each.
DUE: StoreSpec[Any] = json_store("listing_due")
DUE_TIMER = "#listing-due:"
TICK_CONTROLS = 10_000  # the most controls of due groups a task's tick takes; the rest wait
DEFAULT_BULK_AGE = timedelta(minutes=5)  # an entry older than this when read: a backlog
DEFAULT_BULK_QUIET = timedelta(minutes=1)  # a backlog this quiet is over: its summary goes
DEFAULT_PROGRESS_S = 30.0
DEFAULT_GRACE = timedelta(days=7)  # how long a lifted control stays in the view: operational
# Older LiftReason symbols and the ground each names (art. 9); SETTLEMENT and COURT_DECISION
# name no ground of the provisions and are refused.
_LEGACY_LIFT = {
    "DEBT_PAID": rs.LiftReason.PERFORMED,
    "GUARANTEE_PROVIDED": rs.LiftReason.SECURITY_PROVIDED,
    "CORRECTION": rs.LiftReason.ERROR,
}
_AGENCY_RECORDS = ("RestrictionAcknowledged", "RestrictionRejected", "InterceptionReported")


class LoadProgress:
    """How far the initial load of this worker is: logged every ``every_s`` seconds.

    ``ends``: the view's end offsets per partition (asked once, at the first line; None or a
    failure: the line gives no total).
    """

    def __init__(
        self,
        every_s: float = DEFAULT_PROGRESS_S,
        ends: Callable[[], Mapping[int, int]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every_s, self.ends, self.clock = every_s, ends, clock
        self.done = 0  # backlog bans issued by this worker
        self.read: dict[int, int] = {}  # partition -> the offset after the last record read
        self.started: float | None = None
        self._last = 0.0
        self._total: int | None = None
        self._asked = False

    def note(self, partition: int, offset: int, issued: bool) -> None:
        """A backlog record of the view was read (``issued``: a ban came of it)."""
        self.add({partition: offset + 1}, int(issued))

    def add(self, read: Mapping[int, int], issued: int) -> None:
        """Backlog records of the view were read, up to ``read`` (partition -> the offset after
        the last one), and ``issued`` bans came of them."""
        now = self.clock()
        if self.started is None:
            self.started = self._last = now
        self.done += issued
        self.read.update(read)
        if now - self._last >= self.every_s:
            self._last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress line: bans issued, their rate, records of the view read of its total."""
        now = self.clock() if now is None else now
        took = max(now - (now if self.started is None else self.started), 1e-9)
        if not self._asked and self.ends is not None:
            self._asked = True
            try:
                self._total = sum(self.ends().values())
            except Exception as exc:  # only the total is missing from the line
                log.warning("listing load: the view's end offsets are unknown: %s", exc)
        read = sum(self.read.values())
        of = f" of {self._total:,}" if self._total else ""
        return (
            f"listing load: {self.done:,} consumption bans issued for listings in {took:.0f} s "
            f"({self.done / took:,.0f}/s); view records read {read:,}{of}"
        )


def _tombstone_at(stored: Kept | Listed) -> datetime | None:
    """When a stored control's tombstone falls due (a ``Listed`` ban is in force: never)."""
    return stored.tombstone_at if isinstance(stored, Kept) else None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass
class _Load:
    """What the list records of one call (a record, or a bulk of one task) leave to do once:
    the summary counts per court, the bans whose deadline is one group, the progress."""

    builder: Builder | None = None
    courts: dict[str, list[Any]] = field(default_factory=dict)  # court -> [first, last, n]
    due: list[str] = field(default_factory=list)
    read: dict[int, int] = field(default_factory=dict)  # partition -> offset after the last
    issued: int = 0


class RestrictionFlow(Flow):
    """Exit and consumption bans over ``bus.restriction.events``, their view and deadlines."""

    name = FLOW
    source = "bus:restriction"
    inputs = Inputs(topics=(EVENTS, BLACKLIST_VIEW))
    raw_topics = frozenset({BLACKLIST_VIEW})  # read raw: tombstones, and only ACTIVE matters
    stores = (CONTROLS, LOAD, DUE)
    timers = True
    # At most this many list records a batch, so a court's own bans and the agencies' answers
    # never wait behind a backlog of the list (a fresh worker over 8.6 M entries) for long: a
    # paced flow's consumer also fetches only about a batch ahead (``paced_queue_kbytes``).
    # As many as a batch takes (``max_records``): none is fetched and dropped to be read again.
    paced_inputs: ClassVar[Mapping[str, int]] = {BLACKLIST_VIEW: 500}
    # A task's list records of a batch are taken together (``on_records``): the load's bans
    # cost per-batch work where they can, not per-record work.
    bulk_inputs: ClassVar[frozenset[str]] = frozenset({BLACKLIST_VIEW})

    def __init__(
        self,
        envelope: Envelope,
        directory: Directory,
        ack_deadline: timedelta | None = None,
        grace: timedelta | None = None,
        from_listings: bool = True,
        bulk_age: timedelta | None = None,
        bulk_quiet: timedelta | None = None,
        progress: LoadProgress | None = None,
    ) -> None:
        """``ack_deadline``: an agency's time to acknowledge (default 12 hours);
        ``grace``: how long a lifted control stays in the view (default 7 days);
        ``from_listings``: a consumption ban follows each listing (default); ``bulk_age``,
        ``bulk_quiet``: see the module's "Initial load"; ``progress``: where the load's
        progress is counted and logged. The service's ``RestrictionSettings`` give them from
        the environment."""
        super().__init__(envelope)
        self.from_listings = from_listings
        self.granted = {f.agency: frozenset(f.kinds) for f in directory.feeds if f.flow == FLOW}
        self.known_agencies = frozenset(a.id for a in directory.agencies)
        self.ack_deadline = rs.ACK_DEADLINE if ack_deadline is None else ack_deadline
        self.grace = DEFAULT_GRACE if grace is None else grace
        self.bulk_age = DEFAULT_BULK_AGE if bulk_age is None else bulk_age
        self.bulk_quiet = DEFAULT_BULK_QUIET if bulk_quiet is None else bulk_quiet
        self.progress = progress or LoadProgress()
        # What every listing's ban is the same in (art. 3: all the kinds; the agencies that
        # enforce them), computed once rather than per entry.
        self._all_kinds = sorted(rs.Consumption)
        self._listing_agencies = rs.agencies_for(
            rs.Kind.CONSUMPTION_BAN, self.granted, frozenset(self._all_kinds)
        )
        self._all_kind_values = [k.value for k in self._all_kinds]

    # -- events ------------------------------------------------------------------------------

    def on_event(self, record: Incoming, state: State) -> list[Output]:
        """Outputs for one court or agency message or list entry; raise to refuse a message."""
        if record.raw.topic == BLACKLIST_VIEW:
            return self._listings([record.raw], state) if self.from_listings else []
        event = record.decoded
        if event.headers.source_kind == "bus":
            return []
        short = event.record.removeprefix(NS)
        cid = str(event.payload["control_id"])
        if short == "RestrictionIssued":
            return self._issue(event, cid, state)
        kept = self._kept(state, cid)
        if kept is None:
            raise ValidationError(f"no restriction {cid} on the bus", code="RESTRICTION_UNKNOWN")
        if short in _AGENCY_RECORDS:
            return self._answer(record.raw, event, short, kept, state)
        court = sender_court(event.headers.source)
        if short == "RestrictionLifted":
            return self._lift(event, court, kept, state)
        if short == "RestrictionExemptionApplied":
            self._check_exemption(kept, court)
            at = _iso(event.payload["applied_at"])
            apps = kept.applications | {str(event.payload["exemption_id"]): at}
            state.table(CONTROLS).put(cid, replace(kept, applications=apps))
            return []
        if short == "RestrictionExemptionDecided":
            return self._exemption(event.payload, court, kept, state)
        raise ValidationError(f"{short} is not a restriction step", code="TYPE_NOT_ALLOWED")

    def _issue(self, event: Event, cid: str, state: State) -> list[Output]:
        p = event.payload
        if cid in state.table(CONTROLS):
            raise ValidationError(f"control id {cid} is already used", code="RESTRICTION_EXISTS")
        court = sender_court(event.headers.source)
        issuing = str(p["issuing_court"]["court_id"])
        if court != issuing:
            raise ValidationError(
                f"the control names court {issuing} but came from {court}",
                code="SOURCE_NOT_PARTY",
            )
        return self._create(p, cid, issuing, state)

    def _create(
        self, p: dict[str, Any], cid: str, issuing: str, state: State, listing: str | None = None
    ) -> list[Output]:
        """Check a control's person, document and kinds (art. 3) and publish it.

        Raises:
            ValidationError: ``RESTRICTION_NO_PERSON``, ``RESTRICTION_SUBJECT_INVALID``,
                ``RESTRICTION_DOCUMENT_INVALID``, ``RESTRICTION_PROHIBITED_INVALID``, or an
                identity's code.
        """
        kind = rs.Kind(str(p["kind"]))
        subject, debtor = p["subject"], p.get("debtor")
        subject_id = validate_debtor_id(
            str(subject["kind"]),
            str(subject["id_number"]),
            id_type=subject.get("id_type"),
            nationality=subject.get("nationality"),
        )
        role = rs.Role(str(p.get("role") or "DEBTOR"))
        if subject["kind"] != "PERSON" and role is not rs.Role.DEBTOR:
            raise ValidationError(
                f"the {role.value} bound by a restriction is a natural person "
                f"({rs.consumption_art('三')})",
                code="RESTRICTION_SUBJECT_INVALID",
            )
        if role is rs.Role.LEGAL_AGENT and (debtor is None or debtor["kind"] != "PERSON"):
            raise ValidationError(
                "a 法定代理人 is restricted for a natural-person debtor without full capacity: "
                f"name that debtor ({rs.EXIT_BAN_PERSONS})",
                code="RESTRICTION_SUBJECT_INVALID",
            )
        if (
            debtor is not None
            and debtor["kind"] == "PERSON"
            and role is not rs.Role.LEGAL_AGENT
            and debtor["id_number"] != subject_id
        ):
            raise ValidationError(
                "a natural-person debtor's restriction binds the debtor alone",
                code="RESTRICTION_SUBJECT_INVALID",
            )
        if subject["kind"] != "PERSON":  # the organisation named, none of its persons
            rs.check_subjects(kind, "ORGANISATION", [])  # RESTRICTION_NO_PERSON
        document = self._document(kind, p, subject, subject_id)
        rs.check_subjects(
            kind,
            str((debtor or subject)["kind"]),
            [
                rs.Subject(
                    role,
                    str(subject["name"]),
                    subject_id,
                    rs.TravelDocument(document["type"]) if document else None,
                    document["number"] if document else None,
                    document.get("nationality") if document else None,
                )
            ],
        )
        prohibited = self._prohibited(kind, [str(k) for k in p.get("prohibited") or ()])
        agencies = rs.agencies_for(kind, self.granted, frozenset(prohibited))
        self._check_named(kind, [str(a) for a in p.get("agencies") or ()], agencies)
        if not agencies:
            log.warning("control %s (%s) concerns no agency of the directory", cid, kind.value)
        control = rs.issued(cid, issuing, kind, agencies, state.now)
        published = {
            "case_number": p["case_number"],
            "issuing_court": p["issuing_court"],
            "kind": kind.value,
            "subject": subject,
            "role": role.value,
            "debtor": debtor,
            "travel_document": document,
            "prohibited": [k.value for k in prohibited],
            "effective_from": _iso(p["effective_from"]),
            "effective_until": _iso(p.get("effective_until")),
            "issued_at": _iso(p["issued_at"]),
            "reason": p["reason"],
        }
        log.info("issued %s (%s) to %s", cid, kind.value, ", ".join(sorted(agencies)) or "nobody")
        return self._changed(state, Kept(control, published, listing=listing))

    def prepare(self, records: Sequence[RawRecord], state: State) -> None:
        """A task's list records of a batch: their controls looked up at once (a fresh load
        finds none, one query instead of one per entry). The view is keyed by entry id."""
        keys = [r.key.decode() for r in records if r.topic == BLACKLIST_VIEW and r.key]
        if keys:
            state.table(CONTROLS).prefetch(keys)

    def on_records(self, records: list[Incoming], state: State) -> list[Output]:
        """A task's list records of one batch (``bulk_inputs``), as ``on_event`` would take
        them one by one, with the initial load's per-batch work done once (see the module's
        "Initial load")."""
        return self._listings([r.raw for r in records], state) if self.from_listings else []

    def _listings(self, raws: list[RawRecord], state: State) -> list[Output]:
        """List entries in order: the ban each ACTIVE one requires, or its lift on a delisting;
        then, once for them all, the backlog's summary counts, deadline group and progress."""
        load = _Load()
        outputs: list[Output] = []
        for raw in raws:
            outputs += self._on_listing(raw, state, load)
        self._loaded(load, state)
        return outputs

    def _on_listing(self, raw: RawRecord, state: State, load: _Load) -> list[Output]:
        """A list entry: the ban an ACTIVE one requires, or its lift on a delisting.

        A backlog record (see the module's "Initial load") gets no notice of its own: it is
        counted in ``load`` for its court's summary.
        """
        if raw.value is None:
            return []  # the entry left the view: its DELISTED record came before
        # The view is the bus's own (the blacklist service writes it): its value is decoded
        # without checking its CloudEvents headers again, a cost per entry of a load.
        decoded = self.envelope.codec.decode(raw.value)
        if decoded.record != ENTRY_RECORD:
            raise ValidationError(
                f"{BLACKLIST_VIEW} holds {ENTRY_RECORD}, not {decoded.record}",
                code="EVENT_TYPE_MISMATCH",
            )
        entry = decoded.payload
        eid = str(entry["entry_id"])
        court = str(entry["listing_court"]["court_id"])
        updated: datetime | None = entry.get("updated_at")
        backlog = updated is not None and state.now - updated > self.bulk_age
        if backlog:
            load.read[raw.partition] = raw.offset + 1
        stored = state.table(CONTROLS).get(eid)
        if entry["status"] == "ACTIVE":
            if stored is not None:
                if isinstance(stored, Kept) and stored.listing != eid:
                    log.warning("control id %s is a court's control: no ban for entry", eid)
                return []
            try:
                if backlog:
                    return self._quiet_ban(raw.value, entry, eid, court, state, load)
                out = self._listing_ban(entry, eid, court, state)
            except ValidationError as exc:
                detail = (
                    f"list entry {eid}: the consumption ban it requires was not issued: "
                    f"{exc.reason} ({exc.code}); issue it ({rs.consumption_art('一')})"
                )
                notice = self._notice(
                    eid, court, "LISTING_NOT_RESTRICTED", "", "ISSUE", state.now, state.now, detail
                )
                return [
                    notice,
                    self._alert(eid, "RESTRICTION_LISTING_NOT_RESTRICTED", detail, state.now),
                ]
            detail = f"list entry {eid}: consumption ban {eid} issued ({rs.consumption_art('一')})"
            return [
                *out,
                self._notice(
                    eid, court, "ISSUED_FOR_LISTING", "", "ISSUE", state.now, state.now, detail
                ),
            ]
        reason = listings.LIFT_ON_DELISTING.get(str(entry.get("reason")))
        kept = self._materialise(eid, stored)
        if kept is None or kept.listing != eid or kept.control.status is not rs.Status.ACTIVE:
            return []
        if reason is None:
            log.info("entry %s delisted (%s): its ban stays for the court", eid, entry["reason"])
            return []
        control = rs.lift(kept.control, court, reason, state.now)
        lifted = entry.get("delisted_at") or state.now
        kept = replace(kept, control=control, lifted_at=lifted, tombstone_at=state.now + self.grace)
        detail = (
            f"list entry {eid} delisted ({entry['reason']}): consumption ban {eid} lifted "
            f"({rs.consumption_art('九')})"
        )
        notice = self._notice(
            eid, court, "LIFTED_FOR_DELISTING", "", "LIFT", state.now, state.now, detail
        )
        return [*self._changed(state, kept), notice]

    def _listing_kept(
        self, entry: dict[str, Any], eid: str, court: str, at: datetime, agencies: frozenset[str]
    ) -> Kept:
        """The control an ACTIVE entry's ban is (``listings.ban_for``), issued by the bus ``at``
        to ``agencies``.

        The entry's IDs were checked (and spelt canonically) by the blacklist service when it
        was listed, so they are not checked again; a consumption ban of all of art. 3 names no
        document and concerns the same agencies whatever the entry, computed once.

        Raises:
            ValidationError: ``RESTRICTION_NO_PERSON`` (an organisation's entry without its
                legal representative's ID).
        """
        p = listings.ban_for(entry)
        subject, debtor = p["subject"], p["debtor"]
        if subject["kind"] != "PERSON":  # the organisation named, none of its persons
            rs.check_subjects(rs.Kind.CONSUMPTION_BAN, "ORGANISATION", [])
        control = rs.issued(eid, court, rs.Kind.CONSUMPTION_BAN, agencies, at)
        published = {
            "case_number": p["case_number"],
            "issuing_court": p["issuing_court"],
            "kind": rs.Kind.CONSUMPTION_BAN.value,
            "subject": subject,
            "role": p["role"],
            "debtor": debtor,
            "travel_document": None,
            "prohibited": list(self._all_kind_values),
            "effective_from": p["effective_from"].isoformat(),
            "effective_until": None,
            "issued_at": p["issued_at"].isoformat(),
            "reason": p["reason"],
        }
        return Kept(control, published, listing=eid)

    def _listing_ban(
        self, entry: dict[str, Any], eid: str, court: str, state: State
    ) -> list[Output]:
        """Issue and publish the ban an ACTIVE entry requires (``_create``'s outputs, cheaper).

        Raises:
            ValidationError: ``RESTRICTION_NO_PERSON``.
        """
        kept = self._listing_kept(entry, eid, court, state.now, self._listing_agencies)
        log.info(
            "issued %s (%s) to %s",
            eid,
            rs.Kind.CONSUMPTION_BAN.value,
            ", ".join(sorted(kept.control.agencies)) or "nobody",
        )
        self._store(state, kept)
        return [self._view(kept, state.now)]

    def _quiet_ban(
        self,
        value: bytes,
        entry: dict[str, Any],
        eid: str,
        court: str,
        state: State,
        load: _Load,
    ) -> list[Output]:
        """The backlog's ban of an ACTIVE entry: the view record ``_listing_ban`` publishes,
        built straight from the entry, stored as the entry itself (``Listed``), its deadline
        in the batch's group and its count for the court's summary in ``load``; no log line.

        Raises:
            ValidationError: ``RESTRICTION_NO_PERSON``.
        """
        p = listings.ban_for(entry)
        subject = p["subject"]
        if subject["kind"] != "PERSON":  # the organisation named, none of its persons
            rs.check_subjects(rs.Kind.CONSUMPTION_BAN, "ORGANISATION", [])
        now = state.now
        state.table(CONTROLS).put(eid, Listed(value, now, self._listing_agencies))
        due = now + self.ack_deadline
        payload = {
            "control_id": eid,
            "status": rs.Status.ACTIVE.value,
            "case_number": p["case_number"],
            "issuing_court": p["issuing_court"],
            "kind": rs.Kind.CONSUMPTION_BAN.value,
            "subject": subject,
            "role": p["role"],
            "debtor": p["debtor"],
            "travel_document": None,
            "prohibited": list(self._all_kind_values),
            "effective_from": p["effective_from"],
            "effective_until": None,
            "issued_at": p["issued_at"],
            "lifted_at": None,
            "lift_reason": None,
            "reason": p["reason"],
            "exemptions": [],
            "acknowledgements": [
                {
                    "agency_id": agency,
                    "target": "ISSUE",
                    "state": "PENDING",
                    "due_at": due,
                    "reference": None,
                    "answered_at": None,
                }
                for agency in sorted(self._listing_agencies)
            ],
            "updated_at": now,
            "version": 1,
            "entry_id": eid,
            "interceptions": [],
        }
        if load.builder is None:
            load.builder = self.envelope.builder(VIEW_TOPIC, VIEW_RECORD, self.source)
        got = load.courts.get(court)
        if got is None:
            load.courts[court] = [eid, eid, 1]
        else:
            got[1], got[2] = eid, got[2] + 1
        load.due.append(eid)
        load.issued += 1
        return [output_of(load.builder.build(payload))]

    def _loaded(self, load: _Load, state: State) -> None:
        """What a call's backlog records leave to do once: each court's count for its summary
        (due once the backlog is quiet), the bans' deadline group, the progress."""
        loads = state.table(LOAD)
        for court, (first, last, count) in load.courts.items():
            got = loads.get(court) or {"count": 0, "first": first}
            loads.put(court, got | {"count": int(got["count"]) + count, "last": last})
            state.timers.schedule(LOAD_TIMER + court, state.now + self.bulk_quiet)
        if load.due:
            group = f"{to_ms(state.now)}:{load.due[0]}"
            state.table(DUE).put(group, load.due)
            state.timers.schedule(DUE_TIMER + group, state.now + self.ack_deadline)
        if load.read:
            self.progress.add(load.read, load.issued)

    def _kept(self, state: State, cid: str) -> Kept | None:
        """The control ``cid`` as a ``Kept`` (made from its entry if the load issued it)."""
        return self._materialise(cid, state.table(CONTROLS).get(cid))

    def _materialise(self, cid: str, stored: Kept | Listed | None) -> Kept | None:
        return None if stored is None else self._as_kept(cid, stored)

    def _as_kept(self, cid: str, stored: Kept | Listed) -> Kept:
        if not isinstance(stored, Listed):
            return stored
        entry = self.envelope.codec.decode(stored.entry).payload
        court = str(entry["listing_court"]["court_id"])
        return self._listing_kept(entry, cid, court, stored.issued_at, stored.agencies)

    def _summary(self, court: str, state: State, now: datetime) -> list[Output]:
        """The one notice a court gets for the bans an initial load issued in this task."""
        loads = state.table(LOAD)
        got = loads.get(court)
        loads.delete(court)
        state.timers.cancel(LOAD_TIMER + court)
        if not got:
            return []
        count = int(got["count"])
        detail = (
            f"{count:,} consumption ban(s) issued for the listings of court {court} found on "
            f"the national list ({rs.consumption_art('一')}), entries {got['first']} … "
            f"{got['last']} among them; each is in restriction.controls under its entry id"
        )
        log.info("listing load: %s", detail)
        return [
            self._notice(
                "",
                court,
                "ISSUED_FOR_LISTING",
                "",
                "ISSUE",
                now,
                now,
                detail,
                key=f"listing-load:{court}",
            )
        ]

    def _document(
        self, kind: rs.Kind, p: dict[str, Any], subject: dict[str, Any], subject_id: str
    ) -> dict[str, Any] | None:
        """The typed travel document of an exit ban (a consumption ban names none).

        Raises:
            ValidationError: ``RESTRICTION_DOCUMENT_INVALID``, ``PASSPORT_INVALID``.
        """
        if kind is not rs.Kind.EXIT_BAN:
            return None
        document: dict[str, Any] | None = p.get("document")
        if document is None and subject.get("id_type") == "PASSPORT":
            # a foreign person is named by the passport itself: that is the document to stop
            return {
                "type": "PASSPORT",
                "number": subject_id,
                "nationality": subject.get("nationality"),
            }
        if document is None:
            untyped = (
                " (travel_document is a number without its type)"
                if p.get("travel_document")
                else ""
            )
            raise ValidationError(
                f"an exit ban names the person's typed travel document{untyped}",
                code="RESTRICTION_DOCUMENT_INVALID",
            )
        if document["type"] not in {d.value for d in rs.TravelDocument}:
            raise ValidationError(
                f"travel document type {document['type']} is not one the bus knows",
                code="RESTRICTION_DOCUMENT_INVALID",
            )
        number, nationality = str(document["number"]), document.get("nationality")
        if document["type"] == "PASSPORT" and nationality is not None:
            validate_passport(number, str(nationality))  # ICAO 9303 number, ISO alpha-3 state
        elif nationality is not None:
            raise ValidationError(
                "only a passport names its issuing state", code="RESTRICTION_DOCUMENT_INVALID"
            )
        return {"type": str(document["type"]), "number": number, "nationality": nationality}

    def _check_named(self, kind: rs.Kind, named: list[str], agencies: frozenset[str]) -> None:
        """The agencies a court names in ``RestrictionIssued.agencies`` are informative (the
        directory's feeds decide who enforces a control), but a name is never accepted and
        ignored: one the directory does not know, or one that does not enforce this control,
        is refused, so the court learns its list was wrong.

        Raises:
            ValidationError: ``RESTRICTION_AGENCY_UNKNOWN`` or ``RESTRICTION_AGENCY_NOT_ENTITLED``.
        """
        unknown = sorted({a for a in named if a not in self.known_agencies})
        if unknown:
            raise ValidationError(
                f"agencies {', '.join(unknown)} are not in the participant directory "
                "(the field is informative: leave it empty to let the directory decide)",
                code="RESTRICTION_AGENCY_UNKNOWN",
            )
        outside = sorted({a for a in named if a not in agencies})
        if outside:
            enforcing = ", ".join(sorted(agencies)) or "none"
            raise ValidationError(
                f"agencies {', '.join(outside)} do not enforce a {kind.value} as the directory "
                f"grants them (this one goes to: {enforcing}); leave the field empty to let the "
                "directory decide",
                code="RESTRICTION_AGENCY_NOT_ENTITLED",
            )

    def _prohibited(self, kind: rs.Kind, named: list[str]) -> list[rs.Consumption]:
        """What a consumption ban forbids: what the court named, or all of art. 3.

        Raises:
            ValidationError: ``RESTRICTION_PROHIBITED_INVALID``.
        """
        if kind is rs.Kind.EXIT_BAN:
            if named:
                raise ValidationError(
                    "an exit ban forbids leaving the country, not kinds of consumption",
                    code="RESTRICTION_PROHIBITED_INVALID",
                )
            return []
        known = {c.value for c in rs.Consumption}
        unknown = [k for k in named if k not in known]
        if unknown:
            raise ValidationError(
                f"{', '.join(unknown)} is not a kind of {rs.consumption_art('三')}",
                code="RESTRICTION_PROHIBITED_INVALID",
            )
        return sorted({rs.Consumption(k) for k in named} or set(rs.Consumption))

    def _lift(self, event: Event, court: str | None, kept: Kept, state: State) -> list[Output]:
        p = event.payload
        given = str(p["reason"])
        reason = _LEGACY_LIFT.get(given)
        if reason is None:
            try:
                reason = rs.LiftReason(given)
            except ValueError:
                raise ValidationError(
                    f"lift reason {given} names no ground: one of "
                    f"{', '.join(r.value for r in rs.LiftReason)} ({rs.consumption_art('九')})",
                    code="RESTRICTION_LIFT_REASON_INVALID",
                ) from None
        control = rs.lift(kept.control, court, reason, state.now)
        log.info("lifted %s (%s)", control.control_id, reason.value)
        kept = replace(
            kept, control=control, lifted_at=p["lifted_at"], tombstone_at=state.now + self.grace
        )
        return self._changed(state, kept)

    def _check_exemption(self, kept: Kept, court: str | None) -> None:
        """Raises ValidationError: ``RESTRICTION_NOT_ISSUER``, ``RESTRICTION_NOT_ACTIVE``,
        ``RESTRICTION_EXEMPTION_NOT_ALLOWED``."""
        rs.check_exemption(kept.control, court)
        if kept.control.kind is not rs.Kind.CONSUMPTION_BAN:
            raise ValidationError(
                f"exemptions are for consumption bans ({rs.consumption_art('三')}, last "
                f"paragraph); an exit ban is lifted instead",
                code="RESTRICTION_EXEMPTION_NOT_ALLOWED",
            )

    def _exemption(
        self, p: dict[str, Any], court: str | None, kept: Kept, state: State
    ) -> list[Output]:
        self._check_exemption(kept, court)
        eid = str(p["exemption_id"])
        apps = {k: at for k, at in kept.applications.items() if k != eid}
        if not p["granted"]:
            log.info("exemption %s of %s refused", eid, kept.control.control_id)
            state.table(CONTROLS).put(kept.control.control_id, replace(kept, applications=apps))
            return []
        prohibited = set(kept.published["prohibited"])
        kinds = [str(k) for k in p.get("kinds") or ()] or sorted(prohibited)
        if not set(kinds) <= prohibited or p["valid_until"] <= p["valid_from"]:
            raise ValidationError(
                f"exemption {eid} must allow kinds the ban forbids, for a period that ends after "
                "it starts",
                code="RESTRICTION_EXEMPTION_INVALID",
            )
        forbidden = frozenset(rs.Consumption(k) for k in kinds)
        agencies = rs.agencies_for(
            rs.Kind.CONSUMPTION_BAN, {a: frozenset() for a in kept.control.agencies}, forbidden
        )
        granted = {
            "exemption_id": eid,
            "kinds": sorted(kinds),
            "agencies": sorted(agencies),
            "valid_from": _iso(p["valid_from"]),
            "valid_until": _iso(p["valid_until"]),
        }
        others = [e for e in kept.exemptions if e["exemption_id"] != eid]
        control = replace(kept.control, exemptions=(*kept.control.exemptions, eid))
        log.info("exemption %s of %s granted", eid, control.control_id)
        changed = replace(kept, control=control, exemptions=[*others, granted], applications=apps)
        return self._changed(state, changed)

    def _answer(
        self, raw: RawRecord, event: Event, short: str, kept: Kept, state: State
    ) -> list[Output]:
        """An agency's acknowledgement, rejection or interception: checked, kept, forwarded."""
        p = event.payload
        agency = str(p["agency_id"])
        if event.headers.source_kind != "agency" or event.headers.source_id != agency:
            raise ValidationError(
                f"{short} names agency {agency} but came from {event.headers.source}",
                code="SOURCE_NOT_PARTY",
            )
        control = kept.control
        inbox = forward(raw, inbox_topic("court", control.issuing_court))
        if short == "InterceptionReported":
            rs.check_agency(control, agency)
            log.info("interception of %s reported by %s", control.control_id, agency)
            seen = {i["event_id"] for i in kept.interceptions}
            if event.headers.id in seen:
                return [inbox]
            stopped = {
                k: p.get(k) for k in ("agency_id", "channel", "location", "description", "outcome")
            }
            stopped |= {"intercepted_at": _iso(p["intercepted_at"]), "event_id": event.headers.id}
            changed = replace(kept, interceptions=[*kept.interceptions, stopped])
            return [*self._changed(state, changed), inbox]
        target = str(p["target"])
        if short == "RestrictionAcknowledged":
            control = rs.acknowledge(control, agency, target)
            answer = {"reference": p.get("reference"), "at": _iso(p["acknowledged_at"])}
        else:
            control = rs.reject(control, agency, target)
            answer = {"reference": p["reason_code"], "at": _iso(p["rejected_at"])}
        answers = kept.answers | {f"{agency}|{target}": answer}
        log.info("%s %s of %s by %s", short, target, control.control_id, agency)
        return [*self._changed(state, replace(kept, control=control, answers=answers)), inbox]

    # -- the view ----------------------------------------------------------------------------

    def _changed(self, state: State, kept: Kept) -> list[Output]:
        """Store (the version moves on) and publish the view record."""
        if kept.control.control_id in state.table(CONTROLS):
            kept = replace(kept, version=kept.version + 1)
        self._store(state, kept)
        return [self._view(kept, state.now)]

    def _store(self, state: State, kept: Kept) -> None:
        cid = kept.control.control_id
        state.table(CONTROLS).put(cid, kept)
        times = [t for t in (self._ack_due(kept.control), kept.tombstone_at) if t is not None]
        if times:
            state.timers.schedule(cid, min(times))
        else:
            state.timers.cancel(cid)

    def _since(self, control: rs.Control, target: str) -> datetime:
        if target == "LIFT" and control.lifted_at is not None:
            return control.lifted_at
        return control.issued_at

    def _ack_due(self, control: rs.Control) -> datetime | None:
        """When the acknowledgements still owed (and not yet reported) fall due."""
        target = "LIFT" if control.status is rs.Status.LIFTED else "ISSUE"
        due = self._since(control, target) + self.ack_deadline
        return due if rs.owed(control, due, self.ack_deadline) else None

    def _acks(self, kept: Kept) -> list[dict[str, Any]]:
        c = kept.control
        targets = ["ISSUE", "LIFT"] if c.status is rs.Status.LIFTED else ["ISSUE"]
        out = []
        for agency in sorted(c.agencies):
            for target in targets:
                step = (agency, target)
                ack_state = (
                    "ACKNOWLEDGED"
                    if step in c.acked
                    else "REJECTED"
                    if step in c.rejected
                    else "OVERDUE"
                    if step in c.overdue_sent
                    else "PENDING"
                )
                answer = kept.answers.get(f"{agency}|{target}") or {}
                out.append(
                    {
                        "agency_id": agency,
                        "target": target,
                        "state": ack_state,
                        "due_at": self._since(c, target) + self.ack_deadline,
                        "reference": answer.get("reference")
                        if ack_state in ("ACKNOWLEDGED", "REJECTED")
                        else None,
                        "answered_at": _time(answer.get("at"))
                        if ack_state in ("ACKNOWLEDGED", "REJECTED")
                        else None,
                    }
                )
        return out

    def _view(self, kept: Kept, now: datetime) -> Output:
        c, pub = kept.control, kept.published
        payload: dict[str, Any] = dict(pub)
        payload |= {
            "control_id": c.control_id,
            "status": c.status.value,
            "effective_from": date.fromisoformat(pub["effective_from"]),
            "effective_until": (
                date.fromisoformat(pub["effective_until"]) if pub["effective_until"] else None
            ),
            "issued_at": datetime.fromisoformat(pub["issued_at"]),
            "lifted_at": kept.lifted_at,
            "lift_reason": c.lift_reason.value if c.lift_reason else None,
            "exemptions": [
                e
                | {
                    "valid_from": datetime.fromisoformat(e["valid_from"]),
                    "valid_until": datetime.fromisoformat(e["valid_until"]),
                }
                for e in kept.exemptions
            ],
            "acknowledgements": self._acks(kept),
            "updated_at": now,
            "version": kept.version,
            "entry_id": kept.listing,
            "interceptions": [
                i | {"intercepted_at": datetime.fromisoformat(i["intercepted_at"])}
                for i in kept.interceptions
            ],
        }
        return output_of(self.envelope.build(VIEW_TOPIC, VIEW_RECORD, payload, self.source))

    # -- timers ------------------------------------------------------------------------------

    def on_tick(self, now: datetime, state: State) -> list[Output]:
        """Overdue acknowledgements (once per agency and step), tombstones due, the initial
        load's summaries and its bans' deadline groups (at most ``TICK_CONTROLS`` controls of
        those a tick: the rest stay due for the next)."""
        outputs: list[Output] = []
        table = state.table(CONTROLS)
        budget = TICK_CONTROLS
        for cid, _due in state.timers.due(now):
            if cid.startswith(LOAD_TIMER):
                outputs += self._summary(cid.removeprefix(LOAD_TIMER), state, now)
                continue
            if cid.startswith(DUE_TIMER):
                if budget > 0:
                    group = cid.removeprefix(DUE_TIMER)
                    eids = state.table(DUE).get(group) or []
                    state.table(DUE).delete(group)
                    state.timers.cancel(cid)
                    budget -= len(eids)
                    for eid in eids:
                        kept = self._kept(state, eid)
                        if kept is not None:  # else lifted and gone since
                            outputs += self._mark_overdue(state, kept, now)
                continue
            due = state.timers.entry(table, cid, now, tombstone_at=_tombstone_at)
            if due is None:
                continue
            if due.tombstoned:
                outputs.append(Output(VIEW_TOPIC, cid.encode(), None, []))
                continue
            kept = self._as_kept(cid, due.value)
            overdue = self._mark_overdue(state, kept, now)
            if not overdue:
                self._store(state, kept)
            outputs += overdue
        return outputs

    def _mark_overdue(self, state: State, kept: Kept, now: datetime) -> list[Output]:
        """The view record, alerts and negative receipts of the acknowledgements of ``kept``
        overdue at ``now`` and not reported yet (none: nothing)."""
        overdue = rs.owed(kept.control, now, self.ack_deadline)
        if not overdue:
            return []
        control = replace(kept.control, overdue_sent=kept.control.overdue_sent | set(overdue))
        kept = replace(kept, control=control)
        outputs = self._changed(state, kept)
        for agency, target in overdue:
            outputs += self._overdue(kept, agency, target, now)
        return outputs

    def _overdue(self, kept: Kept, agency: str, target: str, now: datetime) -> list[Output]:
        c = kept.control
        due = self._since(c, target) + self.ack_deadline
        step = "lift" if target == "LIFT" else "issue"
        detail = (
            f"agency {agency} has not acknowledged the {step} of {c.kind.value} {c.control_id} "
            f"within {self.ack_deadline.total_seconds() / 3600:g} h (an operational deadline, "
            f"COURTBUS_RESTRICTION_ACK_SECONDS; not law)"
        )
        log.warning("%s", detail)
        return [
            self._notice(
                c.control_id, c.issuing_court, "ACK_OVERDUE", agency, target, due, now, detail
            ),
            self._alert(
                f"{c.control_id}:{agency}:{target}", "RESTRICTION_ACK_OVERDUE", detail, now
            ),
        ]

    def _notice(
        self,
        cid: str,
        court: str,
        kind: str,
        agency: str,
        target: str,
        due: datetime,
        now: datetime,
        detail: str,
        key: str | None = None,
    ) -> Output:
        """A ``RestrictionNotice`` to the issuing court's inbox (keyed by ``cid`` or ``key``)."""
        notice = {
            "control_id": cid,
            "issuing_court": v.court(court),
            "notice": kind,
            "agency_id": agency,
            "target": target,
            "due_at": due,
            "sent_at": now,
            "detail": mask_ids_in_text(detail),
        }
        topic = inbox_topic("court", court)
        built = self.envelope.build(topic, NS + "RestrictionNotice", notice, self.source, key=key)
        return output_of(built)

    def _alert(self, key: str, code: str, detail: str, now: datetime) -> Output:
        """A ``ServiceAlert`` on ``bus.alerts`` (no record caused it: partition and offset -1)."""
        alert = {
            "service": self.source,
            "code": code,
            "message": mask_ids_in_text(detail),
            "source_topic": VIEW_TOPIC,
            "source_partition": -1,
            "source_offset": -1,
            "event_id": None,
            "raised_at": now,
        }
        built = self.envelope.build(ALERTS_TOPIC, ALERT_RECORD, alert, self.source, key=key)
        return output_of(built)

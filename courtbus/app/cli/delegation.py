"""``courtbus delegation ...``: the delegation flow (事项委托) from the command line.

Thin: each command calls the SDK or the read model and prints.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from courtbus.catalogue.holidays import install_from_env
from courtbus.domain.calendar import provisional_at
from courtbus.domain.delegation import Step
from courtbus.domain.masking import mask_ids_in_text
from courtbus.errors import ValidationError

if TYPE_CHECKING:
    from courtbus.sdk.delegation import DelegationRequestIn
    from courtbus.store import ReadModelQueries

from courtbus.app.cli.common import (
    AsCourt,
    RateColumn,
    Store,
    check_amount,
    check_choice,
    check_court,
    check_court_filter,
    check_request,
    check_text,
    cli_connection,
    court_client,
    id_column,
    out,
    plural,
    print_sent,
    rate,
    read_model,
    read_model_if_any,
)

CHINA = ZoneInfo("Asia/Shanghai")
KIND_TEXT = {"CASE": "CASE 委托执行", "MATTER": "MATTER 事项委托"}
delegation_app = typer.Typer(
    help="Send and inspect delegations (委托执行 and 事项委托).", no_args_is_help=True
)


def request_fields(
    to: Any,
    case: Any,
    matter: Any,
    debtor_name: Any,
    debtor_id: Any,
    debtor_kind: Any = "PERSON",
    asset_kind: Any = None,
    amount: Any = None,
    freeze_days: Any = None,
    delegation_id: Any = None,
    nationality: Any = None,
    kind: Any = None,
    enforced_suit: Any = None,
    hand_over: Any = None,
) -> dict[str, Any]:
    """The SDK's request fields from `delegation send`'s options (or a `send-many` line).

    A ``nationality`` (ISO 3166-1 alpha-3) makes ``debtor_id`` a passport number; ``kind``
    CASE (委托执行) or MATTER (事项委托); ``enforced_suit`` a 民初 / 民终 case number;
    ``hand_over`` a CASE's own measures, each ``MEASURE:LAST-DAY:description``
    (:func:`parse_hand_over`).

    Raises:
        ValidationError: ``FIELD_INVALID`` for a hand-over that is not written so.
    """
    debtor = {"kind": _upper(debtor_kind), "name": debtor_name, "id_number": debtor_id}
    if nationality:
        debtor |= {"id_type": "PASSPORT", "nationality": nationality}
    fields = {
        "case_number": case,
        "executing_court": to,
        "matter": _upper(matter),
        "debtor": debtor,
        "asset_kind": asset_kind,
        "amount": amount,
        "freeze_period_days": freeze_days,
    }
    if delegation_id:
        fields["delegation_id"] = delegation_id
    if kind:
        fields["kind"] = _upper(kind)
    if enforced_suit:
        fields["enforced_suit"] = enforced_suit
    if hand_over:
        items = [hand_over] if isinstance(hand_over, str) else list(hand_over)
        fields["handed_over_measures"] = [parse_hand_over(str(x)) for x in items]
    return fields


def parse_hand_over(text: str) -> dict[str, Any]:
    """A measure a case delegation hands over, written ``SEAL:2027-06-30:昆山市某路1号房产``: the
    measure (FREEZE, SEAL or SEIZE), its term's last day (China date) and what it holds.

    Raises:
        ValidationError: ``FIELD_INVALID``.
    """
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[2].strip():
        raise ValidationError(
            f"{text!r}: write a handed-over measure as MEASURE:LAST-DAY:description, e.g. "
            "SEAL:2027-06-30:昆山市某路1号房产",
            code="FIELD_INVALID",
        )
    measure, day, description = parts
    return {
        "measure": _upper(measure.strip()),
        "until": _end_of_day(day.strip()),
        "asset_description": description.strip(),
    }


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


SEND_FIELDS = (
    "to",
    "case",
    "matter",
    "debtor_name",
    "debtor_id",
    "debtor_kind",
    "asset_kind",
    "amount",
    "freeze_days",
    "delegation_id",
    "nationality",
    "kind",
    "enforced_suit",
    "hand_over",
)
REQUIRED_FIELDS = ("to", "case", "matter", "debtor_name", "debtor_id")


def parse_request_line(text: str) -> dict[str, Any]:
    """One `send-many` line: a JSON object with `delegation send`'s option names as keys.

    Keys may use ``-`` or ``_`` (``debtor-id`` or ``debtor_id``); amounts may be text or
    numbers (read exactly, never as floats).

    Raises:
        ValidationError: ``LINE_NOT_JSON`` or ``REQUEST_INVALID`` (not an object, unknown or
            missing fields).
    """
    try:
        obj = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"not JSON: {exc.msg} at column {exc.colno}", code="LINE_NOT_JSON"
        ) from exc
    if not isinstance(obj, dict):
        raise ValidationError("expected one JSON object per line", code="REQUEST_INVALID")
    given = {str(k).replace("-", "_"): value for k, value in obj.items()}
    unknown = sorted(set(given) - set(SEND_FIELDS))
    if unknown:
        raise ValidationError(
            f"unknown field(s) {', '.join(unknown)}; expected {', '.join(SEND_FIELDS)}",
            code="REQUEST_INVALID",
        )
    missing = [k for k in REQUIRED_FIELDS if given.get(k) in (None, "")]
    if missing:
        raise ValidationError(f"missing field(s) {', '.join(missing)}", code="REQUEST_INVALID")
    return request_fields(**given)


def check_request_lines(
    lines: Iterable[str], court: str
) -> tuple[list[tuple[int, DelegationRequestIn]], list[tuple[int, ValidationError]]]:
    """Validate every non-blank line as a request from ``court``; no Kafka needed.

    Returns (line number, request) for the valid lines and (line number, error) for the
    others, both in file order (line numbers from 1).

    Raises:
        ValidationError: ``COURT_UNKNOWN`` if ``court`` is not in the directory.
    """
    from courtbus.catalogue.directory import load_directory
    from courtbus.sdk.delegation import check_requests
    from courtbus.sdk.sender import regional_rules

    directory = load_directory()
    directory.court(court)
    invalid: list[tuple[int, ValidationError]] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append((number, parse_request_line(line)))
        except ValidationError as exc:
            invalid.append((number, exc))
    checked = check_requests(
        (f for _, f in parsed),
        court_id=court,
        directory=directory,
        policies=regional_rules(directory),
    )
    valid: list[tuple[int, DelegationRequestIn]] = []
    for (number, _), result in zip(parsed, checked, strict=True):
        if isinstance(result, ValidationError):
            invalid.append((number, result))
        else:
            valid.append((number, result))
    invalid.sort(key=lambda pair: pair[0])
    return valid, invalid


def _print_line_errors(title: str, errors: list[tuple[int, str]], limit: int = 50) -> None:
    out.print(f"[red]{title}[/red]", highlight=False)
    for number, reason in errors[:limit]:
        out.print(f"  line {number}: {mask_ids_in_text(reason)}", highlight=False)
    if len(errors) > limit:
        out.print(f"  … and {len(errors) - limit} more", highlight=False)


@delegation_app.command("send")
def send(
    court: AsCourt,
    to: Annotated[str, typer.Option("--to", help="Executing court id.")],
    case: Annotated[str, typer.Option("--case", help="Case number, e.g. (2024)苏0583执100号.")],
    matter: Annotated[
        str, typer.Option(help="SEARCH, FREEZE, SEAL, DEDUCT, SEIZE, DETAIN, EVICT, SERVE.")
    ],
    debtor_name: Annotated[str, typer.Option(help="Debtor's name.")],
    debtor_id: Annotated[
        str,
        typer.Option(
            help="Resident ID, residence permit, credit code; a passport with --nationality."
        ),
    ],
    debtor_kind: Annotated[str, typer.Option(help="PERSON or ORGANISATION.")] = "PERSON",
    asset_kind: Annotated[
        str | None, typer.Option(help="DEPOSIT, MOVABLE, IMMOVABLE, HOUSING_FUND, ...")
    ] = None,
    amount: Annotated[str | None, typer.Option(help="CNY, at most two decimals.")] = None,
    freeze_days: Annotated[int | None, typer.Option(help="Freeze period in days.")] = None,
    delegation_id: Annotated[
        str | None, typer.Option(help="Your id for it (default: generated).")
    ] = None,
    nationality: Annotated[
        str | None, typer.Option(help="A passport's issuing state (ISO 3166-1 alpha-3, e.g. USA).")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="CASE (委托执行, the whole case) or MATTER (事项委托, one act)."),
    ] = None,
    enforced_suit: Annotated[
        str | None, typer.Option(help="The suit enforced, e.g. (2023)苏0583民初12号.")
    ] = None,
    hand_over: Annotated[
        list[str] | None,
        typer.Option(
            help="With --kind CASE: a freeze, seal or seizure of yours handed over with the "
            "case, MEASURE:LAST-DAY:description (e.g. SEAL:2027-06-30:昆山市某路1号房产); "
            "repeatable. Under a month left is refused: renew it first (法释〔2011〕11号 (2020 修正) 第六条第三款)."
        ),
    ] = None,
) -> None:
    """Request a delegation from another court (checked completely before connecting)."""
    fields = request_fields(
        to,
        case,
        matter,
        debtor_name,
        debtor_id,
        debtor_kind,
        asset_kind,
        check_amount(amount),
        freeze_days,
        delegation_id,
        nationality,
        kind,
        enforced_suit,
        hand_over,
    )
    request = check_request(court, fields)
    with court_client(court) as client:
        print_sent("request", client.delegation.request_delegation(request))


@delegation_app.command("send-many")
def send_many(
    court: Annotated[
        str, typer.Option("--as", "--court", help="The sending court's id, e.g. 3205.")
    ],
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="JSON Lines: one object per line with `delegation send`'s options as keys "
            '(to, case, matter, debtor_name, debtor_id, ...), e.g. {"to": "6104", ...}.',
        ),
    ],
    skip_invalid: Annotated[
        bool, typer.Option(help="Send the valid lines even if some are invalid.")
    ] = False,
    results: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write one JSON line per sent request: line, ids, partition, offset."
        ),
    ] = None,
) -> None:
    """Request many delegations at once: validate every line, then send without waiting per record.

    If any line is invalid nothing is sent (unless --skip-invalid); the invalid lines are listed
    by number. Then all requests go to the producer at once and one flush waits for the broker.
    """
    from courtbus.sdk.court import CourtClient
    from courtbus.sdk.sender import PartialSendError

    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{file} is not UTF-8 text (byte {exc.start}: {exc.reason})", code="REQUEST_INVALID"
        ) from exc
    valid, invalid = check_request_lines(lines, court)
    problems = [(n, str(e)) for n, e in invalid]
    if invalid and not skip_invalid:
        _print_line_errors(f"{plural(len(invalid), 'invalid line')}; nothing sent:", problems)
        raise typer.Exit(1)
    if invalid:
        _print_line_errors(f"skipping {plural(len(invalid), 'invalid line')}:", problems)
    if not valid:
        out.print("nothing to send")
        raise typer.Exit(1 if invalid else 0)
    numbers = [n for n, _ in valid]
    columns = (
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn("records"),
        TimeElapsedColumn(),
    )
    with (
        CourtClient(court, cli_connection()) as client,
        Progress(*columns, console=out) as progress,
    ):
        task = progress.add_task("send", total=len(valid))

        def done(_ok: bool) -> None:  # from the producer's network thread; rich locks
            progress.advance(task)

        started = time.monotonic()
        try:
            sent = client.delegation.request_delegations([r for _, r in valid], on_done=done)
        except PartialSendError as exc:
            progress.stop()
            _write_results(results, numbers, exc.sent, {i for i, _, _ in exc.failed})
            _print_line_errors(
                f"{len(exc.sent)} of {len(valid)} sent; {len(exc.failed)} not acknowledged:",
                [(numbers[i], f"{dlg}: {reason}") for i, dlg, reason in exc.failed],
            )
            raise typer.Exit(1) from exc
        elapsed = max(time.monotonic() - started, 1e-9)
    _write_results(results, numbers, sent, set())
    per_partition = Counter(s.partition for s in sent)
    out.print(
        f"[green]sent[/green] {plural(len(sent), 'delegation request')} from {court} to "
        f"{client.sender.outbox} (in {elapsed:.2f} s{rate(len(sent), elapsed, 'records')})"
        + (f"; skipped {plural(len(invalid), 'invalid line')}" if invalid else ""),
        highlight=False,
    )
    out.print(
        "by partition: " + ", ".join(f"{p}: {c}" for p, c in sorted(per_partition.items())),
        highlight=False,
    )


def _write_results(
    path: Path | None, numbers: list[int], sent: list[Any], failed: set[int]
) -> None:
    """``--out``: one JSON line per acknowledged request (its input line and ids)."""
    if path is None:
        return
    ok = (n for i, n in enumerate(numbers) if i not in failed)
    with path.open("w", encoding="utf-8") as f:
        for number, s in zip(ok, sent, strict=True):
            row = {
                "line": number,
                "delegation_id": s.key,
                "event_id": s.event_id,
                "partition": s.partition,
                "offset": s.offset,
            }
            f.write(json.dumps(row) + "\n")
    out.print(f"wrote {plural(len(sent), 'result')} to {path}", highlight=False)


NoCheck = Annotated[
    bool,
    typer.Option(
        "--no-check",
        help="Send without checking the delegation and the step against the read model.",
    ),
]


def check_step(model: ReadModelQueries, delegation_id: str, step: Step, court: str) -> None:
    """The step is one ``court`` may take on the delegation as the read model has it: the
    state machine's first two checks (who may take it, from which states). The bus still
    decides, with what the read model cannot know (deadlines, a measure's term).

    Raises:
        ValidationError: ``DELEGATION_UNKNOWN``, ``DELEGATION_WRONG_COURT`` or
            ``DELEGATION_ILLEGAL_TRANSITION``.
    """
    from courtbus.domain.delegation import Delegation, State, apply

    row = model.delegation(delegation_id)
    if row is None:
        raise ValidationError(
            f"no delegation {delegation_id} in the read model (if it was requested just now, "
            "the projector may not have it yet: --no-check sends anyway)",
            code="DELEGATION_UNKNOWN",
        )
    if row.state not in set(State):
        raise ValidationError(
            f"delegation {delegation_id} was refused by the bus ({row.refusal_code}): no step "
            "can follow",
            code="DELEGATION_UNKNOWN",
        )
    as_known = Delegation(
        delegation_id,
        row.requesting_court,
        row.executing_court,
        row.matter,
        State(row.state),
        row.requested_at,
        asset_kind=row.asset_kind,
    )
    try:
        apply(as_known, step, court, datetime.now(UTC))
    except ValidationError as exc:
        if exc.code in ("DELEGATION_WRONG_COURT", "DELEGATION_ILLEGAL_TRANSITION"):
            raise
        # anything else depends on what the read model does not hold: the bus decides


def send_step(
    court: str,
    delegation_id: str,
    step: Step,
    what: str,
    send: Callable[[Any], Any],
    *,
    text: Mapping[str, Any],
    store: str | None,
    no_check: bool = False,
) -> None:
    """One step of a command: check the court and the step's ``text`` options (as the SDK
    and the gateway will), check the step against the read model (when there is one, unless
    ``no_check``), send it, and say where the bus's answer arrives: applied or refused, it
    comes to the court's inbox.

    Raises:
        ValidationError: ``COURT_UNKNOWN``, a ``TEXT_*`` or ``MONEY_*`` code, or as
            :func:`check_step`.
        StoreError: ``STORE_URL_INVALID`` or ``STORE_UNAVAILABLE``.
    """
    check_court(court)
    check_text(delegation_id=delegation_id, **text)
    model = read_model_if_any(store) if not no_check else None
    if model is not None:
        try:
            check_step(model, delegation_id, step, court)
        finally:
            model.close()
    with court_client(court) as client:
        print_sent(what, send(client))
    checked = "checked against the read model; " if model is not None else ""
    out.print(
        f"{checked}the bus decides: its answer (applied, or refused with a code) arrives in "
        f"court {court}'s inbox: `courtbus inbox {court}`",
        highlight=False,
        markup=False,
    )


@delegation_app.command("accept")
def accept(
    court: AsCourt,
    delegation_id: str,
    handler: Annotated[str | None, typer.Option()] = None,
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Accept a delegation delivered to your court."""
    send_step(
        court,
        delegation_id,
        Step.ACCEPTED,
        "acceptance",
        lambda c: c.delegation.accept(delegation_id, handler),
        text={"handler": handler},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("materials")
def materials(
    court: AsCourt,
    delegation_id: str,
    missing: Annotated[list[str], typer.Option(help="A missing item; repeat for several.")],
    note: Annotated[str | None, typer.Option()] = None,
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Ask the requesting court for missing materials (补正): a court may not refuse."""
    send_step(
        court,
        delegation_id,
        Step.MATERIALS_REQUESTED,
        "materials request",
        lambda c: c.delegation.request_materials(delegation_id, missing, note),
        text={"note": note, **{f"missing_{i}": m for i, m in enumerate(missing)}},
        store=store,
        no_check=no_check,
    )


def _one_text_step(name: str, step: Step, what: str, option: str, method: str, doc: str) -> None:
    """Register ``courtbus delegation <name> COURT DELEGATION_ID --<option> TEXT``: the step
    ``DelegationClient.<method>(delegation_id, text)``, sent by ``send_step``."""

    def command(
        court: AsCourt,
        delegation_id: str,
        text: str,  # its annotation is set below: the option is named after ``option``
        store: Store = None,
        no_check: NoCheck = False,
    ) -> None:
        send_step(
            court,
            delegation_id,
            step,
            what,
            lambda c: getattr(c.delegation, method)(delegation_id, text),
            text={option: text},
            store=store,
            no_check=no_check,
        )

    command.__annotations__["text"] = Annotated[str, typer.Option(f"--{option}")]
    command.__doc__ = doc
    delegation_app.command(name)(command)


# The steps whose only input is one text: (command, step, what it is, option, client method, help)
for _row in (
    (
        "supply",
        Step.MATERIALS_SUPPLIED,
        "materials",
        "summary",
        "supply_materials",
        "Supply the materials asked for, or explain in writing why not.",
    ),
    (
        "released",
        Step.RELEASED,
        "release",
        "summary",
        "report_released",
        "Report a freeze, seal or seizure released (as the executing court).",
    ),
    (
        "release",
        Step.RELEASE_REQUESTED,
        "release request",
        "reason",
        "request_release",
        "Ask the executing court to release a freeze, seal or seizure.",
    ),
    (
        "cancel",
        Step.CANCELLED,
        "cancellation",
        "reason",
        "cancel",
        "Withdraw a delegation your court requested.",
    ),
):
    _one_text_step(*_row)


@delegation_app.command("return")
def return_(
    court: AsCourt,
    delegation_id: str,
    reason: Annotated[str, typer.Option()],
    approved_on: Annotated[
        str,
        typer.Option(
            help="The day the 高级人民法院 approved the return (法释〔2011〕11号 (2020 修正) 第九条), e.g. 2027-11-30."
        ),
    ],
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Return a delegation whose missing materials were not supplied within 30 days, with the
    high court's approval."""
    approved = _start_of_day(approved_on)
    send_step(
        court,
        delegation_id,
        Step.RETURNED,
        "return",
        lambda c: c.delegation.return_delegation(delegation_id, reason, approved_at=approved),
        text={"reason": reason},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("files-returned")
def files_returned(
    court: AsCourt,
    delegation_id: str,
    explanation: Annotated[
        str, typer.Option(help="The written explanation (书面说明) sent with the files.")
    ],
    tracking: Annotated[
        str | None, typer.Option(help="A courier's tracking number or a transfer id.")
    ] = None,
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Report a returned delegation's files sent back (as the executing court): within 15 days
    of the return's approval, 法释〔2011〕11号 (2020 修正) 第九条."""
    send_step(
        court,
        delegation_id,
        Step.FILES_RETURNED,
        "files returned",
        lambda c: c.delegation.report_files_returned(delegation_id, explanation, tracking=tracking),
        text={"explanation": explanation, "tracking": tracking},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("escalate")
def escalate(
    court: AsCourt,
    delegation_id: str,
    executing_court: Annotated[str, typer.Option("--to", help="The executing court's id.")],
    reason: Annotated[str, typer.Option()],
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Ask the executing court's superior court to order execution (15 days unstarted)."""
    check_court(executing_court)
    send_step(
        court,
        delegation_id,
        Step.ESCALATED,
        "escalation",
        lambda c: c.delegation.escalate(delegation_id, executing_court, reason),
        text={"reason": reason},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("answer")
def answer(
    court: AsCourt,
    delegation_id: str,
    decision: Annotated[str, typer.Option(help="ORDERED, TAKEN_UP, ASSIGNED or NOT_WARRANTED.")],
    reason: Annotated[str, typer.Option()],
    assigned: Annotated[str | None, typer.Option(help="ASSIGNED: the court that executes.")] = None,
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Answer an escalation, as the executing court's superior court."""
    if assigned:
        check_court(assigned)
    send_step(
        court,
        delegation_id,
        Step.ESCALATION_ANSWERED,
        "answer",
        lambda c: c.delegation.answer_escalation(
            delegation_id, decision.upper(), reason, assigned_court=assigned
        ),
        text={"reason": reason},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("renew")
def renew(
    court: AsCourt,
    delegation_id: str,
    days: Annotated[int, typer.Option(help="The renewal period in days.")],
    note: Annotated[str | None, typer.Option()] = None,
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Ask the executing court to renew a freeze, seal or seizure before it ends."""
    send_step(
        court,
        delegation_id,
        Step.RENEWAL_REQUESTED,
        "renewal request",
        lambda c: c.delegation.request_renewal(delegation_id, days, note),
        text={"note": note},
        store=store,
        no_check=no_check,
    )


def china_time(when: datetime | None, *, seconds: bool = False) -> str:
    """A time as a court clerk reads it: China time, marked (a naive time is taken as UTC)."""
    if when is None:
        return ""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (
        aware.astimezone(CHINA).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))
        + " 北京时间"
    )


def due_text(when: datetime | None) -> str:
    """A deadline as ``china_time`` shows it and, when its last day falls in a year without
    holiday data (on the calendar installed now), why it is only provisional."""
    if when is None:
        return ""
    note = provisional_at(when if when.tzinfo else when.replace(tzinfo=UTC))
    return china_time(when) + (f"  [yellow]({note})[/yellow]" if note else "")


def _start_of_day(day: str) -> datetime:
    """A day (YYYY-MM-DD, China date) as the instant it starts: 00:00 China time."""
    return _end_of_day(day) - timedelta(days=1)


def _end_of_day(day: str) -> datetime:
    """A measure's last day (YYYY-MM-DD, China date) as the instant it ends: 00:00 the day after."""
    try:
        last = date.fromisoformat(day)
    except ValueError:
        raise ValidationError(
            f"{day!r} is not a date like 2027-11-30", code="FIELD_INVALID"
        ) from None
    return datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)


@delegation_app.command("renewed")
def renewed(
    court: AsCourt,
    delegation_id: str,
    until: Annotated[str, typer.Option(help="The measure's new last day, YYYY-MM-DD.")],
    summary: Annotated[str, typer.Option()],
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Report a freeze, seal or seizure renewed (as the executing court)."""
    end = _end_of_day(until)
    send_step(
        court,
        delegation_id,
        Step.RENEWED,
        "renewal",
        lambda c: c.delegation.report_renewed(delegation_id, end, summary),
        text={"summary": summary},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("progress")
def progress(
    court: AsCourt,
    delegation_id: str,
    summary: Annotated[str, typer.Option()],
    amount: Annotated[str | None, typer.Option()] = None,
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Report progress on a delegation you accepted."""
    executed = check_amount(amount)
    send_step(
        court,
        delegation_id,
        Step.PROGRESS,
        "progress",
        lambda c: c.delegation.report_progress(delegation_id, summary, executed),
        text={"summary": summary},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("complete")
def complete(
    court: AsCourt,
    delegation_id: str,
    summary: Annotated[str, typer.Option()],
    amount: Annotated[str | None, typer.Option()] = None,
    until: Annotated[
        str | None, typer.Option(help="FREEZE, SEAL, SEIZE: the measure's last day, YYYY-MM-DD.")
    ] = None,
    store: Store = None,
    no_check: NoCheck = False,
) -> None:
    """Report a delegation you accepted as done (a freeze with the last day of its term)."""
    executed = check_amount(amount)
    end = _end_of_day(until) if until else None
    send_step(
        court,
        delegation_id,
        Step.COMPLETED,
        "completion",
        lambda c: c.delegation.complete(delegation_id, summary, executed, end),
        text={"summary": summary},
        store=store,
        no_check=no_check,
    )


@delegation_app.command("list")
def list_(
    court: Annotated[
        str | None, typer.Option(help="Only delegations this court requested or executes.")
    ] = None,
    state: Annotated[str | None, typer.Option(help="Only this state, e.g. DELIVERED.")] = None,
    store: Store = None,
) -> None:
    """Delegations in the read model (kept up to date by the projector service).

    An unknown ``--court`` is ``COURT_UNKNOWN``; a ``--state`` that is none of the flow's
    states (or ``REFUSED``, a request the bus refused) is ``CLI_OPTION_INVALID``.
    """
    from courtbus.domain.delegation import State

    check_court_filter(court)
    wanted = check_choice(state, (*State, "REFUSED"), "state")
    model = read_model(store)
    try:
        rows = model.delegations(court=court, state=wanted)
    finally:
        model.close()
    table = Table(
        id_column("delegation", (r.delegation_id for r in rows)),
        "case",
        "from → to",
        "matter",
        "state",
        "requested",
        "events",
    )
    for r in rows:
        table.add_row(
            r.delegation_id,
            r.case_number,
            f"{r.requesting_court} → {r.executing_court}",
            r.matter,
            r.state,
            china_time(r.requested_at),
            str(r.event_count),
        )
    out.print(table)
    out.print(plural(len(rows), "delegation"), highlight=False)


@delegation_app.command("show")
def show(delegation_id: str, store: Store = None) -> None:
    """One delegation and its full history, refused steps included."""
    install_from_env()  # the holiday years COURTBUS_HOLIDAYS adds, as the services know them
    model = read_model(store)
    try:
        row = model.delegation(delegation_id)
        history = model.history(delegation_id)
    finally:
        model.close()
    if row is None:
        out.print(f"[red]no delegation {delegation_id} in the read model[/red]")
        raise typer.Exit(1)
    for label, value in (
        ("case", row.case_number),
        ("from", row.requesting_court),
        ("to", row.executing_court),
        ("kind", KIND_TEXT.get(row.kind or "", "(none: sent before kinds)")),
        ("matter", f"{row.matter} {row.asset_kind or ''}"),
        ("amount", str(row.amount or "")),
        ("suit", row.enforced_suit or ""),
        ("debtor", f"{row.debtor_name} {row.debtor_id_masked}"),
        ("state", row.state),
        ("start due", due_text(row.start_due)),
        ("report due", due_text(row.report_due)),
    ):
        out.print(f"[bold]{label:>10}[/bold]  {value}")
    table = Table("time", "step", "from", "result")
    for h in history:
        result = f"→ {h.state_after}" if h.applied else f"[red]refused {h.error_code}[/red]"
        table.add_row(china_time(h.time, seconds=True), h.record, h.source, result)
    out.print(table)

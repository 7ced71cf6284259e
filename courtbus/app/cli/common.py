"""What the command modules share: the console, option types, a court client, the read model,
and the input checks every command runs before it connects to Kafka."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import ProgressColumn, Task
from rich.table import Column
from rich.text import Text

from courtbus.errors import StoreError, ValidationError

if TYPE_CHECKING:
    from courtbus.sdk.delegation import DelegationRequestIn
    from courtbus.store import ReadModelQueries

out = Console()

AsCourt = Annotated[str, typer.Option("--as", help="The sending court's id, e.g. 320583.")]
Store = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Read-model URL (default: $COURTBUS_STORE_URL, else readmodel.db in the stack "
        "folder, $COURTBUS_STACK_HOME or .stack/).",
    ),
]


# A person at a terminal waits this long for a cluster that does not answer, not kafka-python's
# 30 s (``COURTBUS_CONNECT_TIMEOUT_S`` to change it); a closed port is reported at once.
CLI_CONNECT_TIMEOUT_S = 5.0


def connect_timeout_s() -> float:
    """``$COURTBUS_CONNECT_TIMEOUT_S`` (seconds, > 0) or ``CLI_CONNECT_TIMEOUT_S``.

    Raises:
        ConfigError: ``CONNECT_TIMEOUT_INVALID``.
    """
    from courtbus.errors import ConfigError

    text = os.environ.get("COURTBUS_CONNECT_TIMEOUT_S", "").strip()
    if not text:
        return CLI_CONNECT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(
            f"COURTBUS_CONNECT_TIMEOUT_S {text!r} is not a number of seconds above 0",
            code="CONNECT_TIMEOUT_INVALID",
        )
    return value


def cli_connection(bootstrap: str | None = None, stack_home: Any = None) -> Any:
    """The configured bus, once one of its bootstrap servers answers (``Connection.probe``),
    with the CLI's shorter wait for a cluster that does not.

    Raises:
        ConfigError: ``BUS_NOT_CONFIGURED``, ``BOOTSTRAP_INVALID``, ``REGISTRY_URL_INVALID``.
        ClusterError: ``CLUSTER_UNREACHABLE``: no bootstrap server accepts a connection.
    """
    from dataclasses import replace

    from courtbus.config import resolve

    conn = resolve(bootstrap, stack_home=stack_home) if bootstrap or stack_home else resolve()
    timeout_s = connect_timeout_s()
    conn.probe(timeout_s)
    return replace(conn, connect_timeout_s=timeout_s)


def court_client(court: str) -> Any:
    """A ``CourtClient`` for ``court`` on the configured bus (imported lazily: Kafka)."""
    from courtbus.sdk import CourtClient

    return CourtClient(court, cli_connection())


def check_court(court: str) -> None:
    """``court`` is in the participant directory (no Kafka needed).

    Raises:
        ValidationError: ``COURT_UNKNOWN``.
    """
    from courtbus.catalogue.directory import load_directory

    load_directory().court(court)


def check_amount(amount: str | None) -> Decimal | None:
    """An amount option as exact yuan, or None.

    Raises:
        ValidationError: ``MONEY_INVALID`` or ``MONEY_OUT_OF_RANGE``.
    """
    from courtbus.domain.money import Money

    return None if amount is None else Money.parse(amount).yuan


def check_text(**fields: Any) -> None:
    """Text options normalised and checked as the SDK and the gateway will check them.

    Raises:
        ValidationError: ``TEXT_CONTROL_CHARACTER``, ``TEXT_BIDI_CONTROL`` or ``TEXT_NOT_NFC``,
            or a ``MONEY_*`` code for an amount among them.
    """
    from courtbus.domain.text import normalize_payload
    from courtbus.gateway.rules import check_values

    check_values(normalize_payload({k: v for k, v in fields.items() if v is not None}))


def check_request(court: str, fields: dict[str, Any]) -> DelegationRequestIn:
    """A delegation request from ``court``, checked completely before anything connects.

    Raises:
        ValidationError: ``COURT_UNKNOWN``, ``REQUEST_INVALID``, the domain layer's codes
            (case number, debtor ID, amount), ``DELEGATION_SELF``, ``POLICY_*`` or ``TEXT_*``.
    """
    from courtbus.catalogue.directory import load_directory
    from courtbus.sdk.delegation import check_request as sdk_check_request
    from courtbus.sdk.sender import regional_rules

    directory = load_directory()
    directory.court(court)
    check_text(**fields)
    policies = regional_rules(directory)
    return sdk_check_request(fields, court_id=court, directory=directory, policies=policies)


def print_sent(what: str, sent: object) -> None:
    """One line for a record the broker acknowledged."""
    out.print(
        f"[green]sent[/green] {what}: {getattr(sent, 'key', '')} "
        f"(event {getattr(sent, 'event_id', '')})"
    )


def store_url(store: str | None) -> str:
    """Where the read model is, by one rule (the projector's): ``--store``, else
    ``$COURTBUS_STORE_URL``, else ``readmodel.db`` in the stack folder (``$COURTBUS_STACK_HOME``
    or ``<repo>/.stack``). Creates nothing."""
    from courtbus.config import default_stack_home

    if store:
        return store
    if url := os.environ.get("COURTBUS_STORE_URL"):
        return url
    return f"sqlite:///{default_stack_home() / 'readmodel.db'}"


def _sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL; None for another database or an in-memory one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # the store says STORE_URL_INVALID
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def _never_migrated(path: Path) -> bool:
    """A SQLite file the projector never set up (no ``alembic_version`` table), read-only."""
    import sqlite3

    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
            ).fetchone()
    except sqlite3.Error:
        return False  # not ours to judge: the store reports it
    return found is None


def _missing(path: Path) -> StoreError:
    from courtbus.config import default_stack_home

    hint = (
        "the projector writes it: start the stack's services with `make demo`, or run "
        "`courtbus serve projector`; or name another with --store or COURTBUS_STORE_URL"
    )
    if (
        not os.environ.get("COURTBUS_STACK_HOME")
        and not (default_stack_home() / "state.json").exists()
    ):
        hint += " (COURTBUS_STACK_HOME is not set: if your stack runs elsewhere, set it)"
    return StoreError(f"no read model at {path}: {hint}", code="READMODEL_MISSING")


def read_model(store: str | None) -> ReadModelQueries:
    """The existing read model (``store_url``) for a read-only command (imported lazily:
    SQLAlchemy). A SQLite file that is not there, or that the projector never set up, is not
    created: an empty table would look like an empty list.

    Raises:
        StoreError: ``READMODEL_MISSING``, ``STORE_URL_INVALID`` or ``STORE_UNAVAILABLE``.
    """
    from courtbus.store import Database, ReadModelQueries, ReadModelWriter

    url = store_url(store)
    path = _sqlite_file(url)
    if path is not None and (not path.is_file() or _never_migrated(path)):
        raise _missing(path)
    db = Database(url)
    # An older schema is brought up to date (the writer's migrations, on the same pool);
    # nothing is created from nothing (checked above).
    ReadModelWriter(db).migrate()
    return ReadModelQueries(db)


def read_model_if_any(store: str | None) -> ReadModelQueries | None:
    """The read model if there is one (for checks before sending), else None.

    Raises:
        StoreError: ``STORE_URL_INVALID`` or ``STORE_UNAVAILABLE``.
    """
    try:
        return read_model(store)
    except StoreError as exc:
        if exc.code == "READMODEL_MISSING":
            return None
        raise


ShowIds = Annotated[
    bool, typer.Option("--show-ids", help="Print ID numbers in full (they are masked by default).")
]


def shown_id(number: str | None, show: bool) -> str:
    """An ID or document number for display: masked (``mask_id``) unless ``--show-ids``."""
    from courtbus.domain.masking import mask_id

    if not number:
        return ""
    return number if show else mask_id(number)


def check_choice(value: str | None, allowed: Iterable[str], what: str) -> str | None:
    """An enumerated option (``--status``, ``--state``, ...) upper-cased, or None if not given.

    Raises:
        ValidationError: ``CLI_OPTION_INVALID``, naming the values allowed.
    """
    if value is None:
        return None
    choices = tuple(allowed)
    if value.upper() not in choices:
        raise ValidationError(
            f"unknown {what} {value!r}: one of {', '.join(choices)}", code="CLI_OPTION_INVALID"
        )
    return value.upper()


def check_court_filter(court: str | None) -> str | None:
    """A ``--court`` filter: a court of the directory, or None.

    Raises:
        ValidationError: ``COURT_UNKNOWN``.
    """
    if court is not None:
        check_court(court)
    return court


def _looks_like_credit_code(number: str) -> bool:
    """18 characters with a letter anywhere but a resident ID's final X."""
    return len(number) == 18 and not number[:17].isdigit()


def check_id_filter(number: str | None, nationality: str | None = None) -> str | None:
    """An ID number to filter by, checked as the bus checks it and in its canonical spelling:
    a credit code (by shape), a passport (only with ``nationality``: never guessed), else a
    person's ID. None if not given.

    Raises:
        ValidationError: ``RESIDENT_ID_INVALID``, ``CREDIT_CODE_INVALID``, ``PASSPORT_INVALID``
            or ``ID_TYPE_MISMATCH`` (``nationality`` without a number).
    """
    from courtbus.domain.identity import canonical_id, check_debtor_id

    if number is None:
        if nationality is not None:
            raise ValidationError(
                "--nationality goes with a passport number to filter by", code="ID_TYPE_MISMATCH"
            )
        return None
    canonical = canonical_id("PERSON", number)
    if nationality is not None:
        check = check_debtor_id("PERSON", canonical, id_type="PASSPORT", nationality=nationality)
    elif _looks_like_credit_code(canonical):
        check = check_debtor_id("ORGANISATION", canonical)
    else:
        check = check_debtor_id("PERSON", canonical)
    return check.value


def id_column(header: str, ids: Iterable[str]) -> Column:
    """A table column of ids that a user copies: never cut or folded, as wide as the longest
    (the other columns wrap instead)."""
    width = max((len(i) for i in ids), default=len(header))
    return Column(header, no_wrap=True, min_width=max(width, len(header)))


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``30,003 entries``: the count and the noun that fits it."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


Limit = Annotated[int, typer.Option(min=1, help="Rows per page.")]
PageNo = Annotated[int, typer.Option("--page", min=1, help="Which page of --limit rows (from 1).")]


def page_summary(shown: int, total: int, page: int, limit: int, one: str, many: str) -> str:
    """``2 entries`` when one page holds them all, else ``200 of 30,003 entries (page 1 of
    151; --page 2 for more)``: the total comes from a COUNT, never from the rows shown."""
    if page == 1 and shown == total:
        return plural(total, one, many)
    pages = max((total + limit - 1) // limit, 1)
    more = f"; --page {page + 1} for more" if page < pages else ""
    return f"{shown:,} of {plural(total, one, many)} (page {page} of {pages}{more})"


# A rate over less than this is noise (or "0 entries/s" before rich has two samples): not shown.
MIN_RATE_SECONDS = 1.0


def rate(count: int, elapsed_s: float, unit: str) -> str:
    """``, 1,234 records/s`` for a run long enough to measure, else nothing."""
    if elapsed_s < MIN_RATE_SECONDS or count <= 0:
        return ""
    return f", {count / elapsed_s:,.0f} {unit}/s"


class RateColumn(ProgressColumn):
    """A progress bar's rate (``1,234 entries/s``), blank until rich can measure one."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        """The rate, or nothing while there is none to show."""
        speed = task.speed
        shown = "" if not speed or (task.elapsed or 0) < MIN_RATE_SECONDS else f"{speed:,.0f}"
        return Text(f"{shown} {self.unit}/s" if shown else "", style="progress.data.speed")

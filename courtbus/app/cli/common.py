"""What the command modules share: the console, option types, a court client, the read model,
and the input checks every command runs before it connects to Kafka."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from courtbus.sdk.court import DelegationRequestIn

out = Console()

AsCourt = Annotated[str, typer.Option("--as", help="The sending court's id, e.g. 320583.")]
Store = Annotated[
    str | None,
    typer.Option(
        "--store", help="Read-model URL (default: $COURTBUS_STORE_URL or .stack/readmodel.db)."
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
    from courtbus.sdk.court import check_request as sdk_check_request
    from courtbus.sdk.court import regional_rules

    directory = load_directory()
    directory.court(court)
    check_text(**fields)
    policies = regional_rules(directory)
    return sdk_check_request(fields, court_id=court, directory=directory, policies=policies)


def print_sent(what: str, sent: object) -> None:
    """One line for a record the broker acknowledged."""
    out.print(
        f"[green]sent[/green] {what}: {getattr(sent, 'delegation_id', '')} "
        f"(event {getattr(sent, 'event_id', '')})"
    )


def read_model(store: str | None) -> Any:
    """The read model at ``store`` or the default URL (imported lazily: SQLAlchemy)."""
    from courtbus.config import default_store_url
    from courtbus.store import ReadModel

    model = ReadModel(store or default_store_url())
    model.migrate()
    return model


ShowIds = Annotated[
    bool, typer.Option("--show-ids", help="Print ID numbers in full (they are masked by default).")
]


def shown_id(number: str | None, show: bool) -> str:
    """An ID or document number for display: masked (``mask_id``) unless ``--show-ids``."""
    from courtbus.domain.identity import mask_id

    if not number:
        return ""
    return number if show else mask_id(number)

"""What the command modules share: the console, option types, a court client, the read model."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

out = Console()

AsCourt = Annotated[str, typer.Option("--as", help="The sending court's id, e.g. 320583.")]
Store = Annotated[
    str | None,
    typer.Option(
        "--store", help="Read-model URL (default: $COURTBUS_STORE_URL or .stack/readmodel.db)."
    ),
]


def court_client(court: str) -> Any:
    """A ``CourtClient`` for ``court`` on the configured bus (imported lazily: Kafka)."""
    from courtbus.config import resolve
    from courtbus.sdk import CourtClient

    return CourtClient(court, resolve())


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

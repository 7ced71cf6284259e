"""The ``courtbus`` command: one module per area (``main``: stack, topics, schemas, directory,
demo; ``delegation``: the delegation flow; ``bus``: inbox, dead letters, services)."""

from courtbus.app.cli.main import app, main

__all__ = ["app", "main"]

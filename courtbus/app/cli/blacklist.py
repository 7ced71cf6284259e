"""`courtbus blacklist ...`: the dishonest-debtor list (失信被执行人).

The command group lives here; each command is defined in its own module, imported at the end
so that it registers itself on ``blacklist_app``.
"""

from __future__ import annotations

import typer

blacklist_app = typer.Typer(
    help="The dishonest-debtor list (失信被执行人): generate, sync a partner mirror, inspect.",
    no_args_is_help=True,
)

# Each module registers its commands on blacklist_app when imported.
from courtbus.app.cli import (  # noqa: E402, F401
    blacklist_generate,
    blacklist_read,
    blacklist_sync,
    blacklist_verify,
)

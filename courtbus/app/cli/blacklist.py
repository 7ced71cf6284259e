"""`courtbus blacklist ...`: the dishonest-debtor list (失信被执行人).

The command group lives here, and registers the commands its modules define (they do not
import the group, so no import runs in a circle).
"""

from __future__ import annotations

import typer

from courtbus.app.cli import blacklist_generate, blacklist_read, blacklist_sync, blacklist_verify

blacklist_app = typer.Typer(
    help="The dishonest-debtor list (失信被执行人): generate, sync a partner mirror, inspect.",
    no_args_is_help=True,
)
blacklist_app.command("generate")(blacklist_generate.generate)
blacklist_app.command("list")(blacklist_read.list_)
blacklist_app.command("show")(blacklist_read.show)
blacklist_app.command("sync")(blacklist_sync.sync)
blacklist_app.command("verify-mirror")(blacklist_sync.verify_mirror)
blacklist_app.command("verify")(blacklist_verify.verify)

"""``python -m services.web``: the REST API until SIGTERM or Ctrl-C.

Environment: the bus connection as for every service (``COURTBUS_BOOTSTRAP`` … or the local
stack) and ``services.web.settings.WebSettings`` (the port, the address, the read model; the
tokens file). A configuration error is one logged line and exit code 2.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from courtbus.errors import CourtbusError
from courtbus.logs import configure_logging
from courtbus.web.app import create_app
from courtbus.web.tokens import TokenStore, tokens_path
from services.main import start_checks
from services.web.settings import WebSettings

log = logging.getLogger("courtbus.service")


def main() -> None:
    """Check the connection and the tokens file, then serve."""
    configure_logging(logging.INFO)
    try:
        settings = WebSettings.load()
        conn, registry = start_checks(settings.connect_wait_s)
        registry.close()
        tokens = TokenStore.load()
    except CourtbusError as exc:
        log.error("%s", exc)
        sys.exit(2)
    log.info(
        "web API on http://%s:%d (OpenAPI at /docs; %d token(s) from %s)",
        settings.web_addr,
        settings.web_port,
        len(tokens.principals),
        tokens_path(),
    )
    app = create_app(conn, tokens, store_url=settings.store_url)
    uvicorn.run(app, host=settings.web_addr, port=settings.web_port, log_level="warning")


if __name__ == "__main__":
    main()

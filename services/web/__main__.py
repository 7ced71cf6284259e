"""``python -m services.web``: the REST API until SIGTERM or Ctrl-C.

Environment: the bus connection as for every service (``COURTBUS_BOOTSTRAP`` … or the local
stack), ``COURTBUS_WEB_PORT`` (8000), ``COURTBUS_WEB_ADDR`` (127.0.0.1: put a TLS front in front
of it for other hosts) and ``COURTBUS_WEB_TOKENS`` (the tokens file, ``courtbus web token``).
A configuration error is one logged line and exit code 2.
"""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from courtbus.errors import CourtbusError
from courtbus.logs import configure_logging
from courtbus.web.app import create_app
from courtbus.web.tokens import TokenStore, tokens_path
from services.main import start_checks

log = logging.getLogger("courtbus.service")


def main() -> None:
    """Check the connection and the tokens file, then serve."""
    configure_logging(logging.INFO)
    try:
        conn, registry = start_checks()
        registry.close()
        tokens = TokenStore.load()
        port = int(os.environ.get("COURTBUS_WEB_PORT") or 8000)
    except (CourtbusError, ValueError) as exc:
        log.error("%s", exc)
        sys.exit(2)
    addr = os.environ.get("COURTBUS_WEB_ADDR") or "127.0.0.1"
    log.info(
        "web API on http://%s:%d (OpenAPI at /docs; %d token(s) from %s)",
        addr,
        port,
        len(tokens.principals),
        tokens_path(),
    )
    app = create_app(conn, tokens, store_url=os.environ.get("COURTBUS_STORE_URL") or None)
    uvicorn.run(app, host=addr, port=port, log_level="warning")


if __name__ == "__main__":
    main()

"""``python -m services.gateway``: run the gateway until SIGTERM or Ctrl-C."""

from __future__ import annotations

from services.gateway.worker import GatewayProcessor
from services.main import run_service

if __name__ == "__main__":
    run_service(lambda envelope: GatewayProcessor(envelope))

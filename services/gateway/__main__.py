"""``python -m services.gateway``: run one gateway worker until SIGTERM or Ctrl-C."""

from __future__ import annotations

from services.gateway.flow import GatewayFlow
from services.main import run_service

if __name__ == "__main__":
    run_service(GatewayFlow)

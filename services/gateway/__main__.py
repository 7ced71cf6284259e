"""``python -m services.gateway``: run one gateway worker until SIGTERM or Ctrl-C.

Settings: ``services.gateway.settings.GatewaySettings``. Signatures are required when the bus
connection is authenticated (the secure stack), optional otherwise, unless
``COURTBUS_SIGNATURES`` says so itself.
"""

from __future__ import annotations

from courtbus.config import resolve
from courtbus.wire.envelope import Envelope
from services.gateway.flow import GatewayFlow
from services.gateway.settings import GatewaySettings
from services.main import run_service


def make(envelope: Envelope, settings: GatewaySettings) -> GatewayFlow:
    """The gateway flow with the signature policy of this bus (see the module's docstring)."""
    conn = resolve()
    secure = bool(conn.username or conn.ssl_cert)  # SCRAM or a client certificate
    return GatewayFlow(
        envelope,
        dedup_retention=settings.dedup_days,
        signatures=settings.signature_policy(secure=secure),
        retry_window=settings.retry_window_s,
        bound_ids=settings.event_ids == "bound",
    )


if __name__ == "__main__":
    run_service(make, GatewaySettings)

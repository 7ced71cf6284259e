"""``python -m services.gateway``: run one gateway worker until SIGTERM or Ctrl-C.

Signatures are required (``COURTBUS_SIGNATURES=required``) when the bus connection is
authenticated (the secure stack), optional otherwise; ``COURTBUS_SIGNATURES`` says so itself.
"""

from __future__ import annotations

from courtbus.config import resolve
from courtbus.gateway import SignaturePolicy
from courtbus.wire.envelope import Envelope
from services.gateway.flow import GatewayFlow
from services.main import run_service


def make(envelope: Envelope) -> GatewayFlow:
    """The gateway flow with the signature policy of this bus (see the module's docstring)."""
    conn = resolve()
    secure = bool(conn.username or conn.ssl_cert)  # SCRAM or a client certificate
    return GatewayFlow(envelope, signatures=SignaturePolicy.from_env(secure=secure))


if __name__ == "__main__":
    run_service(make)

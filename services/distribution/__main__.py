"""``python -m services.distribution``: run one distribution worker until SIGTERM or Ctrl-C."""

from __future__ import annotations

from courtbus.wire.envelope import Envelope
from services.distribution.flow import DistributionFlow
from services.main import run_service


def make(envelope: Envelope) -> DistributionFlow:
    """The flow with the law's periods (15-day windows, 30-day answer, 60 + 15-day hand-over)."""
    return DistributionFlow(envelope)


if __name__ == "__main__":
    run_service(make)

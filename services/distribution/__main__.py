"""``python -m services.distribution``: run one distribution worker until SIGTERM or Ctrl-C.

``COURTBUS_DISTRIBUTION_<PERIOD>_SECONDS`` shortens a period for a demo or a test (OBJECTION,
OPPOSITION, SUIT, BANKRUPTCY_ANSWER, HANDOVER_WAIT, HANDOVER; ``services.distribution.periods``).
"""

from __future__ import annotations

from courtbus.wire.envelope import Envelope
from services.distribution.flow import DistributionFlow
from services.distribution.periods import periods_from_env
from services.main import run_service


def make(envelope: Envelope) -> DistributionFlow:
    """The flow with the law's periods (15-day windows, 30-day answer, 60 + 15-day hand-over),
    or those the environment shortens."""
    return DistributionFlow(envelope, periods_from_env())


if __name__ == "__main__":
    run_service(make)

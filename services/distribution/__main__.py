"""``python -m services.distribution``: run one distribution worker until SIGTERM or Ctrl-C.

Settings: ``services.distribution.settings.DistributionSettings`` (each period of the law,
shortened for a demo or a test by ``COURTBUS_DISTRIBUTION_<PERIOD>_SECONDS``).
"""

from __future__ import annotations

from courtbus.wire.envelope import Envelope
from services.distribution.flow import DistributionFlow
from services.distribution.settings import DistributionSettings
from services.main import run_service


def make(envelope: Envelope, settings: DistributionSettings) -> DistributionFlow:
    """The flow with the law's periods (15-day windows, 30-day answer, 60 + 15-day hand-over),
    or those the environment shortens."""
    return DistributionFlow(envelope, settings.periods())


if __name__ == "__main__":
    run_service(make, DistributionSettings)

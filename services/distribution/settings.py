"""The distribution service's settings from the environment (``DistributionSettings``): the
law's periods by default, shortened for a demo or a test."""

from __future__ import annotations

from typing import ClassVar

from courtbus.domain import distribution_plan as dp
from courtbus.settings import Seconds
from services.settings import ServiceSettings


class DistributionSettings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and one variable per period (seconds; a
    span that is not a whole number of days is a plain offset, not counted as the law counts
    days), ``DISTRIBUTION_PERIOD_INVALID`` when wrong:

    - ``COURTBUS_DISTRIBUTION_OBJECTION_SECONDS``: 15 days to object to the plan (民诉法解释
      (2022 修正) 第五百零九条);
    - ``COURTBUS_DISTRIBUTION_OPPOSITION_SECONDS``: 15 days to oppose an objection (第五百一十条);
    - ``COURTBUS_DISTRIBUTION_SUIT_SECONDS``: 15 days to sue after an opposition (第五百一十条);
    - ``COURTBUS_DISTRIBUTION_BANKRUPTCY_ANSWER_SECONDS``: 30 days for the bankruptcy court's
      answer (第五百一十二条);
    - ``COURTBUS_DISTRIBUTION_HANDOVER_WAIT_SECONDS``: 60 days from the first seal before a
      hand-over may be asked (法释〔2016〕6号);
    - ``COURTBUS_DISTRIBUTION_HANDOVER_SECONDS``: 15 days to hand the disposal over
      (法释〔2016〕6号 (version unverified) 第二条).
    """

    invalid_code: ClassVar[str] = "DISTRIBUTION_PERIOD_INVALID"

    distribution_objection_seconds: Seconds = dp.PERIODS.objection
    distribution_opposition_seconds: Seconds = dp.PERIODS.opposition
    distribution_suit_seconds: Seconds = dp.PERIODS.suit
    distribution_bankruptcy_answer_seconds: Seconds = dp.PERIODS.bankruptcy_answer
    distribution_handover_wait_seconds: Seconds = dp.PERIODS.handover_wait
    distribution_handover_seconds: Seconds = dp.PERIODS.handover

    def periods(self) -> dp.Periods:
        """The periods these settings give."""
        return dp.Periods(
            objection=self.distribution_objection_seconds,
            opposition=self.distribution_opposition_seconds,
            suit=self.distribution_suit_seconds,
            bankruptcy_answer=self.distribution_bankruptcy_answer_seconds,
            handover_wait=self.distribution_handover_wait_seconds,
            handover=self.distribution_handover_seconds,
        )

"""How many refusal notices one sender gets: a flood of bad records must not flood its inbox.

Every refused record still goes to the dead letters with its original bytes; the notice to its
sender is what is limited. For each sender and error code, the first ``limit`` refusals of a
``window`` each get their own ``MessageRejected`` notice; past that, a batch's further refusals
of that sender and code are told in **one** summary notice (``refused_count``: how many, the
first of them by topic, partition and offset, and where the others are), produced in the same
transaction as the dead letters it sums up. So a burst of 10,000 garbage records gives
``limit`` notices and one summary per batch of each outbox partition, and each refused record
is told once: in its own notice or in exactly one summary's count.

The window's counts are kept in memory per task (not in a changelog): after a restart or a
rebalance a sender may get up to ``limit`` individual notices again, never fewer than its
refusals. Settings: ``COURTBUS_NOTICE_LIMIT`` (default 20) and ``COURTBUS_NOTICE_WINDOW_S``
(default 60); a limit of 0 or less turns the limiting off. These are operating settings, not
rules of law.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_LIMIT = 20
DEFAULT_WINDOW_S = 60.0

Key = tuple[str, str, str]  # (sender kind, sender id, error code)


@dataclass
class _Window:
    started: float
    told: int = 0


@dataclass
class NoticeLimiter:
    """Per (sender, code): whether a refusal gets its own notice (pure: times are given)."""

    limit: int = DEFAULT_LIMIT
    window_s: float = DEFAULT_WINDOW_S
    _windows: dict[Key, _Window] = field(default_factory=dict)

    def admit(self, key: Key, at: float) -> bool:
        """True if a refusal of ``key`` at ``at`` (seconds, any monotonic clock) gets its own
        notice; False if it is to be summed up."""
        if self.limit <= 0:
            return True
        window = self._windows.get(key)
        if window is None or at - window.started >= self.window_s:
            if len(self._windows) > 10_000:  # many senders: forget windows that ended
                self._windows = {
                    k: w for k, w in self._windows.items() if at - w.started < self.window_s
                }
            window = self._windows[key] = _Window(at)
        if window.told < self.limit:
            window.told += 1
            return True
        return False

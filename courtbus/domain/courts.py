"""The courts' hierarchy, told from their ids. Pure: imports nothing."""

from __future__ import annotations


def superior_of(court_id: str) -> str | None:
    """The superior court of ``court_id``, from its id: 320583 → 3205 → 32 (None above 32).

    Basic courts (6 digits) sit under the intermediate court of their city (the first 4),
    intermediate and special courts (4 digits) under their province's high court (the first 2).
    A high court's superior, the Supreme People's Court, is not on the bus.
    """
    if len(court_id) == 6:
        return court_id[:4]
    if len(court_id) == 4:
        return court_id[:2]
    return None

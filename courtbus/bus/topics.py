"""Names of the bus's topics: flows, views, inboxes and feeds, dead letters, alerts. Imports
only the flow specs (``courtbus.flows``, which import nothing but the error tree), where each
view's name is declared once."""

from __future__ import annotations

import re

from courtbus.flows import blacklist, distribution, restriction

OUTBOX = re.compile(r"^(court|agency)\.([A-Za-z0-9_-]+)\.outbox$")
OUTBOX_PATTERN = OUTBOX.pattern
DEADLETTER_TOPIC = "bus.deadletter"
ALERTS_TOPIC = "bus.alerts"
# The flows' views (compacted, the current state by id): each flow's spec declares its own,
# and every reader takes the names from here.
BLACKLIST_VIEW = blacklist.VIEW  # the national list: an entry's state by entry id
RESTRICTION_VIEW = restriction.VIEW  # each control's state by control id
DISTRIBUTION_VIEW = distribution.VIEW  # each distribution's state by its id


def flow_topic(flow: str) -> str:
    """The bus topic of a flow (``bus.delegation.events``)."""
    return f"bus.{flow}.events"


def inbox_topic(kind: str, participant: str) -> str:
    """Where the bus writes to a participant: a court's inbox or an agency's feed."""
    return f"court.{participant}.inbox" if kind == "court" else f"agency.{participant}.feed"

"""The bus's flows: one ``FlowSpec`` per flow (``courtbus/flows/<name>.py``), registered here,
one line each. Every table the bus keeps per flow (message types, senders, topics, services,
the projector's dispatch, the feed router's views, the catalogue's changelogs) is derived from
the registry (``courtbus.flows.registry``). Imports only its own modules and the error tree.
"""

from __future__ import annotations

from courtbus.flows import blacklist, casestatus, delegation, distribution, restriction
from courtbus.flows.registry import register

register(delegation.SPEC)
register(blacklist.SPEC)
register(restriction.SPEC)
register(distribution.SPEC)
register(casestatus.SPEC)

"""The one place principals are named (Kafka ``User:<name>``, certificate ``CN=<name>``).

A court is ``court.<court id>``, an agency ``agency.<agency id>``, a bus service
``service.<name>``, the operator (creates topics, applies ACLs, registers schemas)
``operator``, each Kafka node ``node.<node id>`` (the nodes, and only they, are super users).
"""

from __future__ import annotations

from courtbus.errors import ConfigError

OPERATOR = "operator"
SERVICES = (
    "gateway", "delegation", "blacklist", "restrictions", "distribution", "feeds",
    "projector", "watchdog",
)  # fmt: skip


def court_principal(court_id: str) -> str:
    """``court.<court id>``, e.g. ``court.320583``."""
    return f"court.{court_id}"


def agency_principal(agency_id: str) -> str:
    """``agency.<agency id>``, e.g. ``agency.nia``."""
    return f"agency.{agency_id}"


def service_principal(name: str) -> str:
    """``service.<name>`` for one of :data:`SERVICES`.

    Raises:
        ConfigError: ``PRINCIPAL_UNKNOWN`` for a name not in :data:`SERVICES`.
    """
    if name not in SERVICES:
        raise ConfigError(
            f"unknown bus service {name!r}: one of {', '.join(SERVICES)}", code="PRINCIPAL_UNKNOWN"
        )
    return f"service.{name}"


def node_principal(node_id: int | str) -> str:
    """``node.<node id>``: a Kafka node's own principal (a super user)."""
    return f"node.{node_id}"


def kind(principal: str) -> str:
    """The kind a principal's certificate carries in its OU: court, agency, service, operator
    or node (the part before the first dot)."""
    return principal.split(".", 1)[0]

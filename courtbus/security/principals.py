"""The names of the bus's principals: the one place they are spelled.

Kafka sees ``User:<name>``; a client certificate carries ``CN=<name>,OU=<kind>,O=courtbus``
and ``ssl.principal.mapping.rules`` maps its CN to the name. The kinds:

* a court ``court.<court id>`` (``court.320583``), an agency ``agency.<agency id>``
  (``agency.nia``): ids from the participant directory;
* a bus service ``service.<name>``, ``name`` one of ``SERVICES``;
* the operator ``operator`` (creates topics, applies ACLs, registers schemas);
* a Kafka node ``node.<node id>``: the only super users.

Pure: no Kafka client, no directory I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from courtbus.domain.courts import validate_court_id
from courtbus.errors import ConfigError, ValidationError
from courtbus.flows.registry import LiveSequence, flow_services

# The bus services, each with its own principal: the gateway, the flow services (each
# registered flow's ``FlowSpec.service``, ``courtbus.flows``: case status's is the watchdog),
# the feed router (``feeds``) and the projector.
INFRASTRUCTURE: tuple[str, ...] = ("feeds", "projector")
SERVICES: Sequence[str] = LiveSequence(lambda: ("gateway", *flow_services(), *INFRASTRUCTURE))
OPERATOR = "operator"
USER = "User:"  # Kafka's principal type for every courtbus principal
ORGANISATION = "courtbus"  # the O= of every courtbus certificate subject

_AGENCY_ID = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
_NODE_ID = re.compile(r"^[0-9]{1,9}$")


def court_principal(court_id: str) -> str:
    """``court.<id>``, the principal of a court (``court.320583``).

    Raises:
        ConfigError: ``PRINCIPAL_INVALID`` for a malformed court id.
    """
    try:
        validate_court_id(court_id)
    except ValidationError as exc:
        raise ConfigError(exc.reason, code="PRINCIPAL_INVALID") from exc
    return f"court.{court_id}"


def agency_principal(agency_id: str) -> str:
    """``agency.<id>``, the principal of an agency (``agency.nia``).

    Raises:
        ConfigError: ``PRINCIPAL_INVALID`` for a malformed agency id.
    """
    if not _AGENCY_ID.match(agency_id):
        raise ConfigError(f"{agency_id!r} is not an agency id", code="PRINCIPAL_INVALID")
    return f"agency.{agency_id}"


def service_principal(name: str) -> str:
    """``service.<name>``, the principal of a bus service (``service.gateway``).

    Raises:
        ConfigError: ``PRINCIPAL_INVALID`` for a name not in ``SERVICES``.
    """
    if name not in SERVICES:
        raise ConfigError(
            f"{name!r} is not a bus service; one of {', '.join(SERVICES)}",
            code="PRINCIPAL_INVALID",
        )
    return f"service.{name}"


def node_principal(node_id: int | str) -> str:
    """``node.<id>``, the principal of a Kafka node (broker and controller).

    Raises:
        ConfigError: ``PRINCIPAL_INVALID`` for an id that is not a node id.
    """
    text = str(node_id)
    if not _NODE_ID.match(text):
        raise ConfigError(f"{node_id!r} is not a Kafka node id", code="PRINCIPAL_INVALID")
    return f"node.{text}"


def kafka_principal(name: str) -> str:
    """``User:<name>``, how Kafka's ACLs and ``super.users`` name a principal."""
    return f"{USER}{name}"


def kind(principal: str) -> str:
    """The kind a principal's certificate carries in its OU: ``court``, ``agency``,
    ``service``, ``node`` (the part before the first dot), or ``operator``."""
    return principal.split(".", 1)[0]


def subject_of(name: str) -> str:
    """The certificate subject of a principal: ``CN=<name>,OU=<kind>,O=courtbus``."""
    return f"CN={name},OU={kind(name)},O={ORGANISATION}"


def is_managed(name: str) -> bool:
    """Whether ``acl apply`` reconciles this principal's ACLs (a court, an agency, a bus
    service or the operator); anyone else's ACLs are reported, never removed."""
    return name == OPERATOR or name.startswith(("court.", "agency.", "service."))

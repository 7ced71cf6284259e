"""Principal names: one spelling per kind, malformed ids refused."""

from __future__ import annotations

import pytest

from courtbus.errors import ConfigError
from courtbus.security.principals import (
    OPERATOR,
    SERVICES,
    agency_principal,
    court_principal,
    is_managed,
    kafka_principal,
    node_principal,
    service_principal,
    subject_of,
)


def test_names() -> None:
    assert court_principal("320583") == "court.320583"
    assert agency_principal("nia") == "agency.nia"
    assert service_principal("gateway") == "service.gateway"
    assert node_principal(1) == "node.1"
    assert kafka_principal(OPERATOR) == "User:operator"
    assert subject_of("court.320583") == "CN=court.320583,OU=court,O=courtbus"
    assert len(SERVICES) == 8 and "feeds" in SERVICES


@pytest.mark.parametrize(
    ("make", "value"),
    [
        (court_principal, "32x"),
        (court_principal, "1"),
        (agency_principal, "NIA"),
        (service_principal, "gateway2"),
        (node_principal, "a"),
    ],
)
def test_malformed_refused(make: object, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make(value)  # type: ignore[operator]
    assert caught.value.code == "PRINCIPAL_INVALID"


def test_managed() -> None:
    assert is_managed("court.32") and is_managed("agency.nia") and is_managed("service.feeds")
    assert is_managed(OPERATOR)
    assert not is_managed("node.1") and not is_managed("admin") and not is_managed("courtx")

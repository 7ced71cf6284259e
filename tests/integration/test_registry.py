"""The real registry enforces FULL_TRANSITIVE on our subjects, and `schemas check` agrees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from courtbus.app import ops
from courtbus.config import CCOMPAT_PATH, Connection
from courtbus.errors import RegistryError, SchemaError
from courtbus.wire import compat
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet

pytestmark = pytest.mark.integration
SUBJECT = "cn.court.bus.blacklist.DebtorDelisted"


def test_subjects_are_full_transitive(conn: Connection, registered: dict[str, int]) -> None:
    with RegistryClient(conn.require_registry()) as client:
        assert client.compatibility(SUBJECT) == "FULL_TRANSITIVE"
        assert set(registered) <= set(client.subjects())


def test_registry_refuses_an_incompatible_change(
    conn: Connection, registered: dict[str, int], schemas: SchemaSet
) -> None:
    broken = schemas.message(SUBJECT).json
    broken["fields"].append({"name": "approved_by", "type": "string"})  # required, no default
    with RegistryClient(conn.require_registry()) as client, pytest.raises(RegistryError) as info:
        client.register(SUBJECT, json.dumps(broken))
    assert info.value.code == "REGISTRY_INCOMPATIBLE"


def test_compatible_evolution_is_accepted_and_checked_against_registry_versions(
    conn: Connection, registered: dict[str, int], schemas: SchemaSet
) -> None:
    subject = "cn.court.bus.casestatus.CaseResumed"
    evolved = schemas.message(subject).json
    evolved["fields"].append({"name": "remark", "type": ["null", "string"], "default": None})
    with RegistryClient(conn.require_registry()) as client:
        new_id = client.register(subject, json.dumps(evolved))
        assert new_id != registered[subject]
        assert len(client.versions(subject)) == 2
    # the repository's (older) schema is still compatible with both registry versions
    released = ops.registry_released(conn.require_registry(), [subject])
    assert compat.check_against(schemas, released) == []


def test_schemas_check_cli_against_git_and_registry(
    conn: Connection, registered: dict[str, int]
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "courtbus",
            "schemas",
            "check",
            "--registry",
            conn.require_registry(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "compatible" in proc.stdout


def test_a_registry_url_without_the_compatible_api_path_is_named(
    conn: Connection, registered: dict[str, int]
) -> None:
    """Apicurio's root answers 404 to a Confluent path: `schemas register` said HTTP 404
    RESTEASY003210 and `delegation send` SCHEMA_NOT_REGISTERED; both now name the URL."""
    url = conn.require_registry()
    base = url.removesuffix(CCOMPAT_PATH)
    with RegistryClient(base) as client, pytest.raises(RegistryError) as info:
        client.lookup(SUBJECT, "{}")
    assert info.value.code == "REGISTRY_URL_INVALID"
    assert f"a Confluent-compatible API is under {url} on Apicurio" in info.value.reason
    proc = subprocess.run(
        [sys.executable, "-m", "courtbus", "schemas", "register", "--registry", base],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"error REGISTRY_URL_INVALID: {info.value.reason}"]


def test_the_registry_answers_a_missing_subject_as_a_registry(
    conn: Connection, registered: dict[str, int], schemas: SchemaSet
) -> None:
    """A 404 of the registry's own API carries an error_code: still SCHEMA_NOT_REGISTERED."""
    missing = "cn.court.test.NeverRegistered"
    text = json.dumps(schemas.message(SUBJECT).json)
    with RegistryClient(conn.require_registry()) as client:
        client.check()
        with pytest.raises(SchemaError) as info:
            client.lookup(missing, text)
        assert info.value.code == "SCHEMA_NOT_REGISTERED"
        assert client.versions(missing) == []
        assert client.compatibility(missing) is None

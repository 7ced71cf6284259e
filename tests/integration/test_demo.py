"""`courtbus demo` and `courtbus stack` as a user runs them: a full stack of its own, then a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from courtbus.app import ops
from courtbus.config import Connection
from courtbus.stack import Stack, StackConfig
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet
from tests.ports import free_block

pytestmark = pytest.mark.integration


def _cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "courtbus", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300)  # fmt: skip
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_demo_then_restart_keeps_topics_and_schema_ids(tmp_path: Path) -> None:
    home = tmp_path / "stack"
    base = free_block(4)
    ports = ["--port-base", str(base), "--registry-port", str(base + 2)]
    try:
        demo = _cli("demo", "--home", str(home), *ports).stdout
        for flow in ("delegation", "blacklist", "restriction", "distribution", "casestatus"):
            assert f"cn.court.{flow}." in demo
        assert "one delivered message per flow" in demo
        summary = demo[demo.index("delegations in the read model") :]
        for state in ("COMPLETED", "MATERIALS_ASKED", "CANCELLED", "DELIVERED", "refused"):
            assert state in summary
        assert "START_OVERDUE" in summary and "POLICY_FREEZE_TOO_LONG" in summary
        listed = demo[demo.index("dishonest-debtor list in the read model") :]
        assert "ACTIVE" in listed and "DELISTED PERFORMED" in listed
        assert "BLACKLIST_MINOR" in demo  # the SDK refused a minor before sending
        assert "320583199303121234" not in demo and "320583********1234" in demo

        status = _cli("stack", "status", "--home", str(home)).stdout
        assert status.count(" up ") >= 2

        # a second `stack up` on a running stack changes nothing
        assert "stack up" in _cli("stack", "up", "--home", str(home), *ports).stdout
        # a different layout on the same data is refused with one clear line
        clash = _cli("stack", "up", "--home", str(home), "--nodes", "3", ok=False)
        assert clash.returncode == 1 and "STACK_CONFIG_MISMATCH" in clash.stderr

        state = Stack(StackConfig(home)).state()
        assert state is not None and state.registry_url
        conn = Connection(state.bootstrap, state.registry_url)
        schemas = SchemaSet.load()
        ids_before = ops.register_schemas(state.registry_url, schemas)

        assert "stopped broker-1, registry" in _cli("stack", "down", "--home", str(home)).stdout
        assert _cli("stack", "status", "--home", str(home), ok=False).returncode == 1

        _cli("stack", "up", "--home", str(home), *ports)
        with RegistryClient(state.registry_url) as client:
            for name, schema_id in ids_before.items():
                assert client.lookup(name, schemas.message(name).text) == schema_id
        assert ops.plan_topics(conn).actions == []
    finally:
        _cli("stack", "down", "--wipe", "--home", str(home), ok=False)
    assert not (home / "node-1").exists()

"""`courtbus demo` and `courtbus stack` as a user runs them: a full stack of its own, then a restart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from courtbus.app import ops
from courtbus.config import Connection, stack_connection
from courtbus.stack import Stack, StackConfig
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet
from tests.integration import pii
from tests.integration.helpers import header
from tests.ports import free_block

pytestmark = pytest.mark.integration


def _cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "courtbus", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=600,
    )
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_demo_then_restart_keeps_topics_and_schema_ids(tmp_path: Path) -> None:
    home = tmp_path / "stack"
    base = free_block(6)  # a secure node: client, controller, SCRAM; the registry: 2; the web
    ports = ["--port-base", str(base), "--registry-port", str(base + 3)]
    web = ["--web-port", str(base + 5), "--keep-running", "6"]
    try:
        run = _cli("demo", "--home", str(home), *ports, *web)
        demo = run.stdout
        assert f"web API on http://127.0.0.1:{base + 5}" in demo
        assert f"dashboard: http://127.0.0.1:{base + 5}/dashboard/#token=" in demo
        live = re.search(r"(\d+) more delegation requests sent while it ran, (\d+) of them", demo)
        assert live is not None and int(live[1]) >= 3 and live[1] == live[2], demo[-2000:]
        _assert_nothing_unmasked(home, run.stdout + run.stderr)
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
        # the one-per-flow distribution is against an other organisation (民诉法解释 第五百零六条)
        assert "debtor=重庆某餐饮管理合伙企业（普通合伙）" in demo
        _assert_restriction_scene(demo)
        _assert_distribution_scenes(demo)
        times = [float(t) for t in re.findall(r"scene done in ([0-9.]+)s", demo)]
        assert len(times) == 3 and max(times) < 60, times  # shortened deadlines: seconds each

        status = _cli("stack", "status", "--home", str(home)).stdout
        assert status.count(" up ") >= 2

        # a second `stack up` on a running stack changes nothing
        assert "stack up" in _cli("stack", "up", "--home", str(home), *ports).stdout
        # a different layout on the same data is refused with one clear line
        clash = _cli("stack", "up", "--home", str(home), "--nodes", "3", ok=False)
        assert clash.returncode == 1 and "STACK_CONFIG_MISMATCH" in clash.stderr

        state = Stack(StackConfig(home)).state()
        assert state is not None and state.registry_url and state.secure  # secure by default
        conn = stack_connection(state)  # the operator's certificate and registry password
        schemas = SchemaSet.load()
        ids_before = ops.register_schemas(conn, schemas)

        assert "stopped broker-1, registry" in _cli("stack", "down", "--home", str(home)).stdout
        assert _cli("stack", "status", "--home", str(home), ok=False).returncode == 1

        _cli("stack", "up", "--home", str(home), *ports)
        with RegistryClient(state.registry_url, http=conn.http_settings()) as client:
            for name, schema_id in ids_before.items():
                assert client.lookup(name, schemas.message(name).text) == schema_id
        assert ops.plan_topics(conn).actions == []
    finally:
        _cli("stack", "down", "--wipe", "--home", str(home), ok=False)
    assert not (home / "node-1").exists()


def _assert_nothing_unmasked(home: Path, output: str) -> None:
    """Issue 18, item 6: the demo runs a scenario of every flow; no unmasked ID number in its
    output, in any log of its stack and services, or in any record's headers and notices."""
    state = Stack(StackConfig(home)).state()
    assert state is not None
    conn = stack_connection(state)
    found = pii.scan_text("demo output", output)
    # the services' logs, the broker's and the registry's (not the brokers' data segments)
    logs = [*home.glob("logs/*.log"), *home.glob("node-*/*.log"), *home.glob("*.log")]
    assert len(logs) >= 10, logs
    found += pii.scan_files(home, logs)
    _assert_every_outbox_record_signed(conn)
    records, in_topics = pii.scan_cluster(conn)
    assert records > 100  # every flow's records, notices and dead letters were read
    found += in_topics
    assert found == [], pii.summary(found)


def _assert_every_outbox_record_signed(conn: Connection) -> None:
    """On the secure stack the gateway requires signatures: every court's and agency's record
    the demo sent carries its sender's (and the gateway refused none for want of one)."""
    from kafka import KafkaAdminClient

    from courtbus.wire.client import read_from_start

    admin = KafkaAdminClient(**conn.kafka_settings())
    try:
        outboxes = sorted(t for t in admin.list_topics() if t.endswith(".outbox"))
    finally:
        admin.close()
    sent = list(read_from_start(conn, outboxes, 10))
    assert len(sent) > 30
    unsigned = [
        f"{r.topic}@{r.partition}:{r.offset}"
        for r in sent
        if not any(k == "ce_dssematerial" for k, _v in r.headers or ())
    ]
    assert unsigned == []
    refused = [
        r
        for r in read_from_start(conn, ["bus.deadletter"], 10)
        if (header(r, "dlq_code") or "").startswith("SIGNATURE_")
    ]
    assert refused == []


def _assert_restriction_scene(demo: str) -> None:
    """Issue 9: bans acknowledged by their agencies, an interception, the watchdog's alert
    after the case is performed, the lifts acknowledged and the alerts stopped."""
    scene = demo[demo.index("restrictions: an exit ban (nia)") :]
    table = scene[scene.index("restrictions of (2024)苏05执") : scene.index("scene done in")]
    assert "EXIT_BAN" in table and "CONSUMPTION_BAN" in table
    assert "nia (NIA-" in table and "caac (CAAC-" in table and "rail (RAIL-" in table
    assert "nia: 罗湖口岸 PREVENTED" in table and "caac, rail" in table
    assert "320583********1234" in table and "320583199303121234" not in table
    lines = " ".join(table.split())
    assert "case concluded as performed; the watchdog alerts court 3205" in " ".join(scene.split())
    assert re.search(
        r"watchdog: [1-9]\d* alert\(s\) listing restriction:rc-demo-\w+-exit, "
        r"restriction:rc-demo-\w+-spend before the lifts",
        lines,
    )
    assert "none in the last 6s after the lift acknowledgements" in lines


def _assert_distribution_scenes(demo: str) -> None:
    """Issue 10: 参与分配 against a partnership with the plan the bus computed (costs, the
    mortgage, then ordinary claims pro rata: 388,000.00 split 3:2), and 执转破 for an
    enterprise legal person with every court told."""
    plan = demo[demo.index("plan v1 of dist-demo-") :]
    plan = plan[: plan.index("scene done in")]
    assert "(参与分配, 其他组织)" in plan and "SECURED rank 1" in plan
    for amount in ("12,000.00", "600,000.00", "232,800.00", "155,200.00"):
        assert amount in plan, amount
    assert "610102********0015" in plan and "610102198507150015" not in demo
    assert "served in 4409, 6101" in " ".join(plan.split())
    transfer = demo[demo.index("执转破 dist-demo-") :]
    transfer = transfer[: transfer.index("scene done in")]
    assert "湛江某贸易有限公司 (企业法人) transferred by 3205 to 4408" in transfer
    assert transfer.count("TRANSFERRED → 4408") == 3  # 6101, 4409 and the court of the domicile
    assert transfer.count("bankruptcy case accepted") == 3 and "it accepted" in transfer

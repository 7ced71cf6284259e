"""Local stack set-up errors that need no JVM: missing tools, busy ports, rendered configs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from courtbus.app.cli.main import app
from courtbus.errors import StackError
from courtbus.stack import Stack, StackConfig, StackState
from courtbus.stack.artifacts import ensure_kafka
from courtbus.stack.layout import check_layout, recorded_settings, stack_config
from tests.ports import free_block


def _path_without(tmp_path: Path, *keep: str) -> str:
    """A PATH holding only symlinks to the named tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in keep:
        real = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        if real:
            (bin_dir / tool).symlink_to(real)
    return str(bin_dir)


def test_missing_java_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": _path_without(tmp_path), "JAVA_HOME": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "courtbus", "stack", "up", "--home", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error STACK_TOOL_MISSING: `java` not found on PATH: "
        "install OpenJDK 17+ (Kafka; the schema registry needs 21+)"
    ]


def test_missing_mvn_with_an_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_without(tmp_path, "java"))
    with pytest.raises(StackError) as info:
        ensure_kafka(tmp_path / "cache")
    assert info.value.code == "STACK_TOOL_MISSING" and "mvn" in info.value.reason


def test_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    base = free_block(4)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base))
        holder.listen()
        cfg = StackConfig(tmp_path, port_base=base, registry_port=base + 3)
        with pytest.raises(StackError) as info:
            Stack(cfg).up()
    assert info.value.code == "STACK_PORT_BUSY"
    assert str(base) in info.value.reason
    assert not (tmp_path / "state.json").exists()


def test_only_one_or_three_nodes() -> None:
    with pytest.raises(StackError):
        StackConfig(Path("/tmp/x"), nodes=2)


def test_three_node_properties(tmp_path: Path) -> None:
    stack = Stack(StackConfig(tmp_path, nodes=3, port_base=30000))
    props = dict(line.split("=", 1) for line in stack._properties(2, None).splitlines())
    assert (
        props["controller.quorum.voters"] == "1@127.0.0.1:30001,2@127.0.0.1:30003,3@127.0.0.1:30005"
    )
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:30002"
    assert props["min.insync.replicas"] == "2" and props["default.replication.factor"] == "3"
    assert props["node.id"] == "2"


def test_secure_properties_are_tls_on_every_listener(tmp_path: Path) -> None:
    stack = Stack(StackConfig(tmp_path, secure=True, nodes=3, port_base=30000))
    props = dict(line.split("=", 1) for line in stack._properties(2, None).splitlines())
    assert props["listener.security.protocol.map"] == "CLIENT:SSL,CONTROLLER:SSL,SCRAM:SASL_SSL"
    assert props["listeners"] == (
        "CLIENT://127.0.0.1:30002,CONTROLLER://127.0.0.1:30003,SCRAM://127.0.0.1:30007"
    )
    assert props["ssl.client.auth"] == "required"
    assert props["listener.name.scram.ssl.client.auth"] == "none"
    assert props["ssl.principal.mapping.rules"] == "RULE:^CN=([^,]+),OU=[^,]+,O=courtbus$/$1/"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:node.1;User:node.2;User:node.3"
    assert "ANONYMOUS" not in stack._properties(2, None)
    assert props["ssl.keystore.location"].endswith("pki/issued/node.2/keystore.pem")
    assert stack.config.ports()[-5:-2] == [30006, 30007, 30008]  # the SCRAM ports
    assert stack.config.registry_url.startswith("https://")


def test_a_secure_stack_made_before_tls_keeps_its_scram_admin(tmp_path: Path) -> None:
    stack = Stack(StackConfig(tmp_path, secure=True))
    props = stack._properties(1, "s3cret")
    assert "CLIENT:SASL_PLAINTEXT" in props
    assert "allow.everyone.if.no.acl.found=false" in props
    assert 'password="s3cret"' in props


def test_broker_jvms_of_a_secure_stack_check_revocation(tmp_path: Path) -> None:
    from courtbus.stack.layout import broker_java

    secure = broker_java(StackConfig(tmp_path, secure=True), tmp_path, "256m")
    assert "-Dcom.sun.net.ssl.checkRevocation=true" in secure
    assert "-Dcom.sun.security.enableCRLDP=true" in secure
    assert not any("Revocation" in a for a in broker_java(StackConfig(tmp_path), tmp_path, "1m"))


def _made_with(home: Path, **settings: object) -> None:
    home.mkdir(parents=True, exist_ok=True)
    saved = {"nodes": 1, "secure": False, "cluster_id": "c", "admin_password": None, **settings}
    (home / "cluster.json").write_text(json.dumps(saved))


def test_a_bare_stack_up_reuses_the_ports_on_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "private"
    _made_with(home, port_base=29092, registry_port=28081)
    started: list[StackConfig] = []

    def up(self: Stack) -> object:
        check_layout(self.config)  # what up() checks first: STACK_CONFIG_MISMATCH before
        started.append(self.config)
        return SimpleNamespace(bootstrap=self.config.bootstrap, registry_url=None, secure=False)

    monkeypatch.setattr(Stack, "up", up)
    monkeypatch.setenv("COURTBUS_STACK_HOME", str(home))
    result = CliRunner().invoke(app, ["stack", "up"])
    assert result.exit_code == 0, result.output
    assert [(c.port_base, c.registry_port, c.nodes) for c in started] == [(29092, 28081, 1)]
    assert "127.0.0.1:29092" in result.output


def test_recorded_settings_fill_only_what_is_not_given(tmp_path: Path) -> None:
    _made_with(tmp_path, port_base=29092, registry_port=28081)
    assert stack_config(tmp_path, registry_port=28500).registry_port == 28500
    with pytest.raises(StackError) as info:
        check_layout(stack_config(tmp_path, port_base=9092))
    assert info.value.code == "STACK_CONFIG_MISMATCH" and "reuses them" in info.value.reason
    fresh = stack_config(tmp_path / "new")
    assert (fresh.port_base, fresh.registry_port, fresh.nodes) == (9092, 8081, 1)


def test_an_older_record_takes_the_registry_port_from_the_running_state(tmp_path: Path) -> None:
    _made_with(tmp_path, port_base=29092)  # cluster.json of before, without registry_port
    state = StackState(
        nodes=1,
        secure=False,
        bootstrap="127.0.0.1:29092",
        registry_url="http://127.0.0.1:28333/apis/ccompat/v7",
        cluster_id="c",
        admin_password=None,
        brokers=[],
        registry=None,
    )
    (tmp_path / "state.json").write_text(state.to_json())
    assert recorded_settings(tmp_path) == {
        "nodes": 1,
        "secure": False,
        "port_base": 29092,
        "registry_port": 28333,
    }

"""Connection settings: a bad bootstrap list or registry URL is one coded line, never a
traceback; a cluster nobody listens for is said at once, by the CLI and by the services.

The unreachable cases knock on 127.0.0.1:1, where nothing listens (a closed port answers at
once); the reachable ones on a listening socket of the test's own.
"""

from __future__ import annotations

import importlib
import logging
import re
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from courtbus.config import Connection, check_registry_url, parse_bootstrap, resolve
from courtbus.errors import ClusterError, ConfigError, CourtbusError, RegistryError, SchemaError
from courtbus.wire.registry import RegistryClient

cli_main = importlib.import_module("courtbus.app.cli.main")
CLOSED = "127.0.0.1:1"


@pytest.fixture
def listening() -> Iterator[str]:
    """host:port of a socket that accepts connections (and never answers Kafka)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture(autouse=True)
def no_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No local stack and no settings but the test's own."""
    monkeypatch.setenv("COURTBUS_STACK_HOME", str(tmp_path / "stack"))
    for name in (
        "COURTBUS_BOOTSTRAP",
        "COURTBUS_REGISTRY_URL",
        "COURTBUS_CONNECT_TIMEOUT_S",
        "COURTBUS_CONNECT_WAIT_S",
        "COURTBUS_SASL_USERNAME",
        "COURTBUS_SASL_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)


def _run_main(args: list[str]) -> int:
    saved = sys.argv
    sys.argv = ["courtbus", *args]
    try:
        cli_main.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.argv = saved
    return 0


# -- bootstrap lists ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "servers"),
    [
        ("127.0.0.1:9092", (("127.0.0.1", 9092),)),
        ("kafka-1:9092, kafka-2:9094", (("kafka-1", 9092), ("kafka-2", 9094))),
        ("[::1]:9092", (("::1", 9092),)),
    ],
)
def test_a_bootstrap_list_is_host_port_pairs(text: str, servers: tuple[Any, ...]) -> None:
    assert parse_bootstrap(text) == servers
    assert Connection(text, None).servers == servers


@pytest.mark.parametrize(
    ("text", "entry", "why"),
    [
        ("127.0.0.1:abc", "'127.0.0.1:abc'", "port 'abc' is not a number from 1 to 65535"),
        ("127.0.0.1:0", "'127.0.0.1:0'", "port 0 is not a number from 1 to 65535"),
        ("a:9092,b:70000", "'b:70000'", "is not a number from 1 to 65535"),
        ("localhost", "'localhost'", "the port is missing"),
        (":9092", "':9092'", "the host is missing"),
        ("a:9092,,b:9092", "''", "it is not host:port"),
        ("PLAINTEXT://a:9092", "'PLAINTEXT://a:9092'", "it is not host:port"),
        ("[::1:9092", "'[::1:9092'", "the IPv6 address is malformed"),
    ],
)
def test_a_bad_bootstrap_entry_is_named(text: str, entry: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        Connection(text, None)
    assert info.value.code == "BOOTSTRAP_INVALID"
    assert f"entry {entry}: " in info.value.reason and why in info.value.reason


def test_resolve_names_the_variable_that_holds_the_bad_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "127.0.0.1:abc")
    with pytest.raises(
        ConfigError, match=r"^BOOTSTRAP_INVALID: COURTBUS_BOOTSTRAP '127\.0\.0\.1:abc'"
    ):
        resolve()
    with pytest.raises(ConfigError, match=r"^BOOTSTRAP_INVALID: --bootstrap 'x:y'"):
        resolve("x:y")


def test_a_bad_bootstrap_is_one_line_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`COURTBUS_BOOTSTRAP=127.0.0.1:abc courtbus topics plan` was a 102-line traceback."""
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", "127.0.0.1:abc")
    assert _run_main(["topics", "plan"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error BOOTSTRAP_INVALID: COURTBUS_BOOTSTRAP '127.0.0.1:abc': entry '127.0.0.1:abc': "
        "port 'abc' is not a number from 1 to 65535; write host:port[,host:port...], e.g. "
        "127.0.0.1:9092"
    ]


# -- registry URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("127.0.0.1:8081/apis/ccompat/v7", "does not start with http:// or https://"),
        ("http://:8081", "the host is missing"),
        ("http://127.0.0.1:80x1", "its port is not a number"),
    ],
)
def test_a_registry_url_that_is_not_one_is_refused_before_any_request(url: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        Connection(CLOSED, url)
    assert info.value.code == "REGISTRY_URL_INVALID" and why in info.value.reason
    with pytest.raises(ConfigError, match=why):
        RegistryClient(url)


def test_resolve_names_the_registry_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", CLOSED)
    monkeypatch.setenv("COURTBUS_REGISTRY_URL", "localhost:8081")
    with pytest.raises(
        ConfigError, match=r"^REGISTRY_URL_INVALID: COURTBUS_REGISTRY_URL 'localhost:8081'"
    ):
        resolve()
    assert check_registry_url("http://r:8081/apis/ccompat/v7/") == "http://r:8081/apis/ccompat/v7"


def test_a_missing_registry_is_named_by_what_the_command_accepts() -> None:
    """`delegation send` has no --registry: its message names the variable only."""
    conn = Connection(CLOSED, None)
    with pytest.raises(ConfigError) as info:
        conn.require_registry()
    assert info.value.code == "REGISTRY_NOT_CONFIGURED"
    assert "--registry" not in info.value.reason
    assert "set COURTBUS_REGISTRY_URL (e.g. http://127.0.0.1:8081/apis/ccompat/v7)" in str(
        info.value
    )
    assert "only when COURTBUS_BOOTSTRAP is not set" in info.value.reason
    with pytest.raises(ConfigError, match="pass --registry or set COURTBUS_REGISTRY_URL"):
        conn.require_registry("--registry")


def _registry(url: str, answer: httpx.Response) -> RegistryClient:
    return RegistryClient(url, transport=httpx.MockTransport(lambda _request: answer))


# What Apicurio Registry 3 answers at its root for a Confluent path (the report).
RESTEASY_404 = httpx.Response(
    404, text="RESTEASY003210: Could not find resource for full path: http://r:8081/subjects/x"
)


def test_a_registry_url_without_the_compatible_api_says_where_it_is() -> None:
    client = _registry("http://r:8081", RESTEASY_404)
    for call in (
        lambda: client.register("cn.court.X", "{}"),
        lambda: client.lookup("cn.court.X", "{}"),
        lambda: client.versions("cn.court.X"),
        client.check,
    ):
        with pytest.raises(RegistryError) as info:
            call()
        assert info.value.code == "REGISTRY_URL_INVALID"
        assert info.value.reason.startswith("registry URL http://r:8081 answers 404 at /subjects")
        assert "is under http://r:8081/apis/ccompat/v7 on Apicurio Registry" in info.value.reason


def test_a_registry_404_of_its_own_still_means_not_registered() -> None:
    """A Confluent-compatible API's 404 carries an error_code: the subject is just missing."""
    missing = httpx.Response(404, json={"error_code": 40401, "message": "Subject not found"})
    client = _registry("http://r:8081/apis/ccompat/v7", missing)
    with pytest.raises(SchemaError) as info:
        client.lookup("cn.court.X", "{}")
    assert info.value.code == "SCHEMA_NOT_REGISTERED"
    assert client.versions("cn.court.X") == []
    assert client.compatibility("cn.court.X") is None
    bare = _registry("http://r:8081/apis/ccompat/v7", RESTEASY_404)
    with pytest.raises(RegistryError, match="is it the registry's address"):
        bare.check()


# -- an unreachable cluster --------------------------------------------------------------------


def test_a_closed_port_is_unreachable_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(ClusterError) as info:
        Connection(CLOSED, None).probe(5)
    assert time.monotonic() - started < 2
    assert (
        str(info.value)
        == "CLUSTER_UNREACHABLE: cannot reach Kafka at 127.0.0.1:1: connection refused"
    )


def test_one_listening_server_of_the_list_is_enough(listening: str) -> None:
    Connection(f"{CLOSED},{listening}", None).probe(5)
    with pytest.raises(ClusterError) as info:
        Connection(f"{CLOSED},name.invalid:9092", None).probe(5)
    assert "127.0.0.1:1 connection refused; name.invalid:9092 unknown host" in info.value.reason


def test_the_cli_says_a_cluster_is_unreachable_in_under_a_second_not_30(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURTBUS_BOOTSTRAP", CLOSED)
    started = time.monotonic()
    assert _run_main(["dlq", "list"]) == 1
    assert time.monotonic() - started < 2
    assert capsys.readouterr().err.splitlines() == [
        "error CLUSTER_UNREACHABLE: cannot reach Kafka at 127.0.0.1:1: connection refused"
    ]


def test_a_bad_connect_timeout_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from courtbus.app.cli.common import connect_timeout_s

    for text in ("abc", "0", "-1", "inf"):
        monkeypatch.setenv("COURTBUS_CONNECT_TIMEOUT_S", text)
        with pytest.raises(ConfigError) as info:
            connect_timeout_s()
        assert info.value.code == "CONNECT_TIMEOUT_INVALID"


def test_changelogs_of_an_unreachable_cluster_say_so_not_changelog_unavailable(
    tmp_path: Path,
) -> None:
    """`serve gateway` with the broker down said CHANGELOG_UNAVAILABLE after 31 s."""
    from courtbus.runtime.changelogs import Changelogs
    from courtbus.runtime.config import WorkerConfig
    from courtbus.runtime.flow import Flow, Incoming, Inputs, json_store
    from courtbus.runtime.state import State

    class Stateful(Flow):
        name = "stateful"
        source = "bus:stateful"
        inputs = Inputs(topics=("bus.stateful.events",))
        stores = (json_store("seen"),)

        def on_event(self, record: Incoming, state: State) -> list[Any]:
            return []

    conn = Connection(CLOSED, None, connect_timeout_s=0.5)
    changelogs = Changelogs(Stateful(envelope=None), WorkerConfig(conn, tmp_path))  # type: ignore[arg-type]  # unused
    with pytest.raises(ClusterError) as info:
        changelogs.prepare()
    assert info.value.code == "CLUSTER_UNREACHABLE"
    assert info.value.reason.startswith("cannot reach Kafka at 127.0.0.1:1: KafkaTimeoutError")


# -- the services ------------------------------------------------------------------------------


def test_a_service_waits_for_the_cluster_saying_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from services.main import wait_for_cluster

    caplog.set_level(logging.INFO, logger="courtbus.service")
    started = time.monotonic()
    with pytest.raises(ClusterError) as info:
        wait_for_cluster(Connection(CLOSED, None), 0.5, every_s=0.05)
    assert 0.5 <= time.monotonic() - started < 3
    assert info.value.code == "CLUSTER_UNREACHABLE"
    assert re.search(r"connection refused \(waited [0-9.]+ s\)$", info.value.reason)
    assert [r.getMessage() for r in caplog.records] == [
        "CLUSTER_UNREACHABLE: cannot reach Kafka at 127.0.0.1:1: connection refused; "
        "waiting up to 0.5 s for it (COURTBUS_CONNECT_WAIT_S)"
    ]


def test_a_service_without_waiting_fails_at_once_and_with_a_cluster_goes_on(
    listening: str, caplog: pytest.LogCaptureFixture
) -> None:
    from services.main import wait_for_cluster

    with pytest.raises(ClusterError, match=r"connection refused$"):
        wait_for_cluster(Connection(CLOSED, None), 0)
    wait_for_cluster(Connection(listening, None), 0)
    assert caplog.records == []


def test_a_bad_connect_wait_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.settings import ServiceSettings

    monkeypatch.delenv("COURTBUS_CONNECT_WAIT_S", raising=False)
    assert ServiceSettings.load().connect_wait_s == 60
    monkeypatch.setenv("COURTBUS_CONNECT_WAIT_S", "inf")
    assert ServiceSettings.load().connect_wait_s == float("inf")
    for text in ("soon", "-5", "nan"):
        monkeypatch.setenv("COURTBUS_CONNECT_WAIT_S", text)
        with pytest.raises(ConfigError) as info:
            ServiceSettings.load()
        assert info.value.code == "CONNECT_WAIT_INVALID"


def test_a_service_stops_at_a_registry_url_that_is_not_one(
    monkeypatch: pytest.MonkeyPatch, listening: str
) -> None:
    from services import main as service_main

    monkeypatch.setenv("COURTBUS_BOOTSTRAP", listening)
    monkeypatch.setenv("COURTBUS_REGISTRY_URL", "http://r:8081")
    monkeypatch.setattr(
        service_main, "RegistryClient", lambda url, **_: _registry(url, RESTEASY_404)
    )
    with pytest.raises(CourtbusError) as info:
        service_main.start_checks()
    assert info.value.code == "REGISTRY_URL_INVALID"
    down = httpx.Response(503, json={"error_code": 50001, "message": "down"})
    monkeypatch.setattr(service_main, "RegistryClient", lambda url, **_: _registry(url, down))
    conn, registry = service_main.start_checks()  # a registry that is down: only a warning
    assert conn.bootstrap == listening
    registry.close()

"""docker-compose.yml runs the whole bus and the Dockerfile the installed wheel (no Docker engine
is needed: the files are read and checked against the CLI); `courtbus serve` becomes the
service, so a container's SIGTERM reaches the worker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from courtbus.app.cli import bus
from courtbus.app.cli.main import app
from courtbus.resources import source_checkout

CHECKOUT = source_checkout()
pytestmark = pytest.mark.skipif(CHECKOUT is None, reason="needs the repository's files")
INFRA = ("kafka1", "kafka2", "kafka3", "registry", "postgres")
OBSERVE = ("prometheus", "grafana")  # the metrics' scraper and dashboard


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert CHECKOUT is not None
    loaded: dict[str, Any] = yaml.safe_load(
        (CHECKOUT / "docker-compose.yml").read_text(encoding="utf-8")
    )
    return loaded


def _cli_command(words: list[str]) -> object | None:
    """The CLI's command for ``words`` (typer's groups have ``commands``), or None."""
    command: object | None = typer.main.get_command(app)
    for word in words:
        command = getattr(command, "commands", {}).get(word)
    return command


def test_every_service_of_the_cli_runs_after_init(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in bus.SERVICE_NAMES:
        service = services[name]
        assert service["command"] == ["serve", name]
        assert service["depends_on"]["init"] == {"condition": "service_completed_successfully"}
        assert service["restart"] == "unless-stopped"
        assert service["image"] == "courtbus:local" and service["build"] == "."
    assert set(services) == {*INFRA, *OBSERVE, "init", *bus.SERVICE_NAMES, *bus.WEB_SERVICES}
    for name in bus.WEB_SERVICES:
        assert services[name]["command"] == ["serve", name]
        assert services[name]["volumes"] == [f"{name}-state:/var/lib/courtbus"]


def test_init_applies_topics_and_registers_schemas_with_real_commands(
    compose: dict[str, Any],
) -> None:
    init = compose["services"]["init"]
    assert init["entrypoint"] == ["/bin/sh", "-c"] and init["restart"] == "no"
    steps = [s.split() for s in init["command"][0].split("&&")]
    assert steps == [["courtbus", "topics", "apply"], ["courtbus", "schemas", "register"]]
    for step in steps:
        assert _cli_command(step[1:]) is not None, step
    assert _cli_command(["serve"]) is not None


def test_dependencies_wait_for_health_and_data_survives_down(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
    for name in INFRA:
        assert services[name]["healthcheck"]["test"], name
    assert services["projector"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    declared = set(compose["volumes"])
    used = {
        mount.split(":", 1)[0]
        for service in services.values()
        for mount in service.get("volumes", [])
        if not mount.startswith("./")  # the repository's config files, bind-mounted
    }
    assert used == declared
    for name in ("kafka1", "kafka2", "kafka3"):
        log_dirs = services[name]["environment"]["KAFKA_LOG_DIRS"]
        assert services[name]["volumes"] == [f"{name}-data:{log_dirs}"]
    for name in bus.SERVICE_NAMES:
        assert services[name]["volumes"] == [f"{name}-state:/var/lib/courtbus"]


def test_the_image_installs_the_wheel_and_runs_unprivileged() -> None:
    assert CHECKOUT is not None
    lines = [
        line.strip()
        for line in (CHECKOUT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(re.match(r"RUN pip wheel .*--no-deps", line) for line in lines)
    assert any(re.match(r"RUN pip install .*\.whl", line) for line in lines)
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _target = line.split()[1:]
            for source in sources:
                assert (CHECKOUT / source).exists(), line
    assert 'ENTRYPOINT ["courtbus"]' in lines


def test_serve_becomes_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []

    def execv(path: str, argv: list[str]) -> None:
        calls.append((path, argv))
        raise SystemExit(0)

    monkeypatch.setattr(bus.os, "execv", execv)
    result = CliRunner().invoke(app, ["serve", "watchdog"])
    assert result.exit_code == 0
    [(path, argv)] = calls
    assert argv[1:] == ["-m", "services.watchdog"] and Path(path).name.startswith("python")
    assert CliRunner().invoke(app, ["serve", "nope"]).exit_code == 2


def test_a_stale_service_name_is_refused_with_the_valid_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`restrictions` was the restriction service's name: a unit or compose file that still
    says so gets the unknown-service error, naming the new one and every valid name."""
    monkeypatch.setattr(bus.os, "execv", lambda *_: pytest.fail("nothing may run"))
    result = CliRunner().invoke(app, ["serve", "restrictions"], env={"COLUMNS": "250"})
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "unknown service 'restrictions' (did you mean 'restriction'?): one of " in said
    assert said.endswith(", ".join((*bus.SERVICE_NAMES, *bus.WEB_SERVICES)))


def test_prometheus_scrapes_every_service_and_grafana_shows_the_metrics(
    compose: dict[str, Any],
) -> None:
    """Issue 19, item 3: the services serve /metrics on the port Prometheus scrapes, and the
    provisioned dashboard asks only for metrics a worker has."""
    import json

    from courtbus.runtime.metrics import WorkerMetrics

    assert CHECKOUT is not None
    env = compose["x-courtbus"]["environment"]
    port = int(env["COURTBUS_METRICS_PORT"])
    assert env["COURTBUS_METRICS_ADDR"] == "0.0.0.0"  # reachable from the prometheus container
    prom = yaml.safe_load((CHECKOUT / "deploy/prometheus.yml").read_text(encoding="utf-8"))
    (dns,) = prom["scrape_configs"][0]["dns_sd_configs"]
    assert dns["port"] == port and set(dns["names"]) == set(bus.SERVICE_NAMES)
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    graf = compose["services"]["grafana"]["volumes"]
    assert any(v.startswith("./deploy/grafana/provisioning:") for v in graf)
    provider = yaml.safe_load(
        (CHECKOUT / "deploy/grafana/provisioning/dashboards/courtbus.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in graf
    dash = json.loads((CHECKOUT / "deploy/grafana/dashboards/courtbus.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"courtbus_[a-z_]+", e)}
    worker = WorkerMetrics("probe")
    from courtbus.bus.records import KeptRecord, Output

    dead = Output("bus.deadletter", None, b"", [("dlq_code", b"X")])
    alert = Output("bus.alerts", None, b"", [("ce_type", b"cn.court.bus.service_alert")])
    read = KeptRecord("bus.x.events", 0, 0, None, b"", [], timestamp_ms=1)
    # a sample of each labelled metric exists once used
    worker.committed(1, [dead, alert], 0.1, [[read]], at_ms=2)
    worker.tasks.labels("probe").set(1)
    worker.lag.labels("probe").set(0)
    worker.open_timers.labels("probe").set(0)
    worker.restoring(1)
    worker.restore_done(1)
    worker.aborted()
    known = {s.name for m in worker.registry.collect() for s in m.samples}
    assert used and used <= known, used - known

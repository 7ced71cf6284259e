"""`courtbus credentials issue`: the folder a participant's IT gets (no broker needed for the
certificate kind; the SCRAM kind is tested on the secure stack in test_tls.py)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from courtbus.access import credentials
from courtbus.config import Connection
from courtbus.errors import ConfigError
from courtbus.security import pki


def _state(home: Path) -> SimpleNamespace:
    pki.authority(home, create=True)
    return SimpleNamespace(
        pki=str(pki.pki_dir(home)),
        bootstrap="127.0.0.1:21000",
        scram_bootstrap="127.0.0.1:21002",
        registry_url="https://127.0.0.1:21100/apis/ccompat/v7",
    )


@pytest.mark.parametrize(
    ("name", "principal"),
    [
        ("court.320583", "court.320583"),
        ("320583", "court.320583"),
        ("nia", "agency.nia"),
        ("service.gateway", "service.gateway"),
        ("operator", "operator"),
    ],
)
def test_a_participant_is_named_by_principal_or_by_its_directory_id(
    name: str, principal: str
) -> None:
    assert credentials.participant(name) == principal


@pytest.mark.parametrize("name", ["court.999999", "agency.nsa", "service.mailer", "node.1", ""])
def test_an_unknown_participant_is_refused_clearly(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        credentials.participant(name)
    assert info.value.code == "PARTICIPANT_UNKNOWN"
    assert "not a court or agency of the directory" in info.value.reason


def test_the_folder_holds_what_a_court_needs(tmp_path: Path) -> None:
    state = _state(tmp_path / "stack")
    out = tmp_path / "out"
    bundle = credentials.issue_bundle(tmp_path / "stack", state, "320583", out)
    assert bundle.principal == "court.320583" and not bundle.scram
    for name in (
        "cert.pem",
        "key.pem",
        "key.password",
        "ca.crt",
        "keystore.p12",
        "registry.password",
        "courtbus.env",
        "client.properties",
        "README.txt",
    ):
        assert (out / name).is_file(), name
    for secret in ("key.pem", "key.password", "keystore.p12", "registry.password"):
        assert stat.S_IMODE((out / secret).stat().st_mode) == 0o600, secret
    cert = pki.Credentials(
        "court.320583", out, out / "cert.pem", out / "key.pem", out / "ca.crt", out / "key.password"
    ).certificate()
    assert cert.subject.rfc4514_string() == "CN=court.320583,OU=court,O=courtbus"

    env = dict(
        line.split("=", 1)
        for line in (out / "courtbus.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env["COURTBUS_BOOTSTRAP"] == "127.0.0.1:21000"
    assert env["COURTBUS_SSL_KEY_PASSWORD_FILE"] == str((out / "key.password").resolve())
    assert env["COURTBUS_REGISTRY_USERNAME"] == "court.320583"
    password = (out / "key.password").read_text()
    assert password not in (out / "courtbus.env").read_text()  # paths, never the secret
    conn = Connection(
        env["COURTBUS_BOOTSTRAP"],
        None,
        ssl_ca=env["COURTBUS_SSL_CA"],
        ssl_cert=env["COURTBUS_SSL_CERT"],
        ssl_key=env["COURTBUS_SSL_KEY"],
        ssl_key_password=password,
    )
    assert conn.ssl_context() is not None  # the key opens with the password in the folder

    props = (out / "client.properties").read_text()
    assert "security.protocol=SSL" in props and "ssl.keystore.type=PKCS12" in props
    assert f"ssl.keystore.password=${{dir:{out.resolve()}:key.password}}" in props
    assert password not in props
    readme = (out / "README.txt").read_text()
    assert "kafka-console-consumer.sh" in readme and "--consumer.config" in readme
    assert f". {out.resolve()}/courtbus.env" in readme


def test_issuing_on_a_stack_without_a_ca_says_to_start_a_secure_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        credentials.issue_bundle(tmp_path, SimpleNamespace(pki=None), "court.320583", tmp_path)
    assert info.value.code == "PKI_MISSING"


def test_the_cli_refuses_an_unknown_participant_in_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(
        '{"nodes": 1, "secure": true, "bootstrap": "127.0.0.1:1", '
        '"registry_url": null, "cluster_id": "c", "admin_password": null, '
        '"brokers": [], "registry": null}'
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "courtbus",
            "credentials",
            "issue",
            "court.999999",
            "--home",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "PARTICIPANT_UNKNOWN" in result.stderr and "court.999999" in result.stderr
    assert "Traceback" not in result.stderr

"""What a court's, an agency's or a service's IT needs to connect, in one folder.

``issue_bundle`` writes, for one participant of the directory (or a bus service):

- ``cert.pem``, ``key.pem`` (encrypted), ``key.password``, ``ca.crt``: PEM files for Python
  (kafka-python, librdkafka) and any OpenSSL-based client;
- ``keystore.p12``: the same key and certificate for Java clients (Java 17 cannot read an
  encrypted PEM key), protected by ``key.password``;
- ``courtbus.env``: the ``COURTBUS_*`` variables the SDKs, services and CLI read
  (``courtbus.config.resolve``); ``client.properties`` for Kafka's Java tools and clients
  (passwords read from the files by Kafka's ``DirectoryConfigProvider``, never written in it);
- ``README.txt``: the commands to test them.

With ``scram`` the participant gets a SCRAM-SHA-512 user on the SASL_SSL listener instead of a
certificate (``scram.password``; the CA certificate to check the brokers).
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from courtbus.catalogue.directory import Directory, load_directory
from courtbus.config import Connection
from courtbus.errors import ClusterError, ConfigError
from courtbus.security import pki
from courtbus.security.principals import (
    OPERATOR,
    SERVICES,
    agency_principal,
    court_principal,
    service_principal,
)

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192


def known_principals(directory: Directory | None = None) -> list[str]:
    """Every principal credentials may be issued to: the directory's courts and agencies, the
    bus services and the operator (never a node: nodes are super users)."""
    found = directory or load_directory()
    return [
        *(court_principal(c.id) for c in found.courts),
        *(agency_principal(a.id) for a in found.agencies),
        *(service_principal(name) for name in SERVICES),
        OPERATOR,
    ]


def participant(name: str, directory: Directory | None = None) -> str:
    """The principal ``name`` designates: a principal (``court.320583``, ``agency.nia``,
    ``service.gateway``, ``operator``) or a bare court or agency id (``320583``, ``nia``).

    Raises:
        ConfigError: ``PARTICIPANT_UNKNOWN`` if the directory has no such participant.
    """
    found = directory or load_directory()
    known = known_principals(found)
    for candidate in (name, f"court.{name}", f"agency.{name}"):  # a bare id: either kind
        if candidate in known:
            return candidate
    raise ConfigError(
        f"unknown participant {name!r}: not a court or agency of the directory, nor a bus "
        f"service ({', '.join(SERVICES)}) nor the operator; write e.g. court.320583 or "
        "agency.nia (`courtbus directory show` lists them)",
        code="PARTICIPANT_UNKNOWN",
    )


@dataclass(frozen=True, slots=True)
class Bundle:
    """The folder written for one participant and how it connects."""

    principal: str
    folder: Path
    scram: bool
    bootstrap: str
    files: tuple[str, ...]


def issue_bundle(
    home: Path,
    state: object,
    name: str,
    out: Path,
    *,
    scram: bool = False,
    days: int = pki.CERT_DAYS,
    directory: Directory | None = None,
) -> Bundle:
    """Issue ``name``'s credentials from the stack in ``home`` (running, recorded in ``state``,
    a ``StackState``) and write the folder ``out`` (see the module docstring).

    Raises:
        ConfigError: ``PARTICIPANT_UNKNOWN``, ``PKI_MISSING`` (not a secure stack).
        ClusterError: ``SCRAM_FAILED`` if the brokers refuse the SCRAM user.
    """
    principal = participant(name, directory)
    state_pki = getattr(state, "pki", None)
    if state_pki is None:
        raise ConfigError(
            "the stack has no certificate authority: credentials are issued by a secure "
            "stack (`courtbus stack up`, without --insecure)",
            code="PKI_MISSING",
        )
    ca = pki.Authority(Path(state_pki))
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    registry_url: str | None = getattr(state, "registry_url", None)
    registry_password = ca.registry_password(principal)
    pki.write_private(out / "registry.password", registry_password.encode())
    shutil.copyfile(ca.ca_cert, out / "ca.crt")
    if scram:
        bootstrap = str(getattr(state, "scram_bootstrap", ""))
        password = secrets.token_urlsafe(24)
        _create_scram_user(state, principal, password)
        pki.write_private(out / "scram.password", password.encode())
        files = ["ca.crt", "scram.password"]
    else:
        bootstrap = str(getattr(state, "bootstrap", ""))
        creds = ca.issue(principal, days=days)
        for part in ("cert.pem", "key.pem", "key.password"):
            shutil.copyfile(creds.folder / part, out / part)
            if part != "cert.pem":
                (out / part).chmod(0o600)
        pki.Credentials(
            principal, out, out / "cert.pem", out / "key.pem", out / "ca.crt", out / "key.password"
        ).pkcs12()
        files = ["cert.pem", "key.pem", "key.password", "ca.crt", "keystore.p12"]
    (out / "courtbus.env").write_text(_env_file(out, principal, bootstrap, registry_url, scram))
    (out / "client.properties").write_text(_client_properties(out, principal, bootstrap, scram))
    (out / "README.txt").write_text(_readme(out, principal, bootstrap, scram))
    files += ["registry.password", "courtbus.env", "client.properties", "README.txt"]
    return Bundle(principal, out, scram, bootstrap, tuple(files))


def _create_scram_user(state: object, principal: str, password: str) -> None:
    """Create or reset ``principal``'s SCRAM-SHA-512 credential, as the operator."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.admin._scram import (  # re-exported by .admin, not marked public
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    conn: Connection = state.connection(OPERATOR)  # type: ignore[attr-defined]
    admin = AdminClient(conn.librdkafka_settings())
    upsert = UserScramCredentialUpsertion(
        principal,
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
        password.encode(),
    )
    try:
        for future in admin.alter_user_scram_credentials([upsert], request_timeout=30).values():
            future.result(timeout=30)
    except KafkaException as exc:
        raise ClusterError(
            f"creating the SCRAM user {principal} failed: {exc}", code="SCRAM_FAILED"
        ) from exc


def _env_file(
    out: Path, principal: str, bootstrap: str, registry_url: str | None, scram: bool
) -> str:
    folder = out.resolve()
    lines = [
        f"# courtbus settings for {principal}: `set -a; . {folder}/courtbus.env; set +a`",
        f"COURTBUS_BOOTSTRAP={bootstrap}",
        f"COURTBUS_SSL_CA={folder}/ca.crt",
    ]
    if scram:
        lines += [
            f"COURTBUS_SASL_USERNAME={principal}",
            f"COURTBUS_SASL_PASSWORD_FILE={folder}/scram.password",
        ]
    else:
        lines += [
            f"COURTBUS_SSL_CERT={folder}/cert.pem",
            f"COURTBUS_SSL_KEY={folder}/key.pem",
            f"COURTBUS_SSL_KEY_PASSWORD_FILE={folder}/key.password",
        ]
    if registry_url:
        lines += [
            f"COURTBUS_REGISTRY_URL={registry_url}",
            f"COURTBUS_REGISTRY_USERNAME={principal}",
            f"COURTBUS_REGISTRY_PASSWORD_FILE={folder}/registry.password",
        ]
    return "\n".join(lines) + "\n"


def _client_properties(out: Path, principal: str, bootstrap: str, scram: bool) -> str:
    folder = out.resolve()

    def secret(name: str) -> str:  # DirectoryConfigProvider: the whole content of the file
        return f"${{dir:{folder}:{name}}}"

    lines = [
        f"# Kafka client settings for {principal} (Java clients, kafka-console-*.sh)",
        f"bootstrap.servers={bootstrap}",
        "config.providers=dir",
        "config.providers.dir.class="
        "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={folder}/ca.crt",
    ]
    if scram:
        lines += [
            "security.protocol=SASL_SSL",
            f"sasl.mechanism={SCRAM_MECHANISM}",
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
            f'required username="{principal}" password="{secret("scram.password")}";',
        ]
    else:
        lines += [
            "security.protocol=SSL",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={folder}/keystore.p12",
            f"ssl.keystore.password={secret('key.password')}",
            f"ssl.key.password={secret('key.password')}",
        ]
    return "\n".join(lines) + "\n"


def _readme(out: Path, principal: str, bootstrap: str, scram: bool) -> str:
    folder = out.resolve()
    how = (
        "a SCRAM-SHA-512 user over TLS (SASL_SSL)" if scram else "a client certificate (mutual TLS)"
    )
    keep = "scram.password" if scram else "key.pem, key.password and keystore.p12"
    kind, _, ident = principal.partition(".")
    example = {
        "court": f"courtbus inbox {ident}             # the court's inbox (what its ACLs allow)",
        "agency": f"courtbus feed {ident}               # the agency's feeds (its ACLs)",
    }.get(kind, "courtbus topics plan                # any command: it connects as " + principal)
    return f"""courtbus credentials for {principal}
{"=" * (24 + len(principal))}

{principal} connects with {how} to {bootstrap}.
Keep {keep} and registry.password secret (mode 0600). ca.crt is the bus CA: trust
only it for the brokers and the registry.

What the files are
  ca.crt              the bus CA certificate (checks the brokers' and the registry's certificates)
{
        "  scram.password      the SCRAM password"
        if scram
        else "  cert.pem key.pem    the certificate (CN="
        + principal
        + ") and its encrypted key (PEM)"
        + chr(10)
        + "  key.password        the key's password"
        + chr(10)
        + "  keystore.p12        key and certificate for Java clients (password: key.password)"
    }
  registry.password   the schema registry password of user {principal} (HTTP basic)
  courtbus.env        COURTBUS_* settings for the courtbus SDKs, services and CLI
  client.properties   settings for Kafka's Java clients and tools

Test with Python (courtbus installed)
  set -a; . {folder}/courtbus.env; set +a
  {example}

Test with Kafka's tools (Kafka 4.1 in $KAFKA)
  $KAFKA/bin/kafka-console-consumer.sh --bootstrap-server {bootstrap} \\
      --consumer.config {folder}/client.properties \\
      --topic <a topic {principal} may read> --group {principal}.test --from-beginning
  # without the scripts: java -cp "$KAFKA/libs/*" org.apache.kafka.tools.consumer.ConsoleConsumer ...

Test with OpenSSL (the TLS handshake alone)
  openssl s_client -connect {bootstrap.split(",")[0]} -CAfile {folder}/ca.crt \\
      {
        ""
        if scram
        else f"-cert {folder}/cert.pem -key {folder}/key.pem -pass file:{folder}/key.password"
    } </dev/null

What {principal} may read and write is set by the bus's ACLs (the operator applies them),
not by these files: a connection that works but is refused a topic lacks an ACL.
"""

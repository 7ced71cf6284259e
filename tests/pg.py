"""A throwaway PostgreSQL cluster for integration tests, from the Debian server binaries.

``pg_server`` (session) runs ``initdb`` + ``pg_ctl`` in a temporary folder on a free loopback
port, fsync off, its unix socket in that folder; as root it runs them as the ``postgres`` user
(PostgreSQL refuses to run as root). ``pg_url`` gives each test its own new database. Import
both into a test module: ``from tests.pg import pg_server, pg_url``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.ports import free_block

PG_ROOT = Path("/usr/lib/postgresql")
PREFERRED_MAJOR = "15"
SYSTEM_USER = "postgres"
START_ATTEMPTS = 3


def _pg_bin() -> Path | None:
    """The bin folder of the installed server: version 15 if there, else the newest."""
    found = {p.parent.parent.name: p.parent for p in PG_ROOT.glob("*/bin/initdb")}
    if PREFERRED_MAJOR in found:
        return found[PREFERRED_MAJOR]
    majors = sorted(found, key=lambda v: int(v) if v.isdigit() else 0, reverse=True)
    return found[majors[0]] if majors else None


def _install_postgres() -> Path:
    """Find the server binaries, installing Debian's ``postgresql`` if root may; else skip."""
    found = _pg_bin()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"no PostgreSQL server under {PG_ROOT}/*/bin and cannot apt-get install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 and cmd[1] == "install":
            pytest.skip(f"apt-get install postgresql failed: {done.stderr.strip()[-500:]}")
    found = _pg_bin()
    if found is None:
        pytest.skip(f"apt-get installed postgresql but no initdb under {PG_ROOT}/*/bin")
    return found


def _runner() -> list[str]:
    """The prefix that runs a server command as a non-root user (empty when not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        made = subprocess.run(
            ["useradd", "--system", SYSTEM_USER], capture_output=True, text=True, check=False
        )
        if made.returncode != 0:
            pytest.skip(
                f"running as root, PostgreSQL refuses root, and no {SYSTEM_USER!r} user could "
                f"be created: {made.stderr.strip()}"
            )
    if shutil.which("runuser") is None:
        pytest.skip("running as root and `runuser` is missing: cannot drop to the postgres user")
    return ["runuser", "-u", SYSTEM_USER, "--"]


@dataclass(frozen=True)
class PgServer:
    """A running temporary cluster; ``postgres`` is its trusted superuser. ``control``, when
    given, is how to restart it (the fault campaign's database faults)."""

    host: str
    port: int
    user: str = "postgres"
    control: PgControl | None = None

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database of this cluster."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def create_database(self) -> str:
        """A new, empty database with a unique name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def restart(self) -> None:
        """Stop the server at once (``-m immediate``: sessions cut, no checkpoint, as a crash)
        and start it again on the same port.

        Raises:
            RuntimeError: no ``control``, or the server did not come back.
        """
        if self.control is None:
            raise RuntimeError("this PgServer was not started by pg_cluster: cannot restart it")
        self.control.stop()
        self.control.start(self.port)

    def allow_connections(self, database: str, allowed: bool) -> None:
        """Open or shut ``database`` to new sessions; shutting it also ends those it has (an
        operator revoking the read model's connections for a while)."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                    sql.Identifier(database), sql.Literal(allowed)
                )
            )
            if not allowed:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (database,),
                )

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any session still connected to it."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


@dataclass(frozen=True)
class PgControl:
    """How to start and stop one temporary cluster (its binaries, the user it runs as, its
    folder)."""

    bindir: Path
    runas: list[str]
    home: Path

    def start(self, port: int | None = None) -> int:
        """Start the cluster (on ``port``, else a free one) and return its port."""
        return _start(self.bindir, self.runas, self.home, port)

    def stop(self) -> None:
        """Stop it at once (``-m immediate``)."""
        _run(
            [
                *self.runas,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.home / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            self.home,
        )


def _start(bindir: Path, runas: list[str], home: Path, fixed: int | None = None) -> int:
    """Start the cluster in ``home`` on ``fixed`` or a free port and return the port.

    Raises:
        RuntimeError: the server did not start (with the end of its log).
    """
    data, log = home / "data", home / "server.log"
    for _ in range(START_ATTEMPTS):
        port = fixed or free_block(1)
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={home} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        started = _run(
            [
                *runas,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            home,
        )
        if started.returncode == 0:
            return port
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
        if "already in use" not in tail or fixed:  # lost a port race: try another; else give up
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{tail}")
    raise RuntimeError(f"PostgreSQL found no free port in {START_ATTEMPTS} attempts")


@contextmanager
def pg_cluster() -> Iterator[PgServer]:
    """A PostgreSQL cluster in a temporary folder, stopped and deleted on leaving.

    Outside pytest too (the benches use it); a missing server or user skips inside pytest
    (``pytest.skip`` raises ``Skipped``, a ``BaseException``, elsewhere).
    """
    bindir = _install_postgres()
    runas = _runner()
    # Not under pytest's tmp root: that is 0700 root-only, and the server runs as postgres.
    home = Path(tempfile.mkdtemp(prefix="courtbus-pg-"))
    try:
        if runas:
            shutil.chown(home, SYSTEM_USER, SYSTEM_USER)
        made = _run(
            [
                *runas,
                str(bindir / "initdb"),
                "-D",
                str(home / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            home,
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stdout}\n{made.stderr}")
        control = PgControl(bindir, runas, home)
        port = control.start()
        try:
            yield PgServer("127.0.0.1", port, control=control)
        finally:
            control.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL cluster for the whole session, stopped and deleted at the end."""
    with pg_cluster() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a fresh database, dropped after the test."""
    name = pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)

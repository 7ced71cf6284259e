"""What every service reads from the environment, besides the bus connection.

``ServiceSettings`` extends the runtime's settings (``courtbus.runtime.config.RuntimeSettings``)
with what ``services.main.run_service`` does at start. Each service extends it with its own
variables in ``services/<name>/settings.py``. The class is loaded once at start and its values
go to the flow's constructor.

Not here: the connection (``COURTBUS_BOOTSTRAP``, ``COURTBUS_REGISTRY_URL``, the TLS and SCRAM
files: ``courtbus.config.resolve``, which the CLI and the SDKs share), and the files the
catalogue loaders read (``COURTBUS_DIRECTORY``, ``COURTBUS_POLICIES``, ``COURTBUS_DEADLINES``,
``COURTBUS_HOLIDAYS``, ``COURTBUS_KEYS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from courtbus.runtime.config import RuntimeSettings
from courtbus.settings import setting

# How long a service waits at start for a cluster that is not up yet (a supervisor or compose
# file may start it first), asking once a second.
CONNECT_WAIT_S = 60.0


class ServiceSettings(RuntimeSettings):
    """Every service's settings: the runtime's (see ``RuntimeSettings``) and
    ``COURTBUS_CONNECT_WAIT_S`` (seconds to wait for the cluster at start, 0 = no waiting,
    ``inf`` = forever; default 60; ``CONNECT_WAIT_INVALID``), ``COURTBUS_METRICS_PORT``
    (Prometheus metrics on this port, 0: a free one; unset: none; ``METRICS_PORT_INVALID``),
    ``COURTBUS_METRICS_ADDR`` (their address, default 127.0.0.1), ``COURTBUS_SIGNING_KEY``
    (the service's private key file: what it writes is signed; unset: unsigned) and
    ``COURTBUS_EXIT_WITH_PARENT`` (anything but empty or ``0``: stop when the process that
    started this one is gone).
    """

    invalid_code: ClassVar[str] = "CONFIG_INVALID"

    connect_wait_s: float = setting(CONNECT_WAIT_S, ge=0, code="CONNECT_WAIT_INVALID")
    metrics_port: int | None = setting(None, ge=0, le=65535, code="METRICS_PORT_INVALID")
    metrics_addr: str = "127.0.0.1"
    signing_key: Path | None = None
    exit_with_parent: str = ""

    @property
    def exits_with_parent(self) -> bool:
        """Whether ``COURTBUS_EXIT_WITH_PARENT`` asks to stop with the parent."""
        return self.exit_with_parent.strip() not in ("", "0")

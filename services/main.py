"""Shared entry point of the services: configuration from the environment, signals, logging."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from datetime import datetime

from courtbus.catalogue.holidays import install_from_env, start_report
from courtbus.config import resolve
from courtbus.domain.calendar import CHINA
from courtbus.errors import CourtbusError
from courtbus.logs import configure_logging
from courtbus.runtime.config import WorkerConfig
from courtbus.runtime.flow import Flow
from courtbus.runtime.worker import Worker
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet


def run_service(make: Callable[[Envelope], Flow]) -> None:
    """Run one worker of a flow until SIGTERM/SIGINT.

    Environment: ``COURTBUS_BOOTSTRAP``, ``COURTBUS_REGISTRY_URL`` (or the local stack),
    ``COURTBUS_HOLIDAYS`` (the operator's holiday schedules; logged at start, with a warning
    when the coming months have no holiday data), and
    the runtime's settings (``COURTBUS_STATE_DIR``, ``COURTBUS_INSTANCE``,
    ``COURTBUS_TICK_SECONDS``, ...: see ``WorkerConfig.from_env``).
    """
    configure_logging(logging.INFO)
    log = logging.getLogger("courtbus.service")
    try:
        conn = resolve()
        registry = RegistryClient(conn.require_registry())
        holidays = install_from_env()  # before the flow counts any deadline
    except CourtbusError as exc:
        log.error("%s", exc)
        sys.exit(2)
    log.log(*start_report(holidays, datetime.now(CHINA).date()))
    flow = make(Envelope(AvroCodec(SchemaSet.load(), registry)))
    worker = Worker(flow, WorkerConfig.from_env(conn))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    try:
        worker.run()
    except CourtbusError as exc:
        log.error("%s", exc)
        sys.exit(2)
    finally:
        registry.close()

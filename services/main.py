"""Shared entry point of the services: configuration from the environment, signals, logging."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

from courtbus.config import resolve
from courtbus.logs import configure_logging
from courtbus.wire.codec import AvroCodec
from courtbus.wire.envelope import Envelope
from courtbus.wire.registry import RegistryClient
from courtbus.wire.schemas import SchemaSet
from services.runtime import Processor, Runner, RunnerConfig


def run_service(make: Callable[[Envelope], Processor]) -> None:
    """Run one processor until SIGTERM/SIGINT.

    Environment: ``COURTBUS_BOOTSTRAP``, ``COURTBUS_REGISTRY_URL`` (or the local stack),
    ``COURTBUS_TICK_SECONDS`` (timer period; default 5).
    """
    configure_logging(logging.INFO)
    conn = resolve()
    registry = RegistryClient(conn.require_registry())
    processor = make(Envelope(AvroCodec(SchemaSet.load(), registry)))
    config = RunnerConfig(
        conn,
        tick_s=float(os.environ.get("COURTBUS_TICK_SECONDS", "5")),
    )
    runner = Runner(processor, config)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stop)
        await runner.run()

    try:
        asyncio.run(main())
    finally:
        registry.close()

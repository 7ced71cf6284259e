"""``python -m services.gateway``: run the gateway until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from courtbus.config import resolve
from courtbus.logs import configure_logging
from services.gateway.worker import GatewayConfig, GatewayWorker


async def _main() -> None:
    config = GatewayConfig(resolve(), instance=os.environ.get("COURTBUS_GATEWAY_INSTANCE", "0"))
    worker = GatewayWorker(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    await worker.run()


def main() -> None:
    """Entry point."""
    configure_logging(logging.INFO)
    asyncio.run(_main())


if __name__ == "__main__":
    main()

"""Logging set-up: every record's message has resident ID numbers masked before it is written."""

from __future__ import annotations

import logging
import os

from courtbus.domain.masking import mask_ids_in_text

# The registry client's HTTP library, whose INFO line per request would drown the services' log.
HTTP_LOGGERS = ("httpx", "httpcore")


class IdMaskingFilter(logging.Filter):
    """Rewrites each record's message so no 18-character resident ID appears in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message (and drop args, already merged into it)."""
        message = record.getMessage()
        masked = mask_ids_in_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


def kafka_log_level(default: int = logging.WARNING) -> int:
    """kafka-python's log level: ``$COURTBUS_KAFKA_LOG`` (a level name) or ``default``."""
    name = os.environ.get("COURTBUS_KAFKA_LOG", "").strip().upper()
    level = logging.getLevelName(name) if name else default
    return level if isinstance(level, int) else default


def configure_logging(level: int = logging.INFO, *, kafka_level: int = logging.WARNING) -> None:
    """Log to stderr with ID masking on every handler of the root logger.

    kafka-python's connection chatter stays out below ``kafka_level`` unless
    ``COURTBUS_KAFKA_LOG`` names another level (e.g. ``DEBUG``). The services keep WARNING;
    the command line passes CRITICAL and reports an unreachable cluster as one line itself.
    httpx logs every request at INFO (one line per schema fetched from the registry): only
    its warnings are kept.
    """
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(kafka_log_level(kafka_level))
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, IdMaskingFilter) for f in handler.filters):
            handler.addFilter(IdMaskingFilter())

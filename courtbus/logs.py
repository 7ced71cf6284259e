"""Logging set-up: every record's message has resident ID numbers masked before it is written."""

from __future__ import annotations

import logging
import os

from courtbus.domain.identity import mask_ids_in_text


class IdMaskingFilter(logging.Filter):
    """Rewrites each record's message so no 18-character resident ID appears in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message (and drop args, already merged into it)."""
        message = record.getMessage()
        masked = mask_ids_in_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with ID masking on every handler of the root logger."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python's connection chatter stays out unless asked for (COURTBUS_KAFKA_LOG=DEBUG)
    kafka_level = os.environ.get("COURTBUS_KAFKA_LOG", "WARNING").upper()
    logging.getLogger("kafka").setLevel(getattr(logging, kafka_level, logging.WARNING))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, IdMaskingFilter) for f in handler.filters):
            handler.addFilter(IdMaskingFilter())

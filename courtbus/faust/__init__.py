"""Faust for subscribers (the ``courtbus[faust]`` extra): a codec for the bus's wire format and
the CloudEvents headers of a Faust event.

Imports faust; nothing else in courtbus imports this package, and the bus's own services stay
on ``courtbus.runtime``.
"""

from courtbus.faust.codec import (
    CODEC_NAME,
    CourtbusCodec,
    WireValues,
    ce_headers,
    ce_id,
    event_headers,
    install,
    json_safe,
)

__all__ = [
    "CODEC_NAME",
    "CourtbusCodec",
    "WireValues",
    "ce_headers",
    "ce_id",
    "event_headers",
    "install",
    "json_safe",
]

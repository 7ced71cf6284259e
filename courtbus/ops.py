"""Moved to ``courtbus.app.ops`` (kept for a moment while tests move over)."""

from courtbus.app.ops import *  # noqa: F403

"""Moved to ``courtbus.app.samples`` (kept for a moment while tests move over)."""

from courtbus.app.samples import *  # noqa: F403

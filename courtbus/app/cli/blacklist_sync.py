"""Commands of `courtbus blacklist` (registered on blacklist_app)."""

from __future__ import annotations

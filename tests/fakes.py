"""In-memory stand-ins for pure unit tests only (integration tests use the real registry)."""

from courtbus.wire.memory import MemoryRegistry

__all__ = ["MemoryRegistry"]

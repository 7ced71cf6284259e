"""courtbus: a typed, audited, replayable message bus for cross-court enforcement on Kafka."""

__version__ = "0.1.0"

"""The local Kafka + schema registry stack, run from Maven Central jars without Docker.

Development and test infrastructure only: production runs a real cluster and registry.
"""

from courtbus.stack.runner import Stack, StackConfig, StackState

__all__ = ["Stack", "StackConfig", "StackState"]

"""The flow runtime: partitioned state, several workers per service, exactly once.

``flow`` says what a flow is, ``state`` what it reads and changes, ``engine`` how a record
or a tick goes through it, ``worker`` runs it on Kafka, ``harness`` runs it without Kafka.
"""

from courtbus.runtime.flow import Flow, Incoming, Inputs, StoreSpec, json_store
from courtbus.runtime.state import State, Table, Timers

__all__ = ["Flow", "Incoming", "Inputs", "State", "StoreSpec", "Table", "Timers", "json_store"]

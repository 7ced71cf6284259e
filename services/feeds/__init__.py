"""The feed router: the bus's views → each agency's feed (only the fields it may see, only the
kinds it is granted) and each court group's share of the list.

Runs on the flow runtime, so each batch's outputs and input offsets commit in one Kafka
transaction: a restart neither loses nor repeats a copy.
"""

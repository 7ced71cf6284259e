"""Synthetic data for load, restore and scale tests: pure generators (``blacklist``) and a
Kafka writer (``kafka``, the only module here that imports a Kafka client)."""

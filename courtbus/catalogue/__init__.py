"""Participant directory, topic catalogue and the cluster admin that applies them.

``directory`` and ``topics`` are pure (YAML in, frozen values out); only ``admin`` talks to Kafka.
"""

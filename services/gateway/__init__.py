"""The gateway service: every participant outbox → validated → its flow's bus topic.

Subscribes by pattern, so new outboxes are picked up without a restart. Runs on the flow
runtime (``courtbus.runtime``): each batch is one Kafka transaction (forwards, dead letters,
notices, dedup changelog and offsets), so a crash never forwards a record twice or loses one.
"""

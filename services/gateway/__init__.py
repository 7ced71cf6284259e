"""The gateway service: every participant outbox → validated → its flow's bus topic.

Runs on aiokafka directly, not Faust: Faust's pattern topics never subscribe
(faust-streaming issue #62), and the gateway must pick up new outboxes without a restart.
Each batch is one Kafka transaction (forwards, dead letters, notices, dedup marks and the
consumer offsets), so a crash never forwards a record twice or loses one.
"""

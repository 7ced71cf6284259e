"""The projector: delegation events, dead letters and alerts → the SQL read model.

Idempotent on ``ce_id`` (events, alerts) and on the refused record's position (dead letters),
so replaying a topic or restarting after SIGKILL never duplicates a row. Rebuild the read model
at any time by pointing a fresh database at the topics with a new consumer group.
"""

"""The delegation service: the 事项委托 state machine on ``bus.delegation.events``.

Delivers requests to the executing court's inbox and receipts to the requesting court's,
refuses illegal steps (dead letter + notice), reserves out-of-region deductions against annual
caps, and sends deadline warnings and overdue notices from timers. Runs on the flow runtime:
state is partitioned like ``bus.delegation.events`` and its changelogs are written in the same
transaction as the outputs, so a restart, even after SIGKILL, resumes exactly where the last
committed batch ended; several workers share the partitions.
"""

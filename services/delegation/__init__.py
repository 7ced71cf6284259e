"""The delegation service: the 事项委托 state machine on ``bus.delegation.events``.

Delivers requests to the executing court's inbox and receipts to the requesting court's,
refuses illegal steps (dead letter + notice), reserves out-of-region deductions against annual
caps, and sends deadline warnings and overdue notices from a timer. Its state is a compacted
changelog (``bus.delegation.state``) written in the same transaction as its outputs, so a
restart, even after SIGKILL, resumes exactly where the last committed batch ended.
"""

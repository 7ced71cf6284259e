"""The case-status flow's service (its ``FlowSpec``, ``courtbus/flows/casestatus.py``, names it):
case status and the "not lifted" watchdog (see ``flow``)."""

"""The case-status flow and the "not lifted" watchdog (see ``flow``)."""

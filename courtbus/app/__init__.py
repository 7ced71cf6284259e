"""The application around the library: the ``courtbus`` command, the demo, operator helpers.

Nothing in ``courtbus`` outside this package imports it.
"""

"""``python -m courtbus``: the same as the ``courtbus`` command."""

from courtbus.app.cli import main

main()

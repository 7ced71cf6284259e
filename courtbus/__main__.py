"""``python -m courtbus``: the same as the ``courtbus`` command."""

from courtbus.cli import main

main()

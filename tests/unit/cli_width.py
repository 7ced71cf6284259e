"""A wide console for CLI tests that read tables: the CLI's rich console may have fixed its
width when it was created (``COLUMNS`` set at import, as under pytest-xdist), so passing
``COLUMNS`` to ``CliRunner`` is not enough."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from courtbus.app.cli.common import out


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """The CLI's console 250 columns wide for the test, then as it was."""
    before = out._width
    out.width = 250
    yield
    out._width = before

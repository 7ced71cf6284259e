"""The formatter formats everything (issue 23): no ``fmt: skip`` / ``fmt: off`` markers come
back into the sources, so ``ruff format --check`` speaks for every line."""

from __future__ import annotations

import re
from pathlib import Path

import courtbus

ROOT = Path(courtbus.__file__).parent.parent
PACKAGES = ("courtbus", "services", "tests", "bench", "examples")
MARKER = re.compile(r"#\s*fmt:\s*(skip|off)\b")


def test_no_formatter_markers_in_the_sources() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MARKER.search(line) and path.name != "test_formatting.py"
    ]
    assert not found, "formatter markers (let ruff format these lines): " + ", ".join(found)

"""Reading the repository's YAML rule files (directory, catalogue, policies, deadlines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from courtbus.errors import ConfigError


def read_yaml(path: Path) -> Any:
    """The parsed YAML of ``path``.

    Raises:
        ConfigError: ``CONFIG_UNREADABLE`` naming the file and what went wrong.
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", code="CONFIG_UNREADABLE") from exc

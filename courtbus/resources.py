"""Where the bus's own data is: schemas, topic catalogue, directory, policies, user folders.

Imports nothing from courtbus. The data ships inside the package
(``courtbus/data/``) and is found through ``importlib.resources``, so a source checkout, an
editable install and an installed wheel read the same files; the environment variables named
below point a deployment at its own copies. The data must be on the file system (pip always
unpacks a wheel), because services and the CLI pass these paths on to subprocesses.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import platformdirs

# Beside the package in a source checkout (an editable install or tests run from the
# repository), site-packages in an installed wheel.
PACKAGE_PARENT = Path(__file__).resolve().parents[1]
SCHEMA_FOLDER = "schemas/avro"


def data_dir() -> Path:
    """The package's data folder (``courtbus/data``)."""
    return Path(str(files("courtbus") / "data"))


def source_checkout() -> Path | None:
    """The repository folder when courtbus runs from a source checkout, else None.

    A checkout is recognised by the ``pyproject.toml`` beside the package; an installed wheel
    has none (site-packages holds no project file).
    """
    return PACKAGE_PARENT if (PACKAGE_PARENT / "pyproject.toml").is_file() else None


def _configured(variable: str, relative: str) -> Path:
    return Path(os.environ.get(variable) or data_dir() / relative)


def directory_path() -> Path:
    """``$COURTBUS_DIRECTORY`` or the shipped participant directory (``topics/directory.yaml``)."""
    return _configured("COURTBUS_DIRECTORY", "topics/directory.yaml")


def catalogue_path() -> Path:
    """The shipped topic catalogue (``topics/catalogue.yaml``; the CLI's ``--catalogue``
    names another)."""
    return data_dir() / "topics" / "catalogue.yaml"


def policies_path() -> Path:
    """``$COURTBUS_POLICIES`` or the shipped regional rules (``policies/regional.yaml``)."""
    return _configured("COURTBUS_POLICIES", "policies/regional.yaml")


def policy_examples_path() -> Path:
    """The shipped rules plus marked examples (``policies/regional.examples.yaml``), never law."""
    return data_dir() / "policies" / "regional.examples.yaml"


def holiday_example_path() -> Path:
    """The marked example of an operator's holiday file (``policies/holidays.example.yaml``),
    never loaded by default."""
    return data_dir() / "policies" / "holidays.example.yaml"


def deadlines_path() -> Path:
    """``$COURTBUS_DEADLINES`` or the shipped deadline rules (``policies/deadlines.yaml``)."""
    return _configured("COURTBUS_DEADLINES", "policies/deadlines.yaml")


def deadline_examples_path() -> Path:
    """Per-matter deadlines nobody has found a source for (``policies/deadlines.examples.yaml``):
    examples only, never law."""
    return data_dir() / "policies" / "deadlines.examples.yaml"


def schema_dir() -> Path:
    """The message schemas, one ``.avsc`` per named type (``schemas/avro/``)."""
    return data_dir() / SCHEMA_FOLDER


def schema_history_path() -> Path:
    """Every released version of each message schema, for ``schemas check`` outside a git
    checkout (``schemas/released.json``, written by ``courtbus schemas history --write``)."""
    return data_dir() / "schemas" / "released.json"


def default_home() -> Path:
    """Where the local stack, the workers' state and the SQLite read model live by default.

    ``.stack/`` in a source checkout (beside the code, as ``make demo`` expects); for an
    installed package the user's data folder, ``$XDG_DATA_HOME/courtbus`` or
    ``~/.local/share/courtbus`` on Linux (``platformdirs.user_data_path``), never
    site-packages.
    """
    checkout = source_checkout()
    if checkout is not None:
        return checkout / ".stack"
    return platformdirs.user_data_path("courtbus", appauthor=False)

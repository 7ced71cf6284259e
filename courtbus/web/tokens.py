"""Per-participant API tokens for the REST API: a file of principals and their tokens' hashes.

The file (``$COURTBUS_WEB_TOKENS``, default ``<stack home>/web/tokens.yaml``) holds no secret:
only the SHA-256 of each token, beside the principal it stands for (``court.320583``,
``agency.nia``). ``courtbus web token <principal>`` makes a token, prints it once and adds its
hash. A token goes in ``Authorization: Bearer <token>``; never put one in the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from courtbus.errors import ConfigError
from courtbus.resources import default_home

TOKENS_ENV = "COURTBUS_WEB_TOKENS"


def tokens_path() -> Path:
    """``$COURTBUS_WEB_TOKENS``, else ``<stack home>/web/tokens.yaml``."""
    if path := os.environ.get(TOKENS_ENV):
        return Path(path)
    return Path(os.environ.get("COURTBUS_STACK_HOME") or default_home()) / "web" / "tokens.yaml"


def digest(token: str) -> str:
    """The hex SHA-256 the file keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenStore:
    """Which principal each token hash stands for."""

    principals: dict[str, str]  # sha256 hex → principal

    @classmethod
    def load(cls, path: Path | None = None) -> TokenStore:
        """The tokens file (none yet: no token is valid).

        Raises:
            ConfigError: ``WEB_TOKENS_INVALID`` if the file is not a list of principals and
                hashes.
        """
        path = path or tokens_path()
        if not path.exists():
            return cls({})
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = raw.get("tokens", []) if isinstance(raw, dict) else None
        found: dict[str, str] = {}
        for entry in entries if isinstance(entries, list) else [None]:
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("principal"), str)
                and isinstance(entry.get("sha256"), str)
                and len(entry["sha256"]) == 64
            ):
                raise ConfigError(
                    f"{path}: each token needs a principal and the sha256 of the token",
                    code="WEB_TOKENS_INVALID",
                )
            found[entry["sha256"].lower()] = entry["principal"]
        return cls(found)

    def principal(self, token: str) -> str | None:
        """The principal ``token`` stands for, or None."""
        want = digest(token)
        for known, principal in self.principals.items():
            if hmac.compare_digest(known, want):
                return principal
        return None


def issue(principal: str, path: Path | None = None) -> str:
    """A new token for ``principal``, its hash added to the tokens file (mode 0600); the token
    (shown once: it is not kept)."""
    path = path or tokens_path()
    raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    entries = list((raw or {}).get("tokens", []))
    token = secrets.token_urlsafe(32)
    entries.append({"principal": principal, "sha256": digest(token)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"tokens": entries}, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return token

"""How the demo acts as each court and agency: its own connection and its own signing key.

On a plaintext stack everyone shares the one connection and nothing is signed. On a secure
stack each participant connects with its own certificate (issued by the stack's CA on first
use, ``StackState.login``) and signs what it sends with an Ed25519 key of its own, made for
the run: the public keys go to ``<stack home>/keys/public.yaml`` (``$COURTBUS_KEYS``, which the
demo sets for itself and the services it starts), where the gateway checks every signature;
the private keys stay in the demo's memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from courtbus.catalogue.directory import Directory
from courtbus.config import Connection
from courtbus.sdk import AgencyClient, CourtClient
from courtbus.security import keys
from courtbus.security.principals import agency_principal, court_principal
from courtbus.security.signing import Signer, generate


@dataclass
class Participants:
    """Each participant's connection (``login``; None: ``default`` for all) and signer."""

    default: Connection
    login: Callable[[str], Connection] | None = None
    signers: dict[str, Signer] = field(default_factory=dict)

    @classmethod
    def secure(
        cls,
        default: Connection,
        login: Callable[[str], Connection],
        directory: Directory,
        home: Path,
    ) -> Participants:
        """A signing key for every court and agency of ``directory``, listed in ``home``'s
        public keys file (replacing the file: the demo's keys are the run's own)."""
        signers = {
            p: generate(p)
            for p in [
                *(court_principal(c.id) for c in directory.courts),
                *(agency_principal(a.id) for a in directory.agencies),
            ]
        }
        since = datetime.now(UTC) - timedelta(minutes=5)  # clocks a little apart
        path = home / "keys" / "public.yaml"
        keys.write_keys(
            path, [keys.public_of(s, since, keys.DEFAULT_LIFETIME) for s in signers.values()]
        )
        os.environ[keys.KEYS_ENV] = str(path)  # this process's SDK clients and its services
        return cls(default, login, signers)

    def conn(self, principal: str) -> Connection:
        """``principal``'s connection."""
        return self.login(principal) if self.login is not None else self.default

    def signer(self, principal: str) -> Signer | None:
        """``principal``'s signing key, if it has one."""
        return self.signers.get(principal)

    def court(self, court_id: str) -> CourtClient:
        """A court's SDK client, on its connection and with its key."""
        principal = court_principal(court_id)
        return CourtClient(court_id, self.conn(principal), signing_key=self.signer(principal))

    def agency(self, agency_id: str) -> AgencyClient:
        """An agency's SDK client, on its connection and with its key."""
        principal = agency_principal(agency_id)
        return AgencyClient(agency_id, self.conn(principal), signing_key=self.signer(principal))

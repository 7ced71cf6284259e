"""The demo's web face: the REST API and dashboard served beside the services, and a scenario
that keeps messages flowing for a while so the dashboard has something to show.

The app runs in the demo's own process (uvicorn in a thread): each court it sends for uses that
court's own connection and signing key (``Participants``), as the court's system would.
"""

from __future__ import annotations

import itertools
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from courtbus.app.participants import Participants
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.config import Connection
from courtbus.errors import StackError
from courtbus.sdk import CourtClient
from courtbus.store.queries import ReadModelQueries
from courtbus.web import tokens as web_tokens
from courtbus.web.app import create_app

DEFAULT_WEB_PORT = 8000
# (requesting court, executing court) pairs across provinces for the running scenario.
PAIRS = (
    ("320583", "6101"),
    ("4408", "50"),
    ("3174", "6104"),
    ("3205", "6205"),
    ("50", "1408"),
    ("6101", "4409"),
    ("1408", "320583"),
    ("4409", "3174"),
)
# A search, or a six-month freeze of a deposit (a freeze must state its period).
MATTERS: tuple[dict[str, Any], ...] = (
    {"matter": "SEARCH"},
    {"matter": "FREEZE", "asset_kind": "DEPOSIT", "amount": "50000.00", "freeze_period_days": 180},
)
_DEBTORS = (
    {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID},
    {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE},
)


@dataclass(frozen=True)
class WebFront:
    """Where the demo's web app listens, and the coordination centre's token for it."""

    url: str
    token: str

    @property
    def dashboard(self) -> str:
        """The dashboard's address, the SPC centre's token in its fragment (never sent)."""
        return f"{self.url}/dashboard/#token={self.token}"


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there on 127.0.0.1, else a port the system picks."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise StackError("no free port for the web app", code="STACK_PORT_CLASH")


@contextmanager
def web_front(
    conn: Connection,
    home: Path,
    store_url: str,
    who: Participants | None,
    port: int = DEFAULT_WEB_PORT,
) -> Iterator[WebFront]:
    """The API and dashboard on ``127.0.0.1:port`` (another port if that one is taken) while the
    block runs; a token for ``coordinator.spc`` is added to ``home/web/tokens.yaml``.

    Raises:
        StackError: ``WEB_START_FAILED`` if it did not answer within 30 s.
    """
    path = home / "web" / "tokens.yaml"
    token = web_tokens.issue("coordinator.spc", path)
    who = who or Participants(conn)
    app = create_app(
        conn,
        web_tokens.TokenStore.load(path),
        court_client=who.court,
        agency_client=who.agency,
        store_url=store_url,
        state_dir=home / "state",
    )
    bound = free_port(port)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=bound, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="demo-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise StackError(f"the web app did not start on port {bound}", code="WEB_START_FAILED")
        time.sleep(0.05)
    try:
        yield WebFront(f"http://127.0.0.1:{bound}", token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def keep_flowing(
    out: Console,
    conn: Connection,
    who: Participants | None,
    seconds: float,
    tag: str,
    store_url: str,
) -> tuple[int, int]:
    """Send delegations between courts of several provinces for ``seconds`` (about one a
    second; each executing court accepts some and completes some, others stay open to go
    overdue), so the dashboard changes while it is watched. Ctrl-C ends it early. Then wait
    (up to 60 s) for the read model to hold every one: (sent, in the read model)."""
    who = who or Participants(conn)
    clients = {c: who.court(c) for pair in PAIRS for c in pair}
    rng = random.Random(tag)
    sent, open_ = 0, []
    deadline = time.monotonic() + seconds
    try:
        with out.status("keeping messages flowing…") as status:
            for n in itertools.count(1):
                if time.monotonic() >= deadline:
                    break
                req, exe = PAIRS[n % len(PAIRS)]
                did = f"dlg-live-{tag}-{n}"
                _request(clients[req], did, exe, n, rng)
                sent += 1
                open_.append((exe, did))
                if len(open_) > 3 and rng.random() < 0.6:  # an older one is taken up
                    court, older = open_.pop(0)
                    _answer(clients[court], older, rng)
                left = max(0.0, deadline - time.monotonic())
                status.update(
                    f"keeping messages flowing: {sent} requests sent, {left:.0f}s left "
                    "(Ctrl-C to stop)"
                )
                time.sleep(1.0)
    except KeyboardInterrupt:
        out.print("  stopped early (Ctrl-C)")
    finally:
        for client in clients.values():
            client.close()
    return sent, _stored(store_url, {f"dlg-live-{tag}-{n}" for n in range(1, sent + 1)})


def _stored(store_url: str, ids: set[str], timeout_s: float = 60) -> int:
    """How many of ``ids`` the read model holds, once it holds all or ``timeout_s`` passed."""
    model = ReadModelQueries(store_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            found = sum(1 for r in model.delegations() if r.delegation_id in ids)
            if found == len(ids) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)
    finally:
        model.close()


def _request(client: CourtClient, did: str, exe: str, n: int, rng: random.Random) -> None:
    client.delegation.request_delegation(
        delegation_id=did,
        case_number=f"(2024){client.sender.court.designation}执{900 + n}号",
        executing_court=exe,
        debtor=rng.choice(_DEBTORS),
        **rng.choice(MATTERS),
    )


def _answer(client: CourtClient, did: str, rng: random.Random) -> None:
    """Accept ``did``, and complete it half the time (sent before its delivery, the bus
    refuses the step: a dead letter and a notice, as the dashboard then shows)."""
    client.delegation.accept(did)
    if rng.random() < 0.5:
        client.delegation.complete(did, "执行完毕")

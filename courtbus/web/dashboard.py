"""The coordination centres' live dashboard (协调中心看板, issue 19): a page at ``/dashboard/``
and its data at ``GET /v1/coordination/summary``, mounted on the API's app.

The page is static files shipped in the package (``courtbus/web/static/``: HTML, CSS and a
hand-written SVG chart script; no CDN, no build step, so it works on a court network with no
internet). It asks for a coordinator's API token (or takes it from the URL fragment,
``/dashboard/#token=…``), keeps it in ``sessionStorage`` and polls the summary every 2 s with
``Authorization: Bearer``. The summary (``courtbus.web.summary``) is the coordinator's region
only, as the coordinator routes scope it, with the running services' lag and p99 latency
(``courtbus.web.service_metrics``). Answers: ``401 AUTH_REQUIRED``, ``403 NOT_A_COORDINATOR``,
``503 STORE_NOT_CONFIGURED`` or the store's code.
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from courtbus.catalogue.directory import Directory
from courtbus.errors import CourtbusError
from courtbus.store.queries import ReadModelQueries
from courtbus.store.region import Region as Scope
from courtbus.store.summary import SummaryQueries
from courtbus.web.service_metrics import scrape_services
from courtbus.web.summary import build_summary, region_for

STATIC_DIR = Path(__file__).with_name("static")
SUMMARY_ROUTE = "/v1/coordination/summary"
CACHE_S = 1.0  # one summary per region at most this often, however many pages poll


class _Cache:
    """The latest answer per key, reused while younger than ``ttl_s``."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._held: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            held = self._held.get(key)
        if held is not None and time.monotonic() - held[0] < self.ttl_s:
            return held[1]
        value = make()
        with self._lock:
            self._held[key] = (time.monotonic(), value)
        return value


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def mount_dashboard(
    app: FastAPI,
    *,
    queries: ReadModelQueries | None,
    directory: Directory,
    region_scope: Callable[[str, Directory], Scope | None],
    principal: Callable[..., str],
    state_dir: Path | None = None,
    cache_s: float = CACHE_S,
) -> None:
    """Add the dashboard to ``app``: the page under ``/dashboard/`` and the summary route.

    ``queries``: the read model (None: the summary answers 503); ``region_scope(principal,
    directory)``: which courts a coordinator sees (``courtbus.web.coordination.region_scope``);
    ``principal``: the app's dependency that turns the bearer token into a principal (it
    answers 401 itself); ``state_dir``: the services' state folder, where their metrics
    targets are listed (default: ``$COURTBUS_STATE_DIR`` or the stack's, read per scrape).
    """
    summaries = SummaryQueries(queries.database) if queries is not None else None
    regions, services = _Cache(cache_s), _Cache(max(cache_s, 2.0))
    Principal = Annotated[str, Depends(principal)]

    @app.get(SUMMARY_ROUTE, tags=["coordination"])
    def coordination_summary(who: Principal) -> Any:
        """The coordinator's region at a glance (the dashboard's data): open delegations by
        state and age, the overdue ones, escalations, the province × province matrix;
        restrictions awaiting agencies' acknowledgement, interceptions, watchdog alerts;
        active listings by province and over time; distributions in their objection window
        and plans pending; dead letters by code over time; each service's lag and p99."""
        scope = region_scope(who, directory)
        if scope is None:
            return _refusal(403, "NOT_A_COORDINATOR", f"{who} is not a coordination centre")
        if summaries is None:
            return _refusal(503, "STORE_NOT_CONFIGURED", "no read model (COURTBUS_STORE_URL)")
        region = region_for(who, scope)
        try:
            return regions.get(
                who,
                lambda: build_summary(
                    summaries,
                    region,
                    directory,
                    services=services.get("all", lambda: scrape_services(state_dir)),
                ),
            )
        except CourtbusError as exc:
            return _refusal(503, exc.code, exc.reason)

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_redirect() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    app.mount("/dashboard", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")

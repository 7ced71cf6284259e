"""The coordination centres' dashboard in a real browser (issue 19, item 2): headless Chromium
from Debian's packages, driven by Selenium through Debian's chromedriver, opens
``/dashboard/`` of ``courtbus serve web`` (a process, on a free port) while courts send
delegations, listings and a broken record through the real broker, gateway, delegation and
blacklist services and the projector writes the read model; it checks that the numbers shown
are the read model's, that they change as more messages flow, that the charts are drawn, and
saves a screenshot (path printed; ``COURTBUS_DASHBOARD_SCREENSHOT=docs/dashboard.png``
writes the README's too).

No browser is ever downloaded: the test fails (it does not skip) when ``chromium`` or
``chromedriver`` is missing; ``.ci/run`` installs them (``apt-get install chromium
chromium-driver``).
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from courtbus.app.demo_distribution import run_participation_scene
from courtbus.app.samples import FIRM_CODE, PERSON_ID
from courtbus.config import Connection
from courtbus.domain.delegation import END_STATES
from courtbus.sdk import CourtClient
from courtbus.store.queries import ReadModelQueries
from courtbus.web import tokens as web_tokens
from courtbus.wire import values as v
from tests.integration.conftest import StartServices
from tests.integration.helpers import ServiceProcess, Services, wait_until
from tests.integration.own_stack import own_conn, own_registered  # noqa: F401 - own stack
from tests.ports import free_block

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("COURTBUS_TEST_ARTIFACTS") or REPO / "test-artifacts")
# start within 6 s of delivery: a delivered request nobody accepts is overdue during the test
DEADLINES = "default: {start: 6s, report: 30s, warn_before: 2s}\n"
PERSON = {"kind": "PERSON", "name": "张三", "id_number": PERSON_ID}
FIRM = {"kind": "ORGANISATION", "name": "湛江某贸易有限公司", "id_number": FIRM_CODE}
ART6: dict[str, Any] = {
    "performance": "全部未履行",
    "title_issuer": "广东省湛江市中级人民法院",
    "title_number": "(2023)粤08民初12号",
}
SERVICES = ("projector", "gateway", "delegation", "blacklist", "restriction", "distribution")
COURTS = ("320583", "6101", "4408", "50", "3174", "6104", "3205")


def _browser_binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail(
            "the dashboard's browser test needs Debian's chromium and chromedriver "
            "(apt-get install -y chromium chromium-driver; .ci/run installs them): "
            f"chromium={chromium}, chromedriver={driver}"
        )
    return chromium, driver


@pytest.fixture(scope="module")
def services(start_services: StartServices, tmp_path_factory: pytest.TempPathFactory) -> Services:
    home = tmp_path_factory.mktemp("dashboard")
    (home / "deadlines.yaml").write_text(DEADLINES)
    env = {
        "COURTBUS_DEADLINES": str(home / "deadlines.yaml"),
        "COURTBUS_TICK_SECONDS": "0.5",
        "COURTBUS_METRICS_PORT": "0",
    }
    return start_services(home, env=env, which=SERVICES)


@pytest.fixture(scope="module")
def courts(conn: Connection, services: Services) -> Iterator[dict[str, CourtClient]]:
    clients = {c: CourtClient(c, conn) for c in COURTS}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def web(conn: Connection, services: Services) -> Iterator[tuple[str, str]]:
    """``courtbus serve web`` (``python -m services.web``) over the projector's read model and
    the services' state folder (their metrics targets); (base URL, the SPC centre's token)."""
    tokens = services.home / "web-tokens.yaml"
    token = web_tokens.issue("coordinator.spc", tokens)
    port = free_block(1)
    proc = ServiceProcess(
        "services.web",
        conn,
        services.home / "web.log",
        "web API on",
        env={
            "COURTBUS_STORE_URL": services.store_url,
            "COURTBUS_WEB_TOKENS": str(tokens),
            "COURTBUS_WEB_PORT": str(port),
            "COURTBUS_STATE_DIR": str(services.home / "state"),
        },
    )
    proc.start()
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/dashboard/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 30, lambda: f"the web service:\n{proc.log_text()[-2000:]}")
        yield base, token
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = _browser_binaries()
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,2500",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def _request(court: CourtClient, tag: str, executing: str, debtor: dict[str, str]) -> str:
    did = f"dlg-dash-{tag}-{uuid.uuid4().hex[:6]}"
    court.delegation.request_delegation(
        delegation_id=did,
        case_number=f"(2024){court.sender.court.designation}执{uuid.uuid4().int % 9000 + 1000}号",
        executing_court=executing,
        matter="SEARCH",
        debtor=debtor,
    )
    return did


def _list(court: CourtClient, tag: str, debtor: dict[str, str]) -> str:
    eid = f"bl-dash-{tag}-{uuid.uuid4().hex[:6]}"
    court.blacklist.list_debtor(
        eid,
        f"(2024){court.sender.court.designation}执{uuid.uuid4().int % 9000 + 1000}号",
        debtor,
        "REFUSED_WITH_ABILITY",
        obligation="支付货款 86,000.00 元",
        conduct="有履行能力而拒不履行",
        filed_at=v.now() - timedelta(days=90),
        **({"legal_representative": "李四"} if debtor["kind"] == "ORGANISATION" else {}),
        **ART6,
    )
    return eid


def _broken_record(conn: Connection, court: str) -> None:
    """Bytes that are not the bus's wire format, into a court's outbox: a dead letter."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**conn.kafka_settings())
    producer.send(f"court.{court}.outbox", key=b"broken", value=b"not avro at all").get(10)
    producer.close()


class StoredFigures:
    """What the projector has stored, counted without the dashboard's code."""

    def __init__(self, url: str) -> None:
        self.q = ReadModelQueries(url)

    def figures(self) -> dict[str, int]:
        rows = self.q.delegations()
        return {
            "kpi-open": sum(r.state not in END_STATES and r.state != "REFUSED" for r in rows),
            "kpi-dead": len(self.q.dead_letters()),
            "kpi-blacklist": self.q.blacklist_count(status="ACTIVE"),
            "kpi-awaiting-ack": sum(
                a.state in ("PENDING", "OVERDUE") for r in self.q.restrictions() for a in r.acks
            ),
            "kpi-objection": sum(
                d.state in ("PLAN_ISSUED", "OBJECTION_WINDOW") for d in self.q.distributions()
            ),
        }

    def has(self, delegations: set[str], entries: set[str], dead: int) -> bool:
        stored = {r.delegation_id for r in self.q.delegations()}
        listed = {e.entry_id for e in self.q.blacklist_entries()}
        return delegations <= stored and entries <= listed and len(self.q.dead_letters()) >= dead


KPIS = ("kpi-open", "kpi-dead", "kpi-blacklist", "kpi-overdue", "kpi-awaiting-ack", "kpi-objection")
# One synchronous script reads the whole page: the dashboard rebuilds its charts on every
# poll, so element handles kept across calls go stale (no redraw can fall inside a script).
SNAPSHOT_JS = """
const marks = {};
for (const css of arguments[1]) {
  marks[css] = Array.from(document.querySelectorAll(css),
                          e => Math.trunc(parseFloat(e.getAttribute('data-value'))));
}
const kpis = {};
for (const id of arguments[0]) {
  const e = document.getElementById(id);
  const t = e ? e.textContent.trim() : '';
  kpis[id] = /^[0-9]+$/.test(t) ? parseInt(t, 10) : -1;
}
const svgs = Array.from(document.querySelectorAll('.chart svg'), s => {
  const r = s.getBoundingClientRect(); return [r.width, r.height];
});
const text = id => { const e = document.getElementById(id); return e ? e.innerText : ''; };
return {kpis, marks, svgs, region: text('region'), services: text('table-services'),
        overdue_rows: document.querySelectorAll('#table-overdue tbody tr.overdue').length,
        html: document.documentElement.outerHTML};
"""


def _snapshot(browser: Any, *marks: str) -> dict[str, Any]:
    """The dashboard as shown at one instant: KPI figures, the data values of the chart marks
    picked by ``marks`` (CSS selectors), chart sizes, the region banner, the services table
    and the page's HTML."""
    snap: dict[str, Any] = browser.execute_script(SNAPSHOT_JS, list(KPIS), list(marks))
    return snap


def _shown(browser: Any) -> dict[str, int]:
    kpis: dict[str, int] = _snapshot(browser)["kpis"]
    return kpis


def _wait_shown(browser: Any, expected: dict[str, int], timeout_s: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    def matches(_driver: Any) -> bool:
        shown = _shown(browser)
        return all(shown[k] == n for k, n in expected.items())

    try:
        WebDriverWait(browser, timeout_s, poll_frequency=0.25).until(matches)
    except Exception as exc:
        raise AssertionError(f"the dashboard shows {_shown(browser)}, not {expected}") from exc


def test_the_dashboard_follows_the_bus(
    conn: Connection,
    services: Services,
    courts: dict[str, CourtClient],
    web: tuple[str, str],
    browser: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, token = web
    store = StoredFigures(services.store_url)
    c = courts
    # -- first: three requests across four provinces, one listing, one broken record ---------
    first = {
        _request(c["320583"], "a", "6101", PERSON),
        _request(c["4408"], "b", "50", FIRM),
        _request(c["3174"], "c", "6104", FIRM),
    }
    entries = {_list(c["4408"], "a", FIRM)}
    _broken_record(conn, "320583")
    wait_until(lambda: store.has(first, entries, 1), 60, "the first messages in the read model")
    before = store.figures()
    assert before == {
        "kpi-open": 3,
        "kpi-dead": 1,
        "kpi-blacklist": 1,
        "kpi-awaiting-ack": 0,
        "kpi-objection": 0,
    }

    browser.get(f"{base}/dashboard/#token={token}")
    _wait_shown(browser, before)
    matrix = "#chart-matrix rect.cell"
    snap = _snapshot(browser, matrix)
    assert "最高人民法院" in snap["region"]
    assert token not in browser.current_url  # the token left the address bar
    heat = snap["marks"][matrix]
    assert len(heat) == 25 and sum(heat) == 3  # 31, 32, 44, 50 and 61: rows × cols
    # -- more messages: two requests, one of them completed, one more listing, a broken record,
    # a consumption ban awaiting two agencies, a distribution's plan served (its objection window)
    ban = f"rc-dash-{uuid.uuid4().hex[:6]}"
    c["3205"].restriction.issue_consumption_ban(
        ban,
        f"(2024)苏05执{uuid.uuid4().int % 9000 + 1000}号",
        PERSON,
        role="LEGAL_REPRESENTATIVE",
        debtor=FIRM,
    )
    shared = run_participation_scene(Console(file=io.StringIO()), conn, uuid.uuid4().hex[:8])
    more = {_request(c["3205"], "d", "4408", PERSON)}
    done = _request(c["6101"], "e", "50", PERSON)
    entries |= {_list(c["320583"], "b", PERSON)}
    _broken_record(conn, "6101")
    wait_until(lambda: store.has(more | {done}, entries, 2), 60, "the later messages stored")
    wait_until(
        lambda: any(e.key == done for e in c["50"].inbox(timeout_s=1)),
        60,
        f"{done} in court 50's inbox",
    )
    c["50"].delegation.accept(done)
    c["50"].delegation.complete(done, "查询到银行账户 1 个")
    wait_until(
        lambda: (r := store.q.delegation(done)) is not None and r.state == "COMPLETED",
        60,
        f"{done} completed in the read model",
    )
    # caac and rail answer a consumption ban; a person's listing brings a ban of its own (the
    # listing's consumption restriction), so two bans await two agencies each
    wait_until(
        lambda: store.q.restriction(ban) is not None and store.figures()["kpi-awaiting-ack"] == 4,
        60,
        "both bans in the read model",
    )
    wait_until(
        lambda: (
            (d := store.q.distribution(shared.distribution_id)) is not None
            and d.state == "OBJECTION_WINDOW"
        ),
        60,
        "the plan served, its window open",
    )
    after = store.figures()
    assert after == {
        "kpi-open": 4,
        "kpi-dead": 2,
        "kpi-blacklist": 2,
        "kpi-awaiting-ack": 4,
        "kpi-objection": 1,
    }, after
    _wait_shown(browser, after)
    # deadlines of seconds: the delivered requests nobody accepted go overdue, highlighted
    _wait_shown_positive(browser, "kpi-overdue")
    charts = {
        "#chart-deleg-state rect.bar": after["kpi-open"],
        "#chart-matrix rect.cell": 5,  # 5 requests, none refused
        "#chart-dead-time rect.column": after["kpi-dead"],
        "#chart-blacklist-region rect.bar": after["kpi-blacklist"],
        "#chart-acks rect.bar": after["kpi-awaiting-ack"],
        "#chart-distribution rect.bar": 1,
    }
    points = "#chart-blacklist-time circle.point"
    # the charts are drawn, with the numbers of the read model (a poll redraws them all)
    wait_until(
        lambda: {css: sum(n) for css, n in _snapshot(browser, *charts)["marks"].items()} == charts,
        30,
        lambda: f"charts {_snapshot(browser, *charts)['marks']}, expected sums {charts}",
        interval_s=0.25,
    )
    snap = _snapshot(browser, points, *charts)
    assert snap["overdue_rows"] > 0 and "逾期" in snap["html"]
    assert {css: sum(snap["marks"][css]) for css in charts} == charts
    assert snap["marks"][points][-1] == after["kpi-blacklist"]
    for name in ("delegation", "gateway", "projector"):
        assert name in snap["services"], snap["services"]
    assert snap["svgs"] and all(w > 0 and h > 0 for w, h in snap["svgs"]), snap["svgs"]
    assert PERSON_ID not in snap["html"] and FIRM_CODE not in snap["html"]
    _screenshot(browser, capsys)


def _wait_shown_positive(browser: Any, kpi: str, timeout_s: float = 40) -> None:
    wait_until(
        lambda: _shown(browser)[kpi] > 0,
        timeout_s,
        f"{kpi} above 0: {_shown(browser)}",
        interval_s=0.25,
    )


def _screenshot(browser: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "dashboard.png"
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, max(900, int(height) + 40))
    assert browser.save_screenshot(str(path)), "no screenshot"
    extra = os.environ.get("COURTBUS_DASHBOARD_SCREENSHOT")
    if extra:
        shutil.copyfile(path, REPO / extra if not Path(extra).is_absolute() else Path(extra))
    with capsys.disabled():
        print(f"\ndashboard screenshot: {path}" + (f" (and {extra})" if extra else ""))

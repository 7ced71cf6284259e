/* courtbus dashboard: polls GET /v1/coordination/summary every 2 s with the coordinator's
 * token (from the login form or the URL fragment #token=…, kept in sessionStorage) and draws
 * it with charts.js. Apache-2.0, part of courtbus. */
"use strict";

(() => {
  const SUMMARY = "/v1/coordination/summary";
  const POLL_MS = 2000;
  const KEY = "courtbus.dashboard.token";

  const STATES = {
    REQUESTED: "已发出", DELIVERED: "已送达", ACCEPTED: "已受理", MATERIALS_ASKED: "待补正",
    IN_PROGRESS: "执行中", REJECTED: "已拒绝", COMPLETED: "已完成", FAILED: "执行不能",
    CANCELLED: "已撤回", RETURNED: "已退回", TRANSFERRED: "已提级/指定执行", REFUSED: "被总线拒收",
  };
  const DISTRIBUTION = {
    OPENED: "已立案", CLAIMS: "申报中", PLAN_ISSUED: "方案送达中", OBJECTION_WINDOW: "异议期",
    OPPOSITION_WINDOW: "反对期", REVISION: "方案修正", SUIT_WINDOW: "起诉期", IN_SUIT: "诉讼中（提存）",
    FINALIZED: "方案确定", PAID_OUT: "已分配", TRANSFERRED_TO_BANKRUPTCY: "执转破",
  };
  const KINDS = {EXIT_BAN: "限制出境", CONSUMPTION_BAN: "限制高消费"};
  const DEADLINES = {start: "开始执行", report: "报告结果"};
  const SERVICES = {
    gateway: "网关", delegation: "事项委托", blacklist: "失信名单", feeds: "机构推送",
    restriction: "限制措施", watchdog: "结案监察", distribution: "参与分配", projector: "读模型投影",
  };

  const $ = id => document.getElementById(id);
  let timer = null;
  let updates = 0;

  function token() {
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("token")) {
      sessionStorage.setItem(KEY, hash.get("token"));
      history.replaceState(null, "", location.pathname);  // the token leaves the address bar
    }
    return sessionStorage.getItem(KEY);
  }

  function showLogin(message) {
    $("board").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("live").className = "live off";
    $("region").textContent = "未登录";
  }

  function time(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai", hour12: false});
  }

  // A bucket text of the server (UTC): a minute or an hour shown in China time.
  function bucketLabel(key) {
    if (key.length >= 13) {
      const date = new Date(key.replace(" ", "T") + (key.length === 13 ? ":00" : "") + ":00Z");
      return date.toLocaleTimeString("zh-CN", {timeZone: "Asia/Shanghai", hour12: false,
                                               hour: "2-digit", minute: "2-digit"});
    }
    return key;
  }

  function late(hours) {
    if (hours >= 48) return `${Math.floor(hours / 24)} 天`;
    return hours >= 1 ? `${hours} 小时` : `${Math.max(1, Math.round(hours * 60))} 分钟`;
  }

  function setNumber(id, value, alarm) {
    const node = $(id);
    node.textContent = String(value);
    node.dataset.value = String(value);
    node.classList.toggle("nonzero", Boolean(alarm) && value > 0);
  }

  function fill(tableId, rows, cells, rowClass) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren();
    if (!rows.length) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = $(tableId).tHead.rows[0].cells.length;
      td.className = "empty";
      td.textContent = "暂无";
      return;
    }
    for (const row of rows) {
      const tr = body.insertRow();
      if (rowClass) tr.className = rowClass(row);
      for (const value of cells(row)) {
        const td = tr.insertCell();
        td.textContent = value === null || value === undefined ? "" : String(value);
        if (typeof value === "number") td.className = "num";
      }
    }
  }

  function render(s) {
    const d = s.delegations, r = s.restrictions, b = s.blacklist, p = s.distributions;
    const dl = s.dead_letters;
    $("region").textContent = `${s.region.label}（${s.region.principal}）`;
    setNumber("kpi-open", d.open);
    setNumber("kpi-overdue", d.overdue, true);
    setNumber("kpi-escalations", d.escalations.pending);
    setNumber("kpi-awaiting-ack", r.awaiting_ack);
    setNumber("kpi-interceptions", r.interceptions);
    setNumber("kpi-watchdog", r.watchdog_alerts, true);
    setNumber("kpi-blacklist", b.active);
    setNumber("kpi-objection", p.in_objection_window);
    setNumber("kpi-plans-pending", p.plans_pending);
    setNumber("kpi-dead", dl.total, true);

    Charts.bars($("chart-deleg-state"), Object.entries(d.by_state).map(([k, v]) =>
      ({label: STATES[k] || k, value: v})), {empty: "没有未结的委托事项"});
    Charts.bars($("chart-deleg-age"), d.by_age.map(a =>
      ({label: a.label, value: a.count, extra: a.overdue})));
    Charts.heatmap($("chart-matrix"), d.matrix.names, d.matrix.names, d.matrix.cells,
                   d.matrix.open);
    fill("table-overdue", d.overdue_items, o => [o.delegation_id, o.case_number,
      o.requesting_name, o.executing_name, STATES[o.state] || o.state,
      DEADLINES[o.deadline] || o.deadline, late(o.overdue_hours)], () => "overdue");
    fill("table-escalations", d.escalations.items, e => [e.delegation_id, e.executing_name,
      e.superior_name || e.superior_court, time(e.escalated_at), e.answered ? "已答复" : "待答复"]);

    Charts.bars($("chart-acks"), r.awaiting_by_agency.map(a =>
      ({label: a.name, value: a.pending + a.overdue, extra: a.overdue})),
      {empty: "没有待回执的限制措施", labelWidth: 150});
    $("restriction-note").textContent =
      `在执行：${Object.entries(r.by_kind).map(([k, v]) => `${KINDS[k] || k} ${v}`).join("，") || "无"}；` +
      `已解除 ${r.lifted}；回执逾期 ${r.ack_overdue}`;
    fill("table-interceptions", r.recent_interceptions, i => [time(i.at), i.agency,
      KINDS[i.kind] || i.kind, i.case_number, i.location]);
    fill("table-watchdog", r.watchdog_items, w => [w.court_name, w.case_number, w.alerts,
      time(w.latest)]);

    Charts.bars($("chart-blacklist-region"), b.by_province.map(x =>
      ({label: x.name, value: x.count})), {empty: "名单为空"});
    Charts.line($("chart-blacklist-time"), b.over_time.map(x =>
      ({label: x.bucket, value: x.active})), {format: bucketLabel});

    Charts.bars($("chart-distribution"), Object.entries(p.by_state).map(([k, v]) =>
      ({label: DISTRIBUTION[k] || k, value: v})), {empty: "没有进行中的参与分配"});
    fill("table-distributions", p.items, x => [x.case_number, x.presiding_name,
      DISTRIBUTION[x.state] || x.state, x.claims]);

    Charts.columns($("chart-dead-time"), dl.buckets, dl.series,
                   {format: bucketLabel, empty: "没有死信"});

    Charts.bars($("chart-services"), s.services.map(x =>
      ({label: SERVICES[x.service] || x.service, value: x.p99_ms || 0,
        color: x.lag > 0 ? "#d68910" : undefined})),
      {empty: "没有服务提供运行指标（COURTBUS_METRICS_PORT）", labelWidth: 110});
    fill("table-services", s.services, x => [`${SERVICES[x.service] || x.service}（${x.service}）`,
      `${x.answering}/${x.workers}`, x.lag, x.p99_ms === null ? "—" : x.p99_ms, x.records_in,
      x.dead_lettered]);

    updates += 1;
    document.body.dataset.updates = String(updates);
    document.body.dataset.generatedAt = s.generated_at;
    $("updated").textContent = `更新于 ${time(s.generated_at)}`;
  }

  async function poll() {
    const t = token();
    if (!t) return showLogin();
    try {
      const answer = await fetch(SUMMARY, {headers: {Authorization: `Bearer ${t}`},
                                           cache: "no-store"});
      if (answer.status === 401 || answer.status === 403) {
        const body = await answer.json().catch(() => ({}));
        sessionStorage.removeItem(KEY);
        return showLogin(`${body.code || answer.status}：${body.message || "令牌无效"}`);
      }
      if (!answer.ok) throw new Error(`${answer.status}`);
      $("login").hidden = true;
      $("board").hidden = false;
      $("logout").hidden = false;
      render(await answer.json());
      $("live").className = "live on";
    } catch (err) {
      $("live").className = "live error";
      $("updated").textContent = `连接中断（${err.message}），重试中…`;
    }
    timer = setTimeout(poll, POLL_MS);
  }

  $("login").addEventListener("submit", event => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    clearTimeout(timer);
    poll();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    clearTimeout(timer);
    showLogin();
  });
  window.addEventListener("hashchange", () => { clearTimeout(timer); poll(); });
  poll();
})();

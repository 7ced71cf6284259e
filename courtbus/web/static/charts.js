/* courtbus charts: small hand-written SVG charts for the dashboard (no library, no CDN).
 * Each function replaces the content of a container element with one <svg class="chart-svg">
 * whose marks carry data-value attributes (the browser test reads them).
 * Apache-2.0, part of courtbus. */
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6fb5", "#d68910", "#1e8449", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"];

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function svg(container, width, height, kind) {
    container.replaceChildren();
    // drawn at its own size at most: a small chart in a wide panel is not blown up
    const root = el("svg", {viewBox: `0 0 ${width} ${height}`, class: "chart-svg",
                             "data-kind": kind, role: "img", style: `max-width: ${width}px`});
    container.appendChild(root);
    return root;
  }

  function empty(container, text) {
    const note = document.createElement("div");
    note.className = "empty";
    note.textContent = text || "暂无数据";
    container.replaceChildren(note);
  }

  function tip(node, text) { node.appendChild(el("title", {}, text)); return node; }

  /** Horizontal bars: items [{label, value, color?, extra?}] (extra: a red overlay count). */
  function bars(container, items, opts) {
    opts = opts || {};
    if (!items.length) return empty(container, opts.empty);
    const rowH = 24, labelW = opts.labelWidth || 130, width = 520;
    const height = items.length * rowH + 8;
    const root = svg(container, width, height, "bars");
    const max = Math.max(1, ...items.map(i => i.value));
    const span = width - labelW - 110;  // room for the figure after the bar
    items.forEach((item, n) => {
      const y = 4 + n * rowH;
      root.appendChild(el("text", {x: labelW - 6, y: y + 16, "text-anchor": "end",
                                   "font-size": 12, fill: "#1f2933"}, item.label));
      const w = Math.max(item.value > 0 ? 2 : 0, span * item.value / max);
      root.appendChild(tip(el("rect", {x: labelW, y: y + 3, width: w, height: rowH - 8,
                                       fill: item.color || PALETTE[0], class: "bar",
                                       "data-label": item.label, "data-value": item.value}),
                           `${item.label}: ${item.value}`));
      if (item.extra) {
        const ew = span * item.extra / max;
        root.appendChild(tip(el("rect", {x: labelW, y: y + 3, width: ew, height: rowH - 8,
                                         fill: "#c0392b", class: "bar-extra",
                                         "data-value": item.extra}),
                             `${item.label}: 逾期 ${item.extra}`));
      }
      root.appendChild(el("text", {x: labelW + w + 4, y: y + 16, "font-size": 12,
                                   fill: "#6b7785"}, item.extra ? `${item.value}（逾期 ${item.extra}）` : item.value));
    });
  }

  /** A heat map: rows and cols labels, cells[r][c] counts; open[r][c] in the tooltip. */
  function heatmap(container, rows, cols, cells, open) {
    if (!rows.length) return empty(container);
    const cell = 34, left = 120, top = 64;
    const width = Math.max(520, left + cols.length * cell + 10);
    const height = top + rows.length * cell + 10;
    const root = svg(container, width, height, "heatmap");
    const max = Math.max(1, ...cells.flat());
    cols.forEach((name, c) => {
      const x = left + c * cell + cell / 2;
      root.appendChild(el("text", {x, y: top - 6, "font-size": 12, fill: "#1f2933",
                                   transform: `rotate(-45 ${x} ${top - 6})`}, name));
    });
    rows.forEach((name, r) => {
      const y = top + r * cell;
      root.appendChild(el("text", {x: left - 6, y: y + cell / 2 + 4, "text-anchor": "end",
                                   "font-size": 12, fill: "#1f2933"}, name));
      cols.forEach((colName, c) => {
        const n = cells[r][c];
        const shade = n === 0 ? "#f0f2f5" : `rgba(192, 57, 43, ${0.15 + 0.85 * n / max})`;
        const x = left + c * cell;
        root.appendChild(tip(el("rect", {x: x + 1, y: y + 1, width: cell - 2, height: cell - 2,
                                         fill: shade, class: "cell", "data-value": n,
                                         "data-row": name, "data-col": colName}),
                             `${name} → ${colName}：${n} 件（未结 ${open ? open[r][c] : "?"}）`));
        if (n) root.appendChild(el("text", {x: x + cell / 2, y: y + cell / 2 + 4,
                                            "text-anchor": "middle", "font-size": 12,
                                            fill: n / max > 0.5 ? "#fff" : "#1f2933"}, n));
      });
    });
  }

  /** Stacked columns over time: buckets (labels), series {name: [counts]}. */
  function columns(container, buckets, series, opts) {
    opts = opts || {};
    const names = Object.keys(series);
    if (!names.length) return empty(container, opts.empty);
    const width = 1040, height = 220, left = 40, bottom = 40, top = 24;
    const root = svg(container, width, height, "columns");
    const totals = buckets.map((_, i) => names.reduce((s, n) => s + series[n][i], 0));
    const max = Math.max(1, ...totals);
    const step = (width - left - 10) / buckets.length;
    axis(root, left, top, width, height - bottom, max);
    buckets.forEach((label, i) => {
      let y = height - bottom;
      names.forEach((name, s) => {
        const v = series[name][i];
        if (!v) return;
        const h = (height - bottom - top) * v / max;
        y -= h;
        root.appendChild(tip(el("rect", {x: left + i * step + 1, y, width: Math.max(1, step - 2),
                                         height: h, fill: PALETTE[s % PALETTE.length],
                                         class: "column", "data-value": v,
                                         "data-series": name}), `${label} ${name}: ${v}`));
      });
      if (i % Math.ceil(buckets.length / 8) === 0) {
        root.appendChild(el("text", {x: left + i * step, y: height - bottom + 16,
                                     "font-size": 11, fill: "#6b7785"}, opts.format ? opts.format(label) : label));
      }
    });
    legend(root, names, left, height - 8);
  }

  /** A line over time: points [{label, value}]. */
  function line(container, points, opts) {
    opts = opts || {};
    if (!points.length) return empty(container, opts.empty);
    const width = 520, height = 200, left = 40, bottom = 30, top = 14;
    const root = svg(container, width, height, "line");
    const max = Math.max(1, ...points.map(p => p.value));
    axis(root, left, top, width, height - bottom, max);
    const step = (width - left - 10) / Math.max(1, points.length - 1);
    const xy = points.map((p, i) => [left + i * step,
                                     height - bottom - (height - bottom - top) * p.value / max]);
    root.appendChild(el("polyline", {points: xy.map(p => p.join(",")).join(" "), fill: "none",
                                     stroke: PALETTE[0], "stroke-width": 2, class: "line"}));
    points.forEach((p, i) => {
      root.appendChild(tip(el("circle", {cx: xy[i][0], cy: xy[i][1], r: 2.5, fill: PALETTE[0],
                                         class: "point", "data-value": p.value}),
                           `${opts.format ? opts.format(p.label) : p.label}: ${p.value}`));
      if (i % Math.ceil(points.length / 5) === 0) {
        root.appendChild(el("text", {x: xy[i][0], y: height - bottom + 16, "font-size": 11,
                                     fill: "#6b7785"}, opts.format ? opts.format(p.label) : p.label));
      }
    });
  }

  function axis(root, left, top, right, bottom, max) {
    root.appendChild(el("line", {x1: left, y1: bottom, x2: right - 10, y2: bottom, stroke: "#c8ced6"}));
    root.appendChild(el("line", {x1: left, y1: top, x2: left, y2: bottom, stroke: "#c8ced6"}));
    root.appendChild(el("text", {x: left - 4, y: top + 4, "text-anchor": "end", "font-size": 11,
                                 fill: "#6b7785"}, max));
    root.appendChild(el("text", {x: left - 4, y: bottom, "text-anchor": "end", "font-size": 11,
                                 fill: "#6b7785"}, 0));
  }

  function legend(root, names, x, y) {
    names.forEach((name, i) => {
      const at = x + i * 150;
      root.appendChild(el("rect", {x: at, y: y - 9, width: 10, height: 10,
                                   fill: PALETTE[i % PALETTE.length]}));
      root.appendChild(el("text", {x: at + 14, y, "font-size": 11, fill: "#1f2933"}, name));
    });
  }

  return {bars, heatmap, columns, line, PALETTE};
})();

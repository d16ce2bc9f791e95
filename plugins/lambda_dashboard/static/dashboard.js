// The dashboard page: filters from and to the URL, the JSON API (same origin, Airflow's
// session cookie), ECharts (SVG renderer) with a table of the same numbers under each chart.
// Everything from the database is put on the page as text (textContent), never as HTML.
"use strict";

const form = document.getElementById("filters");
const statusLine = document.getElementById("status");
const FIELDS = ["hours", "end", "antenna", "app", "top", "refresh"];
const HOUR_MS = 3600 * 1000;
const charts = {};
let timer = null;

function filtersFromUrl() {
  const q = new URLSearchParams(location.search);
  for (const name of FIELDS) if (q.has(name)) form.elements[name].value = q.get(name);
}

function filtersToUrl() {
  const q = new URLSearchParams();
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (value !== "") q.set(name, value);
  }
  return q;
}

function apiUrl(path, extra) {
  const q = new URLSearchParams();
  for (const name of ["hours", "end", "top"]) {
    const value = form.elements[name].value.trim();
    if (value !== "") q.set(name, value);
  }
  for (const [k, v] of Object.entries(extra || {})) if (v) q.set(k, v);
  return `api/${path}?${q}`;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = JSON.stringify((await response.json()).detail); } catch (_) { /* not JSON */ }
    throw new Error(`${url}: ${response.status} ${detail}`);
  }
  return response.json();
}

const fmt = (n) => (n === null || n === undefined ? "" : Number(n).toLocaleString("en-US"));
const hourLabel = (iso) => iso.slice(5, 13).replace("T", " ") + ":00";
const minuteLabel = (iso) => iso.slice(11, 16);

function hoursBetween(startIso, endIso) {
  const out = [];
  for (let t = Date.parse(startIso); t < Date.parse(endIso); t += HOUR_MS) {
    out.push(new Date(t).toISOString().replace(".000Z", "Z"));
  }
  return out;
}

function fillTable(id, columns, rows) {
  const table = document.getElementById(id);
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const [, title] of columns) head.appendChild(document.createElement("th")).textContent = title;
  const body = table.createTBody();
  if (rows.length === 0) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = columns.length;
    cell.textContent = "no rows in this range";
  }
  for (const row of rows) {
    const tr = body.insertRow();
    for (const [key, , kind] of columns) {
      const cell = tr.insertCell();
      const value = row[key];
      cell.textContent = kind === "num" ? fmt(value) : value === null ? "" : String(value);
      if (kind) cell.className = kind;
    }
  }
}

function drawChart(id, categories, series, extra) {
  const el = document.getElementById(id);
  if (!charts[id]) charts[id] = echarts.init(el, null, { renderer: "svg" });
  const points = series.reduce((n, s) => n + s.data.filter((v) => v !== null && v !== undefined).length, 0);
  el.dataset.points = String(points);
  charts[id].setOption(
    {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 90, right: 20, top: 40, bottom: 30 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value" },
      series,
      ...extra,
    },
    true,
  );
}

function line(name, data, extra) {
  return { name, type: "line", data, showSymbol: true, showAllSymbol: true, symbolSize: 6, ...extra };
}

function bar(name, data, stack) {
  return { name, type: "bar", data, stack };
}

// One series per key over the range's hours; hours served by the speed layer shaded.
function drawHourly(dimension, data) {
  const hours = hoursBetween(data.start, data.end);
  const keys = [...new Set(data.hourly.map((r) => r.id))];
  const speedHours = new Set(data.hourly.filter((r) => r.source === "speed").map((r) => r.timestamp));
  const series = keys.map((key) => {
    const byHour = new Map(data.hourly.filter((r) => r.id === key).map((r) => [r.timestamp, r.value]));
    return line(key, hours.map((h) => (byHour.has(h) ? byHour.get(h) : null)));
  });
  if (series.length) {
    series[0].markArea = {
      itemStyle: { color: "rgba(255, 170, 0, 0.15)" },
      label: { show: true, position: "insideTop", fontSize: 10 },
      data: hours.filter((h) => speedHours.has(h)).map((h) => [
        { name: "speed", xAxis: hourLabel(h) }, { xAxis: hourLabel(h) },
      ]),
    };
  }
  drawChart(`chart-hourly-${dimension}`, hours.map(hourLabel), series);
  fillTable(`table-hourly-${dimension}`, [
    ["timestamp", "hour (UTC)"], ["id", dimension], ["value", "bytes", "num"], ["source", "source"],
  ], data.hourly);
}

function drawWindows(dimension, data) {
  const start = Date.parse(data.windows_hour);
  const windows = [];
  for (let i = 0; i < 12; i++) windows.push(new Date(start + i * 300000).toISOString().replace(".000Z", "Z"));
  const keys = [...new Set(data.windows.map((r) => r.id))];
  const series = keys.map((key) => {
    const byWindow = new Map(data.windows.filter((r) => r.id === key).map((r) => [r.timestamp, r.value]));
    return bar(key, windows.map((w) => (byWindow.has(w) ? byWindow.get(w) : null)), "windows");
  });
  drawChart(`chart-windows-${dimension}`, windows.map(minuteLabel), series);
  fillTable(`table-windows-${dimension}`, [
    ["timestamp", "window start (UTC)"], ["id", dimension], ["value", "bytes", "num"],
  ], data.windows);
}

function drawQuota(data) {
  const hours = hoursBetween(data.start, data.end);
  const count = (rows) => hours.map((h) => rows.filter((r) => r.timestamp === h).length || null);
  drawChart("chart-quota", hours.map(hourLabel), [
    bar("confirmed (batch)", count(data.confirmed)),
    bar("early warning (speed)", count(data.early_warning)),
  ]);
  const rows = [
    ...data.confirmed.map((r) => ({ ...r, status: "confirmed (batch)" })),
    ...data.early_warning.map((r) => ({ ...r, status: "early warning (speed)" })),
  ];
  fillTable("table-quota", [
    ["timestamp", "hour (UTC)"], ["email", "user"], ["usage", "bytes", "num"],
    ["quota", "quota", "num"], ["status", "status"],
  ], rows);
}

function drawHealth(data) {
  const facts = document.getElementById("freshness");
  facts.replaceChildren();
  const speed = data.speed;
  const lag = (s) => (s === null || s === undefined ? "" : `${Math.round(s)} s`);
  for (const [term, value] of [
    ["Latest 5-minute window", speed.latest_window],
    ["Speed-layer watermark", speed.watermark],
    ["Watermark behind now", lag(speed.watermark_lag_seconds)],
    ["Last micro-batch", speed.updated_at ? `${speed.updated_at} (${lag(speed.last_batch_seconds_ago)} ago)` : ""],
    ["Kafka records not read yet", speed.offsets_behind === null || speed.offsets_behind === undefined ? "" : String(speed.offsets_behind)],
    ["Last hour published by the batch", data.batch ? data.batch.hour : "none yet"],
  ]) {
    facts.appendChild(document.createElement("dt")).textContent = term;
    facts.appendChild(document.createElement("dd")).textContent = value || "none yet";
  }

  fillTable("table-not-exact", [
    ["timestamp", "hour (UTC)"], ["reason", "why"], ["events_landed", "events landed", "num"],
    ["landed_at", "last landed"], ["read_from", "batch read it at"],
  ], data.hours_not_exact);

  const hours = hoursBetween(data.start, data.end);
  const recon = data.reconciliation.filter((r) => r.type === "app_bytes_total");
  const at = (field, sign = 1) => hours.map((h) => {
    const row = recon.find((r) => r.timestamp === h);
    return row ? sign * row[field] : null;
  });
  drawChart("chart-reconciliation", hours.map(hourLabel), [
    bar("late (dropped behind the watermark)", at("late_bytes"), "causes"),
    bar("unseen (never through the speed layer)", at("unseen_bytes"), "causes"),
    bar("overcounted (counted twice, negative)", at("overcounted_bytes", -1), "causes"),
    bar("unexplained", at("unexplained"), "causes"),
    line("difference", at("difference")),
  ]);
  fillTable("table-reconciliation", [
    ["timestamp", "hour (UTC)"], ["type", "type"], ["speed_total", "speed", "num"],
    ["batch_total", "batch", "num"], ["difference", "difference", "num"],
    ["late_bytes", "late", "num"], ["unseen_bytes", "unseen", "num"],
    ["overcounted_bytes", "overcounted", "num"], ["unexplained", "unexplained", "num"],
    ["late_events", "late events", "num"], ["quarantined_events", "quarantined", "num"],
  ], data.reconciliation);

  const reasons = [...new Set(data.quarantine_by_reason.map((r) => r.reason))];
  drawChart("chart-quarantine", hours.map(hourLabel), reasons.map((reason) => bar(reason, hours.map((h) => {
    const row = data.quarantine_by_reason.find((r) => r.timestamp === h && r.reason === reason);
    return row ? row.records : null;
  }), "reasons")));
  fillTable("table-quarantine", [
    ["timestamp", "hour (UTC)"], ["reason", "reason"], ["records", "records", "num"],
  ], data.quarantine_by_reason);
  // Payloads are device data: the API sends them only to users allowed to read connections.
  const latestColumns = [
    ["kafka_timestamp", "Kafka time (UTC)"], ["reason", "reason"], ["kafka_topic", "topic"],
    ["kafka_partition", "partition", "num"], ["kafka_offset", "offset", "num"],
    ["payload_length", "length", "num"],
  ];
  if (data.quarantine_payloads === "shown") latestColumns.push(["payload", "payload (escaped)", "payload"]);
  fillTable("table-quarantine-latest", latestColumns, data.quarantine_latest);
  document.getElementById("payloads-hidden").hidden = data.quarantine_payloads === "shown";
}

async function load() {
  document.getElementById("deep-link").href = location.href;
  statusLine.className = "";
  statusLine.textContent = "Loading…";
  const antenna = form.elements.antenna.value.trim();
  const app = form.elements.app.value.trim();
  try {
    const [health, byAntenna, byApp, byUser, quota] = await Promise.all([
      getJson(apiUrl("health")),
      getJson(apiUrl("traffic/antenna", { key: antenna })),
      getJson(apiUrl("traffic/app", { key: app })),
      getJson(apiUrl("traffic/user")),
      getJson(apiUrl("quota")),
    ]);
    drawHealth(health);
    for (const [dimension, data] of [["antenna", byAntenna], ["app", byApp], ["user", byUser]]) {
      drawHourly(dimension, data);
      if (dimension !== "user") drawWindows(dimension, data);
    }
    drawQuota(quota);
    const refresh = Number(form.elements.refresh.value) || 0;
    statusLine.textContent = `Range ${health.start} to ${health.end}. Updated ${new Date().toISOString().slice(0, 19)}Z` +
      (refresh ? `; refreshes every ${refresh} s.` : "; automatic refresh off.");
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
  } catch (error) {
    statusLine.className = "error";
    statusLine.textContent = `Could not load the figures: ${error.message}`;
  }
  clearTimeout(timer);
  const refresh = Number(form.elements.refresh.value) || 0;
  if (refresh > 0) timer = setTimeout(load, refresh * 1000);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  history.pushState(null, "", `?${filtersToUrl()}`);
  load();
});
window.addEventListener("popstate", () => { filtersFromUrl(); load(); });
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
filtersFromUrl();
load();

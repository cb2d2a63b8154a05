// Fleet health: devices online and offline, unresolved incidents by fault and by model,
// and the last day's (or week's) trend of incidents opened and devices reporting.
"use strict";
import { api, ago, el } from "/static/common.js";
import { columnChart } from "/static/chart.js";
import { syncClock, serverNow } from "/static/service/clock.js";
import { on, throttle } from "/static/service/state.js";
import { barList, faultName, onlinePill, responsive } from "/static/service/parts.js";

export function fleetView(container, route, { fail }) {
  let span = route.query.get("span") === "week" ? "week" : "day";
  let summary = null;
  let devices = new Map();
  const stops = [];

  const head = el("h2", {}, "Fleet health");
  const cards = el("div", { class: "cards" });
  const faults = el("div", {});
  const models = el("div", {});
  const trends = el("div", {});
  const deviceList = el("div", {});
  container.append(head, cards,
    el("div", { class: "grid-2" }, el("div", {}, el("h3", {}, "Unresolved incidents by fault"), faults),
      el("div", {}, el("h3", {}, "By product model"), models)),
    trends,
    el("h3", { id: "devices" }, "Devices"), deviceList);

  function drawCards() {
    const online = [...devices.values()].filter((d) => d.online).length;
    const total = devices.size;
    const unresolved = summary ? summary.unresolved_incidents : 0;
    cards.replaceChildren(
      el("div", { class: "card" }, el("div", { class: "muted" }, "Online now"),
        el("div", { class: "figure good", id: "online-count" }, String(online)),
        el("div", {}, `of ${total} device${total === 1 ? "" : "s"}`)),
      el("div", { class: "card" }, el("div", { class: "muted" }, "Offline"),
        el("div", { class: total - online ? "figure bad" : "figure", id: "offline-count" }, String(total - online)),
        el("div", {}, total - online ? el("a", { href: "#devices" }, "see which") : "every device is reporting")),
      el("div", { class: "card" }, el("div", { class: "muted" }, "Unresolved incidents"),
        el("div", { class: unresolved ? "figure warn" : "figure" }, String(unresolved)),
        el("div", {}, el("a", { href: "#/incidents" }, "open the incident list"))),
    );
  }

  /** A model's row with its online count from the live device list (newer than the summary). */
  function live(m) {
    const mine = [...devices.values()].filter((d) => d.model === m.model);
    return mine.length ? { ...m, devices: mine.length, online: mine.filter((d) => d.online).length } : m;
  }

  function drawBreakdowns() {
    const rows = summary.signatures.map((s) => ({
      label: faultName(s.signature), value: s.unresolved,
      href: "#/incidents?signature=" + encodeURIComponent(s.signature),
    }));
    faults.replaceChildren(rows.length ? barList(rows, null, "warn")
      : el("p", { class: "empty" }, summary.trend.some((p) => p.opened)
        ? "No unresolved incidents: every fault so far was fixed."
        : "No incidents yet: the first faults appear within a minute."));
    models.replaceChildren(summary.models.length
      ? el("div", { class: "table-wrap" }, el("table", {},
          el("thead", {}, el("tr", {}, el("th", {}, "Model"), el("th", {}, "Online"), el("th", {}, "Unresolved incidents"))),
          el("tbody", {}, summary.models.map(live).map((m) => el("tr", {},
            el("td", {}, m.model ? el("a", { href: "#/incidents?model=" + encodeURIComponent(m.model) }, m.model) : "unknown model"),
            el("td", {}, `${m.online} of ${m.devices}`),
            el("td", {}, String(m.unresolved_incidents)))))))
      : el("p", { class: "empty" }, "No devices yet: they appear as soon as one reports."));
  }

  let stopCharts = [];
  function drawTrends() {
    stopCharts.forEach((s) => s());
    const bucketMs = summary.bucket_s * 1000;
    const per = summary.bucket_s >= 6 * 3600 ? "quarter day" : "hour";
    const last = span === "week" ? "week" : "day";
    const opened = summary.trend.map((p) => ({ t: new Date(p.start).getTime(), v: p.opened }));
    const reporting = summary.trend.map((p) => ({ t: new Date(p.start).getTime(), v: p.reporting }));
    const total = opened.reduce((a, p) => a + p.v, 0);
    const peak = Math.max(0, ...reporting.map((p) => p.v));
    const openedBox = el("div", { class: "chart-box" });
    const reportingBox = el("div", { class: "chart-box" });
    const toggle = el("div", { class: "segmented", role: "group", "aria-label": "Trend window" },
      ["day", "week"].map((s) => el("button", { type: "button", "aria-pressed": String(s === span), onclick: () => { span = s; load(); } }, "Last " + s)));
    trends.replaceChildren(
      el("h3", {}, "Trends"), toggle,
      el("div", { class: "grid-2" },
        el("figure", {}, openedBox, el("figcaption", {}, `Incidents opened per ${per} over the last ${last}: ${total} in all.`)),
        el("figure", {}, reportingBox, el("figcaption", {}, `Devices reporting per ${per} (online then): at most ${peak}.`))),
    );
    const when = (p) => new Date(p.t).toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
    stopCharts = [
      responsive(openedBox, (width) => columnChart({ width, title: `Incidents opened per ${per}`, desc: `${total} incidents opened over the last ${last}.`, points: opened, bucketMs, label: (p) => `${when(p)}: ${p.v} opened` })),
      responsive(reportingBox, (width) => columnChart({ width, title: `Devices reporting per ${per}`, desc: `At most ${peak} devices reported in one ${per} over the last ${last}.`, points: reporting, bucketMs, label: (p) => `${when(p)}: ${p.v} reporting` })),
    ];
  }

  function drawDevices() {
    const rows = [...devices.values()].sort((a, b) => (a.online - b.online) || a.id.localeCompare(b.id));
    deviceList.replaceChildren(rows.length
      ? el("div", { class: "table-wrap" }, el("table", { class: "device-table" },
          el("thead", {}, el("tr", {}, el("th", {}, "Device"), el("th", {}, "State"), el("th", {}, "Last heard"))),
          el("tbody", {}, rows.map((d) => el("tr", {},
            el("td", {}, el("a", { href: "#/incidents?device=" + encodeURIComponent(d.id) }, d.id), el("div", { class: "raw" }, d.model || "")),
            el("td", {}, onlinePill(d.online)),
            el("td", {}, d.last_seen ? ago(d.last_seen, serverNow()) : "never"))))))
      : el("p", { class: "empty" }, "No devices yet: they appear as soon as one reports."));
  }

  async function load() {
    try {
      const [s, list] = await Promise.all([api("/fleet/summary?span=" + span), api("/devices")]);
      summary = s;
      syncClock(s.now, s.clock_speed);
      devices = new Map(list.map((d) => [d.id, d]));
      drawCards(); drawBreakdowns(); drawTrends(); drawDevices();
    } catch (e) {
      fail(e);
    }
  }

  const refreshSummary = throttle(async () => {
    try {
      summary = await api("/fleet/summary?span=" + span);
      syncClock(summary.now, summary.clock_speed);
      drawCards(); drawBreakdowns(); drawTrends();
    } catch (e) {
      fail(e);
    }
  }, 5000);

  stops.push(on("device", (d) => {
    if (!summary || d.online === undefined) return;
    const known = devices.get(d.id);
    devices.set(d.id, { ...(known || { id: d.id, last_seen: null }), model: d.model ?? known?.model, online: d.online, last_seen: new Date(serverNow()).toISOString() });
    drawCards(); drawDevices();
    if (summary) drawBreakdowns();
    refreshSummary();
  }));
  stops.push(on("incident", () => { if (summary) refreshSummary(); }));
  load();
  return () => { stops.forEach((s) => s()); stopCharts.forEach((s) => s()); };
}

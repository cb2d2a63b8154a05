// One incident: what happened in words, its telemetry as a chart (the fault window shaded,
// the normal band, each fix marked with its outcome), the fixes as a timeline in words,
// why it was escalated, and the service team's verdict. Live: the incident's own events
// update it in place.
"use strict";
import { api, ago, el, say, when } from "/static/common.js";
import { timeChart } from "/static/chart.js";
import { serverNow } from "/static/service/clock.js";
import { on, throttle } from "/static/service/state.js";
import { faultName, fill, responsive, statusPill } from "/static/service/parts.js";
import { actionLabel, deviceSaid, duration, explain, metricLabel, number, outcome, unitOf } from "/static/service/words.js";

const WIDTHS = [[30, "30s"], [60, "1m"], [120, "2m"], [300, "5m"], [600, "10m"], [900, "15m"], [1800, "30m"], [3600, "1h"], [7200, "2h"], [21600, "6h"], [43200, "12h"], [86400, "1d"]];
const RAW_SPAN_S = 6 * 3600;
const TARGET_POINTS = 240;

const ms = (t) => new Date(t).getTime();
const iso = (t) => new Date(t).toISOString();

/** The stretch of time the chart shows: the fault with some normal time before it, and
 *  every fix's verification after it. */
export function chartRange(incident) {
  const [faultFrom, faultTo] = (incident.anomaly_window || incident.evidence_window).map(ms);
  let to = faultTo;
  for (const a of incident.fix_attempts || []) {
    to = Math.max(to, ms(a.sent_at), a.result_at ? ms(a.result_at) : 0, a.evidence_window ? ms(a.evidence_window[1]) : 0);
  }
  const length = Math.max(to - faultFrom, 10 * 60e3);
  const from = Math.min(ms(incident.evidence_window[0]), faultFrom - 0.4 * length);
  return { from, to: to + 0.08 * (to - from), faultFrom, faultTo };
}

/** Raw samples for a short range, buckets of a round width for a long one. */
export function telemetryQuery(deviceId, range) {
  const spanS = (range.to - range.from) / 1000;
  const params = new URLSearchParams({ since: iso(range.from), until: iso(range.to) });
  if (spanS <= RAW_SPAN_S) params.set("limit", "2000");
  else {
    const [, bucket] = WIDTHS.find(([w]) => spanS / w <= TARGET_POINTS) || WIDTHS.at(-1);
    params.set("bucket", bucket);
    params.set("limit", "1000");
  }
  return `/devices/${encodeURIComponent(deviceId)}/telemetry?${params}`;
}

/** Per metric, the points to draw: [{t, v, lo?, hi?}]. */
function series(telemetry) {
  const out = {};
  if (telemetry.buckets && telemetry.buckets.length) {
    const half = (telemetry.bucket_s || 0) * 500;
    for (const b of telemetry.buckets) {
      for (const [name, s] of Object.entries(b.metrics)) {
        (out[name] ||= []).push({ t: ms(b.start) + half, v: s.mean, lo: s.min, hi: s.max });
      }
    }
  } else {
    for (const p of telemetry.points) {
      for (const [name, v] of Object.entries(p.metrics)) (out[name] ||= []).push({ t: ms(p.ts), v });
    }
  }
  return out;
}

/** The fix timeline in words: "10:02 restarted the radio — the device said done —
 *  verified in the telemetry at 10:05". */
export function attemptSentence(a) {
  const parts = [`${when(a.sent_at)}: ${actionLabel(a.action)}`, deviceSaid(a)];
  const result = outcome(a);
  if (result === "verified") {
    parts.push(a.evidence_window ? `verified in the telemetry at ${when(a.evidence_window[1])}` : "verified in the telemetry");
  } else if (result === "failed") {
    parts.push("not verified" + (a.detail && a.result_state === "done" ? `: ${a.detail}` : a.detail ? ` (${a.detail})` : ""));
  } else {
    parts.push("waiting for the telemetry to show recovery");
  }
  return parts.join(" — ");
}

function caption(incident, metric, points, band, range) {
  const unit = unitOf(metric);
  const values = points.map((p) => p.hi ?? p.v).filter(Number.isFinite);
  const peak = values.length ? Math.max(...values) : null;
  const bits = [`${metricLabel(metric)} from ${when(range.from)} to ${when(range.to)}`];
  bits.push(`the fault (shaded) from ${when(range.faultFrom)} for ${duration((range.faultTo - range.faultFrom) / 1000)}`);
  if (band) bits.push(`normal range ${number(band.low, unit)} to ${number(band.high, unit)} (${band.source === "detector" ? "as the detector learned it" : "from the readings before the fault"}, green)`);
  if (peak !== null) bits.push(`highest reading ${number(peak, unit)}`);
  const attempts = incident.fix_attempts || [];
  if (attempts.length) bits.push(attempts.map((a) => `fix ${a.number}, ${actionLabel(a.action)} (${when(a.sent_at)}): ${outcome(a)}`).join("; "));
  return bits.join("; ") + ".";
}

export function incidentView(container, route, { fail }) {
  const id = Number(route.id);
  let incident = null;
  let telemetry = null;
  let metric = null;
  let stopChart = () => {};
  const region = el("p", { role: "status", class: "muted" });
  const head = el("div", {});
  const story = el("div", {});
  const chartArea = el("div", {});
  const fixes = el("div", {});
  const verdict = el("div", { class: "verdict" });
  container.append(el("p", {}, el("a", { href: "#/incidents" }, "← All incidents")), head, story, chartArea, fixes, verdict);

  function drawHead() {
    head.replaceChildren(
      el("h2", {}, `Incident ${incident.id}: `, faultName(incident.signature)),
      el("div", { class: "meta" },
        statusPill(incident.status),
        el("span", {}, "device ", el("a", { href: "#/incidents?device=" + encodeURIComponent(incident.device_id) }, incident.device_id)),
        incident.model ? el("span", {}, incident.model) : null,
        el("span", {}, `opened ${when(incident.opened_at)} (${ago(incident.opened_at, serverNow())})`),
        incident.resolved_at ? el("span", {}, `resolved ${when(incident.resolved_at)}`) : null),
    );
  }

  function drawStory() {
    const said = explain(incident);
    fill(story,
      el("h3", {}, "What happened"),
      el("p", {}, said.join(" ")),
      incident.escalation || incident.status === "escalated"
        ? el("div", { class: "card", role: "note" }, el("strong", { class: "warn" }, "Escalated to people: "),
            incident.escalation || "self-healing could not fix it.")
        : null,
    );
  }

  function drawChart() {
    stopChart();
    const all = series(telemetry);
    const names = Object.keys(all).sort();
    if (!names.length) {
      chartArea.replaceChildren(el("h3", {}, "Telemetry"), el("p", { class: "empty" }, "No telemetry from this device around the incident."));
      return;
    }
    const wanted = incident.explanation && incident.explanation.metric;
    const signal = names.find((n) => /rssi|signal/.test(n));
    const fallback = incident.signature.startsWith("connectivity/") && signal ? signal : names[0];
    if (!metric || !all[metric]) metric = all[wanted] ? wanted : fallback;
    const range = chartRange(incident);
    const band = incident.baseline ? incident.baseline[metric] : null;
    const marks = (incident.fix_attempts || []).map((a) => ({ t: ms(a.sent_at), label: `fix ${a.number}: ${outcome(a)}`, kind: outcome(a) }));
    const box = el("div", { class: "chart-box" });
    const picker = names.length > 1
      ? el("label", { for: "metric" }, "Metric", el("select", { id: "metric", onchange: (e) => { metric = e.target.value; drawChart(); } },
          names.map((n) => el("option", { value: n, selected: n === metric }, metricLabel(n) + (unitOf(n) ? ` (${unitOf(n)})` : "")))))
      : null;
    const points = all[metric];
    fill(chartArea,
      el("h3", {}, "Telemetry"), picker,
      el("figure", { id: "incident-chart" }, box,
        el("div", { class: "legend", "aria-hidden": "true" },
          el("span", { class: "l-line" }, metricLabel(metric)),
          band ? el("span", { class: "l-band" }, "normal range") : null,
          el("span", { class: "l-shade" }, "the fault"),
          marks.length ? el("span", { class: "l-fix" }, "a fix sent") : null),
        el("figcaption", {}, caption(incident, metric, points, band, range))),
    );
    const draw = (width) => timeChart({
      width, height: width < 500 ? 220 : 260,
      title: `${metricLabel(metric)} around incident ${incident.id}`,
      desc: caption(incident, metric, points, band, range),
      points, band, unit: unitOf(metric), from: range.from, to: range.to,
      shade: { from: range.faultFrom, to: range.faultTo, label: "fault" }, marks,
    });
    stopChart = responsive(box, draw);
  }

  function drawFixes() {
    const attempts = incident.fix_attempts || [];
    fixes.replaceChildren(el("h3", {}, "What self-healing did"), attempts.length
      ? el("ol", { class: "timeline", id: "fix-attempts" }, attempts.map((a) => el("li", { class: outcome(a) }, attemptSentence(a))))
      : el("p", { class: "empty" }, incident.status === "resolved"
          ? "No fix was needed: the fault cleared by itself."
          : "No fix sent yet: self-healing picks one within a minute when the playbook has one."));
  }

  function drawVerdict() {
    const note = el("textarea", { id: "verdict-note", maxlength: "500" });
    const decided = incident.verdict
      ? el("p", { class: "card", id: "verdict-result" },
          el("strong", {}, incident.verdict === "confirmed" ? "Confirmed as a real fault" : "Marked as a false alarm"),
          ` ${when(incident.verdict_at)}`, incident.verdict_note ? ` — “${incident.verdict_note}”` : "",
          incident.explanation && incident.explanation.verdict_effect ? el("span", { class: "muted" }, ` ${incident.explanation.verdict_effect}`) : null)
      : el("p", { class: "muted", id: "verdict-result" }, "No verdict yet.");
    async function send(kind) {
      try {
        const updated = await api(`/incidents/${id}/verdict`, { method: "POST", body: { verdict: kind, note: note.value.trim() } });
        incident = { ...incident, ...updated, fix_attempts: incident.fix_attempts.length ? incident.fix_attempts : updated.fix_attempts };
        say(region, kind === "confirmed" ? "Saved: confirmed as a real fault." : "Saved: marked as a false alarm; detection on this device was tuned.", "info");
        drawHead(); drawVerdict();
      } catch (e) {
        fail(e);
      }
    }
    verdict.replaceChildren(
      el("h3", {}, "Your verdict"), decided,
      el("form", { onsubmit: (e) => e.preventDefault() },
        el("label", { for: "verdict-note" }, "Note (optional)", note),
        el("div", { class: "buttons" },
          el("button", { type: "button", onclick: () => send("confirmed") }, "Confirm: a real fault"),
          el("button", { type: "button", class: "secondary", onclick: () => send("false_positive") }, "Mark as a false alarm"))),
      region,
    );
  }

  async function loadTelemetry() {
    try {
      telemetry = await api(telemetryQuery(incident.device_id, chartRange(incident)));
      drawChart();
    } catch (e) {
      fail(e);
    }
  }
  const refetchTelemetry = throttle(loadTelemetry, 10000);

  async function load() {
    try {
      incident = await api(`/incidents/${id}`);
      drawHead(); drawStory(); drawFixes(); drawVerdict();
      chartArea.replaceChildren(el("h3", {}, "Telemetry"), el("p", { class: "muted" }, "Loading the telemetry…"));
      await loadTelemetry();
    } catch (e) {
      if (e.status === 404) head.replaceChildren(el("h2", {}, `Incident ${route.id}`), el("p", { class: "empty" }, "There is no such incident."));
      else fail(e);
    }
  }

  const stop = on("incident", (changed) => {
    if (!incident || changed.id !== id) return;
    const before = JSON.stringify(incident.fix_attempts) + incident.status;
    const faultFrom = incident.anomaly_window ? incident.anomaly_window[0] : changed.evidence_window[0];
    incident = { ...incident, ...changed, anomaly_window: [faultFrom, changed.evidence_window[1]] };
    drawHead(); drawStory(); drawFixes();
    if (!verdict.contains(document.activeElement)) drawVerdict();
    if (before !== JSON.stringify(incident.fix_attempts) + incident.status) {
      refetchTelemetry();
    }
  });
  load();
  return () => { stop(); stopChart(); };
}

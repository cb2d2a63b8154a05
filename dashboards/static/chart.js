// Charts drawn as SVG by our own code (no library): a time chart with a shaded window,
// a normal band and event marks; a column chart of counts per time bucket; an interval
// bar for a rate and its uncertainty. Each chart carries <title> and <desc> (its text
// alternative) and is drawn at the width it is given, so its text stays readable on a
// phone: redraw it when its container changes width.
"use strict";

const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function frame(width, height, title, desc) {
  const id = "c" + Math.random().toString(36).slice(2, 9);
  return svg(
    "svg",
    { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`, class: "chart" },
    svg("title", { id: `${id}-t` }, title),
    svg("desc", { id: `${id}-d` }, desc),
  );
}

/** Round tick values covering [low, high]. */
export function ticks(low, high, count = 4) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

function short(value) {
  const size = Math.abs(value);
  if (size >= 10000) return (value / 1000).toFixed(0) + "k";
  return value.toFixed(size >= 100 || Number.isInteger(value) ? 0 : size >= 10 ? 1 : 2);
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayClock = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });

/** A line over time. `points`: [{t (ms), v, lo?, hi?}] (lo/hi draw a min–max ribbon);
 *  `band`: {low, high} the normal range; `shade`: {from, to} the anomaly window (ms);
 *  `marks`: [{t, label, kind: "verified"|"failed"|"pending"}]; `unit` for the axis. */
export function timeChart({ width = 640, height = 240, title, desc, points, band, shade, marks = [], unit = "", from, to }) {
  const chart = frame(width, height, title, desc);
  const left = 48, right = 12, top = 14, bottom = 30;
  const plotW = Math.max(40, width - left - right), plotH = height - top - bottom;
  const t0 = from ?? Math.min(...points.map((p) => p.t)), t1 = to ?? Math.max(...points.map((p) => p.t));
  const values = points.flatMap((p) => [p.lo ?? p.v, p.hi ?? p.v]).filter(Number.isFinite);
  if (band) values.push(band.low, band.high);
  let low = Math.min(...values), high = Math.max(...values);
  if (!Number.isFinite(low)) { low = 0; high = 1; }
  if (high - low < 1e-9) { low -= 1; high += 1; }
  const pad = (high - low) * 0.08;
  low -= pad; high += pad;
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * plotW;
  const y = (v) => top + (1 - (v - low) / (high - low)) * plotH;
  const clampX = (t) => Math.min(left + plotW, Math.max(left, x(t)));

  if (shade) {
    const a = clampX(shade.from), b = clampX(shade.to);
    chart.append(svg("rect", { x: a, y: top, width: Math.max(2, b - a), height: plotH, class: "chart-shade" }));
    chart.append(svg("text", { x: a + 4, y: top + 12, class: "chart-note" }, shade.label || "fault"));
  }
  if (band) {
    const a = y(band.high), b = y(band.low);
    chart.append(svg("rect", { x: left, y: a, width: plotW, height: Math.max(1.5, b - a), class: "chart-band" }));
  }
  for (const v of ticks(low, high)) {
    chart.append(svg("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: "chart-grid" }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "chart-axis" }, short(v)));
  }
  if (unit) chart.append(svg("text", { x: 4, y: top + 2, class: "chart-axis" }, unit));
  const span = t1 - t0;
  const tickCount = Math.max(2, Math.floor(plotW / 90));
  for (let i = 0; i <= tickCount; i++) {
    const t = t0 + (span * i) / tickCount;
    const fmt = span > 20 * 3600e3 ? dayClock : clock;
    const anchor = i === 0 ? "start" : i === tickCount ? "end" : "middle";
    chart.append(svg("text", { x: x(t), y: height - 10, "text-anchor": anchor, class: "chart-axis" }, fmt.format(new Date(t))));
  }
  // Break the line where readings stop (a device offline): more than 3 usual gaps.
  const sorted = points.filter((p) => Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  const gaps = sorted.slice(1).map((p, i) => p.t - sorted[i].t).sort((a, b) => a - b);
  const usual = gaps.length ? gaps[Math.floor(gaps.length / 2)] : Infinity;
  const runs = [];
  for (const p of sorted) {
    const last = runs.at(-1);
    if (!last || p.t - last.at(-1).t > 3 * usual) runs.push([p]);
    else last.push(p);
  }
  for (const run of runs) {
    if (run.some((p) => p.lo !== undefined)) {
      const upper = run.map((p) => `${x(p.t)},${y(p.hi)}`);
      const lower = run.slice().reverse().map((p) => `${x(p.t)},${y(p.lo)}`);
      chart.append(svg("polygon", { points: [...upper, ...lower].join(" "), class: "chart-range" }));
    }
    if (run.length === 1) chart.append(svg("circle", { cx: x(run[0].t), cy: y(run[0].v), r: 2.5, class: "chart-dot" }));
    else chart.append(svg("polyline", { points: run.map((p) => `${x(p.t)},${y(p.v)}`).join(" "), class: "chart-line" }));
  }
  marks.forEach((m, i) => {
    const at = clampX(m.t);
    chart.append(svg("line", { x1: at, x2: at, y1: top, y2: top + plotH, class: `chart-mark chart-${m.kind}` }));
    const label = svg("text", { x: at, y: top + plotH - 4 - (i % 2) * 14, "text-anchor": at > left + plotW - 60 ? "end" : "start", class: `chart-marklabel chart-${m.kind}` }, m.label);
    chart.append(label);
  });
  chart.append(svg("rect", { x: left, y: top, width: plotW, height: plotH, class: "chart-frame" }));
  return chart;
}

/** Columns of counts per time bucket: `points` [{t (ms), v}], `width_ms` per bucket. */
export function columnChart({ width = 640, height = 160, title, desc, points, bucketMs, label = (v) => String(v) }) {
  const chart = frame(width, height, title, desc);
  const left = 32, right = 8, top = 10, bottom = 26;
  const plotW = Math.max(40, width - left - right), plotH = height - top - bottom;
  const high = Math.max(1, ...points.map((p) => p.v));
  const slot = plotW / Math.max(1, points.length);
  for (const v of ticks(0, high, 3).filter(Number.isInteger)) {
    const yy = top + (1 - v / high) * plotH;
    chart.append(svg("line", { x1: left, x2: left + plotW, y1: yy, y2: yy, class: "chart-grid" }));
    chart.append(svg("text", { x: left - 5, y: yy + 4, "text-anchor": "end", class: "chart-axis" }, short(v)));
  }
  points.forEach((p, i) => {
    const h = (p.v / high) * plotH;
    const bar = svg("rect", { x: left + i * slot + slot * 0.12, y: top + plotH - h, width: Math.max(1, slot * 0.76), height: h, class: "chart-column" });
    bar.append(svg("title", {}, label(p)));
    chart.append(bar);
  });
  const fmt = bucketMs >= 6 * 3600e3 ? dayClock : clock;
  const every = Math.max(1, Math.ceil(points.length / Math.max(2, Math.floor(plotW / 70))));
  points.forEach((p, i) => {
    if (i % every) return;
    chart.append(svg("text", { x: left + i * slot + slot / 2, y: height - 8, "text-anchor": "middle", class: "chart-axis" }, fmt.format(new Date(p.t))));
  });
  chart.append(svg("line", { x1: left, x2: left + plotW, y1: top + plotH, y2: top + plotH, class: "chart-axisline" }));
  return chart;
}

/** A rate's credible interval on a 0–100 % scale, with its mean as a dot. */
export function intervalBar({ width = 200, height = 26, low, high, mean, title }) {
  const chart = frame(width, height, title, title);
  const left = 6, plotW = width - 12, mid = height / 2;
  const x = (r) => left + r * plotW;
  chart.append(svg("line", { x1: left, x2: left + plotW, y1: mid, y2: mid, class: "chart-track" }));
  for (const r of [0, 0.5, 1]) chart.append(svg("line", { x1: x(r), x2: x(r), y1: mid - 5, y2: mid + 5, class: "chart-track" }));
  chart.append(svg("rect", { x: x(low), y: mid - 5, width: Math.max(2, x(high) - x(low)), height: 10, rx: 3, class: "chart-interval" }));
  chart.append(svg("circle", { cx: x(mean), cy: mid, r: 5, class: "chart-mean" }));
  return chart;
}

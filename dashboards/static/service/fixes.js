// Fix efficacy: per fault and product model, how often each fix was verified to work in
// the telemetry, as a likely rate with its 90 % credible interval (few outcomes, wide).
"use strict";
import { api, el } from "/static/common.js";
import { intervalBar } from "/static/chart.js";
import { on, throttle } from "/static/service/state.js";
import { faultName, responsive } from "/static/service/parts.js";
import { actionLabel, percent } from "/static/service/words.js";

/** "worked 1 of 1 times; likely about 67 % (90 % sure: between 22 % and 97 %)". */
export function rateSentence(r) {
  const tried = r.successes + r.failures;
  const record = tried ? `worked ${r.successes} of ${tried} time${tried === 1 ? "" : "s"}` : "not judged yet";
  return `${record}; likely about ${percent(r.rate_mean)} (90% sure: between ${percent(r.rate_low)} and ${percent(r.rate_high)})`;
}

export function fixesView(container, route, { fail }) {
  const body = el("div", {});
  let stops = [];
  container.append(el("h2", {}, "Fix efficacy"),
    el("p", { class: "muted" }, "Only outcomes the telemetry verified count. The bar is where the success rate most likely lies (90% sure); the dot is the best guess. Few outcomes give a wide bar."),
    body);

  function draw(records) {
    stops.forEach((s) => s());
    stops = [];
    if (!records.length) {
      body.replaceChildren(el("p", { class: "empty" }, "No fixes judged yet: the first fix is verified within a few minutes of the first fault."));
      return;
    }
    const bySignature = new Map();
    for (const r of records) {
      if (!bySignature.has(r.signature)) bySignature.set(r.signature, []);
      bySignature.get(r.signature).push(r);
    }
    body.replaceChildren(...[...bySignature.entries()].sort().map(([signature, rows]) =>
      el("section", { class: "card" }, faultName(signature, "h3"),
        el("ul", { class: "list" }, rows.sort((a, b) => b.rate_mean - a.rate_mean).map((r) => {
          const box = el("div", { class: "chart-box" });
          const text = `${r.model}: ${actionLabel(r.action)} — ${rateSentence(r)}`;
          stops.push(responsive(box, (width) => intervalBar({ width: Math.min(width, 260), low: r.rate_low, high: r.rate_high, mean: r.rate_mean, title: text })));
          return el("li", { class: "fix-row" },
            el("div", {}, el("strong", {}, actionLabel(r.action).replace(/^./, (c) => c.toUpperCase())),
              el("span", { class: "raw" }, ` ${r.action} · ${r.model}`), el("div", {}, rateSentence(r))),
            box);
        })))));
  }

  async function load() {
    try {
      draw(await api("/fixes"));
    } catch (e) {
      fail(e);
    }
  }
  const reload = throttle(load, 5000);
  const stop = on("incident", (incident) => {
    if ((incident.fix_attempts || []).some((a) => a.verified !== null)) reload();
  });
  load();
  return () => { stop(); stops.forEach((s) => s()); };
}

// The incident list: newest first, filtered by status, fault, model and device (the
// filters live in the address, so a filtered list can be shared and Back works), and
// kept current by live `incident` events: a new incident appears at the top at once.
"use strict";
import { api, ago, el, when } from "/static/common.js";
import { serverNow } from "/static/service/clock.js";
import { on } from "/static/service/state.js";
import { faultName, statusPill } from "/static/service/parts.js";
import { actionLabel, outcome, signatureLabel } from "/static/service/words.js";

const LIMIT = 200;
const STATUSES = [["", "Any status"], ["open", "Open"], ["mitigating", "Being fixed"], ["escalated", "Escalated to people"], ["resolved", "Resolved"]];
const FILTERS = ["status", "signature", "model", "device"];

function matches(incident, query) {
  return (!query.get("status") || incident.status === query.get("status"))
    && (!query.get("signature") || incident.signature === query.get("signature"))
    && (!query.get("model") || incident.model === query.get("model"))
    && (!query.get("device") || incident.device_id === query.get("device"));
}

/** One line about what self-healing did so far. */
export function fixSummary(incident) {
  const attempts = incident.fix_attempts || [];
  if (!attempts.length) return incident.status === "escalated" ? "no fix could be tried" : "no fix sent yet";
  const last = attempts.at(-1);
  const said = { verified: "worked", failed: "did not work", pending: "being checked" }[outcome(last)];
  const count = attempts.length === 1 ? "1 fix" : `${attempts.length} fixes`;
  return `${count}; last: ${actionLabel(last.action)}, ${said}`;
}

function item(incident, fresh) {
  return el("li", { class: fresh ? "fresh" : null, "data-incident": incident.id },
    el("a", { class: "title", href: `#/incidents/${incident.id}` },
      `Incident ${incident.id}: ${signatureLabel(incident.signature)}`),
    " ", statusPill(incident.status),
    incident.verdict ? [" ", el("span", { class: "pill verdict" },
      incident.verdict === "false_positive" ? "marked a false alarm" : "confirmed a real fault")] : null,
    el("div", { class: "meta" },
      el("span", {}, incident.device_id),
      el("span", { class: "raw" }, incident.signature),
      el("span", { title: when(incident.opened_at) }, "opened " + when(incident.opened_at) + " (" + ago(incident.opened_at, serverNow()) + ")"),
      el("span", {}, fixSummary(incident))));
}

export function incidentsView(container, route, { fail }) {
  const query = route.query;
  const shown = new Map();
  const list = el("ul", { class: "list", "aria-live": "polite", "aria-relevant": "additions" });
  const counter = el("p", { class: "muted" });
  const filters = el("form", { class: "filters", role: "search", "aria-label": "Filter incidents" });
  container.append(el("h2", {}, "Incidents"), filters, counter, list);

  function select(name, label, options) {
    const current = query.get(name) || "";
    if (current && !options.some(([v]) => v === current)) options.push([current, current]);
    const control = el("select", { id: "f-" + name, name }, options.map(([v, text]) =>
      el("option", { value: v, selected: v === current }, text)));
    control.addEventListener("change", () => {
      const next = new URLSearchParams();
      for (const f of FILTERS) {
        const value = f === name ? control.value : query.get(f);
        if (value) next.set(f, value);
      }
      location.hash = "#/incidents" + (next.toString() ? "?" + next : "");
    });
    return el("label", { for: "f-" + name }, label, control);
  }

  function drawFilters(devices, signatures) {
    const models = [...new Set(devices.map((d) => d.model).filter(Boolean))].sort();
    filters.replaceChildren(
      select("status", "Status", STATUSES.slice()),
      select("signature", "Fault", [["", "Any fault"], ...signatures.map((s) => [s, signatureLabel(s)])]),
      select("model", "Model", [["", "Any model"], ...models.map((m) => [m, m])]),
      select("device", "Device", [["", "Any device"], ...devices.map((d) => [d.id, d.id])]),
      ...(FILTERS.some((f) => query.get(f)) ? [el("a", { href: "#/incidents", class: "button secondary" }, "Clear filters")] : []),
    );
  }

  function drawCount() {
    const n = shown.size;
    const filtered = FILTERS.some((f) => query.get(f));
    counter.textContent = n
      ? `${n}${n >= LIMIT ? "+" : ""} incident${n === 1 ? "" : "s"}${filtered ? " match the filters" : ""}, newest first.`
      : "";
    if (!n) {
      list.replaceChildren(el("li", { class: "empty" }, filtered
        ? "No incident matches these filters."
        : "No incidents yet: the first faults appear within a minute."));
    }
  }

  async function load() {
    const params = new URLSearchParams({ limit: String(LIMIT) });
    for (const f of FILTERS) if (query.get(f)) params.set(f, query.get(f));
    try {
      const [incidents, devices, signatures] = await Promise.all([
        api("/incidents?" + params), api("/devices"), api("/signatures").catch(() => []),
      ]);
      const names = new Set([...signatures.map((s) => s.signature), ...incidents.map((i) => i.signature)]);
      drawFilters(devices, [...names].sort());
      list.replaceChildren();
      for (const incident of incidents) {
        shown.set(incident.id, incident);
        list.append(item(incident, false));
      }
      drawCount();
    } catch (e) {
      fail(e);
    }
  }

  const stop = on("incident", (incident) => {
    const existing = list.querySelector(`[data-incident="${incident.id}"]`);
    if (!matches(incident, query)) {
      if (existing) { existing.remove(); shown.delete(incident.id); drawCount(); }
      return;
    }
    if (existing) {
      existing.replaceWith(item(incident, existing.classList.contains("fresh")));
    } else {
      if (!shown.size) list.replaceChildren();
      const newer = [...list.children].find((li) => Number(li.dataset.incident) < incident.id);
      list.insertBefore(item(incident, true), newer || null);
    }
    shown.set(incident.id, incident);
    drawCount();
  });
  load();
  return stop;
}

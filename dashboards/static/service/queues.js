// The team's work: campaigns with their batches, the outreach queue with where each
// delivery stands, the support queue with its SLA clocks (ticking here once a minute, no
// refetch), and the activation funnel. Live events replace the one item that changed.
"use strict";
import { api, el, when } from "/static/common.js";
import { serverNow } from "/static/service/clock.js";
import { on, throttle } from "/static/service/state.js";
import { barList } from "/static/service/parts.js";
import { actionLabel, duration, percent } from "/static/service/words.js";

/** "due in 3 h" / "overdue by 20 min" / "met" for one SLA clock. */
export function slaText(due, doneAt, now) {
  if (doneAt) {
    const late = new Date(doneAt) - new Date(due);
    return late > 0 ? `done ${duration(late / 1000)} late` : "met";
  }
  const left = (new Date(due).getTime() - now) / 1000;
  return left >= 0 ? `due in ${duration(left)}` : `overdue by ${duration(-left)}`;
}

const CHANNELS = { in_app: "in the app", email: "by email", sms: "by text message", webhook: "by webhook" };
const STATES = ["verified", "failed", "verifying", "sent", "queued"];
const CAMPAIGN_STATUS = { running: "running", paused: "paused", done: "finished", aborted: "aborted" };

function campaignCard(c) {
  const total = Math.max(1, c.devices);
  const batches = c.failure_rate_by_batch.map((rate, i) =>
    `batch ${i + 1}${i === 0 ? " (canary)" : ""}: ${rate === null ? "not judged yet" : percent(rate) + " failed"}`);
  return el("li", { "data-campaign": c.id },
    el("strong", {}, `Campaign ${c.id}: ${actionLabel(c.action)}`), " ",
    el("span", { class: `pill ${c.status === "paused" || c.status === "aborted" ? "warn" : ""}` }, CAMPAIGN_STATUS[c.status] || c.status),
    el("div", { class: "meta" },
      el("span", {}, `${c.devices} device${c.devices === 1 ? "" : "s"} in ${c.batches} batch${c.batches === 1 ? "" : "es"}`),
      c.cohort && c.cohort.model ? el("span", {}, c.cohort.model) : null,
      el("span", {}, "started " + when(c.created_at))),
    el("div", { class: "progress", role: "img", "aria-label": STATES.filter((s) => c.progress[s]).map((s) => `${c.progress[s]} ${s}`).join(", ") || "nothing sent yet" },
      STATES.map((s) => c.progress[s] ? el("span", { class: "p-" + s, style: `width: ${(100 * c.progress[s]) / total}%` }) : null)),
    el("div", { class: "meta" }, STATES.filter((s) => c.progress[s]).map((s) => el("span", {}, `${c.progress[s]} ${s}`))),
    el("div", { class: "meta" }, batches.map((b) => el("span", {}, b))),
    c.reason ? el("p", { class: "warn" }, c.reason) : null);
}

function outreachCard(item) {
  const deliveries = item.deliveries || [];
  return el("li", { "data-outreach": item.id },
    el("strong", {}, `${item.device_id}: ${item.kind.replace(/_/g, " ")}`), " ",
    el("span", { class: `pill ${item.urgency === "high" || item.urgency === "critical" ? "bad" : ""}` }, item.status),
    item.reason ? el("p", {}, item.reason) : null,
    el("div", { class: "meta" },
      el("span", {}, `urgency ${item.urgency}`),
      el("span", {}, "created " + when(item.created_at)),
      item.predicted_failure_at ? el("span", {}, "failure expected " + when(item.predicted_failure_at)) : null,
      item.booked ? el("span", {}, "visit booked " + when(item.booked.start)) : null),
    deliveries.length
      ? el("ul", { class: "meta" }, deliveries.map((d) => el("li", {},
          `${CHANNELS[d.channel] || d.channel}: ${d.state}${d.sent_at ? " " + when(d.sent_at) : ""}${d.attempts > 1 ? `, ${d.attempts} tries` : ""}${d.last_error ? ` (${d.last_error})` : ""}`)))
      : el("div", { class: "meta" }, "not sent yet"));
}

function supportCard(r) {
  const clocks = el("div", { class: "meta sla-clocks" });
  const card = el("li", { "data-support": r.id },
    el("strong", {}, `Request ${r.id} — ${r.device_id}: ${r.category.replace(/_/g, " ")}`), " ",
    el("span", { class: "pill" }, r.status),
    el("p", {}, r.description),
    el("div", { class: "meta" }, el("span", {}, "opened " + when(r.created_at)),
      el("span", {}, r.diagnostics === "device" ? "diagnostics from the device" : r.diagnostics === "cloud" ? "diagnostics from the cloud" : "collecting diagnostics")),
    clocks);
  card.tick = () => {
    if (!r.sla) return;
    const now = serverNow();
    const first = slaText(r.sla.first_response_due, r.sla.first_response_at, now);
    const done = slaText(r.sla.resolution_due, r.sla.resolved_at, now);
    clocks.replaceChildren(
      el("span", { class: "sla " + (first.startsWith("overdue") ? "bad" : "") }, "first response: " + first),
      el("span", { class: "sla " + (done.startsWith("overdue") ? "bad" : "") }, "resolution: " + done));
  };
  card.tick();
  return card;
}

function section(id, title, intro) {
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  return { body, node: el("section", { id, "aria-labelledby": id + "-h" }, el("h3", { id: id + "-h" }, title), intro ? el("p", { class: "muted" }, intro) : null, body) };
}

export function queuesView(container, route, { fail }) {
  const campaigns = section("campaigns", "Campaigns");
  const outreach = section("outreach", "Outreach queue");
  const support = section("support", "Support queue", "SLA clocks count in the service's time.");
  const funnel = section("funnel", "Activation funnel");
  container.append(el("h2", {}, "Campaigns & queues"),
    el("nav", { class: "toc", "aria-label": "On this page" },
      ["campaigns", "outreach", "support", "funnel"].map((id) => el("a", { href: `#/work?at=${id}` }, { campaigns: "Campaigns", outreach: "Outreach", support: "Support", funnel: "Activation funnel" }[id]))),
    campaigns.node, outreach.node, support.node, funnel.node);

  function fill(part, items, make, empty) {
    part.body.replaceChildren(items.length ? el("ul", { class: "list" }, items.map(make)) : el("p", { class: "empty" }, empty));
  }
  function replaceItem(part, attr, id, node) {
    const list = part.body.querySelector("ul.list");
    const old = part.body.querySelector(`[data-${attr}="${id}"]`);
    if (old) old.replaceWith(node);
    else if (list) list.prepend(node);
    else part.body.replaceChildren(el("ul", { class: "list" }, node));
  }

  function drawFunnel(f) {
    const rows = f.steps.map((s) => ({ label: s.id.replace(/_/g, " "), value: s.done }));
    funnel.body.replaceChildren(f.devices
      ? el("div", {},
          el("p", {}, `${f.activated} of ${f.devices} devices fully set up` +
            (f.median_time_to_activate_s ? `; half of them within ${duration(f.median_time_to_activate_s)}` : "") + "."),
          barList(rows, f.devices),
          f.most_common_failing_check ? el("p", { class: "warn" }, `Most common failing check: ${f.most_common_failing_check.check.replace(/_/g, " ")} (${f.most_common_failing_check.devices} devices).`) : null)
      : el("p", { class: "empty" }, "No devices set up yet."));
  }

  async function load() {
    try {
      const [c, o, s, f] = await Promise.all([api("/campaigns"), api("/outreach?limit=100"), api("/support?limit=100"), api("/activation/funnel")]);
      fill(campaigns, c.slice().reverse(), campaignCard, "No campaigns yet: start one with POST /api/v1/campaigns to push a fix to a cohort, canary first.");
      fill(outreach, o, outreachCard, "Nothing in the outreach queue: owners are contacted here before a part fails or when a fix needs a visit.");
      fill(support, s, supportCard, "No support requests.");
      drawFunnel(f);
      const at = route.query.get("at");
      if (at) document.getElementById(at)?.scrollIntoView();
    } catch (e) {
      fail(e);
    }
  }
  const refreshFunnel = throttle(async () => {
    try { drawFunnel(await api("/activation/funnel")); } catch (e) { fail(e); }
  }, 5000);
  const one = (path, part, attr, make) => async (event) => {
    try { replaceItem(part, attr, event.id, make(await api(`${path}/${event.id}`))); } catch (e) { fail(e); }
  };
  const stops = [
    on("campaign", one("/campaigns", campaigns, "campaign", campaignCard)),
    on("outreach", one("/outreach", outreach, "outreach", outreachCard)),
    on("support", one("/support", support, "support", supportCard)),
    on("setup", refreshFunnel),
  ];
  const ticker = setInterval(() => {
    for (const card of support.body.querySelectorAll("[data-support]")) if (card.tick) card.tick();
  }, 60_000);
  load();
  return () => { stops.forEach((s) => s()); clearInterval(ticker); };
}

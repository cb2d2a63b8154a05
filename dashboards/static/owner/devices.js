// My devices: each device's health in plain words (GET /devices/{id}/health), what the
// owner can do, and what happened lately; refreshed when its incidents, outreach,
// setup or connection change.
import { api, el, onDay, when } from "/static/common.js";
import { STATE, nameOf } from "/static/owner/words.js";

function drawHealth(card, device, health) {
  card.className = "card device " + health.state;
  const headline = health.headline.replace("{day}", health.headline_at ? onDay(health.headline_at) : "lately");
  card.replaceChildren(...[
    el("div", { class: "row" },
      el("h3", {}, nameOf(health)),
      el("span", { class: "pill " + health.state }, STATE[health.state] || health.state)),
    el("p", { class: "meta muted" }, device.id),
    el("p", { class: "headline" }, headline),
    health.advice ? el("p", {}, el("strong", {}, "What you can do: "), health.advice) : null,
    health.visit_at ? el("p", {}, el("strong", {}, "Visit booked: "), when(health.visit_at)) : null,
    health.events.length
      ? el("details", { open: health.state !== "ok" },
          el("summary", {}, "What happened lately"),
          el("ul", { class: "events" },
            health.events.map((e) => el("li", {}, el("time", { datetime: e.at }, when(e.at)), e.text))))
      : null,
  ].filter(Boolean));
}

export function devicesView(ctx) {
  const list = el("div", { class: "stack", "aria-live": "polite" });
  const section = el("section", { "aria-labelledby": "devices-h" },
    el("h2", { id: "devices-h" }, "My devices"), list);
  const cards = new Map();

  async function refresh(id) {
    const card = cards.get(id);
    const device = ctx.devices.get(id);
    if (!card || !device) return;
    try {
      drawHealth(card, device, await api(`/devices/${encodeURIComponent(id)}/health`));
    } catch (e) {
      card.replaceChildren(el("h3", {}, nameOf(device)), el("p", { class: "bad" }, e.message));
    }
  }

  async function load() {
    cards.clear();
    if (!ctx.devices.size) {
      list.replaceChildren(el("p", { class: "empty" },
        "No devices yet. Add yours with the code on its box under “Add device”."));
      return;
    }
    list.replaceChildren();
    for (const device of ctx.devices.values()) {
      const card = el("article", { class: "card device", "data-device": device.id },
        el("h3", {}, nameOf(device)), el("p", { class: "muted" }, "Checking how it is…"));
      cards.set(device.id, card);
      list.append(card);
    }
    await Promise.all([...cards.keys()].map(refresh));
  }

  const byDevice = (data) => refresh(data.device_id);
  return {
    id: "devices",
    label: "My devices",
    section,
    load,
    events: {
      incident: byDevice,
      outreach: byDevice,
      setup: byDevice,
      device: (data) => refresh(data.id),
    },
  };
}

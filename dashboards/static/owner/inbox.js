// Messages: outreach items (book a visit, ask for another time, say no, be reminded
// later, rate a fix 1-5) and support requests (ask for help; see replies), live from
// `outreach` and `support` events.
import { api, el, when } from "/static/common.js";
import { CATEGORY, ITEM_STATUS, KIND, SUPPORT_STATUS, nameOf } from "/static/owner/words.js";

const OPEN = new Set(["new", "scheduled", "delivered", "booked", "rescheduled", "snoozed"]);
const WAITING = new Set(["delivered", "snoozed"]);
const VISIT = new Set(["wear_out", "incident_escalated"]);
const REMIND_AFTER_MS = 3 * 86400000;
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function slotText(slot) {
  return `${when(slot.start)} to ${clock.format(new Date(slot.end))}`;
}

export function inboxView(ctx) {
  const items = new Map();
  const requests = new Map();
  const itemList = el("div", { class: "stack", "aria-live": "polite" });
  const requestList = el("div", { class: "stack", "aria-live": "polite" });
  const supportForm = el("form", { class: "stack card", onsubmit: sendRequest });
  const section = el("section", { "aria-labelledby": "inbox-h" },
    el("h2", { id: "inbox-h" }, "Messages"), itemList,
    el("h2", { id: "help-h" }, "Ask for help"), supportForm,
    el("h2", { id: "requests-h" }, "Your requests"), requestList);
  let view;

  // -- outreach items ---------------------------------------------------------------
  async function answer(item, body, card) {
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    try {
      items.set(item.id, await api(`/outreach/${item.id}/response`, { method: "POST", body }));
    } catch (e) {
      ctx.error(e);
    }
    drawItems();
  }

  function visitActions(item, card) {
    const actions = [];
    if (item.slots.length && item.status !== "booked") {
      actions.push(el("fieldset", {},
        el("legend", {}, "Pick a time for the visit"),
        el("div", { class: "slots" }, item.slots.map((slot) =>
          el("button", { type: "button", onclick: () => answer(item, { response: "book", slot_start: slot.start }, card) },
            "Book " + slotText(slot))))));
    }
    actions.push(el("div", { class: "row" },
      el("button", { type: "button", class: "secondary", onclick: () => answer(item, { response: "reschedule" }, card) },
        item.status === "booked" ? "Change the time" : "None of these times suit me"),
      el("button", { type: "button", class: "secondary", onclick: () => answer(item, { response: "decline" }, card) },
        item.status === "booked" ? "Cancel the visit" : "No thanks"),
      item.status === "booked" ? null : el("button", {
        type: "button", class: "secondary",
        onclick: () => answer(item, { response: "snooze", until: new Date(Date.now() + REMIND_AFTER_MS).toISOString() }, card),
      }, "Remind me in 3 days")));
    return actions;
  }

  function ratingActions(item, card) {
    let rating = null;
    const send = el("button", { type: "submit", disabled: true }, "Send");
    const comment = el("textarea", { id: `comment-${item.id}`, rows: 2, maxlength: 2000 });
    const buttons = [1, 2, 3, 4, 5].map((n) => el("button", {
      type: "button", "aria-pressed": "false", "aria-label": `${n} of 5`,
      onclick: (event) => {
        rating = n;
        for (const b of buttons) b.setAttribute("aria-pressed", String(b === event.currentTarget));
        send.disabled = false;
      },
    }, String(n)));
    const form = el("form", {
      class: "stack",
      onsubmit: (event) => {
        event.preventDefault();
        const text = comment.value.trim();
        answer(item, text ? { response: "rate", rating, text } : { response: "rate", rating }, card);
      },
    },
    el("fieldset", {}, el("legend", {}, "Your rating: 1 is bad, 5 is great"), el("div", { class: "rating" }, buttons)),
    el("label", { for: comment.id }, "Anything to add? (optional)"), comment, send);
    return [form];
  }

  function itemCard(item) {
    const device = ctx.devices.get(item.device_id);
    const card = el("article", { class: "card", "data-item": item.id });
    const open = OPEN.has(item.status);
    let actions = [];
    if (open && item.kind === "feedback_question") actions = ratingActions(item, card);
    else if (open && VISIT.has(item.kind)) actions = visitActions(item, card);
    else if (open) {
      actions = [el("button", { type: "button", class: "secondary", onclick: () => answer(item, { response: "decline" }, card) }, "Dismiss")];
    }
    const status = item.status === "booked" && item.booked
      ? `Visit booked: ${slotText(item.booked)}.`
      : ITEM_STATUS[item.status];
    card.append(...[
      el("div", { class: "row" },
        el("h3", {}, KIND[item.kind] || "A message from us"),
        item.urgency === "high" || item.urgency === "critical"
          ? el("span", { class: "pill warn" }, item.urgency === "critical" ? "Urgent: safety" : "Soon") : null),
      el("p", { class: "meta muted" }, `${nameOf(device)} · ${when(item.delivered_at || item.created_at)}`),
      el("p", {}, item.reason),
      item.action ? el("p", {}, el("strong", {}, "What we suggest: "), item.action) : null,
      status ? el("p", { class: open ? "good" : "muted" }, status) : null,
      ...actions,
    ].filter(Boolean));
    return card;
  }

  function drawItems() {
    const all = [...items.values()];
    const sorted = [...all.filter((i) => OPEN.has(i.status)), ...all.filter((i) => !OPEN.has(i.status))];
    itemList.replaceChildren(...(sorted.length
      ? sorted.map(itemCard)
      : [el("p", { class: "empty" }, "No messages: we will write when something needs you.")]));
    ctx.setBadge(view, all.filter((i) => WAITING.has(i.status)).length);
  }

  // -- support requests -------------------------------------------------------------
  function drawForm() {
    const devices = [...ctx.devices.values()];
    if (!devices.length) {
      supportForm.replaceChildren(el("p", { class: "empty" }, "Add a device first: help requests are about one of your devices."));
      return;
    }
    supportForm.replaceChildren(
      el("label", { for: "support-device" }, "Device"),
      el("select", { id: "support-device", name: "device_id" },
        devices.map((d) => el("option", { value: d.id }, `${nameOf(d)} (${d.id})`))),
      el("label", { for: "support-category" }, "What is it about?"),
      el("select", { id: "support-category", name: "category" },
        Object.entries(CATEGORY).map(([value, text]) => el("option", { value }, text))),
      el("label", { for: "support-description" }, "What is happening?"),
      el("textarea", {
        id: "support-description", name: "description", rows: 3, maxlength: 2000, required: true,
        placeholder: "For example: it stopped heating this morning and shows a red light.",
      }),
      el("p", { class: "muted" }, "We attach your device's diagnostics for our service team; nothing personal is included."),
      el("button", { type: "submit" }, "Send request"),
    );
  }

  async function sendRequest(event) {
    event.preventDefault();
    const data = new FormData(supportForm);
    try {
      const filed = await api("/support", {
        method: "POST",
        body: { device_id: data.get("device_id"), category: data.get("category"), description: String(data.get("description") || "") },
      });
      requests.set(filed.id, filed);
      supportForm.reset();
      ctx.info("Thank you: your request is with our service team. Their replies appear below.");
      drawRequests();
    } catch (e) {
      ctx.error(e.status === 422 ? new Error("Please describe the problem in a few words.") : e);
    }
  }

  function requestCard(request) {
    const device = ctx.devices.get(request.device_id);
    return el("article", { class: "card", "data-request": request.id },
      el("div", { class: "row" },
        el("h3", {}, CATEGORY[request.category] || "Request"),
        el("span", { class: "pill" + (request.status === "resolved" ? " good" : "") }, SUPPORT_STATUS[request.status] || request.status)),
      el("p", { class: "meta muted" }, `${nameOf(device)} · sent ${when(request.created_at)}`),
      el("p", {}, request.description),
      request.replies.length ? el("div", { class: "replies" }, request.replies.map((r) =>
        el("p", {}, el("strong", {}, "Our service team, " + when(r.at) + ": "), r.text))) : null,
      request.resolution ? el("p", { class: "good" }, el("strong", {}, "Resolved: "), request.resolution) : null,
    );
  }

  function drawRequests() {
    const all = [...requests.values()].sort((a, b) => b.id - a.id);
    requestList.replaceChildren(...(all.length
      ? all.map(requestCard)
      : [el("p", { class: "empty" }, "No requests yet. If something is wrong, tell us above.")]));
  }

  async function load() {
    const [inbox, support] = await Promise.all([api("/outreach"), api("/support")]);
    items.clear();
    for (const item of inbox) items.set(item.id, item);
    requests.clear();
    for (const request of support) requests.set(request.id, request);
    drawItems();
    drawForm();
    drawRequests();
  }

  async function refetch(map, path, id, draw) {
    try {
      map.set(id, await api(`${path}/${id}`));
    } catch (e) {
      if (e.status !== 404) throw e; // not delivered yet, or gone: nothing to show
      map.delete(id);
    }
    draw();
  }

  view = {
    id: "inbox",
    label: "Messages",
    section,
    load,
    events: {
      outreach: (data) => refetch(items, "/outreach", data.id, drawItems),
      support: (data) => refetch(requests, "/support", data.id, drawRequests),
    },
  };
  return view;
}

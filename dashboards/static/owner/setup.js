// Adding a device with the code on its box (POST /claims) and its setup checklist
// (GET /devices/{id}/setup): the device ticks its own steps as its self-checks pass
// (live, from `setup` events), the owner ticks theirs with a button, and a step that
// failed shows what to do.
import { api, el, when } from "/static/common.js";
import { STEP, nameOf } from "/static/owner/words.js";

const CLAIM_ERRORS = {
  404: "That code does not match any device. Check it against the label on the box: 16 letters and digits (there is no 0, O, 1 or I).",
  409: "This device belongs to another account. If you bought it second-hand, ask the seller to release it first.",
  422: "That does not look like a code from the box: it has 16 letters and digits, like 7KQM-X3PA-9WVT-HN2C.",
  429: "Too many wrong codes in a row. Please wait a few minutes, then try again.",
};

export function setupView(ctx) {
  const claimMessage = el("p", { role: "status", class: "muted" });
  const codeInput = el("input", {
    id: "claim-code", name: "claim_code", autocomplete: "off", autocapitalize: "characters",
    spellcheck: "false", placeholder: "XXXX-XXXX-XXXX-XXXX", required: true,
  });
  const claimForm = el("form", { class: "stack card", onsubmit: claim },
    el("h3", {}, "Add a device"),
    el("label", { for: "claim-code" }, "Code on the box"),
    codeInput,
    el("button", { type: "submit" }, "Add device"),
    claimMessage);
  const list = el("div", { class: "stack" });
  const section = el("section", { "aria-labelledby": "setup-h" },
    el("h2", { id: "setup-h" }, "Add and set up a device"), claimForm, list);
  const cards = new Map();

  async function claim(event) {
    event.preventDefault();
    const code = codeInput.value.trim();
    claimMessage.textContent = "";
    try {
      const claimed = await api("/claims", { method: "POST", body: { claim_code: code } });
      const known = ctx.devices.has(claimed.device_id);
      await ctx.reloadDevices();
      codeInput.value = "";
      const name = nameOf(ctx.devices.get(claimed.device_id));
      claimMessage.className = "good";
      claimMessage.textContent = known
        ? `${name} is yours already. Its setup is below.`
        : `${name} added. Let's set it up: the steps are below.`;
      await Promise.all(ctx.views.map((v) => v.load().catch(ctx.error)));
    } catch (e) {
      claimMessage.className = "bad";
      claimMessage.textContent = CLAIM_ERRORS[e.status] || e.message;
    }
  }

  function stepItem(device, step) {
    const [mark, said] = STEP[step.state] || ["?", step.state];
    const body = el("div", { class: "body" },
      el("strong", {}, step.title),
      el("p", { class: step.state === "failed" ? "bad" : step.state === "done" ? "good" : "muted" },
        step.state === "done" && step.done_at ? `${said} ${when(step.done_at)}` : said));
    if (step.state === "failed" && step.help) body.append(el("p", {}, step.help));
    if (step.state === "pending" && step.help) body.append(el("p", { class: "muted" }, step.help));
    if (step.state === "needs_owner") {
      if (step.instructions) body.append(el("p", {}, step.instructions));
      if (step.id === "owner_preferences") {
        body.append(el("button", { type: "button", onclick: () => ctx.go("preferences") },
          step.next_action || "Set preferences"));
      } else {
        body.append(el("button", { type: "button", onclick: () => complete(device, step) },
          "Mark as done"));
      }
    }
    return el("li", { "data-step": step.id, "data-state": step.state },
      el("span", { class: "mark", "aria-hidden": "true" }, mark), body);
  }

  function draw(device, setup) {
    const card = cards.get(device.id);
    if (!card) return;
    const done = setup.steps.filter((s) => s.state === "done").length;
    card.replaceChildren(...[
      el("h3", {}, nameOf(device)),
      el("p", { class: "meta muted" }, device.id),
      setup.activated
        ? el("p", { class: "good" }, "All set up. Nothing left to do.")
        : el("p", {}, `${done} of ${setup.steps.length} steps done.`),
      device.reported ? null : el("p", { class: "warn" },
        "It has not been in touch yet: plug it in and connect it to your Wi-Fi. It checks itself when it starts."),
      el("ol", { class: "steps", "aria-label": `Setup steps of your ${device.name}` },
        setup.steps.map((s) => stepItem(device, s))),
    ].filter(Boolean));
  }

  async function complete(device, step, quiet = false) {
    try {
      draw(device, await api(`/devices/${encodeURIComponent(device.id)}/setup/${step.id}`, { method: "POST" }));
    } catch (e) {
      if (!quiet) ctx.error(e);
    }
  }

  async function refresh(id) {
    const device = ctx.devices.get(id);
    if (!device || !cards.has(id)) return;
    try {
      draw(device, await api(`/devices/${encodeURIComponent(id)}/setup`));
    } catch (e) {
      cards.get(id).replaceChildren(el("h3", {}, nameOf(device)), el("p", { class: "bad" }, e.message));
    }
  }

  async function load() {
    cards.clear();
    list.replaceChildren();
    if (!ctx.devices.size) {
      list.append(el("p", { class: "empty" }, "No devices yet: type the code from the box above to add one."));
      return;
    }
    for (const device of ctx.devices.values()) {
      const card = el("article", { class: "card", "data-device": device.id }, el("h3", {}, nameOf(device)));
      cards.set(device.id, card);
      list.append(card);
    }
    await Promise.all([...cards.keys()].map(refresh));
  }

  /** After the owner saved their preferences: tick that step on every device. */
  ctx.preferencesSaved = async () => {
    for (const device of ctx.devices.values()) {
      await complete(device, { id: "owner_preferences" }, true); // a model without the step: 404
    }
  };

  return {
    id: "setup",
    label: "Add device",
    section,
    load,
    events: {
      setup: (data) => refresh(data.device_id),
      device: async (data) => {
        const device = ctx.devices.get(data.id);
        if (device && !device.reported) {
          await ctx.reloadDevices();
          await refresh(data.id);
        }
      },
    },
  };
}

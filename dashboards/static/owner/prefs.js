// How we may contact the owner (GET/PUT /owners/me/preferences): channels (the app
// always; email; a webhook for an SMS or push gateway, whose signing secret is shown
// once), quiet hours and the time zone (the browser's by default). Windows, the cap and
// learned habits are kept as they are.
import { api, el } from "/static/common.js";

const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

function hhmm(value, fallback) {
  return value ? String(value).slice(0, 5) : fallback;
}

export function prefsView(ctx) {
  const form = el("form", { class: "stack card", onsubmit: save });
  const secretBox = el("div", { "aria-live": "polite" });
  const section = el("section", { "aria-labelledby": "prefs-h" },
    el("h2", { id: "prefs-h" }, "How we contact you"), secretBox, form);
  let stored = null;

  function draw(answer) {
    stored = answer.preferences;
    const p = stored;
    const zone = answer.is_default ? BROWSER_ZONE : p.time_zone;
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    const quiet = p.quiet_hours;
    form.replaceChildren(...[
      el("fieldset", {},
        el("legend", {}, "Where we reach you"),
        el("label", { class: "inline" }, el("input", { type: "checkbox", checked: true, disabled: true }), "In this app (always)"),
        el("label", { class: "inline" }, el("input", { type: "checkbox", name: "use_email", checked: !!p.email }), "By email"),
        el("label", {}, "Email address", el("input", { type: "email", name: "email", value: p.email || "", autocomplete: "email" })),
        el("label", { class: "inline" }, el("input", { type: "checkbox", name: "use_webhook", checked: !!p.webhook_url }), "Through a webhook (an SMS or push gateway)"),
        el("label", {}, "Webhook address", el("input", { type: "url", name: "webhook_url", value: p.webhook_url || "", placeholder: "https://…" })),
      ),
      el("fieldset", {},
        el("legend", {}, "Quiet hours"),
        el("label", { class: "inline" }, el("input", { type: "checkbox", name: "use_quiet", checked: !!quiet }), "No messages at night, except for safety"),
        el("div", { class: "row" },
          el("label", {}, "From", el("input", { type: "time", name: "quiet_start", value: hhmm(quiet && quiet.start, "21:00") })),
          el("label", {}, "Until", el("input", { type: "time", name: "quiet_end", value: hhmm(quiet && quiet.end, "08:00") }))),
      ),
      el("label", {}, "Your time zone",
        el("input", { name: "time_zone", value: zone, list: "zones", autocomplete: "off", required: true })),
      el("datalist", { id: "zones" }, zones.map((z) => el("option", { value: z }))),
      answer.is_default ? el("p", { class: "muted" }, "These are our defaults until you save your own; the time zone is your browser's.") : null,
      el("button", { type: "submit" }, "Save preferences"),
    ].filter(Boolean));
  }

  async function save(event) {
    event.preventDefault();
    const data = new FormData(form);
    const email = data.get("use_email") ? String(data.get("email") || "").trim() : "";
    const webhook = data.get("use_webhook") ? String(data.get("webhook_url") || "").trim() : "";
    if (data.get("use_email") && !email) return ctx.error(new Error("Please type the email address to reach you at."));
    if (data.get("use_webhook") && !webhook) return ctx.error(new Error("Please type the webhook address."));
    const body = {
      ...stored,
      email: email || null,
      webhook_url: webhook || null,
      time_zone: String(data.get("time_zone") || BROWSER_ZONE).trim(),
      quiet_hours: data.get("use_quiet")
        ? { start: data.get("quiet_start") || "21:00", end: data.get("quiet_end") || "08:00" }
        : null,
    };
    const enabled = new Set(["in_app", ...(body.email ? ["email"] : []), ...(body.webhook_url ? ["webhook"] : [])]);
    if (body.preferred_channel && !enabled.has(body.preferred_channel)) body.preferred_channel = null;
    try {
      const answer = await api("/owners/me/preferences", { method: "PUT", body });
      draw(answer);
      secretBox.replaceChildren();
      if (answer.webhook_secret) {
        secretBox.append(el("div", { class: "card" },
          el("p", {}, el("strong", {}, "Your webhook's secret. "),
            "We sign every webhook message with it. Copy it now: it is shown only this once."),
          el("p", { class: "secret" }, answer.webhook_secret)));
      }
      ctx.info("Saved. We will contact you this way from now on.");
      if (ctx.preferencesSaved) await ctx.preferencesSaved();
    } catch (e) {
      ctx.error(e);
    }
  }

  return {
    id: "preferences",
    label: "Preferences",
    section,
    load: async () => draw(await api("/owners/me/preferences")),
  };
}

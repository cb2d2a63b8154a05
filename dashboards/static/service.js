// The service dashboard: sign-in, the sections (fleet, incidents, fix efficacy, campaigns
// and queues) behind hash routes such as #/incidents/12, and live updates from
// /api/v1/events handed to whichever view is showing.
import { api, el, listen, say, signIn, signOut, useToken } from "/static/common.js";
import { emit } from "/static/service/state.js";
import { syncClock } from "/static/service/clock.js";
import { fleetView } from "/static/service/fleet.js";
import { incidentsView } from "/static/service/incidents.js";
import { incidentView } from "/static/service/incident.js";
import { fixesView } from "/static/service/fixes.js";
import { queuesView } from "/static/service/queues.js";

const KEY = "aftercare.service";
const alertRegion = document.getElementById("alert");
const root = document.getElementById("root");
const tabs = document.getElementById("tabs");
const live = document.getElementById("live");

const SECTIONS = [
  { path: "fleet", title: "Fleet", view: fleetView },
  { path: "incidents", title: "Incidents", view: incidentsView },
  { path: "fixes", title: "Fix efficacy", view: fixesView },
  { path: "work", title: "Campaigns & queues", view: queuesView },
];

/** `#/incidents/12?status=open` -> {path: "incidents", id: "12", query}. */
export function parseRoute(hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const [section = "", id = null] = path.split("/");
  const known = SECTIONS.some((s) => s.path === section);
  return { path: known ? section : "fleet", id: known ? id : null, query: new URLSearchParams(search) };
}

let cleanup = () => {};
let started = false;
let stopListening = () => {};

function showTabs(current) {
  tabs.hidden = false;
  tabs.replaceChildren(
    ...SECTIONS.map((s) =>
      el("a", { href: "#/" + s.path, "aria-current": s.path === current ? "page" : null }, s.title)),
    el("button", { type: "button", class: "secondary", onclick: () => { signOut(KEY); stopListening(); showSignIn(""); } }, "Sign out"),
  );
}

/** Show the view the address names; `focus` moves keyboard focus to its heading (on a
 *  navigation, not on the first load). */
function route(focus = false) {
  cleanup();
  const where = parseRoute(location.hash);
  showTabs(where.path);
  const section = SECTIONS.find((s) => s.path === where.path);
  const view = where.path === "incidents" && where.id ? incidentView : section.view;
  const container = el("section", { class: "view", "aria-label": section.title });
  root.replaceChildren(container);
  say(alertRegion, "");
  cleanup = view(container, where, { fail }) || (() => {});
  if (focus) {
    const heading = container.querySelector("h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
  }
}

/** What every view does with a failed request: plain words, or the sign-in form. */
function fail(error) {
  if (error && error.name === "AbortError") return;
  if (error && error.status === 401) {
    signOut(KEY);
    stopListening();
    showSignIn(error.message);
    return;
  }
  say(alertRegion, error && error.message ? error.message : String(error));
}

function setLive(state) {
  live.dataset.state = state;
  live.textContent = { live: "live", reconnecting: "reconnecting…", "signed-out": "signed out" }[state] || state;
  if (state === "signed-out") fail({ status: 401, message: "Your sign-in has expired or the link is not valid any more. Please sign in again." });
}

/** Signed in: learn the service's clock (the demo runs it fast), then listen and show
 *  the view the address names. */
async function start() {
  try {
    const summary = await api("/fleet/summary");
    syncClock(summary.now, summary.clock_speed);
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      signOut(KEY);
      showSignIn(e.status === 403 ? "That is not a service token: this dashboard is for the service team." : e.message);
      return;
    }
    fail(e);
  }
  stopListening = listen(
    {
      incident: (d) => emit("incident", d),
      device: (d) => emit("device", d),
      setup: (d) => emit("setup", d),
      outreach: (d) => emit("outreach", d),
      support: (d) => emit("support", d),
      campaign: (d) => emit("campaign", d),
      resync: () => route(),
    },
    setLive,
  );
  if (!started) {
    started = true;
    addEventListener("hashchange", () => route(true));
  }
  route();
}

function showSignIn(message) {
  cleanup();
  cleanup = () => {};
  tabs.hidden = true;
  live.textContent = "";
  const input = el("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true });
  const form = el(
    "form",
    { class: "card sign-in" },
    el("h2", {}, "Sign in"),
    el("p", {}, "Open the dashboard link the demo printed, or paste a service token (",
      el("code", {}, "aftercare cloud token --role service"), " prints one)."),
    el("label", { for: "token" }, "Service token", input),
    el("p", {}, el("button", { type: "submit" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    useToken(KEY, input.value.trim());
    say(alertRegion, "");
    start();
  });
  root.replaceChildren(form);
  say(alertRegion, message);
  input.focus();
}

if (signIn(KEY)) start();
else showSignIn("");

// The manufacturer view: simulation runs recorded by `aftercare sim run --api`, newest
// first, whether each passed, and per run what each expectation found, in words. Loads
// the list once, then adds runs as the live updates announce them.
import { api, el, listen, say, signIn, signOut, useToken, when } from "/static/common.js";

const KEY = "aftercare.manufacturer";
const alertRegion = document.getElementById("alert");
const root = document.getElementById("root");
const form = document.getElementById("sign-in");
const signOutButton = document.getElementById("sign-out");
const live = document.getElementById("live");

const state = { runs: [], show: "all", open: null, fresh: new Set(), stop: null };

/** "42 s", "3 min 5 s", "2 h 10 min": how long a run took. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min` + (s % 60 ? ` ${s % 60} s` : "");
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h` + (m % 60 ? ` ${m % 60} min` : "");
}

function amount(value) {
  if (value === null || value === undefined) return null;
  return Number.isInteger(value) ? value.toLocaleString() : Number(value.toPrecision(4)).toLocaleString();
}

function plural(n, word) {
  return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
}

function badge(passed) {
  return el("span", { class: "badge " + (passed ? "passed" : "failed") }, passed ? "✓ Passed" : "✗ Failed");
}

function held(run) {
  const total = run.expectations.length;
  if (!total) return "no expectations checked";
  return `${run.expectations_held} of ${plural(total, "expectation")} held`;
}

function byNewest(a, b) {
  return new Date(b.finished_at) - new Date(a.finished_at) || b.id - a.id;
}

function visible() {
  if (state.show === "failed") return state.runs.filter((r) => !r.passed);
  if (state.show === "passed") return state.runs.filter((r) => r.passed);
  return state.runs;
}

function emptyState() {
  const command = `aftercare sim run scenario.yaml --api ${location.origin}/api/v1 --token …`;
  return el("p", { class: "empty" }, "No simulation runs yet. Run ", el("code", {}, command),
    " and the result appears here.");
}

function runItem(run) {
  const open = state.open === run.id;
  return el("li", { class: "card", "data-run": run.id, "aria-current": open ? "true" : null },
    el("div", { class: "run-head" },
      badge(run.passed),
      el("button", { type: "button", class: "link", "aria-expanded": String(open),
        onclick: () => openRun(run.id, true) }, run.scenario),
      state.fresh.has(run.id) ? el("span", { class: "badge new" }, "new") : null),
    el("p", { class: "run-meta muted" },
      [when(run.finished_at), `took ${duration(run.duration_s)}`, plural(run.devices, "device"), held(run)]
        .join(" · ")));
}

function expectationItem(e) {
  const numbers = [];
  if (amount(e.measured) !== null) numbers.push(`measured ${amount(e.measured)}`);
  if (amount(e.limit) !== null) numbers.push(`limit ${amount(e.limit)}`);
  const shown = e.devices.slice(0, 12);
  const rest = e.devices.slice(12);
  return el("li", { class: "card expectation " + (e.passed ? "held" : "failed") },
    el("div", { class: "run-head" },
      el("span", { class: "badge " + (e.passed ? "passed" : "failed") }, e.passed ? "✓ Held" : "✗ Failed"),
      el("code", {}, e.name)),
    el("p", {}, e.detail),
    numbers.length ? el("p", { class: "muted" }, numbers.join(" · ")) : null,
    e.devices.length
      ? el("div", {},
          el("span", { class: "muted" }, `Devices involved (${e.devices.length}):`),
          el("ul", { class: "devices" }, shown.map((d) => el("li", {}, d))),
          rest.length
            ? el("details", {}, el("summary", {}, `${rest.length} more`),
                el("ul", { class: "devices" }, rest.map((d) => el("li", {}, d))))
            : null)
      : null);
}

function detail(run) {
  const deviceTime = run.duration_s * run.speed;
  const facts = [
    ["Ran", `${when(run.started_at)}, for ${duration(run.duration_s)}`],
    ["Device time", `×${run.speed.toLocaleString()}: about ${duration(deviceTime)} of device time`],
    ["Fleet", `${plural(run.devices, "device")}` + (run.models.length ? `: ${run.models.join(", ")}` : "")],
    ["Scenario file", run.scenario_file || "not given"],
    ["Seed", String(run.seed)],
    ["Reported by", run.reported_by || "not given"],
  ];
  const failed = run.expectations.filter((e) => !e.passed).length;
  return el("section", { id: "detail", "aria-labelledby": "detail-title" },
    el("h2", { id: "detail-title", tabindex: "-1" }, run.scenario, " ", badge(run.passed)),
    el("p", {}, run.passed
      ? "Every expectation of this scenario held."
      : failed
        ? `${plural(failed, "expectation")} did not hold: see why below.`
        : "The run failed, though no expectation says why: see its summary."),
    el("dl", { class: "facts" }, facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    run.summary ? el("pre", { class: "summary" }, run.summary) : null,
    el("h3", {}, `Expectations: ${held(run)}`),
    run.expectations.length
      ? el("ul", { class: "expectations" }, run.expectations.map(expectationItem))
      : el("p", { class: "empty" }, "This run checked no expectations."),
    el("button", { type: "button", class: "secondary", onclick: closeRun }, "Close"));
}

function filters() {
  const failed = state.runs.filter((r) => !r.passed).length;
  const options = [["all", "All runs"], ["failed", "Failed only"], ["passed", "Passed only"]];
  return el("div", { class: "filters" },
    el("p", { id: "totals" }, `${plural(state.runs.length, "run")}: ${state.runs.length - failed} passed, ${failed} failed`),
    el("fieldset", {},
      el("legend", { class: "sr-only" }, "Show"),
      options.map(([value, text]) =>
        el("label", { class: "inline" },
          el("input", { type: "radio", name: "show", value, checked: state.show === value,
            onchange: () => { state.show = value; render(); } }),
          text))));
}

function render() {
  if (!state.runs.length) {
    root.replaceChildren(emptyState());
    return;
  }
  const runs = visible();
  const open = state.runs.find((r) => r.id === state.open);
  const list = el("section", { "aria-labelledby": "runs-title" },
    el("h2", { id: "runs-title" }, "Runs, newest first"),
    runs.length
      ? el("ul", { class: "runs" }, runs.map(runItem))
      : el("p", { class: "empty" }, state.show === "failed" ? "No failed runs." : "No passed runs."));
  root.replaceChildren(
    el("p", { class: "muted" }, "Simulated fleets your tests ran with ", el("code", {}, "aftercare sim run"),
      ". A run passes when every expectation of its scenario held."),
    filters(),
    el("div", { class: "layout" + (open ? " open" : "") }, list, open ? detail(open) : null));
}

function openRun(id, focus) {
  state.open = id;
  history.replaceState(null, "", `${location.pathname}#run=${id}`);
  render();
  if (focus) {
    const title = document.getElementById("detail-title");
    if (title) {
      title.focus({ preventScroll: true });
      title.scrollIntoView({ block: "nearest" });
    }
  }
}

function closeRun() {
  const id = state.open;
  state.open = null;
  history.replaceState(null, "", location.pathname);
  render();
  const button = root.querySelector(`li[data-run="${id}"] button.link`);
  if (button) button.focus();
}

function upsert(run) {
  const known = state.runs.findIndex((r) => r.id === run.id);
  if (known >= 0) state.runs[known] = run;
  else {
    state.runs.push(run);
    state.fresh.add(run.id);
  }
  state.runs.sort(byNewest);
  render();
}

function showSignIn(message) {
  if (state.stop) state.stop();
  state.stop = null;
  signOut(KEY);
  form.hidden = false;
  signOutButton.hidden = true;
  root.replaceChildren();
  live.textContent = "";
  delete live.dataset.state;
  say(alertRegion, message, message ? "error" : undefined);
}

async function load() {
  try {
    state.runs = (await api("/sim-runs?limit=500")).sort(byNewest);
    form.hidden = true;
    signOutButton.hidden = false;
    say(alertRegion, "");
    render();
    return true;
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      showSignIn(e.status === 403
        ? "This token may not see simulation runs: sign in with a manufacturer or service token."
        : e.message);
    } else {
      say(alertRegion, e.message);
    }
    return false;
  }
}

function onLive(now) {
  if (now === "signed-out") {
    showSignIn("Your sign-in has expired or the link is not valid any more. Please sign in again.");
    return;
  }
  live.dataset.state = now;
  live.textContent = now === "live" ? "live" : "reconnecting…";
}

async function start() {
  if (!(await load())) return;
  const wanted = Number(new URLSearchParams(location.hash.slice(1)).get("run"));
  if (wanted && state.runs.some((r) => r.id === wanted)) openRun(wanted, false);
  state.stop = listen({ sim_run: upsert, resync: load }, onLive);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const field = document.getElementById("token-field");
  const value = field.value.trim();
  if (!value) return;
  useToken(KEY, value);
  field.value = "";
  start();
});

signOutButton.addEventListener("click", () => showSignIn(""));

if (signIn(KEY)) {
  start();
} else {
  showSignIn("");
  say(alertRegion, "Sign in with the link the demo printed, or paste a manufacturer token.", "info");
}

// The service dashboard (placeholder until the full dashboard lands): the fleet's devices.
import { api, el, listen, say, signIn, when } from "/static/common.js";

const alert = document.getElementById("alert");
const root = document.getElementById("root");

async function load() {
  try {
    const devices = await api("/devices");
    root.replaceChildren(
      el("h2", {}, "Devices"),
      devices.length
        ? el("table", {}, el("tbody", {}, devices.map((d) =>
            el("tr", {}, el("td", {}, d.id), el("td", {}, d.online ? "online" : "offline"),
              el("td", {}, when(d.last_seen))))))
        : el("p", { class: "empty" }, "No devices yet: they appear as soon as one reports."),
    );
    say(alert, "");
  } catch (e) {
    say(alert, e.message);
  }
}

if (signIn("aftercare.service")) {
  load();
  listen({ device: load, resync: load }, (state) => {
    const live = document.getElementById("live");
    live.dataset.state = state;
    live.textContent = state === "live" ? "live" : "reconnecting…";
  });
} else {
  say(alert, "Sign in with the link the demo printed, or a service token.");
}

// The owner app at /app: sign in (a form, or the demo's #token= link), then four views:
// my devices and their health, messages and support, adding and setting up a device,
// and how we may contact you. Each view loads once and then follows live updates.
import { api, listen, say, signIn, signOut, useToken, el } from "/static/common.js";
import { signInView } from "/static/owner/signin.js";
import { devicesView } from "/static/owner/devices.js";
import { inboxView } from "/static/owner/inbox.js";
import { setupView } from "/static/owner/setup.js";
import { prefsView } from "/static/owner/prefs.js";

const KEY = "aftercare.owner";
const alertBox = document.getElementById("alert");
const root = document.getElementById("root");
const live = document.getElementById("live");
const account = document.getElementById("account");
let stopListening = () => {};

function signedOut(message) {
  stopListening();
  signOut(KEY);
  live.textContent = "";
  account.replaceChildren();
  say(alertBox, message || "", "error");
  root.replaceChildren(
    signInView({
      alertBox,
      done: (token) => {
        useToken(KEY, token);
        say(alertBox, "");
        start();
      },
    }),
  );
}

async function start() {
  const ctx = {
    devices: new Map(),
    alertBox,
    error: (e) => say(alertBox, e.message || String(e), "error"),
    info: (text) => say(alertBox, text, "info"),
    go: (id) => { location.hash = id; },
    async reloadDevices() {
      const mine = await api("/owners/me/devices");
      ctx.devices = new Map(mine.map((d) => [d.id, d]));
      return ctx.devices;
    },
  };
  try {
    await ctx.reloadDevices();
  } catch (e) {
    if (e.status === 401) return signedOut(e.message);
    return say(alertBox, e.message, "error");
  }
  account.replaceChildren(
    el("button", { type: "button", class: "secondary", onclick: () => signedOut("") }, "Sign out"),
  );
  const views = [devicesView(ctx), inboxView(ctx), setupView(ctx), prefsView(ctx)];
  ctx.views = views;
  const nav = el("nav", { class: "tabs", "aria-label": "Views" });
  for (const view of views) {
    view.tab = el("a", { href: "#" + view.id }, view.label);
    nav.append(view.tab);
  }
  ctx.setBadge = (view, count) => {
    view.tab.textContent = count ? `${view.label} (${count})` : view.label;
  };
  root.replaceChildren(nav, ...views.map((v) => v.section));
  const show = () => {
    const wanted = location.hash.slice(1);
    const current = views.find((v) => v.id === wanted) || views[0];
    for (const view of views) {
      view.section.hidden = view !== current;
      if (view === current) view.tab.setAttribute("aria-current", "page");
      else view.tab.removeAttribute("aria-current");
    }
  };
  window.onhashchange = show;
  show();
  await Promise.all(views.map((v) => v.load().catch(ctx.error)));
  const handlers = { resync: () => views.forEach((v) => v.load().catch(ctx.error)) };
  handlers.device = async (data) => {
    if (data.device_id) {
      // a device was claimed (here or in another tab): everything that lists devices reloads
      await ctx.reloadDevices();
      views.forEach((v) => v.load().catch(ctx.error));
      return;
    }
    for (const view of views) {
      if (view.events && view.events.device) Promise.resolve(view.events.device(data)).catch(ctx.error);
    }
  };
  for (const kind of ["incident", "setup", "outreach", "support"]) {
    handlers[kind] = (data) => {
      for (const view of views) {
        const handler = view.events && view.events[kind];
        if (handler) Promise.resolve(handler(data)).catch(ctx.error);
      }
    };
  }
  stopListening = listen(handlers, (state) => {
    if (state === "signed-out") {
      signedOut("Your sign-in has expired. Please sign in again.");
      return;
    }
    live.dataset.state = state;
    live.textContent = state === "live" ? "Up to date" : "Reconnecting…";
  });
}

if (signIn(KEY)) start();
else signedOut("");

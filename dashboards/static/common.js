// Shared by every page: signing in through the URL fragment, calling the API with
// errors in plain words, live updates from /api/v1/events, readable local times and a
// small DOM builder that never parses HTML (text from the API is never markup).
"use strict";

export const API = "/api/v1";

let token = null;

/** Take the token from `#token=…` (the demo's links) or from this tab's session, under
 *  `key` so a service and an owner sign-in can live side by side. The fragment is
 *  removed from the address bar so the token is not left in history or screenshots. */
export function signIn(key) {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    sessionStorage.setItem(key, fromFragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  token = sessionStorage.getItem(key);
  return token;
}

export function useToken(key, value) {
  sessionStorage.setItem(key, value);
  token = value;
}

export function signOut(key) {
  sessionStorage.removeItem(key);
  token = null;
}

/** An API failure, with a message a person can act on. */
export class ApiError extends Error {
  constructor(status, message, detail) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d.loc ? d.loc.slice(1).join(" ") + ": " : "") + d.msg).join("; ");
  }
  return "";
}

/** What to tell a person about a failed request. */
export function plainError(status, detail) {
  const said = detailText(detail);
  if (status === 0) return "The service cannot be reached. Check your connection; we keep trying.";
  if (status === 401) return "Your sign-in has expired or the link is not valid any more. Please sign in again.";
  if (status === 403) return "This account may not see this page.";
  if (status === 404) return said ? `Not found: ${said}.` : "Not found.";
  if (status === 409) return said ? `That cannot be done now: ${said}.` : "That cannot be done now.";
  if (status === 422) return said ? `Please check what you entered: ${said}.` : "Please check what you entered.";
  if (status === 429) return "Too many tries. Please wait a few minutes and try again.";
  if (status >= 500) return "Something went wrong on our side. Please try again in a minute.";
  return said || `The request failed (${status}).`;
}

/** Call the API: `body` goes as JSON, `form` as a URL-encoded form. Resolves to the
 *  decoded JSON (null for an empty answer); rejects with an ApiError. */
export async function api(path, { method = "GET", body, form, signal } = {}) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (form !== undefined) {
    payload = new URLSearchParams(form);
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, body: payload, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, plainError(0), "");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const detail = data && typeof data === "object" ? data.detail : data;
    throw new ApiError(response.status, plainError(response.status, detail), detail);
  }
  return data;
}

/** Listen to /api/v1/events: `handlers[kind](data)` for each event (incident, device,
 *  setup, outreach, support, campaign), `handlers.resync()` after changes may have been
 *  missed (a reconnect), `onState("live" | "reconnecting")` as the connection goes.
 *  Reconnects by itself with a growing pause. Returns a function that stops it. */
export function listen(handlers, onState = () => {}) {
  const controller = new AbortController();
  let pause = 1000;
  let everConnected = false;
  async function connect() {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(API + "/events", {
          headers: { Authorization: "Bearer " + token, Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (!response.ok) throw new ApiError(response.status, plainError(response.status), "");
        if (everConnected && handlers.resync) handlers.resync();
        everConnected = true;
        pause = 1000;
        onState("live");
        await readEvents(response.body, handlers);
      } catch (e) {
        if (controller.signal.aborted) return;
        if (e instanceof ApiError && e.status === 401) {
          onState("signed-out");
          return;
        }
      }
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 15000);
    }
  }
  connect();
  return () => controller.abort();
}

async function readEvents(body, handlers) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let kind = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event: ")) kind = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (!data.length) continue;
      if (kind === "resync") {
        if (handlers.resync) handlers.resync();
        continue;
      }
      const handler = handlers[kind];
      if (handler) handler(JSON.parse(data.join("\n")));
    }
  }
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayAndClock = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
});
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "long" });
const date = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long" });

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** A time as people say it, in the browser's zone: "today 14:05", "yesterday 09:12",
 *  "Tue 3 Nov, 14:05". */
export function when(value) {
  if (value === null || value === undefined) return "";
  const d = new Date(value);
  const days = Math.round((startOfDay(new Date()) - startOfDay(d)) / 86400000);
  if (days === 0) return "today " + clock.format(d);
  if (days === 1) return "yesterday " + clock.format(d);
  if (days === -1) return "tomorrow " + clock.format(d);
  return dayAndClock.format(d);
}

/** A day as people say it: "today", "yesterday", "on Tuesday" within a week, else
 *  "on 3 November". */
export function onDay(value) {
  const d = new Date(value);
  const days = Math.round((startOfDay(new Date()) - startOfDay(d)) / 86400000);
  if (days === 0) return "today";
  if (days === 1) return "yesterday";
  if (days > 1 && days < 7) return "on " + weekday.format(d);
  return "on " + date.format(d);
}

/** How long ago (or until), roughly: "just now", "5 min ago", "in 3 h", "2 days ago". */
export function ago(value, now = Date.now()) {
  const seconds = (now - new Date(value).getTime()) / 1000;
  const future = seconds < 0;
  const s = Math.abs(seconds);
  let text;
  if (s < 45) return future ? "in a moment" : "just now";
  if (s < 3600) text = Math.round(s / 60) + " min";
  else if (s < 86400) text = Math.round(s / 3600) + " h";
  else text = Math.round(s / 86400) + (Math.round(s / 86400) === 1 ? " day" : " days");
  return future ? "in " + text : text + " ago";
}

/** `el("p", {class: "x", onclick: f}, "text", child)`: an element with attributes,
 *  listeners (on…) and children (strings become text, never markup). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Show a message in the page's alert region (role=alert), or clear it. */
export function say(region, message, kind = "error") {
  region.textContent = message || "";
  region.dataset.kind = message ? kind : "";
  region.hidden = !message;
}

// What the dashboard knows, loaded once per view and kept current by live events: views
// subscribe to the kinds they show and redraw when those change. No list is polled.
"use strict";

const listeners = new Map();

/** `on("incident", f)`: call f(data) for each change of that kind; returns an unsubscribe. */
export function on(kind, handler) {
  if (!listeners.has(kind)) listeners.set(kind, new Set());
  listeners.get(kind).add(handler);
  return () => listeners.get(kind).delete(handler);
}

export function emit(kind, data) {
  for (const handler of listeners.get(kind) || []) handler(data);
}

/** Call `f` at most once per `ms` (the last call wins), for refetching a summary while a
 *  burst of events arrives. */
export function throttle(f, ms) {
  let timer = null;
  let pending = false;
  return (...args) => {
    if (timer) {
      pending = true;
      return;
    }
    f(...args);
    timer = setTimeout(function again() {
      timer = null;
      if (pending) {
        pending = false;
        f(...args);
        timer = setTimeout(again, ms);
      }
    }, ms);
  };
}

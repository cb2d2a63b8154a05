// The service's clock as the page sees it. The demo runs device time faster than the wall
// clock, so "due in 3 h" must count in the service's time: the fleet summary says what
// the service's clock read and how fast it runs, and we carry it forward from there.
"use strict";

let anchor = { server: Date.now(), local: Date.now(), speed: 1 };

/** Set from the fleet summary's `now` and `clock_speed`. */
export function syncClock(serverNow, speed) {
  anchor = { server: new Date(serverNow).getTime(), local: Date.now(), speed: speed > 0 ? speed : 1 };
}

/** The service's time now (ms since the epoch). */
export function serverNow() {
  return anchor.server + (Date.now() - anchor.local) * anchor.speed;
}

/** How many service seconds pass per real second (1 outside the demo). */
export function clockSpeed() {
  return anchor.speed;
}

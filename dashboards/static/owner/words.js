// Words the owner app shows for what the API names with identifiers: devices' states,
// setup steps' states, outreach kinds and statuses, support categories and statuses.
"use strict";

export const STATE = {
  ok: "All good",
  fixing: "Being fixed",
  needs_you: "Needs you",
  needs_service: "Service visit",
};

export const STEP = {
  done: ["✓", "Done"],
  pending: ["…", "Waiting for the device to check this"],
  failed: ["!", "Did not pass"],
  needs_owner: ["○", "Your turn"],
};

export const KIND = {
  wear_out: "A part is wearing out",
  incident_escalated: "A service visit is needed",
  setup_stuck: "Setup needs a hand",
  support_update: "News on your support request",
  feedback_question: "How did it go?",
};

export const ITEM_STATUS = {
  rescheduled: "You asked for another time: we will suggest new ones.",
  snoozed: "We will remind you later.",
  declined: "You said no to this.",
  answered: "Thank you for your answer.",
  done: "Done.",
  expired: "This message has expired.",
};

export const CATEGORY = {
  not_working: "It does not work",
  performance: "It works poorly",
  noise: "It makes a noise",
  setup: "Setting it up",
  connectivity: "It loses its connection",
  other: "Something else",
};

export const SUPPORT_STATUS = {
  collecting: "Collecting your device's diagnostics",
  open: "Waiting for our service team",
  answered: "Our service team replied",
  escalated: "Our service team is on it with priority",
  resolved: "Resolved",
};

/** "heat pump" -> "Heat pump". */
export function capital(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** The name a device goes by in the app, e.g. "Heat pump". */
export function nameOf(device) {
  return capital((device && device.name) || "device");
}

// Plain words for machine names: fault signatures, fix actions, metrics, statuses, and
// the sentences the incident page tells its story in. Pure: no DOM, no fetching.
"use strict";

const KINDS = {
  overheat: "overheating",
  "memory-leak": "memory leak",
  connectivity: "unstable connection",
  "sensor-stuck": "stuck sensor",
  spike: "sensor spikes",
  "sensor-drift": "drifting sensor",
  anomaly: "unusual behaviour",
  wear: "wear",
};

const PARTS = {
  compressor: "compressor",
  connector: "charging connector",
  firmware: "firmware",
  flapping: "keeps dropping",
};

const UNITS = [
  ["_kwh", "kWh"], ["_kw", "kW"], ["_w", "W"], ["_dbm", "dBm"], ["_pct", "%"], ["_kb", "KiB"],
  ["_c", "°C"], ["_a", "A"], ["_v", "V"], ["_h", "h"], ["_s", "s"],
];

const ACTIONS = {
  clean_filter: "ran the filter-cleaning cycle",
  reduce_load: "reduced the load",
  reset_connector: "reset the charging connector",
  reset_radio: "restarted the radio",
  restart_firmware: "restarted the firmware",
  recalibrate_sensor: "recalibrated the sensor",
};

const STATUSES = {
  open: "open",
  mitigating: "being fixed",
  resolved: "resolved",
  escalated: "escalated to people",
};

/** The unit of a metric, from its name's suffix (the wire contract's convention). */
export function unitOf(metric) {
  for (const [suffix, unit] of UNITS) if (metric.endsWith(suffix)) return unit;
  return "";
}

/** `compressor_temp_c` -> "compressor temperature" (lower case, no unit). */
export function metricLabel(metric) {
  let name = metric || "";
  for (const [suffix] of UNITS) {
    if (name.endsWith(suffix)) {
      name = name.slice(0, -suffix.length);
      break;
    }
  }
  return name
    .split("_")
    .map((w) => ({ temp: "temperature", mem: "memory", rssi: "signal", pct: "%" })[w] || w)
    .join(" ");
}

/** `overheat/compressor_temp_c` -> "overheating (compressor temperature)". */
export function signatureLabel(signature) {
  const [kind, part = ""] = String(signature).split("/");
  const what = KINDS[kind] || kind.replace(/[-_]/g, " ");
  if (kind === "connectivity" && part === "flapping") return "unstable connection (keeps dropping)";
  if (!part) return what;
  return `${what} (${PARTS[part] || metricLabel(part)})`;
}

export function actionLabel(action) {
  return ACTIONS[action] || "ran “" + String(action).replace(/_/g, " ") + "”";
}

export function statusLabel(status) {
  return STATUSES[status] || status;
}

/** A value with its unit, rounded as people read gauges. */
export function number(value, unit = "") {
  if (typeof value !== "number" || !Number.isFinite(value)) return "an unknown value";
  const size = Math.abs(value);
  const text = value.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 2);
  return unit && unit !== "%" ? `${text} ${unit}` : text + unit;
}

/** "3 min", "2.5 hours", "4 days". */
export function duration(seconds) {
  const s = Math.max(0, seconds);
  if (s < 90) return Math.max(1, Math.round(s)) + " s";
  if (s < 90 * 60) return Math.round(s / 60) + " min";
  if (s < 36 * 3600) return (s / 3600).toFixed(1).replace(/\.0$/, "") + " hours";
  return (s / 86400).toFixed(1).replace(/\.0$/, "") + " days";
}

export function percent(rate) {
  return Math.round(rate * 100) + "%";
}

/** The explanation in a few plain sentences: which metric, how far from normal, what the
 *  diagnosis thinks caused it and what to do. Uses the cloud's own summary sentence when it
 *  has one and adds how far the value lay outside its normal range. */
export function explain(incident) {
  const x = incident.explanation || {};
  const sentences = [];
  const metric = typeof x.metric === "string" ? x.metric : "";
  const unit = x.unit || (metric ? unitOf(metric) : "");
  if (x.summary) sentences.push(x.summary);
  else if (metric && typeof x.value === "number") {
    sentences.push(`The ${metricLabel(metric)} reached ${number(x.value, unit)}.`);
  } else sentences.push(`The device showed ${signatureLabel(incident.signature)}.`);
  const far = outside(x, unit);
  if (far) sentences.push(far);
  if (x.likely_cause) sentences.push(`Likely cause: ${x.likely_cause}.`);
  if (x.next_step) sentences.push(`Suggested next step: ${x.next_step}.`);
  return sentences;
}

function outside(x, unit) {
  const { value, normal_low: low, normal_high: high } = x;
  if (![value, low, high].every((v) => typeof v === "number")) return "";
  if (value > high) return `That is ${number(value - high, unit)} above its normal range (${number(low, unit)} to ${number(high, unit)}).`;
  if (value < low) return `That is ${number(low - value, unit)} below its normal range (${number(low, unit)} to ${number(high, unit)}).`;
  return `The value itself was within its normal range (${number(low, unit)} to ${number(high, unit)}), but unusual for the time.`;
}

/** What the device said about a fix, in words. */
export function deviceSaid(attempt) {
  switch (attempt.result_state) {
    case "done": return "the device said done";
    case "failed": return "the device said it failed";
    case "refused": return "the device refused it";
    case "timed_out": return "the device did not answer in time";
    case null: case undefined: return "waiting for the device";
    default: return "the device said " + attempt.result_state;
  }
}

/** Whether the telemetry showed the fix worked: verified / failed / pending. */
export function outcome(attempt) {
  if (attempt.verified === true) return "verified";
  if (attempt.verified === false) return "failed";
  return "pending";
}

// Small pieces of page the views share: a fault's readable name with its machine name
// beside it, status pills, bar lists, and redrawing a chart when its box changes width.
"use strict";
import { el } from "/static/common.js";
import { signatureLabel, statusLabel } from "/static/service/words.js";

export function faultName(signature, tag = "span") {
  const label = signatureLabel(signature);
  return el(tag, { class: "fault" }, label.charAt(0).toUpperCase() + label.slice(1), " ",
    el("span", { class: "raw" }, signature));
}

export function statusPill(status) {
  return el("span", { class: `pill s-${status}` }, statusLabel(status));
}

export function onlinePill(online) {
  return el("span", { class: online ? "pill on" : "pill off" }, online ? "online" : "offline");
}

/** A list of labelled bars: rows [{label (node or text), value, href?}] out of `total`. */
export function barList(rows, total, kind = "") {
  const most = Math.max(1, total ?? Math.max(0, ...rows.map((r) => r.value)));
  return el("ul", { class: "bars" }, rows.map((r) =>
    el("li", {},
      r.href ? el("a", { href: r.href }, r.label) : el("span", {}, r.label),
      el("span", { class: "count" }, String(r.value)),
      el("span", { class: "bar", "aria-hidden": "true" },
        el("span", { class: kind, style: `width: ${Math.round((100 * r.value) / most)}%` })))));
}

/** Draw `draw(width)` into `box` now and again whenever the box changes width; returns a
 *  function that stops watching. */
export function responsive(box, draw) {
  let width = 0;
  const paint = () => {
    const next = Math.floor(box.clientWidth);
    if (!next || next === width) return;
    width = next;
    box.replaceChildren(draw(width));
  };
  const observer = new ResizeObserver(paint);
  observer.observe(box);
  requestAnimationFrame(paint);
  return () => observer.disconnect();
}

/** Replace a node's children, skipping the null/false ones a condition left. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

// DOM building and formatting helpers shared by the views. Everything is
// built with createElement and textContent, never innerHTML, so task names,
// args and errors are shown as text.

const SVG_NS = "http://www.w3.org/2000/svg";

// The task states, in the order the dashboard shows them.
export const STATES = ["scheduled", "waiting", "running", "succeeded", "failed", "canceled"];
// States a task can be canceled in; the rest are final.
export const CANCELABLE = new Set(["scheduled", "waiting", "running"]);

function build(el, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...nodes(kids));
  return el;
}

function nodes(kids) {
  const out = [];
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    out.push(k instanceof Node ? k : String(k));
  }
  return out;
}

// h builds an HTML element: h("a", {href: "#/"}, "text", child, ...).
// Attributes named on... with a function value become event listeners.
export function h(tag, attrs, ...kids) {
  return build(document.createElement(tag), attrs, kids);
}

// s builds an SVG element, like h.
export function s(tag, attrs, ...kids) {
  return build(document.createElementNS(SVG_NS, tag), attrs, kids);
}

// fill replaces el's children.
export function fill(el, ...kids) {
  el.replaceChildren(...nodes(kids));
  return el;
}

// shortId is the tail of an id: ULIDs share their first (time) characters
// within a workflow, and differ at the end.
export function shortId(id) {
  return id.length > 12 ? "…" + id.slice(-8) : id;
}

export function badge(state) {
  return h("span", { class: "badge", "data-state": state }, state);
}

export function taskHref(id) {
  return "#/task/" + encodeURIComponent(id);
}

export function graphHref(id) {
  return "#/graph/" + encodeURIComponent(id);
}

// idLink links to a task page, showing its short id.
export function idLink(id) {
  return h("a", { class: "id", href: taskHref(id), title: id }, shortId(id));
}

const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

// clock is a local time of day, with the date when it is not today.
export function clock(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const today = d.toDateString() === new Date().toDateString();
  return (today ? "" : dayFmt.format(d) + " ") + clockFmt.format(d);
}

// span writes a duration in milliseconds compactly: 820 ms, 3.2 s, 5m 03s.
export function span(ms) {
  if (ms == null || !isFinite(ms)) return "—";
  ms = Math.abs(ms);
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 10000) return (ms / 1000).toFixed(1) + " s";
  const sec = Math.round(ms / 1000);
  if (sec < 60) return sec + " s";
  const pad = (n) => String(n).padStart(2, "0");
  if (sec < 3600) return Math.floor(sec / 60) + "m " + pad(sec % 60) + "s";
  if (sec < 86400) return Math.floor(sec / 3600) + "h " + pad(Math.floor(sec / 60) % 60) + "m";
  return Math.floor(sec / 86400) + "d " + (Math.floor(sec / 3600) % 24) + "h";
}

// relative says how far iso is from now: "in 5m 03s", "12 s ago", "now".
export function relative(iso, now = Date.now()) {
  const d = Date.parse(iso) - now;
  if (Math.abs(d) < 1000) return "now";
  return d > 0 ? "in " + span(d) : span(d) + " ago";
}

// when is a <time> showing how far iso is from now, kept current by
// tickTimes, with the local clock time beside it.
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("span", { class: "when" },
    h("time", { datetime: iso, title: fullFmt.format(new Date(iso)), "data-relative": "" }, relative(iso)),
    h("span", { class: "clock" }, clock(iso)));
}

// stamp is a <time> with the full local date and time.
export function stamp(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: iso }, fullFmt.format(new Date(iso)),
    h("span", { class: "muted" }, " (", h("time", { datetime: iso, "data-relative": "" }, relative(iso)), ")"));
}

// tickTimes refreshes the relative times under root.
export function tickTimes(root) {
  const now = Date.now();
  for (const t of root.querySelectorAll("time[data-relative]")) {
    const text = relative(t.dateTime, now);
    if (t.textContent !== text) t.textContent = text;
  }
}

// pretty writes a JSON value for a <pre>.
export function pretty(v) {
  if (v === undefined) return "—";
  return JSON.stringify(v, null, 2);
}

// emptyRow is the row a table shows when it has nothing to list.
export function emptyRow(cols, text) {
  return h("tr", { class: "empty" }, h("td", { colspan: cols }, text));
}

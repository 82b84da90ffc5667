// The dueq dashboard: hash routes (#/, #/task/ID, #/graph/ID), one live
// event stream, and refreshes throttled to a few per second. Each view has
// show(param), refresh() (re-read from the API and render) and onEvent(e)
// (true when the event may change what it shows).

import { auth, setToken } from "./api.js";
import { Live } from "./live.js";
import { tickTimes } from "./dom.js";
import { overview } from "./overview.js";
import { taskView } from "./task.js";
import { graphView } from "./graph.js";

const MIN_GAP = 300; // ms between two refreshes: at most about 3 a second
const POLL = 15000; // re-read anyway, for what has no events (daemons alive)

const $ = (id) => document.getElementById(id);
const views = [overview, taskView, graphView];
let current = overview;

// route shows the view the location's hash names.
function route() {
  const m = location.hash.match(/^#\/(task|graph)\/(.+)$/);
  const next = !m ? overview : m[1] === "task" ? taskView : graphView;
  const param = m ? decodeURIComponent(m[2]) : "";
  for (const v of views) v.el.hidden = v !== next;
  current = next;
  notice("");
  $("nav-overview").toggleAttribute("aria-current", next === overview);
  next.show(param);
  document.title = next.title;
  window.scrollTo(0, 0);
  refreshNow();
}

// Refreshes: requestRefresh runs one at most every MIN_GAP, and one more
// after the one in flight when asked meanwhile.
let timer = 0;
let inFlight = false;
let again = false;
let last = 0;

function requestRefresh() {
  if (inFlight) {
    again = true;
    return;
  }
  if (timer) return;
  timer = setTimeout(runRefresh, Math.max(0, last + MIN_GAP - Date.now()));
}

function refreshNow() {
  clearTimeout(timer);
  timer = 0;
  if (inFlight) again = true;
  else runRefresh();
}

async function runRefresh() {
  timer = 0;
  inFlight = true;
  last = Date.now();
  const view = current;
  try {
    await view.refresh();
    banner("");
  } catch (err) {
    banner(err.status === 401 ? "The daemon wants a token: enter its http.token above." : err.message);
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      requestRefresh();
    }
  }
}

function banner(text) {
  const b = $("banner");
  b.textContent = text;
  b.hidden = !text;
}

// notice shows the error of an action until dismissed or the route changes.
function notice(text) {
  $("notice-text").textContent = text;
  $("notice").hidden = !text;
}

// The live stream.
const live = new Live({
  onEvent(e) {
    // Every view hears every event (the overview keeps the log); the one
    // shown decides whether to re-read.
    let wanted = false;
    for (const v of views) if (v.onEvent(e) && v === current) wanted = true;
    if (e.kind === "resync") refreshNow();
    else if (wanted) requestRefresh();
  },
  onOpen() {
    refreshNow(); // events may have been missed while away
  },
  onStatus(st) {
    const c = $("conn");
    c.dataset.conn = st;
    c.textContent = { live: "live", connecting: "connecting…", offline: "offline", unauthorized: "token needed" }[st] || st;
    if (st === "unauthorized") showToken("The daemon wants a token (HTTP 401).");
  },
});

// The token field.
function showToken(msg) {
  const form = $("token-form");
  const wasHidden = form.hidden;
  form.hidden = false;
  $("token-toggle").setAttribute("aria-expanded", "true");
  $("token-msg").textContent = msg || "";
  if (wasHidden) $("token").focus();
}

function hideToken() {
  $("token-form").hidden = true;
  $("token-toggle").setAttribute("aria-expanded", "false");
}

auth.onUnauthorized = () => showToken(auth.token ? "The token was refused (HTTP 401): check it." : "The daemon wants a token (HTTP 401).");

$("token").value = auth.token;
$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setToken($("token").value);
  hideToken();
  live.connect();
  refreshNow();
});
$("token-forget").addEventListener("click", () => {
  setToken("");
  $("token").value = "";
  $("token-msg").textContent = "Forgotten.";
  live.connect();
  refreshNow();
});
$("token-toggle").addEventListener("click", () => {
  if ($("token-form").hidden) showToken("");
  else hideToken();
});

document.addEventListener("dueq:refresh", refreshNow);
document.addEventListener("dueq:error", (ev) => notice(ev.detail));
$("notice-close").addEventListener("click", () => notice(""));
window.addEventListener("hashchange", route);
setInterval(() => tickTimes(current.el), 1000);
setInterval(requestRefresh, POLL);

route();
live.connect();

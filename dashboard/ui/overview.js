// The overview (#/): counts by state and queue, stranded tasks, daemons
// alive with their queues and handlers, the upcoming timeline, running
// tasks, recent finishes and failures, recurring schedules and the live
// event log.

import { api, path } from "./api.js";
import { STATES, h, fill, badge, idLink, taskHref, shortId, when, clock, span, emptyRow } from "./dom.js";

const UPCOMING = 50;
const RUNNING = 50;
const FINISHED = 10;
const EVENTS = 100;
const ARM_MS = 4000; // how long a Stop button waits for its confirming click

const $ = (id) => document.getElementById(id);
const body = (id) => $(id).tBodies[0];

// log holds the latest events, newest first; it fills while other views
// are shown too.
const log = [];
let logPending = false;
// armed is the schedule whose Stop button asks for confirmation, until when.
let armed = { id: "", until: 0 };

function tasks(state, limit) {
  return api("GET", `/api/v1/tasks?state=${state}&limit=${limit}`).then((r) => r.tasks || []);
}

export const overview = {
  el: $("view-overview"),
  title: "dueq",

  show() {
    renderEvents();
  },

  onEvent(e) {
    log.unshift(e);
    if (log.length > EVENTS) log.length = EVENTS;
    if (!this.el.hidden && !logPending) {
      logPending = true; // one render per frame, however many events come
      requestAnimationFrame(() => {
        logPending = false;
        renderEvents();
      });
    }
    return true; // every event can change a count or a list
  },

  async refresh() {
    const [stats, upcoming, running, succeeded, failed, canceled, schedules] = await Promise.all([
      api("GET", "/api/v1/stats"),
      tasks("scheduled", UPCOMING),
      tasks("running", RUNNING),
      tasks("succeeded", FINISHED),
      tasks("failed", FINISHED),
      tasks("canceled", FINISHED),
      api("GET", "/api/v1/schedules").then((r) => r.schedules || []),
    ]);
    renderCounts(stats);
    renderStranded(stats.stranded || []);
    renderQueues(stats);
    renderUpcoming(upcoming, stats.states.scheduled || 0);
    renderRunning(running, stats.states.running || 0);
    const finished = [...succeeded, ...failed, ...canceled]
      .sort((a, b) => (b.finished_at || "").localeCompare(a.finished_at || ""))
      .slice(0, FINISHED);
    renderFinished(finished);
    renderFailures(failed);
    renderSchedules(schedules);
  },
};

// pauseButton pauses a queue on every daemon, or resumes it.
function pauseButton(q, paused) {
  return toggleButton(paused, "/api/v1/queues", q, "", paused ? "primary" : "quiet",
    paused ? "let the daemons claim its tasks again" : "stop every daemon from claiming its tasks");
}

// toggleButton is a Pause button, or Resume when paused, that posts
// pause or resume to prefix/id and refreshes the page; a refusal shows the
// API's reason as its title. Its data-action is pause or resume, and
// suffix.
function toggleButton(paused, prefix, id, suffix, cls, title) {
  const verb = paused ? "resume" : "pause";
  const label = paused ? "Resume" : "Pause";
  return h("button", {
    type: "button", class: cls, "data-action": verb + suffix, title,
    onclick: async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      b.textContent = label + "…";
      try {
        await api("POST", path(prefix, id, "/" + verb));
      } catch (err) {
        b.title = `${label} refused: ${err.message}`;
      }
      document.dispatchEvent(new CustomEvent("dueq:refresh"));
    },
  }, label);
}

function renderCounts(stats) {
  const box = $("counts");
  if (!box.children.length) {
    for (const st of [...STATES, "daemons"]) {
      box.append(h("div", { class: "stat", id: "count-" + st, "data-state": st },
        h("span", { class: "n" }, "–"), h("span", { class: "label" }, st === "daemons" ? "daemons alive" : st)));
    }
  }
  for (const st of STATES) {
    $("count-" + st).querySelector(".n").textContent = (stats.states[st] || 0).toLocaleString();
  }
  $("count-daemons").querySelector(".n").textContent = (stats.daemons || []).length;
}

function renderQueues(stats) {
  const names = Object.keys(stats.queues || {}).sort();
  fill(body("queues"), names.length ? names.map((q) => {
    const paused = stats.queues[q].paused === true;
    return h("tr", { "data-queue": q, "data-paused": String(paused) },
      h("td", {}, h("span", { class: "queue" }, q), paused ? h("span", { class: "badge paused" }, "paused") : null),
      h("td", { class: "num" }, stats.queues[q].scheduled.toLocaleString()),
      h("td", { class: "num" }, stats.queues[q].running.toLocaleString()),
      h("td", {}, pauseButton(q, paused)));
  }) : emptyRow(4, "No queue has had tasks yet."));
  // daemon_info carries what each daemon serves and runs; a daemon whose
  // heartbeat said nothing readable has info null.
  const daemons = stats.daemon_info || (stats.daemons || []).map((id) => ({ id }));
  fill($("daemons"), daemons.length
    ? daemons.map((d) => h("li", { "data-daemon": d.id },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("code", {}, d.id),
      d.info
        ? h("span", { class: "daemon-info" },
          h("span", { class: "daemon-queues", title: "queues it serves" }, h("span", { class: "muted" }, "queues "), joined(d.info.queues)),
          h("span", { class: "daemon-handlers", title: "handlers it runs" }, h("span", { class: "muted" }, "handlers "), joined(d.info.handlers)),
          h("span", { class: "muted" }, `${d.info.workers} ${d.info.workers === 1 ? "worker" : "workers"}`))
        : h("span", { class: "daemon-info muted" }, "queues and handlers unknown")))
    : h("li", { class: "warn" }, "No daemon alive: nothing runs until one starts."));
}

function joined(list) {
  return list && list.length ? list.join(", ") : "none";
}

// renderStranded lists due tasks no live daemon will run, by queue and
// handler, with the server's reason.
function renderStranded(list) {
  $("stranded").hidden = !list.length;
  fill($("stranded-list"), list.map((s) => h("li", { "data-queue": s.queue, "data-handler": s.handler },
    h("strong", {}, `${s.count.toLocaleString()} due ${s.count === 1 ? "task" : "tasks"}`),
    " of handler ", h("code", {}, s.handler), " in queue ", h("span", { class: "queue" }, s.queue), ": ", s.reason)));
}

function tally(id, shown, total) {
  $(id).textContent = total > shown ? `${shown} of ${total.toLocaleString()}` : total ? String(total) : "";
}

// nameCell shows a task's name as a link to it, marked when it is a
// schedule's occurrence.
function nameCell(t) {
  return h("td", {},
    h("a", { href: taskHref(t.id), class: "name" }, t.name),
    t.schedule ? h("span", { class: "recurring", title: "an occurrence of schedule " + t.schedule }, " ↻") : null);
}

function row(t, ...cells) {
  return h("tr", { "data-task-id": t.id, "data-state": t.state }, ...cells);
}

function renderUpcoming(list, total) {
  tally("upcoming-tally", list.length, total);
  fill(body("upcoming"), list.length ? list.map((t) => row(t,
    h("td", {}, when(t.due_at)), nameCell(t), h("td", {}, idLink(t.id)), h("td", {}, h("span", { class: "queue" }, t.queue))))
    : emptyRow(4, "Nothing scheduled."));
}

function renderRunning(list, total) {
  tally("running-tally", list.length, total);
  fill(body("running"), list.length ? list.map((t) => row(t,
    h("td", {}, when(t.started_at)), nameCell(t), h("td", {}, idLink(t.id)), h("td", {}, h("span", { class: "queue" }, t.queue)),
    h("td", { class: "num" }, `${t.attempts} of ${t.max_attempts}`)))
    : emptyRow(5, "Nothing running."));
}

function took(t) {
  if (!t.started_at || !t.finished_at) return "—";
  return span(Date.parse(t.finished_at) - Date.parse(t.started_at));
}

function renderFinished(list) {
  fill(body("finished"), list.length ? list.map((t) => row(t,
    h("td", {}, when(t.finished_at)), h("td", {}, badge(t.state)), nameCell(t), h("td", {}, idLink(t.id)),
    h("td", { class: "num" }, took(t))))
    : emptyRow(5, "No task has finished yet."));
}

function firstLine(text, max = 160) {
  const line = (text || "").split("\n")[0];
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
}

function renderFailures(list) {
  fill(body("failures"), list.length ? list.map((t) => row(t,
    h("td", {}, when(t.finished_at)), nameCell(t), h("td", {}, idLink(t.id)),
    h("td", { class: "error-cell" }, h("span", { class: "error-text", title: t.error || "" }, firstLine(t.error)))))
    : emptyRow(4, "No failures."));
}

function renderSchedules(list) {
  const now = Date.now();
  fill(body("schedules"), list.length ? list.map((sc) => {
    const confirming = armed.id === sc.id && armed.until > now;
    return h("tr", { "data-schedule-id": sc.id, "data-state": sc.state },
      h("td", {}, h("a", { href: taskHref(sc.id), class: "name" }, sc.name || sc.task),
        sc.name ? h("span", { class: "muted" }, " ", sc.task) : null,
        h("div", {}, h("span", { class: "id", title: sc.id }, shortId(sc.id)))),
      h("td", {}, sc.every ? h("code", { title: sc.every }, every(sc.every)) : h("code", { title: "cron" }, sc.cron)),
      h("td", {}, sc.state === "paused" ? h("span", { class: "badge paused" }, "paused") : when(sc.next_at)),
      h("td", { class: "actions" }, pauseScheduleButton(sc), h("button", {
        type: "button", class: confirming ? "danger small" : "quiet small", "data-action": "stop-schedule",
        "aria-label": (confirming ? "Confirm: stop schedule " : "Stop schedule ") + (sc.name || sc.id),
        onclick: (ev) => stopSchedule(ev.currentTarget, sc.id),
      }, confirming ? "Stop?" : "Stop")));
  }) : emptyRow(4, "No recurring schedules."));
}

// pauseScheduleButton pauses a schedule (no occurrence fires), or resumes
// it from its next slot.
function pauseScheduleButton(sc) {
  const paused = sc.state === "paused";
  return toggleButton(paused, "/api/v1/schedules", sc.id, "-schedule", "quiet small",
    (paused ? "Resume schedule " : "Pause schedule ") + (sc.name || sc.id));
}

// every shortens a Go duration: 10m0s → 10m, 1h0m0s → 1h.
function every(d) {
  return d.replace(/(\D)0s$/, "$1").replace(/(\D)0m$/, "$1");
}

// stopSchedule cancels a schedule on a second click within ARM_MS.
async function stopSchedule(button, id) {
  const now = Date.now();
  if (armed.id !== id || armed.until < now) {
    armed = { id, until: now + ARM_MS };
    button.textContent = "Stop?";
    button.className = "danger small";
    setTimeout(() => {
      if (armed.id === id && button.isConnected) {
        armed = { id: "", until: 0 };
        button.textContent = "Stop";
        button.className = "quiet small";
      }
    }, ARM_MS);
    return;
  }
  armed = { id: "", until: 0 };
  button.disabled = true;
  try {
    await api("DELETE", path("/api/v1/schedules", id));
  } catch (err) {
    document.dispatchEvent(new CustomEvent("dueq:error", { detail: `Stopping schedule ${id}: ${err.message}` }));
  }
  document.dispatchEvent(new CustomEvent("dueq:refresh"));
}

function renderEvents() {
  fill($("events"), log.length ? log.map((e) => h("li", { "data-kind": e.kind, "data-event-task": e.id || null },
    h("time", { datetime: e.at, class: "clock" }, clock(e.at)),
    badge(e.kind),
    e.kind === "resync"
      ? h("span", { class: "muted" }, "events may have been missed: re-read everything")
      : [h("a", { href: taskHref(e.id), class: "name" }, e.name || "task"), " ", idLink(e.id),
          e.queue && e.queue !== "default" ? h("span", { class: "queue" }, e.queue) : null]))
    : h("li", { class: "muted" }, "Waiting for events…"));
}

// The task page (#/task/ID): the record, its args, result and error, its
// times, its parents and children, and the Cancel button (unfinished tasks)
// and the Retry button (where the server accepts a retry: "retryable"). A
// schedule's id shows the schedule, with a button that stops it.

import { api, path } from "./api.js";
import { CANCELABLE, h, fill, badge, shortId, taskHref, graphHref, stamp, span, pretty } from "./dom.js";

const RELATED = 40; // parents and children whose records the page reads

const $ = (id) => document.getElementById(id);

function isSchedule(rec) {
  return rec && "task" in rec && !("name" in rec);
}

export const taskView = {
  el: $("view-task"),
  id: "",
  rec: null,
  gen: 0,
  related: new Set(),
  actionError: "",
  busy: "",

  get title() {
    return this.rec ? `${this.rec.name || this.rec.task} ${shortId(this.rec.id)} · dueq` : "Task · dueq";
  },

  show(id) {
    this.id = id;
    this.rec = null;
    this.gen++;
    this.related = new Set();
    this.actionError = "";
    this.busy = "";
    fill(this.el, crumbs(id), h("p", { class: "muted" }, "Loading…"));
  },

  onEvent(e) {
    return e.kind === "resync" || e.id === this.id || this.related.has(e.id) || (e.id || "").startsWith(this.id + "-");
  },

  async refresh() {
    const gen = this.gen;
    const id = this.id;
    let rec;
    try {
      rec = await api("GET", path("/api/v1/tasks", id));
    } catch (err) {
      if (gen !== this.gen) return;
      if (err.status === 404) {
        fill(this.el, crumbs(id), h("p", { class: "alert", role: "alert", id: "task-missing" }, err.message));
        return;
      }
      throw err;
    }
    const ids = isSchedule(rec) ? [] : [...rec.parents, ...rec.children];
    const records = new Map();
    await Promise.all(ids.slice(0, RELATED).map(async (r) => {
      try {
        records.set(r, await api("GET", path("/api/v1/tasks", r)));
      } catch {
        // expired or unreachable: shown as a bare link
      }
    }));
    if (gen !== this.gen) return;
    this.rec = rec;
    this.related = new Set(ids);
    document.title = this.title;
    if (isSchedule(rec)) this.renderSchedule(rec);
    else this.render(rec, records);
  },

  render(t, records) {
    const actions = h("div", { class: "actions" });
    if (CANCELABLE.has(t.state)) actions.append(this.button("cancel", "Cancel", "danger", "DELETE", ""));
    // The server says whether it would accept a retry: failed or canceled,
    // and not stopped by its parents' outcomes, which would stop it again.
    if (t.retryable === true) actions.append(this.button("retry", "Retry", "primary", "POST", "/retry"));
    if (t.parents.length || t.children.length) {
      actions.append(h("a", { id: "graph-link", class: "button quiet", href: graphHref(t.id) }, "Workflow graph"));
    }
    const sections = [];
    if (t.error) sections.push(card("Error", h("pre", { id: "task-error", class: "error" }, t.error)));
    sections.push(h("div", { class: "grid" },
      card("Args", h("pre", { id: "task-args" }, pretty(t.args))),
      t.result !== undefined ? card("Result", h("pre", { id: "task-result" }, pretty(t.result))) : null));
    fill(this.el,
      crumbs(t.id),
      h("div", { id: "task", class: "task-head", "data-task-id": t.id, "data-state": t.state },
        h("h1", {}, h("span", { class: "name" }, t.name), " ", h("code", { class: "full-id" }, t.id)),
        h("span", { id: "task-state", class: "badge big", "data-state": t.state }, t.state),
        actions),
      this.actionError ? h("p", { id: "action-error", class: "alert", role: "alert" }, this.actionError) : null,
      h("div", { class: "grid" },
        card("Record", dl([
          ["Queue", h("span", { class: "queue" }, t.queue)],
          ["Attempts", `${t.attempts} of ${t.max_attempts}`],
          t.recoveries ? ["Recoveries", String(t.recoveries)] : null,
          ["Timeout", t.timeout || "none"],
          ["On parent failure", t.on_parent_failure],
          t.pending ? ["Parents pending", String(t.pending)] : null,
          t.schedule ? ["Schedule", h("a", { href: taskHref(t.schedule) }, t.schedule)] : null,
          t.key ? ["Key", h("code", {}, t.key)] : null,
          t.workflow ? ["Workflow", h("code", { id: "task-workflow" }, t.workflow)] : null,
          t.node ? ["Node", h("span", { id: "task-node" }, t.node)] : null,
          t.daemon ? ["Daemon", h("code", {}, t.daemon)] : null,
        ])),
        card("Times", dl([
          ["Created", stamp(t.created_at)],
          ["Due", stamp(t.due_at)],
          ["Started", t.started_at || !t.finished_at ? stamp(t.started_at) : h("span", { id: "never-ran", class: "muted" }, "never: its handler did not run")],
          ["Finished", stamp(t.finished_at)],
          t.started_at ? ["Start delay", span(Date.parse(t.started_at) - Date.parse(t.due_at))] : null,
          t.started_at && t.finished_at ? ["Ran for", span(Date.parse(t.finished_at) - Date.parse(t.started_at))] : null,
        ])),
        card(`Parents (${t.parents.length})`, related(t.parents, records, "No parents."), "parents"),
        card(`Children (${t.children.length})`, related(t.children, records, "No children."), "children")),
      sections);
  },

  renderSchedule(sc) {
    const actions = h("div", { class: "actions" });
    if (sc.state === "active") actions.append(this.button("cancel", "Stop schedule", "danger", "DELETE", "", "/api/v1/schedules"));
    fill(this.el,
      crumbs(sc.id, "Schedule"),
      h("div", { id: "task", class: "task-head", "data-task-id": sc.id, "data-state": sc.state },
        h("h1", {}, h("span", { class: "name" }, sc.name || sc.task), " ", h("code", { class: "full-id" }, sc.id)),
        h("span", { id: "task-state", class: "badge big", "data-state": sc.state }, sc.state),
        actions),
      this.actionError ? h("p", { id: "action-error", class: "alert", role: "alert" }, this.actionError) : null,
      h("div", { class: "grid" },
        card("Schedule", dl([
          ["Task", sc.task],
          ["Rule", sc.every ? "every " + sc.every : h("code", {}, sc.cron)],
          ["Next fire", stamp(sc.next_at)],
          ["Queue", h("span", { class: "queue" }, sc.queue)],
          ["Misfire", sc.misfire],
          ["Max attempts", String(sc.max_attempts)],
          ["Timeout", sc.timeout || "none"],
          ["Created", stamp(sc.created_at)],
        ])),
        card("Args", h("pre", { id: "task-args" }, pretty(sc.args)))));
  },

  // button makes an action button that calls the API and shows its error
  // text when refused.
  button(id, label, style, method, suffix, prefix = "/api/v1/tasks") {
    const busy = this.busy === id;
    return h("button", {
      id, type: "button", class: style, disabled: busy || undefined,
      onclick: () => this.act(id, label, method, prefix, suffix),
    }, busy ? label + "…" : label);
  },

  async act(id, label, method, prefix, suffix) {
    const gen = this.gen;
    this.busy = id;
    const b = $(id);
    if (b) {
      b.disabled = true;
      b.textContent = label + "…";
    }
    try {
      await api(method, path(prefix, this.id, suffix));
      if (gen === this.gen) this.actionError = "";
    } catch (err) {
      if (gen === this.gen) this.actionError = `${label} refused: ${err.message}`;
    }
    if (gen !== this.gen) return;
    this.busy = "";
    document.dispatchEvent(new CustomEvent("dueq:refresh"));
  },
};

function crumbs(id, kind = "Task") {
  return h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    h("a", { href: "#/" }, "Overview"), h("span", { "aria-hidden": "true" }, " › "), `${kind} ${shortId(id)}`);
}

function card(title, content, cls) {
  return h("section", { class: "card" + (cls ? " " + cls : "") }, h("h2", {}, title), content);
}

function dl(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function related(ids, records, none) {
  if (!ids.length) return h("p", { class: "muted" }, none);
  return h("ul", { class: "related" }, ids.map((id) => {
    const r = records.get(id);
    return h("li", { "data-task-id": id, "data-state": r ? r.state : null },
      r ? badge(r.state) : h("span", { class: "badge", "data-state": "unknown" }, "?"),
      h("a", { href: taskHref(id), title: id }, r ? r.name : id), " ",
      h("span", { class: "id" }, shortId(id)));
  }));
}

// The workflow view (#/graph/ID): from one task, walk parents and children
// to its connected graph (at most CAP tasks), lay it out in layers by
// topological depth, and draw it as SVG. Nodes are colored by state; a click
// opens the task's page. Events for a node re-read that node; a resync, or
// a node that gained a neighbor, walks the graph again.

import { api, path } from "./api.js";
import { STATES, h, s, fill, shortId, taskHref } from "./dom.js";

const CAP = 200;
const BATCH = 8; // records read in parallel during a walk
const W = 176; // node width
const H = 46; // node height
const GX = 72; // gap between layers
const GY = 14; // gap between nodes of a layer
const PAD = 16;

export const graphView = {
  el: document.getElementById("view-graph"),
  id: "",
  gen: 0,
  nodes: new Map(),
  truncated: false,
  full: true,
  dirty: new Set(),

  get title() {
    const start = this.nodes.get(this.id);
    return (start ? `Workflow of ${label(start)}` : "Workflow") + " · dueq";
  },

  show(id) {
    this.id = id;
    this.gen++;
    this.nodes = new Map();
    this.truncated = false;
    this.full = true;
    this.dirty = new Set();
    fill(this.el, crumbs(id), h("p", { class: "muted" }, "Loading…"));
  },

  onEvent(e) {
    if (e.kind === "resync") {
      this.full = true;
      return true;
    }
    if (!this.nodes.has(e.id)) return false;
    this.dirty.add(e.id);
    return true;
  },

  async refresh() {
    const gen = this.gen;
    let full = this.full || !this.nodes.size;
    const dirty = [...this.dirty];
    this.full = false;
    this.dirty.clear();
    let nodes = this.nodes;
    let truncated = this.truncated;
    try {
      if (!full && dirty.length) {
        nodes = new Map(nodes);
        const recs = await Promise.all(dirty.map((id) => read(id)));
        for (const r of recs) {
          nodes.set(r.id, r);
          // A new neighbor (a late child) means the graph grew: walk again.
          if (!truncated && [...r.parents, ...r.children].some((n) => !nodes.has(n))) full = true;
        }
      }
      if (full) ({ nodes, truncated } = await walk(this.id));
    } catch (err) {
      if (gen !== this.gen) return;
      if (err.status === 404) {
        fill(this.el, crumbs(this.id), h("p", { class: "alert", role: "alert" }, err.message));
        return;
      }
      this.full = true;
      throw err;
    }
    if (gen !== this.gen) return;
    this.nodes = nodes;
    this.truncated = truncated;
    document.title = this.title;
    this.render();
  },

  render() {
    const start = this.nodes.get(this.id);
    const counts = {};
    for (const r of this.nodes.values()) counts[r.state] = (counts[r.state] || 0) + 1;
    const summary = STATES.filter((st) => counts[st]).map((st) =>
      h("li", { "data-state": st }, h("span", { class: "swatch", "aria-hidden": "true" }), `${counts[st]} ${st}`));
    fill(this.el,
      crumbs(this.id),
      h("div", { class: "task-head" },
        h("h1", {}, "Workflow of ", h("a", { href: taskHref(this.id), class: "name" }, start ? label(start) : this.id), " ",
          h("code", { class: "full-id" }, this.id)),
        h("span", { class: "muted", id: "graph-size" }, `${this.nodes.size} task${this.nodes.size === 1 ? "" : "s"}`)),
      h("ul", { class: "legend", "aria-label": "Tasks by state" }, summary),
      this.truncated ? h("p", { class: "alert" }, `The graph has more than ${CAP} tasks: showing the ${CAP} nearest to this one.`) : null,
      h("div", { class: "graph-wrap card" }, draw(this.nodes, this.id)),
      h("p", { class: "muted hint" }, "Parents on the left, children on the right. Click a task (or focus it and press Enter) to open it."));
  },
};

// read returns a task's record; one that expired stands in as "unknown".
async function read(id) {
  try {
    return await api("GET", path("/api/v1/tasks", id));
  } catch (err) {
    if (err.status !== 404) throw err;
    return { id, name: "(expired)", state: "unknown", parents: [], children: [] };
  }
}

// walk collects the graph connected to start, breadth first, up to CAP tasks.
async function walk(start) {
  const first = await api("GET", path("/api/v1/tasks", start)); // 404 here: no such task
  const nodes = new Map();
  const seen = new Set([start]);
  let queue = [];
  let truncated = false;
  const visit = (r) => {
    nodes.set(r.id, r);
    for (const n of [...(r.parents || []), ...(r.children || [])]) {
      if (seen.has(n)) continue;
      if (seen.size >= CAP) {
        truncated = true;
        continue;
      }
      seen.add(n);
      queue.push(n);
    }
  };
  visit(first);
  while (queue.length) {
    const batch = queue.slice(0, BATCH);
    queue = queue.slice(BATCH);
    for (const r of await Promise.all(batch.map(read))) visit(r);
  }
  return { nodes, truncated };
}

// layout places each node in a column by its depth (the longest path from a
// task with no parent in the graph) and orders each column by the mean
// position of its neighbors, to keep edges short and uncrossed.
function layout(nodes) {
  const edges = new Map(); // "from to" → [from, to]
  for (const r of nodes.values()) {
    for (const p of r.parents || []) if (nodes.has(p)) edges.set(p + " " + r.id, [p, r.id]);
    for (const c of r.children || []) if (nodes.has(c)) edges.set(r.id + " " + c, [r.id, c]);
  }
  const ins = new Map([...nodes.keys()].map((id) => [id, []]));
  const outs = new Map([...nodes.keys()].map((id) => [id, []]));
  for (const [a, b] of edges.values()) {
    outs.get(a).push(b);
    ins.get(b).push(a);
  }
  const indeg = new Map([...ins].map(([id, ps]) => [id, ps.length]));
  const depth = new Map();
  const queue = [...nodes.keys()].filter((id) => indeg.get(id) === 0);
  for (const id of queue) depth.set(id, 0);
  while (queue.length) {
    const id = queue.shift();
    for (const c of outs.get(id)) {
      depth.set(c, Math.max(depth.get(c) ?? 0, depth.get(id) + 1));
      indeg.set(c, indeg.get(c) - 1);
      if (indeg.get(c) === 0) queue.push(c);
    }
  }
  for (const id of nodes.keys()) if (!depth.has(id)) depth.set(id, 0); // only in a cycle, which dueq refuses

  const layers = [];
  const byAge = [...nodes.values()].sort((a, b) => (a.created_at || "").localeCompare(b.created_at || "") || a.id.localeCompare(b.id));
  for (const r of byAge) (layers[depth.get(r.id)] ||= []).push(r.id);
  const pos = new Map();
  const place = (layer) => layer.forEach((id, i) => pos.set(id, i - (layer.length - 1) / 2));
  layers.forEach(place);
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const layer of order) {
      const center = (id) => {
        const nb = (down ? ins : outs).get(id);
        return nb.length ? nb.reduce((sum, n) => sum + pos.get(n), 0) / nb.length : pos.get(id);
      };
      const key = new Map(layer.map((id) => [id, center(id)]));
      layer.sort((a, b) => key.get(a) - key.get(b));
      place(layer);
    }
  }
  const tallest = Math.max(...layers.map((l) => l.length));
  const xy = new Map();
  layers.forEach((layer, d) => layer.forEach((id, i) => {
    xy.set(id, { x: PAD + d * (W + GX), y: PAD + (i + (tallest - layer.length) / 2) * (H + GY) });
  }));
  return {
    xy,
    edges: [...edges.values()],
    width: PAD * 2 + layers.length * (W + GX) - GX,
    height: PAD * 2 + tallest * (H + GY) - GY,
  };
}

// label names a task in the graph: its node's name when it was submitted in
// a workflow, else its handler's name.
function label(r) {
  return r.node || r.name;
}

function clip(text, n) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function open(id) {
  location.hash = taskHref(id);
}

// draw renders the graph as an <svg id="graph">.
function draw(nodes, startId) {
  const { xy, edges, width, height } = layout(nodes);
  const paths = edges.map(([a, b]) => {
    const p = xy.get(a);
    const c = xy.get(b);
    const x1 = p.x + W;
    const y1 = p.y + H / 2;
    const x2 = c.x - 3;
    const y2 = c.y + H / 2;
    const bend = (x2 - x1) / 2;
    return s("path", {
      class: "edge", "data-from": a, "data-to": b, "data-state": nodes.get(a).state,
      d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)",
    });
  });
  const boxes = [...nodes.values()].map((r) => {
    const { x, y } = xy.get(r.id);
    return s("g", {
      class: "node" + (r.id === startId ? " start" : ""), "data-task-id": r.id, "data-state": r.state,
      transform: `translate(${x} ${y})`, tabindex: "0", role: "link",
      "aria-label": `${label(r)}, ${r.state}, id ${r.id}`,
      onclick: () => open(r.id),
      onkeydown: (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          open(r.id);
        }
      },
    },
    s("title", {}, `${label(r)} (${r.state})\n${r.node ? `node ${r.node} · handler ${r.name}\n` : ""}${r.id}`),
    s("rect", { class: "box", width: W, height: H, rx: 7 }),
    s("circle", { class: "dot", cx: W - 14, cy: 15, r: 5 }),
    s("text", { class: "label", x: 12, y: 20 }, clip(label(r), 20)),
    s("text", { class: "sub", x: 12, y: 37 }, `${shortId(r.id)} · ${r.state}`));
  });
  return s("svg", {
    id: "graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
    "aria-label": `Workflow graph of ${nodes.size} tasks`,
  },
  s("defs", {}, s("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
  }, s("path", { class: "arrowhead", d: "M0,0 L10,5 L0,10 z" }))),
  s("g", { class: "edges" }, paths),
  s("g", { class: "nodes" }, boxes));
}

function crumbs(id) {
  return h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    h("a", { href: "#/" }, "Overview"), h("span", { "aria-hidden": "true" }, " › "),
    h("a", { href: taskHref(id) }, "Task " + shortId(id)), h("span", { "aria-hidden": "true" }, " › "), "Workflow graph");
}

// The pipeline graph view: draws a `portway.graph/1` document (docs/reference/graph-json.md)
// as an SVG, laid out left to right by dagre, with pan/zoom, neighbour highlighting,
// selection and live badges. Used by `portway graph --format html` and the local dashboard.
//
//   const view = PortwayGraph.render(container, graphJson, {details: true});
//   view.setFigures({"queue:jobs": {badges: [{text: "12/s", tone: "ok"}], tooltip: "..."}});
//   view.onSelect((nodeId) => { ... });   // nodeId, or null when the selection is cleared
//   view.fit(); view.select("function:transform"); view.destroy();
//
// Security: every name and label reaches the page through textContent or an SVG text
// node, never parsed as markup, so a hostile name is shown, never run.

import dagre from "@dagrejs/dagre";

const SVG = "http://www.w3.org/2000/svg";
const KINDS = ["bucket", "queue", "dead-letter-queue", "topic", "function", "schedule", "route"];
const EDGE_KINDS = ["trigger", "use", "dead-letter"];
const TONES = ["ok", "warn", "bad", "info"];
const KIND_CAPTION = {
  bucket: "bucket",
  queue: "queue",
  "dead-letter-queue": "dead-letter queue",
  topic: "topic",
  function: "function",
  schedule: "schedule",
  route: "http route",
};
// 16x16 stroke icons, one per kind.
const ICONS = {
  bucket: "M2 4a6 2 0 0 0 12 0a6 2 0 0 0-12 0M2 4v8a6 2 0 0 0 12 0V4",
  queue: "M2 4h12M2 8h12M2 12h12",
  "dead-letter-queue": "M2 4h12M2 8h12M2 12h5M10 10l4 4M14 10l-4 4",
  topic: "M6.5 8a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0M4.5 4.5a5 5 0 0 0 0 7M11.5 4.5a5 5 0 0 1 0 7",
  function: "M4 2h2.5L12 14M8 7.5L4 14",
  schedule: "M2 8a6 6 0 1 0 12 0a6 6 0 1 0-12 0M8 4.5V8l2.5 1.5",
  route: "M2 8h9M8 5l3 3-3 3M14 3v10",
};

const NODE_HEIGHT = 44;
const MIN_WIDTH = 120;
const MAX_WIDTH = 240;
const CHAR_WIDTH = 7.4; // 13px system-ui, bold: an upper estimate, so text never overflows
const BADGE_HEIGHT = 16;
let instances = 0;

function el(name, attributes = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function html(name, className, parent = null, text = null) {
  const node = document.createElement(name);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, attributes, content) {
  const node = el("text", attributes, parent);
  node.textContent = content;
  return node;
}

function known(value, allowed, fallback) {
  return allowed.includes(value) ? value : fallback;
}

function truncate(label, width) {
  const room = Math.floor((width - 44) / CHAR_WIDTH);
  return label.length <= room ? label : label.slice(0, Math.max(1, room - 1)) + "\u2026";
}

// A B-spline through dagre's bend points (what d3's curveBasis draws): smooth, and it
// starts and ends exactly on the first and last point, where the arrow heads sit.
function curve(points) {
  if (points.length < 3) return `M${points.map((p) => `${p.x},${p.y}`).join("L")}`;
  const [first] = points;
  let d = `M${first.x},${first.y}`;
  let [x0, y0, x1, y1] = [first.x, first.y, first.x, first.y];
  const step = (x, y) => {
    d += `C${(2 * x0 + x1) / 3},${(2 * y0 + y1) / 3} ${(x0 + 2 * x1) / 3},${(y0 + 2 * y1) / 3} ${(x0 + 4 * x1 + x) / 6},${(y0 + 4 * y1 + y) / 6}`;
    [x0, y0, x1, y1] = [x1, y1, x, y];
  };
  for (const [index, p] of points.entries()) {
    if (index === 0) continue;
    if (index === 1) {
      d += `L${(5 * x0 + p.x) / 6},${(5 * y0 + p.y) / 6}`;
      [x1, y1] = [p.x, p.y];
      continue;
    }
    step(p.x, p.y);
  }
  step(x1, y1);
  d += `L${x1},${y1}`;
  return d;
}

function layout(graphJson) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 56, edgesep: 16, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  const nodes = new Map();
  for (const node of graphJson.nodes || []) {
    const label = String(node.label ?? node.name ?? node.id);
    const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, 44 + label.length * CHAR_WIDTH));
    nodes.set(String(node.id), node);
    g.setNode(String(node.id), { width, height: NODE_HEIGHT });
  }
  const edges = [];
  for (const edge of graphJson.edges || []) {
    const [source, target] = [String(edge.source), String(edge.target)];
    if (!nodes.has(source) || !nodes.has(target)) continue;
    const label = String(edge.label ?? "");
    g.setEdge(
      source,
      target,
      { width: label.length * 6 + 8, height: 14, labelpos: "c" },
      String(edge.id),
    );
    edges.push(edge);
  }
  dagre.layout(g);
  return { g, nodes, edges };
}

function tooltipOf(node) {
  const lines = [`${KIND_CAPTION[node.kind] || node.kind}: ${node.label ?? node.name}`];
  for (const [key, value] of Object.entries(node.attributes || {})) {
    lines.push(`${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  }
  return lines.join("\n");
}

function render(container, graphJson, options = {}) {
  const uid = `pw${++instances}`;
  const { g, nodes, edges } = layout(graphJson);
  container.classList.add("pw-graph-container");

  const svg = el("svg", { class: "pw-graph", role: "img" });
  svg.setAttribute("aria-label", `pipeline ${graphJson.pipeline ?? ""} graph`);
  const defs = el("defs", {}, svg);
  for (const kind of EDGE_KINDS) {
    const marker = el(
      "marker",
      {
        id: `${uid}-arrow-${kind}`,
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerWidth: 9,
        markerHeight: 9,
        markerUnits: "userSpaceOnUse",
        orient: "auto",
      },
      defs,
    );
    el("path", { d: "M0,0L10,5L0,10z", class: `pw-arrow pw-edge-${kind}` }, marker);
  }
  const viewport = el("g", { class: "pw-viewport" }, svg);
  const edgeLayer = el("g", { class: "pw-edges" }, viewport);
  const labelLayer = el("g", { class: "pw-edge-labels" }, viewport);
  const nodeLayer = el("g", { class: "pw-nodes" }, viewport);

  // Who touches whom, for hover highlighting: node id -> {nodes, edges}.
  const neighbours = new Map([...nodes.keys()].map((id) => [id, { nodes: new Set([id]), edges: [] }]));
  const edgeElements = [];
  for (const edge of edges) {
    const kind = known(edge.kind, EDGE_KINDS, "use");
    const points = g.edge(String(edge.source), String(edge.target), String(edge.id));
    const group = el("g", { class: `pw-edge pw-edge-${kind}` }, edgeLayer);
    group.dataset.edgeId = String(edge.id);
    el("path", { d: curve(points.points), "marker-end": `url(#${uid}-arrow-${kind})` }, group);
    const tooltip = el("title", {}, group);
    tooltip.textContent = `${edge.source} \u2192 ${edge.target}: ${edge.label ?? ""}`;
    const label = el("g", { class: `pw-edge-label pw-edge-${kind}` }, labelLayer);
    if (edge.label) {
      text(label, { x: points.x, y: points.y + 4, "text-anchor": "middle" }, String(edge.label));
    }
    edgeElements.push({ edge, group, label });
    for (const end of [String(edge.source), String(edge.target)]) {
      const entry = neighbours.get(end);
      entry.nodes.add(String(edge.source));
      entry.nodes.add(String(edge.target));
      entry.edges.push(edgeElements.length - 1);
    }
  }

  const nodeElements = new Map();
  for (const [id, node] of nodes) {
    const box = g.node(id);
    const kind = known(node.kind, KINDS, "other");
    const [left, top] = [box.x - box.width / 2, box.y - box.height / 2];
    const group = el("g", {
      class: `pw-node pw-kind-${kind}`,
      transform: `translate(${left},${top})`,
      tabindex: 0,
      role: "button",
    });
    group.dataset.nodeId = id;
    group.setAttribute("aria-label", `${KIND_CAPTION[kind] || node.kind} ${node.label ?? id}`);
    if (node.kind === "route" && node.attributes && node.attributes.public) {
      group.classList.add("pw-public");
    }
    const tooltip = el("title", {}, group);
    const baseTooltip = tooltipOf(node);
    tooltip.textContent = baseTooltip;
    el("rect", { class: "pw-box", width: box.width, height: box.height, rx: 8, ry: 8 }, group);
    el("rect", { class: "pw-stripe", width: 5, height: box.height - 12, x: 0, y: 6, rx: 2 }, group);
    if (ICONS[kind]) {
      el("path", { class: "pw-icon", d: ICONS[kind], transform: "translate(13,14)" }, group);
    }
    text(group, { class: "pw-caption", x: 36, y: 17 }, KIND_CAPTION[kind] || String(node.kind));
    text(group, { class: "pw-label", x: 36, y: 34 }, truncate(String(node.label ?? id), box.width));
    const badges = el("g", { class: "pw-badges", transform: `translate(0,${box.height + 4})` }, group);
    nodeLayer.appendChild(group);
    nodeElements.set(id, { node, group, tooltip, baseTooltip, badges, figureKey: "" });
  }

  // Overlays: zoom controls, legend, details panel. All text through textContent.
  const controls = html("div", "pw-controls", container);
  const zoomIn = html("button", "pw-zoom-in", controls, "+");
  const zoomOut = html("button", "pw-zoom-out", controls, "\u2212");
  const fitButton = html("button", "pw-fit", controls, "Fit");
  for (const [button, title] of [
    [zoomIn, "Zoom in"],
    [zoomOut, "Zoom out"],
    [fitButton, "Fit the whole graph"],
  ]) {
    button.type = "button";
    button.title = title;
  }
  container.appendChild(svg);

  let legend = null;
  if (options.legend !== false) {
    legend = html("div", "pw-legend", container);
    const present = new Set([...nodes.values()].map((n) => n.kind));
    for (const kind of KINDS.filter((k) => present.has(k))) {
      const item = html("span", `pw-legend-item pw-kind-${kind}`, legend);
      html("span", "pw-swatch", item);
      item.appendChild(document.createTextNode(KIND_CAPTION[kind]));
    }
    for (const kind of EDGE_KINDS) {
      const item = html("span", `pw-legend-item pw-edge-${kind}`, legend);
      html("span", "pw-line", item);
      item.appendChild(document.createTextNode(kind));
    }
  }

  let details = null;
  if (options.details) details = html("div", "pw-details", container);

  // Pan and zoom: one transform on the viewport group.
  const { width: graphWidth, height: graphHeight } = g.graph();
  let view = { x: 0, y: 0, k: 1 };
  let moved = false; // once the user pans or zooms, a resize no longer refits
  const apply = () =>
    viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
  const size = () => {
    const rect = svg.getBoundingClientRect();
    return [rect.width || container.clientWidth || 800, rect.height || container.clientHeight || 600];
  };
  const fit = () => {
    const [width, height] = size();
    const k =
      graphWidth > 0 && graphHeight > 0
        ? Math.max(0.15, Math.min((width - 16) / graphWidth, (height - 16) / graphHeight, 1.25))
        : 1;
    view = { k, x: (width - graphWidth * k) / 2, y: (height - graphHeight * k) / 2 };
    moved = false;
    apply();
  };
  const zoomAt = (factor, px, py) => {
    const k = Math.min(4, Math.max(0.15, view.k * factor));
    view = { k, x: px - ((px - view.x) * k) / view.k, y: py - ((py - view.y) * k) / view.k };
    moved = true;
    apply();
  };
  const onWheel = (event) => {
    event.preventDefault();
    const rect = svg.getBoundingClientRect();
    zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
  };
  svg.addEventListener("wheel", onWheel, { passive: false });
  zoomIn.addEventListener("click", () => zoomAt(1.25, ...size().map((v) => v / 2)));
  zoomOut.addEventListener("click", () => zoomAt(0.8, ...size().map((v) => v / 2)));
  fitButton.addEventListener("click", fit);

  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, start: { ...view }, far: false };
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag || drag.id !== event.pointerId) return;
    const [dx, dy] = [event.clientX - drag.x, event.clientY - drag.y];
    if (!drag.far && Math.hypot(dx, dy) < 4) return;
    drag.far = true;
    svg.classList.add("pw-panning");
    view = { ...drag.start, x: drag.start.x + dx, y: drag.start.y + dy };
    moved = true;
    apply();
  });
  const endDrag = (event) => {
    if (!drag || drag.id !== event.pointerId) return;
    const wasClick = !drag.far;
    drag = null;
    svg.classList.remove("pw-panning");
    if (wasClick && event.type === "pointerup") {
      // Pointer capture retargets events to the svg: find the node under the pointer.
      const under = document.elementFromPoint(event.clientX, event.clientY);
      const group = under && under.closest ? under.closest(".pw-node") : null;
      select(group ? group.dataset.nodeId : null);
    }
  };
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);

  let resizeObserver = null;
  if (typeof ResizeObserver !== "undefined") {
    resizeObserver = new ResizeObserver(() => {
      if (!moved) fit();
    });
    resizeObserver.observe(container);
  }

  // Hover: light up a node, its neighbours and the edges between them.
  const focus = (id) => {
    svg.classList.toggle("pw-focus", id !== null);
    for (const item of nodeElements.values()) item.group.classList.remove("pw-near");
    for (const item of edgeElements) {
      item.group.classList.remove("pw-near");
      item.label.classList.remove("pw-near");
    }
    if (id === null) return;
    const near = neighbours.get(id);
    for (const other of near.nodes) nodeElements.get(other).group.classList.add("pw-near");
    for (const index of near.edges) {
      edgeElements[index].group.classList.add("pw-near");
      edgeElements[index].label.classList.add("pw-near");
    }
  };
  for (const [id, item] of nodeElements) {
    item.group.addEventListener("pointerenter", () => focus(id));
    item.group.addEventListener("pointerleave", () => focus(null));
    item.group.addEventListener("focus", () => focus(id));
    item.group.addEventListener("blur", () => focus(null));
    item.group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        select(id);
      }
    });
  }

  const listeners = [];
  let selected = null;
  function select(id) {
    const next = id !== null && id !== undefined && nodeElements.has(id) ? id : null;
    if (next === selected) return;
    if (selected !== null) nodeElements.get(selected).group.classList.remove("pw-selected");
    selected = next;
    if (selected !== null) nodeElements.get(selected).group.classList.add("pw-selected");
    if (details) showDetails(selected);
    for (const callback of listeners) callback(selected);
  }

  function showDetails(id) {
    details.replaceChildren();
    details.classList.toggle("pw-open", id !== null);
    if (id === null) return;
    const node = nodeElements.get(id).node;
    html("div", "pw-details-kind", details, KIND_CAPTION[node.kind] || String(node.kind));
    html("div", "pw-details-name", details, String(node.label ?? id));
    const list = html("dl", "", details);
    for (const [key, value] of Object.entries(node.attributes || {})) {
      html("dt", "", list, key);
      html("dd", "", list, typeof value === "object" ? JSON.stringify(value) : String(value));
    }
    const links = html("dl", "pw-details-edges", details);
    for (const { edge } of edgeElements) {
      if (edge.source !== id && edge.target !== id) continue;
      const outgoing = edge.source === id;
      html("dt", "", links, `${edge.kind} ${outgoing ? "\u2192" : "\u2190"}`);
      html("dd", "", links, `${outgoing ? edge.target : edge.source}: ${edge.label ?? ""}`);
    }
  }

  // Live figures: called every second by the dashboard, so it touches only the nodes
  // whose figures changed, and never lays out again.
  function setFigures(figures) {
    for (const [id, item] of nodeElements) {
      const figure = (figures && figures[id]) || null;
      const key = figure ? JSON.stringify(figure) : "";
      if (key === item.figureKey) continue;
      item.figureKey = key;
      item.badges.replaceChildren();
      let x = 0;
      let alert = false;
      for (const badge of (figure && figure.badges) || []) {
        const tone = known(badge.tone, TONES, "info");
        alert = alert || tone === "bad";
        const label = String(badge.text ?? "");
        const width = label.length * 6.2 + 10;
        const group = el("g", { class: `pw-badge pw-tone-${tone}`, transform: `translate(${x},0)` }, item.badges);
        el("rect", { width, height: BADGE_HEIGHT, rx: BADGE_HEIGHT / 2 }, group);
        text(group, { x: width / 2, y: 12, "text-anchor": "middle" }, label);
        x += width + 4;
      }
      item.group.classList.toggle("pw-alert", alert);
      const extra = figure && figure.tooltip ? `\n\n${figure.tooltip}` : "";
      item.tooltip.textContent = item.baseTooltip + extra;
    }
  }

  fit();
  return {
    svg,
    setFigures,
    select,
    fit,
    onSelect(callback) {
      listeners.push(callback);
      return () => listeners.splice(listeners.indexOf(callback) >>> 0, 1);
    },
    destroy() {
      if (resizeObserver) resizeObserver.disconnect();
      for (const part of [svg, controls, legend, details]) if (part) part.remove();
      container.classList.remove("pw-graph-container");
    },
  };
}

globalThis.PortwayGraph = { render, version: "1" };

// portway run --ui: the dashboard page. Vanilla JS, nothing fetched from anywhere but
// this server. Every string that comes from the run (names, message bodies, reasons)
// is set with textContent: a body holding HTML or a script is shown as text.
(function () {
  "use strict";

  const BASE = "/_portway";
  const TOKEN = new URLSearchParams(window.location.search).get("token") || "";
  const state = {
    graph: null,
    view: null,
    selected: null,
    snapshot: null,
    dlqLoaded: false,
    tab: "graph",
    deadCount: null,
  };

  // -- small DOM helpers (text only, never HTML) -------------------------------------------

  function el(tag, className, text, parent) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (parent) parent.appendChild(node);
    return node;
  }

  function api(path, params) {
    const query = new URLSearchParams(params || {});
    query.set("token", TOKEN);
    return BASE + path + "?" + query.toString();
  }

  async function getJson(path, params) {
    const response = await fetch(api(path, params), { credentials: "same-origin" });
    const document_ = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(document_.error || "HTTP " + response.status);
      error.status = response.status;
      throw error;
    }
    return document_;
  }

  function time(seconds) {
    if (!seconds) return "";
    return new Date(seconds * 1000).toLocaleTimeString();
  }

  function ms(value) {
    return value >= 100 ? value.toFixed(0) + " ms" : value.toFixed(1) + " ms";
  }

  // -- tabs -----------------------------------------------------------------------------------

  function showTab(name) {
    state.tab = name;
    for (const button of document.querySelectorAll("[data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === name));
    }
    for (const panel of document.querySelectorAll("[data-tab-panel]")) {
      panel.hidden = panel.dataset.tabPanel !== name;
    }
    if (name === "dlq") loadDeadLetters();
    if (name === "traces") loadTraces();
    if (name === "graph" && state.view && state.view.fit) state.view.fit();
  }

  // -- graph and live figures -----------------------------------------------------------------

  async function loadGraph() {
    const graph = await getJson("/api/graph");
    state.graph = graph;
    document.getElementById("pipeline-name").textContent = graph.pipeline;
    document.title = "portway: " + graph.pipeline;
    const container = document.getElementById("graph");
    if (window.PortwayGraph && window.PortwayGraph.render) {
      state.view = window.PortwayGraph.render(container, graph, { legend: true });
      state.view.onSelect((id) => {
        state.selected = id;
        renderPanel();
      });
    } else {
      el("p", "hint", "The graph view is not installed; the nodes are listed instead.", container);
      const list = el("ul", "node-list", null, container);
      for (const node of graph.nodes) {
        const item = el("li", null, null, list);
        const button = el("button", "node", node.kind + " " + node.label, item);
        button.type = "button";
        button.addEventListener("click", () => {
          state.selected = node.id;
          renderPanel();
        });
      }
    }
  }

  function connectStream() {
    const status = document.getElementById("status");
    const source = new EventSource(api("/api/stream"));
    source.addEventListener("open", () => {
      status.dataset.state = "live";
      status.textContent = "live";
    });
    source.addEventListener("error", () => {
      status.dataset.state = "lost";
      status.textContent = "disconnected (retrying)";
    });
    source.addEventListener("figures", (event) => {
      const snapshot = JSON.parse(event.data);
      if (snapshot.error) {
        status.dataset.state = "lost";
        status.textContent = snapshot.error;
        return;
      }
      state.snapshot = snapshot;
      status.dataset.state = "live";
      status.textContent = "live, up " + Math.round(snapshot.uptime) + " s";
      if (state.view) {
        const figures = {};
        for (const [id, node] of Object.entries(snapshot.nodes)) {
          figures[id] = { badges: node.badges, tooltip: node.tooltip };
        }
        state.view.setFigures(figures);
      }
      let dead = 0;
      for (const channel of Object.values(snapshot.channels)) dead += channel.dead_letters;
      document.getElementById("dlq-count").textContent = dead ? String(dead) : "";
      // A dead letter arrived or left while the list is shown: show it (live, like the rest).
      if (dead !== state.deadCount) {
        const known = state.deadCount !== null;
        state.deadCount = dead;
        if (known && state.tab === "dlq") loadDeadLetters();
      }
      renderPanel();
    });
  }

  const LABELS = {
    invocations: "invocations",
    failures: "failures",
    per_second: "per second",
    p50_ms: "p50",
    p95_ms: "p95",
    running: "in flight now",
    waiting: "waiting",
    in_flight: "in flight",
    dead_letters: "dead letters",
    objects: "objects",
    written: "written this run",
    events: "events",
  };

  function renderPanel() {
    const panel = document.getElementById("panel");
    if (!state.selected) {
      panel.replaceChildren();
      el("p", "hint", "Select a node to see its live figures.", panel);
      return;
    }
    const node = (state.graph.nodes || []).find((n) => n.id === state.selected);
    panel.replaceChildren();
    el("div", "panel-kind", node ? node.kind : "", panel);
    el("h2", "panel-name", node ? node.label : state.selected, panel);
    const live = state.snapshot && state.snapshot.nodes[state.selected];
    if (!live) {
      el("p", "hint", "No live figures for this node.", panel);
    } else {
      const list = el("dl", "figures", null, panel);
      for (const [key, value] of Object.entries(live.figures || {})) {
        el("dt", null, LABELS[key] || key, list);
        el("dd", null, key.endsWith("_ms") ? ms(value) : Number(value).toLocaleString(), list);
      }
      if (live.tooltip) el("pre", "panel-tooltip", live.tooltip, panel);
    }
    if (node && (node.kind === "queue" || node.kind === "dead-letter-queue" || node.kind === "topic")) {
      const button = el("button", "link", "Dead letters", panel);
      button.type = "button";
      button.addEventListener("click", () => showTab("dlq"));
    }
  }

  // -- dead letters ---------------------------------------------------------------------------

  async function loadDeadLetters() {
    const root = document.getElementById("dlq");
    const message = document.getElementById("dlq-message");
    let document_;
    try {
      document_ = await getJson("/api/dlq");
    } catch (error) {
      message.textContent = "Cannot list dead letters: " + error.message;
      return;
    }
    root.replaceChildren();
    let any = false;
    for (const queue of document_.queues) {
      if (!queue.dead_letters.length) continue;
      any = true;
      const section = el("section", "dlq-queue", null, root);
      section.dataset.channel = queue.channel;
      const heading = el("div", "dlq-heading", null, section);
      el("h2", null, queue.name, heading);
      el(
        "span",
        "muted",
        queue.dead_letters.length + " dead letter(s); consumed by " + queue.functions.join(", "),
        heading
      );
      const all = el("button", "redrive-all", "Redrive all", heading);
      all.type = "button";
      all.addEventListener("click", () => redrive(queue.channel, null));
      const table = el("table", "dlq-table", null, section);
      const head = el("tr", null, null, el("thead", null, null, table));
      for (const title of ["id", "attempts", "failed at", "reason", "body", ""]) el("th", null, title, head);
      const body = el("tbody", null, null, table);
      for (const letter of queue.dead_letters) {
        const row = el("tr", "dlq-row", null, body);
        row.dataset.id = letter.id;
        el("td", "mono", letter.id, row);
        el("td", "num", letter.attempts, row);
        el("td", null, time(letter.failed_at), row);
        el("td", "dlq-reason", letter.reason, row);
        const cell = el("td", null, null, row);
        const shown = letter.body !== null ? letter.body : letter.body_note;
        el("pre", "dlq-body", shown, cell);
        if (letter.truncated) el("span", "muted", "(first 2 KiB of " + letter.size + " bytes)", cell);
        const actions = el("td", "actions", null, row);
        const one = el("button", "redrive", "Redrive", actions);
        one.type = "button";
        one.addEventListener("click", () => redrive(queue.channel, [letter.id]));
        if (letter.traceparent) {
          const trace = el("button", "link", "Trace", actions);
          trace.type = "button";
          trace.addEventListener("click", () => {
            showTab("traces");
            showTrace(letter.traceparent.slice(3, 35));
          });
        }
      }
    }
    if (!any) el("p", "hint", "No dead letters.", root);
    state.dlqLoaded = true;
  }

  async function redrive(channel, ids) {
    const message = document.getElementById("dlq-message");
    const response = await fetch(BASE + "/api/dlq/redrive", {
      method: "POST",
      headers: { "content-type": "application/json", "x-portway-token": TOKEN },
      body: JSON.stringify({ channel: channel, ids: ids }),
      credentials: "same-origin",
    });
    const document_ = await response.json().catch(() => ({}));
    if (!response.ok) {
      message.textContent = "Redrive failed: " + (document_.error || response.status);
      return;
    }
    message.textContent =
      "Moved " + document_.moved + " message(s) back to " + document_.channel + ".";
    loadDeadLetters();
  }

  // -- traces -----------------------------------------------------------------------------------

  function traceUnavailable(error) {
    const message = document.getElementById("trace-message");
    message.textContent =
      error.status === 501 ? "tracing not available" : "Cannot read traces: " + error.message;
  }

  async function loadTraces() {
    const list = document.getElementById("traces-list");
    let document_;
    try {
      document_ = await getJson("/api/traces", { limit: "50" });
    } catch (error) {
      traceUnavailable(error);
      return;
    }
    list.replaceChildren();
    if (!document_.traces.length) el("li", "hint", "No traces recorded yet.", list);
    for (const trace of document_.traces) {
      const item = el("li", trace.failed ? "trace failed" : "trace", null, list);
      item.dataset.traceId = trace.trace_id;
      const button = el("button", "link", trace.root_subject || trace.trace_id, item);
      button.type = "button";
      button.addEventListener("click", () => showTrace(trace.trace_id));
      el(
        "span",
        "muted",
        " " + trace.span_count + " hop(s), " + ms((trace.ended - trace.started) * 1000) +
          (trace.failed ? ", failed" : "") + ", " + time(trace.started),
        item
      );
    }
  }

  async function findTrace(event) {
    event.preventDefault();
    const subject = document.getElementById("trace-subject").value.trim();
    const message = document.getElementById("trace-message");
    if (!subject) return;
    const slash = subject.indexOf("/");
    const params =
      slash > 0
        ? { bucket: subject.slice(0, slash), key: subject.slice(slash + 1) }
        : { message: subject };
    try {
      const found = await getJson("/api/traces", params);
      if (!found.trace_id) {
        message.textContent = "No trace for " + subject + ".";
        return;
      }
      message.textContent = "";
      showTrace(found.trace_id);
    } catch (error) {
      traceUnavailable(error);
    }
  }

  async function showTrace(traceId) {
    const root = document.getElementById("trace-hops");
    let document_;
    try {
      document_ = await getJson("/api/traces/" + encodeURIComponent(traceId));
    } catch (error) {
      traceUnavailable(error);
      return;
    }
    root.replaceChildren();
    el("h2", "mono", "trace " + document_.trace_id, root);
    const spans = document_.spans;
    const known = new Set(spans.map((s) => s.span_id));
    const children = new Map();
    const roots = [];
    for (const span of spans) {
      if (span.parent_span_id && known.has(span.parent_span_id) && span.parent_span_id !== span.span_id) {
        if (!children.has(span.parent_span_id)) children.set(span.parent_span_id, []);
        children.get(span.parent_span_id).push(span);
      } else {
        roots.push(span);
      }
    }
    const start = Math.min(...spans.map((s) => s.started));
    const table = el("table", "hops", null, root);
    const head = el("tr", null, null, el("thead", null, null, table));
    for (const title of ["hop", "subject", "at", "duration", "outcome"]) el("th", null, title, head);
    const body = el("tbody", null, null, table);
    const seen = new Set();
    const add = (span, depth) => {
      if (seen.has(span.span_id)) return;
      seen.add(span.span_id);
      const row = el("tr", "hop outcome-" + span.outcome, null, body);
      const name = el("td", "hop-name", (span.function || "write") + " (" + span.trigger + ")", row);
      name.style.paddingLeft = 8 + depth * 18 + "px";
      el("td", "mono", span.subject, row);
      el("td", "num", "+" + ms((span.started - start) * 1000), row);
      el("td", "num", ms(span.duration_ms), row);
      const outcome = el("td", "outcome", span.outcome, row);
      if (span.reason) el("div", "dlq-reason", span.reason, outcome);
      for (const child of children.get(span.span_id) || []) add(child, depth + 1);
    };
    for (const span of roots) add(span, 0);
  }

  // -- start --------------------------------------------------------------------------------------

  function start() {
    for (const button of document.querySelectorAll("[data-tab]")) {
      button.addEventListener("click", () => showTab(button.dataset.tab));
    }
    document.getElementById("dlq-refresh").addEventListener("click", loadDeadLetters);
    document.getElementById("traces-refresh").addEventListener("click", loadTraces);
    document.getElementById("trace-find").addEventListener("submit", findTrace);
    loadGraph()
      .catch((error) => {
        const status = document.getElementById("status");
        status.dataset.state = "lost";
        status.textContent = "Cannot load the pipeline: " + error.message;
      })
      .finally(connectStream);
  }

  start();
})();

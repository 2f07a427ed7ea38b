/*
 * Instance page: facts, the workflow graph (laid out with dagre, drawn as SVG), step details,
 * signal and cancel actions, and the history timeline. Refreshed every 2 s while running.
 */
(function () {
  'use strict';

  const P = window.PgDurable;
  const REFRESH_MS = 2000;
  const LABEL_MAX = 28;
  const GRAPH_STATUSES = ['pending', 'running', 'completed', 'failed', 'skipped', 'cancelled'];

  const state = {
    id: null,
    apiUrl: null,
    poller: null,
    terminalSeen: false,
    data: null,
    nodesById: new Map(),
    vertexById: new Map(),
    selectedNodeId: null,
    selectedVertexId: null,
    sig: { title: null, graph: null, detail: null, waits: null, history: null }
  };

  // =====================================================================
  // Small helpers
  // =====================================================================

  function instanceIdFromPath() {
    const parts = location.pathname.split('/').filter(Boolean);
    const last = parts.length ? parts[parts.length - 1] : '';
    try {
      return decodeURIComponent(last);
    } catch (e) {
      return last;
    }
  }

  function str(value) {
    return value === null || value === undefined ? '' : String(value);
  }

  /** One line, collapsed whitespace. */
  function oneLine(value) {
    return str(value).replace(/\s+/g, ' ').trim();
  }

  /** At most max characters (code points), with an ellipsis when cut. */
  function truncate(s, max) {
    const chars = Array.from(s);
    return chars.length > max ? chars.slice(0, max - 1).join('') + '…' : s;
  }

  function safeKind(kind) {
    const k = str(kind).toUpperCase();
    return /^[A-Z_]{1,32}$/.test(k) ? k : 'UNKNOWN';
  }

  let measureContext = null;
  let fontFamily = null;

  /** Width in px of text at a font size, measured with a canvas (falls back to an estimate). */
  function textWidth(s, px) {
    if (!measureContext) {
      measureContext = document.createElement('canvas').getContext('2d');
      fontFamily = getComputedStyle(document.body).fontFamily || 'sans-serif';
    }
    if (!measureContext) return Array.from(s).length * px * 0.62;
    measureContext.font = px + 'px ' + fontFamily;
    return measureContext.measureText(s).width;
  }

  function setMessage(kind, message) {
    const box = P.byId('action-message');
    box.setAttribute('class', kind);
    box.textContent = message;
  }

  // =====================================================================
  // Graph: shapes and sizes
  // =====================================================================

  const KIND_TAGS = {
    SQL: 'sql', HTTP: 'http', HTTP_MULTIPART: 'http multipart', SLEEP: 'sleep', SIGNAL: 'signal',
    WAIT_SCHEDULE: 'wait schedule', BREAK: 'break', LOOP: 'loop', IF: 'if'
  };

  function shapeOf(kind) {
    switch (kind) {
      case 'START': case 'END': return 'circle';
      case 'IF': return 'diamond';
      case 'JOIN': case 'RACE': case 'JOIN_END': case 'RACE_END': return 'bar';
      case 'LOOP': return 'loop';
      default: return 'rect';
    }
  }

  /** Display label, shape and box size of one vertex. */
  function vertexLayout(vertex) {
    const kind = safeKind(vertex.kind);
    const shape = shapeOf(kind);
    const full = oneLine(vertex.label) || kind.toLowerCase();
    const tag = KIND_TAGS[kind] || kind.toLowerCase().replace(/_/g, ' ');
    let label;
    let width;
    let height;
    switch (shape) {
      case 'circle':
        label = truncate(full, 10);
        width = height = Math.max(44, textWidth(label, 10) + 16);
        break;
      case 'diamond':
        label = truncate(full, LABEL_MAX);
        width = Math.max(84, textWidth(label, 12) * 1.4 + 24);
        height = 60;
        break;
      case 'bar':
        label = truncate(full, LABEL_MAX);
        width = Math.max(90, textWidth(label, 10) + 28);
        height = 18;
        break;
      case 'loop':
        label = truncate(full, LABEL_MAX);
        width = Math.max(120, textWidth(label, 12) + 60, textWidth(tag, 9.5) + 60);
        height = 44;
        break;
      default:
        label = truncate(full, LABEL_MAX);
        width = Math.max(96, textWidth(label, 12) + 28, textWidth(tag, 9.5) + 28);
        height = 44;
    }
    return {
      kind: kind, shape: shape, tag: tag, label: label, fullLabel: str(vertex.label) || kind,
      width: Math.ceil(width), height: Math.ceil(height)
    };
  }

  /** Moves an edge end from the bounding box onto a circle or diamond outline. */
  function clipToShape(shape, node, toward) {
    const dx = toward.x - node.x;
    const dy = toward.y - node.y;
    if (dx === 0 && dy === 0) return null;
    if (shape === 'circle') {
      const r = node.width / 2;
      const len = Math.sqrt(dx * dx + dy * dy);
      return { x: node.x + dx * r / len, y: node.y + dy * r / len };
    }
    if (shape === 'diamond') {
      const t = 1 / (Math.abs(dx) / (node.width / 2) + Math.abs(dy) / (node.height / 2));
      return { x: node.x + dx * t, y: node.y + dy * t };
    }
    return null;
  }

  function clipEdgeEnds(points, fromNode, toNode) {
    const pts = points.map(function (p) { return { x: p.x, y: p.y }; });
    if (pts.length < 2) return pts;
    const start = clipToShape(fromNode.layout.shape, fromNode, pts[1]);
    if (start) pts[0] = start;
    const end = clipToShape(toNode.layout.shape, toNode, pts[pts.length - 2]);
    if (end) pts[pts.length - 1] = end;
    return pts;
  }

  /** A smooth path through dagre's points (quadratic curves through the midpoints). */
  function pathData(points) {
    const f = function (n) { return Math.round(n * 10) / 10; };
    if (points.length === 0) return '';
    let d = 'M' + f(points[0].x) + ',' + f(points[0].y);
    if (points.length === 2) return d + ' L' + f(points[1].x) + ',' + f(points[1].y);
    for (let i = 1; i < points.length - 1; i++) {
      const p = points[i];
      const q = points[i + 1];
      const mx = i === points.length - 2 ? q.x : (p.x + q.x) / 2;
      const my = i === points.length - 2 ? q.y : (p.y + q.y) / 2;
      d += ' Q' + f(p.x) + ',' + f(p.y) + ' ' + f(mx) + ',' + f(my);
    }
    return d;
  }

  // =====================================================================
  // Graph: layout and drawing
  // =====================================================================

  function layoutGraph(vertices, edges) {
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 40, edgesep: 12, marginx: 16, marginy: 16 });
    g.setDefaultEdgeLabel(function () { return {}; });

    const keyOf = new Map(); // vertex id -> dagre key (keys never come from data)
    vertices.forEach(function (vertex, index) {
      const id = str(vertex.id);
      if (keyOf.has(id)) return;
      const key = 'n' + index;
      keyOf.set(id, key);
      const layout = vertexLayout(vertex);
      g.setNode(key, { width: layout.width, height: layout.height, vertex: vertex, layout: layout });
    });

    const drawnEdges = [];
    edges.forEach(function (edge, index) {
      const from = keyOf.get(str(edge.from));
      const to = keyOf.get(str(edge.to));
      if (!from || !to) return;
      const label = truncate(oneLine(edge.label), LABEL_MAX);
      const attrs = { label: label, fullLabel: str(edge.label), labelpos: 'c' };
      if (label) {
        attrs.width = Math.ceil(textWidth(label, 11) + 8);
        attrs.height = 16;
      }
      const name = 'e' + index;
      g.setEdge(from, to, attrs, name);
      drawnEdges.push({ v: from, w: to, name: name });
    });

    dagre.layout(g);
    return { g: g, edges: drawnEdges };
  }

  function arrowDefs() {
    return P.svg('defs', null,
      P.svg('marker', {
        id: 'arrowhead', viewBox: '0 0 10 10', refX: '9', refY: '5',
        markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto'
      }, P.svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead-shape' })));
  }

  function drawEdge(g, e, edgeLayer, labelLayer) {
    const edge = g.edge(e);
    const fromNode = g.node(e.v);
    const toNode = g.node(e.w);
    const points = clipEdgeEnds(edge.points || [], fromNode, toNode);
    const path = P.svg('path', { class: 'edge', d: pathData(points), 'marker-end': 'url(#arrowhead)' });
    if (edge.fullLabel) path.appendChild(P.svg('title', null, edge.fullLabel));
    edgeLayer.appendChild(path);
    if (edge.label && typeof edge.x === 'number' && typeof edge.y === 'number') {
      labelLayer.appendChild(P.svg('rect', {
        class: 'edge-label-bg', x: edge.x - edge.width / 2, y: edge.y - edge.height / 2,
        width: edge.width, height: edge.height, rx: 3
      }));
      labelLayer.appendChild(P.svg('text', {
        class: 'edge-label', x: edge.x, y: edge.y, 'text-anchor': 'middle', 'dominant-baseline': 'central'
      }, edge.label, edge.fullLabel !== edge.label ? P.svg('title', null, edge.fullLabel) : null));
    }
  }

  function shapeElement(layout) {
    const w = layout.width;
    const h = layout.height;
    switch (layout.shape) {
      case 'circle':
        return P.svg('circle', { class: 'shape', cx: 0, cy: 0, r: w / 2 });
      case 'diamond':
        return P.svg('polygon', {
          class: 'shape', points: '0,' + (-h / 2) + ' ' + (w / 2) + ',0 0,' + (h / 2) + ' ' + (-w / 2) + ',0'
        });
      case 'bar':
        return P.svg('rect', { class: 'shape', x: -w / 2, y: -h / 2, width: w, height: h, rx: 4 });
      case 'loop':
        return P.svg('rect', { class: 'shape', x: -w / 2, y: -h / 2, width: w, height: h, rx: 16 });
      default:
        return P.svg('rect', { class: 'shape', x: -w / 2, y: -h / 2, width: w, height: h, rx: 5 });
    }
  }

  function labelElements(layout) {
    const center = { 'text-anchor': 'middle', 'dominant-baseline': 'central' };
    switch (layout.shape) {
      case 'circle':
      case 'bar':
        return [P.svg('text', Object.assign({ class: 'small-label', x: 0, y: 0 }, center), layout.label)];
      case 'diamond':
        return [P.svg('text', Object.assign({ class: 'label', x: 0, y: 0 }, center), layout.label)];
      case 'loop':
        return [
          P.svg('text', Object.assign({ class: 'loop-marker', x: -layout.width / 2 + 18, y: 0 }, center), '↻'),
          P.svg('text', Object.assign({ class: 'kind-tag', x: 10, y: -9 }, center), layout.tag),
          P.svg('text', Object.assign({ class: 'label', x: 10, y: 8 }, center), layout.label)
        ];
      default:
        return [
          P.svg('text', Object.assign({ class: 'kind-tag', x: 0, y: -9 }, center), layout.tag),
          P.svg('text', Object.assign({ class: 'label', x: 0, y: 8 }, center), layout.label)
        ];
    }
  }

  function drawVertex(node) {
    const vertex = node.vertex;
    const layout = node.layout;
    const status = P.safeStatus(vertex.status);
    const nodeId = str(vertex.nodeId);
    const group = P.svg('g', {
      class: 'vertex kind-' + layout.kind + ' status-' + status,
      transform: 'translate(' + node.x + ',' + node.y + ')',
      'data-vertex-id': str(vertex.id),
      'data-node-id': nodeId,
      'data-status': str(vertex.status),
      'data-kind': layout.kind
    });
    group.appendChild(P.svg('title', null, layout.fullLabel));
    group.appendChild(shapeElement(layout));
    labelElements(layout).forEach(function (t) { group.appendChild(t); });
    if (nodeId) {
      group.setAttribute('data-clickable', 'true');
      group.setAttribute('tabindex', '0');
      group.setAttribute('role', 'button');
      group.setAttribute('aria-label', layout.kind + ' ' + layout.fullLabel + ' (' + str(vertex.status) + ')');
    }
    return group;
  }

  function showGraphMessage(message) {
    const svgEl = P.byId('graph');
    P.clear(svgEl);
    svgEl.setAttribute('width', '0');
    svgEl.setAttribute('height', '0');
    svgEl.removeAttribute('viewBox');
    let note = P.byId('graph-empty');
    if (!note) {
      note = P.el('p', { id: 'graph-empty', class: 'graph-empty' });
      P.byId('graph-container').appendChild(note);
    }
    note.textContent = message;
    note.hidden = !message;
  }

  function drawGraph(graph) {
    const vertices = graph && Array.isArray(graph.vertices) ? graph.vertices : [];
    const edges = graph && Array.isArray(graph.edges) ? graph.edges : [];
    if (vertices.length === 0) {
      showGraphMessage('No graph for this instance.');
      return;
    }
    if (typeof window.dagre === 'undefined') {
      showGraphMessage('The graph layout library did not load.');
      return;
    }
    showGraphMessage('');

    const focusedVertex = document.activeElement && document.activeElement.getAttribute
      ? document.activeElement.getAttribute('data-vertex-id') : null;

    const laid = layoutGraph(vertices, edges);
    const g = laid.g;
    const size = g.graph();
    const width = Math.max(1, Math.ceil(size.width || 0));
    const height = Math.max(1, Math.ceil(size.height || 0));

    const svgEl = P.byId('graph');
    P.clear(svgEl);
    svgEl.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svgEl.setAttribute('width', String(width));
    svgEl.setAttribute('height', String(height));
    svgEl.appendChild(arrowDefs());

    const edgeLayer = P.svg('g', { class: 'edges' });
    const labelLayer = P.svg('g', { class: 'edge-labels' });
    const vertexLayer = P.svg('g', { class: 'vertices' });
    laid.edges.forEach(function (e) { drawEdge(g, e, edgeLayer, labelLayer); });
    g.nodes().forEach(function (key) { vertexLayer.appendChild(drawVertex(g.node(key))); });
    svgEl.appendChild(edgeLayer);
    svgEl.appendChild(vertexLayer);
    svgEl.appendChild(labelLayer);

    markSelected();
    if (focusedVertex !== null) {
      const again = findVertexElement(focusedVertex);
      if (again) again.focus();
    }
  }

  function graphSignature(graph) {
    const vertices = graph && Array.isArray(graph.vertices) ? graph.vertices : [];
    const edges = graph && Array.isArray(graph.edges) ? graph.edges : [];
    return JSON.stringify([
      vertices.map(function (v) { return [v.id, v.kind, v.label, v.status, v.nodeId]; }),
      edges.map(function (e) { return [e.from, e.to, e.label]; })
    ]);
  }

  function findVertexElement(vertexId) {
    const all = P.byId('graph').querySelectorAll('g.vertex');
    for (let i = 0; i < all.length; i++) {
      if (all[i].getAttribute('data-vertex-id') === vertexId) return all[i];
    }
    return null;
  }

  function buildLegend() {
    const legend = P.byId('graph-legend');
    P.clear(legend);
    legend.appendChild(P.el('span', { class: 'legend-title' }, 'Status:'));
    GRAPH_STATUSES.forEach(function (s) { legend.appendChild(P.statusBadge(s)); });
  }

  // =====================================================================
  // Node details
  // =====================================================================

  function markSelected() {
    const all = P.byId('graph').querySelectorAll('g.vertex');
    Array.prototype.forEach.call(all, function (g) {
      const selected = state.selectedVertexId !== null && g.getAttribute('data-vertex-id') === state.selectedVertexId;
      if (selected) {
        g.setAttribute('data-selected', 'true');
      } else {
        g.removeAttribute('data-selected');
      }
    });
  }

  function selectVertex(group) {
    const nodeId = group.getAttribute('data-node-id');
    if (!nodeId) return;
    state.selectedNodeId = nodeId;
    state.selectedVertexId = group.getAttribute('data-vertex-id');
    state.sig.detail = null;
    markSelected();
    renderDetail();
  }

  function onGraphClick(event) {
    const group = event.target.closest ? event.target.closest('g.vertex') : null;
    if (group) selectVertex(group);
  }

  function onGraphKey(event) {
    if (event.key !== 'Enter' && event.key !== ' ') return;
    const group = event.target.closest ? event.target.closest('g.vertex') : null;
    if (group && group.getAttribute('data-node-id')) {
      event.preventDefault();
      selectVertex(group);
    }
  }

  function timingsList(node) {
    const dl = P.el('dl');
    dl.appendChild(P.el('dt', null, 'Created'));
    dl.appendChild(P.setTime(P.el('dd'), node.createdAt));
    dl.appendChild(P.el('dt', null, 'Updated'));
    dl.appendChild(P.setTime(P.el('dd'), node.updatedAt));
    if (node.iteration !== null && node.iteration !== undefined) {
      dl.appendChild(P.el('dt', null, 'Iteration'));
      dl.appendChild(P.text(P.el('dd'), node.iteration));
    }
    dl.appendChild(P.el('dt', null, 'Status'));
    dl.appendChild(P.text(P.el('dd'), node.status));
    dl.appendChild(P.el('dt', null, 'Inferred status'));
    dl.appendChild(P.text(P.el('dd'), node.inferredStatus));
    if (node.resultName) {
      dl.appendChild(P.el('dt', null, 'Result name'));
      dl.appendChild(P.text(P.el('dd'), node.resultName));
    }
    return dl;
  }

  /** Fills a detail <pre>; marks it data-empty when it only shows the dash. */
  function setPre(id, value) {
    const pre = P.byId(id);
    const empty = value === null || value === undefined || value === '';
    P.text(pre, value);
    if (empty) {
      pre.setAttribute('data-empty', '');
    } else {
      pre.removeAttribute('data-empty');
    }
  }

  function renderDetail() {
    if (state.selectedNodeId === null) return;
    const node = state.nodesById.get(state.selectedNodeId) || null;
    const vertex = state.vertexById.get(state.selectedVertexId) || null;
    const sig = JSON.stringify([state.selectedVertexId, node]);
    if (sig === state.sig.detail) return;
    state.sig.detail = sig;

    P.byId('detail-hint').hidden = true;
    P.byId('detail-body').hidden = false;
    const type = node && node.type ? node.type : (vertex ? vertex.kind : '');
    P.text(P.byId('detail-title'), (type ? type + ' ' : '') + state.selectedNodeId);
    setPre('detail-sql', node ? node.query : null);
    setPre('detail-result', node ? P.displayValue(node.result) : null);
    setPre('detail-error', node ? P.displayValue(node.error) : null);
    const timings = P.clear(P.byId('detail-timings'));
    if (node) {
      timings.appendChild(timingsList(node));
    } else {
      timings.textContent = '—';
    }
  }

  // =====================================================================
  // Facts, title, waits, cancel, timeline
  // =====================================================================

  function renderTitle(instance) {
    const sig = JSON.stringify([instance.id, instance.label]);
    if (sig === state.sig.title) return;
    state.sig.title = sig;
    const h1 = P.clear(P.byId('instance-title'));
    h1.appendChild(document.createTextNode('Instance ' + str(instance.id || state.id)));
    if (instance.label) {
      h1.appendChild(document.createTextNode(' '));
      h1.appendChild(P.el('span', { class: 'instance-label' }, str(instance.label)));
    }
    document.title = 'Instance ' + str(instance.id || state.id) + ' · pg_durable';
  }

  function renderFacts(instance) {
    P.setBadge(P.byId('instance-status'), instance.status);
    P.text(P.byId('fact-function'), instance.functionName);
    P.setTime(P.byId('fact-created'), instance.createdAt);
    P.setTime(P.byId('fact-updated'), instance.updatedAt);
    P.setTime(P.byId('fact-completed'), instance.endedAt);
    P.text(P.byId('fact-output'), P.displayValue(instance.output));
  }

  function renderCancel(instance) {
    const terminal = P.isTerminal(instance.status);
    P.byId('cancel-form').hidden = terminal;
    P.byId('cancel-instance').disabled = terminal;
    P.byId('cancel-terminal').hidden = !terminal;
  }

  function waitForm(wait, previousValues) {
    const name = str(wait.signalName);
    const textarea = P.el('textarea', { name: 'data', rows: '2', spellcheck: 'false', 'aria-label': 'Data for ' + name });
    textarea.value = previousValues.has(name) ? previousValues.get(name) : '{}';
    const button = P.el('button', { class: 'send-signal', type: 'submit' }, 'Send signal');
    const form = P.el('form', { class: 'signal-form', 'data-signal-name': name, autocomplete: 'off' },
      P.el('div', { class: 'wait-name' }, name),
      P.el('div', { class: 'muted small' }, 'waiting since ', P.setTime(P.el('span'), wait.since)),
      textarea,
      P.el('div', null, button));
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      sendSignal(name, textarea.value, button);
    });
    return form;
  }

  function renderWaits(waits) {
    const list = Array.isArray(waits) ? waits : [];
    const sig = JSON.stringify(list.map(function (w) { return [w.signalName, w.since]; }));
    if (sig === state.sig.waits) return;
    state.sig.waits = sig;

    const container = P.byId('wait-forms');
    const previousValues = new Map();
    Array.prototype.forEach.call(container.querySelectorAll('form.signal-form'), function (form) {
      const textarea = form.querySelector('textarea');
      if (textarea) previousValues.set(form.getAttribute('data-signal-name'), textarea.value);
    });
    P.clear(container);
    list.forEach(function (wait) { container.appendChild(waitForm(wait, previousValues)); });
    P.byId('waits-empty').hidden = list.length > 0;
  }

  function historyRow(h) {
    return P.el('tr', { class: 'history-row' },
      P.setTime(P.el('td', { class: 'col-time' }), h.time),
      P.text(P.el('td', { class: 'col-generation num' }), h.executionId),
      P.text(P.el('td', { class: 'col-seq num' }), h.seq),
      P.text(P.el('td', { class: 'col-type nowrap' }), h.type),
      P.text(P.el('td', { class: 'col-name wrap' }), h.name),
      P.text(P.el('td', { class: 'col-detail' }), P.displayValue(h.detail)));
  }

  function renderTimeline(history, truncated) {
    const list = Array.isArray(history) ? history : [];
    const sig = JSON.stringify([list, !!truncated]);
    if (sig === state.sig.history) return;
    state.sig.history = sig;

    const note = P.byId('timeline-note');
    note.textContent = truncated ? '(older events not shown)' : '';
    note.hidden = !truncated;
    P.fillTable('timeline', list, function (h) { return historyRow(h || {}); }, 'No history yet.', 6);
  }

  // =====================================================================
  // Loading
  // =====================================================================

  function indexData(data) {
    state.nodesById = new Map();
    (Array.isArray(data.nodes) ? data.nodes : []).forEach(function (n) {
      if (n && n.id !== null && n.id !== undefined && !state.nodesById.has(String(n.id))) {
        state.nodesById.set(String(n.id), n);
      }
    });
    state.vertexById = new Map();
    const vertices = data.graph && Array.isArray(data.graph.vertices) ? data.graph.vertices : [];
    vertices.forEach(function (v) { if (v) state.vertexById.set(str(v.id), v); });
  }

  function render(data) {
    const instance = data.instance || {};
    state.data = data;
    indexData(data);
    renderTitle(instance);
    renderFacts(instance);
    renderCancel(instance);
    const graphSig = graphSignature(data.graph);
    if (graphSig !== state.sig.graph) {
      state.sig.graph = graphSig;
      drawGraph(data.graph);
    }
    renderDetail();
    renderWaits(data.waits);
    renderTimeline(data.history, data.historyTruncated);
  }

  function showPageError(message) {
    P.showError('page-error', message);
    P.byId('instance-content').hidden = true;
  }

  /** One refresh; returns false to stop polling. */
  async function refresh() {
    let result;
    try {
      result = await P.api(state.apiUrl);
    } catch (err) {
      P.markUpdated(P.byId('last-updated'), 'network error');
      return true;
    }
    if (result.status === 404 || result.status === 403 || result.status === 400) {
      showPageError(P.errorMessage(result));
      return false;
    }
    if (!result.ok || !result.data) {
      P.markUpdated(P.byId('last-updated'), P.errorMessage(result));
      return true;
    }
    P.showError('page-error', '');
    P.byId('instance-content').hidden = false;
    render(result.data);
    P.markUpdated(P.byId('last-updated'));

    const status = result.data.instance ? result.data.instance.status : null;
    if (!P.isTerminal(status)) {
      state.terminalSeen = false;
      return true;
    }
    if (state.terminalSeen) return false; // the one extra refresh after becoming terminal is done
    state.terminalSeen = true;
    return true;
  }

  // =====================================================================
  // Actions
  // =====================================================================

  async function runAction(button, path, body, okFallback) {
    button.disabled = true;
    try {
      const result = await P.post(state.apiUrl + path, body);
      if (result.ok) {
        setMessage('ok', result.data && result.data.message ? String(result.data.message) : okFallback);
      } else {
        setMessage('error', P.errorMessage(result));
      }
    } catch (err) {
      setMessage('error', P.networkMessage(err));
    } finally {
      button.disabled = false;
      state.terminalSeen = false;
      state.poller.now();
    }
  }

  function sendSignal(name, data, button) {
    if (!name) {
      setMessage('error', 'Enter a signal name.');
      return;
    }
    runAction(button, '/signal', { name: name, data: data }, 'Signal sent.');
  }

  function onGeneralSignal(event) {
    event.preventDefault();
    const name = P.byId('signal-name').value.trim();
    sendSignal(name, P.byId('signal-data').value, P.byId('send-signal'));
  }

  function onCancel(event) {
    event.preventDefault();
    const button = P.byId('cancel-instance');
    if (button.disabled) return;
    runAction(button, '/cancel', { reason: P.byId('cancel-reason').value }, 'Cancel requested.');
  }

  // =====================================================================
  // Start
  // =====================================================================

  function init() {
    state.id = instanceIdFromPath();
    state.apiUrl = '/api/instances/' + encodeURIComponent(state.id);
    P.text(P.byId('instance-title'), 'Instance ' + state.id);
    buildLegend();
    const svgEl = P.byId('graph');
    svgEl.addEventListener('click', onGraphClick);
    svgEl.addEventListener('keydown', onGraphKey);
    P.byId('signal-form').addEventListener('submit', onGeneralSignal);
    P.byId('cancel-form').addEventListener('submit', onCancel);
    if (!state.id) {
      showPageError('No instance id in the address.');
      return;
    }
    state.poller = P.poll(refresh, REFRESH_MS);
  }

  P.boot(init);
})();

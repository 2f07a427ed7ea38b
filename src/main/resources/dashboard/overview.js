/* Overview page: instance counts, per-minute charts, queue depth samples, reconcile runs, recent failures. */
(function () {
  'use strict';

  const P = window.PgDurable;
  const REFRESH_MS = 5000;
  const MAX_QUEUE_SAMPLES = 720; // one hour at one sample per 5 s
  const CHART_HEIGHT = 200;
  const MINUTE_CHOICES = ['15', '60', '180', '360', '1440'];

  const state = {
    minutes: '60',
    poller: null,
    charts: {},            // container id -> uPlot instance
    queueSamples: []       // {t: epoch seconds, depth: number|null}
  };

  // ---------- colours (read from the stylesheet so badges and charts agree) ----------

  function cssColour(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function withAlpha(hex, alpha) {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) return hex;
    return 'rgba(' + parseInt(m[1], 16) + ',' + parseInt(m[2], 16) + ',' + parseInt(m[3], 16) + ',' + alpha + ')';
  }

  // ---------- charts ----------

  const INTEGER_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 1e6, 1e7];

  function zeroBasedRange(u, min, max) {
    const top = max === null || max === undefined || isNaN(max) ? 1 : max;
    return [0, Math.max(1, Math.ceil(top * 1.15))];
  }

  function lineSeries(label, colour, fill) {
    return {
      label: label,
      stroke: colour,
      width: 2,
      fill: fill ? withAlpha(colour, 0.12) : undefined,
      points: { size: 5 }
    };
  }

  function barSeries(label, colour) {
    return {
      label: label,
      stroke: colour,
      fill: withAlpha(colour, 0.55),
      width: 1,
      paths: uPlot.paths.bars({ size: [0.7, 40], align: 0 }),
      points: { show: false }
    };
  }

  function pointSeries(label, colour) {
    return {
      label: label,
      stroke: colour,
      width: 0,
      paths: function () { return null; },
      points: { show: true, size: 9, fill: withAlpha(colour, 0.7), stroke: colour, width: 1 }
    };
  }

  /** An x range at least a minute wide, so a few close samples do not zoom to milliseconds. */
  /** The samples' span, but at least the last minute (one sample alone would span years). */
  function atLeastAMinute(u, min, max) {
    const samples = state.queueSamples;
    const last = samples.length ? samples[samples.length - 1].t : Date.now() / 1000;
    const first = samples.length ? samples[0].t : last;
    return [Math.min(first, last - 60), last];
  }

  function chartOptions(width, series, xRange) {
    const x = { time: true };
    if (xRange) {
      x.auto = false;
      x.range = xRange;
    }
    return {
      width: width,
      height: CHART_HEIGHT,
      scales: { x: x, y: { range: zeroBasedRange } },
      axes: [
        { stroke: '#616e7c', grid: { stroke: '#eef1f4' } },
        { stroke: '#616e7c', grid: { stroke: '#eef1f4' }, incrs: INTEGER_INCRS, size: 44 }
      ],
      cursor: { drag: { x: false, y: false } },
      series: [{ label: 'time' }].concat(series)
    };
  }

  function chartWidth(container) {
    return Math.max(200, Math.floor(container.clientWidth || 400));
  }

  function emptyNote(container, message) {
    let note = container.querySelector('.chart-empty');
    if (!message) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = P.el('div', { class: 'chart-empty' });
      container.appendChild(note);
    }
    note.textContent = message;
  }

  /**
   * Draws data [xs, ys1, ys2...] into the container, creating the chart the first time.
   * seriesFactory() builds the series list (called once). Empty data shows a note instead.
   * xRange optionally replaces uPlot's x range function.
   */
  function drawChart(containerId, seriesFactory, data, emptyMessage, xRange) {
    const container = P.byId(containerId);
    if (typeof window.uPlot === 'undefined') {
      emptyNote(container, 'The chart library did not load.');
      return;
    }
    const empty = !data[0] || data[0].length === 0;
    let chart = state.charts[containerId];
    if (empty) {
      if (chart) {
        chart.destroy();
        delete state.charts[containerId];
      }
      emptyNote(container, emptyMessage || 'No data yet.');
      return;
    }
    emptyNote(container, '');
    if (!chart) {
      chart = new uPlot(chartOptions(chartWidth(container), seriesFactory(), xRange), data, container);
      state.charts[containerId] = chart;
    } else {
      chart.setData(data);
      const width = chartWidth(container);
      if (chart.width !== width) chart.setSize({ width: width, height: CHART_HEIGHT });
    }
  }

  function resizeCharts() {
    Object.keys(state.charts).forEach(function (id) {
      const container = P.byId(id);
      if (!container || container.offsetParent === null) return;
      state.charts[id].setSize({ width: chartWidth(container), height: CHART_HEIGHT });
    });
  }

  function numbers(list, length) {
    const out = [];
    for (let i = 0; i < length; i++) {
      const v = list && list[i];
      out.push(typeof v === 'number' && isFinite(v) ? v : null);
    }
    return out;
  }

  // ---------- sections ----------

  function renderCounts(counts) {
    const c = counts || {};
    Array.prototype.forEach.call(document.querySelectorAll('#counts .count'), function (box) {
      const status = box.getAttribute('data-status');
      const value = c[status];
      P.text(box.querySelector('.count-value'), typeof value === 'number' ? String(value) : null);
    });
  }

  function renderSeries(series) {
    const s = series || {};
    const xs = Array.isArray(s.minutes) ? s.minutes.filter(function (x) { return typeof x === 'number'; }) : [];
    const n = xs.length;
    const green = cssColour('--completed', '#15803d');
    const red = cssColour('--failed', '#dc2626');
    drawChart('chart-steps', function () {
      return [lineSeries('completed steps', green, true), lineSeries('failed steps', red, true)];
    }, [xs, numbers(s.completedSteps, n), numbers(s.failedSteps, n)], 'No step activity in this window.');
    drawChart('chart-failures', function () {
      return [barSeries('failed instances', red)];
    }, [xs, numbers(s.failedInstances, n)], 'No data for this window.');
  }

  function addQueueSample(queue) {
    const t = typeof queue.now === 'number' ? queue.now : Date.now() / 1000;
    const depth = typeof queue.depth === 'number' ? queue.depth : null;
    const samples = state.queueSamples;
    if (samples.length && t <= samples[samples.length - 1].t) {
      samples[samples.length - 1] = { t: samples[samples.length - 1].t, depth: depth };
    } else {
      samples.push({ t: t, depth: depth });
    }
    while (samples.length > MAX_QUEUE_SAMPLES) samples.shift();
  }

  /** Optional extra numbers the server may send with the queue depth. */
  function queueExtra(q) {
    const bits = [];
    if (typeof q.depth === 'number') bits.push('waiting now: ' + q.depth);
    if (typeof q.running === 'number') bits.push('being run: ' + q.running);
    if (typeof q.orchestratorMessages === 'number') bits.push('orchestrator messages: ' + q.orchestratorMessages);
    return bits.join(' · ');
  }

  function renderQueue(queue) {
    const q = queue || {};
    if (!P.showIfVisible(q, 'queue-note', 'The queue is not visible to this role.', ['chart-queue'])) {
      P.text(P.byId('queue-oldest'), null);
      P.byId('queue-extra').textContent = '';
      return;
    }
    P.byId('queue-extra').textContent = queueExtra(q);
    addQueueSample(q);
    P.text(P.byId('queue-oldest'),
      q.oldestWaitingSeconds === null || q.oldestWaitingSeconds === undefined
        ? 'none waiting' : P.formatDuration(q.oldestWaitingSeconds));
    const xs = state.queueSamples.map(function (s) { return s.t; });
    const ys = state.queueSamples.map(function (s) { return s.depth; });
    drawChart('chart-queue', function () {
      return [lineSeries('queue depth', cssColour('--running', '#2563eb'), true)];
    }, [xs, ys], 'No samples yet.', atLeastAMinute);
  }

  function epochSeconds(iso) {
    const d = P.parseTime(iso);
    return d ? d.getTime() / 1000 : null;
  }

  function reconcileRow(run) {
    return P.el('tr', { class: 'reconcile-row' },
      P.setTime(P.el('td', { class: 'nowrap' }), run.startedAt),
      P.setTime(P.el('td', { class: 'nowrap' }), run.finishedAt),
      P.text(P.el('td'), run.trigger),
      P.text(P.el('td', { class: 'num' }), run.instancesRemoved),
      P.text(P.el('td', { class: 'num' }), run.nodesRemoved),
      P.text(P.el('td', { class: 'num' }), run.engineRecordsRetired),
      P.text(P.el('td', { class: 'num' }), run.orphansReclaimed),
      P.text(P.el('td', { class: 'wrap col-error' }), P.displayValue(run.error)));
  }

  function renderReconcile(reconcile) {
    const r = reconcile || {};
    if (!P.showIfVisible(r, 'reconcile-note', 'Reconciliation runs are not visible to this role.',
      ['reconcile-data', 'reconcile-table-card'])) {
      return;
    }
    const runs = P.list(r.runs);
    P.fillTable('reconcile-runs', runs, reconcileRow, 'No reconciliation runs recorded.', 8);

    const points = runs
      .map(function (run) {
        return { t: epochSeconds(run.startedAt), instances: run.instancesRemoved, nodes: run.nodesRemoved };
      })
      .filter(function (p) { return p.t !== null; })
      .sort(function (a, b) { return a.t - b.t; });
    const num = function (v) { return typeof v === 'number' ? v : null; };
    drawChart('chart-reconcile', function () {
      return [
        pointSeries('instances removed', cssColour('--cancelled', '#ea580c')),
        pointSeries('nodes removed', cssColour('--pending', '#6b7280'))
      ];
    }, [
      points.map(function (p) { return p.t; }),
      points.map(function (p) { return num(p.instances); }),
      points.map(function (p) { return num(p.nodes); })
    ], 'No reconciliation runs recorded.', atLeastAMinute);
  }

  function failureRow(f) {
    const idCell = P.el('td', { class: 'mono nowrap' });
    if (f.instanceId !== null && f.instanceId !== undefined && f.instanceId !== '') {
      idCell.appendChild(P.el('a', { href: P.instanceHref(f.instanceId) }, String(f.instanceId)));
    } else {
      P.text(idCell, null);
    }
    return P.el('tr', { class: 'failure-row' },
      idCell,
      P.text(P.el('td', { class: 'wrap' }), f.label),
      P.text(P.el('td', { class: 'mono nowrap' }), f.nodeId),
      P.text(P.el('td', { class: 'wrap' }), P.displayValue(f.error)),
      P.setTime(P.el('td', { class: 'nowrap' }), f.at));
  }

  function renderFailures(failures) {
    P.fillTable('recent-failures', P.list(failures), failureRow, 'No recent failures.', 5);
  }

  // ---------- loading ----------

  async function refresh() {
    const minutes = state.minutes;
    const result = await P.load('/api/overview?minutes=' + encodeURIComponent(minutes), 'overview-error', {
      current: function () { return minutes === state.minutes; }
    });
    if (!result) return;
    const d = result.data;
    renderCounts(d.counts);
    P.byId('counts-note').textContent = d.countsNote ? String(d.countsNote) : '';
    renderQueue(d.queue);
    renderReconcile(d.reconcile);
    renderSeries(d.series);
    renderFailures(d.recentFailures);
    P.markUpdated(P.byId('last-updated'));
  }

  function init() {
    const fromUrl = new URLSearchParams(location.search).get('minutes');
    if (MINUTE_CHOICES.indexOf(fromUrl) >= 0) state.minutes = fromUrl;
    const select = P.byId('overview-minutes');
    select.value = state.minutes;
    select.addEventListener('change', function () {
      state.minutes = MINUTE_CHOICES.indexOf(select.value) >= 0 ? select.value : '60';
      history.replaceState(null, '', location.pathname + (state.minutes === '60' ? '' : '?minutes=' + state.minutes));
      state.poller.now();
    });
    let resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(resizeCharts, 150);
    });
    state.poller = P.poll(refresh, REFRESH_MS);
  }

  P.boot(init);
})();

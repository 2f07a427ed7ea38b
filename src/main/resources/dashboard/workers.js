/* Workers page: the engine's worker processes and their heartbeats, refreshed every 5 s. */
(function () {
  'use strict';

  const P = window.PgDurable;
  const REFRESH_MS = 5000;
  const STALE_SECONDS = 30;

  function ageText(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds)) return '';
    return Math.max(0, Math.round(seconds)) + ' s ago';
  }

  function heartbeatCell(worker) {
    const cell = P.el('td', { class: 'col-last-seen nowrap' });
    P.setTime(cell, worker.lastSeenAt);
    const age = ageText(worker.ageSeconds);
    if (age) {
      cell.appendChild(document.createTextNode(' '));
      cell.appendChild(P.el('span', { class: 'age muted' }, '(' + age + ')'));
    }
    if (isStale(worker)) cell.appendChild(P.el('span', { class: 'stale-tag' }, 'stale'));
    return cell;
  }

  function isStale(worker) {
    return typeof worker.ageSeconds === 'number' && worker.ageSeconds > STALE_SECONDS;
  }

  function workerRow(worker) {
    const tr = P.el('tr', {
      class: isStale(worker) ? 'worker-row stale' : 'worker-row',
      'data-worker-id': worker.id === null || worker.id === undefined ? '' : String(worker.id)
    },
    P.text(P.el('td', { class: 'col-id mono' }), worker.id),
    P.text(P.el('td', { class: 'col-host' }), worker.host),
    P.text(P.el('td', { class: 'col-pid num' }), worker.pid),
    P.text(P.el('td', { class: 'col-mode' }), worker.mode),
    P.setTime(P.el('td', { class: 'col-started nowrap' }), worker.startedAt),
    heartbeatCell(worker));
    return tr;
  }

  async function refresh() {
    const result = await P.load('/api/workers', 'workers-error');
    if (!result) return;
    const d = result.data;
    if (P.showIfVisible(d, 'workers-note', 'Workers are not visible to this role.', ['workers-card'])) {
      P.fillTable('workers', P.list(d.workers), workerRow, 'No workers have registered.', 6);
    }
    P.markUpdated(P.byId('last-updated'));
  }

  P.boot(function () {
    P.poll(refresh, REFRESH_MS);
  });
})();

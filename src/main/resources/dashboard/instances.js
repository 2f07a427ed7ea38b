/* Instances page: filtered, paged list of workflow instances, refreshed in place every 2 s. */
(function () {
  'use strict';

  const P = window.PgDurable;
  const PAGE_SIZE = 50;
  const REFRESH_MS = 2000;

  const state = {
    filters: { status: '', label: '', from: '', to: '' }, // from/to as ISO instants
    after: null,      // cursor of the page shown (null = first page)
    next: null,       // cursor of the following page, from the last answer
    pageNumber: 1,
    poller: null
  };

  // ---------- filters <-> URL <-> inputs ----------

  function validIso(value) {
    return value && P.parseTime(value) ? value : '';
  }

  function filtersFromUrl() {
    const q = new URLSearchParams(location.search);
    const status = q.get('status') || '';
    return {
      status: P.STATUSES.indexOf(status) >= 0 ? status : '',
      label: q.get('label') || '',
      from: validIso(q.get('from')),
      to: validIso(q.get('to'))
    };
  }

  function pad(n, width) {
    let s = String(n);
    while (s.length < (width || 2)) s = '0' + s;
    return s;
  }

  /** An ISO instant as a datetime-local value in the browser's zone. */
  function isoToLocalInput(iso) {
    const d = P.parseTime(iso);
    if (!d) return '';
    return pad(d.getFullYear(), 4) + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
      'T' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  /** A datetime-local value as an ISO instant; '' stays ''; throws on a bad value. */
  function localInputToIso(value, what) {
    if (!value) return '';
    const d = new Date(value);
    if (isNaN(d.getTime())) throw new Error('The "' + what + '" time is not a valid date and time.');
    return d.toISOString();
  }

  function showFiltersInInputs(f) {
    P.byId('filter-status').value = f.status;
    P.byId('filter-label').value = f.label;
    P.byId('filter-from').value = isoToLocalInput(f.from);
    P.byId('filter-to').value = isoToLocalInput(f.to);
  }

  function filtersFromInputs() {
    const status = P.byId('filter-status').value;
    return {
      status: P.STATUSES.indexOf(status) >= 0 ? status : '',
      label: P.byId('filter-label').value.trim(),
      from: localInputToIso(P.byId('filter-from').value, 'from'),
      to: localInputToIso(P.byId('filter-to').value, 'to')
    };
  }

  function filterParams(f) {
    const q = new URLSearchParams();
    if (f.status) q.set('status', f.status);
    if (f.label) q.set('label', f.label);
    if (f.from) q.set('from', f.from);
    if (f.to) q.set('to', f.to);
    return q;
  }

  function writeUrl() {
    const qs = filterParams(state.filters).toString();
    history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
  }

  function requestUrl() {
    const q = filterParams(state.filters);
    if (state.after) q.set('after', state.after);
    q.set('limit', String(PAGE_SIZE));
    return '/api/instances?' + q.toString();
  }

  // ---------- table ----------

  function createRow(item) {
    const tr = P.el('tr', { class: 'instance-row', 'data-instance-id': String(item.id) },
      P.el('td', { class: 'col-id' }, P.el('a', { href: P.instanceHref(item.id) })),
      P.el('td', { class: 'col-label' }),
      P.el('td', { class: 'col-status' }, P.statusBadge(item.status)),
      P.el('td', { class: 'col-created' }),
      P.el('td', { class: 'col-completed' }));
    updateRow(tr, item);
    return tr;
  }

  function updateRow(tr, item) {
    const link = tr.querySelector('td.col-id a');
    const href = P.instanceHref(item.id);
    if (link.getAttribute('href') !== href) link.setAttribute('href', href);
    P.text(link, item.id);
    P.text(tr.querySelector('td.col-label'), item.label);
    P.setBadge(tr.querySelector('td.col-status .status-badge'), item.status);
    P.setTime(tr.querySelector('td.col-created'), item.createdAt);
    P.setTime(tr.querySelector('td.col-completed'), item.endedAt);
  }

  function emptyRow() {
    return P.emptyRow(state.after ? 'No instances on this page.' : 'No instances match these filters.', 5);
  }

  /** Updates the tbody in place: rows are kept per instance id, reordered, added or removed. */
  function renderRows(items) {
    const tbody = P.byId('instances').tBodies[0];
    const existing = new Map();
    Array.prototype.forEach.call(tbody.querySelectorAll('tr.instance-row'), function (tr) {
      existing.set(tr.getAttribute('data-instance-id'), tr);
    });
    const wanted = [];
    const seen = new Set();
    items.forEach(function (item) {
      if (!item || item.id === null || item.id === undefined) return;
      const id = String(item.id);
      if (seen.has(id)) return;
      seen.add(id);
      let tr = existing.get(id);
      if (tr) {
        updateRow(tr, item);
      } else {
        tr = createRow(item);
      }
      wanted.push(tr);
    });
    if (wanted.length === 0) wanted.push(emptyRow());

    wanted.forEach(function (tr, index) {
      if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
    });
    while (tbody.children.length > wanted.length) tbody.removeChild(tbody.lastChild);
  }

  function clearRows() {
    P.clear(P.byId('instances').tBodies[0]);
  }

  function updatePager(count) {
    P.byId('next-page').disabled = !state.next;
    const info = P.byId('page-info');
    if (count === null) {
      info.textContent = '';
    } else {
      info.textContent = 'page ' + state.pageNumber + ' · ' + count + ' shown';
    }
  }

  // ---------- loading ----------

  async function refresh() {
    const url = requestUrl();
    const result = await P.load(url, 'list-error', {
      current: function () { return url === requestUrl(); }, // filters or page changed while this was in flight
      failed: function (failure) {
        if (failure.status === 400) {
          clearRows();
          state.next = null;
          updatePager(null);
        }
      }
    });
    if (!result) return;
    const items = Array.isArray(result.data.items) ? result.data.items : [];
    state.next = result.data.next || null;
    renderRows(items);
    updatePager(items.length);
    P.markUpdated(P.byId('last-updated'));
  }

  // ---------- events ----------

  function applyFilters(event) {
    if (event) event.preventDefault();
    let filters;
    try {
      filters = filtersFromInputs();
    } catch (err) {
      P.showError('list-error', err.message);
      return;
    }
    state.filters = filters;
    state.after = null;
    state.next = null;
    state.pageNumber = 1;
    writeUrl();
    P.showError('list-error', '');
    state.poller.now();
  }

  function firstPage() {
    state.after = null;
    state.next = null;
    state.pageNumber = 1;
    state.poller.now();
  }

  function nextPage() {
    if (!state.next) return;
    state.after = state.next;
    state.next = null;
    state.pageNumber += 1;
    P.byId('next-page').disabled = true;
    state.poller.now();
  }

  function init() {
    state.filters = filtersFromUrl();
    showFiltersInInputs(state.filters);
    P.byId('filters-form').addEventListener('submit', applyFilters);
    P.byId('first-page').addEventListener('click', firstPage);
    P.byId('next-page').addEventListener('click', nextPage);
    state.poller = P.poll(refresh, REFRESH_MS);
  }

  P.boot(init);
})();

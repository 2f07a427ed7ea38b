/*
 * pg_durable dashboard: helpers shared by every page, exported on window.PgDurable.
 *
 * Security rules followed everywhere: data reaches the DOM only through textContent and
 * setAttribute on elements built with createElement/createElementNS; no innerHTML, no eval.
 */
(function () {
  'use strict';

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
  const TERMINAL = ['completed', 'failed', 'cancelled'];

  let currentSession = null;

  // ---------- DOM building ----------

  /** Sets attributes on node; value null/undefined/false skips the attribute, true sets it empty. */
  function setAttrs(node, attrs) {
    if (!attrs) return node;
    Object.keys(attrs).forEach(function (name) {
      const value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === 'class') {
        node.setAttribute('class', String(value));
      } else if (name === 'text') {
        node.textContent = String(value);
      } else {
        node.setAttribute(name, value === true ? '' : String(value));
      }
    });
    return node;
  }

  function append(node, children) {
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      if (Array.isArray(child)) {
        append(node, child);
      } else if (typeof child === 'string' || typeof child === 'number') {
        node.appendChild(document.createTextNode(String(child)));
      } else {
        node.appendChild(child);
      }
    });
    return node;
  }

  /** el('td', {class: 'x'}, 'text', childNode...) : strings become text nodes, never markup. */
  function el(tag, attrs) {
    const node = setAttrs(document.createElement(tag), attrs);
    return append(node, Array.prototype.slice.call(arguments, 2));
  }

  /** Same as el() in the SVG namespace. */
  function svg(tag, attrs) {
    const node = setAttrs(document.createElementNS(SVG_NS, tag), attrs);
    return append(node, Array.prototype.slice.call(arguments, 2));
  }

  /** Sets the text of a node (null/undefined become the dash) and returns the node. */
  function text(node, value) {
    const s = (value === null || value === undefined || value === '') ? '—' : String(value);
    if (node.textContent !== s) node.textContent = s;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  /** An array's truthy items (a null row is dropped); anything but an array is the empty list. */
  function list(value) {
    return (Array.isArray(value) ? value : []).filter(Boolean);
  }

  /** <tr class="empty-row"><td colspan="n">message</td></tr> */
  function emptyRow(message, colspan) {
    return el('tr', { class: 'empty-row' }, el('td', { colspan: String(colspan) }, message));
  }

  /**
   * Replaces the rows of the table's (by id) body with row(item) for each item, or, for no items,
   * with one empty row saying emptyText across colspan columns. Returns the tbody.
   */
  function fillTable(tableId, items, row, emptyText, colspan) {
    const tbody = clear(byId(tableId).tBodies[0]);
    items.forEach(function (item) { tbody.appendChild(row(item)); });
    if (items.length === 0) tbody.appendChild(emptyRow(emptyText, colspan));
    return tbody;
  }

  /** Shows message in the error box with this id, or empties and hides it when message is empty. */
  function showError(boxId, message) {
    const box = byId(boxId);
    box.textContent = message || '';
    box.hidden = !message;
  }

  /**
   * A page's visible part that the role may not be allowed to see (section = {visible, note}):
   * when it is not visible, the server's note (or fallback) goes into #noteId and the elements
   * with the given ids are hidden; otherwise the note is emptied and they are shown.
   * Returns whether the part is visible.
   */
  function showIfVisible(section, noteId, fallback, partIds) {
    const visible = !!section.visible;
    byId(noteId).textContent = visible ? '' : (section.note ? String(section.note) : fallback);
    partIds.forEach(function (id) { byId(id).hidden = !visible; });
    return visible;
  }

  // ---------- formatting ----------

  function parseTime(iso) {
    if (iso === null || iso === undefined || iso === '') return null;
    const d = new Date(iso);
    return isNaN(d.getTime()) ? null : d;
  }

  /** Local time for display; the dash for null; the raw value when it does not parse. */
  function formatTime(iso) {
    if (iso === null || iso === undefined || iso === '') return '—';
    const d = parseTime(iso);
    return d ? d.toLocaleString() : String(iso);
  }

  /** Puts a timestamp into node: local text, the ISO value as its title. */
  function setTime(node, iso) {
    text(node, formatTime(iso));
    if (iso === null || iso === undefined || iso === '') {
      node.removeAttribute('title');
    } else if (node.getAttribute('title') !== String(iso)) {
      node.setAttribute('title', String(iso));
    }
    return node;
  }

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /** hh:mm:ss in local time. */
  function clock(date) {
    const d = date || new Date();
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  /** A duration in seconds, human sized: "1.5 s", "2 min 3 s", "1 h 4 min". */
  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return '—';
    const s = Number(seconds);
    if (s < 10) return (Math.round(s * 10) / 10) + ' s';
    if (s < 120) return Math.round(s) + ' s';
    if (s < 7200) return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
    if (s < 172800) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }

  /** Any value as display text: strings as they are, other values as JSON. */
  function displayValue(value) {
    if (value === null || value === undefined) return null;
    if (typeof value === 'string') return value;
    try {
      return JSON.stringify(value, null, 2);
    } catch (e) {
      return String(value);
    }
  }

  /** Keeps only known status words for class names, so data never invents classes. */
  function safeStatus(status) {
    const s = String(status === null || status === undefined ? '' : status).toLowerCase();
    return /^[a-z_]{1,32}$/.test(s) ? s : 'unknown';
  }

  /** <span class="status-badge status-<s>">s</span> */
  function statusBadge(status, id) {
    const badge = el('span', { id: id || null });
    setBadge(badge, status);
    return badge;
  }

  /** Updates an existing badge in place. */
  function setBadge(badge, status) {
    const s = safeStatus(status);
    const cls = 'status-badge status-' + s;
    if (badge.getAttribute('class') !== cls) badge.setAttribute('class', cls);
    text(badge, status === null || status === undefined ? 'unknown' : String(status));
    return badge;
  }

  function isTerminal(status) {
    return TERMINAL.indexOf(status) >= 0;
  }

  function instanceHref(id) {
    return '/instances/' + encodeURIComponent(String(id));
  }

  // ---------- HTTP ----------

  /** A promise that never settles: used once the page is navigating to the login page. */
  function never() {
    return new Promise(function () {});
  }

  function expired() {
    location.href = '/login?error=expired';
    return never();
  }

  /**
   * fetch() for /api: resolves to {ok, status, data} (data = parsed JSON or null).
   * options: {method, body}. A body is sent as JSON with the CSRF header.
   * A 401 sends the browser to the login page and never resolves.
   * Network failures reject.
   */
  async function api(path, options) {
    const opts = options || {};
    const method = opts.method || (opts.body !== undefined ? 'POST' : 'GET');
    const headers = { 'Accept': 'application/json' };
    const init = { method: method, credentials: 'same-origin', headers: headers, cache: 'no-store' };
    if (method !== 'GET' && method !== 'HEAD') {
      headers['Content-Type'] = 'application/json';
      headers['X-CSRF-Token'] = currentSession && currentSession.csrf ? String(currentSession.csrf) : '';
      init.body = JSON.stringify(opts.body === undefined ? {} : opts.body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) return expired();
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  function post(path, body) {
    return api(path, { method: 'POST', body: body });
  }

  /** The server's {"error": ...} text, or a generic one. */
  function errorMessage(result) {
    if (result && result.data && typeof result.data.error === 'string' && result.data.error) {
      return result.data.error;
    }
    if (result && result.data && typeof result.data.message === 'string' && result.data.message) {
      return result.data.message;
    }
    return 'Request failed (HTTP ' + (result ? result.status : '?') + ').';
  }

  function networkMessage(err) {
    return 'Cannot reach the dashboard server' + (err && err.message ? ': ' + err.message : '.');
  }

  /**
   * One refresh of a polled page: GETs path and resolves to the result when it is ok and has data,
   * after emptying the error box errorBoxId. A failure is shown in that box and in #last-updated,
   * and resolves to null. options.current(), when given, is asked once the answer is in: false
   * drops the answer (null; nothing shown). options.failed(result) is called after an HTTP failure
   * is shown. The caller marks #last-updated once it has drawn the data.
   */
  async function load(path, errorBoxId, options) {
    const opts = options || {};
    let result;
    try {
      result = await api(path);
    } catch (err) {
      showError(errorBoxId, networkMessage(err));
      markUpdated(byId('last-updated'), 'network error');
      return null;
    }
    if (opts.current && !opts.current()) return null;
    if (!result.ok || !result.data) {
      showError(errorBoxId, errorMessage(result));
      if (opts.failed) opts.failed(result);
      markUpdated(byId('last-updated'), 'HTTP ' + result.status);
      return null;
    }
    showError(errorBoxId, '');
    return result;
  }

  // ---------- header ----------

  const NAV = [
    { key: 'instances', href: '/', label: 'Instances' },
    { key: 'overview', href: '/overview', label: 'Overview' },
    { key: 'workers', href: '/workers', label: 'Workers' }
  ];

  /**
   * Builds the top bar of a signed-in page into <header id="site-header" data-active="...">:
   * the product name, the nav links (the data-active one marked active, and the current page
   * when the address is its own), who is signed in and the sign-out form. Runs once.
   */
  function siteHeader() {
    const header = byId('site-header');
    if (!header || header.firstChild) return;
    const active = header.getAttribute('data-active');
    const nav = el('nav', { 'aria-label': 'Main' }, NAV.map(function (item) {
      const current = item.key === active;
      return el('a', {
        id: 'nav-' + item.key,
        href: item.href,
        class: current ? 'active' : null,
        'aria-current': current && location.pathname === item.href ? 'page' : null
      }, item.label);
    }));
    append(header, [
      el('a', { class: 'brand', href: '/' }, 'pg_durable ', el('span', { class: 'brand-sub' }, 'dashboard')),
      nav,
      el('div', { class: 'userbox' },
        el('span', { id: 'whoami' }),
        el('span', { id: 'session-db', class: 'session-db' }),
        el('form', { id: 'sign-out-form', method: 'post', action: '/logout' },
          el('input', { type: 'hidden', name: 'csrf', value: '' }),
          el('button', { id: 'sign-out', type: 'submit', disabled: true }, 'Sign out')))
    ]);
  }

  // ---------- session ----------

  /**
   * Loads /api/session, fills #whoami and the sign-out form's csrf field, enables sign-out.
   * Resolves to the session object (also kept for api() POSTs).
   */
  async function session() {
    let result;
    try {
      result = await api('/api/session');
    } catch (err) {
      text(byId('whoami') || el('span'), '?');
      throw err;
    }
    if (!result.ok || !result.data) {
      throw new Error(errorMessage(result));
    }
    currentSession = result.data;
    fillHeader(currentSession);
    return currentSession;
  }

  function fillHeader(s) {
    const who = byId('whoami');
    if (who) {
      who.textContent = s.role === null || s.role === undefined ? '' : String(s.role);
      const bits = [];
      if (s.superuser) bits.push('superuser');
      if (s.database) bits.push('database ' + s.database);
      if (s.expiresAt) bits.push('session ends ' + formatTime(s.expiresAt));
      who.setAttribute('title', bits.join(' · '));
    }
    const db = byId('session-db');
    if (db) db.textContent = s.database ? 'on ' + String(s.database) + (s.superuser ? ' · superuser' : '') : '';
    const form = byId('sign-out-form');
    if (form) {
      let input = form.querySelector('input[name="csrf"]');
      if (!input) {
        input = el('input', { type: 'hidden', name: 'csrf' });
        form.appendChild(input);
      }
      input.value = s.csrf === null || s.csrf === undefined ? '' : String(s.csrf);
    }
    const button = byId('sign-out');
    if (button) button.disabled = false;
  }

  function getSession() {
    return currentSession;
  }

  // ---------- polling ----------

  /**
   * Calls fn now and then again intervalMs after each call finished (calls never overlap).
   * fn may return false (or a promise of false) to stop. Returns {stop, now}:
   * now() runs fn at once (after the call in flight, if any) and restarts a stopped poll.
   */
  function poll(fn, intervalMs) {
    let timer = null;
    let running = false;
    let again = false;
    let stopped = false;

    async function tick() {
      timer = null;
      if (stopped) return;
      running = true;
      let keepGoing = true;
      try {
        keepGoing = (await fn()) !== false;
      } catch (err) {
        if (window.console) console.error(err);
      }
      running = false;
      if (!keepGoing) stopped = true;
      if (again) {
        again = false;
        stopped = false;
        tick();
      } else if (!stopped) {
        timer = setTimeout(tick, intervalMs);
      }
    }

    const handle = {
      stop: function () {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = null;
      },
      now: function () {
        stopped = false;
        if (running) {
          again = true;
          return;
        }
        if (timer) clearTimeout(timer);
        tick();
      }
    };
    tick();
    return handle;
  }

  /** Shows "updated hh:mm:ss" (or an error) in a live-status element. */
  function markUpdated(node, errorText) {
    if (!node) return;
    if (errorText) {
      node.textContent = 'update failed at ' + clock() + ': ' + errorText;
      node.classList.add('live-error');
    } else {
      node.textContent = 'updated ' + clock();
      node.classList.remove('live-error');
    }
  }

  /** Runs start() once the DOM is ready. */
  function ready(start) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', start);
    } else {
      start();
    }
  }

  /** Shows a page-wide error banner at the top of <main>. */
  function showBanner(message) {
    let banner = byId('boot-error');
    if (!banner) {
      banner = el('div', { id: 'boot-error', class: 'error-box', role: 'alert' });
      const main = document.querySelector('main') || document.body;
      main.insertBefore(banner, main.firstChild);
    }
    banner.textContent = message;
  }

  /** Every page but login: DOM ready, then the header, then /api/session, then init(session). */
  function boot(init) {
    ready(async function () {
      siteHeader();
      let s;
      try {
        s = await session();
      } catch (err) {
        showBanner('Cannot load the session: ' + (err && err.message ? err.message : String(err)));
        return;
      }
      try {
        await init(s);
      } catch (err) {
        if (window.console) console.error(err);
        showBanner('The page failed to start: ' + (err && err.message ? err.message : String(err)));
      }
    });
  }

  window.PgDurable = Object.freeze({
    STATUSES: STATUSES,
    TERMINAL: TERMINAL,
    el: el,
    svg: svg,
    text: text,
    clear: clear,
    byId: byId,
    list: list,
    emptyRow: emptyRow,
    fillTable: fillTable,
    showError: showError,
    showIfVisible: showIfVisible,
    parseTime: parseTime,
    formatTime: formatTime,
    setTime: setTime,
    clock: clock,
    formatDuration: formatDuration,
    displayValue: displayValue,
    safeStatus: safeStatus,
    statusBadge: statusBadge,
    setBadge: setBadge,
    isTerminal: isTerminal,
    instanceHref: instanceHref,
    api: api,
    post: post,
    errorMessage: errorMessage,
    networkMessage: networkMessage,
    load: load,
    session: session,
    getSession: getSession,
    siteHeader: siteHeader,
    poll: poll,
    markUpdated: markUpdated,
    ready: ready,
    showBanner: showBanner,
    boot: boot
  });
})();

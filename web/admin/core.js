// State shared by the pages of the admin console: the token, the API client,
// the node poller with its messages/s series, navigation and the kick action.

import { $, el, notify } from './dom.js';

const TOKEN_KEY = 'confab.admin.token';
const API = '/admin/api/v1';
export const POLL_MS = 2000;
export const RATE_POINTS = 60;

export const auth = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || ('HTTP ' + status));
    this.status = status;
    this.code = code;
  }
}

// Calls the admin API with the stored token. A 401 signs the console out (the
// token was wrong or the server was restarted with another one).
export async function api(method, path, token) {
  const t = token || auth.get();
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers: { Authorization: 'Bearer ' + t, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      signal: AbortSignal.timeout(15000), // a stuck request must not stop the poller
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server did not answer (' + e.message + ').');
  }
  let body = null;
  const text = await res.text();
  if (text) {
    try { body = JSON.parse(text); } catch (e) { body = null; }
  }
  if (!res.ok) {
    const err = body && body.error ? body.error : {};
    const e = new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText);
    if (res.status === 401 && !token) unauthorized();
    throw e;
  }
  return body;
}

// Sum over nodes of Δmessages/Δt between two polls; a node seen for the first
// time or whose counter went back (restart) adds nothing to that step.
export const rates = {
  points: [], // {t: ms epoch, rate: messages/s}
  prev: null, // {t: performance.now(), messages: Map(node -> messages)}
  reset() { this.points = []; this.prev = null; },
  add(nodes) {
    const now = performance.now();
    const cur = new Map(nodes.map((n) => [n.id, Number(n.messages) || 0]));
    if (this.prev) {
      const dt = (now - this.prev.t) / 1000;
      let delta = 0;
      for (const [id, m] of cur) {
        const before = this.prev.messages.get(id);
        if (before !== undefined && m >= before) delta += m - before;
      }
      if (dt > 0) {
        this.points.push({ t: Date.now(), rate: delta / dt });
        if (this.points.length > RATE_POINTS) this.points.shift();
      }
    }
    this.prev = { t: now, messages: cur };
  },
};

export const poller = {
  timer: null,
  running: false,
  nodes: null,
  error: null,
  listeners: new Set(),
  start() {
    if (this.running) return;
    this.running = true;
    this.tick();
  },
  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.nodes = null;
  },
  async tick() {
    if (!this.running) return;
    try {
      const body = await api('GET', '/nodes');
      if (!this.running) return;
      this.nodes = body.nodes || [];
      this.error = null;
      rates.add(this.nodes);
    } catch (e) {
      if (!this.running) return;
      this.error = e;
    }
    $('live').classList.toggle('live-off', !!this.error);
    $('live').textContent = this.error ? 'offline' : 'live';
    for (const f of this.listeners) f();
    this.timer = setTimeout(() => this.tick(), POLL_MS);
  },
};

// ---- kick ----------------------------------------------------------------------------------

// Confirms, kicks, then calls refresh() until `isGone()` says the session is no
// longer listed (the server closes it asynchronously) or ~5 s have passed.
export async function kickSession(id, refresh, isGone) {
  if (!confirm(`Kick session ${id}?\n\nIts WebSocket is closed (code 4003 "kicked"); the client may reconnect.`)) {
    return;
  }
  try {
    await api('POST', '/sessions/' + encodeURIComponent(id) + '/kick');
  } catch (e) {
    if (e.status !== 401) notify(`Kick of ${id} failed: ${e.status} ${e.code}: ${e.message}`, 'error');
    return;
  }
  notify(`Session ${id} kicked.`);
  for (let i = 0; i < 10; i++) {
    await refresh();
    if (!isGone || isGone()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function kickButton(id, refresh, isGone) {
  return el('button', { type: 'button', class: 'btn btn-danger btn-sm', testid: 'kick-button',
    dataset: { session: id }, onclick: () => kickSession(id, refresh, isGone) }, 'Kick');
}

// ---- navigation ------------------------------------------------------------------------------

let unauthorized = () => {};
// What a 401 to a call made with the stored token does (the app signs out).
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

let leaving = [];
// fn runs when the current page is left (timers, poller listeners).
export function onLeave(fn) {
  leaving.push(fn);
}

export function leavePage() {
  for (const fn of leaving) fn();
  leaving = [];
}

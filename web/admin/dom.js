// DOM building, formatting and shared widgets of the admin console.
// Every server string reaches the page through text nodes (el() turns strings
// into text nodes), never through innerHTML, so nothing the server echoes back
// is parsed as HTML.

export const KINDS = ['room', 'session', 'presence', 'hub', 'room_manager', 'presence_manager', 'account', 'reader',
  'http_frontend', 'node'];
export const STATUSES = ['up', 'suspect', 'draining', 'down'];
const SVG_NS = 'http://www.w3.org/2000/svg';

// el('tag', {attrs}, ...children): children are nodes or strings (strings become text nodes).
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.setAttribute('class', v);
    else if (k === 'testid') node.setAttribute('data-testid', v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export const $ = (id) => document.getElementById(id);

// ---- formatting ----------------------------------------------------------------------------

export function fmtInt(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : '–';
}

export function fmtUptime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '–';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (x) => String(x).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h ${pad(m)}m`;
  if (h > 0) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

export function fmtAgo(msEpoch) {
  if (typeof msEpoch !== 'number' || !Number.isFinite(msEpoch) || msEpoch <= 0) return '–';
  const d = Date.now() - msEpoch;
  if (d < 1000) return 'just now';
  return fmtUptime(d).split(' ').slice(0, 2).join(' ') + ' ago';
}

export function fmtTime(msEpoch) {
  if (typeof msEpoch !== 'number' || !Number.isFinite(msEpoch) || msEpoch <= 0) return '';
  return new Date(msEpoch).toLocaleString();
}

export function fmtRate(r) {
  if (!Number.isFinite(r)) return '–';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

export function fmtValue(v) {
  if (v === null || v === undefined) return '–';
  if (Array.isArray(v)) return v.length ? v.map(fmtValue).join(', ') : '(none)';
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'number') return fmtInt(v);
  return String(v);
}

export function statusBadge(status) {
  const known = STATUSES.includes(status) || ['online', 'away', 'offline', 'busy'].includes(status);
  return el('span', { class: 'badge badge-' + (known ? status : 'unknown'), testid: 'status-badge' },
    status === undefined || status === null ? 'unknown' : String(status));
}

export function kindBadge(kind) {
  return el('span', { class: 'kind kind-' + (KINDS.includes(kind) ? kind : 'other') }, String(kind));
}

// "user=alice remote=..." -> {user: 'alice', remote: ...}
export function detailFields(detail) {
  const out = {};
  for (const part of String(detail || '').split(' ')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

// ---- notices -------------------------------------------------------------------------------

export function notify(message, kind) {
  const n = el('div', { class: 'notice notice-' + (kind || 'ok'), role: kind === 'error' ? 'alert' : 'status',
    testid: 'notice', dataset: { kind: kind || 'ok' } },
  el('span', { class: 'notice-text' }, message),
  el('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss', onclick: () => n.remove() }, '×'));
  $('notices').appendChild(n);
  setTimeout(() => n.remove(), kind === 'error' ? 12000 : 6000);
}

export function errorPanel(e, what) {
  return el('div', { class: 'card error-panel', testid: 'view-error', role: 'alert' },
    el('strong', {}, what || 'Request failed'),
    el('p', {}, e.status ? `${e.status} ${e.code}: ${e.message}` : e.message));
}

// ---- page parts ----------------------------------------------------------------------------

export function pageHeader(title, subtitle, ...actions) {
  return el('div', { class: 'page-head' },
    el('div', {}, el('h1', { testid: 'page-title' }, title), subtitle ? el('p', { class: 'muted' }, subtitle) : null),
    el('div', { class: 'page-actions' }, actions));
}

export function table(columns, testid) {
  const tbody = el('tbody', {});
  const t = el('table', { class: 'table table-collapse', testid, id: testid },
    el('thead', {}, el('tr', {}, columns.map((c) =>
      el('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)))),
    tbody);
  const labels = columns.map((c) => c.label);
  // each cell carries its column name: on phones the rows collapse into labelled cards
  const add = (tr) => {
    [...tr.children].forEach((td, i) => { if (labels[i]) td.dataset.label = labels[i]; });
    tbody.appendChild(tr);
  };
  return { wrap: el('div', { class: 'table-wrap' }, t), tbody, table: t, add };
}

export function emptyRow(tbody, cols, text) {
  tbody.appendChild(el('tr', { class: 'empty' }, el('td', { colspan: cols }, text)));
}

export function lookupForm(id, label, placeholder, value, onSubmit) {
  const input = el('input', { id: id + '-input', testid: id + '-input', name: id, required: true, value,
    placeholder, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' });
  const form = el('form', { class: 'lookup card', id: id + '-form', testid: id + '-form' },
    el('label', { for: id + '-input' }, label), input,
    el('button', { type: 'submit', class: 'btn btn-primary', testid: id + '-submit' }, 'Open'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = input.value.trim();
    if (v) onSubmit(v);
  });
  return form;
}

export function kvList(pairs, testidPrefix) {
  return el('dl', { class: 'kv' }, pairs.map(([k, label, v]) => el('div', { class: 'kv-row',
    testid: testidPrefix + '-' + k, dataset: { field: k } }, el('dt', {}, label), el('dd', {}, v))));
}

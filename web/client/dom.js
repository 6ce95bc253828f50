// DOM helpers and formatting for the Confab web client.
// Every server string reaches the page as a text node (el() turns strings into
// text nodes); nothing from the server is ever parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

// el('tag', {attrs}, ...children): strings become text nodes; on* functions become listeners.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.setAttribute('class', v);
    else if (k === 'testid') node.setAttribute('data-testid', v);
    else if (k === 'text') node.textContent = String(v);
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
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export const $ = (id) => document.getElementById(id);

// ---- icons: small stroke icons built as SVG elements (no markup strings) -------------------

const ICONS = {
  hash: ['M4 9h16', 'M4 15h16', 'M10 3 8 21', 'M16 3l-2 18'],
  lock: ['M5 11h14v10H5z', 'M8 11V7a4 4 0 0 1 8 0v4'],
  shield: ['M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z'],
  shieldcheck: ['M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z', 'M9 12l2 2 4-4'],
  plus: ['M12 5v14', 'M5 12h14'],
  send: ['M22 2 11 13', 'M22 2 15 22l-4-9-9-4z'],
  clip: ['M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48'],
  users: ['M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2', 'M9 7m-4 0a4 4 0 1 0 8 0a4 4 0 1 0-8 0',
    'M23 21v-2a4 4 0 0 0-3-3.87', 'M16 3.13a4 4 0 0 1 0 7.75'],
  x: ['M18 6 6 18', 'M6 6l12 12'],
  download: ['M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4', 'M7 10l5 5 5-5', 'M12 15V3'],
  file: ['M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z', 'M14 2v6h6'],
  back: ['M19 12H5', 'M12 19l-7-7 7-7'],
  compass: ['M12 12m-10 0a10 10 0 1 0 20 0a10 10 0 1 0-20 0', 'M16.24 7.76l-2.12 6.36-6.36 2.12 2.12-6.36z'],
  message: ['M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z'],
  logout: ['M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4', 'M16 17l5-5-5-5', 'M21 12H9'],
  userplus: ['M16 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2', 'M8.5 7m-4 0a4 4 0 1 0 8 0a4 4 0 1 0-8 0',
    'M20 8v6', 'M23 11h-6'],
  bell: ['M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9', 'M13.73 21a2 2 0 0 1-3.46 0'],
  retry: ['M1 4v6h6', 'M3.51 15a9 9 0 1 0 2.13-9.36L1 10'],
  search: ['M11 11m-8 0a8 8 0 1 0 16 0a8 8 0 1 0-16 0', 'M21 21l-4.35-4.35'],
  menu: ['M3 12h18', 'M3 6h18', 'M3 18h18'],
  alert: ['M12 12m-10 0a10 10 0 1 0 20 0a10 10 0 1 0-20 0', 'M12 8v4', 'M12 16h.01'],
};

export function icon(name, cls) {
  const s = document.createElementNS(SVG_NS, 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('focusable', 'false');
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    s.appendChild(p);
  }
  return s;
}

// ---- formatting --------------------------------------------------------------------------

export function fmtTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function fmtDateTime(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function fmtDay(ms) {
  const d = new Date(ms);
  const today = new Date();
  const yest = new Date(Date.now() - 86400000);
  if (dayKey(ms) === dayKey(today.getTime())) return 'Today';
  if (dayKey(ms) === dayKey(yest.getTime())) return 'Yesterday';
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString([], opts);
}

// Short "last activity" label for the sidebar: 14:05, Yesterday, Mon, 3 Mar.
export function fmtActivity(ms) {
  if (!ms) return '';
  const now = Date.now();
  if (dayKey(ms) === dayKey(now)) return fmtTime(ms);
  if (dayKey(ms) === dayKey(now - 86400000)) return 'Yesterday';
  if (now - ms < 6 * 86400000) return new Date(ms).toLocaleDateString([], { weekday: 'short' });
  return new Date(ms).toLocaleDateString([], { day: 'numeric', month: 'short' });
}

export function fmtSize(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v >= 10 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function fmtLastSeen(ms) {
  if (!ms) return 'offline';
  const d = Date.now() - ms;
  if (d < 60000) return 'last seen just now';
  if (d < 3600000) return `last seen ${Math.floor(d / 60000)} min ago`;
  if (d < 86400000) return `last seen ${Math.floor(d / 3600000)} h ago`;
  return `last seen ${fmtActivity(ms)}`;
}

// ---- avatars -----------------------------------------------------------------------------

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
  return h >>> 0;
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const chars = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : [parts[0] || '?'];
  return chars.map((p) => Array.from(p)[0] || '').join('').toUpperCase();
}

export function avatar(username, displayName, size) {
  return el('span', { class: `avatar avatar-${size || 'md'} avatar-c${hash(String(username)) % 8}`, 'aria-hidden': 'true' },
    initials(displayName || username));
}

// A presence dot; status is online|away|dnd|offline.
export function presenceDot(status, testid) {
  const s = ['online', 'away', 'dnd'].includes(status) ? status : 'offline';
  return el('span', { class: `presence presence-${s}`, testid: testid || 'presence-dot', dataset: { status: s },
    title: s === 'dnd' ? 'Do not disturb' : s[0].toUpperCase() + s.slice(1) });
}

// ---- message text: mentions and links, all as text nodes / safe elements ----------------

const TOKEN_RE = /(@[a-z0-9_.-]{3,32})|(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/gi;

export function richText(body, me) {
  const out = [];
  let last = 0;
  let mentionsMe = false;
  for (const m of String(body).matchAll(TOKEN_RE)) {
    if (m.index > last) out.push(document.createTextNode(body.slice(last, m.index)));
    if (m[1]) {
      const name = m[1].slice(1).toLowerCase();
      const self = me && name === me.toLowerCase();
      if (self) mentionsMe = true;
      out.push(el('span', { class: 'mention' + (self ? ' mention-me' : ''), testid: 'mention' }, m[1]));
    } else {
      out.push(el('a', { href: m[2], target: '_blank', rel: 'noopener noreferrer nofollow' }, m[2]));
    }
    last = m.index + m[0].length;
  }
  if (last < body.length) out.push(document.createTextNode(body.slice(last)));
  return { nodes: out, mentionsMe };
}

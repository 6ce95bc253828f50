// Search (PROTOCOL.md section 9): a dialog opened by the header's search
// button or Ctrl+Shift+F. Results come newest first, grouped by room, each
// with sender, time and body, the query's words marked (folded for case and
// accents as the server matches them; DOM text nodes and <mark>, never
// markup); "More results" while the server gives a `next` cursor. A result
// opens its room at the message, and its thread when it is a reply.
// Encrypted rooms are never indexed by the server: the empty state says so.

import { api, errorText } from './api.js';
import { $, avatar, el, fmtDateTime, icon } from './dom.js';
import { displayName, ensureUser, roomTitle, state } from './store.js';

const LIMIT = 20;
const DEBOUNCE_MS = 250;
const NOT_SEARCHED = 'Encrypted rooms are not searched.';

let handlers = {};
let timer = null;
let ask = 0;      // the newest request: older answers are dropped
// what is shown: {q, room, terms, results: [{message, room_name}], next, loading, error}
let cur = null;

export function initSearch(h) {
  handlers = h;
  $('search-btn').appendChild(icon('search'));
  $('search-btn').addEventListener('click', () => openSearch());
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(timer); run(); });
  $('search-input').addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, DEBOUNCE_MS); });
  $('search-scope').addEventListener('change', () => { clearTimeout(timer); run(); });
}

export function openSearch() {
  const d = $('dlg-search');
  const room = state.rooms.get(state.activeRoom);
  // "only this room" is offered for the open room, unless the server never searches it
  const scoped = !!room && !room.encrypted;
  $('search-scope-row').hidden = !scoped;
  if (!scoped) $('search-scope').checked = false;
  $('search-scope-text').textContent = room ? `Only in ${room.kind === 'dm' ? roomTitle(room) : '#' + room.name}` : '';
  $('search-scope').dataset.room = scoped ? room.id : '';
  if (!cur) renderEmpty();
  if (!d.open) d.showModal();
  $('search-input').focus();
  $('search-input').select();
}

// Forgets the query and its results (sign out: the next user must not see them).
export function resetSearch() {
  clearTimeout(timer);
  ask += 1;
  cur = null;
  $('search-input').value = '';
  $('search-results').replaceChildren();
  if ($('dlg-search').open) $('dlg-search').close();
}

// ---- the query -------------------------------------------------------------------------------

// Case and accents folded, as the server compares words (section 9).
export const fold = (s) => String(s).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

const segmenter = typeof Intl !== 'undefined' && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: 'word' }) : null;

// The words of a text: [{text, index, word}] in order, separators included
// (word false), at Unicode word boundaries where the browser knows them.
function segments(text) {
  if (segmenter) {
    return [...segmenter.segment(text)].map((s) => ({ text: s.segment, index: s.index, word: !!s.isWordLike }));
  }
  const out = [];
  let last = 0;
  for (const m of text.matchAll(/[\p{L}\p{N}\p{M}_]+/gu)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index), index: last, word: false });
    out.push({ text: m[0], index: m.index, word: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), index: last, word: false });
  return out;
}

// The query's words, folded; the last one also matches as a prefix (as the
// server does), unless it ends a "quoted phrase" or is followed by a space.
export function queryTerms(q) {
  const words = segments(String(q)).filter((s) => s.word).map((s) => fold(s.text));
  const open = !/["\s]$/.test(String(q));
  return words.map((w, i) => ({ word: w, prefix: open && i === words.length - 1 }));
}

const matches = (word, terms) => {
  const f = fold(word);
  return terms.some((t) => f === t.word || (t.prefix && f.startsWith(t.word)));
};

// `text` as DOM nodes with each word of the query in a <mark>.
export function highlight(text, terms) {
  const out = [];
  let plain = '';
  for (const s of segments(String(text))) {
    if (s.word && terms.length && matches(s.text, terms)) {
      if (plain) { out.push(document.createTextNode(plain)); plain = ''; }
      out.push(el('mark', { class: 'search-hit', testid: 'search-hit' }, s.text));
    } else plain += s.text;
  }
  if (plain) out.push(document.createTextNode(plain));
  return out;
}

// ---- requests --------------------------------------------------------------------------------

function run() {
  const q = $('search-input').value.trim();
  const room = $('search-scope').checked ? $('search-scope').dataset.room : '';
  if (!q) { cur = null; ask += 1; renderEmpty(); return; }
  cur = { q, room, terms: queryTerms(q), results: [], next: null, loading: true, error: null };
  fetchPage(cur);
}

async function fetchPage(c) {
  const mine = ++ask;
  c.loading = true;
  c.error = null;
  render();
  const params = new URLSearchParams({ q: c.q, limit: LIMIT });
  if (c.room) params.set('room', c.room);
  if (c.next) params.set('before', c.next);
  try {
    const res = await api('GET', `/search?${params}`);
    if (mine !== ask) return;
    const got = (res.results || []).filter((r) => r && r.message);
    c.results.push(...got);
    c.next = res.next || null;
    for (const r of got) ensureUser(r.message.from);
  } catch (e) {
    if (mine !== ask) return;
    c.error = e;
  }
  c.loading = false;
  render();
}

// ---- drawing -------------------------------------------------------------------------------

function renderEmpty() {
  $('search-results').replaceChildren(el('div', { class: 'search-empty', testid: 'search-empty' },
    el('p', {}, 'Search the messages of your rooms and conversations.'),
    el('p', { class: 'muted' }, 'Words match whole words (the last one also as a prefix); put "a phrase" in quotes. ',
      NOT_SEARCHED)));
}

function render() {
  if (!cur) { renderEmpty(); return; }
  const box = $('search-results');
  const parts = [];
  if (cur.error) {
    const missing = cur.error.status === 404 && !cur.results.length;
    parts.push(el('p', { class: 'form-error', role: 'alert', testid: 'search-error' },
      missing ? 'Search is not available on this server yet.' : `Search failed: ${errorText(cur.error)}`));
  } else if (!cur.loading && !cur.results.length) {
    parts.push(el('div', { class: 'search-empty', testid: 'search-empty' },
      el('p', {}, `No messages match “${cur.q}”.`), el('p', { class: 'muted' }, NOT_SEARCHED)));
  }
  parts.push(...groups(cur.results).map(group));
  if (cur.loading) parts.push(el('div', { class: 'spinner', role: 'status', 'aria-label': 'Searching' }));
  else if (cur.next && !cur.error) {
    parts.push(el('div', { class: 'search-more' }, el('button', { type: 'button', class: 'btn btn-sm', testid: 'search-more',
      onclick: () => fetchPage(cur) }, 'More results')));
  }
  if (cur.results.length && !cur.next && !cur.loading) parts.push(el('p', { class: 'search-note muted' }, NOT_SEARCHED));
  box.replaceChildren(...parts);
}

// Results by room, rooms in the order of their newest result.
function groups(results) {
  const by = new Map();
  for (const r of results) {
    const id = r.message.room;
    if (!by.has(id)) by.set(id, { room: id, name: r.room_name || id, items: [] });
    by.get(id).items.push(r.message);
  }
  return [...by.values()];
}

function group(g) {
  const room = state.rooms.get(g.room);
  const dm = room && room.kind === 'dm';
  const name = dm ? roomTitle(room) : g.name;
  return el('section', { class: 'search-group', testid: 'search-group', dataset: { room: g.room } },
    el('h3', { class: 'search-room', testid: 'search-room' },
      icon(dm ? 'message' : room && room.visibility === 'private' ? 'lock' : 'hash'), el('span', {}, name)),
    el('ul', { class: 'search-list' }, g.items.map((m) => el('li', {}, result(m)))));
}

function result(m) {
  const body = typeof m.body === 'string' && m.body ? highlight(m.body, cur.terms)
    : m.file ? [el('span', { class: 'muted' }, `shared ${m.file.name || 'a file'}`)] : [];
  return el('button', { type: 'button', class: 'search-result', testid: 'search-result',
    dataset: { room: m.room, seq: m.seq, thread: m.thread || '' }, onclick: () => choose(m) },
  avatar(m.from, displayName(m.from), 'sm'),
  el('span', { class: 'search-main' },
    el('span', { class: 'search-meta' },
      el('strong', { class: 'search-from' }, displayName(m.from)),
      el('time', { class: 'muted', datetime: new Date(m.ts).toISOString() }, fmtDateTime(m.ts)),
      m.thread ? el('span', { class: 'search-in-thread muted' }, 'in a thread') : null),
    el('span', { class: 'search-body', testid: 'search-body' }, body)));
}

function choose(m) {
  $('dlg-search').close();
  handlers.showMessage(m);
}

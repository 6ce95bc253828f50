// The message list of the open room: messages grouped by sender and day, a
// "new" line at the read marker, pending and failed sends, older pages on
// scroll-up, read markers for messages that become visible.
// DOM nodes are kept per message and reordered in place, so images stay loaded
// and the scroll position holds while history is prepended.

import { $, avatar, dayKey, el, fmtDateTime, fmtDay, fmtTime, icon, richText } from './dom.js';
import { messageActions, reactionChips } from './actions.js';
import { errorText } from './api.js';
import { discardSend, loadOlder, markRead, retrySend } from './chat.js';
import { fileCard, imageTile, isImage } from './files.js';
import { displayName, on, sortedMessages, state } from './store.js';

const GROUP_MS = 5 * 60 * 1000;
const nodes = new Map();      // key -> element ('s:<seq>', 'p:<cid>', 'd:<day>', 'new')
const localUrls = new Map();  // cid -> object URL of a file being uploaded
let roomId = null;
let pinned = true;            // the view follows new messages
let observer = null;
const visible = new Set();    // seqs on screen

const list = () => $('msg-list');
const scroller = () => $('timeline');

export function initTimeline() {
  scroller().addEventListener('scroll', onScroll, { passive: true });
  observer = new IntersectionObserver(onIntersect, { root: scroller(), threshold: 0.5 });
  on('messages', (id) => { if (id === roomId) render(); });
  on('older', (id) => { if (id === roomId) render(); });
  on('loading-older', (id) => { if (id === roomId) renderTop(); });
  on('users', () => { if (roomId) refreshNames(); });
  on('progress', (cid) => {
    const n = nodes.get('p:' + cid);
    const room = state.rooms.get(roomId);
    const p = room && room.pending.get(cid);
    const bar = n && n.querySelector('progress');
    if (bar && p) bar.value = p.progress;
  });
  document.addEventListener('visibilitychange', flushRead);
  window.addEventListener('focus', flushRead);
  $('jump-latest').addEventListener('click', () => { pinned = true; toBottom(); $('jump-latest').hidden = true; });
}

// Shows a room (or nothing); called on room switch.
export function showRoom(id) {
  if (id === roomId) return;
  roomId = id;
  for (const n of nodes.values()) if (n.dataset.seq) observer.unobserve(n);
  nodes.clear();
  visible.clear();
  list().replaceChildren();
  pinned = true;
  const room = state.rooms.get(id);
  if (room) room.unreadMarker = room.unread > 0 ? room.last_read : Infinity;
  render();
}

function onScroll() {
  const s = scroller();
  pinned = s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  $('jump-latest').hidden = pinned;
  const room = state.rooms.get(roomId);
  if (room && room.loaded && room.hasOlder && s.scrollTop < 320) loadOlder(room).catch(() => {});
}

function toBottom() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
}

export function stickToBottom() { pinned = true; toBottom(); }

function onIntersect(entries) {
  for (const e of entries) {
    const seq = Number(e.target.dataset.seq);
    if (e.isIntersecting) visible.add(seq); else visible.delete(seq);
  }
  flushRead();
}

// Sends a read marker for the newest message on screen, while the page is visible.
function flushRead() {
  const room = state.rooms.get(roomId);
  if (!room || document.visibilityState !== 'visible' || !visible.size) return;
  markRead(room, Math.max(...visible));
}

function renderTop() {
  const room = state.rooms.get(roomId);
  const top = $('timeline-top');
  if (!room) { top.replaceChildren(); return; }
  if (room.loadingOlder || !room.loaded) {
    top.replaceChildren(el('div', { class: 'spinner', role: 'status', 'aria-label': 'Loading messages' }));
  } else if (!room.hasOlder) {
    const dm = room.kind === 'dm';
    top.replaceChildren(el('div', { class: 'room-start', testid: 'room-start' },
      el('div', { class: 'room-start-icon', 'aria-hidden': 'true' }, icon(dm ? 'message' : room.visibility === 'private' ? 'lock' : 'hash')),
      el('h2', {}, dm ? `This is the beginning of your conversation with ${displayName(room.partner || '')}` :
        `Welcome to ${room.name}`),
      el('p', { class: 'muted' }, room.encrypted ? `Messages here are end-to-end encrypted: only the devices of ${
        dm ? 'the two of you' : 'its members'} can read them, not the server.`
        : dm ? 'Messages here are only between the two of you.'
          : room.topic || `This is the very beginning of the ${room.visibility} room ${room.name}.`)));
  } else top.replaceChildren();
}

function render() {
  const room = state.rooms.get(roomId);
  renderTop();
  if (!room) return;
  const s = scroller();
  // anchor: the first message at or below the top edge keeps its place on screen
  let anchor = null;
  let anchorTop = 0;
  if (!pinned) {
    for (const n of list().children) {
      if (n.dataset.kind === 'msg' && n.offsetTop + n.offsetHeight > s.scrollTop) {
        anchor = n;
        anchorTop = n.offsetTop - s.scrollTop;
        break;
      }
    }
  }
  const want = [];
  let prev = null;
  const items = [...sortedMessages(room), ...[...room.pending.values()].sort((a, b) => a.ts - b.ts)
    .map((p) => ({ pending: p, from: state.me.username, ts: p.ts, body: p.body, file: p.file }))];
  let newShown = false;
  for (const m of items) {
    const day = dayKey(m.ts);
    if (!prev || dayKey(prev.ts) !== day) want.push(dayDivider(day, m.ts));
    if (!newShown && !m.pending && m.seq > room.unreadMarker && m.from !== state.me.username) {
      want.push(newDivider());
      newShown = true;
    }
    const cont = !!prev && prev.from === m.from && dayKey(prev.ts) === day && m.ts - prev.ts < GROUP_MS &&
      want[want.length - 1].dataset.kind === 'msg' && !(prev.pending && prev.pending.status === 'failed');
    const n = m.pending ? pendingNode(m.pending) : messageNode(m);
    n.classList.toggle('msg-cont', cont);
    want.push(n);
    prev = m;
  }
  place(want);
  if (pinned) toBottom();
  else if (anchor && anchor.isConnected) s.scrollTop = anchor.offsetTop - anchorTop;
  // a short page that does not fill the view: fetch older until it scrolls
  if (room.loaded && room.hasOlder && s.scrollHeight <= s.clientHeight + 40) loadOlder(room).catch(() => {});
  flushRead();
}

// Puts the wanted nodes in order, moving only those out of place, and drops the rest.
function place(want) {
  const parent = list();
  const keep = new Set(want);
  for (const [k, n] of nodes) {
    if (!keep.has(n)) { observer.unobserve(n); n.remove(); nodes.delete(k); }
  }
  let cur = parent.firstChild;
  for (const n of want) {
    if (n === cur) { cur = cur.nextSibling; continue; }
    parent.insertBefore(n, cur);
  }
  while (cur) { const nx = cur.nextSibling; cur.remove(); cur = nx; }
}

function dayDivider(day, ts) {
  const key = 'd:' + day;
  if (!nodes.has(key)) {
    nodes.set(key, el('div', { class: 'divider day-divider', role: 'separator', dataset: { kind: 'day' } },
      el('span', {}, fmtDay(ts))));
  }
  return nodes.get(key);
}

function newDivider() {
  if (!nodes.has('new')) {
    nodes.set('new', el('div', { class: 'divider new-divider', role: 'separator', testid: 'new-divider',
      dataset: { kind: 'new' } }, el('span', {}, 'New')));
  }
  return nodes.get('new');
}

function header(m) {
  return el('div', { class: 'msg-head' },
    el('span', { class: 'msg-author', testid: 'message-author', dataset: { user: m.from } }, displayName(m.from)),
    m.from !== displayName(m.from) ? el('span', { class: 'msg-username' }, '@' + m.from) : null,
    el('time', { class: 'msg-time', datetime: new Date(m.ts).toISOString(), title: fmtDateTime(m.ts) }, fmtTime(m.ts)),
    m.edited_at && !m.deleted ? el('span', { class: 'msg-edited muted', testid: 'message-edited',
      title: `Edited ${fmtDateTime(m.edited_at)}` }, '(edited)') : null);
}

function gutter(m) {
  return el('div', { class: 'msg-gutter' }, avatar(m.from, displayName(m.from)),
    el('time', { class: 'msg-hover-time', 'aria-hidden': 'true', title: fmtDateTime(m.ts) }, fmtTime(m.ts)));
}

function bodyNode(m) {
  if (m.deleted) return el('div', { class: 'msg-body muted', testid: 'message-deleted' }, 'Message deleted');
  // End-to-end encrypted (PROTOCOL.md section 7): keys.js opened it, or it
  // is not for this device (sent before it existed), tampered with or
  // forged; never shown as text then.
  if (m.undecryptable || (m.e2ee && typeof m.body !== 'string')) {
    return el('div', { class: 'msg-body muted', testid: 'message-undecryptable' },
      "This message can't be decrypted on this device.");
  }
  if (!m.body) return null;
  const { nodes: parts, mentionsMe } = richText(m.body, state.me.username);
  const b = el('div', { class: 'msg-body', testid: 'message-body' }, parts);
  b.dataset.mentionsMe = mentionsMe ? '1' : '';
  return b;
}

function attachment(file, localUrl) {
  if (!file) return null;
  const onLoad = () => { if (pinned) toBottom(); };
  return el('div', { class: 'msg-file' }, isImage(file) ? imageTile(file, { localUrl, onLoad }) : fileCard(file));
}

function messageNode(m) {
  const key = 's:' + m.seq;
  const old = nodes.get(key);
  if (old && old.msg === m) return old;
  const body = bodyNode(m);
  const mine = m.from === state.me.username;
  const local = m.client_msg_id && localUrls.get(m.client_msg_id);
  const n = el('div', { class: 'msg' + (mine ? ' msg-mine' : '') + (body && body.dataset.mentionsMe ? ' msg-mention' : ''),
    testid: 'message', role: 'article', dataset: { kind: 'msg', seq: m.seq, from: m.from, cid: m.client_msg_id || '' },
    'aria-label': `${displayName(m.from)} at ${fmtTime(m.ts)}` },
  gutter(m), el('div', { class: 'msg-main' }, header(m), body, m.undecryptable ? null : attachment(m.file, local),
    reactionChips(roomId, m)), messageActions(roomId, m, () => n));
  n.msg = m; // a changed message (edit, delete, reaction) is another object: drawn again
  if (old) { observer.unobserve(old); old.replaceWith(n); }
  nodes.set(key, n);
  observer.observe(n);
  return n;
}

function pendingNode(p) {
  const key = 'p:' + p.cid;
  let n = nodes.get(key);
  if (n && n.dataset.status === p.status) return n;
  if (p.localFile && !localUrls.has(p.cid) && isImage({ content_type: p.localFile.type })) {
    localUrls.set(p.cid, URL.createObjectURL(p.localFile));
  }
  const m = { from: state.me.username, ts: p.ts, body: p.body };
  const f = p.file || (p.localFile ? { id: '', name: p.localFile.name, size: p.localFile.size, content_type: p.localFile.type } : null);
  const status = p.status === 'failed'
    ? el('div', { class: 'msg-status msg-status-failed', role: 'alert', testid: 'send-failed' },
      icon('alert'), el('span', {}, `Not sent: ${errorText(p.error)}`),
      el('button', { type: 'button', class: 'link-btn', testid: 'retry-send', onclick: () => retrySend(roomId, p.cid) }, 'Retry'),
      el('button', { type: 'button', class: 'link-btn', testid: 'discard-send', onclick: () => discardSend(roomId, p.cid) }, 'Discard'))
    : el('div', { class: 'msg-status' }, p.localFile && !p.file
      ? [el('progress', { max: 1, value: p.progress || 0, testid: 'upload-progress', 'aria-label': 'Upload progress' }),
        el('span', {}, 'Uploading…')]
      : el('span', {}, 'Sending…'));
  const next = el('div', { class: `msg msg-mine msg-pending${p.status === 'failed' ? ' msg-failed' : ''}`,
    testid: 'message', dataset: { kind: 'msg', cid: p.cid, status: p.status, pending: '1', from: m.from } },
  gutter(m), el('div', { class: 'msg-main' }, header(m), bodyNode(m), attachment(f, localUrls.get(p.cid)), status));
  if (n) n.replaceWith(next);
  nodes.set(key, next);
  return next;
}

function refreshNames() {
  for (const a of list().querySelectorAll('.msg-author')) {
    const name = displayName(a.dataset.user);
    if (a.textContent !== name) a.textContent = name;
  }
}

export function currentRoomId() { return roomId; }
// The node of a delivered message on screen, if any.
export const nodeOfSeq = (seq) => nodes.get('s:' + seq) || null;

// The message list of the open room: messages grouped by sender and day, a
// "new" line at the read marker, pending and failed sends, older pages on
// scroll-up (and newer ones on scroll-down while the room shows a window
// around a search result), read markers for messages that become visible.
// Thread replies are not in it: their root shows "N replies", which opens
// the thread panel (thread.js, which draws messages with this file's
// messageElement and pendingElement).
// DOM nodes are kept per message and reordered in place, so images stay loaded
// and the scroll position holds while history is prepended.

import { $, avatar, dayKey, el, fmtActivity, fmtDateTime, fmtDay, fmtTime, icon, richText } from './dom.js';
import { messageActions, reactionChips } from './actions.js';
import { errorText } from './api.js';
import { discardSend, loadNewer, loadOlder, markRead, retrySend, showLatest } from './chat.js';
import { fileCard, imageTile, isImage } from './files.js';
import { displayName, emit, on, sortedMessages, state } from './store.js';

export const GROUP_MS = 5 * 60 * 1000;
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
  $('jump-latest').addEventListener('click', jumpLatest);
}

function jumpLatest() {
  pinned = true;
  toBottom();
  $('jump-latest').hidden = true;
  const room = state.rooms.get(roomId);
  if (room && room.hasNewer) showLatest(room).catch(() => {});
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
  const room = state.rooms.get(roomId);
  const nearEnd = s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  // at the end of a window is not at the newest message: a newer page must not pull the view down
  pinned = nearEnd && !(room && room.hasNewer);
  $('jump-latest').hidden = pinned;
  if (room && room.loaded && room.hasOlder && s.scrollTop < 320) loadOlder(room).catch(() => {});
  if (room && room.loaded && room.hasNewer && s.scrollHeight - s.scrollTop - s.clientHeight < 320) {
    loadNewer(room).catch(() => {});
  }
}

function toBottom() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
}

export function stickToBottom() { pinned = true; toBottom(); }

// Scrolls message `seq` of the open room to the middle and marks it for a
// moment (a search result); false when it is not on screen.
export function revealMessage(seq) {
  const n = nodes.get('s:' + seq);
  if (!n) return false;
  pinned = false;
  $('jump-latest').hidden = false;
  n.scrollIntoView({ block: 'center' });
  flash(n);
  return true;
}

// The fading mark of a message that was jumped to (a CSS animation).
export function flash(n) {
  n.classList.remove('msg-flash');
  void n.offsetWidth; // restarts the animation when it is jumped to again
  n.classList.add('msg-flash');
  setTimeout(() => n.classList.remove('msg-flash'), 4000);
}

function onIntersect(entries) {
  for (const e of entries) {
    const seq = Number(e.target.dataset.seq);
    if (e.isIntersecting) visible.add(seq); else visible.delete(seq);
  }
  flushRead();
}

// Sends a read marker for the newest message on screen, while the page is visible.
// Thread replies are not on screen but count as unread: the marker also
// covers the replies between that message and the next one shown (all of
// them after the last one), whose roots show their count.
function flushRead() {
  const room = state.rooms.get(roomId);
  if (!room || document.visibilityState !== 'visible' || !visible.size) return;
  const top = Math.max(...visible);
  let next = Infinity;
  let last = top;
  for (const m of room.msgs.values()) {
    if (m.seq > top && !m.thread && m.seq < next) next = m.seq;
    if (m.seq > last) last = m.seq;
  }
  markRead(room, next === Infinity ? last : next - 1);
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
  // replies (and replies being sent) are the thread panel's
  const items = [...sortedMessages(room).filter((m) => !m.thread),
    ...[...room.pending.values()].filter((p) => !p.thread).sort((a, b) => a.ts - b.ts)
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
  if (room.loaded && room.hasNewer && s.scrollHeight <= s.clientHeight + 40) loadNewer(room).catch(() => {});
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

function attachment(file, localUrl, onLoad) {
  if (!file) return null;
  return el('div', { class: 'msg-file' }, isImage(file) ? imageTile(file, { localUrl, onLoad }) : fileCard(file));
}

// "N replies" and the last reply's time under a thread's root: opens the thread panel.
function threadSummary(rid, m) {
  const s = m.thread_summary;
  if (!s || !(s.replies > 0)) return null;
  const who = (Array.isArray(s.participants) ? s.participants : []).slice(0, 3);
  return el('button', { type: 'button', class: 'thread-summary', testid: 'thread-summary', dataset: { replies: String(s.replies) },
    'aria-label': `${s.replies === 1 ? '1 reply' : `${s.replies} replies`}: open the thread`,
    onclick: () => emit('open-thread', { room: rid, seq: m.seq }) },
  el('span', { class: 'thread-faces', 'aria-hidden': 'true' }, who.map((u) => avatar(u, displayName(u), 'xs'))),
  el('span', { class: 'thread-count', testid: 'thread-count' }, s.replies === 1 ? '1 reply' : `${s.replies} replies`),
  s.last_ts ? el('span', { class: 'thread-last', title: fmtDateTime(s.last_ts) }, `Last reply ${fmtActivity(s.last_ts)}`) : null);
}

// The element of a delivered message, as the timeline and the thread panel
// draw it. opts: local (an object URL of the image just sent), onLoad (its
// image came in), inThread (in the thread panel: no summary, no "Reply in thread").
export function messageElement(rid, m, { local, onLoad, inThread = false } = {}) {
  const body = bodyNode(m);
  const mine = m.from === state.me.username;
  const n = el('div', { class: 'msg' + (mine ? ' msg-mine' : '') + (body && body.dataset.mentionsMe ? ' msg-mention' : ''),
    testid: 'message', role: 'article', dataset: { kind: 'msg', seq: m.seq, from: m.from, cid: m.client_msg_id || '' },
    'aria-label': `${displayName(m.from)} at ${fmtTime(m.ts)}` },
  gutter(m), el('div', { class: 'msg-main' }, header(m), body, m.undecryptable ? null : attachment(m.file, local, onLoad),
    reactionChips(rid, m), inThread ? null : threadSummary(rid, m)), messageActions(rid, m, () => n, { inThread }));
  n.msg = m; // a changed message (edit, delete, reaction) is another object: drawn again
  return n;
}

// The element of a send on its way or failed (Retry, Discard).
export function pendingElement(rid, p, { local, onLoad } = {}) {
  const m = { from: state.me.username, ts: p.ts, body: p.body };
  const f = p.file || (p.localFile ? { id: '', name: p.localFile.name, size: p.localFile.size, content_type: p.localFile.type } : null);
  const status = p.status === 'failed'
    ? el('div', { class: 'msg-status msg-status-failed', role: 'alert', testid: 'send-failed' },
      icon('alert'), el('span', {}, `Not sent: ${errorText(p.error)}`),
      el('button', { type: 'button', class: 'link-btn', testid: 'retry-send', onclick: () => retrySend(rid, p.cid) }, 'Retry'),
      el('button', { type: 'button', class: 'link-btn', testid: 'discard-send', onclick: () => discardSend(rid, p.cid) }, 'Discard'))
    : el('div', { class: 'msg-status' }, p.localFile && !p.file
      ? [el('progress', { max: 1, value: p.progress || 0, testid: 'upload-progress', 'aria-label': 'Upload progress' }),
        el('span', {}, 'Uploading…')]
      : el('span', {}, 'Sending…'));
  return el('div', { class: `msg msg-mine msg-pending${p.status === 'failed' ? ' msg-failed' : ''}`,
    testid: 'message', dataset: { kind: 'msg', cid: p.cid, status: p.status, pending: '1', from: m.from } },
  gutter(m), el('div', { class: 'msg-main' }, header(m), bodyNode(m), attachment(f, local, onLoad), status));
}

const onImageLoad = () => { if (pinned) toBottom(); };

function messageNode(m) {
  const key = 's:' + m.seq;
  const old = nodes.get(key);
  if (old && old.msg === m) return old;
  const local = m.client_msg_id && localUrls.get(m.client_msg_id);
  const n = messageElement(roomId, m, { local, onLoad: onImageLoad });
  if (old) { observer.unobserve(old); old.replaceWith(n); }
  nodes.set(key, n);
  observer.observe(n);
  return n;
}

function pendingNode(p) {
  const key = 'p:' + p.cid;
  const n = nodes.get(key);
  if (n && n.dataset.status === p.status) return n;
  if (p.localFile && !localUrls.has(p.cid) && isImage({ content_type: p.localFile.type })) {
    localUrls.set(p.cid, URL.createObjectURL(p.localFile));
  }
  const next = pendingElement(roomId, p, { local: localUrls.get(p.cid), onLoad: onImageLoad });
  if (n) n.replaceWith(next);
  nodes.set(key, next);
  return next;
}

// Display names that came in after their messages were drawn (root: the list, or the thread panel's).
export function refreshNames(root = list()) {
  for (const a of root.querySelectorAll('.msg-author')) {
    const name = displayName(a.dataset.user);
    if (a.textContent !== name) a.textContent = name;
  }
}

export function currentRoomId() { return roomId; }
// The node of a delivered message on screen, if any.
export const nodeOfSeq = (seq) => nodes.get('s:' + seq) || null;

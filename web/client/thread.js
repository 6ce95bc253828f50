// The thread panel beside the timeline (PROTOCOL.md section 8): a thread's
// root and its replies, paged oldest first with after/limit ("Load more
// replies"), kept live by message and message_update events (drawn as the
// timeline draws them: edits, deletes, reactions), and a composer that sends
// with `thread` through the room's send path (client_msg_id, retry, sealing
// in encrypted rooms). Full screen at phone width; Escape or its close button
// closes it, and so does leaving the room.

import { $, dayKey, el, icon } from './dom.js';
import { errorText } from './api.js';
import { fetchThread, sendMessage } from './chat.js';
import { editLast } from './actions.js';
import { on, state } from './store.js';
import { GROUP_MS, flash, messageElement, pendingElement, refreshNames } from './timeline.js';
import { toast } from './notify.js';

const PAGE = 50;
const FIND_PAGES = 20; // pages of 200 searched for a reply to show (a search result)

// The open thread: {room, root (seq), rootMsg, replies: Map seq -> message,
// after (the last seq paged in), hasMore, loading, error}, or null.
let t = null;
const nodes = new Map(); // 'root' | 's:<seq>' | 'p:<cid>' -> element
let pinned = true;       // the list follows new replies

const scroller = () => $('thread-scroll');

export function initThread() {
  $('thread-close').appendChild(icon('x'));
  $('thread-send').appendChild(icon('send'));
  $('thread-close').addEventListener('click', closeThread);
  $('thread-composer').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  const input = $('thread-input');
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'ArrowUp' && !input.value && t && editLast(t.room, (seq) => nodes.get('s:' + seq), sortedReplies())) {
      e.preventDefault();
    }
  });
  input.addEventListener('input', autosize);
  scroller().addEventListener('scroll', () => {
    const s = scroller();
    pinned = s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }, { passive: true });
  // Escape anywhere closes it, unless something inside took it (an edit being
  // cancelled, a dialog over the page)
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !t || e.defaultPrevented || document.querySelector('dialog[open]')) return;
    if (document.querySelector('.emoji-picker')) return;
    e.preventDefault();
    closeThread();
  });

  on('open-thread', ({ room, seq }) => { openThread(room, seq).catch(() => {}); });
  on('message', onMessage);
  on('message-update', onUpdate);
  on('messages', (id) => { if (t && id === t.room) render(); }); // pending replies come and go
  on('progress', () => { if (t) render(); });
  on('users', () => { if (t) refreshNames($('thread-list')); });
  on('active', () => { if (t && state.activeRoom !== t.room) closeThread(); });
  on('resynced', () => { if (t) catchUp(t).catch(() => {}); });
  on('conn', () => $('thread-composer').classList.toggle('offline', state.connState !== 'connected'));
}

export const threadOpen = () => t !== null;

// Opens the thread of message `seq` of room `roomId` (seq may be a reply:
// the server answers with its root). highlight: a reply to scroll to and mark.
export async function openThread(roomId, seq, { highlight } = {}) {
  const mine = { room: roomId, root: seq, rootMsg: null, replies: new Map(), after: 0, hasMore: false, loading: true, error: null };
  if (t && t.room === roomId && t.root === seq && !t.error) {
    if (highlight) await reveal(t, highlight);
    return;
  }
  t = mine;
  nodes.clear();
  $('thread-list').replaceChildren();
  $('thread-panel').hidden = false;
  document.body.classList.add('thread-open');
  pinned = true;
  render();
  if (window.matchMedia('(pointer: fine)').matches) $('thread-input').focus();
  try {
    await loadPage(mine);
  } catch (e) {
    if (t !== mine) return;
    mine.loading = false;
    mine.error = e;
    render();
    return;
  }
  if (highlight && t === mine) await reveal(mine, highlight);
}

export function closeThread() {
  if (!t) return;
  t = null;
  nodes.clear();
  $('thread-list').replaceChildren();
  $('thread-input').value = '';
  autosize();
  $('thread-panel').hidden = true;
  document.body.classList.remove('thread-open');
}

// The next page of replies (the first one also brings the root).
async function loadPage(th, limit = PAGE) {
  th.loading = true;
  if (t === th) render();
  try {
    const res = await fetchThread(th.room, th.root, th.after, limit);
    if (t !== th) return;
    take(th, res);
  } finally {
    th.loading = false;
    if (t === th) render();
  }
}

function take(th, res) {
  if (res.root) {
    th.root = res.root.seq; // the root of a reply's thread
    th.rootMsg = res.root;
  }
  for (const m of res.messages || []) {
    th.replies.set(m.seq, m);
    th.after = Math.max(th.after, m.seq);
  }
  th.hasMore = !!res.has_more && (res.messages || []).length > 0;
}

// After a reconnect: the root again and the replies missed meanwhile.
async function catchUp(th) {
  for (let guard = 0; guard < 20 && t === th; guard++) {
    await loadPage(th, 200);
    if (!th.hasMore) break;
  }
}

// Pages in replies until `seq` is there, then scrolls to it and marks it.
async function reveal(th, seq) {
  for (let i = 0; i < FIND_PAGES && t === th && !th.replies.has(seq) && th.hasMore; i++) await loadPage(th, 200);
  const n = t === th && nodes.get('s:' + seq);
  if (!n) return;
  pinned = false;
  n.scrollIntoView({ block: 'center' });
  flash(n);
}

// A live reply (event or own ack). While older pages are still to come it
// waits for its page: shown now it would stand before replies not loaded yet.
function onMessage(m) {
  if (!t || m.room !== t.room || m.thread !== t.root) return;
  t.replies.set(m.seq, m);
  if (!t.hasMore) t.after = Math.max(t.after, m.seq);
  render();
}

function onUpdate(m) {
  if (!t || m.room !== t.room) return;
  if (m.seq === t.root) t.rootMsg = m;
  else if (t.replies.has(m.seq)) t.replies.set(m.seq, m);
  else return;
  render();
}

// The replies shown: all held, but only up to the last page while more pages follow.
function sortedReplies() {
  if (!t) return [];
  return [...t.replies.values()].filter((m) => !t.hasMore || m.seq <= t.after).sort((a, b) => a.seq - b.seq);
}

function node(key, m, opts) {
  const old = nodes.get(key);
  if (old && old.msg === m) return old;
  const n = messageElement(t.room, m, { inThread: true, onLoad: () => { if (pinned) toBottom(); }, ...opts });
  if (old) old.replaceWith(n);
  nodes.set(key, n);
  return n;
}

function pendingNode(p) {
  const key = 'p:' + p.cid;
  const old = nodes.get(key);
  if (old && old.dataset.status === p.status) return old;
  const n = pendingElement(t.room, p);
  if (old) old.replaceWith(n);
  nodes.set(key, n);
  return n;
}

function toBottom() {
  const s = scroller();
  s.scrollTop = s.scrollHeight;
}

function render() {
  if (!t) return;
  const room = state.rooms.get(t.room);
  $('thread-title-room').textContent = room ? (room.kind === 'dm' ? '' : `#${room.name}`) : '';
  const want = [];
  if (t.rootMsg) {
    const r = node('root', t.rootMsg);
    r.classList.add('thread-root');
    r.dataset.testid = 'thread-root';
    want.push(r);
  }
  const replies = sortedReplies();
  if (t.rootMsg) want.push(countDivider(t.rootMsg, replies.length));
  let prev = null;
  for (const m of replies) {
    const n = node('s:' + m.seq, m);
    n.classList.toggle('msg-cont', !!prev && prev.from === m.from && dayKey(prev.ts) === dayKey(m.ts) && m.ts - prev.ts < GROUP_MS);
    want.push(n);
    prev = m;
  }
  if (t.hasMore) want.push(moreButton());
  if (t.loading) want.push(spinner());
  if (t.error) want.push(el('p', { class: 'form-error pad', testid: 'thread-error' }, `Could not load the thread: ${errorText(t.error)}`));
  for (const p of room ? [...room.pending.values()].filter((x) => x.thread === t.root).sort((a, b) => a.ts - b.ts) : []) {
    want.push(pendingNode(p));
  }
  place(want);
  if (pinned) toBottom();
}

// Puts the wanted nodes in order and drops the rest (as the timeline does).
function place(want) {
  const parent = $('thread-list');
  const keep = new Set(want);
  for (const [k, n] of nodes) if (!keep.has(n)) { n.remove(); nodes.delete(k); }
  let cur = parent.firstChild;
  for (const n of want) {
    if (n === cur) { cur = cur.nextSibling; continue; }
    parent.insertBefore(n, cur);
  }
  while (cur) { const nx = cur.nextSibling; cur.remove(); cur = nx; }
}

// "N replies" under the root: the server's count (replies not deleted), or what is shown before it has one.
function countDivider(root, shown) {
  const n = root.thread_summary ? root.thread_summary.replies : shown;
  const text = n === 1 ? '1 reply' : n ? `${n} replies` : 'No replies yet';
  const key = 'count';
  let d = nodes.get(key);
  if (!d) {
    d = el('div', { class: 'divider thread-divider', role: 'separator', testid: 'thread-reply-count' }, el('span'));
    nodes.set(key, d);
  }
  if (d.firstChild.textContent !== text) d.firstChild.textContent = text;
  return d;
}

function moreButton() {
  if (!nodes.has('more')) {
    const more = () => {
      if (t && !t.loading) loadPage(t).catch((e) => toast({ title: 'Could not load replies', text: errorText(e), kind: 'error' }));
    };
    nodes.set('more', el('div', { class: 'thread-more' },
      el('button', { type: 'button', class: 'btn btn-sm', testid: 'thread-more', onclick: more }, 'Load more replies')));
  }
  return nodes.get('more');
}

function spinner() {
  if (!nodes.has('spinner')) nodes.set('spinner', el('div', { class: 'spinner', role: 'status', 'aria-label': 'Loading replies' }));
  return nodes.get('spinner');
}

function autosize() {
  const i = $('thread-input');
  i.style.height = 'auto';
  i.style.height = Math.min(i.scrollHeight, 160) + 'px';
}

function submit() {
  const input = $('thread-input');
  const body = input.value.replace(/^\s*\n|\s+$/g, '');
  if (!t || !body.trim()) return;
  if ([...body].length > 8000) {
    toast({ title: 'Message too long', text: 'Messages can have up to 8,000 characters.', kind: 'error' });
    return;
  }
  sendMessage(t.room, body, null, t.root);
  // a reply is the newest: the pages before it come first, or it would wait for them out of sight
  if (t.hasMore) catchUp(t).catch(() => {});
  input.value = '';
  autosize();
  pinned = true;
  render();
}

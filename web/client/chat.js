// What the client does: the WebSocket session and its events, sending with
// optimistic display and retry, history (latest page, older pages, catch-up
// after a reconnect, a window around one message and the pages after it),
// threads, read markers, typing, rooms, members and presence.

import { api, auth, enc, uploadFile } from './api.js';
import {
  encryptFile, forgetDevice, onKeysEvent, openMessages, seal, setUpDevice,
} from './keys.js';
import { Connection } from './socket.js';
import {
  addMessages, emit, ensureUser, lastSeq, firstSeq, rememberUser, removeRoom, setPresence, state, upsertRoom,
} from './store.js';

const PAGE = 50;
const TYPING_REFRESH_MS = 4000; // the server ends a typing state 6 s after its last refresh
const TYPING_LOCAL_MS = 7000;

let conn = null;
let onSignedOut = () => {};

export function startChat(me, signedOut) {
  onSignedOut = signedOut;
  state.me = me;
  rememberUser(me);
  conn = new Connection({
    token: auth.get(),
    onEvent: handleEvent,
    onState: (s, detail) => { state.connState = s; state.connDetail = detail; emit('conn', s); },
    onAuthed: (data) => { authed(data).catch((e) => console.error(e)); }, // eslint-disable-line no-console
    onRejected: () => onSignedOut('Your session has ended; sign in again.'),
  });
  conn.start();
}

export function stopChat() {
  if (conn) conn.stop();
  conn = null;
  forgetDevice();
}

export function retryConnectionNow() { if (conn) conn.retryNow(); }
export const request = (op, fields) => (conn ? conn.request(op, fields) : Promise.reject(new Error('offline')));

// ---- after (re)authentication --------------------------------------------------------------

async function authed(data) {
  // What each room held before this connection: live events that arrive while
  // the catch-up runs must not move its starting point past a gap.
  const from = new Map([...state.rooms.values()].filter((r) => r.loaded).map((r) => [r.id, lastSeq(r)]));
  if (data.user) { state.me = data.user; rememberUser(data.user); }
  for (const r of data.rooms || []) upsertRoom(r);
  try { await refreshRooms(); } catch (e) { console.error(e); } // eslint-disable-line no-console
  // before any history: encrypted messages are opened as they come in
  try { await setUpDevice(); } catch (e) { console.error(e); } // eslint-disable-line no-console
  // every room with history on screen fetches what it missed (each on its own,
  // retried: one room on a node that is down must not stop the others)
  // (a room shown around an older message has nothing to catch up: its newer pages come on scroll)
  await Promise.all([...state.rooms.values()].filter((room) => room.loaded && !room.hasNewer)
    .map((room) => catchUpRetrying(room, from.has(room.id) ? from.get(room.id) : lastSeq(room))));
  const active = state.rooms.get(state.activeRoom);
  if (active && !active.loaded) await loadLatest(active);
  for (const r of state.rooms.values()) r.previewLoaded = false; // their newest message may have changed
  loadPreviews();
  watchUsers([...state.rooms.values()].filter((r) => r.partner).map((r) => r.partner), true);
  if (active) loadMembers(active).catch(() => {});
  emit('resynced');
}

export async function refreshRooms() {
  const res = await api('GET', '/rooms');
  const seen = new Set();
  for (const r of res.rooms || []) { upsertRoom(r); seen.add(r.id); }
  for (const id of [...state.rooms.keys()]) if (!seen.has(id)) removeRoom(id);
  for (const r of state.rooms.values()) if (r.partner) ensureUser(r.partner);
  emit('rooms');
}

// The newest message of each room for the sidebar (HTTP: not counted by the socket's rate limit).
function loadPreviews() {
  const todo = [...state.rooms.values()].filter((r) => !r.loaded && r.last_seq > 0 && !r.previewLoaded);
  let i = 0;
  const worker = async () => {
    while (i < todo.length) {
      const room = todo[i++];
      room.previewLoaded = true;
      try {
        const res = await api('GET', `/rooms/${enc(room.id)}/messages?limit=1`);
        const m = (res.messages || [])[0];
        await openMessages(res.messages);
        if (m && m.ts >= room.lastTs) { room.lastTs = m.ts; room.lastPreview = m; ensureUser(m.from); }
      } catch { /* preview only */ }
    }
    emit('rooms');
  };
  for (let k = 0; k < 4; k++) worker();
}

// ---- history ------------------------------------------------------------------------------

function history(room, params) {
  const q = new URLSearchParams(params).toString();
  return api('GET', `/rooms/${enc(room.id)}/messages?${q}`);
}

export async function loadLatest(room) {
  const res = await history(room, { limit: PAGE });
  await openMessages(res.messages);
  addMessages(room, res.messages || []);
  room.loaded = true;
  room.hasOlder = !!res.has_more;
  for (const m of res.messages || []) ensureUser(m.from);
  emit('messages', room.id);
  // the newest page may be older than live messages already kept: fill the gap
  await catchUp(room);
}

export async function loadOlder(room) {
  if (room.loadingOlder || !room.hasOlder) return 0;
  room.loadingOlder = true;
  emit('loading-older', room.id);
  try {
    const res = await history(room, { before: firstSeq(room), limit: PAGE });
    await openMessages(res.messages);
    room.hasOlder = !!res.has_more;
    for (const m of res.messages || []) ensureUser(m.from);
    const n = addMessages(room, res.messages || []);
    emit('older', room.id);
    return n;
  } finally {
    room.loadingOlder = false;
    emit('loading-older', room.id);
  }
}

// The room shown around message `seq` (a search result): a window of history
// from 25 before it, unless it is loaded already. The window replaces what
// was held, so the messages held stay one run of seqs (loadOlder and
// loadNewer extend it at either end); until a page reaches the newest
// message, hasNewer holds live messages back (see addLive).
export async function loadAround(room, seq) {
  if (room.loaded && room.msgs.size && seq >= firstSeq(room) && (seq <= lastSeq(room) || !room.hasNewer)) return;
  const res = await history(room, { after: Math.max(0, seq - 25), limit: PAGE });
  await openMessages(res.messages);
  room.msgs.clear();
  addMessages(room, res.messages || []);
  for (const m of res.messages || []) ensureUser(m.from);
  room.loaded = true;
  room.hasOlder = firstSeq(room) > 1;
  room.hasNewer = !!res.has_more;
  emit('messages', room.id);
  if (!room.hasNewer) await catchUp(room);
}

// The page after the newest message held, while the room shows a window.
export async function loadNewer(room) {
  if (room.loadingNewer || !room.hasNewer) return 0;
  room.loadingNewer = true;
  try {
    const res = await history(room, { after: lastSeq(room), limit: PAGE });
    await openMessages(res.messages);
    for (const m of res.messages || []) ensureUser(m.from);
    const n = addMessages(room, res.messages || []);
    room.hasNewer = !!res.has_more && (res.messages || []).length > 0;
    emit('messages', room.id);
    // a live message held back while this page was on its way may be newer than it
    if (!room.hasNewer) await catchUp(room);
    return n;
  } finally {
    room.loadingNewer = false;
  }
}

// Back from a window to the newest page (Jump to latest, or a send).
export async function showLatest(room) {
  if (!room.hasNewer) return;
  room.msgs.clear();
  room.hasNewer = false;
  room.loaded = false;
  emit('messages', room.id);
  await loadLatest(room);
}

async function catchUpRetrying(room, after) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await catchUp(room, after);
    } catch (e) {
      if (attempt >= 5) { console.error(e); return undefined; } // eslint-disable-line no-console
      await new Promise((res) => { setTimeout(res, 1000 * 2 ** attempt); });
    }
  }
}

// history after=`after` (default: the last seq held), page by page, until
// nothing newer is left.
export async function catchUp(room, after = lastSeq(room)) {
  for (let guard = 0; guard < 100; guard++) {
    const res = await history(room, { after, limit: 200 });
    await openMessages(res.messages);
    const page = res.messages || [];
    if (page.length) after = Math.max(after, page[page.length - 1].seq);
    const n = addMessages(room, res.messages || []);
    for (const m of res.messages || []) ensureUser(m.from);
    if (n) emit('messages', room.id);
    if (!res.has_more || !(res.messages || []).length) break;
  }
  emit('rooms');
}

// ---- events -------------------------------------------------------------------------------

function handleEvent(op, d) {
  switch (op) {
    case 'message': return onMessage(d);
    case 'typing': return onTyping(d);
    case 'presence': return setPresence(d.user, d);
    case 'member': return onMember(d);
    case 'member_summary': return onMemberSummary(d);
    case 'keys': return onKeysEvent(d);
    case 'message_update': return onMessageUpdate(d);
    case 'unread': {
      const room = state.rooms.get(d.room);
      if (!room) return undefined;
      room.last_read = Math.max(room.last_read, d.last_read || 0);
      room.unread = d.unread;
      emit('rooms');
      return emit('unread', room.id);
    }
    case 'notification':
      if (d.reason === 'invite' && !state.rooms.has(d.room)) {
        state.invites.set(d.room, { room: d.room, name: d.preview || null, from: d.from || null });
        emit('invites');
      }
      return emit('notification', d);
    default: return undefined;
  }
}

async function onMessage(m) {
  await openMessages([m]);
  let room = state.rooms.get(m.room);
  if (!room) {
    await refreshRooms().catch(() => {});
    room = state.rooms.get(m.room);
    if (!room) return;
    if (room.partner) watchUsers([room.partner]);
  }
  // the server's counters already include a message at or below the last_seq it reported
  const counted = m.seq <= room.last_seq;
  const fresh = addLive(room, m);
  emit('message', m); // the thread panel: a reply may belong to the thread on screen
  ensureUser(m.from);
  clearTyping(room, m.from);
  if (fresh && !counted && m.from !== state.me.username && m.seq > room.last_read) {
    room.unread = (room.unread || 0) + 1;
    emit('unread', room.id);
  }
  emit('messages', room.id);
  emit('rooms');
}

// A message that arrived now (event or own ack): added, unless the room
// shows a window that does not reach the newest message (a search result):
// then it comes with the page that does, and only the counters move.
// Returns whether it was new.
function addLive(room, m) {
  if (!room.hasNewer) return addMessages(room, [m]) > 0;
  const fresh = m.seq > room.last_seq;
  room.last_seq = Math.max(room.last_seq, m.seq);
  if (m.ts >= room.lastTs) { room.lastTs = m.ts; room.lastPreview = m; }
  return fresh;
}

// An edit, a delete, a reaction change or a new thread reply (on its root):
// the whole message replaces the one held (one not loaded yet comes with
// its history page; the thread panel may hold it though).
async function onMessageUpdate(m) {
  const room = state.rooms.get(m.room);
  if (!room) return;
  await openMessages([m]);
  emit('message-update', m);
  if (!room.msgs.has(m.seq)) return;
  room.msgs.set(m.seq, m);
  if (room.lastPreview && room.lastPreview.seq === m.seq) room.lastPreview = m;
  emit('messages', room.id);
  emit('rooms');
}

function clearTyping(room, user) {
  if (!room.typing.has(user)) return;
  clearTimeout(room.typing.get(user));
  room.typing.delete(user);
  emit('typing', room.id);
}

function onTyping({ room: id, user, active }) {
  const room = state.rooms.get(id);
  if (!room || user === state.me.username) return;
  clearTimeout(room.typing.get(user));
  if (active) {
    room.typing.set(user, setTimeout(() => clearTyping(room, user), TYPING_LOCAL_MS));
    ensureUser(user);
  } else room.typing.delete(user);
  emit('typing', id);
}

function onMember({ room: id, user, action }) {
  if (user === state.me.username) {
    if (action === 'left') { removeRoom(id); emit('rooms'); emit('active'); return; }
    if (action === 'invited') {
      if (!state.rooms.has(id) && !state.invites.has(id)) {
        state.invites.set(id, { room: id, name: null, from: null });
        emit('invites');
      }
      return;
    }
    state.invites.delete(id);
    emit('invites');
    refreshRooms().catch(() => {});
    return;
  }
  const room = state.rooms.get(id);
  if (!room) return;
  room.membersChanged = true; // a members call in flight may predate this
  if (!room.members) return;
  if (action === 'joined') { room.members.set(user, { role: 'member' }); ensureUser(user); watchUsers([user]); }
  if (action === 'left') room.members.delete(user);
  emit('members', id);
}

// A big room's member changes of the last second (docs/PROTOCOL.md): the
// listed ones as member events (our own came as one already); when some were
// not listed, the member list is asked again.
function onMemberSummary({ room: id, changes, more }) {
  for (const c of changes || []) if (c.user !== state.me.username) onMember({ room: id, user: c.user, action: c.action });
  const room = state.rooms.get(id);
  if (room && room.members && more > 0) loadMembers(room).catch(() => {});
}

// ---- sending ------------------------------------------------------------------------------

const newCid = () => `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;

// thread: the root's seq for a reply in its thread (PROTOCOL.md section 8).
export function sendMessage(roomId, body, file, thread) {
  const room = state.rooms.get(roomId);
  if (!room) return;
  const p = { cid: newCid(), body, file: null, localFile: file || null, progress: 0, status: 'sending', ts: Date.now(),
    thread: thread || null };
  room.pending.set(p.cid, p);
  emit('messages', roomId);
  deliver(room, p);
}

export function retrySend(roomId, cid) {
  const room = state.rooms.get(roomId);
  const p = room && room.pending.get(cid);
  if (!p || p.status !== 'failed') return;
  p.status = 'sending';
  p.error = null;
  emit('messages', roomId);
  deliver(room, p);
}

export function discardSend(roomId, cid) {
  const room = state.rooms.get(roomId);
  if (room && room.pending.delete(cid)) emit('messages', roomId);
}

// An encrypted room's file: encrypted here, uploaded as ciphertext with
// X-Encrypted: 1 under a neutral name; p.fileEntry is its key for the message.
async function uploadEncrypted(room, p, onProgress) {
  const f = p.localFile;
  const { data, entry } = await encryptFile(await f.arrayBuffer(), f.name || 'file', f.type || 'application/octet-stream');
  const up = uploadFile(room.id, new Blob([data]), onProgress, { encrypted: true });
  p.abort = up.abort;
  const stored = await up.promise;
  p.fileEntry = { id: stored.id, ...entry };
  return { id: stored.id, name: entry.name, size: entry.size, content_type: entry.type, e2ee: p.fileEntry };
}

// The e2ee object of a send or an edit: for every device of the room's members.
async function sealFor(room, cmid, body, fileEntry) {
  if (!room.members) await loadMembers(room);
  const plain = { body };
  if (fileEntry) plain.file = fileEntry;
  return seal(room, [...room.members.keys()], cmid, plain);
}

async function fieldsOf(room, p) {
  const fields = { room: room.id, client_msg_id: p.cid };
  if (p.file) fields.file_id = p.file.id;
  if (p.thread) fields.thread = p.thread;
  if (!room.encrypted) return { ...fields, body: p.body };
  return { ...fields, e2ee: await sealFor(room, p.cid, p.body, p.fileEntry) };
}

async function deliver(room, p) {
  try {
    if (p.localFile && !p.file) {
      const progress = (f) => { p.progress = f; emit('progress', p.cid); };
      if (room.encrypted) p.file = await uploadEncrypted(room, p, progress);
      else {
        const up = uploadFile(room.id, p.localFile, progress);
        p.abort = up.abort;
        p.file = await up.promise;
      }
      p.progress = 1;
      emit('progress', p.cid);
    }
    const fields = await fieldsOf(room, p);
    const ack = await request('send', fields);
    if (!room.msgs.has(ack.seq)) {
      const m = { room: room.id, seq: ack.seq, msg_id: ack.msg_id, ts: ack.ts, from: state.me.username, body: p.body,
        client_msg_id: p.cid };
      if (p.thread) m.thread = p.thread;
      if (fields.e2ee) m.e2ee = fields.e2ee;
      if (p.file) {
        m.file = { id: p.file.id, name: p.file.name, size: p.file.size, content_type: p.file.content_type };
        if (p.file.e2ee) m.file.e2ee = p.file.e2ee;
      }
      addLive(room, m);
      // before the pending send goes: a reply stays on screen in the thread panel
      if (m.thread) emit('message', m);
    }
    room.pending.delete(p.cid);
    emit('messages', room.id);
    emit('rooms');
  } catch (e) {
    if (!room.pending.has(p.cid)) return;
    p.status = 'failed';
    p.error = e;
    emit('messages', room.id);
  }
}

// ---- edits, deletes and reactions (PROTOCOL.md section 8) -----------------------------------
// The server answers, then pushes message_update, which redraws the message.

// `held`: the message as shown (a thread reply may be held by the thread panel only).
export async function editMessage(roomId, seq, body, held) {
  const room = state.rooms.get(roomId);
  const m = held || (room && room.msgs.get(seq));
  if (!room || !m) return;
  if (!room.encrypted) {
    await request('edit', { room: roomId, seq, body });
    return;
  }
  // the signature covers the message's client_msg_id, which an edit keeps
  await request('edit', { room: roomId, seq, e2ee: await sealFor(room, m.client_msg_id || '', body, m.file && m.file.e2ee) });
}

export const deleteMessage = (roomId, seq) => request('delete', { room: roomId, seq });
export const react = (roomId, seq, emoji, active) => request('react', { room: roomId, seq, emoji, active });

// ---- threads (PROTOCOL.md section 8) ---------------------------------------------------------

// A page of the thread of message `seq`: {root, messages, has_more}, the
// replies after `after`, oldest first; encrypted ones opened.
export async function fetchThread(roomId, seq, after = 0, limit = PAGE) {
  const q = new URLSearchParams({ after, limit }).toString();
  const res = await api('GET', `/rooms/${enc(roomId)}/threads/${enc(seq)}?${q}`);
  await openMessages([res.root, ...(res.messages || [])].filter(Boolean));
  for (const m of res.messages || []) ensureUser(m.from);
  return res;
}

// ---- read markers and typing ---------------------------------------------------------------

export function markRead(room, seq) {
  if (!seq || seq <= room.last_read || seq <= room.readSent || !conn || !conn.open) return;
  room.readSent = seq;
  request('read', { room: room.id, seq }).then((d) => {
    room.last_read = Math.max(room.last_read, d.last_read || 0);
    room.unread = d.unread;
    emit('unread', room.id);
    emit('rooms');
  }, () => { room.readSent = 0; });
}

const typingSent = new Map(); // room -> ms of last active:true
export function setTyping(roomId, active) {
  if (!conn || !conn.open) return;
  const last = typingSent.get(roomId) || 0;
  if (active) {
    if (Date.now() - last < TYPING_REFRESH_MS) return;
    typingSent.set(roomId, Date.now());
  } else {
    if (!last) return;
    typingSent.delete(roomId);
  }
  request('typing', { room: roomId, active }).catch(() => {});
}

// ---- rooms, members, presence --------------------------------------------------------------

export async function createRoom(name, topic, visibility, encrypted) {
  const res = await api('POST', '/rooms', { name, topic, visibility, encrypted: !!encrypted });
  upsertRoom(res.room);
  emit('rooms');
  return res.room;
}

export async function joinRoom(id) {
  const res = await api('POST', `/rooms/${enc(id)}/join`);
  upsertRoom(res.room);
  state.invites.delete(id);
  emit('invites');
  await refreshRooms().catch(() => {});
  return res.room;
}

export async function leaveRoom(id) {
  await api('POST', `/rooms/${enc(id)}/leave`);
  removeRoom(id);
  emit('rooms');
  emit('active');
}

export async function invite(roomId, username) {
  await api('POST', `/rooms/${enc(roomId)}/invite`, { username });
}

export async function openDm(username, encrypted) {
  const res = await api('POST', '/dm', { username, encrypted: !!encrypted });
  const room = upsertRoom(res.room);
  room.partner = username;
  ensureUser(username);
  watchUsers([username]);
  emit('rooms');
  return room;
}

export async function loadMembers(room) {
  let res;
  for (let attempt = 0; attempt < 3; attempt++) {
    room.membersChanged = false;
    res = await api('GET', `/rooms/${enc(room.id)}/members`);
    if (!room.membersChanged) break; // else a join or leave came meanwhile: ask again
  }
  room.members = new Map();
  for (const m of res.members || []) {
    rememberUser(m.user);
    room.members.set(m.user.username, { role: m.role });
    if (m.presence) state.presence.set(m.user.username, m.presence);
  }
  if (room.kind === 'dm') {
    const other = [...room.members.keys()].find((u) => u !== state.me.username);
    if (other) room.partner = other;
  }
  emit('members', room.id);
  emit('rooms');
  watchUsers([...room.members.keys()].filter((u) => u !== state.me.username));
}

// Subscribes to presence events of users not yet watched (all again after a reconnect).
export function watchUsers(names, fresh) {
  if (fresh) state.watched.clear();
  const todo = [...new Set(names)].filter((u) => u && !state.watched.has(u)).slice(0, 500);
  if (!todo.length || !conn || !conn.open) return;
  todo.forEach((u) => state.watched.add(u));
  request('watch', { users: todo }).then((d) => {
    for (const [u, p] of Object.entries(d.presence || {})) setPresence(u, p);
  }, () => todo.forEach((u) => state.watched.delete(u)));
}

export function setMyPresence(status) {
  return request('presence', { status });
}

export async function updateProfile(fields) {
  const res = await api('PATCH', '/me', fields);
  state.me = res.user;
  rememberUser(res.user);
  emit('me');
  emit('users', res.user.username);
}

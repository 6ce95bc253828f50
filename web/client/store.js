// Client state: who I am, my rooms with their messages (keyed by seq, so a
// message seen twice is kept once), pending sends, users, presence, typing.
// Views subscribe to topics and re-render what changed.

import { api, enc } from './api.js';

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
}

export function emit(topic, arg) {
  for (const fn of listeners.get(topic) || []) {
    try { fn(arg); } catch (e) { console.error(e); } // eslint-disable-line no-console
  }
}

export const state = {
  me: null,            // user object
  connState: 'idle',   // idle | connecting | connected | disconnected
  connDetail: {},
  rooms: new Map(),    // id -> room record (see newRoom)
  users: new Map(),    // username -> user object
  presence: new Map(), // username -> {status, last_seen?}
  watched: new Set(),  // usernames this session watches
  invites: new Map(),  // room id -> {room, name, from}
  activeRoom: null,
  e2ee: 'idle',        // idle | ready | unsupported: this browser's device (keys.js)
  deviceId: null,
  keyChanges: new Set(), // usernames whose devices changed since last acknowledged
};

export function resetState() {
  state.me = null;
  state.connState = 'idle';
  state.rooms.clear();
  state.users.clear();
  state.presence.clear();
  state.watched.clear();
  state.invites.clear();
  state.activeRoom = null;
  state.e2ee = 'idle';
  state.deviceId = null;
  state.keyChanges.clear();
}

function newRoom(id) {
  return {
    id, name: id, topic: '', visibility: 'private', kind: 'room', created_at: 0, encrypted: false,
    last_seq: 0, last_read: 0, unread: 0,
    msgs: new Map(),     // seq -> message
    pending: new Map(),  // client_msg_id -> {cid, body, file, upload, status, error, ts}
    loaded: false,       // the newest page has been fetched
    hasOlder: false,     // older messages exist before the first loaded one
    loadingOlder: false,
    hasNewer: false,     // a window around an older message (search): newer ones exist after the last loaded one
    loadingNewer: false,
    lastTs: 0, lastPreview: null, // sidebar: last activity
    members: null,       // Map username -> {role} once fetched
    partner: null,       // username of the other user of a direct room
    typing: new Map(),   // username -> timeout id
    readSent: 0,         // highest seq we sent a read marker for
    unreadMarker: 0,     // last_read when the room was opened: "new messages" line after it
  };
}

export function upsertRoom(data) {
  const id = data.id || data.room;
  let r = state.rooms.get(id);
  if (!r) { r = newRoom(id); state.rooms.set(id, r); }
  for (const k of ['name', 'topic', 'visibility', 'kind', 'created_at', 'encrypted']) if (data[k] !== undefined) r[k] = data[k];
  if (Number.isFinite(data.last_seq)) r.last_seq = Math.max(r.last_seq, data.last_seq);
  if (Number.isFinite(data.last_read)) r.last_read = Math.max(r.last_read, data.last_read);
  if (Number.isFinite(data.unread)) r.unread = data.unread;
  if (r.kind === 'dm' && !r.partner && state.me) {
    // the server names a direct room "a, b"; the members call confirms it
    const names = String(r.name).split(',').map((s) => s.trim()).filter((n) => n && n !== state.me.username);
    if (names.length === 1) r.partner = names[0];
  }
  return r;
}

export function removeRoom(id) {
  state.rooms.delete(id);
  if (state.activeRoom === id) state.activeRoom = null;
}

// Adds messages; returns the number that were new.
export function addMessages(room, messages) {
  let added = 0;
  for (const m of messages) {
    if (!Number.isFinite(m.seq)) continue;
    if (!room.msgs.has(m.seq)) added += 1;
    room.msgs.set(m.seq, m);
    if (m.client_msg_id && m.from === state.me?.username) room.pending.delete(m.client_msg_id);
    if (m.seq > room.last_seq) room.last_seq = m.seq;
    if (m.ts >= room.lastTs) { room.lastTs = m.ts; room.lastPreview = m; }
  }
  return added;
}

export function sortedMessages(room) {
  return [...room.msgs.values()].sort((a, b) => a.seq - b.seq);
}

export function firstSeq(room) {
  let min = Infinity;
  for (const s of room.msgs.keys()) if (s < min) min = s;
  return min === Infinity ? 0 : min;
}

export function lastSeq(room) {
  let max = 0;
  for (const s of room.msgs.keys()) if (s > max) max = s;
  return max;
}

export function displayName(username) {
  const u = state.users.get(username);
  return (u && u.display_name) || username;
}

export function roomTitle(room) {
  if (room.kind === 'dm') return room.partner ? displayName(room.partner) : room.name;
  return room.name;
}

export function totalUnread() {
  let n = 0;
  for (const r of state.rooms.values()) n += r.unread || 0;
  return n;
}

export function sortedRooms(kind) {
  return [...state.rooms.values()].filter((r) => (kind === 'dm' ? r.kind === 'dm' : r.kind !== 'dm'))
    .sort((a, b) => (b.lastTs || b.created_at) - (a.lastTs || a.created_at) || roomTitle(a).localeCompare(roomTitle(b)));
}

export function presenceOf(username) {
  return state.presence.get(username) || { status: 'offline' };
}

export function setPresence(username, p) {
  state.presence.set(username, { status: p.status, last_seen: p.last_seen });
  emit('presence', username);
}

// Looks users up once (display names); concurrent lookups share one request.
const lookups = new Map();
export function ensureUser(username) {
  if (!username || state.users.has(username)) return Promise.resolve(state.users.get(username));
  if (!lookups.has(username)) {
    const p = api('GET', `/users/${enc(username)}`).then((r) => {
      state.users.set(username, r.user);
      if (r.presence && !state.presence.has(username)) state.presence.set(username, r.presence);
      emit('users', username);
      return r.user;
    }).catch(() => null).finally(() => lookups.delete(username));
    lookups.set(username, p);
  }
  return lookups.get(username);
}

export function rememberUser(user) {
  if (user && user.username) state.users.set(user.username, user);
}

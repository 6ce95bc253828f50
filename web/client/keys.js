// End-to-end encryption in the client (PROTOCOL.md section 7, docs/E2EE.md):
// this browser's device (made and published at sign-in), the key directory
// (cached, refreshed by `keys` events), sealing a send for every device of
// a room's members, opening received messages in place, safety numbers,
// "verified" marks and the warning when a partner's devices change. The
// bytes are e2ee.js's.

import { api, enc, ApiError } from './api.js';
import * as e2ee from './e2ee.js';
import { emit, state } from './store.js';

let device = null;             // this browser's device of the signed-in user
let settle = null;             // resolves `ready`
let ready = new Promise((res) => { settle = res; }); // the first setUpDevice() has ended
const directory = new Map();   // username -> Promise<{entries, verified: Map device_id -> keys}>
const shown = new Map();       // "room|sender_device|client_msg_id" -> seq: replays are not shown twice

const seenKey = () => `confab.e2ee.seen.${state.me.username}`;
const verifiedKey = () => `confab.e2ee.verified.${state.me.username}`;
const load = (k) => { try { return JSON.parse(localStorage.getItem(k)) || {}; } catch { return {}; } };
const save = (k, v) => localStorage.setItem(k, JSON.stringify(v));

// A device list as one string: any change of a device, added or removed, changes it.
const fingerprint = (entries) => entries.map((d) => `${d.device_id}:${d.identity_key}:${d.signing_key || ''}`).sort().join(',');

export function e2eeReady() { return !!device; }

// Makes (once per browser and user) and publishes this device; after a
// reconnect, forgets the cached directory (events may have been missed).
// Messages are opened only after it ended (see openOne).
export async function setUpDevice() {
  try {
    await publishDevice();
  } finally { settle(); }
}

async function publishDevice() {
  directory.clear();
  if (!device || device.username !== state.me.username) {
    device = null;
    if (!await e2ee.supported()) {
      state.e2ee = 'unsupported';
      emit('e2ee');
      return;
    }
    device = await e2ee.thisDevice(state.me.username);
  }
  const mine = await devicesOf(state.me.username);
  const entry = await e2ee.published(device);
  const listed = mine.entries.find((d) => d.device_id === device.device_id);
  if (!listed || listed.identity_key !== entry.identity_key) {
    await api('PUT', `/keys/devices/${enc(device.device_id)}`, entry);
    directory.delete(state.me.username);
  }
  state.e2ee = 'ready';
  state.deviceId = device.device_id;
  emit('e2ee');
}

export function forgetDevice() {
  ready = new Promise((res) => { settle = res; });
  device = null;
  directory.clear();
  shown.clear();
}

async function verifiedOf(username, entries) {
  const verified = new Map();
  for (const d of entries) {
    const keys = await e2ee.verifyDevice(username, d);
    if (keys) verified.set(d.device_id, keys);
  }
  noteDevices(username, entries);
  return { entries, verified };
}

// A user's published devices whose self-signature verifies.
export function devicesOf(username) {
  if (!directory.has(username)) {
    const p = api('GET', `/keys/${enc(username)}`).then((res) => verifiedOf(username, res.devices || []));
    p.catch(() => directory.delete(username));
    directory.set(username, p);
  }
  return directory.get(username);
}

// The `keys` event: the user's whole list, as the directory has it now.
export function onKeysEvent({ user, devices }) {
  if (typeof user !== 'string' || !Array.isArray(devices)) return;
  directory.set(user, verifiedOf(user, devices));
}

// ---- device changes, safety numbers, verified marks --------------------------------------------

// The first list seen of a user is trusted; a later different one is a
// warning until the user dismisses it, and clears a "verified" mark.
function noteDevices(username, entries) {
  if (!state.me || username === state.me.username) return;
  const seen = load(seenKey());
  const now = fingerprint(entries);
  if (seen[username] === undefined) {
    seen[username] = now;
    save(seenKey(), seen);
  } else if (seen[username] !== now && !state.keyChanges.has(username)) {
    state.keyChanges.add(username);
    emit('keychange', username);
  }
}

export function dismissKeyChange(username) {
  return devicesOf(username).then(({ entries }) => {
    const seen = load(seenKey());
    seen[username] = fingerprint(entries);
    save(seenKey(), seen);
    state.keyChanges.delete(username);
    emit('keychange', username);
  });
}

export async function safetyNumberWith(username) {
  const [mine, theirs] = await Promise.all([devicesOf(state.me.username), devicesOf(username)]);
  return e2ee.safetyNumber(state.me.username, mine.entries, username, theirs.entries);
}

// Verified: the user marked this safety number, and it has not changed since.
export async function isVerified(username) {
  const marked = load(verifiedKey())[username];
  return !!marked && marked === await safetyNumberWith(username);
}

export async function setVerified(username, on) {
  const marks = load(verifiedKey());
  if (on) marks[username] = await safetyNumberWith(username);
  else delete marks[username];
  save(verifiedKey(), marks);
  if (on) await dismissKeyChange(username);
  emit('keychange', username);
}

// ---- sealing and opening -----------------------------------------------------------------------

// Every verified device of each member: {"user:device": identity key}.
async function recipients(room, members) {
  const out = new Map();
  const lists = await Promise.all(members.map((u) => devicesOf(u).then((d) => [u, d])));
  for (const [u, { verified }] of lists) {
    if (!verified.size && room.kind === 'dm' && u !== state.me.username) {
      throw new ApiError(0, 'no_devices', `${u} has not set up encryption on any device yet, so they could not read it.`);
    }
    for (const [id, keys] of verified) out.set(e2ee.keyId(u, id), keys.identity);
  }
  if (!out.has(e2ee.keyId(state.me.username, device.device_id))) {
    out.set(e2ee.keyId(state.me.username, device.device_id), device.identityPublic);
  }
  return out;
}

export async function seal(room, members, cmid, plain) {
  if (!device) throw new ApiError(0, 'no_e2ee', 'This browser cannot encrypt (it needs a secure connection, HTTPS).');
  return e2ee.encrypt(device, room.id, cmid, plain, await recipients(room, members));
}

export const encryptFile = (bytes, name, type) => e2ee.encryptFile(bytes, name, type);

// Decrypts an encrypted message in place: m.body (and m.file from the
// plaintext's file entry) on success, m.undecryptable otherwise; never
// ciphertext as text.
async function openOne(m) {
  if (!m.e2ee || m.opened) return;
  m.opened = true;
  await ready;
  try {
    if (!device) throw new e2ee.Undecryptable('no device');
    const sender = String(m.e2ee.sender_device || '');
    let keys = (await devicesOf(m.from)).verified.get(sender);
    if (!keys) { // a device newer than the cached list
      directory.delete(m.from);
      keys = (await devicesOf(m.from)).verified.get(sender);
    }
    if (!keys) throw new e2ee.Undecryptable('unknown sender device');
    const plain = await e2ee.decrypt(device, m, keys.signing);
    const replay = `${m.room}|${sender}|${m.client_msg_id || ''}`;
    if (shown.has(replay) && shown.get(replay) !== m.seq) throw new e2ee.Undecryptable('replayed');
    shown.set(replay, m.seq);
    if (m.file) {
      const f = plain.file;
      if (!f || typeof f !== 'object') throw new e2ee.Undecryptable('a file without its key');
      m.file = { id: m.file.id, name: String(f.name || 'file'), size: Number(f.size) || 0,
        content_type: String(f.type || 'application/octet-stream'), e2ee: f };
    }
    m.body = plain.body;
  } catch (err) {
    m.undecryptable = true;
    delete m.body;
    if (!(err instanceof e2ee.Undecryptable) && !(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console
  }
}

export function openMessages(msgs) {
  return Promise.all((msgs || []).map(openOne));
}

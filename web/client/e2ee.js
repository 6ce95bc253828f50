// The end-to-end encryption format of docs/E2EE.md in WebCrypto (X25519,
// Ed25519, HKDF-SHA-256, AES-256-GCM): this device's keys (private keys
// made non-extractable and kept in IndexedDB), the published device entry
// and its check, one message (content key, a wrap per recipient device,
// the sender's signature), files, and safety numbers. No DOM and no server
// calls: keys.js does those. tests/integration/harness/e2ee.py is the same
// format in Python; the browser test checks that each reads the other.

export const ALG = 'confab-x25519-aes256gcm-ed25519-v1';

// What the client shows as "this message can't be decrypted on this device".
export class Undecryptable extends Error {}

const subtle = () => globalThis.crypto.subtle;
const utf8 = new TextEncoder();

export function b64(bytes) {
  let s = '';
  const b = new Uint8Array(bytes);
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function unb64(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
    throw new Undecryptable('not base64');
  }
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const bytes = parts.map((p) => (typeof p === 'string' ? utf8.encode(p) : new Uint8Array(p)));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) { out.set(b, at); at += b.length; }
  return out;
}

// parts, each followed by a zero byte (the separators of docs/E2EE.md)
const z = (...parts) => concat(...parts.flatMap((p) => [p, new Uint8Array(1)]));
const random = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));
const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
const byBytes = (a, b) => {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};

const rawPublic = async (key) => new Uint8Array(await subtle().exportKey('raw', key));

// Whether this browser has what the scheme needs (a secure context with
// X25519 and Ed25519 in WebCrypto).
export async function supported() {
  if (!globalThis.isSecureContext || !globalThis.crypto || !globalThis.crypto.subtle) return false;
  try {
    await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
    await subtle().generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    return true;
  } catch { return false; }
}

// ---- this device ---------------------------------------------------------------------------

const DB = 'confab-e2ee';
const STORE = 'devices';

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'username' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function inStore(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally { db.close(); }
}

// This browser's device of `username`, made (and kept) on first use:
// {username, device_id, identity: X25519 CryptoKeyPair, signing: Ed25519
// CryptoKeyPair, identityPublic, signingPublic (raw bytes)}. The private
// keys cannot be exported, not even by this page.
export async function thisDevice(username) {
  const kept = await inStore('readonly', (s) => s.get(username));
  if (kept) return kept;
  const identity = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
  const signing = await subtle().generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const device = {
    username, device_id: hex(random(16)), identity, signing,
    identityPublic: await rawPublic(identity.publicKey), signingPublic: await rawPublic(signing.publicKey),
  };
  await inStore('readwrite', (s) => s.put(device));
  return device;
}

export const keyId = (username, deviceId) => `${username}:${deviceId}`;

// The body of PUT /api/v1/keys/devices/{device_id}.
export async function published(device) {
  const sig = await subtle().sign({ name: 'Ed25519' }, device.signing.privateKey,
    concat(z('confab-device-v1', device.username, device.device_id), device.identityPublic));
  return { identity_key: b64(device.identityPublic), signing_key: b64(device.signingPublic), signature: b64(sig) };
}

// A key directory entry whose self-signature verifies: {device_id,
// identity, signing} (raw bytes); null for one a client must ignore.
export async function verifyDevice(username, entry) {
  try {
    const ik = unb64(entry.identity_key);
    const sk = unb64(entry.signing_key);
    if (ik.length !== 32 || sk.length !== 32) return null;
    const key = await subtle().importKey('raw', sk, { name: 'Ed25519' }, false, ['verify']);
    const ok = await subtle().verify({ name: 'Ed25519' }, key, unb64(entry.signature),
      concat(z('confab-device-v1', username, entry.device_id), ik));
    return ok ? { device_id: entry.device_id, identity: ik, signing: sk } : null;
  } catch { return null; }
}

// ---- one message ---------------------------------------------------------------------------

const payloadAad = (room, sender, device) => concat(z('confab-e2ee-v1', room, sender), device);

function signedBytes(room, cmid, senderDevice, ephemeral, nonce, payload, wraps) {
  const parts = [z('confab-e2ee-v1', room, cmid, ALG, senderDevice), ephemeral, nonce, payload];
  for (const k of Object.keys(wraps).sort(byBytes)) parts.push(k, new Uint8Array(1), wraps[k]);
  return concat(...parts);
}

async function kek(shared, ephemeralPublic, recipientIk, room, id) {
  const ikm = await subtle().importKey('raw', shared, 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: concat(ephemeralPublic, recipientIk),
    info: concat(z('confab-wrap-v1', room), id) }, ikm, 256);
  return subtle().importKey('raw', bits, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

const aesKey = (raw, uses) => subtle().importKey('raw', raw, 'AES-GCM', false, uses);
const gcm = (iv, additionalData) => (additionalData ? { name: 'AES-GCM', iv, additionalData } : { name: 'AES-GCM', iv });

// The e2ee object of a send. plain: {body, file?}; recipients: Map of
// "user:device" to that device's identity key (raw), every device of every
// member with this one included.
export async function encrypt(device, room, cmid, plain, recipients) {
  let text = utf8.encode(JSON.stringify({ v: 1, ...plain }));
  text = concat(text, ' '.repeat((16 - (text.length % 16)) % 16));
  const ck = random(32);
  const nonce = random(12);
  const payload = new Uint8Array(await subtle().encrypt(gcm(nonce, payloadAad(room, device.username, device.device_id)),
    await aesKey(ck, ['encrypt']), text));
  const eph = await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']);
  const ephPublic = await rawPublic(eph.publicKey);
  const wraps = {};
  for (const [id, ik] of recipients) {
    const peer = await subtle().importKey('raw', ik, { name: 'X25519' }, false, []);
    const shared = await subtle().deriveBits({ name: 'X25519', public: peer }, eph.privateKey, 256);
    const n = random(12);
    wraps[id] = concat(n, await subtle().encrypt(gcm(n), await kek(shared, ephPublic, ik, room, id), ck));
  }
  const sig = await subtle().sign({ name: 'Ed25519' }, device.signing.privateKey,
    signedBytes(room, cmid, device.device_id, ephPublic, nonce, payload, wraps));
  const ciphertexts = {};
  for (const [id, w] of Object.entries(wraps)) ciphertexts[id] = b64(w);
  return { alg: ALG, sender_device: device.device_id, ciphertexts, ephemeral: b64(ephPublic), nonce: b64(nonce),
    payload: b64(payload), signature: b64(sig) };
}

// The plaintext ({v, body, file?}) of a message (as history or an event
// has it) for this device; Undecryptable when this device has no entry or
// a tag or the signature does not verify. senderSigning: the raw Ed25519
// key the sender's device published.
export async function decrypt(device, message, senderSigning) {
  const e = message.e2ee;
  if (!e || e.alg !== ALG || !e.ciphertexts || typeof e.ciphertexts !== 'object') throw new Undecryptable('not this scheme');
  const wraps = {};
  for (const [k, v] of Object.entries(e.ciphertexts)) wraps[k] = unb64(v);
  const ephPublic = unb64(e.ephemeral);
  const nonce = unb64(e.nonce);
  const payload = unb64(e.payload);
  try {
    const key = await subtle().importKey('raw', senderSigning, { name: 'Ed25519' }, false, ['verify']);
    const signed = signedBytes(message.room, message.client_msg_id || '', String(e.sender_device || ''), ephPublic, nonce,
      payload, wraps);
    if (!await subtle().verify({ name: 'Ed25519' }, key, unb64(e.signature), signed)) throw new Undecryptable('bad signature');
    const id = keyId(device.username, device.device_id);
    const wrap = wraps[id];
    if (!wrap || wrap.length !== 60) throw new Undecryptable('no entry for this device');
    const peer = await subtle().importKey('raw', ephPublic, { name: 'X25519' }, false, []);
    const shared = await subtle().deriveBits({ name: 'X25519', public: peer }, device.identity.privateKey, 256);
    const ck = await subtle().decrypt(gcm(wrap.subarray(0, 12)),
      await kek(shared, ephPublic, device.identityPublic, message.room, id), wrap.subarray(12));
    const text = await subtle().decrypt(gcm(nonce, payloadAad(message.room, message.from, e.sender_device)),
      await aesKey(ck, ['decrypt']), payload);
    const plain = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
    if (!plain || typeof plain !== 'object' || typeof plain.body !== 'string') throw new Undecryptable('no body');
    return plain;
  } catch (err) {
    throw err instanceof Undecryptable ? err : new Undecryptable(String(err));
  }
}

// ---- files ---------------------------------------------------------------------------------

const sha256Hex = async (bytes) => hex(await subtle().digest('SHA-256', bytes));

// {data: the ciphertext to upload with X-Encrypted: 1, entry: the message's
// file entry {name, type, size, key, iv, sha256}}.
export async function encryptFile(bytes, name, type) {
  const key = random(32);
  const iv = random(12);
  const data = new Uint8Array(await subtle().encrypt(gcm(iv), await aesKey(key, ['encrypt']), bytes));
  return { data, entry: { name, type, size: bytes.byteLength, key: b64(key), iv: b64(iv), sha256: await sha256Hex(bytes) } };
}

export async function decryptFile(data, entry) {
  let bytes;
  try {
    bytes = await subtle().decrypt(gcm(unb64(entry.iv)), await aesKey(unb64(entry.key), ['decrypt']), data);
  } catch (err) { throw new Undecryptable(`bad file: ${err}`); }
  if (await sha256Hex(bytes) !== entry.sha256) throw new Undecryptable('file hash differs');
  return bytes;
}

// ---- safety numbers ------------------------------------------------------------------------

// 60 digits in 12 groups, the same from both sides. devices: the key
// directory's lists ({device_id, identity_key, signing_key?}).
export async function safetyNumber(userA, devicesA, userB, devicesB) {
  const part = (user, devices) => concat(z(user), ...[...devices].sort((a, b) => byBytes(a.device_id, b.device_id))
    .flatMap((d) => [d.device_id, unb64(d.identity_key), unb64(d.signing_key || '')]));
  const [a, b] = [[userA, devicesA], [userB, devicesB]].sort((x, y) => byBytes(x[0], y[0]));
  const digest = new Uint8Array(await subtle().digest('SHA-512', concat(z('confab-safety-v1'), part(...a), part(...b))));
  const groups = [];
  for (let i = 0; i < 60; i += 5) {
    let n = 0;
    for (let k = 0; k < 5; k++) n = n * 256 + digest[i + k];
    groups.push(String(n % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}

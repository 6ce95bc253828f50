// HTTP side of the client contract (PROTOCOL.md section 2): the token in local
// storage, JSON calls, uploads with progress (XMLHttpRequest) and file bytes
// fetched with the bearer token and shown through blob: URLs.

import { decryptFile } from './e2ee.js';

const TOKEN_KEY = 'confab.token';
const API = '/api/v1';

export const auth = {
  get: () => localStorage.getItem(TOKEN_KEY),
  set: (t) => localStorage.setItem(TOKEN_KEY, t),
  clear: () => localStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, extra) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    Object.assign(this, extra || {});
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(method, path, body, { token, timeoutMs = 15000 } = {}) {
  const t = token === undefined ? auth.get() : token;
  const headers = { Accept: 'application/json' };
  if (t) headers.Authorization = 'Bearer ' + t;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API + path, {
      method, headers, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server did not answer.');
  }
  const text = await res.text();
  let json = null;
  if (text) { try { json = JSON.parse(text); } catch { json = null; } }
  if (!res.ok) {
    const err = (json && json.error) || {};
    if (res.status === 401 && t && token === undefined) onUnauthorized();
    throw new ApiError(res.status, err.code || `http_${res.status}`, err.message || res.statusText, err);
  }
  return json;
}

export const enc = encodeURIComponent;

// Friendly text for an error shown to the user.
export function errorText(e) {
  if (!e) return 'Something went wrong.';
  const known = {
    network: 'Cannot reach the server.',
    invalid_credentials: 'Wrong username or password.',
    username_taken: 'That username is taken.',
    rate_limited: 'Too many attempts; wait a moment and try again.',
    too_large: 'That is too large.',
    quota_exceeded: 'Your file quota is used up.',
    forbidden: 'You are not allowed to do that.',
    not_found: 'Not found.',
    unavailable: 'The server is busy; try again.',
  };
  return known[e.code] || e.message || String(e);
}

// Uploads a File to a room with progress: POST /rooms/{room}/files, raw bytes.
// Returns {promise, abort}; onProgress(fraction 0..1).
// encrypted: the bytes are an encrypted file's (X-Encrypted: 1, a neutral
// name and type: the real ones travel inside the encrypted message).
export function uploadFile(roomId, file, onProgress, { encrypted = false } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', `${API}/rooms/${enc(roomId)}/files`);
    xhr.setRequestHeader('Authorization', 'Bearer ' + auth.get());
    xhr.setRequestHeader('Content-Type', (!encrypted && file.type) || 'application/octet-stream');
    if (encrypted) xhr.setRequestHeader('X-Encrypted', '1');
    // X-Filename is a header: keep it ASCII-safe (the server sanitises further)
    const safe = Array.from(encrypted ? 'encrypted.bin' : file.name || 'file').map((c) => (c.charCodeAt(0) < 32 || c.charCodeAt(0) > 126 ? '_' : c))
      .join('').slice(0, 200) || 'file';
    xhr.setRequestHeader('X-Filename', safe);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch { json = null; }
      if (xhr.status === 201 && json && json.file) resolve(json.file);
      else {
        const err = (json && json.error) || {};
        reject(new ApiError(xhr.status, err.code || `http_${xhr.status}`, err.message || 'Upload failed'));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Upload failed: the server did not answer.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

// blob: URLs of file bytes and thumbnails, fetched once with the token.
const blobs = new Map(); // key -> Promise<string url>

// The blob: URL of `path`'s bytes, fetched once per key; toBlob(response)
// makes the Blob.
function cachedUrl(key, path, toBlob) {
  if (!blobs.has(key)) {
    const p = fetch(path, { headers: { Authorization: 'Bearer ' + auth.get() }, credentials: 'omit' })
      .then(async (res) => {
        if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `HTTP ${res.status}`);
        return URL.createObjectURL(await toBlob(res));
      });
    p.catch(() => blobs.delete(key));
    blobs.set(key, p);
  }
  return blobs.get(key);
}

export function fileBlobUrl(fileId, kind) {
  return cachedUrl(`${fileId}/${kind || 'file'}`, `${API}/files/${enc(fileId)}${kind === 'thumbnail' ? '/thumbnail' : ''}`,
    (res) => res.blob());
}

// The thumbnail is made after the upload, on its own thread: the file's info
// says thumbnail: true once it exists. Polls the info with backoff, then fetches it.
// Resolves {url, width, height}; rejects when the file has no thumbnail.
const infos = new Map();
export async function thumbnail(fileId, onInfo, tries = 10) {
  let delay = 250;
  for (let i = 0; ; i++) {
    let info = infos.get(fileId);
    if (!info) {
      info = (await api('GET', `/files/${enc(fileId)}/info`)).file || {};
      if (info.thumbnail) infos.set(fileId, info);
    }
    if (info.width && info.height && onInfo) onInfo(info);
    if (info.thumbnail) return { url: await fileBlobUrl(fileId, 'thumbnail'), width: info.width, height: info.height };
    if (i >= tries) throw new ApiError(404, 'not_found', 'No thumbnail');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 3000);
  }
}

// A file's bytes as a blob: URL; an end-to-end encrypted file (file.e2ee,
// from its message) is decrypted here and checked against its hash first.
export function fileUrl(file) {
  if (!file.e2ee) return fileBlobUrl(file.id);
  return cachedUrl(`${file.id}/e2ee`, `${API}/files/${enc(file.id)}`,
    async (res) => new Blob([await decryptFile(await res.arrayBuffer(), file.e2ee)], { type: file.content_type }));
}

export function revokeBlobs() {
  for (const p of blobs.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
  blobs.clear();
}

export async function downloadFile(file) {
  const url = await fileUrl(file);
  const a = document.createElement('a');
  a.href = url;
  a.download = file.name || 'download';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

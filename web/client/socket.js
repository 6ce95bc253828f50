// The WebSocket side of the contract (PROTOCOL.md section 3): one socket to
// the node that served the page, auth first, requests matched to replies by
// id, events handed to listeners, and automatic reconnect with exponential
// backoff and full jitter. Close 4401 means the token is no good: no retry.

const REQUEST_MS = 12000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_MS = 25000;

export class SocketError extends Error {
  constructor(code, message, extra) {
    super(message || code);
    this.code = code;
    Object.assign(this, extra || {});
  }
}

export class Connection {
  constructor({ token, onEvent, onState, onAuthed, onRejected }) {
    this.token = token;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onAuthed = onAuthed;
    this.onRejected = onRejected;
    this.nextId = 1;
    this.pending = new Map();
    this.attempt = 0;
    this.state = 'idle';
    this.stopped = false;
    this.retryAt = 0;
    this.timer = null;
    this.pingTimer = null;
    this.ws = null;
  }

  get url() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  }

  setState(state, detail) {
    this.state = state;
    this.onState(state, detail || {});
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    if (this.ws) {
      this.ws.onclose = null;
      try { this.ws.close(1000, 'bye'); } catch { /* already closed */ }
      this.ws = null;
    }
    this.failAll('closed');
    this.setState('idle');
  }

  // Skips the remaining backoff wait (button, network back, tab visible again).
  retryNow() {
    if (this.stopped || this.state !== 'disconnected') return;
    clearTimeout(this.timer);
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.setState('connecting', { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.request('auth', { token: this.token }, ws).then((data) => {
        if (ws !== this.ws) return;
        this.attempt = 0;
        this.setState('connected', { node: data.node });
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.request('ping', {}).catch(() => {}), PING_MS);
        this.onAuthed(data);
      }, () => { /* a bad token closes the socket with 4401; handled in onclose */ });
    };
    ws.onmessage = (e) => this.handleFrame(e.data);
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      this.failAll('disconnected');
      if (e.code === 4401) {
        this.stopped = true;
        this.setState('idle');
        this.onRejected();
        return;
      }
      // 4000: the node drains or shuts down; 4003: kicked. Both: connect again.
      this.scheduleReconnect(e.code);
    };
  }

  scheduleReconnect(code) {
    if (this.stopped) return;
    // exponential backoff with full jitter; a draining node (4000) gets a quick first retry
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = code === 4000 && this.attempt === 0 ? 200 + Math.random() * 300 : cap / 2 + Math.random() * cap / 2;
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState('disconnected', { retryAt: this.retryAt, code, attempt: this.attempt });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  handleFrame(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (!m || typeof m !== 'object') return;
    if (m.id !== undefined && m.id !== null && this.pending.has(m.id)) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.op === 'ok') p.resolve(m.data || {});
      else p.reject(new SocketError(m.code || 'error', m.message, m));
      return;
    }
    if (m.op && m.id === undefined) this.onEvent(m.op, m.data || {});
  }

  get open() {
    return this.state === 'connected' && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // Sends a request; resolves with the ok data, rejects with a SocketError.
  request(op, fields, viaWs) {
    const ws = viaWs || this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || (!viaWs && this.state !== 'connected')) {
      return Promise.reject(new SocketError('disconnected', 'Not connected'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SocketError('timeout', 'No answer from the server'));
      }, REQUEST_MS);
      this.pending.set(id, { resolve, reject, timer });
      try {
        ws.send(JSON.stringify({ op, id, ...fields }));
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new SocketError('disconnected', 'Not connected'));
      }
    });
  }

  failAll(code) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new SocketError(code, 'Connection lost'));
    }
    this.pending.clear();
  }
}

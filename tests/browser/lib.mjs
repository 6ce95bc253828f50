// Scaffolding shared by the browser tests (admin.test.mjs, client.test.mjs):
// paths and deadlines, a confabd child process, an HTTP helper, deadlines on
// promises, the chromium launch, numbered steps and screenshots, and the
// failure report and teardown at the end of a test.
// Env: CONFABD (default build/bin/confabd), ARTIFACTS_DIR, CHROMIUM (default /usr/bin/chromium)

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '..', '..');
export const CONFABD = process.env.CONFABD || join(REPO, 'build', 'bin', 'confabd');
export const ARTIFACTS = process.env.ARTIFACTS_DIR ||
  (process.env.CONFABD ? join(dirname(dirname(CONFABD)), 'browser-artifacts') : join(REPO, 'build', 'browser-artifacts'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const READY_RE = /^confabd ready node=(\S+) http=(\d+) cluster=(\d+)\s*$/m;
export const START_DEADLINE_MS = 20000;
export const UI_MS = 15000;     // one UI expectation (element visible, text shown)
export const EVENT_MS = 10000;  // something the server does or pushes by itself (socket closed, message, presence)
export const IO_MS = 10000;     // one HTTP or WebSocket request
export const DESKTOP = { width: 1280, height: 800 };

export const hex = (n) => randomBytes(n).toString('hex');

// ---- confabd --------------------------------------------------------------------------------

export class Confabd {
  // dataDirPrefix names the fresh data dir in the temp dir; adminToken goes to --admin-token.
  constructor({ dataDirPrefix, adminToken }) {
    this.dataDir = mkdtempSync(join(tmpdir(), dataDirPrefix));
    this.adminToken = adminToken;
    this.stdout = '';
    this.stderr = '';
    this.exit = null;
  }

  // Port 0 the first time; a restart passes the port the first start printed.
  // extraArgs go after the common ones. Resolves with this once the ready line
  // is printed (node, port, base set); rejects on exit or after START_DEADLINE_MS.
  start(port = 0, extraArgs = []) {
    if (!existsSync(CONFABD)) throw new Error(`confabd not found at ${CONFABD} (set CONFABD)`);
    const args = ['--http-port', String(port), '--bind', '127.0.0.1', '--data-dir', this.dataDir,
      '--admin-token', this.adminToken, ...extraArgs];
    this.stdout = '';
    this.node = null;
    this.exit = null;
    const proc = spawn(CONFABD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((res) => proc.on('exit', (code, signal) => {
      this.exit = { code, signal };
      res(this.exit);
    }));
    proc.stderr.on('data', (d) => { this.stderr += d; });
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`confabd printed no ready line within ${START_DEADLINE_MS} ms\n` +
        `stdout: ${this.stdout}\nstderr: ${this.stderr.slice(-4000)}`)), START_DEADLINE_MS);
      proc.stdout.on('data', (d) => {
        this.stdout += d;
        const m = READY_RE.exec(this.stdout);
        if (m && !this.node) {
          clearTimeout(timer);
          this.node = m[1];
          this.port = Number(m[2]);
          this.base = `http://127.0.0.1:${this.port}`;
          res(this);
        }
      });
      this.exited.then((e) => {
        clearTimeout(timer);
        rej(new Error(`confabd exited (${JSON.stringify(e)}) before its ready line\nstderr: ${this.stderr.slice(-4000)}`));
      });
    });
  }

  // SIGTERM, then SIGKILL if it has not exited after 10 s.
  async stop() {
    if (!this.proc || this.exit) return this.exit;
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const e = await this.exited;
    clearTimeout(killer);
    return e;
  }

  // SIGKILL and wait (IO_MS at most) for the exit.
  async kill9() {
    this.proc.kill('SIGKILL');
    return withDeadline(this.exited, IO_MS, 'confabd exit after SIGKILL');
  }

  killNow() {
    if (this.proc && !this.exit) this.proc.kill('SIGKILL');
  }

  cleanup() {
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  // SIGKILL this confabd when the test process is interrupted or exits.
  killOnExit() {
    const onSignal = () => { this.killNow(); process.exit(130); };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', () => this.killNow());
  }
}

// ---- HTTP and deadlines ---------------------------------------------------------------------

export async function http(base, method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = 'Bearer ' + token;
  const res = await fetch(base + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(IO_MS),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, headers: res.headers, text, json };
}

export function withDeadline(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

// A PNG made here (an RGB gradient with a disc) so the test needs no image files.
export function makePng(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const i = y * (w * 3 + 1) + 1 + x * 3;
      const inDisc = (x - w * 0.62) ** 2 + (y - h * 0.45) ** 2 < (h * 0.24) ** 2;
      raw[i] = inDisc ? 255 : Math.round(90 + 120 * x / w);
      raw[i + 1] = inDisc ? 214 : Math.round(80 + 60 * y / h);
      raw[i + 2] = inDisc ? 102 : Math.round(220 - 80 * y / h);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// ---- the web client ------------------------------------------------------------------------

// A delivered message (not a pending send) of the open room whose body has `text`.
export const msg = (page, text) => page.locator('[data-testid="message"]:not([data-pending])')
  .filter({ has: page.getByTestId('message-body').filter({ hasText: text }) });

// Types `text` in the composer, sends it with Enter and waits until it is delivered.
export async function send(page, text) {
  await page.getByTestId('composer-input').fill(text);
  await page.getByTestId('composer-input').press('Enter');
  await msg(page, text).first().waitFor();
}

// ---- chromium -------------------------------------------------------------------------------

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
}

// ---- steps and screenshots ------------------------------------------------------------------

export const screenshots = [];
let stepNo = 0;

// Saves ARTIFACTS/<prefix><NN>-<name>.png, NN counting the screenshots taken so far;
// opts go to page.screenshot.
export async function screenshot(page, name, { prefix = '', ...opts } = {}) {
  const path = join(ARTIFACTS, `${prefix}${String(screenshots.length + 1).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, ...opts });
  screenshots.push(path);
  return path;
}

export async function step(name, fn) {
  stepNo += 1;
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok ${stepNo} - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    console.log(`not ok ${stepNo} - ${name}`);
    throw e;
  }
}

// ---- end of a test --------------------------------------------------------------------------

// After a failed step (failure screenshots already taken): keeps confabd's stderr
// as ARTIFACTS/<stderrLog>, prints the error and the page errors, marks the run failed.
export function reportFailure(e, { server, stderrLog, pageErrors }) {
  writeFileSync(join(ARTIFACTS, stderrLog), server.stderr);
  console.error(e && e.stack ? e.stack : e);
  if (pageErrors.length) console.error('page errors:\n  ' + pageErrors.join('\n  '));
  process.exitCode = 1;
}

// Closes the browser, stops confabd (SIGTERM, then SIGKILL), removes its data dir
// and lists the screenshots.
export async function teardown({ browser, server }) {
  if (browser) await browser.close().catch(() => {});
  const e = await server.stop();
  if (e) console.log(`# confabd exited ${JSON.stringify(e)}`);
  server.cleanup();
  console.log('# screenshots:');
  for (const p of screenshots) console.log('#   ' + p);
}

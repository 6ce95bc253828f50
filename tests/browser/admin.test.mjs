// Browser test of the admin console (web/admin) against a real confabd:
// Debian's chromium driven by playwright-core. Starts its own confabd on port 0
// with a fresh data dir and a random admin token, makes a user with a live
// WebSocket session in a room, then walks the console: wrong token, sign in,
// overview, actors, room detail, user detail, kick (close 4003), phone width,
// a token refused mid-session, sign out. Screenshots go to ARTIFACTS_DIR.
//
// Run: node --experimental-websocket admin.test.mjs   (tests/browser/run.sh does it)
// Env: CONFABD (default build/bin/confabd), ARTIFACTS_DIR, CHROMIUM (default /usr/bin/chromium)

import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import {
  ARTIFACTS, Confabd, DESKTOP, EVENT_MS, IO_MS, UI_MS, hex, http, launchChromium, reportFailure, screenshot, step,
  teardown, withDeadline,
} from './lib.mjs';

const PHONE = { width: 375, height: 812 };
const ADMIN_TOKEN = 'admin-' + hex(16);

// ---- HTTP and WebSocket clients -------------------------------------------------------------

async function httpOk(base, method, path, opts, want) {
  const r = await http(base, method, path, opts);
  assert.equal(r.status, want, `${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

// A WebSocket session of PROTOCOL.md section 3 over Node's built-in WebSocket.
class WsClient {
  constructor(url) {
    this.replies = new Map();
    this.waiters = new Map();
    this.nextId = 1;
    this.ws = new WebSocket(url);
    this.closed = new Promise((res) => this.ws.addEventListener('close', (e) => res({ code: e.code, reason: e.reason })));
    this.ws.addEventListener('message', (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (m.id !== undefined && this.waiters.has(m.id)) {
        this.waiters.get(m.id)(m);
        this.waiters.delete(m.id);
      }
    });
  }

  open() {
    return withDeadline(new Promise((res, rej) => {
      this.ws.addEventListener('open', res, { once: true });
      this.ws.addEventListener('error', () => rej(new Error('WebSocket error before open')), { once: true });
    }), IO_MS, 'WebSocket open');
  }

  async request(op, fields) {
    const id = this.nextId++;
    const reply = new Promise((res) => this.waiters.set(id, res));
    this.ws.send(JSON.stringify({ op, id, ...fields }));
    const m = await withDeadline(reply, IO_MS, `reply to ${op}`);
    assert.equal(m.op, 'ok', `${op}: ${JSON.stringify(m)}`);
    return m.data;
  }

  close() {
    if (this.ws.readyState <= 1) this.ws.close();
  }
}

// ---- screenshots ----------------------------------------------------------------------------

// full page, named ARTIFACTS/NN-<name>.png
function shot(page, name, opts = {}) {
  return screenshot(page, name, { fullPage: true, ...opts });
}

// ---- the test -------------------------------------------------------------------------------

async function main() {
  if (typeof WebSocket !== 'function') {
    throw new Error('no global WebSocket: run with node --experimental-websocket (Node >= 20.10)');
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = new Confabd({ dataDirPrefix: 'confab-browser-', adminToken: ADMIN_TOKEN });
  server.killOnExit();

  let browser = null;
  let page = null;
  let ws = null;
  const pageErrors = [];
  try {
    await step('confabd starts and prints its ready line', async () => {
      await server.start();
      console.log(`# confabd node=${server.node} at ${server.base}, data dir ${server.dataDir}`);
    });

    await step('GET /admin serves the console page and its assets without a token', async () => {
      const r = await http(server.base, 'GET', '/admin');
      assert.equal(r.status, 200, `GET /admin: ${r.status} ${r.text.slice(0, 300)}`);
      assert.match(r.headers.get('content-type') || '', /^text\/html/);
      const modules = ['app', 'core', 'dom', 'overview', 'actors', 'details'].map((m) => [`/admin/${m}.js`, /javascript/]);
      for (const [p, type] of [...modules, ['/admin/style.css', /^text\/css/]]) {
        const a = await http(server.base, 'GET', p);
        assert.equal(a.status, 200, `GET ${p}: ${a.status}`);
        assert.match(a.headers.get('content-type') || '', type, p);
      }
    });

    // two users, a public room with both, and a live WebSocket session of the first
    const sfx = hex(4);
    const alice = { username: `alice_${sfx}`, password: 'pw-' + hex(8) };
    const bob = { username: `bob_${sfx}`, password: 'pw-' + hex(8) };
    // markup in server strings must show as text, never become elements
    const roomName = `<b>ops-${sfx}</b> & "co"`;
    alice.display_name = '<img src=x data-xss=1> Alice';
    let roomId;
    let sent = 1; // messages in the room
    let sessionId;
    await step('users, a room and a live WebSocket session exist', async () => {
      for (const u of [alice, bob]) {
        await httpOk(server.base, 'POST', '/api/v1/register',
          { body: { username: u.username, password: u.password, display_name: u.display_name } }, 201);
        u.token = (await httpOk(server.base, 'POST', '/api/v1/login',
          { body: { username: u.username, password: u.password } }, 200)).token;
        assert.ok(u.token, 'login gave no token');
      }
      const created = await httpOk(server.base, 'POST', '/api/v1/rooms',
        { body: { name: roomName, visibility: 'public' }, token: alice.token }, 201);
      roomId = created.room.id;
      assert.ok(roomId, JSON.stringify(created));
      await httpOk(server.base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token }, 200);
      ws = new WsClient(`ws://127.0.0.1:${server.port}/ws`);
      await ws.open();
      const authed = await ws.request('auth', { token: alice.token });
      sessionId = authed.session;
      assert.match(String(sessionId), /^s_/, JSON.stringify(authed));
      const ack = await ws.request('send', { room: roomId, body: 'hi', client_msg_id: 'c1' });
      assert.equal(ack.seq, 1, JSON.stringify(ack));
      console.log(`# room ${roomId}, session ${sessionId} of ${alice.username}`);
    });

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: DESKTOP });
    page = await context.newPage();
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (e) => pageErrors.push('pageerror: ' + e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()} [${m.location().url || ''}]`);
    });
    const dialogs = [];
    page.on('dialog', async (d) => {
      dialogs.push({ type: d.type(), message: d.message() });
      await d.accept();
    });
    const adminUrl = `${server.base}/admin`;

    await step('a wrong token shows an error and keeps the token form', async () => {
      await page.goto(adminUrl);
      await page.getByTestId('login-form').waitFor();
      await page.getByTestId('token-input').fill('wrong-' + hex(8));
      await page.getByTestId('login-submit').click();
      const err = page.getByTestId('login-error');
      await err.waitFor();
      assert.match(await err.textContent(), /401|refused/i);
      assert.equal(await page.getByTestId('nav').isVisible(), false, 'nav shown after a wrong token');
      assert.equal(await page.evaluate(() => sessionStorage.length + localStorage.length), 0,
        'a refused token was stored');
      await shot(page, 'login-wrong-token');
    });

    await step('signing in shows the node in the overview', async () => {
      await page.getByTestId('token-input').fill(ADMIN_TOKEN);
      await page.getByTestId('login-submit').click();
      await page.getByTestId('nav').waitFor();
      const row = page.locator(`[data-testid="node-row"][data-node="${server.node}"]`);
      await row.waitFor();
      assert.equal((await row.getByTestId('status-badge').textContent()).trim(), 'up');
      assert.ok(!page.url().includes(ADMIN_TOKEN), 'token in the URL');
      const stored = await page.evaluate(() => ({ s: Object.values(sessionStorage), l: localStorage.length }));
      assert.deepEqual(stored, { s: [ADMIN_TOKEN], l: 0 });
      // bursts of messages between polls so the chart has something to draw: burst k, then a new sample
      const points = () => page.evaluate(() => Number(document.getElementById('rate-chart')?.dataset.points) || 0);
      for (const burst of [2, 6, 4]) {
        const before = await points();
        for (let i = 0; i < burst; i++) {
          await ws.request('send', { room: roomId, body: `load ${sent}`, client_msg_id: `l${sent}` });
          sent += 1;
        }
        await page.waitForFunction((n) => Number(document.getElementById('rate-chart')?.dataset.points) > n, before,
          { timeout: UI_MS });
      }
      await page.waitForFunction(() => Number(document.getElementById('rate-chart')?.dataset.points) >= 3, null,
        { timeout: UI_MS });
      assert.equal(await page.locator('#rate-chart svg polyline').count(), 1, 'no line in the chart');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="stat-rooms"] .stat-value')
        ?.textContent) >= 1, null, { timeout: UI_MS });
      await page.getByTestId('kind-count').filter({ hasText: 'room' }).first().waitFor();
      await shot(page, 'overview');
    });

    await step('the actor list shows the room actor, filtered by kind and search', async () => {
      await page.getByTestId('nav-actors').click();
      await page.getByTestId('actors-table').waitFor();
      await page.getByTestId('filter-kind').selectOption('room');
      const row = page.locator(`[data-testid="actor-row"][data-actor-id="${roomId}"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute('data-kind'), 'room');
      await page.getByTestId('filter-sort').selectOption('processed');
      await page.getByTestId('filter-q').fill(roomId);
      await page.waitForFunction((rid) => {
        const t = document.getElementById('actors-table');
        return t && new URLSearchParams(t.dataset.query || '').get('q') === rid;
      }, roomId, { timeout: UI_MS });
      const ids = await page.locator('[data-testid="actor-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.actorId));
      assert.deepEqual(ids, [roomId]);
      assert.match(await page.getByTestId('page-info').textContent(), /of 1\b/);
      // all kinds again, for the screenshot
      await page.getByTestId('filter-q').fill('');
      await page.getByTestId('filter-kind').selectOption('');
      await page.waitForFunction(() => {
        const t = document.getElementById('actors-table');
        return t && t.dataset.query !== undefined && !new URLSearchParams(t.dataset.query).has('q') &&
          !new URLSearchParams(t.dataset.query).has('kind');
      }, null, { timeout: UI_MS });
      await page.locator('[data-testid="actor-row"][data-kind="session"]').first().waitFor();
      await row.waitFor();
      await shot(page, 'actors');
    });

    await step('the room link opens the room detail', async () => {
      await page.locator(`[data-testid="actor-row"][data-actor-id="${roomId}"] [data-testid="room-link"]`).click();
      await page.getByTestId('room-detail').waitFor();
      assert.ok(decodeURIComponent(page.url()).endsWith(`#/room/${roomId}`), page.url());
      const field = async (k) => (await page.getByTestId(`room-field-${k}`).locator('dd').textContent()).trim();
      assert.equal(await field('room'), roomId);
      assert.equal(await field('name'), roomName);
      assert.equal(await field('visibility'), 'public');
      assert.equal(await field('owner'), server.node);
      assert.equal(await field('members'), '2');
      assert.equal(await field('last_seq'), String(sent));
      assert.equal(await page.locator('#view b, #view img, [data-xss]').count(), 0, 'server markup became elements');
      await shot(page, 'room');
    });

    await step('an unknown room shows a not-found error', async () => {
      await page.getByTestId('room-input').fill('r_00000000000000ff');
      await page.getByTestId('room-submit').click();
      const err = page.getByTestId('view-error');
      await err.waitFor();
      assert.match(await err.textContent(), /404|not_found|No room/);
    });

    await step('the user page lists the live session', async () => {
      await page.getByTestId('nav-user').click();
      await page.getByTestId('user-input').fill(alice.username);
      await page.getByTestId('user-submit').click();
      await page.getByTestId('user-detail').waitFor();
      assert.match(await page.getByTestId('user-detail').textContent(), new RegExp(alice.username));
      await page.locator(`[data-testid="session-row"][data-session-id="${sessionId}"]`).waitFor();
      assert.equal((await page.getByTestId('user-field-display_name').locator('dd').textContent()).trim(),
        alice.display_name);
      assert.equal(await page.locator('#view img, [data-xss]').count(), 0, 'server markup became elements');
      await shot(page, 'user');
    });

    await step('Kick (confirmed) closes the WebSocket with 4003 and the session leaves the page', async () => {
      const before = dialogs.length;
      await page.locator(`[data-testid="session-row"][data-session-id="${sessionId}"] [data-testid="kick-button"]`)
        .click();
      const closed = await withDeadline(ws.closed, EVENT_MS, 'WebSocket close after kick');
      assert.equal(closed.code, 4003, `close code ${closed.code} reason ${closed.reason}`);
      assert.equal(dialogs.length, before + 1, 'no confirm dialog before the kick');
      assert.equal(dialogs[before].type, 'confirm');
      await page.getByTestId('notice').filter({ hasText: 'kicked' }).waitFor();
      await page.locator(`[data-testid="session-row"][data-session-id="${sessionId}"]`)
        .waitFor({ state: 'detached', timeout: EVENT_MS });
      await shot(page, 'user-after-kick');
    });

    await step('phone width: overview fits 375 px with the nav wrapped', async () => {
      await page.setViewportSize(PHONE);
      for (const b of await page.locator('.notice-close').all()) await b.click();
      await page.getByTestId('nav-overview').click();
      await page.locator(`[data-testid="node-row"][data-node="${server.node}"]`).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `page is ${overflow} px wider than the phone viewport`);
      await shot(page, 'overview-phone');
      await page.getByTestId('nav-actors').click();
      await page.locator('[data-testid="actor-row"]').first().waitFor();
      const o2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(o2 <= 1, `actors page is ${o2} px wider than the phone viewport`);
      await shot(page, 'actors-phone');
      await page.setViewportSize(DESKTOP);
    });

    await step('Drain (confirmed) of the only live node is refused with 409 and shown; the node stays up', async () => {
      await page.getByTestId('nav-overview').click();
      const before = dialogs.length;
      await page.locator(`[data-testid="drain-button"][data-node="${server.node}"]`).click();
      await page.getByTestId('notice').filter({ hasText: '409' }).waitFor();
      assert.equal(dialogs.length, before + 1, 'no confirm dialog before the drain');
      assert.match(dialogs[before].message, new RegExp(`Drain node ${server.node}`));
      const nodes = await httpOk(server.base, 'GET', '/admin/api/v1/nodes', { token: ADMIN_TOKEN }, 200);
      assert.equal(nodes.nodes.find((n) => n.id === server.node)?.status, 'up');
      await shot(page, 'drain-refused');
    });

    await step('Remove (confirmed) of a live node is refused with 409 and shown; the node stays up', async () => {
      for (const b of await page.locator('.notice-close').all()) await b.click();
      const before = dialogs.length;
      await page.locator(`[data-testid="remove-button"][data-node="${server.node}"]`).click();
      await page.getByTestId('notice').filter({ hasText: 'Remove of' }).filter({ hasText: '409' }).waitFor();
      assert.equal(dialogs.length, before + 1, 'no confirm dialog before the remove');
      assert.match(dialogs[before].message, new RegExp(`Remove node ${server.node} for good`));
      const nodes = await httpOk(server.base, 'GET', '/admin/api/v1/nodes', { token: ADMIN_TOKEN }, 200);
      assert.equal(nodes.nodes.find((n) => n.id === server.node)?.status, 'up');
      await shot(page, 'remove-refused');
    });

    await step('a token refused mid-session returns to the token form with a message', async () => {
      await page.evaluate(() => sessionStorage.setItem('confab.admin.token', 'stale-token-0123456789'));
      await page.goto(`${adminUrl}#/overview`);
      const err = page.getByTestId('login-error');
      await err.waitFor();
      assert.match(await err.textContent(), /401/);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      await shot(page, 'token-refused');
    });

    await step('sign out clears the token', async () => {
      await page.getByTestId('token-input').fill(ADMIN_TOKEN);
      await page.getByTestId('login-submit').click();
      await page.getByTestId('signout').click();
      await page.getByTestId('login-form').waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.equal(await page.getByTestId('nav').isVisible(), false);
    });

    await step('no script errors or CSP violations in the page', async () => {
      // expected answers the browser logs as failed resources: the refused tokens (401) and the unknown room (404)
      const expected = (e) => /status of 401 .*\/admin\/api\/v1\//.test(e) ||
        /status of 404 .*\/admin\/api\/v1\/rooms\/r_00000000000000ff/.test(e) ||
        /status of 409 .*\/admin\/api\/v1\/nodes\/[^/]+\/(drain|remove)/.test(e);
      const real = pageErrors.filter((e) => !expected(e));
      assert.deepEqual(real, []);
    });
  } catch (e) {
    if (page) {
      try { await shot(page, 'failure'); } catch { /* the page may be gone */ }
    }
    reportFailure(e, { server, stderrLog: 'confabd.stderr.log', pageErrors });
  } finally {
    if (ws) ws.close();
    await teardown({ browser, server });
  }
  console.log(process.exitCode ? '# FAILED' : '# PASSED');
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

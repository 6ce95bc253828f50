// Browser test of end-to-end encryption in the web client (web/client/e2ee.js,
// keys.js, trust.js; docs/E2EE.md) against a real confabd, with an
// independent Python client of the same format (e2ee_peer.py over
// tests/integration/harness/e2ee.py, python3-cryptography) as the third user.
// Walks: ann and bob sign in (each browser becomes a published device), ann
// starts an encrypted DM, both compare safety numbers (the same 60 digits
// on both pages and in Python) and ann marks bob verified, messages and an
// image both ways, bob reloads and still reads them; an encrypted private
// room with ann, bob and cat (Python, two devices): text and images from the
// browser read in Python on both of cat's devices and the other way round;
// a tampered and a forged message shown as undecryptable, never as text;
// plaintext refused; an encrypted DM between ann's browser and cat's Python
// devices, text and images both ways; no plaintext in the data directory;
// bob's devices change and ann sees the warning (and loses the verified
// mark); a new browser of bob's reads only what was sent after it existed.
// Measures encryption and decryption per message for 10 devices in chromium
// and the bytes per recipient device (printed as "# measure" lines).
//
// Run: tests/browser/run.sh e2ee.test.mjs
// Env: CONFABD (default build/bin/confabd), ARTIFACTS_DIR, CHROMIUM (default /usr/bin/chromium)

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  ARTIFACTS, Confabd, DESKTOP, EVENT_MS, HERE, UI_MS, hex, http, launchChromium, makePng, msg, reportFailure,
  screenshot, send, step, teardown, withDeadline,
} from './lib.mjs';

const ADMIN_TOKEN = 'admin-' + hex(16);
const UNDECRYPTABLE = "This message can't be decrypted on this device.";

// The Python client: one JSON request a line on stdin, one answer a line on stdout.
class Peer {
  constructor(port) {
    this.proc = spawn('/usr/bin/python3', [join(HERE, 'e2ee_peer.py'), String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.buf = '';
    this.waiting = [];
    this.stderr = '';
    this.proc.stdout.on('data', (d) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(JSON.parse(line));
      }
    });
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
  }

  async call(req) {
    const answer = new Promise((res) => this.waiting.push(res));
    this.proc.stdin.write(JSON.stringify(req) + '\n');
    const r = await withDeadline(answer, 30000, `python peer ${req.op}`);
    if (r.error) throw new Error(`python peer ${req.op}: ${r.error}\n${this.stderr}`);
    return r.ok;
  }

  stop() { this.proc.stdin.end(); this.proc.kill(); }
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = new Confabd({ dataDirPrefix: 'confab-e2ee-', adminToken: ADMIN_TOKEN });
  server.killOnExit();
  let browser = null;
  let peer = null;
  const pageErrors = [];
  const shot = async (page, name) => {
    await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
    await page.mouse.move(1, 1);
    return screenshot(page, name, { prefix: 'e2ee-' });
  };
  try {
    const sfx = hex(3);
    const users = Object.fromEntries(['ann', 'bob', 'cat'].map((n) => [n, { username: `${n}_${sfx}`, password: 'pw-' + hex(8) }]));
    const { ann, bob, cat } = users;

    await step('confabd starts; users are registered and get tokens', async () => {
      await server.start(0);
      for (const u of Object.values(users)) {
        assert.equal((await http(server.base, 'POST', '/api/v1/register', { body: u })).status, 201);
        const r = await http(server.base, 'POST', '/api/v1/login', { body: u });
        assert.equal(r.status, 200);
        u.token = r.json.token;
      }
      for (const f of ['e2ee.js', 'keys.js', 'trust.js']) {
        assert.equal((await http(server.base, 'GET', `/client/${f}`)).status, 200, f);
      }
      peer = new Peer(new URL(server.base).port);
    });

    browser = await launchChromium();
    const open = async (who, u) => {
      const context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
      const page = await context.newPage();
      page.setDefaultTimeout(UI_MS);
      page.on('pageerror', (e) => pageErrors.push(`${who} pageerror: ${e.message}`));
      page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${who} console: ${m.text()}`); });
      await page.goto(server.base + '/');
      await page.getByTestId('login-username').fill(u.username);
      await page.getByTestId('login-password').fill(u.password);
      await page.getByTestId('login-submit').click();
      await page.locator('[data-testid="app"][data-e2ee="ready"]').waitFor();
      return page;
    };
    const devicesOf = async (u) => (await http(server.base, 'GET', `/api/v1/keys/${u.username}`, { token: ann.token })).json.devices;
    const secret = (what) => `${what} ${hex(12)}`;
    let A;
    let B;
    let dm;

    await step('ann and bob sign in: each browser publishes one device whose keys verify', async () => {
      A = await open('ann', ann);
      B = await open('bob', bob);
      for (const [page, u] of [[A, ann], [B, bob]]) {
        const listed = await devicesOf(u);
        assert.equal(listed.length, 1, `${u.username}: ${JSON.stringify(listed)}`);
        const mine = await page.evaluate(async () => (await import('/client/store.js')).state.deviceId);
        assert.equal(listed[0].device_id, mine);
        assert.ok(listed[0].signing_key && listed[0].signature);
      }
      // a reload keeps the same device (its keys are in IndexedDB)
      await B.reload();
      await B.locator('[data-testid="app"][data-e2ee="ready"]').waitFor();
      assert.equal((await devicesOf(bob)).length, 1);
      // and its private keys cannot be read out, not even by the page
      const extractable = await B.evaluate(async (name) => {
        const d = await (await import('/client/e2ee.js')).thisDevice(name);
        return [d.identity.privateKey.extractable, d.signing.privateKey.extractable];
      }, bob.username);
      assert.deepEqual(extractable, [false, false]);
    });

    await step('ann starts an encrypted DM with bob: a shield on the room', async () => {
      await A.getByTestId('new-dm').click();
      await A.getByTestId('user-input').fill(bob.username);
      await A.getByTestId('user-encrypted').check();
      await A.getByTestId('user-submit').click();
      await A.locator('[data-testid="room-encrypted"]:not([hidden])').waitFor();
      dm = await A.locator('[data-testid="dm-item"].active').getAttribute('data-room');
      assert.equal(await A.locator('[data-testid="dm-item"].active').getAttribute('data-encrypted'), '1');
      const r = await http(server.base, 'POST', '/api/v1/dm', { body: { username: ann.username }, token: bob.token });
      assert.equal(r.json.room.id, dm);
      assert.equal(r.json.room.encrypted, true);
    });

    const dmText = secret('the launch date is');
    await step('messages both ways in the DM, decrypted on each side', async () => {
      await send(A, dmText);
      await B.locator(`[data-testid="dm-item"][data-room="${dm}"]`).click();
      await msg(B, dmText).waitFor({ timeout: EVENT_MS });
      await B.locator('[data-testid="room-encrypted"]:not([hidden])').waitFor();
      await send(B, 'Got it, keeping it quiet.');
      await msg(A, 'Got it, keeping it quiet.').waitFor({ timeout: EVENT_MS });
      // what the server holds is ciphertext
      const h = await http(server.base, 'GET', `/api/v1/rooms/${dm}/messages`, { token: ann.token });
      assert.equal(h.json.messages.length, 2);
      for (const m of h.json.messages) {
        assert.equal(m.body, undefined);
        assert.ok(m.e2ee && m.e2ee.ciphertexts);
        assert.ok(!JSON.stringify(m).includes('launch date'));
      }
    });

    await step('an edit in the encrypted DM is sealed again and read on the other side', async () => {
      await send(A, 'meet at the usual place');
      await msg(B, 'meet at the usual place').waitFor({ timeout: EVENT_MS });
      await A.getByTestId('composer-input').press('ArrowUp');
      await A.getByTestId('edit-input').fill('meet at the other place');
      await A.getByTestId('edit-input').press('Enter');
      const edited = msg(B, 'meet at the other place');
      await edited.waitFor({ timeout: EVENT_MS });
      await edited.getByTestId('message-edited').waitFor();
      const h = await http(server.base, 'GET', `/api/v1/rooms/${dm}/messages`, { token: bob.token });
      const last = h.json.messages.pop();
      assert.ok(last.e2ee && last.edited_at && last.body === undefined, JSON.stringify(last).slice(0, 200));
    });

    await step('safety numbers: the same 60 digits on both pages and in Python; ann marks bob verified', async () => {
      const numbers = [];
      for (const page of [A, B]) {
        await page.getByTestId('safety-button').click();
        const n = page.getByTestId('safety-number');
        await page.waitForFunction(() => /^(\d{5} ){11}\d{5}$/.test(document.getElementById('safety-number').textContent));
        numbers.push(await n.textContent());
      }
      assert.equal(numbers[0], numbers[1]);
      assert.equal(numbers[0], await peer.call({ op: 'safety', token: cat.token, a: ann.username, b: bob.username }));
      await shot(A, 'safety-number');
      await A.getByTestId('safety-verify').click();
      await A.locator('[data-testid="safety-state"][data-verified="1"]').waitFor();
      for (const page of [A, B]) await page.keyboard.press('Escape');
      await A.locator('[data-testid="room-encrypted"][data-verified="1"]').waitFor();
    });

    const png = makePng(360, 240);
    await step('an image both ways in the DM: uploaded encrypted, shown decrypted', async () => {
      await A.getByTestId('file-input').setInputFiles({ name: 'plan.png', mimeType: 'image/png', buffer: png });
      const tile = B.locator('[data-testid="message"]:not([data-pending]) [data-testid="thumbnail"]').last();
      await tile.waitFor({ timeout: EVENT_MS });
      await B.waitForFunction(() => {
        const imgs = document.querySelectorAll('[data-testid="message"]:not([data-pending]) [data-testid="thumbnail"]');
        const img = imgs[imgs.length - 1];
        return img && img.complete && img.naturalWidth === 360 && img.naturalHeight === 240;
      });
      const last = (await http(server.base, 'GET', `/api/v1/rooms/${dm}/messages`, { token: bob.token })).json.messages.pop();
      assert.equal(last.file.content_type, 'application/octet-stream');
      assert.equal(last.file.name, 'encrypted.bin');
      assert.equal(last.file.encrypted, true);
      const raw = await fetch(`${server.base}/api/v1/files/${last.file.id}`, { headers: { authorization: `Bearer ${bob.token}` } });
      const bytes = Buffer.from(await raw.arrayBuffer());
      assert.equal(bytes.length, png.length + 16, 'the stored file is not the GCM ciphertext of the image');
      assert.ok(!bytes.includes(png.subarray(0, 64)), 'the image is stored in the clear');
      await shot(A, 'dm-verified');
    });

    await step('bob reloads and still reads the DM, image included', async () => {
      await B.reload();
      await B.locator('[data-testid="app"][data-e2ee="ready"]').waitFor();
      await B.locator(`[data-testid="dm-item"][data-room="${dm}"]`).click();
      await msg(B, dmText).waitFor();
      await msg(B, 'Got it, keeping it quiet.').waitFor();
      await B.waitForFunction(() => [...document.querySelectorAll('[data-testid="thumbnail"]')]
        .some((img) => img.complete && img.naturalWidth === 360));
      assert.equal(await B.getByTestId('message-undecryptable').count(), 0);
      await shot(B, 'dm-after-reload');
    });

    let room;
    let cat1;
    let cat2;
    await step('an encrypted private room: ann, bob, and cat on two Python devices', async () => {
      await A.getByTestId('new-room').click();
      await A.getByTestId('create-room-name').fill(`sealed-${sfx}`);
      await A.getByTestId('create-room-encrypted').check();
      assert.ok(await A.getByTestId('create-room-private').isChecked(), 'an encrypted room is private');
      await A.getByTestId('create-room-submit').click();
      await A.locator('[data-testid="room-encrypted"]:not([hidden])').waitFor();
      room = await A.locator('[data-testid="room-item"].active').getAttribute('data-room');
      for (const u of [bob, cat]) {
        const invited = await http(server.base, 'POST', `/api/v1/rooms/${room}/invite`,
          { body: { username: u.username }, token: ann.token });
        assert.equal(invited.status, 204);
        const joined = await http(server.base, 'POST', `/api/v1/rooms/${room}/join`, { token: u.token });
        assert.equal(joined.status, 200);
        assert.equal(joined.json.room.encrypted, true);
        assert.equal(joined.json.room.visibility, 'private');
      }
      cat1 = (await peer.call({ op: 'device', user: cat.username, token: cat.token })).device_id;
      cat2 = (await peer.call({ op: 'device', user: cat.username, token: cat.token })).device_id;
      await A.getByTestId('members-button').click();
      await A.locator('[data-testid="member"]').nth(2).waitFor();
      await B.locator(`[data-testid="room-item"][data-room="${room}"]`).click();
    });

    const roomText = secret('browser to everyone');
    await step('from the browser: text and an image, read by Python on both of cat\'s devices', async () => {
      await send(A, roomText);
      await msg(B, roomText).waitFor({ timeout: EVENT_MS });
      await A.getByTestId('file-input').setInputFiles({ name: 'room.png', mimeType: 'image/png', buffer: png });
      await A.locator('[data-testid="message"][data-pending]').first().waitFor({ state: 'detached', timeout: EVENT_MS });
      for (const device of [cat1, cat2]) {
        const read = await peer.call({ op: 'read', device, room });
        assert.equal(read.length, 2, JSON.stringify(read));
        assert.equal(read[0].body, roomText, JSON.stringify(read[0]));
        assert.equal(read[1].error, undefined, JSON.stringify(read[1]));
        assert.ok(Buffer.from(read[1].file, 'base64').equals(png), 'the image Python decrypted differs');
      }
    });

    const pyText = secret('python to everyone');
    await step('from Python (cat\'s second device): text and an image, read in both browsers', async () => {
      await peer.call({ op: 'send', device: cat2, room, body: pyText });
      await peer.call({ op: 'send', device: cat2, room, body: 'and a picture', image: png.toString('base64') });
      for (const page of [A, B]) {
        await msg(page, pyText).waitFor({ timeout: EVENT_MS });
        await msg(page, 'and a picture').waitFor({ timeout: EVENT_MS });
        await page.waitForFunction(() => {
          const imgs = [...document.querySelectorAll('[data-testid="message"][data-from] [data-testid="thumbnail"]')];
          return imgs.filter((img) => img.complete && img.naturalWidth === 360).length >= 2;
        });
      }
      // and cat's first device reads its own other device's message
      const read = await peer.call({ op: 'read', device: cat1, room });
      assert.equal(read[2].body, pyText);
    });

    await step('a tampered and a forged message show as undecryptable, never as text', async () => {
      const tampered = await peer.call({ op: 'send', device: cat1, room, body: secret('tampered'), forge: 'tamper' });
      const forged = await peer.call({ op: 'send', device: cat1, room, body: secret('forged'), forge: 'signature' });
      for (const page of [A, B]) {
        for (const m of [tampered, forged]) {
          const node = page.locator(`[data-testid="message"][data-seq="${m.seq}"]`);
          await node.waitFor({ timeout: EVENT_MS });
          assert.equal(await node.getByTestId('message-undecryptable').textContent(), UNDECRYPTABLE);
          assert.equal(await node.getByTestId('message-body').count(), 0);
        }
      }
      assert.equal(await A.getByText(/tampered|forged/).count(), 0);
      await shot(A, 'room');
    });

    await step('plaintext into the encrypted room is refused', async () => {
      const r = await http(server.base, 'POST', `/api/v1/rooms/${room}/messages`,
        { body: { body: 'in the clear', client_msg_id: 'plain-1' }, token: ann.token });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, 'invalid_request');
    });

    await step('an encrypted DM between the browser and Python: text and images both ways', async () => {
      const r = await http(server.base, 'POST', '/api/v1/dm', { body: { username: ann.username, encrypted: true }, token: cat.token });
      assert.equal(r.status, 200);
      assert.equal(r.json.room.encrypted, true);
      const catDm = r.json.room.id;
      const fromPython = secret('python in the dm');
      await peer.call({ op: 'send', device: cat1, room: catDm, body: fromPython, image: png.toString('base64') });
      await A.locator(`[data-testid="dm-item"][data-room="${catDm}"]`).click();
      await msg(A, fromPython).waitFor({ timeout: EVENT_MS });
      await A.waitForFunction(() => [...document.querySelectorAll('[data-testid="thumbnail"]')]
        .some((img) => img.complete && img.naturalWidth === 360));
      const fromBrowser = secret('browser in the dm');
      await send(A, fromBrowser);
      await A.getByTestId('file-input').setInputFiles({ name: 'reply.png', mimeType: 'image/png', buffer: png });
      await A.locator('[data-testid="message"][data-pending]').first().waitFor({ state: 'detached', timeout: EVENT_MS });
      for (const device of [cat1, cat2]) {
        const read = await peer.call({ op: 'read', device, room: catDm });
        assert.deepEqual(read.map((m) => m.error), [undefined, undefined, undefined], JSON.stringify(read).slice(0, 500));
        assert.equal(read[0].body, fromPython);
        assert.equal(read[1].body, fromBrowser);
        assert.ok(Buffer.from(read[2].file, 'base64').equals(png), 'the image Python decrypted differs');
      }
    });

    let B2;
    await step('bob\'s devices change: ann sees the warning and the verified mark goes', async () => {
      await A.locator(`[data-testid="dm-item"][data-room="${dm}"]`).click();
      await A.locator('[data-testid="room-encrypted"][data-verified="1"]').waitFor();
      B2 = await open('bob-new-browser', bob);
      assert.equal((await devicesOf(bob)).length, 2);
      await A.locator('[data-testid="key-warning"]:not([hidden])').waitFor({ timeout: EVENT_MS });
      assert.match(await A.getByTestId('key-warning').textContent(), new RegExp(`${bob.username}'s devices changed`));
      await A.locator('[data-testid="room-encrypted"]:not([data-verified="1"])').waitFor();
      await shot(A, 'device-warning');
      await A.getByTestId('key-warning-dismiss').click();
      await A.locator('[data-testid="key-warning"][hidden]').waitFor({ state: 'attached' });
    });

    await step('bob\'s new browser reads only what was sent after it existed', async () => {
      await B2.locator(`[data-testid="dm-item"][data-room="${dm}"]`).click();
      await B2.locator('[data-testid="message-undecryptable"]').first().waitFor();
      assert.equal(await msg(B2, dmText).count(), 0);
      const later = secret('after your new device');
      await send(A, later);
      await msg(B2, later).waitFor({ timeout: EVENT_MS });
      await B.locator(`[data-testid="dm-item"][data-room="${dm}"]`).click();
      await msg(B, later).waitFor({ timeout: EVENT_MS });
      await shot(B2, 'new-device');
    });

    await step('measure: encrypt and decrypt per message for 10 devices, bytes per recipient', async () => {
      const m = await A.evaluate(async () => {
        const e2ee = await import('/client/e2ee.js');
        const subtle = crypto.subtle;
        const raw = async (k) => new Uint8Array(await subtle.exportKey('raw', k));
        const devices = [];
        for (let i = 0; i < 10; i++) {
          const identity = await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
          const signing = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
          // ids as real ones are: a 10-character username, 32 hex digits
          devices.push({ username: `member_${String(i).padStart(3, '0')}`, device_id: i.toString(16).padStart(32, '0'), identity, signing,
            identityPublic: await raw(identity.publicKey), signingPublic: await raw(signing.publicKey) });
        }
        const body = 'x'.repeat(200);
        const size = async (n) => {
          const rec = new Map(devices.slice(0, n).map((d) => [e2ee.keyId(d.username, d.device_id), d.identityPublic]));
          return JSON.stringify(await e2ee.encrypt(devices[0], 'r_room', 'c1', { body }, rec)).length;
        };
        const recipients = new Map(devices.map((d) => [e2ee.keyId(d.username, d.device_id), d.identityPublic]));
        const N = 50;
        let t0 = performance.now();
        const sealed = [];
        for (let i = 0; i < N; i++) sealed.push(await e2ee.encrypt(devices[0], 'r_room', `c${i}`, { body }, recipients));
        const enc = (performance.now() - t0) / N;
        t0 = performance.now();
        for (let i = 0; i < N; i++) {
          await e2ee.decrypt(devices[i % 10], { room: 'r_room', from: devices[0].username, client_msg_id: `c${i}`, e2ee: sealed[i] },
            devices[0].signingPublic);
        }
        const dec = (performance.now() - t0) / N;
        const [one, ten] = [await size(1), await size(10)];
        return { enc, dec, one, ten, perDevice: (ten - one) / 9 };
      });
      console.log(`# measure chromium ${browser.version()}: encrypt ${m.enc.toFixed(2)} ms/message for 10 devices, ` +
        `decrypt ${m.dec.toFixed(2)} ms/message; e2ee object ${m.one} bytes for 1 device, ${m.ten} for 10: ` +
        `${m.perDevice.toFixed(1)} bytes per recipient device (200-byte body)`);
      assert.ok(m.perDevice > 100 && m.perDevice < 200, `bytes per device ${m.perDevice}`);
    });

    await step('no plaintext of the encrypted rooms in the data directory (RocksDB files, WAL, files)', async () => {
      // the control: a plain room's body is in the same files, so the search would see a leak
      const plain = await http(server.base, 'POST', '/api/v1/rooms', { body: { name: 'plain', visibility: 'private' }, token: ann.token });
      const control = secret('control');
      const posted = await http(server.base, 'POST', `/api/v1/rooms/${plain.json.room.id}/messages`,
        { body: { body: control, client_msg_id: 'control-1' }, token: ann.token });
      assert.equal(posted.status, 201);
      const files = [];
      const walk = (dir) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(dir, e.name)); else files.push(join(dir, e.name));
        }
      };
      walk(server.dataDir);
      const found = (needle) => files.filter((f) => readFileSync(f).includes(Buffer.isBuffer(needle) ? needle : Buffer.from(needle)));
      assert.ok(found(control).length > 0, 'the control body is not in the data dir: the search cannot see bodies');
      for (const text of [dmText, roomText, pyText]) assert.deepEqual(found(text), [], `plaintext on the server: ${text}`);
      assert.deepEqual(found(png.subarray(100, 164)), [], 'the image in the clear on the server');
    });

    await step('no script errors', async () => {
      assert.deepEqual(pageErrors, []);
    });
  } catch (e) {
    if (peer && peer.stderr) console.error(`python peer stderr:\n${peer.stderr}`);
    reportFailure(e, { server, stderrLog: 'e2ee-confabd.stderr.log', pageErrors });
  } finally {
    if (peer) peer.stop();
    await teardown({ browser, server });
  }
  console.log(process.exitCode ? '# FAILED' : '# PASSED');
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});


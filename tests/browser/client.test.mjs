// Browser test of the web client (web/client) against a real confabd: Debian's
// chromium driven by playwright-core, two browser contexts as two users.
// Starts its own confabd on port 0 with a fresh data dir, then walks: register
// both users in the UI, create a room and join it from the directory, messages
// both ways (Enter, Shift+Enter, @mention), typing, presence, a DM with its
// toast and unread count in the title, an image upload whose thumbnail shows on
// the other side (and opens in the lightbox), a body with markup shown as text,
// a thread (replies from the hover action and from the panel, live on both
// sides, out of the timeline), reload with history, kill -9 and restart of the
// node on the same port (page shows the outage, a send fails and is retried, a
// message sent over HTTP while the page was away arrives once), search (when
// the server has it) opening a room at a result, sign out and in. Screenshots
// at desktop (1280x800) and phone (390x844) width, light and dark, go to
// ARTIFACTS_DIR.
//
// Run: node --experimental-websocket client.test.mjs   (tests/browser/run.sh client.test.mjs does it)
// Env: CONFABD (default build/bin/confabd), ARTIFACTS_DIR, CHROMIUM (default /usr/bin/chromium)

import { mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import {
  ARTIFACTS, Confabd, DESKTOP, EVENT_MS, UI_MS, hex, http, launchChromium, makePng, msg, reportFailure, screenshot, send,
  step, teardown,
} from './lib.mjs';

const RECONNECT_MS = 45000; // backoff is capped at 15 s, plus a node start
const PHONE = { width: 390, height: 844 };
const XSS = '<img src=x onerror=alert(1)>';
const ADMIN_TOKEN = 'admin-' + hex(16);
// --node-id is fixed: a node id derived from the ports would change between
// --http-port 0 and --http-port <port> (the restart), and file ids name their node.
const NODE_ARGS = ['--node-id', 'browser-client'];

// ---- helpers --------------------------------------------------------------------------------

// Toasts cleared (unless keepToasts) and the mouse parked, then ARTIFACTS/client-NN-<name>.png.
async function shot(page, name, { keepToasts = false } = {}) {
  if (!keepToasts) await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.mouse.move(1, 1); // no hover highlight in the picture
  return screenshot(page, name, { prefix: 'client-' });
}

// ---- the test -------------------------------------------------------------------------------

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = new Confabd({ dataDirPrefix: 'confab-client-', adminToken: ADMIN_TOKEN });
  server.killOnExit();

  let browser = null;
  const pages = {};
  const pageErrors = [];
  const dialogs = [];
  try {
    await step('confabd starts and serves the client page and its files', async () => {
      await server.start(0, NODE_ARGS);
      console.log(`# confabd node=${server.node} at ${server.base}, data dir ${server.dataDir}`);
      const r = await http(server.base, 'GET', '/');
      assert.equal(r.status, 200, `GET /: ${r.status}`);
      assert.match(r.text, /<script type="module" src="\/client\/app\.js">/);
      for (const f of ['app.js', 'api.js', 'socket.js', 'store.js', 'chat.js', 'timeline.js', 'room.js', 'sidebar.js',
        'dialogs.js', 'files.js', 'notify.js', 'auth.js', 'dom.js', 'actions.js', 'thread.js', 'search.js', 'style.css',
        'chat.css']) {
        const a = await http(server.base, 'GET', `/client/${f}`);
        assert.equal(a.status, 200, `GET /client/${f}: ${a.status}`);
      }
    });

    browser = await launchChromium();
    const open = async (who) => {
      const context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
      const page = await context.newPage();
      page.setDefaultTimeout(UI_MS);
      page.on('pageerror', (e) => pageErrors.push(`${who} pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(`${who} console: ${m.text()} [${m.location().url || ''}]`);
      });
      page.on('dialog', async (d) => { dialogs.push({ who, type: d.type(), message: d.message() }); await d.dismiss(); });
      pages[who] = page;
      return page;
    };
    const A = await open('alice');
    const B = await open('bob');
    const sfx = hex(3);
    const alice = { username: `alice_${sfx}`, display: 'Alice Martin', password: 'pw-' + hex(8) };
    const bob = { username: `bob_${sfx}`, display: 'Bob Chen', password: 'pw-' + hex(8) };
    const roomName = `design-${sfx}`;
    let roomId;


    await step('both users register in the UI and land in the app', async () => {
      for (const [page, u] of [[A, alice], [B, bob]]) {
        await page.goto(server.base + '/');
        await page.getByTestId('login-form').waitFor();
        await shot(page, `login-${u === alice ? 'alice' : 'bob'}`).catch(() => {});
        await page.getByTestId('tab-register').click();
        await page.getByTestId('register-username').fill(u.username);
        await page.getByTestId('register-display-name').fill(u.display);
        await page.getByTestId('register-password').fill(u.password);
        await page.getByTestId('register-submit').click();
        await page.getByTestId('app').waitFor();
        await page.locator('[data-testid="conn-state"][data-state="connected"]').waitFor();
        assert.equal(await page.getByTestId('me-name').textContent(), u.display);
        u.token = await page.evaluate(() => localStorage.getItem('confab.token'));
        assert.ok(u.token, 'no token in local storage');
      }
    });

    await step('alice creates a public room in the UI', async () => {
      await A.getByTestId('new-room').click();
      await A.getByTestId('create-room-name').fill(roomName);
      await A.getByTestId('create-room-topic').fill('Mockups, reviews & the odd meme');
      await A.getByTestId('create-room-public').check();
      await A.getByTestId('create-room-submit').click();
      await A.getByTestId('room-title').filter({ hasText: roomName }).waitFor();
      roomId = await A.locator('[data-testid="room-item"].active').getAttribute('data-room');
      assert.match(roomId, /^r_/);
      await A.getByTestId('room-start').waitFor();
    });

    await step('bob finds the room in the directory and joins it', async () => {
      await B.getByTestId('browse-rooms').click();
      const item = B.locator(`[data-testid="directory-item"][data-room="${roomId}"]`);
      await item.waitFor();
      await item.getByTestId('directory-join').click();
      await B.getByTestId('room-title').filter({ hasText: roomName }).waitFor();
      await B.locator(`[data-testid="room-item"][data-room="${roomId}"]`).waitFor();
    });

    await step('messages go both ways; Shift+Enter makes a new line; @mention is highlighted', async () => {
      await send(A, 'Morning! The new onboarding mockups are up.');
      await msg(B, 'The new onboarding mockups are up.').waitFor({ timeout: EVENT_MS });
      const input = B.getByTestId('composer-input');
      await input.fill('Looks great.');
      await input.press('Shift+Enter');
      await input.pressSequentially('Two notes on the second screen');
      await input.press('Enter');
      const twoLines = msg(A, 'Two notes on the second screen');
      await twoLines.waitFor({ timeout: EVENT_MS });
      assert.equal(await twoLines.getByTestId('message-body').textContent(), 'Looks great.\nTwo notes on the second screen');
      await send(A, `@${bob.username} can you review the colours before lunch?`);
      const mentioned = msg(B, 'can you review the colours');
      await mentioned.waitFor({ timeout: EVENT_MS });
      assert.ok(await mentioned.evaluate((n) => n.classList.contains('msg-mention')), 'mention of me not highlighted');
      assert.equal(await mentioned.getByTestId('mention').textContent(), `@${bob.username}`);
      // grouping: alice's two messages in a row after bob's share one header only if consecutive
      assert.equal(await A.locator('[data-testid="message"][data-pending]').count(), 0, 'a send stayed pending');
    });

    await step('an edit, a reaction and a delete made elsewhere show in place', async () => {
      const sent = await http(server.base, 'POST', `/api/v1/rooms/${roomId}/messages`,
        { body: { body: 'First draft of the agenda' }, token: bob.token });
      assert.equal(sent.status, 201);
      const seq = sent.json.message.seq;
      const node = A.locator(`[data-testid="message"][data-seq="${seq}"]`);
      await node.getByTestId('message-body').filter({ hasText: 'First draft' }).waitFor({ timeout: EVENT_MS });
      const at = (path) => `/api/v1/rooms/${roomId}/messages/${seq}${path}`;
      assert.equal((await http(server.base, 'PATCH', at(''), { body: { body: 'Final agenda' }, token: bob.token })).status, 200);
      await node.getByTestId('message-body').filter({ hasText: 'Final agenda' }).waitFor({ timeout: EVENT_MS });
      await node.getByTestId('message-edited').waitFor();
      assert.equal((await http(server.base, 'PUT', at('/reactions/%F0%9F%91%8D'), { token: bob.token })).status, 204);
      await node.locator('[data-testid="reaction"][data-emoji="👍"]').filter({ hasText: '1' }).waitFor({ timeout: EVENT_MS });
      assert.equal((await http(server.base, 'DELETE', at(''), { token: bob.token })).status, 204);
      await node.getByTestId('message-deleted').waitFor({ timeout: EVENT_MS });
      assert.equal(await node.getByTestId('message-body').count(), 0);
      assert.equal(await node.getByTestId('reaction').count(), 0);
    });

    await step('alice reacts, edits (Up in the empty composer) and deletes from the page; bob toggles a reaction', async () => {
      await send(A, 'Lunch at noon?');
      const seqOf = async (page, text) => Number(await msg(page, text).getAttribute('data-seq'));
      const seq = await seqOf(A, 'Lunch at noon?');
      const mineA = A.locator(`[data-testid="message"][data-seq="${seq}"]`);
      const onB = B.locator(`[data-testid="message"][data-seq="${seq}"]`);
      await onB.waitFor({ timeout: EVENT_MS });
      await mineA.hover();
      await mineA.getByTestId('react-button').click();
      await A.getByTestId('emoji-picker').locator('[data-emoji="🎉"]').click();
      await onB.locator('[data-testid="reaction"][data-emoji="🎉"]').filter({ hasText: '1' }).waitFor({ timeout: EVENT_MS });
      await onB.locator('[data-testid="reaction"][data-emoji="🎉"]').click();
      await mineA.locator('[data-testid="reaction"][data-emoji="🎉"]').filter({ hasText: '2' }).waitFor({ timeout: EVENT_MS });
      await A.getByTestId('composer-input').fill('');
      await A.getByTestId('composer-input').press('ArrowUp');
      const editor = A.getByTestId('edit-input');
      await editor.waitFor();
      assert.equal(await editor.inputValue(), 'Lunch at noon?');
      await editor.fill('Lunch at 12:30?');
      await editor.press('Enter');
      await onB.getByTestId('message-body').filter({ hasText: 'Lunch at 12:30?' }).waitFor({ timeout: EVENT_MS });
      await onB.getByTestId('message-edited').waitFor();
      await shot(B, 'edited-and-reactions');
      await mineA.hover();
      await mineA.getByTestId('delete-button').click();
      await A.getByTestId('confirm-yes').click();
      await onB.getByTestId('message-deleted').waitFor({ timeout: EVENT_MS });
      await mineA.getByTestId('message-deleted').waitFor({ timeout: EVENT_MS });
      // bob cannot edit or delete alice's message: no such buttons for him
      await send(A, 'Another one');
      const again = B.locator(`[data-testid="message"][data-seq="${await seqOf(A, 'Another one')}"]`);
      await again.waitFor({ timeout: EVENT_MS });
      await again.hover();
      assert.equal(await again.getByTestId('edit-button').count(), 0);
      assert.equal(await again.getByTestId('delete-button').count(), 0);
    });

    await step('threads: alice replies from the hover action, bob from the panel; live on both sides, counted under the root, '
      + 'not in the timeline', async () => {
      await send(A, 'Which typeface for the headings?');
      const rootSeq = Number(await msg(A, 'Which typeface for the headings?').getAttribute('data-seq'));
      const root = (page) => page.getByTestId('timeline').locator(`[data-testid="message"][data-seq="${rootSeq}"]`);
      const panel = (page) => page.getByTestId('thread-panel');
      const reply = (page, text) => panel(page).locator('[data-testid="message"]:not([data-pending])')
        .filter({ has: page.getByTestId('message-body').filter({ hasText: text }) });
      await root(B).waitFor({ timeout: EVENT_MS });
      // alice: "Reply in thread" from the hover toolbar opens the panel with the root
      await root(A).hover();
      await root(A).getByTestId('thread-button').click();
      await panel(A).getByTestId('thread-root').getByTestId('message-body').filter({ hasText: 'Which typeface' }).waitFor();
      await panel(A).getByTestId('thread-reply-count').filter({ hasText: 'No replies yet' }).waitFor();
      await panel(A).getByTestId('thread-input').fill('Inter, set tight.');
      await panel(A).getByTestId('thread-input').press('Enter');
      await reply(A, 'Inter, set tight.').waitFor({ timeout: EVENT_MS });
      // bob: "1 reply" under the root; the summary opens the panel
      await root(B).getByTestId('thread-count').filter({ hasText: /^1 reply$/ }).waitFor({ timeout: EVENT_MS });
      await root(B).getByTestId('thread-summary').filter({ hasText: 'Last reply' }).waitFor();
      await root(B).getByTestId('thread-summary').click();
      await reply(B, 'Inter, set tight.').waitFor();
      await panel(B).getByTestId('thread-input').fill('Agreed, with Source Serif for the body.');
      await panel(B).getByTestId('thread-input').press('Enter');
      await reply(B, 'Source Serif').waitFor({ timeout: EVENT_MS });
      await reply(A, 'Source Serif').waitFor({ timeout: EVENT_MS }); // live in alice's open panel
      for (const page of [A, B]) {
        await root(page).getByTestId('thread-count').filter({ hasText: /^2 replies$/ }).waitFor({ timeout: EVENT_MS });
        await panel(page).getByTestId('thread-reply-count').filter({ hasText: '2 replies' }).waitFor({ timeout: EVENT_MS });
        for (const text of ['Inter, set tight.', 'Source Serif']) {
          assert.equal(await page.getByTestId('timeline').getByTestId('message-body').filter({ hasText: text }).count(), 0,
            `the reply "${text}" is in the timeline`);
        }
      }
      // a reaction from the picker (alice's last emoji first) and an edit (Up in the empty thread composer) show
      // in the other panel in place
      await reply(A, 'Source Serif').hover();
      await reply(A, 'Source Serif').getByTestId('react-button').click();
      const recent = A.getByTestId('emoji-picker').getByTestId('emoji-recent').locator('[data-emoji]');
      assert.equal(await recent.first().getAttribute('data-emoji'), '🎉');
      await A.getByTestId('emoji-picker').locator('[data-emoji="👀"]').click();
      await reply(B, 'Source Serif').locator('[data-testid="reaction"][data-emoji="👀"]').filter({ hasText: '1' })
        .waitFor({ timeout: EVENT_MS });
      assert.deepEqual(await A.evaluate((u) => JSON.parse(localStorage.getItem(`confab.emoji.recent.${u}`)), alice.username),
        ['👀', '🎉']);
      await panel(A).getByTestId('thread-input').fill('');
      await panel(A).getByTestId('thread-input').press('ArrowUp');
      const editor = panel(A).getByTestId('edit-input');
      await editor.waitFor();
      assert.equal(await editor.inputValue(), 'Inter, set tight.');
      await editor.fill('Inter, set tight, at 600.');
      await editor.press('Enter');
      await reply(B, 'Inter, set tight, at 600.').getByTestId('message-edited').waitFor({ timeout: EVENT_MS });
      await shot(A, 'desktop-light-thread');
      await A.emulateMedia({ colorScheme: 'dark' });
      await shot(A, 'desktop-dark-thread');
      await A.emulateMedia({ colorScheme: 'light' });
      // at phone width the panel is the whole screen
      await B.setViewportSize(PHONE);
      const box = await panel(B).boundingBox();
      assert.ok(box && box.x <= 0 && box.y <= 0 && box.width >= PHONE.width - 1 && box.height >= PHONE.height - 1,
        `thread panel at phone width: ${JSON.stringify(box)}`);
      await B.setViewportSize(DESKTOP);
      // Escape closes alice's panel, the close button bob's
      await A.keyboard.press('Escape');
      await panel(A).waitFor({ state: 'hidden' });
      await panel(B).getByTestId('thread-close').click();
      await panel(B).waitFor({ state: 'hidden' });
    });

    await step('typing shows on the other side and ends when the text is cleared', async () => {
      await B.getByTestId('composer-input').pressSequentially('thinking about', { delay: 20 });
      await A.getByTestId('typing').filter({ hasText: `${bob.display} is typing` }).waitFor({ timeout: EVENT_MS });
      await B.getByTestId('composer-input').fill('');
      await B.getByTestId('composer-input').press('Backspace');
      await A.locator('[data-testid="typing"][data-users=""]').waitFor({ state: 'attached', timeout: EVENT_MS });
    });

    await step('presence: the member list shows bob online, and away after he sets it', async () => {
      await A.getByTestId('members-button').click();
      const bobRow = A.locator(`[data-testid="member"][data-user="${bob.username}"]`);
      await bobRow.waitFor();
      await A.locator(`[data-testid="member"][data-user="${bob.username}"][data-status="online"]`).waitFor({ timeout: EVENT_MS });
      await shot(A, 'desktop-light-members');
      await B.getByTestId('me-button').click();
      await B.getByTestId('profile-status-text').fill('Reviewing mockups');
      await B.getByTestId('profile-presence').selectOption('away');
      await B.getByTestId('profile-save').click();
      await B.getByTestId('me-status').filter({ hasText: 'Reviewing mockups' }).waitFor();
      await A.locator(`[data-testid="member"][data-user="${bob.username}"][data-status="away"]`).waitFor({ timeout: EVENT_MS });
      await B.getByTestId('me-button').click();
      await B.getByTestId('profile-presence').selectOption('online');
      await B.getByTestId('profile-save').click();
      await A.locator(`[data-testid="member"][data-user="${bob.username}"][data-status="online"]`).waitFor({ timeout: EVENT_MS });
      await A.getByTestId('members-button').click();
    });

    await step('alice opens a DM; bob gets a toast, an unread badge and the count in the title', async () => {
      await A.getByTestId('new-dm').click();
      await A.getByTestId('user-input').fill(bob.username);
      await A.getByTestId('user-submit').click();
      const dm = A.locator('[data-testid="dm-item"].active');
      await dm.waitFor();
      assert.equal(await dm.getAttribute('data-partner'), bob.username);
      await A.locator('[data-testid="dm-item"].active [data-testid="presence-dot"][data-status="online"]').waitFor({ timeout: EVENT_MS });
      await send(A, 'Quick one: are you free for a call at 3?');
      const toast = B.getByTestId('toast').filter({ hasText: 'Quick one' });
      await toast.waitFor({ timeout: EVENT_MS });
      const dmB = B.locator('[data-testid="dm-item"]').filter({ hasText: alice.display });
      await dmB.locator('[data-testid="unread-badge"]').filter({ hasText: '1' }).waitFor();
      await B.waitForFunction(() => /^\(\d+\) /.test(document.title), null, { timeout: EVENT_MS });
      await shot(B, 'desktop-light-dm-toast', { keepToasts: true });
      await dmB.click();
      await msg(B, 'are you free for a call').waitFor();
      await B.locator('[data-testid="dm-item"].active [data-testid="unread-badge"]').waitFor({ state: 'detached' });
      await B.waitForFunction(() => !/^\(\d+\) /.test(document.title), null, { timeout: EVENT_MS });
      // the read marker reached the server: bob's rooms list has nothing unread
      const dmId = await B.locator('[data-testid="dm-item"].active').getAttribute('data-room');
      const deadline = Date.now() + EVENT_MS;
      for (;;) {
        const rooms = (await http(server.base, 'GET', '/api/v1/rooms', { token: bob.token })).json.rooms;
        if (rooms.find((r) => r.id === dmId)?.unread === 0) break;
        assert.ok(Date.now() < deadline, `DM still unread on the server: ${JSON.stringify(rooms)}`);
        await B.waitForTimeout(100);
      }
      await send(B, 'Sure, 3 works for me');
      await msg(A, 'Sure, 3 works').waitFor({ timeout: EVENT_MS });
    });

    await step('bob creates a private room and invites alice; she joins from the invitation', async () => {
      await B.getByTestId('new-room').click();
      await B.getByTestId('create-room-name').fill(`launch-plan-${sfx}`);
      await B.getByTestId('create-room-private').check();
      await B.getByTestId('create-room-submit').click();
      await B.getByTestId('room-title').filter({ hasText: `launch-plan-${sfx}` }).waitFor();
      const privId = await B.locator('[data-testid="room-item"].active').getAttribute('data-room');
      await send(B, 'Draft timeline for the launch is in the doc.');
      await B.getByTestId('invite-button').click();
      await B.getByTestId('user-input').fill(alice.username);
      await B.getByTestId('user-submit').click();
      await B.getByTestId('toast').filter({ hasText: `Invited ${alice.username}` }).waitFor();
      await A.getByTestId('toast').filter({ hasText: `invited you to launch-plan-${sfx}` }).waitFor({ timeout: EVENT_MS });
      const inv = A.locator(`[data-testid="invite-item"][data-room="${privId}"]`);
      await inv.waitFor();
      await inv.getByTestId('invite-join').click();
      await A.getByTestId('room-title').filter({ hasText: `launch-plan-${sfx}` }).waitFor();
      await msg(A, 'Draft timeline for the launch').waitFor();
      await A.locator(`[data-testid="invite-item"]`).waitFor({ state: 'detached' });
      await send(A, 'On it. I will add the QA dates.');
      await msg(B, 'I will add the QA dates').waitFor({ timeout: EVENT_MS });
    });

    const png = makePng(480, 320);
    await step('alice uploads an image; bob sees its thumbnail and opens it', async () => {
      await A.locator(`[data-testid="room-item"][data-room="${roomId}"]`).click();
      await B.locator(`[data-testid="room-item"][data-room="${roomId}"]`).click();
      await A.getByTestId('room-title').filter({ hasText: roomName }).waitFor();
      await A.getByTestId('file-input').setInputFiles({ name: 'onboarding-v2.png', mimeType: 'image/png', buffer: png });
      const tileB = B.locator('[data-testid="message"]:not([data-pending]) [data-testid="image-tile"]').last();
      await tileB.waitFor({ timeout: EVENT_MS });
      await B.waitForFunction(() => {
        const imgs = [...document.querySelectorAll('[data-testid="thumbnail"]')];
        return imgs.some((i) => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'));
      }, null, { timeout: UI_MS });
      const nat = await tileB.locator('img').evaluate((i) => [i.naturalWidth, i.naturalHeight]);
      assert.ok(nat[0] > 0 && nat[0] <= 320 && nat[1] > 0, `thumbnail size ${nat}`);
      await A.locator('[data-testid="message"]:not([data-pending]) [data-testid="thumbnail"]').last().waitFor();
      await tileB.click();
      await B.locator('[data-testid="lightbox-image"]').waitFor();
      await B.waitForFunction(() => document.querySelector('[data-testid="lightbox-image"]')?.naturalWidth === 480,
        null, { timeout: UI_MS });
      await B.getByTestId('lightbox-close').click();
      await B.getByTestId('lightbox').waitFor({ state: 'hidden' });
      // a non-image file is a download card with name and size
      await A.getByTestId('file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain',
        buffer: Buffer.from('Colour review notes\n'.repeat(60)) });
      const card = B.locator('[data-testid="file-card"]').filter({ hasText: 'notes.txt' });
      await card.waitFor({ timeout: EVENT_MS });
      assert.match(await card.textContent(), /1\.2 KB/);
    });

    await step(`a body with ${XSS} shows as text on both sides and runs nothing`, async () => {
      await send(B, XSS);
      const m = msg(A, XSS);
      await m.waitFor({ timeout: EVENT_MS });
      assert.equal(await m.getByTestId('message-body').textContent(), XSS);
      for (const p of [A, B]) {
        assert.equal(await p.locator('.msg-body img, .msg-body [onerror]').count(), 0, 'markup became elements');
      }
      await send(A, 'Thanks! I\'ll fold the notes into v3 this afternoon.');
      assert.deepEqual(dialogs, [], 'a dialog was opened');
      await shot(A, 'desktop-light-room');
    });

    await step('screenshots: dark theme and phone width', async () => {
      await B.emulateMedia({ colorScheme: 'dark' });
      await msg(B, 'fold the notes into v3').waitFor({ timeout: EVENT_MS });
      await shot(B, 'desktop-dark-room');
      await B.setViewportSize(PHONE);
      await shot(B, 'phone-dark-room');
      const overflow = await B.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `room view is ${overflow} px wider than the phone`);
      await B.getByTestId('back-button').click();
      await B.getByTestId('room-list').waitFor();
      await shot(B, 'phone-dark-sidebar');
      await B.locator(`[data-testid="room-item"][data-room="${roomId}"]`).click();
      await B.getByTestId('room-title').waitFor();
      await B.emulateMedia({ colorScheme: 'light' });
      await shot(B, 'phone-light-room');
      await B.setViewportSize(DESKTOP);
      await A.emulateMedia({ colorScheme: 'dark' });
      await A.getByTestId('members-button').click();
      await A.locator(`[data-testid="member"][data-user="${bob.username}"]`).waitFor();
      await shot(A, 'desktop-dark-members');
      await A.getByTestId('members-button').click();
      await A.emulateMedia({ colorScheme: 'light' });
    });

    await step('reload keeps the session and shows the history', async () => {
      await A.reload();
      await A.locator('[data-testid="conn-state"][data-state="connected"]').waitFor();
      await A.getByTestId('room-title').filter({ hasText: roomName }).waitFor();
      await msg(A, 'The new onboarding mockups are up.').waitFor();
      await msg(A, XSS).waitFor();
      await A.waitForFunction(() => [...document.querySelectorAll('[data-testid="thumbnail"]')]
        .some((i) => i.complete && i.naturalWidth > 0), null, { timeout: UI_MS });
    });

    let restarted = false;
    await step('kill -9: the pages show the outage; a send fails with a retry button', async () => {
      const e = await server.kill9();
      assert.equal(e.signal, 'SIGKILL');
      for (const p of [A, B]) {
        await p.locator('[data-testid="conn-state"][data-state="disconnected"]').waitFor({ timeout: EVENT_MS });
        await p.getByTestId('conn-banner').waitFor();
      }
      await A.getByTestId('composer-input').fill('Sent while the server was down');
      await A.getByTestId('composer-input').press('Enter');
      await A.getByTestId('send-failed').waitFor();
      await A.getByTestId('retry-send').waitFor();
      await shot(A, 'desktop-light-disconnected');
    });

    await step('restart on the same port: pages reconnect and fetch what was sent meanwhile, once', async () => {
      const port = server.port;
      await server.start(port, NODE_ARGS);
      restarted = true;
      assert.equal(server.port, port);
      // bob's token survives the restart (same data dir, same secret); this message is sent over
      // HTTP while the pages are still away (their backoff has not come round yet) or reconnecting
      const downState = await A.getByTestId('conn-state').getAttribute('data-state');
      const r = await http(server.base, 'POST', `/api/v1/rooms/${roomId}/messages`,
        { token: bob.token, body: { body: 'Posted over HTTP while you were away', client_msg_id: 'http-' + hex(4) } });
      assert.equal(r.status, 201, r.text);
      const seq = r.json.message.seq;
      console.log(`# alice's page was ${downState} when seq ${seq} was sent`);
      for (const p of [A, B]) {
        await p.locator('[data-testid="conn-state"][data-state="connected"]').waitFor({ timeout: RECONNECT_MS });
        await p.getByTestId('conn-banner').waitFor({ state: 'hidden' });
        await p.locator(`[data-testid="message"][data-seq="${seq}"]`).waitFor({ timeout: EVENT_MS });
      }
      const seqs = await A.locator('[data-testid="message"][data-seq]').evaluateAll((ns) => ns.map((n) => Number(n.dataset.seq)));
      assert.equal(new Set(seqs).size, seqs.length, `duplicate messages: ${seqs}`);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `out of order: ${seqs}`);
      // the failed send goes out on retry, exactly once
      await A.getByTestId('retry-send').click();
      await msg(A, 'Sent while the server was down').waitFor({ timeout: EVENT_MS });
      await msg(B, 'Sent while the server was down').waitFor({ timeout: EVENT_MS });
      assert.equal(await A.getByTestId('send-failed').count(), 0);
      await send(B, 'Back online: all good here.');
      await msg(A, 'Back online: all good here.').waitFor({ timeout: EVENT_MS });
    });

    await step('a long room loads its newest page, and older pages on scroll-up', async () => {
      await A.getByTestId('new-room').click();
      await A.getByTestId('create-room-name').fill(`archive-${sfx}`);
      await A.getByTestId('create-room-submit').click();
      await A.getByTestId('room-title').filter({ hasText: `archive-${sfx}` }).waitFor();
      const id = await A.locator('[data-testid="room-item"].active').getAttribute('data-room');
      const total = 130;
      for (let i = 1; i <= total;) {
        const r = await http(server.base, 'POST', `/api/v1/rooms/${id}/messages`,
          { token: alice.token, body: { body: `archived note ${i}`, client_msg_id: `arch-${i}` } });
        if (r.status === 429) {
          const wait = Math.min(2000, r.json?.error?.retry_after_ms || 100);
          await new Promise((res) => setTimeout(res, wait)); // the server asked for this pause
          continue;
        }
        assert.equal(r.status, 201, r.text);
        i += 1;
      }
      await A.reload();
      await A.getByTestId('room-title').filter({ hasText: `archive-${sfx}` }).waitFor();
      await A.locator(`[data-testid="message"][data-seq="${total}"]`).waitFor();
      const first = await A.locator('[data-testid="message"][data-seq]').count();
      assert.ok(first < total, `all ${first} messages loaded at once`);
      const deadline = Date.now() + UI_MS;
      while (!(await A.locator('[data-testid="message"][data-seq="1"]').count())) {
        assert.ok(Date.now() < deadline, 'older pages did not load on scroll-up');
        await A.getByTestId('timeline').evaluate((t) => { t.scrollTop = 0; });
        await A.waitForFunction(() => !document.querySelector('#timeline-top .spinner'), null, { timeout: UI_MS });
      }
      const seqs = await A.locator('[data-testid="message"][data-seq]').evaluateAll((ns) => ns.map((n) => Number(n.dataset.seq)));
      assert.deepEqual(seqs, Array.from({ length: total }, (_, k) => k + 1));
      await A.getByTestId('room-start').waitFor();
    });

    let searchMissing = false;
    await step('search: Ctrl+Shift+F, results grouped by room with the words marked; a result opens its room at the '
      + 'message, a reply its thread', async () => {
      // the marking folds case and accents, and makes text and <mark>s only, whatever the text
      const text = 'Le CAFÉ est prêt <img src=x onerror=alert(1)> pretty';
      const marked = await A.evaluate(async (t) => {
        const { highlight, queryTerms } = await import('/client/search.js');
        const box = document.createElement('div');
        box.append(...highlight(t, queryTerms('cafe PRET')));
        return { marks: [...box.querySelectorAll('mark')].map((m) => m.textContent), text: box.textContent,
          elements: box.querySelectorAll('*').length };
      }, text);
      assert.deepEqual(marked, { marks: ['CAFÉ', 'prêt', 'pretty'], text, elements: 3 });

      const dlg = A.getByTestId('search-dialog');
      await A.keyboard.press('Control+Shift+F');
      await dlg.waitFor();
      await dlg.getByTestId('search-empty').filter({ hasText: 'Encrypted rooms are not searched' }).waitFor();
      await A.keyboard.press('Escape');
      await dlg.waitFor({ state: 'hidden' });

      const probe = await http(server.base, 'GET', '/api/v1/search?q=x', { token: alice.token });
      if (probe.status === 404) {
        searchMissing = true;
        await A.getByTestId('search-button').click(); // the header's button opens it too
        await dlg.getByTestId('search-input').fill('mockups');
        await dlg.getByTestId('search-error').filter({ hasText: 'not available' }).waitFor({ timeout: EVENT_MS });
        await dlg.getByTestId('search-close').click();
        await dlg.waitFor({ state: 'hidden' });
        console.log('# search: GET /api/v1/search answers 404 (the server part is not built yet): the rest of this step is skipped');
        return;
      }
      assert.equal(probe.status, 200, probe.text);
      // The index may trail the writes: waits until the server finds `body`.
      const indexed = async (q, body) => {
        const deadline = Date.now() + EVENT_MS;
        for (;;) {
          const r = await http(server.base, 'GET', `/api/v1/search?q=${encodeURIComponent(q)}&room=${roomId}`, { token: alice.token });
          assert.equal(r.status, 200, r.text);
          if ((r.json.results || []).some((x) => (x.message.body || '').includes(body))) return;
          assert.ok(Date.now() < deadline, `search for ${q} does not find "${body}": ${r.text}`);
          await A.waitForTimeout(200);
        }
      };
      const group = dlg.locator(`[data-testid="search-group"][data-room="${roomId}"]`);
      await indexed('mockups', 'onboarding mockups are up');
      await A.getByTestId('search-button').click(); // the header's button opens it too
      await dlg.getByTestId('search-input').fill('MOCKUPS');
      await group.getByTestId('search-room').filter({ hasText: roomName }).waitFor({ timeout: EVENT_MS });
      const hit = group.getByTestId('search-result').filter({ hasText: 'onboarding mockups are up' });
      await hit.waitFor();
      assert.deepEqual(await hit.getByTestId('search-hit').allTextContents(), ['mockups']);
      const seq = Number(await hit.getAttribute('data-seq'));
      await shot(A, 'desktop-light-search');
      await A.emulateMedia({ colorScheme: 'dark' });
      await shot(A, 'desktop-dark-search');
      await A.emulateMedia({ colorScheme: 'light' });
      // alice is in the archive room since a reload: the design room is loaded around the message
      await hit.click();
      await dlg.waitFor({ state: 'hidden' });
      await A.getByTestId('room-title').filter({ hasText: roomName }).waitFor();
      await A.locator(`#timeline [data-testid="message"].msg-flash[data-seq="${seq}"]`).waitFor();
      await A.waitForFunction((s) => {
        const n = document.querySelector(`#timeline [data-testid="message"][data-seq="${s}"]`);
        const view = document.getElementById('timeline').getBoundingClientRect();
        const r = n && n.getBoundingClientRect();
        return !!r && r.top >= view.top && r.bottom <= view.bottom;
      }, seq, { timeout: UI_MS });
      // a thread reply opens its thread too, the reply marked
      await indexed('serif', 'Source Serif');
      await A.keyboard.press('Control+Shift+F');
      await dlg.getByTestId('search-input').fill('serif');
      const reply = group.getByTestId('search-result').filter({ hasText: 'Source Serif' });
      await reply.waitFor({ timeout: EVENT_MS });
      const replySeq = Number(await reply.getAttribute('data-seq'));
      await reply.click();
      await A.getByTestId('thread-panel').locator(`[data-testid="message"].msg-flash[data-seq="${replySeq}"]`).waitFor();
      await A.getByTestId('thread-close').click();
    });

    await step('sign out clears the token; signing in brings the rooms back', async () => {
      await A.getByTestId('me-button').click();
      await A.getByTestId('logout-button').click();
      await A.getByTestId('login-form').waitFor();
      assert.equal(await A.evaluate(() => localStorage.getItem('confab.token')), null);
      const old = await http(server.base, 'GET', '/api/v1/me', { token: alice.token });
      assert.equal(old.status, 401, 'the token still works after sign out');
      await A.getByTestId('login-username').fill(alice.username);
      await A.getByTestId('login-password').fill(alice.password);
      await A.getByTestId('login-submit').click();
      await A.locator(`[data-testid="room-item"][data-room="${roomId}"]`).waitFor();
      await A.locator('[data-testid="conn-state"][data-state="connected"]').waitFor();
    });

    await step('no script errors or CSP violations in the pages', async () => {
      // expected while the node was down: failed socket connections and requests
      const expected = (e) => !restarted ? false : /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|Failed to fetch|net::ERR/.test(e);
      // and the search call of a server without search (the step said so)
      const missing = (e) => searchMissing && /status of 404 .*\/api\/v1\/search/.test(e);
      const real = pageErrors.filter((e) => !expected(e) && !missing(e) && !/status of 401 .*\/api\/v1\/logout/.test(e));
      assert.deepEqual(real, []);
      assert.deepEqual(dialogs, []);
    });
  } catch (e) {
    for (const [who, p] of Object.entries(pages)) {
      try { await shot(p, `failure-${who}`); } catch { /* the page may be gone */ }
    }
    reportFailure(e, { server, stderrLog: 'client-confabd.stderr.log', pageErrors });
  } finally {
    await teardown({ browser, server });
  }
  console.log(process.exitCode ? '# FAILED' : '# PASSED');
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

// Dialogs: create a room, the public room directory, a username prompt (new
// direct message, invite), the profile with availability and notifications.

import { api, errorText } from './api.js';
import { $, el, icon } from './dom.js';
import { createRoom, invite, openDm, setMyPresence, updateProfile } from './chat.js';
import { askPermission, permissionText, toast } from './notify.js';
import { presenceOf, setPresence, state } from './store.js';

let handlers = {};

function showError(id, e) {
  const p = $(id);
  p.textContent = typeof e === 'string' ? e : errorText(e);
  p.hidden = false;
}

function busy(form, on) {
  for (const b of form.querySelectorAll('button[type=submit]')) b.disabled = on;
}

export function initDialogs(h) {
  handlers = h;
  for (const d of document.querySelectorAll('dialog')) {
    for (const b of d.querySelectorAll('[data-close]')) {
      if (b.classList.contains('icon-btn') && !b.firstChild) b.appendChild(icon('x'));
      b.addEventListener('click', () => d.close());
    }
  }

  $('create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    const name = $('create-name').value.trim();
    if (!name) return;
    const encrypted = $('create-encrypted').checked;
    const visibility = encrypted ? 'private' : form.querySelector('input[name=visibility]:checked').value;
    busy(form, true);
    try {
      const room = await createRoom(name, $('create-topic').value.trim(), visibility, encrypted);
      $('dlg-create').close();
      handlers.openRoom(room.id);
    } catch (err) { showError('create-error', err); } finally { busy(form, false); }
  });

  // an encrypted room is private
  $('create-encrypted').addEventListener('change', (e) => {
    if (e.target.checked) $('create-dialog-private').checked = true;
  });
  for (const r of document.querySelectorAll('#create-form input[name=visibility]')) {
    r.addEventListener('change', () => { if (r.value === 'public' && r.checked) $('create-encrypted').checked = false; });
  }

  $('directory-filter').addEventListener('input', renderDirectory);

  $('user-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = $('user-input').value.trim().replace(/^@/, '').toLowerCase();
    if (!username || !userAction) return;
    busy(e.target, true);
    try {
      await userAction(username);
      $('dlg-user').close();
    } catch (err) {
      showError('user-error', err.code === 'not_found' ? `There is no user called ${username}.` : err);
    } finally { busy(e.target, false); }
  });

  $('profile-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    busy(e.target, true);
    try {
      const display = $('profile-display').value.trim();
      const fields = { status_text: $('profile-status-text').value.trim() };
      if (display) fields.display_name = display;
      await updateProfile(fields);
      const status = $('profile-presence').value;
      if (status !== presenceOf(state.me.username).status) {
        await setMyPresence(status).catch(() => {});
        setPresence(state.me.username, { status });
      }
      $('dlg-profile').close();
    } catch (err) { showError('profile-error', err); } finally { busy(e.target, false); }
  });
  $('notif-btn').addEventListener('click', async () => {
    await askPermission();
    renderNotifState();
  });
  $('logout-btn').addEventListener('click', () => { $('dlg-profile').close(); handlers.logout(); });
}

function reset(id) {
  const d = $(id);
  for (const p of d.querySelectorAll('.form-error')) { p.hidden = true; p.textContent = ''; }
  return d;
}

export function openCreateRoom() {
  const d = reset('dlg-create');
  $('create-form').reset();
  d.showModal();
  $('create-name').focus();
}

let directory = [];
export async function openDirectory() {
  const d = reset('dlg-directory');
  $('directory-filter').value = '';
  $('directory-list').replaceChildren(el('li', { class: 'muted pad' }, 'Loading…'));
  d.showModal();
  try {
    directory = (await api('GET', '/rooms/public')).rooms || [];
    renderDirectory();
  } catch (e) {
    $('directory-list').replaceChildren(el('li', { class: 'form-error pad' }, errorText(e)));
  }
}

function renderDirectory() {
  const q = $('directory-filter').value.trim().toLowerCase();
  const rooms = directory.filter((r) => !q || r.name.toLowerCase().includes(q) || String(r.topic || '').toLowerCase().includes(q))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (!rooms.length) {
    $('directory-list').replaceChildren(el('li', { class: 'muted pad' }, q ? 'No rooms match.' : 'No public rooms yet. Create the first one!'));
    return;
  }
  $('directory-list').replaceChildren(...rooms.map((r) => {
    const member = state.rooms.has(r.id);
    const btn = el('button', { type: 'button', class: 'btn btn-sm' + (member ? '' : ' btn-primary'),
      testid: member ? 'directory-open' : 'directory-join' }, member ? 'Open' : 'Join');
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        if (!member) await handlers.join(r.id);
        $('dlg-directory').close();
        handlers.openRoom(r.id);
      } catch (e) {
        btn.disabled = false;
        toast({ title: 'Could not join', text: errorText(e), kind: 'error' });
      }
    });
    return el('li', { class: 'directory-item', testid: 'directory-item', dataset: { room: r.id } },
      el('span', { class: 'side-icon' }, icon('hash')),
      el('span', { class: 'side-text' }, el('span', { class: 'side-name' }, r.name),
        el('span', { class: 'side-preview' }, r.topic || 'No topic')),
      btn);
  }));
}

let userAction = null;
function openUserPrompt(title, button, action, withEncryption) {
  const d = reset('dlg-user');
  $('user-encrypted-row').hidden = !withEncryption;
  $('user-encrypted').checked = false;
  $('dlg-user-title').textContent = title;
  $('user-submit').textContent = button;
  $('user-input').value = '';
  userAction = action;
  d.showModal();
  $('user-input').focus();
}

export function openNewDm() {
  openUserPrompt('New direct message', 'Start', async (username) => {
    if (username === state.me.username) throw new Error('That is you.');
    const encrypted = $('user-encrypted').checked;
    const room = await openDm(username, encrypted);
    if (encrypted && !room.encrypted) {
      toast({ title: 'Not encrypted', text: `Your conversation with ${username} already exists and is not end-to-end encrypted.`,
        kind: 'info', timeoutMs: 8000 });
    }
    handlers.openRoom(room.id);
  }, state.e2ee === 'ready');
}

export function openInvite(roomId) {
  const room = state.rooms.get(roomId);
  openUserPrompt(`Invite someone to ${room ? room.name : 'this room'}`, 'Invite', async (username) => {
    await invite(roomId, username);
    toast({ title: `Invited ${username}`, text: room ? `to ${room.name}` : '', kind: 'info', timeoutMs: 4000 });
  });
}

function renderNotifState() {
  $('notif-state').textContent = permissionText();
  $('notif-btn').hidden = !('Notification' in window) || Notification.permission !== 'default';
}

export function openProfile() {
  const d = reset('dlg-profile');
  const me = state.me;
  $('profile-username').textContent = `Signed in as @${me.username}`;
  $('profile-display').value = me.display_name || '';
  $('profile-status-text').value = me.status_text || '';
  const p = presenceOf(me.username).status;
  $('profile-presence').value = ['away', 'dnd'].includes(p) ? p : 'online';
  renderNotifState();
  d.showModal();
}

// A modal yes/no question; resolves true when confirmed.
export function confirmDialog(title, text, yes) {
  const d = $('dlg-confirm');
  $('dlg-confirm-title').textContent = title;
  $('dlg-confirm-text').textContent = text;
  $('confirm-yes').textContent = yes;
  d.returnValue = '';
  d.showModal();
  return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'yes'), { once: true }));
}

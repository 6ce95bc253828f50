// The open room around the timeline: header, composer (Enter sends,
// Shift+Enter breaks the line, typing state, attach and drag-and-drop),
// typing indicator and the member list with presence.

import { $, avatar, el, fmtLastSeen, icon, presenceDot } from './dom.js';
import { loadLatest, loadMembers, sendMessage, setTyping, showLatest } from './chat.js';
import { displayName, on, presenceOf, roomTitle, state } from './store.js';
import { editLast } from './actions.js';
import { nodeOfSeq, showRoom, stickToBottom } from './timeline.js';
import { toast } from './notify.js';
import { openSafety, renderTrust } from './trust.js';

const MAX_FILE = 25 * 1024 * 1024;
let handlers = {};
let roomId = null;
const drafts = new Map();

export function initRoom(h) {
  handlers = h;
  $('back-btn').appendChild(icon('back'));
  $('attach-btn').appendChild(icon('clip'));
  $('send-btn').appendChild(icon('send'));
  $('invite-btn').appendChild(icon('userplus'));
  $('leave-btn').appendChild(icon('logout'));
  $('members-btn').prepend(icon('users'));
  $('members-close').appendChild(icon('x'));
  $('back-btn').addEventListener('click', () => handlers.closeRoom());
  $('invite-btn').addEventListener('click', () => handlers.invite(roomId));
  $('leave-btn').addEventListener('click', () => handlers.leave(roomId));
  $('members-btn').addEventListener('click', () => toggleMembers());
  $('members-close').addEventListener('click', () => toggleMembers(false));

  const input = $('composer-input');
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'ArrowUp' && !input.value && roomId && editLast(roomId, nodeOfSeq)) {
      e.preventDefault();
    } else if (e.key === 'Escape' && !$('members-panel').hidden && window.innerWidth < 1100) toggleMembers(false);
  });
  input.addEventListener('input', () => {
    autosize();
    if (roomId) setTyping(roomId, input.value.trim().length > 0);
  });
  input.addEventListener('blur', () => { if (roomId) setTyping(roomId, false); });
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  $('attach-btn').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', (e) => {
    sendFiles([...e.target.files]);
    e.target.value = '';
  });
  initDrop();

  on('typing', (id) => { if (id === roomId) renderTyping(); });
  on('users', () => { if (roomId) { renderHeader(); renderTyping(); renderMembers(); } });
  on('members', (id) => { if (id === roomId) { renderMembers(); renderHeader(); } });
  on('presence', () => { if (roomId) { renderMembers(); renderHeader(); } });
  on('rooms', () => { if (roomId) renderHeader(); });
  on('conn', renderComposerState);
}

export function openRoomView(id) {
  const room = state.rooms.get(id);
  if (roomId && roomId !== id) {
    setTyping(roomId, false);
    drafts.set(roomId, $('composer-input').value);
  }
  roomId = room ? id : null;
  $('room-view').hidden = !room;
  $('empty-view').hidden = !!room;
  document.body.classList.toggle('in-room', !!room);
  showRoom(roomId);
  if (!room) { renderTrust(null); return; }
  $('composer-input').value = drafts.get(id) || '';
  autosize();
  renderHeader();
  renderTyping();
  renderMembers();
  renderComposerState();
  if (!room.loaded && state.connState === 'connected') loadLatest(room).catch((e) => handlers.error('Could not load messages', e));
  if (state.connState === 'connected') loadMembers(room).catch(() => {});
  if (window.matchMedia('(pointer: fine)').matches) $('composer-input').focus();
}

function autosize() {
  const t = $('composer-input');
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 200) + 'px';
}

function submit() {
  const input = $('composer-input');
  const body = input.value.replace(/^\s*\n|\s+$/g, '');
  if (!roomId || !body.trim()) return;
  if ([...body].length > 8000) {
    toast({ title: 'Message too long', text: 'Messages can have up to 8,000 characters.', kind: 'error' });
    return;
  }
  // a send goes to the end of the room: back from a window around an older message first
  const room = state.rooms.get(roomId);
  if (room && room.hasNewer) showLatest(room).catch((e) => handlers.error('Could not load messages', e));
  sendMessage(roomId, body);
  input.value = '';
  drafts.delete(roomId);
  autosize();
  setTyping(roomId, false);
  stickToBottom();
}

export function sendFiles(files) {
  if (!roomId) return;
  for (const f of files) {
    if (f.size > MAX_FILE) {
      toast({ title: `${f.name} is too large`, text: 'Files can be up to 25 MB.', kind: 'error' });
      continue;
    }
    sendMessage(roomId, '', f);
  }
  const room = state.rooms.get(roomId);
  if (room && room.hasNewer) showLatest(room).catch((e) => handlers.error('Could not load messages', e));
  stickToBottom();
}

function initDrop() {
  const col = $('timeline-col');
  const overlay = $('drop-overlay');
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  col.addEventListener('dragenter', (e) => { if (!hasFiles(e)) return; e.preventDefault(); depth += 1; overlay.hidden = false; });
  col.addEventListener('dragover', (e) => { if (!hasFiles(e)) return; e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  col.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) overlay.hidden = true; });
  col.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
    sendFiles([...e.dataTransfer.files]);
  });
  // pasting an image from the clipboard attaches it too
  $('composer-input').addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) { e.preventDefault(); sendFiles(files); }
  });
}

function renderHeader() {
  const room = state.rooms.get(roomId);
  if (!room) { renderTrust(null); return; }
  const dm = room.kind === 'dm';
  $('room-title').textContent = roomTitle(room);
  const iconBox = $('room-icon');
  if (dm) {
    const p = presenceOf(room.partner);
    iconBox.replaceChildren(el('span', { class: 'side-avatar' }, avatar(room.partner || room.name, roomTitle(room), 'sm'),
      presenceDot(p.status, 'header-presence')));
    const u = state.users.get(room.partner);
    const st = p.status === 'offline' ? fmtLastSeen(p.last_seen) : p.status === 'dnd' ? 'Do not disturb' : p.status;
    $('room-topic').textContent = [st, u && u.status_text].filter(Boolean).join(' · ');
  } else {
    iconBox.replaceChildren(icon(room.encrypted ? 'shield' : room.visibility === 'private' ? 'lock' : 'hash'));
    $('room-topic').textContent = room.topic || (room.visibility === 'private' ? 'Private room' : 'Public room');
  }
  renderTrust(roomId);
  $('invite-btn').hidden = dm;
  $('leave-btn').hidden = dm;
  $('members-count').textContent = room.members ? String(room.members.size) : '';
  $('composer-input').placeholder = dm ? `Message ${roomTitle(room)}` : `Message #${room.name}`;
}

function renderComposerState() {
  const off = state.connState !== 'connected';
  $('composer').classList.toggle('offline', off);
}

function renderTyping() {
  const room = state.rooms.get(roomId);
  const box = $('typing');
  const names = room ? [...room.typing.keys()].map(displayName) : [];
  box.dataset.users = room ? [...room.typing.keys()].join(',') : '';
  if (!names.length) { box.replaceChildren(); return; }
  const text = names.length === 1 ? `${names[0]} is typing…`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
  box.replaceChildren(el('span', { class: 'typing-dots', 'aria-hidden': 'true' }, el('i'), el('i'), el('i')),
    el('span', {}, text));
}

export function toggleMembers(force) {
  const panel = $('members-panel');
  const show = force === undefined ? panel.hidden : force;
  panel.hidden = !show;
  $('members-btn').setAttribute('aria-expanded', String(show));
  document.body.classList.toggle('members-open', show);
  if (show) renderMembers();
}

const ORDER = { online: 0, dnd: 1, away: 2, offline: 3 };

function renderMembers() {
  const room = state.rooms.get(roomId);
  const list = $('member-list');
  if (!room || $('members-panel').hidden) return;
  if (!room.members) { list.replaceChildren(el('li', { class: 'muted pad' }, 'Loading…')); return; }
  const me = state.me.username;
  const status = (u) => (u === me && state.connState === 'connected' && presenceOf(u).status === 'offline'
    ? 'online' : presenceOf(u).status);
  const names = [...room.members.keys()].sort((a, b) => (ORDER[status(a)] ?? 3) - (ORDER[status(b)] ?? 3) ||
    displayName(a).localeCompare(displayName(b)));
  list.replaceChildren(...names.map((u) => {
    const info = room.members.get(u);
    const user = state.users.get(u);
    const s = status(u);
    return el('li', { class: 'member', testid: 'member', dataset: { user: u, status: s } },
      el('span', { class: 'side-avatar' }, avatar(u, displayName(u), 'sm'), presenceDot(s)),
      el('span', { class: 'side-text' },
        el('span', { class: 'side-line' },
          el('span', { class: 'side-name' }, displayName(u), u === me ? el('span', { class: 'muted' }, ' (you)') : null),
          info.role === 'owner' ? el('span', { class: 'role' }, 'owner') : null),
        el('span', { class: 'side-preview' }, (user && user.status_text) ||
          (s === 'offline' ? fmtLastSeen(presenceOf(u).last_seen) : '@' + u))),
      u !== me && room.encrypted && state.e2ee === 'ready' ? el('button', { type: 'button', class: 'icon-btn', testid: 'member-safety',
        'aria-label': `Safety number with ${displayName(u)}`, title: 'Safety number', onclick: () => openSafety(u) },
      icon('shieldcheck')) : null,
      u !== me && room.kind !== 'dm' ? el('button', { type: 'button', class: 'icon-btn', 'aria-label': `Message ${displayName(u)}`,
        title: 'Direct message', onclick: () => handlers.dm(u) }, icon('message')) : null);
  }));
}

export function activeRoomId() { return roomId; }

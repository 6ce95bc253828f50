// What a user does to a message already sent (PROTOCOL.md section 8): the
// hover toolbar (react, reply in thread, edit your own, delete your own or
// any as the room's owner), a small emoji picker with the emoji used last
// first, editing in place (Enter saves, Escape cancels; Up in an empty
// composer edits your last message), and reaction chips that toggle yours.

import { el, icon } from './dom.js';
import { errorText } from './api.js';
import { deleteMessage, editMessage, react } from './chat.js';
import { confirmDialog } from './dialogs.js';
import { toast } from './notify.js';
import { displayName, emit, sortedMessages, state } from './store.js';

const QUICK = ['👍', '❤️', '😂', '🎉', '👀', '✅', '🙏', '🔥', '👏', '😮', '😢', '🤔', '🚀', '💯', '👎', '➕'];
const RECENT_MAX = 8;

const failed = (title) => (e) => toast({ title, text: errorText(e), kind: 'error' });
const mine = (m) => m.from === state.me.username;
const isOwner = (room) => !!(room && room.members && (room.members.get(state.me.username) || {}).role === 'owner');

// The emoji this user reacted with last, newest first (this browser only).
const recentKey = () => `confab.emoji.recent.${state.me.username}`;
function recentEmoji() {
  let list;
  try { list = JSON.parse(localStorage.getItem(recentKey()) || '[]'); } catch { list = []; }
  return Array.isArray(list) ? list.filter((e) => typeof e === 'string' && e).slice(0, RECENT_MAX) : [];
}

function noteRecent(emoji) {
  const list = [emoji, ...recentEmoji().filter((e) => e !== emoji)].slice(0, RECENT_MAX);
  try { localStorage.setItem(recentKey(), JSON.stringify(list)); } catch { /* storage full or off: not kept */ }
}

function toggle(roomId, m, emoji) {
  const r = (m.reactions || []).find((x) => x.emoji === emoji);
  const active = !(r && (r.users || []).includes(state.me.username));
  if (active) noteRecent(emoji);
  react(roomId, m.seq, emoji, active).catch(failed('Could not react'));
}

// The reaction chips of a message: a click adds or removes yours.
export function reactionChips(roomId, m) {
  if (!Array.isArray(m.reactions) || !m.reactions.length || m.deleted) return null;
  return el('div', { class: 'msg-reactions' }, m.reactions.map((r) => {
    const users = r.users || [];
    return el('button', {
      type: 'button', class: 'reaction' + (users.includes(state.me.username) ? ' reaction-mine' : ''), testid: 'reaction',
      title: users.map(displayName).join(', '), dataset: { emoji: String(r.emoji) },
      'aria-pressed': String(users.includes(state.me.username)), onclick: () => toggle(roomId, m, r.emoji),
    }, String(r.emoji), el('span', { class: 'reaction-count' }, String(r.count)));
  }));
}

// Recently used emoji first (each emoji once in the picker), then the rest of the set.
function picker(roomId, m, anchor) {
  const recent = recentEmoji();
  const button = (e) => el('button', { type: 'button', class: 'emoji-btn', role: 'menuitem', 'aria-label': `React with ${e}`,
    dataset: { emoji: e }, onclick: () => { box.remove(); toggle(roomId, m, e); } }, e);
  const box = el('div', { class: 'emoji-picker', testid: 'emoji-picker', role: 'menu' },
    recent.length ? el('div', { class: 'emoji-row emoji-recent', testid: 'emoji-recent', role: 'group', 'aria-label': 'Recently used' },
      recent.map(button)) : null,
    el('div', { class: 'emoji-row', role: 'group', 'aria-label': 'Emoji' }, QUICK.filter((e) => !recent.includes(e)).map(button)));
  anchor.after(box);
  const close = (ev) => { if (!box.contains(ev.target)) { box.remove(); document.removeEventListener('mousedown', close); } };
  document.addEventListener('mousedown', close);
}

// The hover toolbar of a delivered message (none for deleted or unreadable
// ones). inThread: in the thread panel, where replying is its composer.
export function messageActions(roomId, m, node, { inThread = false } = {}) {
  if (m.deleted || m.undecryptable) return null;
  const room = state.rooms.get(roomId);
  const bar = el('div', { class: 'msg-actions', testid: 'message-actions' });
  bar.append(el('button', { type: 'button', class: 'icon-btn', testid: 'react-button', 'aria-label': 'Add a reaction',
    title: 'Add a reaction', onclick: (e) => picker(roomId, m, e.currentTarget.parentElement) }, '☺'));
  if (!inThread && !m.thread) {
    bar.append(el('button', { type: 'button', class: 'icon-btn', testid: 'thread-button', 'aria-label': 'Reply in thread',
      title: 'Reply in thread', onclick: () => emit('open-thread', { room: roomId, seq: m.seq }) }, icon('message')));
  }
  if (mine(m) && typeof m.body === 'string' && m.body) {
    bar.append(el('button', { type: 'button', class: 'icon-btn', testid: 'edit-button', 'aria-label': 'Edit message',
      title: 'Edit', onclick: () => startEdit(roomId, m, node()) }, '✎'));
  }
  if (mine(m) || isOwner(room)) {
    bar.append(el('button', { type: 'button', class: 'icon-btn', testid: 'delete-button', 'aria-label': 'Delete message',
      title: 'Delete', onclick: () => remove(roomId, m) }, icon('x')));
  }
  return bar;
}

async function remove(roomId, m) {
  const ok = await confirmDialog('Delete this message?', 'It is removed for everyone, with its file. This cannot be undone.',
    'Delete');
  if (ok) deleteMessage(roomId, m.seq).catch(failed('Could not delete'));
}

// Replaces the message's body with an editor until it is saved or cancelled.
export function startEdit(roomId, m, node) {
  const body = node && node.querySelector('.msg-body');
  if (!body || node.querySelector('.msg-editor')) return;
  const input = el('textarea', { class: 'msg-editor-input', testid: 'edit-input', rows: 2, maxlength: 8000 });
  input.value = m.body;
  const done = () => { form.replaceWith(body); };
  const save = () => {
    const text = input.value.replace(/\s+$/, '');
    if (!text.trim() || text === m.body) { done(); return; }
    editMessage(roomId, m.seq, text, m).then(done, failed('Could not edit'));
  };
  const form = el('form', { class: 'msg-editor', testid: 'message-editor', onsubmit: (e) => { e.preventDefault(); save(); } },
    input, el('div', { class: 'msg-editor-actions' },
      el('small', { class: 'muted' }, 'Enter to save · Escape to cancel'),
      el('button', { type: 'button', class: 'link-btn', onclick: done }, 'Cancel'),
      el('button', { type: 'submit', class: 'btn btn-sm btn-primary', testid: 'edit-save' }, 'Save')));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); save(); }
    if (e.key === 'Escape') { e.preventDefault(); done(); }
  });
  body.replaceWith(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

// Up in an empty composer: the newest own message that can be edited, of
// `messages` (default: the room's timeline, which has no thread replies).
export function editLast(roomId, nodeOf, messages) {
  const room = state.rooms.get(roomId);
  if (!room) return false;
  const list = messages || sortedMessages(room).filter((m) => !m.thread);
  const last = [...list].reverse().find((m) => mine(m) && !m.deleted && !m.undecryptable && m.body);
  if (!last) return false;
  startEdit(roomId, last, nodeOf(last.seq));
  return true;
}

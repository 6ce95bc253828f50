// Notifications: in-app toasts (DMs, mentions, invites, errors), browser
// notifications while the tab is hidden and the user allowed them, and the
// unread count in the tab title.

import { $, avatar, el, icon } from './dom.js';
import { displayName, on, state, totalUnread } from './store.js';

const BASE_TITLE = 'Confab';
let openRoom = () => {};
let joinInvite = () => {};

export function initNotify(handlers) {
  openRoom = handlers.openRoom;
  joinInvite = handlers.joinInvite;
  on('notification', onNotification);
  on('rooms', updateTitle);
  on('unread', updateTitle);
}

export function updateTitle() {
  const n = state.me ? totalUnread() : 0;
  const room = state.rooms.get(state.activeRoom);
  const name = room ? (room.kind === 'dm' ? displayName(room.partner || room.name) : room.name) : '';
  document.title = `${n > 0 ? `(${n}) ` : ''}${name ? name + ' · ' : ''}${BASE_TITLE}`;
}

// A toast: {title, text, kind: info|error|dm|mention|invite, user, actions: [{label, run}], testid}
export function toast({ title, text, kind = 'info', user, actions = [], timeoutMs = 7000 }) {
  const box = $('toasts');
  const t = el('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', testid: 'toast',
    dataset: { kind } });
  const close = () => t.remove();
  const lead = user ? avatar(user, displayName(user), 'sm') : el('span', { class: 'toast-icon' },
    icon(kind === 'error' ? 'alert' : kind === 'invite' ? 'userplus' : 'bell'));
  t.append(lead, el('div', { class: 'toast-main' },
    el('div', { class: 'toast-title' }, title),
    text ? el('div', { class: 'toast-text' }, text) : null,
    actions.length ? el('div', { class: 'toast-actions' }, actions.map((a) =>
      el('button', { type: 'button', class: 'btn btn-sm' + (a.primary ? ' btn-primary' : ''),
        onclick: () => { close(); a.run(); } }, a.label))) : null),
  el('button', { type: 'button', class: 'icon-btn toast-close', 'aria-label': 'Dismiss notification', onclick: close },
    icon('x')));
  box.appendChild(t);
  while (box.children.length > 4) box.firstChild.remove();
  if (timeoutMs) setTimeout(close, timeoutMs);
  return t;
}

function onNotification(n) {
  const from = n.from || '';
  const who = displayName(from);
  const room = state.rooms.get(n.room);
  const roomName = room ? room.name : (n.preview || 'a room');
  // the room is on screen and the page is visible: the message itself is the notification
  const looking = n.room === state.activeRoom && document.visibilityState === 'visible' && n.reason !== 'invite';
  let title;
  let text = n.preview || '';
  let actions = [];
  if (n.reason === 'dm') {
    title = who;
    actions = [{ label: 'Open', primary: true, run: () => openRoom(n.room) }];
  } else if (n.reason === 'mention') {
    title = `${who} mentioned you in ${roomName}`;
    actions = [{ label: 'Open', primary: true, run: () => openRoom(n.room) }];
  } else if (n.reason === 'invite') {
    title = `${who} invited you to ${n.preview || 'a room'}`;
    text = '';
    actions = [{ label: 'Join', primary: true, run: () => joinInvite(n.room) }];
  } else {
    title = `Notification from ${who}`;
  }
  if (!looking) toast({ title, text, kind: n.reason, user: from || undefined, actions, timeoutMs: 9000 });
  if (document.visibilityState === 'hidden' && 'Notification' in window && Notification.permission === 'granted') {
    try {
      const bn = new Notification(title, { body: text, tag: `${n.room}:${n.seq}` });
      bn.onclick = () => { window.focus(); if (n.reason === 'invite') joinInvite(n.room); else openRoom(n.room); bn.close(); };
    } catch { /* some browsers only allow notifications from a service worker */ }
  }
}

// Asks for browser notification permission (needs a user gesture).
export async function askPermission() {
  if (!('Notification' in window)) return 'unsupported';
  if (Notification.permission !== 'default') return Notification.permission;
  return Notification.requestPermission();
}

export function permissionText() {
  if (!('Notification' in window)) return 'Not supported by this browser';
  return { granted: 'On while this tab is in the background', denied: 'Blocked in the browser settings',
    default: 'Off' }[Notification.permission] || 'Off';
}

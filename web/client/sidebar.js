// The sidebar: connection state, my rooms (unread badges, last activity),
// direct messages with presence dots, pending invitations and my own bar.

import { $, avatar, el, fmtActivity, icon, presenceDot } from './dom.js';
import {
  displayName, on, presenceOf, roomTitle, sortedRooms, state,
} from './store.js';

let handlers = {};
let filter = '';

export function initSidebar(h) {
  handlers = h;
  $('browse-rooms').appendChild(icon('compass'));
  $('new-room').appendChild(icon('plus'));
  $('new-dm').appendChild(icon('plus'));
  $('room-filter').addEventListener('input', (e) => { filter = e.target.value.trim().toLowerCase(); renderLists(); });
  $('room-filter').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      const first = document.querySelector('#room-list .side-item, #dm-list .side-item');
      if (first) first.click();
    } else if (e.key === 'Escape') { e.target.value = ''; filter = ''; renderLists(); }
  });
  for (const t of ['rooms', 'presence', 'users', 'active', 'unread']) on(t, renderLists);
  on('invites', renderInvites);
  on('conn', () => { renderConn(); renderMe(); });
  on('me', renderMe);
  on('presence', (u) => { if (state.me && u === state.me.username) renderMe(); });
}

export function renderSidebar() {
  renderLists();
  renderInvites();
  renderConn();
  renderMe();
}

function preview(room) {
  const m = room.lastPreview;
  if (!m) return room.kind === 'dm' ? 'No messages yet' : (room.topic || (room.visibility === 'private' ? 'Private room' : 'Public room'));
  const who = m.from === state.me.username ? 'You' : displayName(m.from).split(' ')[0];
  const what = m.deleted ? 'Message deleted' : m.undecryptable ? 'Encrypted message' : m.body || (m.file ? `shared ${m.file.name}` : m.e2ee ? 'Encrypted message' : '');
  return room.kind === 'dm' && m.from !== state.me.username ? what : `${who}: ${what}`;
}

function item(room) {
  const active = room.id === state.activeRoom;
  const unread = room.unread > 0 && !active ? room.unread : 0;
  const lead = room.kind === 'dm'
    ? el('span', { class: 'side-avatar' }, avatar(room.partner || room.name, roomTitle(room), 'sm'),
      presenceDot(presenceOf(room.partner).status))
    : el('span', { class: 'side-icon' }, icon(room.encrypted ? 'shield' : room.visibility === 'private' ? 'lock' : 'hash'));
  const a = el('a', {
    href: `#/room/${encodeURIComponent(room.id)}`, class: 'side-item' + (active ? ' active' : '') + (unread ? ' unread' : ''),
    testid: room.kind === 'dm' ? 'dm-item' : 'room-item', 'aria-current': active ? 'page' : null,
    dataset: { room: room.id, unread: String(room.unread || 0), partner: room.partner || '', encrypted: room.encrypted ? '1' : '' },
  }, lead,
  el('span', { class: 'side-text' },
    el('span', { class: 'side-line' },
      el('span', { class: 'side-name', testid: 'room-name' }, roomTitle(room),
        room.encrypted && room.kind === 'dm' ? el('span', { class: 'side-e2ee', title: 'End-to-end encrypted' }, icon('shield')) : null),
      el('span', { class: 'side-time', testid: 'last-activity' }, fmtActivity(room.lastTs))),
    el('span', { class: 'side-line' },
      el('span', { class: 'side-preview' }, preview(room)),
      unread ? el('span', { class: 'badge', testid: 'unread-badge', 'aria-label': `${unread} unread` },
        unread > 99 ? '99+' : String(unread)) : null)));
  return el('li', {}, a);
}

function matches(room) {
  if (!filter) return true;
  return roomTitle(room).toLowerCase().includes(filter) || String(room.partner || '').includes(filter);
}

function renderLists() {
  if (!state.me) return;
  const rooms = sortedRooms('room').filter(matches);
  const dms = sortedRooms('dm').filter(matches);
  $('room-list').replaceChildren(...rooms.map(item));
  if (!rooms.length) {
    $('room-list').appendChild(el('li', { class: 'side-empty' }, filter ? 'No matching rooms' :
      el('button', { type: 'button', class: 'link-btn', onclick: () => handlers.browse() }, 'Browse public rooms')));
  }
  $('dm-list').replaceChildren(...dms.map(item));
  if (!dms.length) {
    $('dm-list').appendChild(el('li', { class: 'side-empty' }, filter ? 'No matching conversations' :
      el('button', { type: 'button', class: 'link-btn', onclick: () => handlers.newDm() }, 'Message someone')));
  }
}

function renderInvites() {
  const list = [...state.invites.values()];
  $('invites-section').hidden = list.length === 0;
  $('invite-list').replaceChildren(...list.map((inv) => el('li', { class: 'invite-item', testid: 'invite-item',
    dataset: { room: inv.room } },
  el('span', { class: 'side-icon' }, icon('lock')),
  el('span', { class: 'side-text' }, el('span', { class: 'side-name' }, inv.name || 'Private room'),
    inv.from ? el('span', { class: 'side-preview' }, `from ${displayName(inv.from)}`) : null),
  el('button', { type: 'button', class: 'btn btn-sm btn-primary', testid: 'invite-join',
    onclick: () => handlers.joinInvite(inv.room) }, 'Join'))));
}

const CONN_TEXT = { connected: 'Connected', connecting: 'Connecting…', disconnected: 'Offline', idle: '' };

function renderConn() {
  const s = state.connState;
  const c = $('conn-state');
  c.dataset.state = s;
  c.textContent = CONN_TEXT[s] || s;
  c.title = s === 'connected' ? `Connected to node ${state.connDetail.node || ''}` : c.textContent;
  const banner = $('conn-banner');
  const down = s === 'disconnected' || (s === 'connecting' && (state.connDetail.attempt || 0) > 0);
  banner.hidden = !down;
  banner.dataset.state = s;
  if (down) updateBannerText();
}

let bannerTimer = null;
function updateBannerText() {
  clearTimeout(bannerTimer);
  const s = state.connState;
  if (s === 'disconnected') {
    const secs = Math.max(0, Math.ceil(((state.connDetail.retryAt || 0) - Date.now()) / 1000));
    $('conn-banner-text').textContent = `Connection lost. Reconnecting in ${secs} s…`;
    bannerTimer = setTimeout(updateBannerText, 1000);
  } else if (s === 'connecting') {
    $('conn-banner-text').textContent = 'Reconnecting…';
  }
}

function renderMe() {
  const me = state.me;
  if (!me) return;
  const p = presenceOf(me.username);
  const status = state.connState === 'connected' ? (p.status === 'offline' ? 'online' : p.status) : 'offline';
  $('me-button').replaceChildren(
    el('span', { class: 'side-avatar' }, avatar(me.username, me.display_name, 'md'), presenceDot(status, 'my-presence')),
    el('span', { class: 'side-text' },
      el('span', { class: 'side-name', testid: 'me-name' }, me.display_name || me.username),
      el('span', { class: 'side-preview', testid: 'me-status' }, me.status_text || `@${me.username}`)),
    icon('menu', 'me-more'));
}

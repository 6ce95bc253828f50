// What the user sees of end-to-end encryption around the open room: the
// "encrypted" / "verified" mark in the header, the safety number dialog
// (compare, mark verified), and the warning when a partner's devices
// changed. The keys behind them are keys.js's.

import { $, icon } from './dom.js';
import { dismissKeyChange, isVerified, safetyNumberWith, setVerified } from './keys.js';
import { displayName, on, state } from './store.js';
import { toast } from './notify.js';

let roomId = null;
let safetyUser = null;

const others = (room) => (room.kind === 'dm' ? [room.partner].filter(Boolean)
  : [...(room.members ? room.members.keys() : [])].filter((u) => u !== state.me.username));

export function initTrust() {
  $('safety-btn').appendChild(icon('shieldcheck'));
  $('safety-btn').addEventListener('click', () => {
    const room = state.rooms.get(roomId);
    if (room && room.partner) openSafety(room.partner);
  });
  $('safety-toggle').addEventListener('click', async () => {
    if (!safetyUser) return;
    try {
      await setVerified(safetyUser, !await isVerified(safetyUser));
      await renderSafety();
    } catch (e) { toast({ title: 'Could not change the mark', text: String(e.message || e), kind: 'error' }); }
  });
  $('key-warning-compare').addEventListener('click', () => {
    const room = state.rooms.get(roomId);
    const changed = room ? others(room).filter((u) => state.keyChanges.has(u)) : [];
    if (changed.length) openSafety(changed[0]);
  });
  $('key-warning-dismiss').addEventListener('click', () => {
    const room = state.rooms.get(roomId);
    for (const u of room ? others(room) : []) if (state.keyChanges.has(u)) dismissKeyChange(u).catch(() => {});
  });
  const again = () => renderTrust(roomId);
  on('keychange', again);
  on('members', (id) => { if (id === roomId) again(); });
  on('rooms', again);
  on('e2ee', () => {
    $('app').dataset.e2ee = state.e2ee; // this browser's device: ready or unsupported
    again();
  });
}

// The header mark and the warning of room `id` (null: none open).
export function renderTrust(id) {
  roomId = id;
  const room = state.rooms.get(id);
  const mark = $('room-e2ee');
  const warn = $('key-warning');
  if (!room || !room.encrypted) {
    mark.hidden = true;
    $('safety-btn').hidden = true;
    warn.hidden = true;
    return;
  }
  mark.hidden = false;
  $('safety-btn').hidden = room.kind !== 'dm' || !room.partner || state.e2ee !== 'ready';
  const setMark = (verified) => {
    if (roomId !== id) return;
    mark.dataset.verified = verified ? '1' : '';
    mark.replaceChildren(icon(verified ? 'shieldcheck' : 'shield'),
      document.createTextNode(verified ? 'Verified' : 'Encrypted'));
    mark.title = verified ? `You compared safety numbers with ${displayName(room.partner)}`
      : 'End-to-end encrypted: only the members\' devices can read it';
  };
  setMark(false);
  if (room.kind === 'dm' && room.partner && state.e2ee === 'ready') isVerified(room.partner).then(setMark, () => {});
  const changed = others(room).filter((u) => state.keyChanges.has(u));
  if (state.e2ee === 'unsupported') {
    $('key-warning-text').textContent = 'This browser cannot use end-to-end encryption here: it needs a secure connection (HTTPS).';
    $('key-warning-compare').hidden = true;
    $('key-warning-dismiss').hidden = true;
    warn.hidden = false;
    return;
  }
  warn.hidden = !changed.length;
  $('key-warning-compare').hidden = false;
  $('key-warning-dismiss').hidden = false;
  if (changed.length) {
    const names = changed.map(displayName);
    const who = names.length === 1 ? `${names[0]}'s` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}'s`;
    $('key-warning-text').textContent = `${who} devices changed. Compare safety numbers before you share anything sensitive.`;
  }
}

export function openSafety(username) {
  safetyUser = username;
  $('dlg-safety-title').textContent = `Safety number with ${displayName(username)}`;
  $('safety-intro').textContent = `Compare these digits with the ones ${displayName(username)} sees, in person or on a call. ` +
    'If they match, nobody else can read your conversation. They change whenever a device of either of you does.';
  $('safety-number').textContent = '…';
  $('safety-state').textContent = '';
  if (!$('dlg-safety').open) $('dlg-safety').showModal();
  renderSafety().catch((e) => { $('safety-number').textContent = `Cannot compute it: ${e.message || e}`; });
}

async function renderSafety() {
  const user = safetyUser;
  const [number, verified] = await Promise.all([safetyNumberWith(user), isVerified(user)]);
  if (user !== safetyUser) return;
  $('safety-number').textContent = number;
  $('safety-state').textContent = verified ? `You have verified ${displayName(user)}.` : 'Not verified.';
  $('safety-state').dataset.verified = verified ? '1' : '';
  $('safety-toggle').textContent = verified ? 'Clear verification' : 'Mark as verified';
}

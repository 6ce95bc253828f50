// Entry point: signs in (or restores the stored token), wires the views
// together and routes #/room/<id>. Plain ES modules, no build step.

import { api, auth, errorText, revokeBlobs, setUnauthorizedHandler } from './api.js';
import { $ } from './dom.js';
import { initAuth, showAuth } from './auth.js';
import {
  joinRoom, leaveRoom, loadAround, openDm, refreshRooms, retryConnectionNow, startChat, stopChat,
} from './chat.js';
import {
  confirmDialog, initDialogs, openCreateRoom, openDirectory, openInvite, openNewDm, openProfile,
} from './dialogs.js';
import { initLightbox } from './files.js';
import { initNotify, toast, updateTitle } from './notify.js';
import { initRoom, openRoomView, toggleMembers } from './room.js';
import { initSearch, openSearch, resetSearch } from './search.js';
import { initSidebar, renderSidebar } from './sidebar.js';
import { emit, on, resetState, state } from './store.js';
import { closeThread, initThread, openThread } from './thread.js';
import { initTimeline, revealMessage } from './timeline.js';
import { initTrust } from './trust.js';

function error(title, e) {
  toast({ title, text: errorText(e), kind: 'error' });
}

function openRoom(id) {
  const want = `#/room/${encodeURIComponent(id)}`;
  if (location.hash !== want) location.hash = want;
  else route();
}

// Opens a room now, without waiting for the hashchange (what comes next needs it on screen).
function openRoomNow(id) {
  const want = `#/room/${encodeURIComponent(id)}`;
  if (location.hash !== want) history.pushState(null, '', want);
  route();
}

// A search result: its room opened at the message, with the history around
// it, and its thread panel when it is a reply.
async function showMessage(m) {
  if (!state.rooms.has(m.room)) await refreshRooms().catch(() => {});
  const room = state.rooms.get(m.room);
  if (!room) { toast({ title: 'Not in that room any more', kind: 'error' }); return; }
  const at = m.thread || m.seq;
  try {
    await loadAround(room, at);
  } catch (e) { error('Could not load messages', e); return; }
  openRoomNow(room.id);
  if (m.thread) openThread(room.id, m.thread, { highlight: m.seq }).catch(() => {});
  else closeThread();
  revealMessage(at);
}

function closeRoom() {
  if (location.hash) history.pushState(null, '', location.pathname);
  route();
}

function route() {
  if (!state.me) return;
  const m = /^#\/room\/(.+)$/.exec(location.hash);
  const id = m ? decodeURIComponent(m[1]) : null;
  state.activeRoom = id && state.rooms.has(id) ? id : null;
  openRoomView(state.activeRoom);
  emit('active');
  updateTitle();
  if (window.innerWidth < 1100) toggleMembers(false);
}

async function joinInvite(id) {
  try {
    await joinRoom(id);
    openRoom(id);
  } catch (e) { error('Could not join', e); }
}

async function leave(id) {
  const room = state.rooms.get(id);
  if (!room) return;
  const ok = await confirmDialog(`Leave ${room.name}?`, room.visibility === 'private'
    ? 'This room is private: you will need a new invite to come back.' : 'You can join again from the directory.', 'Leave room');
  if (!ok) return;
  try {
    await leaveRoom(id);
    closeRoom();
  } catch (e) { error('Could not leave', e); }
}

async function dm(username) {
  try {
    const room = await openDm(username);
    openRoom(room.id);
  } catch (e) { error('Could not open the conversation', e); }
}

async function logout() {
  try { await api('POST', '/logout'); } catch { /* the token is dropped either way */ }
  signOut('You have signed out.');
}

function signOut(message) {
  stopChat();
  closeThread();
  resetSearch();
  auth.clear();
  localStorage.removeItem(ME_KEY);
  revokeBlobs();
  resetState();
  $('toasts').replaceChildren();
  history.replaceState(null, '', location.pathname);
  updateTitle();
  showAuth(message);
}

const ME_KEY = 'confab.me';

function signedIn(user) {
  localStorage.setItem(ME_KEY, JSON.stringify(user));
  $('auth').hidden = true;
  $('app').hidden = false;
  $('login-error').hidden = true;
  startChat(user, signOut);
  renderSidebar();
  route();
}

async function boot() {
  initAuth(signedIn);
  initSidebar({ browse: openDirectory, newDm: openNewDm, joinInvite });
  initTimeline();
  initThread();
  initSearch({ showMessage });
  initTrust();
  initRoom({ closeRoom, invite: openInvite, leave, dm, error });
  initDialogs({ openRoom, join: joinRoom, logout });
  initLightbox();
  initNotify({ openRoom, joinInvite });
  setUnauthorizedHandler(() => { if (state.me) signOut('Your session has ended; sign in again.'); });

  $('browse-rooms').addEventListener('click', openDirectory);
  $('new-room').addEventListener('click', openCreateRoom);
  $('new-dm').addEventListener('click', openNewDm);
  $('empty-browse').addEventListener('click', openDirectory);
  $('empty-create').addEventListener('click', openCreateRoom);
  $('me-button').addEventListener('click', openProfile);
  $('conn-retry').addEventListener('click', retryConnectionNow);
  window.addEventListener('hashchange', route);
  window.addEventListener('online', retryConnectionNow);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) retryConnectionNow(); });
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
      e.preventDefault();
      $('room-filter').focus();
      $('room-filter').select();
    } else if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === 'f' && state.me &&
      !document.querySelector('dialog[open]:not(#dlg-search)')) {
      e.preventDefault();
      openSearch();
    }
  });
  // a room that appears (joined elsewhere, first DM message) may be the one in the URL
  on('rooms', () => {
    const m = /^#\/room\/(.+)$/.exec(location.hash);
    if (m && state.activeRoom !== decodeURIComponent(m[1]) && state.rooms.has(decodeURIComponent(m[1]))) route();
  });
  on('active', () => {
    if (state.activeRoom && !state.rooms.has(state.activeRoom)) closeRoom();
  });

  const token = auth.get();
  if (!token) { showAuth(); return; }
  try {
    const me = await api('GET', '/me');
    signedIn(me.user);
  } catch (e) {
    if (e.status === 401) { auth.clear(); showAuth('Your session has ended; sign in again.'); return; }
    // the server is unreachable: start with the profile seen last time; the socket keeps retrying
    let cached = null;
    try { cached = JSON.parse(localStorage.getItem(ME_KEY) || 'null'); } catch { cached = null; }
    if (cached && cached.username) signedIn(cached);
    else showAuth(errorText(e));
  }
}

boot();

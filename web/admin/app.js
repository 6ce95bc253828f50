// Confab admin console: sign-in, the hash router and start-up. One page, no
// framework, no build step; the pages live in overview.js, actors.js and
// details.js, shared state in core.js, DOM helpers in dom.js.

import { actorsPage } from './actors.js';
import { api, auth, leavePage, onUnauthorized, poller, rates } from './core.js';
import { roomPage, userPage } from './details.js';
import { $, clear, notify } from './dom.js';
import { overviewPage } from './overview.js';

// ---- sign in / out -------------------------------------------------------------------------

function showLogin(message) {
  $('login').hidden = false;
  $('view').hidden = true;
  $('nav').hidden = true;
  $('session-controls').hidden = true;
  const err = $('login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('token-input').value = '';
  $('token-input').focus();
}

function signOut(message) {
  leavePage();
  auth.clear();
  poller.stop();
  rates.reset();
  showLogin(message);
}

async function onLogin(ev) {
  ev.preventDefault();
  const token = $('token-input').value.trim();
  const btn = $('login-submit');
  if (!token) return;
  btn.disabled = true;
  try {
    await api('GET', '/nodes', token);
    auth.set(token);
    startSession();
  } catch (e) {
    const msg = e.status === 401
      ? 'That token was refused (401 unauthorized). Check the --admin-token of the cluster.'
      : 'Could not check the token: ' + e.message;
    showLogin(msg);
  } finally {
    btn.disabled = false;
  }
}

function startSession() {
  $('login').hidden = true;
  $('view').hidden = false;
  $('nav').hidden = false;
  $('session-controls').hidden = false;
  poller.start();
  route();
}

// ---- router ----------------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, query] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch (e) { return p; }
  });
  return { page: parts[0] || 'overview', arg: parts[1] || '', params: new URLSearchParams(query || '') };
}

function route() {
  if (!auth.get()) return showLogin();
  leavePage();
  const { page, arg, params } = parseHash();
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.route === page);
    if (a.dataset.route === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = clear($('view'));
  view.dataset.page = page;
  const pages = { overview: overviewPage, actors: actorsPage, room: roomPage, user: userPage };
  (pages[page] || overviewPage)(view, arg, params);
}

// ---- start ---------------------------------------------------------------------------------

function init() {
  $('login-form').addEventListener('submit', onLogin);
  $('signout').addEventListener('click', () => { signOut(); notify('Signed out.'); });
  window.addEventListener('hashchange', () => { if (auth.get()) route(); });
  if (auth.get()) startSession();
  else showLogin();
}

onUnauthorized(() => signOut('The server refused the admin token (401 unauthorized). Enter it again.'));

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();

// Sign in and create account. A successful login keeps the token in local storage.

import { api, auth, errorText } from './api.js';
import { $ } from './dom.js';

let onSignedIn = () => {};

export function initAuth(signedIn) {
  onSignedIn = signedIn;
  $('tab-login').addEventListener('click', () => showTab('login'));
  $('tab-register').addEventListener('click', () => showTab('register'));
  for (const t of ['tab-login', 'tab-register']) {
    $(t).addEventListener('keydown', (e) => {
      if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
        const next = t === 'tab-login' ? 'register' : 'login';
        showTab(next);
        $(`tab-${next}`).focus();
      }
    });
  }
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    await run(e.target, 'login-error', async () => {
      await login($('login-username').value.trim().toLowerCase(), $('login-password').value);
    });
  });
  $('register-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    await run(e.target, 'register-error', async () => {
      const username = $('reg-username').value.trim().toLowerCase();
      const password = $('reg-password').value;
      const body = { username, password };
      const dn = $('reg-display').value.trim();
      if (dn) body.display_name = dn;
      await api('POST', '/register', body, { token: null });
      await login(username, password);
    });
  });
}

async function run(form, errId, fn) {
  const err = $(errId);
  err.hidden = true;
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    await fn();
  } catch (e) {
    err.textContent = e.code === 'invalid_request' ? `Check the fields: ${e.message}` : errorText(e);
    err.hidden = false;
  } finally {
    btn.disabled = false;
  }
}

async function login(username, password) {
  const res = await api('POST', '/login', { username, password }, { token: null });
  auth.set(res.token);
  $('login-form').reset();
  $('register-form').reset();
  onSignedIn(res.user);
}

function showTab(which) {
  const login = which === 'login';
  $('tab-login').setAttribute('aria-selected', String(login));
  $('tab-register').setAttribute('aria-selected', String(!login));
  $('tab-login').tabIndex = login ? 0 : -1;
  $('tab-register').tabIndex = login ? -1 : 0;
  $('login-form').hidden = !login;
  $('register-form').hidden = login;
  $('auth-lead').textContent = login ? 'Sign in to pick up where your team left off.'
    : 'Create an account: it takes ten seconds.';
}

export function showAuth(message) {
  $('auth').hidden = false;
  $('app').hidden = true;
  showTab('login');
  if (message) {
    $('login-error').textContent = message;
    $('login-error').hidden = false;
  }
  $('login-username').focus();
}

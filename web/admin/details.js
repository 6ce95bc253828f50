// Room and user detail pages, each with a lookup form; the user page lists the
// user's live sessions with a kick button each.

import { api, go, kickButton } from './core.js';
import { append, clear, el, emptyRow, errorPanel, fmtAgo, fmtTime, fmtValue, kvList, lookupForm, pageHeader,
  statusBadge, table } from './dom.js';

const ROOM_FIELDS = [['room', 'Room id'], ['name', 'Name'], ['kind', 'Kind'], ['visibility', 'Visibility'],
  ['owner', 'Owner node'], ['replicas', 'Replicas'], ['members', 'Members'], ['online_members', 'Online members'],
  ['last_seq', 'Last seq'], ['mailbox', 'Mailbox']];
export function roomPage(view, id) {
  const out = el('div', { class: 'stack' });
  const refresh = el('button', { type: 'button', class: 'btn', testid: 'refresh', disabled: !id }, 'Refresh');
  append(view, [pageHeader(id ? 'Room ' + id : 'Rooms', id ? null : 'Open a room by its id (r_… or d_…)', refresh),
    lookupForm('room', 'Room id', 'r_0123456789abcdef', id, (v) => go('#/room/' + encodeURIComponent(v))), out]);
  if (!id) return;
  async function load() {
    try {
      const r = await api('GET', '/rooms/' + encodeURIComponent(id));
      const known = new Set(ROOM_FIELDS.map(([k]) => k));
      const pairs = ROOM_FIELDS.map(([k, label]) => {
        let v = fmtValue(r[k]);
        if (k === 'owner' && r[k]) v = el('a', { class: 'mono', href: '#/actors?node=' + encodeURIComponent(r[k]) },
          r[k]);
        if (k === 'visibility' || k === 'kind') v = el('span', { class: 'pill' }, fmtValue(r[k]));
        return [k, label, v];
      });
      for (const [k, v] of Object.entries(r)) if (!known.has(k)) pairs.push([k, k, fmtValue(v)]);
      clear(out).appendChild(el('section', { class: 'card', testid: 'room-detail', id: 'room-detail' },
        el('div', { class: 'card-head' }, el('h2', {}, r.name ? String(r.name) : String(r.room || id)),
          el('a', { href: '#/actors?kind=room&q=' + encodeURIComponent(id), class: 'muted' }, 'room actor →')),
        kvList(pairs, 'room-field')));
    } catch (e) {
      if (e.status === 401) return;
      clear(out).appendChild(errorPanel(e, e.status === 404 ? `No room ${id}` : 'Could not load the room'));
    }
  }
  refresh.addEventListener('click', load);
  load();
}

export function userPage(view, name) {
  const out = el('div', { class: 'stack' });
  const refresh = el('button', { type: 'button', class: 'btn', testid: 'refresh', disabled: !name }, 'Refresh');
  append(view, [pageHeader(name ? 'User ' + name : 'Users', name ? null : 'Look up a user by username', refresh),
    lookupForm('user', 'Username', 'alice', name, (v) => go('#/user/' + encodeURIComponent(v))), out]);
  if (!name) return;
  let sessions = [];
  async function load() {
    try {
      const r = await api('GET', '/users/' + encodeURIComponent(name));
      sessions = r.sessions || [];
      render(r);
    } catch (e) {
      if (e.status === 401) return;
      clear(out).appendChild(errorPanel(e, e.status === 404 ? `No user ${name}` : 'Could not load the user'));
    }
  }
  function render(r) {
    const u = r.user || {};
    const p = r.presence || {};
    const first = ['username', 'display_name', 'id'];
    const keys = [...first.filter((k) => k in u), ...Object.keys(u).filter((k) => !first.includes(k))];
    const userPairs = keys.map((k) => [k, k.replace(/_/g, ' '), fmtValue(u[k])]);
    const presencePairs = [['status', 'status', statusBadge(p.status)]];
    if (p.last_seen !== undefined) presencePairs.push(['last_seen', 'last seen', fmtTime(p.last_seen) || '–']);
    for (const [k, v] of Object.entries(p)) if (k !== 'status' && k !== 'last_seen') presencePairs.push([k, k, fmtValue(v)]);
    const t = table([{ label: 'Session' }, { label: 'Node' }, { label: 'Since' }, { label: 'Remote' },
      { label: '' }], 'sessions-table');
    if (!sessions.length) emptyRow(t.tbody, 5, 'No live session.');
    for (const s of sessions) {
      t.add(el('tr', { testid: 'session-row', dataset: { sessionId: s.id } },
        el('td', { class: 'mono nowrap' }, s.id),
        el('td', { class: 'mono small' }, s.node || '–'),
        el('td', { class: 'nowrap', title: fmtTime(s.since) }, fmtAgo(s.since)),
        el('td', { class: 'mono small' }, s.remote || '–'),
        el('td', { class: 'actions' }, kickButton(s.id, load, () => !sessions.some((x) => x.id === s.id)))));
    }
    clear(out);
    append(out, [
      el('div', { class: 'grid-2' },
        el('section', { class: 'card', testid: 'user-detail', id: 'user-detail' },
          el('div', { class: 'card-head' }, el('h2', {}, u.display_name ? String(u.display_name) : name),
            el('span', { class: 'muted mono' }, u.id ? String(u.id) : '')),
          kvList(userPairs, 'user-field')),
        el('section', { class: 'card', testid: 'presence-detail' },
          el('div', { class: 'card-head' }, el('h2', {}, 'Presence')), kvList(presencePairs, 'presence-field'))),
      el('section', { class: 'card card-flush' },
        el('div', { class: 'card-head card-head-pad' }, el('h2', {}, 'Sessions'),
          el('span', { class: 'muted', testid: 'session-count' }, `${sessions.length} live`)), t.wrap),
    ]);
  }
  refresh.addEventListener('click', load);
  load();
}

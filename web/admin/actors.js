// The actor list: filters (node, kind, search, sort, page size) kept in the
// hash, paging with limit/offset, a kick button on session rows.

import { api, go, kickButton, onLeave, poller, POLL_MS } from './core.js';
import { KINDS, append, clear, detailFields, el, emptyRow, errorPanel, fmtAgo, fmtInt, fmtTime, kindBadge, pageHeader,
  table } from './dom.js';

const SORTS = [['mailbox', 'Mailbox size'], ['processed', 'Processed'], ['last_active', 'Last active'],
  ['since', 'Started'], ['id', 'Id']];
const LIMITS = [25, 50, 100, 250];

export function actorsPage(view, _arg, params) {
  const state = {
    node: params.get('node') || '',
    kind: params.get('kind') || '',
    q: params.get('q') || '',
    sort: params.get('sort') || 'mailbox',
    limit: Number(params.get('limit')) || 50,
    offset: Math.max(0, Number(params.get('offset')) || 0),
  };
  const nodeSel = el('select', { id: 'filter-node', testid: 'filter-node', name: 'node' },
    el('option', { value: '' }, 'all nodes'));
  const kindSel = el('select', { id: 'filter-kind', testid: 'filter-kind', name: 'kind' },
    el('option', { value: '' }, 'all kinds'), KINDS.map((k) => el('option', { value: k }, k)));
  const qIn = el('input', { id: 'filter-q', testid: 'filter-q', name: 'q', type: 'search',
    placeholder: 'id or detail contains…', autocomplete: 'off', spellcheck: 'false' });
  const sortSel = el('select', { id: 'filter-sort', testid: 'filter-sort', name: 'sort' },
    SORTS.map(([v, label]) => el('option', { value: v }, label)));
  const limitSel = el('select', { id: 'filter-limit', testid: 'filter-limit', name: 'limit' },
    LIMITS.map((l) => el('option', { value: l }, `${l} / page`)));
  const auto = el('input', { type: 'checkbox', id: 'auto-refresh', testid: 'auto-refresh' });
  if (state.node) nodeSel.appendChild(el('option', { value: state.node }, state.node));
  nodeSel.value = state.node;
  kindSel.value = state.kind;
  qIn.value = state.q;
  sortSel.value = state.sort;
  if (!LIMITS.includes(state.limit)) limitSel.appendChild(el('option', { value: state.limit }, `${state.limit} / page`));
  limitSel.value = String(state.limit);

  const field = (label, control) => el('label', { class: 'field' }, el('span', {}, label), control);
  const form = el('form', { class: 'filters card', id: 'actors-filter', testid: 'actors-filter' },
    field('Node', nodeSel), field('Kind', kindSel), field('Search', qIn), field('Sort by', sortSel),
    field('Page size', limitSel),
    el('div', { class: 'field field-buttons' },
      el('button', { type: 'submit', class: 'btn btn-primary', testid: 'filter-apply' }, 'Apply'),
      el('label', { class: 'check' }, auto, 'auto-refresh')));
  const t = table([{ label: 'Id' }, { label: 'Kind' }, { label: 'Node' }, { label: 'Mailbox', num: true },
    { label: 'Processed', num: true }, { label: 'Last active', num: true }, { label: 'Detail' }, { label: '' }],
  'actors-table');
  const info = el('span', { class: 'muted', testid: 'page-info', id: 'page-info' });
  const prev = el('button', { type: 'button', class: 'btn', testid: 'page-prev', id: 'page-prev' }, '← Prev');
  const next = el('button', { type: 'button', class: 'btn', testid: 'page-next', id: 'page-next' }, 'Next →');
  const errBox = el('div', {});
  const refreshBtn = el('button', { type: 'button', class: 'btn', testid: 'refresh' }, 'Refresh');

  append(view, [pageHeader('Actors', 'Live actors of every node, busiest mailbox first', refreshBtn), form, errBox,
    el('section', { class: 'card card-flush' }, t.wrap,
      el('div', { class: 'pager' }, info, el('div', { class: 'pager-buttons' }, prev, next)))]);

  function toHash(s) {
    const p = new URLSearchParams();
    for (const k of ['node', 'kind', 'q', 'sort']) if (s[k]) p.set(k, s[k]);
    if (s.limit !== 50) p.set('limit', s.limit);
    if (s.offset) p.set('offset', s.offset);
    const qs = p.toString();
    return '#/actors' + (qs ? '?' + qs : '');
  }
  function readForm() {
    return { node: nodeSel.value, kind: kindSel.value, q: qIn.value.trim(), sort: sortSel.value,
      limit: Number(limitSel.value), offset: 0 };
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); go(toHash(readForm())); });
  for (const s of [nodeSel, kindSel, sortSel, limitSel]) s.addEventListener('change', () => go(toHash(readForm())));
  let typing = null;
  qIn.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => go(toHash(readForm())), 400);
  });
  prev.addEventListener('click', () => go(toHash({ ...state, offset: Math.max(0, state.offset - state.limit) })));
  next.addEventListener('click', () => go(toHash({ ...state, offset: state.offset + state.limit })));

  // node choices come from the poller
  function fillNodes() {
    if (!poller.nodes) return;
    const have = new Set([...nodeSel.options].map((o) => o.value));
    for (const n of poller.nodes) if (!have.has(n.id)) nodeSel.appendChild(el('option', { value: n.id }, n.id));
  }
  poller.listeners.add(fillNodes);
  fillNodes();

  let rows = [];
  let seq = 0;
  async function load() {
    const mine = ++seq;
    const p = new URLSearchParams({ sort: state.sort, limit: state.limit, offset: state.offset });
    if (state.node) p.set('node', state.node);
    if (state.kind) p.set('kind', state.kind);
    if (state.q) p.set('q', state.q);
    t.table.setAttribute('aria-busy', 'true');
    try {
      const body = await api('GET', '/actors?' + p.toString());
      if (mine !== seq) return;
      clear(errBox);
      rows = body.actors || [];
      renderRows(body);
      // which query the rows answer (tests wait on it)
      t.table.dataset.query = p.toString();
    } catch (e) {
      if (mine !== seq || e.status === 401) return;
      clear(errBox).appendChild(errorPanel(e, 'Could not list the actors'));
    } finally {
      t.table.removeAttribute('aria-busy');
    }
  }
  function renderRows(body) {
    clear(t.tbody);
    if (!rows.length) emptyRow(t.tbody, 8, 'No actor matches.');
    for (const a of rows) t.add(actorRow(a, load, () => !rows.some((r) => r.id === a.id)));
    const total = Number(body.total) || 0;
    const off = Number(body.offset) || 0;
    info.textContent = total ? `${fmtInt(off + 1)}–${fmtInt(off + rows.length)} of ${fmtInt(total)}`
      : '0 actors';
    prev.disabled = off <= 0;
    next.disabled = off + rows.length >= total;
  }
  refreshBtn.addEventListener('click', load);
  let autoTimer = null;
  auto.addEventListener('change', () => {
    clearInterval(autoTimer);
    if (auto.checked) autoTimer = setInterval(load, POLL_MS);
  });
  onLeave(() => { poller.listeners.delete(fillNodes); clearInterval(autoTimer); clearTimeout(typing); });
  load();
}

function actorRow(a, refresh, isGone) {
  const d = detailFields(a.detail);
  let idCell = el('span', { class: 'mono' }, a.id);
  if (a.kind === 'room') {
    idCell = el('a', { class: 'mono', href: '#/room/' + encodeURIComponent(a.id), testid: 'room-link' }, a.id);
  } else if ((a.kind === 'presence' || a.kind === 'session') && d.user) {
    idCell = el('span', {}, el('span', { class: 'mono' }, a.id), ' ',
      el('a', { href: '#/user/' + encodeURIComponent(d.user), testid: 'user-link', class: 'small' }, d.user));
  }
  return el('tr', { testid: 'actor-row', dataset: { actorId: a.id, kind: a.kind } },
    el('td', { class: 'nowrap' }, idCell),
    el('td', {}, kindBadge(a.kind)),
    el('td', { class: 'mono small nowrap' }, a.node),
    el('td', { class: 'num' + (a.mailbox > 0 ? ' warn' : '') }, fmtInt(a.mailbox)),
    el('td', { class: 'num' }, fmtInt(a.processed)),
    el('td', { class: 'num nowrap', title: 'last active ' + fmtTime(a.last_active) + '\nstarted ' +
      fmtTime(a.since) }, fmtAgo(a.last_active)),
    el('td', { class: 'detail mono small' }, a.detail || null),
    el('td', { class: 'actions' }, a.kind === 'session' ? kickButton(a.id, refresh, isGone) : null));
}

// The cluster overview: totals, the messages/s chart, the node table with a
// drain and remove buttons per node, actor counts by kind. Redrawn on every poll.

import { api, onLeave, poller, rates, POLL_MS, RATE_POINTS } from './core.js';
import { KINDS, append, clear, el, emptyRow, errorPanel, fmtInt, fmtRate, fmtUptime, kindBadge, notify, pageHeader,
  statusBadge, svg, table } from './dom.js';

export function overviewPage(view) {
  const stats = el('div', { class: 'stats', testid: 'stats' });
  const nodes = table([{ label: 'Node' }, { label: 'Status' }, { label: 'Address' }, { label: 'Rooms', num: true },
    { label: 'Sessions', num: true }, { label: 'Presences', num: true }, { label: 'Messages', num: true },
    { label: 'Uptime', num: true }, { label: '' }], 'nodes-table');
  const kinds = el('div', { class: 'kinds', testid: 'actor-kinds', id: 'actor-kinds' });
  const chart = el('div', { class: 'chart', testid: 'rate-chart', id: 'rate-chart' });
  const rateNow = el('span', { class: 'rate-now', testid: 'rate-value', id: 'rate-value' }, '–');
  const errBox = el('div', {});

  append(view, [
    pageHeader('Cluster overview', 'Refreshed every 2 s from /admin/api/v1/nodes'),
    errBox,
    stats,
    el('section', { class: 'card' },
      el('div', { class: 'card-head' }, el('h2', {}, 'Messages per second'),
        el('span', { class: 'muted' }, 'now ', rateNow, ' msg/s · last ', String(RATE_POINTS), ' samples')),
      chart),
    el('section', { class: 'card' }, el('div', { class: 'card-head' }, el('h2', {}, 'Nodes')), nodes.wrap),
    el('section', { class: 'card' }, el('div', { class: 'card-head' }, el('h2', {}, 'Actors by kind'),
      el('a', { href: '#/actors', class: 'muted' }, 'browse actors →')), kinds),
  ]);

  function render() {
    clear(errBox);
    if (poller.error) errBox.appendChild(errorPanel(poller.error, 'Could not load the nodes'));
    const list = poller.nodes;
    if (!list) return;
    renderStats(stats, list);
    renderNodes(nodes, list);
    renderKinds(kinds, list);
    const last = rates.points[rates.points.length - 1];
    rateNow.textContent = last ? fmtRate(last.rate) : '–';
    renderChart(chart, rates.points);
  }
  const onResize = () => renderChart(chart, rates.points);
  poller.listeners.add(render);
  window.addEventListener('resize', onResize);
  onLeave(() => { poller.listeners.delete(render); window.removeEventListener('resize', onResize); });
  render();
  renderChart(chart, rates.points);
}

function renderStats(box, list) {
  const sum = (f) => list.reduce((a, n) => a + (Number(n[f]) || 0), 0);
  const up = list.filter((n) => n.status === 'up').length;
  const last = rates.points[rates.points.length - 1];
  const stat = (label, value, testid) => el('div', { class: 'stat', testid },
    el('div', { class: 'stat-value' }, value), el('div', { class: 'stat-label' }, label));
  clear(box);
  append(box, [
    stat('nodes up', `${up} / ${list.length}`, 'stat-nodes'),
    stat('rooms', fmtInt(sum('rooms')), 'stat-rooms'),
    stat('sessions', fmtInt(sum('sessions')), 'stat-sessions'),
    stat('presences', fmtInt(sum('presences')), 'stat-presences'),
    stat('messages/s', last ? fmtRate(last.rate) : '–', 'stat-rate'),
  ]);
}

function renderNodes(t, list) {
  const tbody = clear(t.tbody);
  if (!list.length) return emptyRow(tbody, 9, 'No nodes.');
  const live = list.filter((n) => n.status === 'up').length;
  for (const n of list) {
    const canDrain = n.status === 'up' && live > 1;
    t.add(el('tr', { testid: 'node-row', dataset: { node: n.id, status: n.status } },
      el('td', { class: 'mono strong nowrap' }, el('a', { href: '#/actors?node=' + encodeURIComponent(n.id) }, n.id)),
      el('td', {}, statusBadge(n.status)),
      el('td', { class: 'mono small' }, el('div', {}, el('div', {}, 'http ', n.http || '–'),
        el('div', { class: 'muted' }, 'cluster ', n.address || '–'))),
      el('td', { class: 'num' }, fmtInt(n.rooms)),
      el('td', { class: 'num' }, fmtInt(n.sessions)),
      el('td', { class: 'num' }, fmtInt(n.presences)),
      el('td', { class: 'num' }, fmtInt(n.messages)),
      el('td', { class: 'num', title: fmtInt(n.uptime_ms) + ' ms' }, fmtUptime(n.uptime_ms)),
      el('td', { class: 'actions' }, el('button', {
        type: 'button', class: 'btn btn-danger btn-sm', testid: 'drain-button', dataset: { node: n.id },
        disabled: n.status !== 'up',
        title: canDrain ? 'Hand this node\'s rooms to the other nodes and stop it'
          : 'Draining needs another live node to take the rooms',
        onclick: () => drainNode(n.id, live),
      }, 'Drain'), ' ', el('button', {
        type: 'button', class: 'btn btn-danger btn-sm', testid: 'remove-button', dataset: { node: n.id },
        title: n.status === 'down' ? 'Remove this node for good: its rooms get their copies back on the other nodes'
          : 'Only a node that is down for good can be removed',
        onclick: () => removeNode(n.id, n.status),
      }, 'Remove'))));
  }
}

function renderKinds(box, list) {
  const totals = {};
  for (const n of list) {
    for (const [k, v] of Object.entries(n.actors || {})) totals[k] = (totals[k] || 0) + (Number(v) || 0);
  }
  const names = [...KINDS.filter((k) => k in totals), ...Object.keys(totals).filter((k) => !KINDS.includes(k))];
  clear(box);
  for (const k of names) {
    box.appendChild(el('a', { class: 'kind-count', href: '#/actors?kind=' + encodeURIComponent(k),
      testid: 'kind-count', dataset: { kind: k } },
    el('span', { class: 'kind-count-value' }, fmtInt(totals[k])), kindBadge(k)));
  }
}

// Hand-drawn SVG line chart of the messages/s series.
function renderChart(box, points) {
  // drawn in CSS pixels of the box so text is never stretched
  const W = Math.max(240, Math.round(box.clientWidth || 800));
  const H = Math.max(120, Math.round(box.clientHeight || 200));
  const L = 44; const R = 12; const T = 12; const B = 26;
  const max = niceMax(Math.max(1, ...points.map((p) => p.rate)));
  const x = (i) => L + (i * (W - L - R)) / (RATE_POINTS - 1);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', width: W, height: H,
    'aria-label': 'messages per second, last ' + RATE_POINTS + ' samples' });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    g.appendChild(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: i ? 'grid' : 'axis' }));
    g.appendChild(svg('text', { x: L - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmtRate(v)));
  }
  g.appendChild(svg('text', { x: L, y: H - 6, class: 'tick' }, `−${Math.round((RATE_POINTS * POLL_MS) / 1000)} s`));
  g.appendChild(svg('text', { x: W - R, y: H - 6, class: 'tick', 'text-anchor': 'end' }, 'now'));
  if (points.length) {
    // newest point on the right edge
    const off = RATE_POINTS - points.length;
    const coords = points.map((p, i) => `${x(off + i).toFixed(1)},${y(p.rate).toFixed(1)}`);
    g.appendChild(svg('polygon', { class: 'area', points:
      `${x(off).toFixed(1)},${y(0)} ${coords.join(' ')} ${x(RATE_POINTS - 1).toFixed(1)},${y(0)}` }));
    g.appendChild(svg('polyline', { class: 'line', points: coords.join(' ') }));
    const lastP = points[points.length - 1];
    g.appendChild(svg('circle', { class: 'dot', cx: x(RATE_POINTS - 1), cy: y(lastP.rate), r: 3.5 }));
  } else {
    g.appendChild(svg('text', { x: W / 2, y: H / 2, class: 'tick', 'text-anchor': 'middle' },
      'collecting samples…'));
  }
  clear(box).appendChild(g);
  box.dataset.points = String(points.length);
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// Asks first (`question`), then POSTs /nodes/{id}/{action}; the answer or the
// error is shown.
async function nodeAction(id, action, question, done) {
  if (!confirm(question)) return;
  try {
    const r = await api('POST', '/nodes/' + encodeURIComponent(id) + '/' + action);
    notify(`Node ${id} is ${(r && r.status) || done}.`);
  } catch (e) {
    const what = action[0].toUpperCase() + action.slice(1);
    if (e.status !== 401) notify(`${what} of ${id} failed: ${e.status} ${e.code}: ${e.message}`, 'error');
  }
}

function removeNode(id, status) {
  const warn = status === 'down' ? '' : `\n\nIt is ${status}: the server will refuse (only a node that is down can be removed).`;
  return nodeAction(id, 'remove', `Remove node ${id} for good?\n\nEvery room with a copy on it gets a new copy on ` +
    'another node, and the node is refused if it comes back (wipe its data dir and give it a new node id to ' +
    `bring the machine back).${warn}`, 'removed');
}

function drainNode(id, live) {
  const warn = live > 1 ? '' : '\n\nThis is the only live node: the server will refuse (nothing to hand rooms to).';
  return nodeAction(id, 'drain',
    `Drain node ${id}?\n\nIt hands its rooms to the other live nodes, closes its sockets and exits.${warn}`, 'draining');
}

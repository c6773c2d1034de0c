// The dependency graph: service links from api/dependencies for a window, laid out as
// a layered DAG (cycles broken for layering, barycentre ordering), edges labelled with
// call counts. Clicking a service focuses on it and its direct neighbours.

import { el, svg, api, serviceColor } from './util.js';

const WINDOWS = [['1h', 3600e3], ['2h', 7200e3], ['6h', 21600e3], ['12h', 43200e3], ['24h', 86400e3], ['2d', 172800e3], ['7d', 604800e3]];
const NODE_W = 170;
const NODE_H = 34;
const GAP_X = 110;
const GAP_Y = 30;

export function dependenciesPage(ctx) {
  const { app, q, navigate } = ctx;
  const lookback = WINDOWS.some(([k]) => k === q.get('lookback')) ? q.get('lookback') : '7d';
  const focus = q.get('focus') || '';
  const sel = el('select', { id: 'deps-window', 'aria-label': 'Time window' }, WINDOWS.map(([k]) => el('option', { value: k }, `Last ${k}`)));
  sel.value = lookback;
  const go = (lb, f) => navigate(`dependencies?lookback=${lb}${f ? `&focus=${encodeURIComponent(f)}` : ''}`, { replace: true });
  sel.addEventListener('change', () => go(sel.value, focus));
  const status = el('p', { role: 'status', id: 'deps-status' });
  const graphBox = el('div', { class: 'deps-graph', id: 'deps-graph' });
  const table = el('div', { class: 'deps-table' });
  app.append(
    el(
      'section',
      { class: 'deps-page', 'aria-label': 'Service dependencies' },
      el(
        'div',
        { class: 'toolbar' },
        el('h2', {}, 'Service dependencies'),
        el('label', { class: 'inline' }, 'Window ', sel),
        focus ? el('span', { class: 'badge', id: 'deps-focus' }, `Focused on ${focus}`) : null,
        focus ? el('button', { type: 'button', id: 'deps-show-all', onclick: () => go(lookback, '') }, 'Show all services') : null
      ),
      status,
      graphBox,
      table
    )
  );
  let disposed = false;
  (async () => {
    status.textContent = 'Loading…';
    let links;
    try {
      const ms = WINDOWS.find(([k]) => k === lookback)[1];
      const body = await api(`api/dependencies?endTs=${Date.now()}&lookback=${ms}`);
      links = body.data || [];
    } catch (e) {
      if (!disposed) {
        status.textContent = `Cannot load dependencies: ${e.message}`;
        status.className = 'error';
      }
      return;
    }
    if (disposed) return;
    if (focus) links = links.filter((l) => l.parent === focus || l.child === focus);
    status.textContent = links.length ? '' : 'No service dependencies in this window (they are computed by the dependencies job; see docs/dependencies-job.md).';
    if (!links.length) return;
    graphBox.append(drawGraph(links, focus, (svc) => go(lookback, svc === focus ? '' : svc)));
    table.append(
      el('details', {}, el('summary', {}, `${links.length} links`),
        el('table', { class: 'kv' }, el('thead', {}, el('tr', {}, el('th', {}, 'Parent'), el('th', {}, 'Child'), el('th', {}, 'Calls'))),
          el('tbody', {}, links.slice().sort((a, b) => b.callCount - a.callCount).map((l) => el('tr', {}, el('td', {}, l.parent), el('td', {}, l.child), el('td', {}, String(l.callCount)))))))
    );
  })();
  return { dispose: () => (disposed = true) };
}

// Layers by longest path over the graph with back edges (found by DFS) reversed.
export function layout(links) {
  const names = [...new Set(links.flatMap((l) => [l.parent, l.child]))].sort();
  const out = new Map(names.map((n) => [n, []]));
  for (const l of links) if (l.parent !== l.child) out.get(l.parent).push(l.child);
  const back = new Set();
  const state = new Map();
  for (const start of names) {
    if (state.has(start)) continue;
    const stack = [[start, 0]];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const kids = out.get(top[0]);
      if (top[1] < kids.length) {
        const k = kids[top[1]++];
        if (state.get(k) === 1) back.add(`${top[0]}\u0000${k}`);
        else if (!state.has(k)) {
          state.set(k, 1);
          stack.push([k, 0]);
        }
      } else {
        state.set(top[0], 2);
        stack.pop();
      }
    }
  }
  const dag = new Map(names.map((n) => [n, []]));
  const indeg = new Map(names.map((n) => [n, 0]));
  for (const [p, kids] of out) {
    for (const c of kids) {
      const [a, b] = back.has(`${p}\u0000${c}`) ? [c, p] : [p, c];
      dag.get(a).push(b);
      indeg.set(b, indeg.get(b) + 1);
    }
  }
  const layer = new Map(names.map((n) => [n, 0]));
  const queue = names.filter((n) => indeg.get(n) === 0);
  while (queue.length) {
    const n = queue.shift();
    for (const c of dag.get(n)) {
      layer.set(c, Math.max(layer.get(c), layer.get(n) + 1));
      indeg.set(c, indeg.get(c) - 1);
      if (indeg.get(c) === 0) queue.push(c);
    }
  }
  const layers = [];
  for (const n of names) (layers[layer.get(n)] ||= []).push(n);
  // Barycentre sweeps reduce crossings.
  const pos = new Map();
  const setPos = () => layers.forEach((L) => L.forEach((n, i) => pos.set(n, i)));
  setPos();
  const parents = new Map(names.map((n) => [n, []]));
  for (const [p, kids] of dag) for (const c of kids) parents.get(c).push(p);
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    for (const L of down ? layers.slice(1) : layers.slice(0, -1).reverse()) {
      const bc = (n) => {
        const nb = down ? parents.get(n) : dag.get(n);
        return nb.length ? nb.reduce((s, m) => s + pos.get(m), 0) / nb.length : pos.get(n);
      };
      L.sort((a, b) => bc(a) - bc(b));
      setPos();
    }
  }
  const tallest = Math.max(...layers.map((L) => L.length));
  const coords = new Map();
  layers.forEach((L, li) => {
    const offset = ((tallest - L.length) * (NODE_H + GAP_Y)) / 2;
    L.forEach((n, i) => coords.set(n, { x: 20 + li * (NODE_W + GAP_X), y: 20 + offset + i * (NODE_H + GAP_Y) }));
  });
  return { coords, width: 40 + layers.length * (NODE_W + GAP_X) - GAP_X, height: 40 + tallest * (NODE_H + GAP_Y) - GAP_Y };
}

function drawGraph(links, focus, onClick) {
  const { coords, width, height } = layout(links);
  const g = svg('svg', { viewBox: `0 0 ${width} ${height + 20}`, width, height: height + 20, role: 'img', 'aria-label': 'Service dependency graph' });
  g.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))));
  for (const l of links) {
    const a = coords.get(l.parent);
    const b = coords.get(l.child);
    let d;
    let lx;
    let ly;
    if (l.parent === l.child) {
      d = `M${a.x + NODE_W - 30},${a.y} C${a.x + NODE_W - 30},${a.y - 30} ${a.x + NODE_W + 10},${a.y - 30} ${a.x + NODE_W},${a.y + 8}`;
      lx = a.x + NODE_W;
      ly = a.y - 22;
    } else if (b.x > a.x) {
      const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2];
      d = `M${x1},${y1} C${x1 + GAP_X / 2},${y1} ${x2 - GAP_X / 2},${y2} ${x2},${y2}`;
      lx = (x1 + x2) / 2;
      ly = (y1 + y2) / 2 - 4;
    } else {
      // A back edge (cycle) or same layer: an arc below.
      const [x1, y1, x2, y2] = [a.x + NODE_W / 2, a.y + NODE_H, b.x + NODE_W / 2, b.y + NODE_H];
      d = `M${x1},${y1} C${x1},${y1 + 50} ${x2},${y2 + 50} ${x2},${y2}`;
      lx = (x1 + x2) / 2;
      ly = Math.max(y1, y2) + 36;
    }
    g.append(
      svg('path', { d, class: 'edge', 'marker-end': 'url(#arrow)', 'data-parent': l.parent, 'data-child': l.child }),
      svg('text', { x: lx, y: ly, class: 'edge-label', 'text-anchor': 'middle', 'data-edge': `${l.parent}->${l.child}` }, String(l.callCount))
    );
  }
  for (const [name, p] of coords) {
    const label = name.length > 22 ? `${name.slice(0, 21)}…` : name;
    const node = svg(
      'g',
      { class: `node${name === focus ? ' focus' : ''}`, transform: `translate(${p.x},${p.y})`, tabindex: 0, role: 'button', 'data-service': name, 'aria-label': `${name}: focus on its neighbours` },
      svg('title', {}, name),
      svg('rect', { width: NODE_W, height: NODE_H, rx: 6, style: `stroke:${serviceColor(name)}` }),
      svg('rect', { width: 6, height: NODE_H, rx: 3, style: `fill:${serviceColor(name)}` }),
      svg('text', { x: 14, y: NODE_H / 2 + 5 }, label)
    );
    node.addEventListener('click', () => onClick(name));
    node.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), onClick(name)));
    g.append(node);
  }
  return g;
}

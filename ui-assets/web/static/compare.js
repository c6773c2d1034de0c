// Comparing two traces: their span trees merged by path (service and operation from the
// root), each node with its span count and mean duration in A and in B; nodes only in
// one trace, or with different counts, are marked.

import { el, api, fmtDuration, serviceColor } from './util.js';
import { buildTrace, localTraces, summarize } from './model.js';

export function comparePage(ctx) {
  const { app, q, navigate, href } = ctx;
  const a = el('input', { id: 'compare-a', value: q.get('a') || '', placeholder: 'Trace ID A', 'aria-label': 'Trace ID A', spellcheck: 'false' });
  const b = el('input', { id: 'compare-b', value: q.get('b') || '', placeholder: 'Trace ID B', 'aria-label': 'Trace ID B', spellcheck: 'false' });
  const form = el('form', { class: 'toolbar', id: 'compare-form' }, el('h2', {}, 'Compare traces'), a, b, el('button', { type: 'submit', class: 'primary' }, 'Compare'));
  const source = q.get('source') === 'file' ? '&source=file' : '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    navigate(`compare?a=${encodeURIComponent(a.value.trim())}&b=${encodeURIComponent(b.value.trim())}${source}`);
  });
  const status = el('p', { role: 'status', id: 'compare-status' });
  const out = el('div', { id: 'compare-result' });
  app.append(el('section', { class: 'compare-page' }, form, status, out));
  let disposed = false;
  const load = async (id) => {
    if (source && localTraces.has(id)) return localTraces.get(id);
    const body = await api(`api/traces/${encodeURIComponent(id)}`);
    return buildTrace(body.data[0]);
  };
  if (q.get('a') && q.get('b')) {
    status.textContent = 'Loading…';
    Promise.all([load(q.get('a')), load(q.get('b'))])
      .then(([ta, tb]) => {
        if (disposed) return;
        status.textContent = '';
        out.append(render(ta, tb, href));
      })
      .catch((e) => {
        if (!disposed) {
          status.textContent = `Cannot compare: ${e.message}`;
          status.className = 'error';
        }
      });
  } else status.textContent = 'Enter two trace ids, or select two search results and press "Compare selected".';
  return { dispose: () => (disposed = true) };
}

// Merges the span trees of A and B by path; returns rows in depth-first order.
export function mergeTrees(ta, tb) {
  const nodes = new Map();
  const roots = [];
  const add = (trace, side) => {
    const keyOf = new Map();
    for (const s of trace.spans) {
      const parentKey = s.parent ? keyOf.get(s.parent.id) : '';
      const key = `${parentKey}\u0001${s.service}\u0002${s.operationName}`;
      keyOf.set(s.id, key);
      let n = nodes.get(key);
      if (!n) {
        n = { key, service: s.service, operation: s.operationName, depth: s.depth, children: [], a: { count: 0, total: 0 }, b: { count: 0, total: 0 } };
        nodes.set(key, n);
        if (parentKey && nodes.has(parentKey)) nodes.get(parentKey).children.push(n);
        else roots.push(n);
      }
      n[side].count++;
      n[side].total += s.duration;
    }
  };
  add(ta, 'a');
  add(tb, 'b');
  const rows = [];
  const stack = roots.slice().reverse();
  while (stack.length) {
    const n = stack.pop();
    rows.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]);
  }
  return rows;
}

function render(ta, tb, href) {
  const rows = mergeTrees(ta, tb);
  const head = (t, label) => {
    const s = summarize(t);
    return el(
      'div',
      { class: 'compare-head' },
      el('h3', {}, `${label}: `, el('a', { href: href(`trace/${encodeURIComponent(t.traceID)}`), 'data-nav': '' }, `${s.rootService}: ${s.rootOperation}`)),
      el('div', { class: 'meta' }, el('span', { class: 'trace-id' }, t.traceID), ` · ${s.spans} spans · ${fmtDuration(s.duration)}${s.errors ? ` · ${s.errors} error${s.errors === 1 ? '' : 's'}` : ''}`)
    );
  };
  const cell = (side) => (side.count ? `${side.count}× ${fmtDuration(side.total / side.count)}` : '—');
  const counts = { onlyA: 0, onlyB: 0, changed: 0 };
  const body = rows.map((n) => {
    let cls = 'same';
    let diff = '';
    if (!n.b.count) (cls = 'only-a'), (diff = 'only in A'), counts.onlyA++;
    else if (!n.a.count) (cls = 'only-b'), (diff = 'only in B'), counts.onlyB++;
    else {
      if (n.a.count !== n.b.count) (cls = 'changed'), counts.changed++;
      const da = n.a.total / n.a.count;
      const db = n.b.total / n.b.count;
      diff = `${n.a.count !== n.b.count ? `${n.b.count - n.a.count > 0 ? '+' : ''}${n.b.count - n.a.count} spans, ` : ''}${db - da >= 0 ? '+' : ''}${fmtDuration(db - da)}`;
    }
    return el(
      'tr',
      { class: `cmp-row ${cls}` },
      el('td', { class: 'cmp-name', style: `padding-left:${Math.min(n.depth, 30) * 14 + 6}px` }, el('span', { class: 'svc-stripe', style: `background:${serviceColor(n.service)}` }), el('span', { class: 'service' }, n.service), ' ', n.operation),
      el('td', { class: 'num' }, cell(n.a)),
      el('td', { class: 'num' }, cell(n.b)),
      el('td', { class: 'num diff' }, diff)
    );
  });
  return el(
    'div',
    {},
    el('div', { class: 'compare-heads' }, head(ta, 'A'), head(tb, 'B')),
    el('p', { class: 'meta', id: 'compare-summary' }, `${rows.length} distinct paths: ${counts.onlyA} only in A, ${counts.onlyB} only in B, ${counts.changed} with a different span count.`),
    el('table', { class: 'compare-table' }, el('thead', {}, el('tr', {}, el('th', {}, 'Service / operation'), el('th', {}, 'A'), el('th', {}, 'B'), el('th', {}, 'B − A'))), el('tbody', {}, body))
  );
}

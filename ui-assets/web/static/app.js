// A small search and trace view over the query API. Every URL is relative to the
// page's <base href>, which the query service points at its base path, so the page
// works at / and behind a reverse proxy at /jaeger/ alike. Data from the API is only
// ever put into the page as text, never as HTML.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $('search-form');
  const serviceSel = $('service');
  const operationSel = $('operation');
  const status = $('status');
  const results = $('results');
  const traceView = $('trace-view');

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'style') e.style.cssText = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  async function api(path) {
    const resp = await fetch(path, { headers: { Accept: 'application/json' } });
    let body = null;
    try {
      body = await resp.json();
    } catch (_) {
      // Not JSON: reported below by status.
    }
    if (!resp.ok) {
      const msg = body && body.errors && body.errors.length ? body.errors[0].msg : resp.statusText;
      throw new Error(`${resp.status} ${msg}`);
    }
    return body;
  }

  function fmtDuration(us) {
    if (us >= 1e6) return `${(us / 1e6).toFixed(2)}s`;
    if (us >= 1e3) return `${(us / 1e3).toFixed(2)}ms`;
    return `${us}μs`;
  }

  function setStatus(text, isError) {
    status.textContent = text;
    status.className = isError ? 'error' : '';
  }

  function fillSelect(sel, values, first) {
    sel.replaceChildren();
    if (first !== undefined) sel.append(el('option', { value: '' }, first));
    for (const v of values) sel.append(el('option', { value: v }, v));
  }

  async function loadServices() {
    const body = await api('api/services');
    const services = (body.data || []).slice().sort();
    fillSelect(serviceSel, services);
    if (!services.length) setStatus('No services yet: send some traces.');
    const wanted = new URLSearchParams(location.search).get('service');
    if (wanted && services.includes(wanted)) serviceSel.value = wanted;
    await loadOperations();
  }

  async function loadOperations() {
    const svc = serviceSel.value;
    if (!svc) return fillSelect(operationSel, [], 'all');
    const body = await api(`api/services/${encodeURIComponent(svc)}/operations`);
    fillSelect(operationSel, (body.data || []).slice().sort(), 'all');
  }

  // The root span: the one without a parent in the trace, else the earliest.
  function rootSpan(trace) {
    const ids = new Set(trace.spans.map((s) => s.spanID));
    const roots = trace.spans.filter(
      (s) => !s.references.some((r) => r.refType === 'CHILD_OF' && ids.has(r.spanID))
    );
    const pool = roots.length ? roots : trace.spans;
    return pool.reduce((a, b) => (b.startTime < a.startTime ? b : a));
  }

  function traceBounds(trace) {
    const start = Math.min(...trace.spans.map((s) => s.startTime));
    const end = Math.max(...trace.spans.map((s) => s.startTime + s.duration));
    return { start, end, duration: end - start };
  }

  function serviceOf(trace, span) {
    const p = trace.processes[span.processID];
    return p ? p.serviceName : '?';
  }

  async function search(event) {
    if (event) event.preventDefault();
    const svc = serviceSel.value;
    if (!svc) return setStatus('Choose a service.', true);
    const end = Date.now() * 1000;
    const start = end - Number($('lookback').value) * 1e6;
    const q = new URLSearchParams({ service: svc, start, end, limit: $('limit').value || '20' });
    if (operationSel.value) q.set('operation', operationSel.value);
    history.replaceState(null, '', `search?service=${encodeURIComponent(svc)}`);
    traceView.hidden = true;
    setStatus('Searching…');
    try {
      const body = await api(`api/traces?${q}`);
      showResults(body.data || []);
    } catch (e) {
      setStatus(`Search failed: ${e.message}`, true);
    }
  }

  function showResults(traces) {
    results.replaceChildren();
    traces.sort((a, b) => traceBounds(b).start - traceBounds(a).start);
    setStatus(`${traces.length} trace${traces.length === 1 ? '' : 's'}`);
    for (const t of traces) {
      const root = rootSpan(t);
      const b = traceBounds(t);
      const services = [...new Set(t.spans.map((s) => serviceOf(t, s)))].sort();
      const link = el(
        'a',
        { href: `trace/${t.traceID}`, class: 'trace-link', onclick: (e) => { e.preventDefault(); openTrace(t.traceID); } },
        `${serviceOf(t, root)}: ${root.operationName}`
      );
      results.append(
        el('li', { class: 'result', 'data-trace-id': t.traceID },
          link,
          el('span', { class: 'trace-id' }, t.traceID),
          el('span', { class: 'meta' },
            `${t.spans.length} span${t.spans.length === 1 ? '' : 's'} · ${fmtDuration(b.duration)} · ${services.join(', ')} · ${new Date(b.start / 1000).toLocaleString()}`))
      );
    }
  }

  async function openTrace(id, replace) {
    const url = `trace/${encodeURIComponent(id)}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    setStatus('Loading trace…');
    try {
      const body = await api(`api/traces/${encodeURIComponent(id)}`);
      showTrace(body.data[0]);
      setStatus('');
    } catch (e) {
      traceView.hidden = true;
      setStatus(`Trace ${id}: ${e.message}`, true);
    }
  }

  // Spans in tree order (children after their parent, by start time), with depth.
  function spanTree(trace) {
    const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
    const children = new Map();
    const tops = [];
    for (const s of trace.spans) {
      const parent = s.references.find((r) => r.refType === 'CHILD_OF' && byId.has(r.spanID));
      if (parent) {
        if (!children.has(parent.spanID)) children.set(parent.spanID, []);
        children.get(parent.spanID).push(s);
      } else {
        tops.push(s);
      }
    }
    const out = [];
    const seen = new Set();
    const walk = (s, depth) => {
      if (seen.has(s.spanID)) return;
      seen.add(s.spanID);
      out.push({ span: s, depth });
      const kids = (children.get(s.spanID) || []).sort((a, b) => a.startTime - b.startTime);
      for (const k of kids) walk(k, depth + 1);
    };
    tops.sort((a, b) => a.startTime - b.startTime).forEach((s) => walk(s, 0));
    return out;
  }

  function showTrace(trace) {
    results.replaceChildren();
    const b = traceBounds(trace);
    const root = rootSpan(trace);
    const rows = spanTree(trace).map(({ span, depth }) => {
      const left = b.duration ? ((span.startTime - b.start) / b.duration) * 100 : 0;
      const width = b.duration ? Math.max((span.duration / b.duration) * 100, 0.3) : 100;
      const isError = span.tags.some((t) => t.key === 'error' && t.value === true);
      const details = el('div', { class: 'span-details', hidden: '' },
        el('div', {}, `span ${span.spanID} · start +${fmtDuration(span.startTime - b.start)} · ${fmtDuration(span.duration)}`),
        ...(span.warnings || []).map((w) => el('div', { class: 'warning' }, `⚠ ${w}`)),
        el('table', {}, ...span.tags.map((t) => el('tr', {}, el('td', {}, t.key), el('td', {}, String(t.value))))));
      const row = el('div', { class: `span-row${isError ? ' error' : ''}`, 'data-span-id': span.spanID },
        el('div', { class: 'span-name', style: `padding-left:${depth * 14}px` },
          el('span', { class: 'service' }, serviceOf(trace, span)), ' ',
          el('span', { class: 'operation' }, span.operationName)),
        el('div', { class: 'span-bar-track' },
          el('div', { class: 'span-bar', style: `left:${left}%;width:${width}%` })),
        el('div', { class: 'span-duration' }, fmtDuration(span.duration)));
      row.addEventListener('click', () => { details.hidden = !details.hidden; });
      return [row, details];
    });
    traceView.replaceChildren(
      el('h2', {}, `${serviceOf(trace, root)}: ${root.operationName}`),
      el('p', { class: 'meta' },
        el('span', { class: 'trace-id' }, trace.traceID),
        ` · ${trace.spans.length} spans · ${fmtDuration(b.duration)} · started ${new Date(b.start / 1000).toLocaleString()}`),
      el('div', { class: 'spans' }, ...rows.flat())
    );
    traceView.hidden = false;
  }

  // The route under the base path: `trace/<id>` opens a trace, anything else searches.
  function route() {
    const base = new URL(document.baseURI).pathname;
    const rel = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : '';
    const m = rel.match(/^trace\/([^/]+)$/);
    if (m) openTrace(decodeURIComponent(m[1]), true);
    else traceView.hidden = true;
  }

  form.addEventListener('submit', search);
  serviceSel.addEventListener('change', () => loadOperations().catch((e) => setStatus(e.message, true)));
  window.addEventListener('popstate', route);
  loadServices()
    .catch((e) => setStatus(`Cannot load services: ${e.message}`, true))
    .finally(route);
})();

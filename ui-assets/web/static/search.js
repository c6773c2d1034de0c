// The search page: the form, results with a duration-over-time scatter plot, sorting,
// deep links (the URL holds every field, so reloading it reproduces the search), and
// opening trace JSON files.

import { el, svg, api, fmtDuration, fmtTime, fmtAgo, serviceColor, parseGoDuration, parseLogfmt, toLogfmt, prefs } from './util.js';
import { buildTrace, summarize, localTraces } from './model.js';

const LOOKBACKS = [
  ['5m', 'Last 5 minutes'], ['15m', 'Last 15 minutes'], ['30m', 'Last 30 minutes'], ['1h', 'Last hour'],
  ['2h', 'Last 2 hours'], ['3h', 'Last 3 hours'], ['6h', 'Last 6 hours'], ['12h', 'Last 12 hours'],
  ['24h', 'Last 24 hours'], ['2d', 'Last 2 days'], ['7d', 'Last 7 days'], ['custom', 'Custom time range'],
];
const KINDS = ['', 'server', 'client', 'producer', 'consumer', 'internal'];
const SORTS = [
  ['recent', 'Most recent', (a, b) => b.start - a.start],
  ['longest', 'Longest first', (a, b) => b.duration - a.duration],
  ['shortest', 'Shortest first', (a, b) => a.duration - b.duration],
  ['most', 'Most spans', (a, b) => b.spans - a.spans],
  ['least', 'Least spans', (a, b) => a.spans - b.spans],
  ['errors', 'Most errors', (a, b) => b.errors - a.errors],
];

function lookbackUs(lb) {
  const m = /^(\d+)([mhd])$/.exec(lb);
  if (!m) return NaN;
  return Number(m[1]) * { m: 60e6, h: 3600e6, d: 86400e6 }[m[2]];
}

const toLocalInput = (us) => {
  const d = new Date(us / 1000 - new Date(us / 1000).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
};
const fromLocalInput = (v) => new Date(v).getTime() * 1000;

export function searchPage(ctx) {
  const { app, q, config, navigate, href } = ctx;
  const searchCfg = config.search || {};
  const maxLookback = searchCfg.maxLookback && lookbackUs(searchCfg.maxLookback.value);
  const lookbacks = LOOKBACKS.filter(([v]) => v === 'custom' || !maxLookback || lookbackUs(v) <= maxLookback);
  const defaultLookback = searchCfg.defaultLookback || '1h';
  const maxLimit = Number(searchCfg.maxLimit) || 1500;

  const field = (label, control, extra) => el('label', { class: extra }, el('span', {}, label), control);
  const service = el('select', { id: 'service', name: 'service', required: true });
  const kind = el('select', { id: 'spanKind', name: 'spanKind' }, KINDS.map((k) => el('option', { value: k }, k || 'all kinds')));
  const operation = el('select', { id: 'operation', name: 'operation' }, el('option', { value: '' }, 'all'));
  const tags = el('input', { id: 'tags', name: 'tags', placeholder: 'http.status_code=200 error=true', spellcheck: 'false' });
  const lookback = el('select', { id: 'lookback', name: 'lookback' }, lookbacks.map(([v, l]) => el('option', { value: v }, l)));
  const start = el('input', { id: 'start', type: 'datetime-local', name: 'start' });
  const end = el('input', { id: 'end', type: 'datetime-local', name: 'end' });
  const custom = el('div', { class: 'custom-range', hidden: true }, field('Start', start), field('End', end));
  const minD = el('input', { id: 'minDuration', name: 'minDuration', placeholder: 'e.g. 1.2s, 100ms', size: 8 });
  const maxD = el('input', { id: 'maxDuration', name: 'maxDuration', placeholder: 'e.g. 1.1s', size: 8 });
  const limit = el('input', { id: 'limit', name: 'limit', type: 'number', min: 1, max: maxLimit, value: 20 });
  const status = el('p', { id: 'status', role: 'status', 'aria-live': 'polite' });
  const fileInput = el('input', { id: 'upload', type: 'file', accept: '.json,application/json', multiple: true, class: 'visually-hidden' });
  const form = el(
    'form',
    { id: 'search-form', autocomplete: 'off', 'aria-label': 'Search traces' },
    field('Service', service),
    el('div', { class: 'row2' }, field('Span kind', kind), field('Operation', operation)),
    field('Tags', tags),
    el('p', { class: 'hint' }, 'logfmt: key=value key2="a b"'),
    field('Lookback', lookback),
    custom,
    el('div', { class: 'row2' }, field('Min duration', minD), field('Max duration', maxD)),
    field('Limit results', limit),
    el('button', { id: 'find', type: 'submit', class: 'primary' }, 'Find Traces'),
    el('label', { class: 'upload button' }, 'Open JSON file…', fileInput)
  );
  const resultsPane = el('section', { id: 'results-pane', 'aria-label': 'Search results' });
  app.append(el('div', { class: 'search-page' }, el('aside', { class: 'search-side' }, form), el('div', { class: 'search-main' }, status, resultsPane)));

  const setStatus = (text, isError) => {
    status.textContent = text;
    status.className = isError ? 'error' : '';
  };
  lookback.addEventListener('change', () => {
    custom.hidden = lookback.value !== 'custom';
    if (!custom.hidden && !start.value) {
      const now = Date.now() * 1000;
      start.value = toLocalInput(now - 3600e6);
      end.value = toLocalInput(now);
    }
  });

  // Fill the form from the URL.
  const tagsParam = q.get('tags');
  if (tagsParam) {
    try {
      tags.value = toLogfmt(JSON.parse(tagsParam));
    } catch (_) {
      tags.value = tagsParam;
    }
  }
  kind.value = q.get('spanKind') || '';
  lookback.value = lookbacks.some(([v]) => v === q.get('lookback')) ? q.get('lookback') : defaultLookback;
  if (!lookback.value) lookback.value = '1h';
  if (lookback.value === 'custom' && q.get('start') && q.get('end')) {
    start.value = toLocalInput(Number(q.get('start')));
    end.value = toLocalInput(Number(q.get('end')));
  }
  custom.hidden = lookback.value !== 'custom';
  minD.value = q.get('minDuration') || '';
  maxD.value = q.get('maxDuration') || '';
  limit.value = q.get('limit') || searchCfg.defaultLimit || 20;

  let disposed = false;
  let opsSeq = 0;
  const loadOperations = async () => {
    const my = ++opsSeq;
    operation.replaceChildren(el('option', { value: '' }, 'all'));
    if (!service.value) return;
    try {
      const body = await api(`api/operations?service=${encodeURIComponent(service.value)}&spanKind=${encodeURIComponent(kind.value)}`);
      // A later change of service or kind wins.
      if (my !== opsSeq) return;
      const ops = (body.data || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      for (const o of ops) operation.append(el('option', { value: o.name }, kind.value || !o.spanKind ? o.name : `${o.name} (${o.spanKind})`));
      const want = q.get('operation');
      if (want && ops.some((o) => o.name === want)) operation.value = want;
    } catch (e) {
      setStatus(`Cannot load operations: ${e.message}`, true);
    }
  };
  service.addEventListener('change', loadOperations);
  kind.addEventListener('change', loadOperations);

  (async () => {
    try {
      const body = await api('api/services');
      if (disposed) return;
      const services = (body.data || []).slice().sort();
      for (const s of services) service.append(el('option', { value: s }, s));
      if (!services.length) setStatus('No services yet: send some traces.');
      const want = q.get('service') || prefs.get('jaeger-last-service');
      if (want && services.includes(want)) service.value = want;
      await loadOperations();
      if (q.get('service') && services.includes(q.get('service'))) runSearch();
    } catch (e) {
      setStatus(`Cannot load services: ${e.message}`, true);
    }
  })();

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    p.set('service', service.value);
    if (operation.value) p.set('operation', operation.value);
    if (kind.value) p.set('spanKind', kind.value);
    const t = parseLogfmt(tags.value);
    if (Object.keys(t).length) p.set('tags', JSON.stringify(t));
    p.set('lookback', lookback.value);
    let s;
    let en;
    if (lookback.value === 'custom') {
      s = fromLocalInput(start.value);
      en = fromLocalInput(end.value);
      if (!(s < en)) return setStatus('The custom range needs a start before its end.', true);
    } else {
      en = Date.now() * 1000;
      s = en - lookbackUs(lookback.value);
    }
    p.set('start', String(Math.floor(s)));
    p.set('end', String(Math.floor(en)));
    for (const [input, name] of [[minD, 'minDuration'], [maxD, 'maxDuration']]) {
      const v = input.value.trim();
      if (!v) continue;
      if (Number.isNaN(parseGoDuration(v))) return setStatus(`${name}: "${v}" is not a duration such as 100ms, 1.5s or 2m`, true);
      p.set(name, v);
    }
    p.set('limit', String(Math.min(Math.max(Number(limit.value) || 20, 1), maxLimit)));
    if (q.get('sortBy')) p.set('sortBy', q.get('sortBy'));
    prefs.set('jaeger-last-service', service.value);
    navigate(`search?${p}`);
  });

  let seq = 0;
  async function runSearch() {
    const my = ++seq;
    const p = new URLSearchParams();
    for (const k of ['service', 'operation', 'tags', 'minDuration', 'maxDuration', 'limit', 'start', 'end']) if (q.get(k)) p.set(k, q.get(k));
    if (!p.get('start')) {
      const now = Date.now() * 1000;
      p.set('end', String(now));
      p.set('start', String(Math.floor(now - (lookbackUs(lookback.value) || 3600e6))));
    }
    setStatus('Searching…');
    try {
      const body = await api(`api/traces?${p}`);
      if (disposed || my !== seq) return;
      const traces = [];
      for (const raw of body.data || []) {
        try {
          traces.push(summarize(buildTrace(raw)));
        } catch (_) {
          // A malformed trace is left out of the list.
        }
      }
      setStatus('');
      showResults(traces, false);
    } catch (e) {
      if (!disposed) setStatus(e.message, true);
    }
  }

  fileInput.addEventListener('change', async () => {
    const loaded = [];
    try {
      for (const f of fileInput.files) loaded.push(...(await readTraceFile(f)));
    } catch (e) {
      return setStatus(`Cannot open the file: ${e.message}`, true);
    }
    for (const t of loaded) localTraces.set(t.traceID, t);
    setStatus(`Opened ${loaded.length} trace${loaded.length === 1 ? '' : 's'} from file.`);
    showResults(loaded.map(summarize), true);
    fileInput.value = '';
  });

  function showResults(summaries, fromFile) {
    let sortBy = SORTS.find(([k]) => k === q.get('sortBy')) ? q.get('sortBy') : 'recent';
    const selected = new Set();
    const list = el('ol', { id: 'results' });
    const sortSel = el('select', { id: 'sort', 'aria-label': 'Sort results' }, SORTS.map(([k, l]) => el('option', { value: k }, l)));
    sortSel.value = sortBy;
    const compareBtn = el('button', { id: 'compare-selected', type: 'button', disabled: true }, 'Compare selected');
    compareBtn.addEventListener('click', () => {
      const [a, b] = [...selected];
      navigate(`compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}${fromFile ? '&source=file' : ''}`);
    });
    const traceHref = (id) => href(`trace/${encodeURIComponent(id)}${fromFile ? '?source=file' : ''}`);
    const draw = () => {
      const sorted = summaries.slice().sort(SORTS.find(([k]) => k === sortBy)[2]);
      list.replaceChildren(...sorted.map((s) => resultItem(s, traceHref, selected, compareBtn)));
    };
    sortSel.addEventListener('change', () => {
      sortBy = sortSel.value;
      const u = new URL(location.href);
      u.searchParams.set('sortBy', sortBy);
      history.replaceState(null, '', u);
      draw();
    });
    draw();
    resultsPane.replaceChildren(
      summaries.length ? scatter(summaries, (id) => navigate(traceHref(id))) : el('p', { class: 'empty' }, 'No trace results. Try another query.'),
      el('div', { class: 'results-bar' }, el('h2', {}, `${summaries.length} Trace${summaries.length === 1 ? '' : 's'}`), el('label', { class: 'inline' }, 'Sort: ', sortSel), compareBtn),
      list
    );
  }

  return { dispose: () => (disposed = true) };
}

function resultItem(s, traceHref, selected, compareBtn) {
  const check = el('input', { type: 'checkbox', class: 'select-trace', 'aria-label': `Select ${s.traceID} for comparison` });
  check.addEventListener('change', () => {
    if (check.checked) selected.add(s.traceID);
    else selected.delete(s.traceID);
    compareBtn.disabled = selected.size !== 2;
  });
  return el(
    'li',
    { class: 'result', dataset: { traceId: s.traceID } },
    el(
      'div',
      { class: 'result-head' },
      check,
      el('a', { class: 'trace-link', href: traceHref(s.traceID), 'data-nav': '' }, `${s.rootService}: ${s.rootOperation}`, el('span', { class: 'trace-id' }, ` ${s.traceID}`)),
      el('span', { class: 'duration' }, fmtDuration(s.duration))
    ),
    el(
      'div',
      { class: 'meta' },
      el('span', { class: 'count' }, `${s.spans} span${s.spans === 1 ? '' : 's'}`),
      s.errors ? el('span', { class: 'errors' }, `${s.errors} error${s.errors === 1 ? '' : 's'}`) : null,
      el('span', { class: 'services' }, s.services.map(([name, n]) => el('span', { class: 'svc-tag', style: `border-left-color:${serviceColor(name)}` }, `${name} (${n})`))),
      el('time', { class: 'start', title: fmtAgo(s.start) }, fmtTime(s.start))
    )
  );
}

// Duration over start time, one dot per trace (area ~ span count, red with errors).
function scatter(summaries, open) {
  const W = 800;
  const H = 160;
  const P = { l: 64, r: 24, t: 16, b: 24 };
  const t0 = Math.min(...summaries.map((s) => s.start));
  const t1 = Math.max(...summaries.map((s) => s.start));
  const dMax = Math.max(...summaries.map((s) => s.duration), 1);
  const x = (t) => P.l + (t1 === t0 ? (W - P.l - P.r) / 2 : ((t - t0) / (t1 - t0)) * (W - P.l - P.r));
  const y = (d) => H - P.b - (d / dMax) * (H - P.t - P.b);
  const g = svg('svg', { id: 'scatter', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Trace duration over time' });
  for (let i = 0; i <= 3; i++) {
    const d = (dMax * i) / 3;
    g.append(svg('line', { x1: P.l, x2: W - P.r, y1: y(d), y2: y(d), class: 'grid' }), svg('text', { x: P.l - 6, y: y(d) + 4, 'text-anchor': 'end', class: 'axis' }, fmtDuration(d)));
  }
  g.append(svg('text', { x: P.l, y: H - 6, class: 'axis' }, fmtTime(t0).slice(11, 19)), svg('text', { x: W - P.r, y: H - 6, 'text-anchor': 'end', class: 'axis' }, fmtTime(t1).slice(11, 19)));
  for (const s of summaries) {
    const dot = svg(
      'circle',
      { cx: x(s.start), cy: y(s.duration), r: Math.min(3 + Math.sqrt(s.spans), 14), class: s.errors ? 'dot error' : 'dot', tabindex: 0, 'data-trace-id': s.traceID, role: 'link' },
      svg('title', {}, `${s.rootService}: ${s.rootOperation} — ${fmtDuration(s.duration)}, ${s.spans} spans, ${fmtTime(s.start)}`)
    );
    dot.addEventListener('click', () => open(s.traceID));
    dot.addEventListener('keydown', (e) => e.key === 'Enter' && open(s.traceID));
    g.append(dot);
  }
  return el('div', { class: 'scatter-box' }, g);
}

// A Jaeger JSON download ({data: [trace…]}), a bare trace or array of them, or OTLP JSON
// ({resourceSpans}, converted by the server's api/transform).
export async function readTraceFile(file) {
  const text = await file.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file.name} is not JSON: ${e.message}`);
  }
  if (json && Array.isArray(json.resourceSpans)) {
    json = await api('api/transform', { method: 'POST', body: text, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } });
  }
  const raws = Array.isArray(json) ? json : json && Array.isArray(json.data) ? json.data : [json];
  return raws.map(buildTrace);
}

// The trace view: a Gantt timeline over the collapsible span tree with virtualised rows
// (only the rows in view are in the DOM, so 10,000+ spans scroll smoothly), a minimap
// that scrolls and zooms, span detail, the critical path, search within the trace, the
// clock-skew toggle (`raw=true` re-renders unadjusted), JSON download, archiving, and the
// view selector: timeline, flame graph (flame.js), statistics (stats.js).

import { el, api, fmtDuration, fmtTime, serviceColor, tagValue, download } from './util.js';
import { buildTrace, criticalPath, localTraces } from './model.js';
import { FlameView } from './flame.js';
import { StatsView } from './stats.js';

const ROW_H = 26;
const OVERSCAN = 12;
// Skews the adjuster reported, by trace and span id, so the raw view can say how far
// each span would move.
const knownSkews = new Map();
const VIEWS = [['timeline', 'Trace timeline'], ['flamegraph', 'Trace flame graph'], ['statistics', 'Trace statistics']];

export function tracePage(ctx, traceID) {
  const { app, q, navigate, href, config, capabilities } = ctx;
  const raw = q.get('raw') === 'true';
  const fromFile = q.get('source') === 'file' && localTraces.has(traceID);
  const section = el('section', { id: 'trace-view', 'aria-label': 'Trace' });
  app.append(section);
  let view = null;
  let disposed = false;
  section.append(el('p', { class: 'loading', role: 'status' }, `Loading trace ${traceID}…`));
  performance.mark('jaeger:trace-requested');
  (async () => {
    let trace;
    try {
      if (fromFile) trace = localTraces.get(traceID);
      else {
        const body = await api(`api/traces/${encodeURIComponent(traceID)}${raw ? '?raw=true' : ''}`);
        if (!body.data || !body.data[0]) throw new Error('trace not found');
        trace = buildTrace(body.data[0]);
      }
    } catch (e) {
      if (!disposed) section.replaceChildren(el('p', { class: 'error', role: 'alert' }, `Cannot load trace ${traceID}: ${e.message}`));
      return;
    }
    if (disposed) return;
    performance.mark('jaeger:trace-fetched');
    if (!raw) {
      const skews = new Map();
      for (const s of trace.spans) if (s.skew) skews.set(s.id, s.skew);
      knownSkews.set(trace.traceID, skews);
    }
    view = new TraceView(section, trace, { raw, fromFile, navigate, href, q, config, capabilities });
    // For benchmarks and debugging from the console.
    window.jaegerTraceView = view;
    performance.mark('jaeger:trace-rendered');
    document.title = `${trace.root.service}: ${trace.root.operationName} (${trace.traceID.slice(0, 7)}) — Jaeger UI`;
  })();
  return {
    dispose() {
      disposed = true;
      if (view) view.dispose();
      document.title = 'Jaeger UI';
    },
  };
}

class TraceView {
  constructor(section, trace, opts) {
    this.section = section;
    this.trace = trace;
    this.opts = opts;
    this.collapsed = new Set();
    this.selected = null;
    this.cursor = 0;
    this.matches = new Set();
    this.query = '';
    this.range = [0, 1];
    this.critical = criticalPath(trace);
    this.showCritical = true;
    this.skews = opts.raw ? knownSkews.get(trace.traceID) || new Map() : null;
    this.frame = 0;
    this.view = VIEWS.some(([v]) => v === opts.q.get('view')) ? opts.q.get('view') : 'timeline';
    this.views = {};
    this.build();
    this.recompute();
    this.refresh();
    this.drawMinimap();
    const want = opts.q.get('span');
    if (want && trace.byId.has(want)) this.reveal(trace.byId.get(want), true);
    this.onResize = () => {
      this.drawMinimap();
      this.schedule();
    };
    addEventListener('resize', this.onResize);
    if (this.view !== 'timeline') this.setView(this.view);
  }

  dispose() {
    removeEventListener('resize', this.onResize);
    cancelAnimationFrame(this.frame);
    if (this.views.flamegraph) this.views.flamegraph.dispose();
  }

  // Shows the timeline, the flame graph or the statistics (built on first use); the
  // choice is kept in the URL (`view=`).
  setView(v) {
    this.view = v;
    this.viewSelect.value = v;
    this.timelineBox.hidden = v !== 'timeline';
    this.timelineTools.hidden = v !== 'timeline';
    for (const [k, box] of Object.entries(this.viewBoxes)) box.hidden = k !== v;
    if (v === 'flamegraph' && !this.views.flamegraph) {
      this.views.flamegraph = new FlameView(this.viewBoxes.flamegraph, this.trace, {
        showInTimeline: (s) => {
          this.setView('timeline');
          this.reveal(s, true);
        },
      });
    } else if (v === 'statistics' && !this.views.statistics) this.views.statistics = new StatsView(this.viewBoxes.statistics, this.trace);
    else if (v === 'flamegraph') this.views.flamegraph.draw();
    if (v === 'timeline') this.onResize();
    const u = new URL(location.href);
    if (v === 'timeline') u.searchParams.delete('view');
    else u.searchParams.set('view', v);
    history.replaceState(null, '', u);
  }

  // POST api/archive/<id> (relative to the base path): the query service copies the
  // trace into archive storage.
  async archive() {
    const b = this.archiveBtn;
    const status = this.archiveStatus;
    b.disabled = true;
    status.className = 'archive-status';
    status.textContent = 'Archiving…';
    try {
      await api(`api/archive/${encodeURIComponent(this.trace.traceID)}`, { method: 'POST' });
      b.textContent = 'Archived';
      status.textContent = 'Archived: the trace is kept in archive storage';
      status.classList.add('ok');
    } catch (e) {
      b.disabled = false;
      status.textContent = `Archive failed: ${e.message}`;
      status.classList.add('error');
    }
  }

  build() {
    const t = this.trace;
    const { raw, fromFile, navigate, href, config, capabilities } = this.opts;
    const adjusted = t.spans.filter((s) => s.skew).length;
    const withWarnings = t.spans.filter((s) => s.warnings.length).length;
    const skewToggle = el('input', { type: 'checkbox', id: 'skew-toggle', checked: !raw, disabled: fromFile });
    skewToggle.addEventListener('change', () => {
      const p = new URLSearchParams();
      if (!skewToggle.checked) p.set('raw', 'true');
      if (this.selected) p.set('span', this.selected.id);
      if (this.view !== 'timeline') p.set('view', this.view);
      navigate(`trace/${encodeURIComponent(t.traceID)}${p.toString() ? `?${p}` : ''}`, { replace: true });
    });
    const critToggle = el('input', { type: 'checkbox', id: 'critical-toggle', checked: true });
    critToggle.addEventListener('change', () => {
      this.showCritical = critToggle.checked;
      this.refresh();
    });
    this.searchInput = el('input', { id: 'trace-search', type: 'search', placeholder: 'Find in trace…', 'aria-label': 'Search within the trace', spellcheck: 'false' });
    this.matchCount = el('span', { id: 'match-count', class: 'match-count', 'aria-live': 'polite' });
    this.searchInput.addEventListener('input', () => this.search(this.searchInput.value));
    this.searchInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.nextMatch(e.shiftKey ? -1 : 1);
      }
    });
    const button = (id, label, fn, title) => el('button', { type: 'button', id, onclick: fn, title }, label);
    this.resetZoom = button('reset-zoom', 'Reset zoom', () => this.zoom(0, 1));
    this.resetZoom.hidden = true;
    this.viewSelect = el('select', { id: 'trace-view-select', 'aria-label': 'Trace view' }, VIEWS.map(([v, l]) => el('option', { value: v }, l)));
    this.viewSelect.value = this.view;
    this.viewSelect.addEventListener('change', () => this.setView(this.viewSelect.value));
    // As Jaeger's UI: offered when the backend has archive storage and the UI config
    // does not turn it off (`archiveEnabled: false`); not for a trace opened from a file.
    const archivable = capabilities && capabilities.archiveStorage && !(config && config.archiveEnabled === false) && !fromFile;
    this.archiveBtn = archivable ? button('archive', 'Archive trace', () => this.archive(), 'Copy this trace into archive storage') : null;
    this.archiveStatus = archivable ? el('span', { id: 'archive-status', class: 'archive-status', role: 'status', 'aria-live': 'polite' }) : null;
    this.timelineTools = el('span', { class: 'toolbar-group' });
    const head = el(
      'div',
      { class: 'trace-head' },
      el('h2', {}, el('span', { class: 'svc-dot', style: `background:${serviceColor(t.root.service)}` }), `${t.root.service}: ${t.root.operationName} `, el('span', { class: 'trace-id' }, t.traceID)),
      el(
        'div',
        { class: 'meta trace-meta' },
        el('span', {}, 'Start ', el('b', {}, fmtTime(t.start))),
        el('span', {}, 'Duration ', el('b', {}, fmtDuration(t.duration))),
        el('span', {}, 'Services ', el('b', {}, String(t.services.size))),
        el('span', {}, 'Depth ', el('b', {}, String(t.maxDepth + 1))),
        el('span', { id: 'span-count' }, 'Total spans ', el('b', {}, String(t.spans.length))),
        t.errors ? el('span', { class: 'errors' }, `${t.errors} error${t.errors === 1 ? '' : 's'}`) : null,
        adjusted ? el('span', { class: 'warning', id: 'skew-summary' }, `${adjusted} span${adjusted === 1 ? '' : 's'} moved by clock-skew adjustment`) : null,
        withWarnings > adjusted ? el('span', { class: 'warning' }, `${withWarnings} with warnings`) : null,
        fromFile ? el('span', { class: 'badge' }, 'opened from file') : null,
        raw ? el('span', { class: 'badge', id: 'raw-badge' }, 'unadjusted (raw)') : null
      ),
      el(
        'div',
        { class: 'toolbar' },
        this.viewSelect,
        el('label', { class: 'switch', title: 'Apply the query service’s clock-skew adjustment; off re-renders the trace as stored (raw=true)' }, skewToggle, ' Adjust clock skew'),
        this.timelineTools,
        button('download', 'Download JSON', () => download(`${t.traceID}.json`, JSON.stringify({ data: [t.raw] }, null, 2))),
        this.archiveBtn,
        this.archiveStatus,
        el('a', { class: 'button', href: href(`compare?a=${encodeURIComponent(t.traceID)}`), 'data-nav': '' }, 'Compare…')
      )
    );
    this.timelineTools.append(
      el('label', { class: 'switch' }, critToggle, ' Critical path'),
      this.searchInput,
      this.matchCount,
      button('expand-all', 'Expand all', () => {
        this.collapsed.clear();
        this.recompute();
        this.refresh();
      }),
      button('collapse-all', 'Collapse all', () => {
        for (const s of t.spans) if (s.children.length && s.depth >= 1) this.collapsed.add(s.id);
        this.recompute();
        this.refresh();
      }),
      this.resetZoom
    );
    // Minimap: every span as a line; drag to zoom into a time range, click to scroll.
    this.canvas = el('canvas', { class: 'minimap-canvas', height: 64, 'aria-hidden': 'true' });
    this.viewportBox = el('div', { class: 'minimap-viewport' });
    this.zoomBox = el('div', { class: 'minimap-zoom' });
    this.dragBox = el('div', { class: 'minimap-drag', hidden: true });
    this.minimap = el('div', { id: 'minimap', class: 'minimap', title: 'Drag to zoom into a time range; click to scroll' }, this.canvas, this.zoomBox, this.viewportBox, this.dragBox);
    this.minimapEvents();
    this.ticks = el('div', { class: 'ticks' });
    const header = el('div', { class: 'timeline-head' }, el('div', { class: 'name-head' }, 'Service & Operation'), this.ticks);
    this.spacer = el('div', { class: 'rows-spacer' });
    this.rowsBox = el('div', { class: 'rows', role: 'tree', tabindex: 0, 'aria-label': 'Spans', id: 'span-rows' }, this.spacer);
    this.rowsBox.addEventListener('scroll', () => this.schedule());
    this.rowsBox.addEventListener('keydown', (e) => this.key(e));
    this.rowsBox.addEventListener('click', (e) => this.click(e));
    this.detail = el('aside', { class: 'span-detail', id: 'span-detail', hidden: true, 'aria-label': 'Span detail' });
    this.timelineBox = el('div', { class: 'timeline-view' }, this.minimap, el('div', { class: 'timeline' }, el('div', { class: 'timeline-main' }, header, this.rowsBox), this.detail));
    this.viewBoxes = {
      flamegraph: el('div', { id: 'flame-view', class: 'alt-view', hidden: true }),
      statistics: el('div', { id: 'stats-view', class: 'alt-view', hidden: true }),
    };
    this.section.replaceChildren(head, this.timelineBox, this.viewBoxes.flamegraph, this.viewBoxes.statistics);
  }

  // The rows shown: the depth-first order minus descendants of collapsed spans.
  recompute() {
    const vis = [];
    let skipBelow = Infinity;
    for (const s of this.trace.spans) {
      if (s.depth > skipBelow) continue;
      skipBelow = Infinity;
      vis.push(s);
      if (this.collapsed.has(s.id)) skipBelow = s.depth;
    }
    this.visible = vis;
    this.index = new Map(vis.map((s, i) => [s.id, i]));
    this.spacer.style.height = `${vis.length * ROW_H}px`;
    this.cursor = Math.min(this.cursor, vis.length - 1);
  }

  schedule() {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.renderRows());
  }

  x(us) {
    const t = this.trace;
    const f = t.duration ? (us - t.start) / t.duration : 0;
    return ((f - this.range[0]) / (this.range[1] - this.range[0])) * 100;
  }

  // Re-renders every row in view (after a change of state: selection, collapse, search,
  // zoom, cursor); scrolling only calls renderRows, which reuses rows already built.
  refresh() {
    this.version = (this.version || 0) + 1;
    this.renderTicks();
    this.renderRows();
  }

  renderRows() {
    const box = this.rowsBox;
    // Read layout before touching the DOM, so nothing forces a synchronous reflow.
    const top = box.scrollTop;
    const h = box.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(this.visible.length, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    if (this.version !== this.renderedVersion || !this.live) {
      this.spacer.replaceChildren();
      this.live = new Map();
      this.renderedVersion = this.version;
    }
    const want = new Set();
    const fresh = [];
    for (let i = first; i < last; i++) {
      const s = this.visible[i];
      want.add(s.id);
      if (!this.live.has(s.id)) {
        const r = this.row(s, i);
        this.live.set(s.id, r);
        fresh.push(r);
      }
    }
    for (const [id, r] of this.live) {
      if (!want.has(id)) {
        r.remove();
        this.live.delete(id);
      }
    }
    this.spacer.append(...fresh);
    this.updateViewport(top, h);
  }

  row(s, i) {
    const color = serviceColor(s.service);
    const hasKids = s.children.length > 0;
    const collapsed = this.collapsed.has(s.id);
    const cls = ['span-row'];
    if (s.error) cls.push('error');
    if (this.selected === s) cls.push('selected');
    if (i === this.cursor) cls.push('cursor');
    if (this.query) cls.push(this.matches.has(s.id) ? 'match' : 'dim');
    if (this.showCritical && this.critical.has(s.id)) cls.push('critical');
    const skew = this.opts.raw ? this.skews.get(s.id) : s.skew;
    const left = this.x(s.startTime);
    const width = Math.max(this.x(s.end) - left, 0.15);
    const bar = el('div', { class: 'span-bar', style: `left:${left}%;width:${width}%;background:${color}` });
    for (const log of s.logs) bar.append(el('i', { class: 'log-mark', style: `left:${s.duration ? ((log.timestamp - s.startTime) / s.duration) * 100 : 0}%` }));
    return el(
      'div',
      {
        class: cls.join(' '),
        role: 'treeitem',
        'aria-level': s.depth + 1,
        'aria-expanded': hasKids ? String(!collapsed) : undefined,
        'aria-selected': String(this.selected === s),
        'data-span-id': s.id,
        'data-index': i,
        style: `top:${i * ROW_H}px`,
      },
      el(
        'div',
        { class: 'span-name', style: `padding-left:${Math.min(s.depth, 40) * 14 + 4}px` },
        hasKids ? el('button', { type: 'button', class: 'toggle', tabindex: -1, 'aria-label': collapsed ? 'Expand' : 'Collapse' }, collapsed ? '▸' : '▾') : el('span', { class: 'toggle-space' }),
        skew
          ? el(
              'span',
              { class: 'skew-badge', title: this.opts.raw ? `Unadjusted; the clock-skew adjuster moves this span by ${skew.text}` : `Clock-skew adjusted: this span's timestamps were moved by ${skew.text}` },
              this.opts.raw ? `⇄ would move ${skew.text}` : `⇄ moved ${skew.text}`
            )
          : null,
        el('span', { class: 'svc-stripe', style: `background:${color}` }),
        el('span', { class: 'service' }, s.service),
        el('span', { class: 'op' }, s.operationName),
        hasKids && collapsed ? el('span', { class: 'child-count' }, `+${countDescendants(s)}`) : null,
        s.error ? el('span', { class: 'err-icon', title: 'error' }, '!') : null
      ),
      el('div', { class: 'span-bar-track' }, bar, el('span', { class: 'bar-label', style: `left:${Math.min(Math.max(left + width, 0), 92)}%` }, fmtDuration(s.duration)))
    );
  }

  renderTicks() {
    const [a, b] = this.range;
    const d = this.trace.duration;
    const ticks = [];
    for (let k = 0; k <= 4; k++) {
      const f = k / 4;
      ticks.push(el('span', { class: 'tick', style: `left:${f * 100}%` }, fmtDuration((a + (b - a) * f) * d)));
    }
    this.ticks.replaceChildren(...ticks);
  }

  click(e) {
    const rowEl = e.target.closest('.span-row');
    if (!rowEl) return;
    const s = this.trace.byId.get(rowEl.dataset.spanId);
    this.cursor = Number(rowEl.dataset.index);
    if (e.target.closest('.toggle')) this.toggle(s);
    else this.select(this.selected === s ? null : s);
    this.rowsBox.focus({ preventScroll: true });
  }

  key(e) {
    const s = this.visible[this.cursor];
    let handled = true;
    switch (e.key) {
      case 'ArrowDown':
        this.moveCursor(this.cursor + 1);
        break;
      case 'ArrowUp':
        this.moveCursor(this.cursor - 1);
        break;
      case 'Home':
        this.moveCursor(0);
        break;
      case 'End':
        this.moveCursor(this.visible.length - 1);
        break;
      case 'PageDown':
        this.moveCursor(this.cursor + Math.floor(this.rowsBox.clientHeight / ROW_H));
        break;
      case 'PageUp':
        this.moveCursor(this.cursor - Math.floor(this.rowsBox.clientHeight / ROW_H));
        break;
      case 'ArrowRight':
        if (s && this.collapsed.has(s.id)) this.toggle(s);
        break;
      case 'ArrowLeft':
        if (s && s.children.length && !this.collapsed.has(s.id)) this.toggle(s);
        else if (s && s.parent && this.index.has(s.parent.id)) this.moveCursor(this.index.get(s.parent.id));
        break;
      case 'Enter':
      case ' ':
        if (s) this.select(this.selected === s ? null : s);
        break;
      case 'Escape':
        this.select(null);
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  }

  moveCursor(i) {
    this.cursor = Math.max(0, Math.min(this.visible.length - 1, i));
    this.scrollTo(this.cursor);
    this.refresh();
  }

  scrollTo(i, center) {
    const box = this.rowsBox;
    const top = i * ROW_H;
    if (center) box.scrollTop = Math.max(0, top - box.clientHeight / 2);
    else if (top < box.scrollTop) box.scrollTop = top;
    else if (top + ROW_H > box.scrollTop + box.clientHeight) box.scrollTop = top + ROW_H - box.clientHeight;
  }

  toggle(s) {
    if (this.collapsed.has(s.id)) this.collapsed.delete(s.id);
    else this.collapsed.add(s.id);
    this.recompute();
    this.cursor = this.index.get(s.id) ?? this.cursor;
    this.refresh();
  }

  // Expands the span's ancestors, scrolls to it and optionally selects it.
  reveal(s, select) {
    for (let p = s.parent; p; p = p.parent) this.collapsed.delete(p.id);
    this.recompute();
    this.cursor = this.index.get(s.id);
    this.scrollTo(this.cursor, true);
    if (select) this.select(s);
    else this.refresh();
  }

  select(s) {
    this.selected = s;
    this.refresh();
    this.renderDetail();
    const u = new URL(location.href);
    if (s) u.searchParams.set('span', s.id);
    else u.searchParams.delete('span');
    history.replaceState(null, '', u);
  }

  search(text) {
    this.query = text.trim().toLowerCase();
    this.matches = new Set();
    if (this.query) {
      const qy = this.query;
      for (const s of this.trace.spans) {
        const hay = [s.service, s.operationName, s.id, ...s.tags.map((t) => `${t.key}=${tagValue(t)}`), ...s.process.tags.map((t) => `${t.key}=${tagValue(t)}`)];
        if (hay.some((h) => String(h).toLowerCase().includes(qy))) this.matches.add(s.id);
      }
      this.matchCount.textContent = `${this.matches.size} match${this.matches.size === 1 ? '' : 'es'}`;
    } else this.matchCount.textContent = '';
    this.refresh();
  }

  nextMatch(dir) {
    if (!this.matches.size) return;
    const order = this.trace.spans.filter((s) => this.matches.has(s.id));
    const cur = this.visible[this.cursor];
    const at = cur ? cur.pos : -1;
    const next = dir > 0 ? order.find((s) => s.pos > at) || order[0] : [...order].reverse().find((s) => s.pos < at) || order[order.length - 1];
    this.reveal(next, true);
  }

  renderDetail() {
    const s = this.selected;
    const d = this.detail;
    if (!s) {
      d.hidden = true;
      d.replaceChildren();
      return;
    }
    const t = this.trace;
    const kvTable = (kvs) =>
      kvs.length
        ? el('table', { class: 'kv' }, el('tbody', {}, kvs.map((kv) => el('tr', {}, el('th', { scope: 'row' }, kv.key), el('td', {}, tagValue(kv))))))
        : el('p', { class: 'empty' }, 'none');
    const skew = this.opts.raw ? this.skews.get(s.id) : s.skew;
    const refs = s.references.map((r) => {
      const local = (!r.traceID || r.traceID === t.traceID) && t.byId.has(r.spanID);
      const target = local
        ? el('button', { type: 'button', class: 'link ref-link', onclick: () => this.reveal(t.byId.get(r.spanID), true) }, `${t.byId.get(r.spanID).service}: ${t.byId.get(r.spanID).operationName} (${r.spanID})`)
        : el('a', { class: 'ref-link', href: this.opts.href(`trace/${encodeURIComponent(r.traceID)}?span=${encodeURIComponent(r.spanID)}`), 'data-nav': '' }, `trace ${r.traceID} span ${r.spanID}`);
      return el('li', {}, el('span', { class: 'ref-type' }, r.refType), ' ', target);
    });
    const children = s.children.length
      ? el('details', {}, el('summary', {}, `Children (${s.children.length})`), el('ul', { class: 'refs' }, s.children.slice(0, 200).map((c) => el('li', {}, el('button', { type: 'button', class: 'link', onclick: () => this.reveal(c, true) }, `${c.service}: ${c.operationName}`)))))
      : null;
    d.hidden = false;
    const parts = [
      el('div', { class: 'detail-head' }, el('h3', {}, el('span', { class: 'svc-dot', style: `background:${serviceColor(s.service)}` }), `${s.service}: ${s.operationName}`), el('button', { type: 'button', class: 'close', 'aria-label': 'Close span detail', onclick: () => this.select(null) }, '×')),
      el(
        'dl',
        { class: 'span-facts' },
        el('dt', {}, 'Span ID'), el('dd', { class: 'mono' }, s.spanID),
        el('dt', {}, 'Start'), el('dd', {}, `${fmtDuration(s.startTime - t.start)} (${fmtTime(s.startTime)})`),
        el('dt', {}, 'Duration'), el('dd', {}, fmtDuration(s.duration)),
        s.kind ? [el('dt', {}, 'Kind'), el('dd', {}, s.kind)] : null,
        skew ? [el('dt', {}, 'Clock skew'), el('dd', { class: 'warning', id: 'skew-detail' }, this.opts.raw ? `not applied (raw); the adjuster moves it by ${skew.text}` : `moved by ${skew.text}`)] : null
      ),
      s.warnings.length ? el('section', { class: 'warnings' }, el('h4', {}, 'Warnings'), el('ul', {}, s.warnings.map((w) => el('li', { class: 'warning' }, w)))) : null,
      el('section', {}, el('h4', {}, `Tags (${s.tags.length})`), kvTable(s.tags)),
      el('section', {}, el('h4', {}, `Process: ${s.process.serviceName}`), kvTable(s.process.tags)),
      el(
        'section',
        {},
        el('h4', {}, `Logs (${s.logs.length})`),
        s.logs.length ? s.logs.map((l) => el('div', { class: 'log' }, el('div', { class: 'log-time' }, `+${fmtDuration(l.timestamp - t.start)}`), kvTable(l.fields || []))) : el('p', { class: 'empty' }, 'none')
      ),
      el('section', {}, el('h4', {}, `References (${s.references.length})`), refs.length ? el('ul', { class: 'refs' }, refs) : el('p', { class: 'empty' }, 'none')),
      children,
    ];
    // replaceChildren would print a null as text.
    d.replaceChildren(...parts.filter(Boolean));
  }

  zoom(a, b) {
    this.range = [Math.max(0, a), Math.min(1, b)];
    this.resetZoom.hidden = a <= 0 && b >= 1;
    this.zoomBox.style.left = `${this.range[0] * 100}%`;
    this.zoomBox.style.width = `${(this.range[1] - this.range[0]) * 100}%`;
    this.refresh();
  }

  drawMinimap() {
    const c = this.canvas;
    const w = (c.width = this.minimap.clientWidth || 800);
    const h = c.height;
    const ctx = c.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    const t = this.trace;
    const n = t.spans.length;
    const lineH = Math.max(h / n, 0.5);
    for (let i = 0; i < n; i++) {
      const s = t.spans[i];
      const x0 = t.duration ? ((s.startTime - t.start) / t.duration) * w : 0;
      const x1 = t.duration ? ((s.end - t.start) / t.duration) * w : w;
      ctx.fillStyle = serviceColor(s.service);
      ctx.fillRect(x0, (i / n) * h, Math.max(x1 - x0, 1), Math.max(lineH, 1));
    }
    this.zoom(this.range[0], this.range[1]);
  }

  // The rows in view, as a band on the minimap (in all-spans order).
  updateViewport(top, h) {
    const n = this.visible.length || 1;
    const first = top / ROW_H;
    const shown = h / ROW_H;
    this.viewportBox.style.top = `${(first / n) * 100}%`;
    this.viewportBox.style.height = `${Math.min(shown / n, 1) * 100}%`;
  }

  minimapEvents() {
    let start = null;
    const frac = (e) => {
      const r = this.minimap.getBoundingClientRect();
      return [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
    };
    this.minimap.addEventListener('pointerdown', (e) => {
      start = frac(e);
      this.minimap.setPointerCapture(e.pointerId);
    });
    this.minimap.addEventListener('pointermove', (e) => {
      if (!start) return;
      const [x] = frac(e);
      this.dragBox.hidden = false;
      this.dragBox.style.left = `${Math.min(x, start[0]) * 100}%`;
      this.dragBox.style.width = `${Math.abs(x - start[0]) * 100}%`;
    });
    this.minimap.addEventListener('pointerup', (e) => {
      if (!start) return;
      const [x, y] = frac(e);
      this.dragBox.hidden = true;
      if (Math.abs(x - start[0]) > 0.01) {
        const [a, b] = [Math.min(x, start[0]), Math.max(x, start[0])];
        const [r0, r1] = [0, 1];
        this.zoom(r0 + a * (r1 - r0), r0 + b * (r1 - r0));
      } else {
        this.rowsBox.scrollTop = Math.max(0, y * this.visible.length * ROW_H - this.rowsBox.clientHeight / 2);
      }
      start = null;
    });
  }
}

function countDescendants(s) {
  let n = 0;
  const stack = [...s.children];
  while (stack.length) {
    const c = stack.pop();
    n++;
    for (const k of c.children) stack.push(k);
  }
  return n;
}

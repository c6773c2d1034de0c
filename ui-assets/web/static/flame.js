// The flame graph of a trace: every span a box on one canvas, x = time (as the
// timeline), y = depth with the root on top, service colours, names where they fit.
// Only the depth rows in view are drawn (the canvas stays the size of the screen), and
// boxes narrower than a pixel that land on an already drawn pixel are skipped, so
// 10,000–100,000 spans draw in milliseconds. Click a span for its detail, double-click
// (or Enter on the detail's button) to zoom into it.

import { el, fmtDuration, serviceColor } from './util.js';
import { selfTimes } from './stats.js';

const ROW = 20;
const CHAR_W = 6.4;

export class FlameView {
  constructor(container, trace, { showInTimeline }) {
    this.trace = trace;
    this.showInTimeline = showInTimeline;
    this.range = [trace.start, trace.end > trace.start ? trace.end : trace.start + 1];
    this.selected = null;
    // Spans by depth, each row sorted by start.
    this.rows = [];
    for (const s of trace.spans) (this.rows[s.depth] || (this.rows[s.depth] = [])).push(s);
    for (const r of this.rows) if (r) r.sort((a, b) => a.startTime - b.startTime);
    this.self = null;
    this.canvas = el('canvas', { id: 'flame-canvas', class: 'flame-canvas', role: 'img', 'aria-label': `Flame graph: ${trace.spans.length} spans in ${this.rows.length} levels` });
    this.spacer = el('div', { class: 'flame-spacer', style: `height:${this.rows.length * ROW}px` }, this.canvas);
    this.scroller = el('div', { class: 'flame-scroll', id: 'flame-scroll' }, this.spacer);
    this.tip = el('div', { class: 'flame-tip', hidden: true, role: 'tooltip' });
    this.detail = el('div', { id: 'flame-detail', class: 'flame-detail', 'aria-live': 'polite' }, el('span', { class: 'empty' }, 'Click a span for its detail; double-click to zoom into it.'));
    this.reset = el('button', { type: 'button', id: 'flame-reset', hidden: true, onclick: () => this.zoom(trace.start, trace.end) }, 'Reset zoom');
    container.append(
      el('div', { class: 'toolbar' }, el('span', { class: 'meta', id: 'flame-summary' }, `${trace.spans.length} spans, ${this.rows.length} levels; x is time, as in the timeline`), this.reset),
      this.detail,
      el('div', { class: 'flame-box' }, this.scroller, this.tip)
    );
    this.frame = 0;
    this.scroller.addEventListener('scroll', () => this.schedule());
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => (this.tip.hidden = true));
    this.canvas.addEventListener('click', (e) => this.select(this.hit(e)));
    this.canvas.addEventListener('dblclick', (e) => {
      const s = this.hit(e);
      if (s) this.zoom(s.startTime, s.end);
    });
    this.draw();
  }

  dispose() {
    cancelAnimationFrame(this.frame);
  }

  schedule() {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.draw());
  }

  zoom(a, b) {
    const t = this.trace;
    this.range = b > a ? [a, b] : [t.start, t.end > t.start ? t.end : t.start + 1];
    this.reset.hidden = this.range[0] <= t.start && this.range[1] >= t.end;
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const w = this.scroller.clientWidth || 1000;
    const viewH = this.scroller.clientHeight || 600;
    const top = this.scroller.scrollTop;
    const h = Math.min(viewH, this.rows.length * ROW);
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    c.style.width = `${w}px`;
    c.style.height = `${h}px`;
    const ctx = c.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const [a, b] = this.range;
    const scale = w / (b - a);
    const d0 = Math.floor(top / ROW);
    const d1 = Math.min(this.rows.length, Math.ceil((top + h) / ROW));
    const dark = document.documentElement.dataset.theme === 'dark';
    for (let d = d0; d < d1; d++) {
      const row = this.rows[d];
      if (!row) continue;
      const y = d * ROW - top;
      let lastPx = -1;
      for (const s of row) {
        if (s.end < a || s.startTime > b) continue;
        const x0 = (s.startTime - a) * scale;
        const x1 = (s.end - a) * scale;
        const bw = x1 - x0;
        if (bw < 1) {
          // Sub-pixel spans: one 1px mark per pixel column.
          const px = Math.floor(x0);
          if (px === lastPx) continue;
          lastPx = px;
        }
        ctx.fillStyle = serviceColor(s.service);
        ctx.fillRect(x0, y, Math.max(bw - 0.5, 1), ROW - 1);
        if (s.error) {
          ctx.fillStyle = '#c9302c';
          ctx.fillRect(x0, y + ROW - 4, Math.max(bw - 0.5, 1), 3);
        }
        if (s === this.selected) {
          ctx.strokeStyle = dark ? '#fff' : '#000';
          ctx.lineWidth = 2;
          ctx.strokeRect(x0 + 1, y + 1, Math.max(bw - 2.5, 1), ROW - 3);
        }
        if (bw > 24) {
          const left = Math.max(x0, 0) + 3;
          const room = Math.min(x1, w) - left - 3;
          const text = `${s.service}: ${s.operationName}`;
          const fit = Math.floor(room / CHAR_W);
          if (fit >= 2) {
            ctx.fillStyle = '#1c232b';
            ctx.fillText(fit >= text.length ? text : `${text.slice(0, fit - 1)}…`, left, y + ROW / 2);
          }
        }
      }
    }
  }

  // The span under the pointer: the latest-starting one at that depth that covers it.
  hit(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const d = Math.floor((e.clientY - r.top + this.scroller.scrollTop) / ROW);
    const row = this.rows[d];
    if (!row) return null;
    const [a, b] = this.range;
    const t = a + (x / r.width) * (b - a);
    // Half a pixel of slack, so the 1px marks of tiny spans can be hit.
    const slack = (0.5 * (b - a)) / r.width;
    let found = null;
    for (const s of row) {
      if (s.startTime > t + slack) break;
      if (s.end >= t - slack) found = s;
    }
    return found;
  }

  hover(e) {
    const s = this.hit(e);
    if (!s) {
      this.tip.hidden = true;
      return;
    }
    this.tip.textContent = `${s.service}: ${s.operationName} — ${fmtDuration(s.duration)}`;
    const box = this.tip.parentElement.getBoundingClientRect();
    this.tip.style.left = `${Math.min(e.clientX - box.left + 12, box.width - 240)}px`;
    this.tip.style.top = `${e.clientY - box.top + 14}px`;
    this.tip.hidden = false;
  }

  select(s) {
    this.selected = s;
    this.draw();
    if (!s) {
      this.detail.replaceChildren(el('span', { class: 'empty' }, 'Click a span for its detail; double-click to zoom into it.'));
      return;
    }
    if (!this.self) this.self = selfTimes(this.trace);
    const t = this.trace;
    // replaceChildren would print a null as text.
    const parts = [
      el('span', { class: 'svc-dot', style: `background:${serviceColor(s.service)}` }),
      el('b', { class: 'flame-name' }, `${s.service}: ${s.operationName}`),
      el('span', {}, 'Duration ', el('b', { 'data-field': 'duration' }, fmtDuration(s.duration))),
      el('span', {}, 'Self ', el('b', { 'data-field': 'self' }, fmtDuration(this.self.get(s.id)))),
      el('span', {}, 'Start ', el('b', {}, `+${fmtDuration(s.startTime - t.start)}`)),
      el('span', {}, 'Children ', el('b', {}, String(s.children.length))),
      s.error ? el('span', { class: 'errors' }, 'error') : null,
      el('button', { type: 'button', id: 'flame-zoom', onclick: () => this.zoom(s.startTime, s.end) }, 'Zoom in'),
      el('button', { type: 'button', id: 'flame-timeline', onclick: () => this.showInTimeline(s) }, 'Show in timeline'),
    ];
    this.detail.replaceChildren(...parts.filter(Boolean));
  }
}

// Trace statistics (as Jaeger UI's "Trace Statistics" view): per service and operation
// (or per service, or per operation) the span count and the total, average, minimum and
// maximum duration, and the same for self time — a span's duration less the time its
// direct children cover (their union, clipped to the span). Linear in the span count.

import { el, fmtDuration } from './util.js';

// Self time of every span, by span id.
export function selfTimes(trace) {
  const out = new Map();
  for (const s of trace.spans) {
    // Children are sorted by start (model.js), so the union is one sweep.
    let covered = 0;
    let curA = 0;
    let curB = -Infinity;
    for (const c of s.children) {
      const a = Math.max(c.startTime, s.startTime);
      const b = Math.min(c.end, s.end);
      if (b <= a) continue;
      if (a > curB) {
        if (curB > curA) covered += curB - curA;
        curA = a;
        curB = b;
      } else if (b > curB) curB = b;
    }
    if (curB > curA) covered += curB - curA;
    out.set(s.id, Math.max(s.duration - covered, 0));
  }
  return out;
}

const GROUPS = {
  'service-operation': ['Service & operation', (s) => [s.service, s.operationName]],
  service: ['Service', (s) => [s.service, '']],
  operation: ['Operation', (s) => ['', s.operationName]],
};

// Rows of statistics for a grouping (a key of GROUPS).
export function traceStats(trace, groupBy = 'service-operation', self = selfTimes(trace)) {
  const key = GROUPS[groupBy][1];
  const rows = new Map();
  for (const s of trace.spans) {
    const [service, operation] = key(s);
    const k = `${service}\u0000${operation}`;
    let r = rows.get(k);
    if (!r) {
      r = { service, operation, count: 0, errors: 0, total: 0, min: Infinity, max: 0, selfTotal: 0, selfMin: Infinity, selfMax: 0 };
      rows.set(k, r);
    }
    const st = self.get(s.id);
    r.count++;
    if (s.error) r.errors++;
    r.total += s.duration;
    r.min = Math.min(r.min, s.duration);
    r.max = Math.max(r.max, s.duration);
    r.selfTotal += st;
    r.selfMin = Math.min(r.selfMin, st);
    r.selfMax = Math.max(r.selfMax, st);
  }
  return [...rows.values()].map((r) => ({ ...r, avg: r.total / r.count, selfAvg: r.selfTotal / r.count, selfPct: r.total ? (100 * r.selfTotal) / r.total : 0 }));
}

const COLS = [
  ['count', 'Count', String],
  ['total', 'Total', fmtDuration],
  ['avg', 'Avg', fmtDuration],
  ['min', 'Min', fmtDuration],
  ['max', 'Max', fmtDuration],
  ['selfTotal', 'Self total', fmtDuration],
  ['selfAvg', 'Self avg', fmtDuration],
  ['selfMin', 'Self min', fmtDuration],
  ['selfMax', 'Self max', fmtDuration],
  ['selfPct', 'Self %', (v) => `${v.toFixed(1)}%`],
];

export class StatsView {
  constructor(container, trace) {
    this.trace = trace;
    this.self = selfTimes(trace);
    this.groupBy = 'service-operation';
    this.sort = ['total', -1];
    const group = el('select', { id: 'stats-group', 'aria-label': 'Group by' }, Object.entries(GROUPS).map(([v, [l]]) => el('option', { value: v }, l)));
    group.addEventListener('change', () => {
      this.groupBy = group.value;
      this.render();
    });
    this.table = el('table', { id: 'trace-stats', class: 'stats' });
    container.append(el('div', { class: 'toolbar' }, el('label', { class: 'inline' }, 'Group by ', group)), el('div', { class: 'stats-box' }, this.table));
    this.render();
  }

  render() {
    const rows = traceStats(this.trace, this.groupBy, this.self);
    const [col, dir] = this.sort;
    rows.sort((a, b) => (typeof a[col] === 'string' ? a[col].localeCompare(b[col]) : a[col] - b[col]) * dir || a.service.localeCompare(b.service) || a.operation.localeCompare(b.operation));
    const heads = [];
    if (this.groupBy !== 'operation') heads.push(['service', 'Service']);
    if (this.groupBy !== 'service') heads.push(['operation', 'Operation']);
    const th = ([k, label]) =>
      el(
        'th',
        { scope: 'col', class: k === 'service' || k === 'operation' ? 'name' : undefined, 'aria-sort': col === k ? (dir > 0 ? 'ascending' : 'descending') : undefined },
        el('button', { type: 'button', class: 'link sort', 'data-col': k, onclick: () => this.setSort(k) }, label, col === k ? (dir > 0 ? ' ▲' : ' ▼') : '')
      );
    const body = rows.map((r) =>
      el(
        'tr',
        { dataset: { service: r.service, operation: r.operation } },
        heads.map(([k]) => el('th', { scope: 'row', 'data-col': k }, r[k], k === 'operation' && r.errors ? el('span', { class: 'err-icon', title: `${r.errors} with errors` }, '!') : null)),
        COLS.map(([k, , fmt]) => el('td', { 'data-col': k }, fmt(r[k])))
      )
    );
    this.table.replaceChildren(el('thead', {}, el('tr', {}, heads.map(th), COLS.map(([k, l]) => th([k, l])))), el('tbody', {}, body));
  }

  setSort(k) {
    this.sort = this.sort[0] === k ? [k, -this.sort[1]] : [k, k === 'service' || k === 'operation' ? 1 : -1];
    this.render();
  }
}

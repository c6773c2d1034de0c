// The trace model the views share: spans resolved to services, the parent/child tree
// (walked iteratively, so a 100,000-deep chain cannot overflow the stack), errors,
// clock-skew moves from the adjuster's warnings, and the critical path.

import { parseGoDuration } from './util.js';

const SKEW_RE = /^This span's timestamps were adjusted by (.+)$/;

export function isError(span) {
  return span.tags.some(
    (t) => (t.key === 'error' && (t.value === true || t.value === 'true')) || (t.key === 'otel.status_code' && t.value === 'ERROR')
  );
}

export function spanKind(span) {
  const t = span.tags.find((x) => x.key === 'span.kind');
  return t ? String(t.value) : '';
}

// How far the adjuster moved the span, from its warning: {text, us} or null.
export function skewOf(span) {
  for (const w of span.warnings || []) {
    const m = SKEW_RE.exec(w);
    if (m) return { text: m[1], us: parseGoDuration(m[1]) };
  }
  return null;
}

export function buildTrace(raw) {
  if (!raw || !raw.traceID || !Array.isArray(raw.spans) || !raw.spans.length) throw new Error('not a trace: it has no traceID or spans');
  const processes = raw.processes || {};
  const byId = new Map();
  const spans = [];
  for (const s0 of raw.spans) {
    const s = {
      ...s0,
      tags: s0.tags || [],
      logs: s0.logs || [],
      references: s0.references || [],
      warnings: s0.warnings || [],
    };
    // Duplicate span ids are renamed, as Jaeger's UI does.
    let id = s.spanID;
    for (let n = 1; byId.has(id); n++) id = `${s.spanID}_${n}`;
    s.id = id;
    const p = processes[s.processID];
    s.process = p || { serviceName: 'unknown-service', tags: [] };
    s.service = s.process.serviceName;
    s.end = s.startTime + s.duration;
    s.error = isError(s);
    s.kind = spanKind(s);
    s.skew = skewOf(s);
    s.children = [];
    byId.set(id, s);
    spans.push(s);
  }
  const roots = [];
  for (const s of spans) {
    const ref = s.references.find((r) => (r.refType === 'CHILD_OF' || r.refType === 'FOLLOWS_FROM') && (!r.traceID || r.traceID === raw.traceID) && byId.has(r.spanID) && r.spanID !== s.id);
    s.parent = ref ? byId.get(ref.spanID) : null;
    if (s.parent) s.parent.children.push(s);
    else roots.push(s);
  }
  const byStart = (a, b) => a.startTime - b.startTime;
  roots.sort(byStart);
  // Depth-first order and depths, iteratively; a cycle of references is cut.
  const order = [];
  const seen = new Set();
  const stack = roots.slice().reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [s, depth] = stack.pop();
    if (seen.has(s)) continue;
    seen.add(s);
    s.depth = depth;
    order.push(s);
    s.children.sort(byStart);
    for (let i = s.children.length - 1; i >= 0; i--) stack.push([s.children[i], depth + 1]);
  }
  for (const s of spans) {
    if (!seen.has(s)) {
      s.depth = 0;
      order.push(s);
    }
  }
  order.forEach((s, i) => (s.pos = i));
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    if (s.startTime < start) start = s.startTime;
    if (s.end > end) end = s.end;
  }
  const services = new Map();
  for (const s of spans) services.set(s.service, (services.get(s.service) || 0) + 1);
  const root = roots[0] || spans[0];
  return {
    traceID: raw.traceID,
    raw,
    spans: order,
    byId,
    roots,
    root,
    start,
    end,
    duration: Math.max(end - start, 0),
    services,
    errors: spans.filter((s) => s.error).length,
    maxDepth: order.reduce((m, s) => Math.max(m, s.depth), 0),
  };
}

// The critical path (Jaeger's algorithm): from the root's end, repeatedly take the child
// that finished last before the current point, follow it, and continue before it
// started. Returns the set of span ids on the path.
export function criticalPath(trace) {
  const onPath = new Set();
  if (!trace.root) return onPath;
  const work = [[trace.root, trace.root.end]];
  let guard = 0;
  while (work.length && guard++ < 1e6) {
    const [span, until] = work.pop();
    onPath.add(span.id);
    let point = Math.min(until, span.end);
    const kids = span.children.slice().sort((a, b) => b.end - a.end);
    for (const c of kids) {
      if (c.end <= point && c.startTime >= span.startTime) {
        work.push([c, point]);
        point = c.startTime;
      } else if (c.startTime < point && c.end > point && c.startTime >= span.startTime) {
        // Overlaps the current point: it is what the parent waited on.
        work.push([c, point]);
        point = c.startTime;
      }
    }
  }
  return onPath;
}

// A trace's summary for the results list.
export function summarize(trace) {
  return {
    traceID: trace.traceID,
    rootService: trace.root ? trace.root.service : '',
    rootOperation: trace.root ? trace.root.operationName : '',
    spans: trace.spans.length,
    errors: trace.errors,
    duration: trace.duration,
    start: trace.start,
    services: [...trace.services.entries()].sort((a, b) => a[0].localeCompare(b[0])),
  };
}

// Traces opened from a JSON file, by id, for the trace and compare views.
export const localTraces = new Map();

// Shared helpers: DOM building, the query API, formatting, colours and parsers.
// Data from the API only ever reaches the page as text (textContent / attributes),
// never as HTML.

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c);
  return e;
}

export class ApiError extends Error {
  constructor(status, msg) {
    super(msg);
    this.status = status;
  }
}

// Relative to <base href>: the query service points it at --query.base-path.
export async function api(path, init) {
  const resp = await fetch(path, { headers: { Accept: 'application/json' }, ...init });
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    // Not JSON: reported by status below.
  }
  if (!resp.ok) {
    const e = body && body.errors && body.errors[0];
    const msg = e ? (e.code === resp.status || !e.code ? e.msg : `${e.code} - ${e.msg}`) : resp.statusText;
    throw new ApiError(resp.status, `${resp.status} ${msg}`);
  }
  return body;
}

export function fmtDuration(us) {
  const neg = us < 0;
  const a = Math.abs(us);
  let s;
  if (a >= 60e6) s = `${Math.floor(a / 60e6)}m${Math.round((a % 60e6) / 1e6)}s`;
  else if (a >= 1e6) s = `${+(a / 1e6).toFixed(2)}s`;
  else if (a >= 1e3) s = `${+(a / 1e3).toFixed(2)}ms`;
  else s = `${+a.toFixed(2)}μs`;
  return neg ? `-${s}` : s;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
export function fmtTime(us) {
  const d = new Date(us / 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtAgo(us) {
  const s = Math.round((Date.now() - us / 1000) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// Stable colour per service name: a hue from the name's hash.
const PALETTE = ['#17b8be', '#f8dcb4', '#b6a2de', '#d8a49b', '#8fc1e3', '#e3a857', '#6fb98f', '#e17c7c', '#a3a1fb', '#c7c36b', '#5fa8d3', '#f29e4c', '#9ed2c6', '#d38fc5', '#7fa37f'];
export function serviceColor(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  return PALETTE[Math.abs(h) % PALETTE.length];
}

// Go's time.ParseDuration, to microseconds ("1h2m", "-1.5s", "500µs"); NaN if invalid.
const UNITS = { ns: 1e-3, us: 1, 'µs': 1, 'μs': 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };
export function parseGoDuration(text) {
  let s = String(text).trim();
  if (!s) return NaN;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  const re = /^([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)/;
  let total = 0;
  let any = false;
  while (s) {
    const m = re.exec(s);
    if (!m) return NaN;
    total += parseFloat(m[1]) * UNITS[m[2]];
    s = s.slice(m[0].length);
    any = true;
  }
  return any ? sign * total : NaN;
}

// logfmt (`k=v k2="a b"`) to an object of strings, as Jaeger's UI sends `tags`.
export function parseLogfmt(text) {
  const out = {};
  const re = /\s*([^\s=]+)(?:=("((?:[^"\\]|\\.)*)"|\S*))?/gy;
  let m;
  const s = String(text || '');
  re.lastIndex = 0;
  while (re.lastIndex < s.length && (m = re.exec(s))) {
    if (!m[0].trim()) break;
    const key = m[1];
    let v = m[2] === undefined ? 'true' : m[2];
    if (m[3] !== undefined) v = m[3].replace(/\\(.)/g, '$1');
    out[key] = v;
  }
  return out;
}

export function toLogfmt(obj) {
  return Object.entries(obj || {})
    .map(([k, v]) => (/[\s"=]/.test(v) || v === '' ? `${k}="${String(v).replace(/(["\\])/g, '\\$1')}"` : `${k}=${v}`))
    .join(' ');
}

export function tagValue(kv) {
  if (kv.type === 'binary') return `0x${[...atob(kv.value || '')].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}`;
  return typeof kv.value === 'string' ? kv.value : JSON.stringify(kv.value);
}

export function download(name, text, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// localStorage, which throws in some sandboxed iframes (uiEmbed): then nothing is kept.
export const prefs = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch (_) {
      return null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (_) {
      // Not kept.
    }
  },
};

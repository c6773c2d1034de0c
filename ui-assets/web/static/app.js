// The embedded Jaeger UI: plain ES modules, no build step (docs/ui.md). Every URL is
// relative to <base href>, which the query service points at --query.base-path, so the
// same files work at / and behind a reverse proxy at /jaeger/.
'use strict';

import { el, prefs } from './util.js';
import { searchPage } from './search.js';
import { tracePage } from './trace.js';
import { dependenciesPage } from './deps.js';
import { comparePage } from './compare.js';

// --query.ui-config: menu links, dependencies menu on/off, default lookback.
function uiConfig() {
  try {
    return (typeof getJaegerUiConfig === 'function' && getJaegerUiConfig()) || {};
  } catch (_) {
    return {};
  }
}
export const config = uiConfig();
// What the query service reports the backend can do (archive storage, …), as Jaeger's
// UI reads it: JAEGER_BACKEND_CAPABILITIES over the defaults.
function backendCapabilities() {
  try {
    return { archiveStorage: false, metricsStorage: false, ...((typeof getJaegerBackendCapabilities === 'function' && getJaegerBackendCapabilities()) || {}) };
  } catch (_) {
    return { archiveStorage: false, metricsStorage: false };
  }
}
export const capabilities = backendCapabilities();
const basePath = new URL(document.baseURI).pathname;
const params = new URLSearchParams(location.search);
export const embedded = params.get('uiEmbed') === 'v0';

// The path below the base path: `search`, `trace/<id>`, ….
function relPath() {
  const p = location.pathname;
  return (p.startsWith(basePath) ? p.slice(basePath.length) : p.replace(/^\/+/, '')).replace(/\/+$/, '');
}

// Keeps `uiEmbed=v0` on every link inside an embedded page.
export function href(rel) {
  if (!embedded) return rel;
  const u = new URL(rel, document.baseURI);
  u.searchParams.set('uiEmbed', 'v0');
  return u.pathname.slice(basePath.length) + u.search;
}

export function navigate(rel, { replace = false } = {}) {
  const u = new URL(href(rel), document.baseURI);
  if (replace) history.replaceState(null, '', u);
  else history.pushState(null, '', u);
  render();
}

let current = null;
function render() {
  if (current && current.dispose) current.dispose();
  const app = document.getElementById('app');
  app.replaceChildren();
  const path = relPath();
  const q = new URLSearchParams(location.search);
  const ctx = { app, q, config, capabilities, navigate, href, embedded };
  let m;
  if (path === '' || path === 'search') current = searchPage(ctx);
  else if ((m = /^trace\/([^/]+)$/.exec(path))) current = tracePage(ctx, decodeURIComponent(m[1]));
  else if (path === 'dependencies' && depsEnabled()) current = dependenciesPage(ctx);
  else if (path === 'compare') current = comparePage(ctx);
  else {
    current = null;
    app.append(el('p', { class: 'empty' }, 'Nothing here. ', el('a', { href: href('search'), 'data-nav': '' }, 'Search traces')));
  }
  for (const a of document.querySelectorAll('#nav a')) {
    const target = a.getAttribute('href');
    a.classList.toggle('active', path === target || (path === '' && target === 'search'));
  }
}

function depsEnabled() {
  return !(config.dependencies && config.dependencies.menuEnabled === false);
}

function setupHeader() {
  if (embedded) document.body.classList.add('embed');
  if (!depsEnabled()) document.getElementById('nav-deps').remove();
  const nav = document.getElementById('nav');
  // Jaeger's `menu`: [{label, url}] or [{label, items: [{label, url}]}].
  for (const item of Array.isArray(config.menu) ? config.menu : []) {
    const links = item.items ? item.items : [item];
    for (const l of links) {
      if (!l || !l.url) continue;
      const label = item.items ? `${item.label} › ${l.label || l.url}` : l.label || l.url;
      nav.append(el('a', { href: l.url, class: 'menu-link', target: l.openInNewTab === false ? undefined : '_blank', rel: 'noopener' }, label));
    }
  }
  document.getElementById('lookup').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.getElementById('lookup-id');
    const id = input.value.trim();
    if (!id) return;
    input.value = '';
    const ids = id.split(/[\s,]+/).filter(Boolean);
    navigate(ids.length === 2 ? `compare?a=${encodeURIComponent(ids[0])}&b=${encodeURIComponent(ids[1])}` : `trace/${encodeURIComponent(ids[0])}`);
  });
  const themeBtn = document.getElementById('theme');
  const apply = (t) => {
    document.documentElement.dataset.theme = t;
    themeBtn.setAttribute('aria-pressed', String(t === 'dark'));
  };
  let theme = prefs.get('jaeger-theme') || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  apply(theme);
  themeBtn.addEventListener('click', () => {
    theme = theme === 'dark' ? 'light' : 'dark';
    prefs.set('jaeger-theme', theme);
    apply(theme);
  });
}

// In-app links (`data-nav`) change the view without a page load.
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[data-nav]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const u = new URL(a.getAttribute('href'), document.baseURI);
  if (u.origin !== location.origin || !u.pathname.startsWith(basePath)) return;
  e.preventDefault();
  navigate(u.pathname.slice(basePath.length) + u.search);
});
addEventListener('popstate', render);

setupHeader();
render();

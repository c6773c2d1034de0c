// Headless Chromium (Debian's `chromium`) driven by playwright-core through the embedded
// UI at UI_URL: search (deep link, sort, tags), the trace view (expand/collapse, span
// detail, references, search within the trace, keyboard), the clock-skew toggle (the
// skewed span's bar moves), JSON download and re-opening it from a file, comparing two
// traces, the dependency graph (focus on a service), lookup by id, the dark theme and
// `?uiEmbed=v0`, the flame graph and statistics views (trace B's numbers), archiving
// (ARCHIVE: the button POSTs api/archive/<id> under the base path; success and failure
// feedback; without it, no button), the UI config (UI_CONFIG_*: menu link, default and
// maximum lookback, DEPS_DISABLED: no dependencies page). With TRACE_LARGE: the 10,000-span trace's time to first render and
// virtualised scrolling. Screenshots of each page go to OUT_DIR. Run by
// tests/reverse_proxy/main.rs; exits non-zero with the reason on failure and prints
// `timing {...}` lines.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = need('UI_URL');
const label = process.env.LABEL || 'ui';
const service = need('SERVICE');
const traceA = need('TRACE_A');
const traceB = need('TRACE_B');
const skewed = need('SKEWED_SPAN');
const skew = need('SKEW');
const outDir = need('OUT_DIR');
const large = process.env.TRACE_LARGE;
const archive = process.env.ARCHIVE === '1';
const depsDisabled = process.env.DEPS_DISABLED === '1';
const onlyLarge = process.env.UI_ONLY_LARGE === '1';

const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
if (!executablePath) {
  console.error("chromium is not installed: scripts/test installs Debian's package (apt-get install chromium)");
  process.exit(1);
}

const step = (name) => console.log(`[${label}] ${name}`);
const assert = (cond, msg) => {
  if (!cond) throw new Error(msg);
};
const basePath = new URL(url).pathname;
const at = (rel) => new URL(rel, url).toString();

const browser = await chromium.launch({
  executablePath,
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: 30_000,
});
const failures = [];
const external = [];
// A URL part whose error responses a step provokes on purpose.
let tolerate = null;
const tolerated = (u) => tolerate && u && u.includes(tolerate);
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && !tolerated(m.location()?.url) && failures.push(`console error: ${m.text()}`));
  page.on('requestfailed', (r) => failures.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol.startsWith('http') && u.host !== new URL(url).host) external.push(r.url());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !tolerated(r.url())) failures.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  const shot = (name) => page.screenshot({ path: join(outDir, `${name}.png`), fullPage: false });

  // UI_ONLY_LARGE=1: only the large-trace measurement (a benchmark run against another
  // build, JAEGER_BIN, whose embedded UI may predate the steps below).
  if (!onlyLarge) {
    // --- Search ---------------------------------------------------------------------
    step('search');
    await page.goto(url);
    await page.locator(`#service option[value="${service}"]`).waitFor({ state: 'attached' });
    if (process.env.UI_CONFIG_MENU) {
      const link = page.locator('#nav a.menu-link', { hasText: process.env.UI_CONFIG_MENU });
      assert((await link.count()) === 1, `ui-config menu link missing: ${await page.locator('#nav').innerText()}`);
      if (process.env.UI_CONFIG_MENU_URL) assert((await link.getAttribute('href')) === process.env.UI_CONFIG_MENU_URL, `menu link href: ${await link.getAttribute('href')}`);
      assert((await link.getAttribute('target')) === '_blank', 'menu links open in a new tab');
      assert((await page.inputValue('#lookback')) === process.env.UI_CONFIG_LOOKBACK, 'ui-config default lookback not applied');
    }
    if (process.env.UI_CONFIG_MAX_LOOKBACK) {
      // search.maxLookback: nothing longer is offered; the custom range still is.
      const offered = await page.locator('#lookback option').evaluateAll((os) => os.map((o) => o.value));
      const want = ['5m', '15m', '30m', '1h', '2h', '3h', '6h', '12h'];
      assert(offered[offered.length - 2] === process.env.UI_CONFIG_MAX_LOOKBACK && offered.includes('custom'), `lookbacks offered: ${offered}`);
      assert(!offered.some((v) => ['24h', '2d', '7d'].includes(v)) && want.every((v) => offered.includes(v)), `lookbacks offered: ${offered}`);
    }
    const navText = await page.locator('#nav').innerText();
    assert(navText.includes('Dependencies') !== depsDisabled, `Dependencies link ${depsDisabled ? 'shown although disabled' : 'missing'}: ${navText}`);
    await page.selectOption('#service', service);
    await page.locator('#operation option[value="GET /checkout"]').waitFor({ state: 'attached' });
    await page.selectOption('#operation', 'GET /checkout');
    await page.selectOption('#lookback', '1h');
    await page.fill('#limit', '10');
    await page.click('#find');
    const resultA = page.locator(`.result[data-trace-id="${traceA}"]`);
    const resultB = page.locator(`.result[data-trace-id="${traceB}"]`);
    await resultA.waitFor();
    await resultB.waitFor();
    const summaryA = await resultA.innerText();
    assert(summaryA.includes('4 spans') && summaryA.includes(`${service}: GET /checkout`), `result A: ${summaryA}`);
    assert(summaryA.includes('proxy-payments (2)'), `result A lacks its services: ${summaryA}`);
    const summaryB = await resultB.innerText();
    assert(summaryB.includes('5 spans') && summaryB.includes('1 error'), `result B: ${summaryB}`);
    assert((await page.locator('#scatter .dot').count()) === 2, 'scatter plot: expected 2 dots');
    const searchUrl = new URL(page.url());
    for (const k of ['service', 'operation', 'lookback', 'start', 'end', 'limit']) assert(searchUrl.searchParams.get(k), `search URL lacks ${k}: ${searchUrl}`);
    assert(searchUrl.pathname === `${basePath}search`, `search at ${searchUrl.pathname}`);
    // Sort: longest first puts B (300ms) above A (120ms).
    await page.selectOption('#sort', 'longest');
    const order = await page.locator('.result').evaluateAll((els) => els.map((e) => e.dataset.traceId));
    assert(order[0] === traceB && order[1] === traceA, `longest first: ${order}`);
    await shot('search');
    // Deep link: loading the URL again reproduces the search (and the sort).
    step('deep link');
    await page.goto(searchUrl.toString() + '&sortBy=longest');
    await resultB.waitFor();
    assert((await page.locator('.result').count()) === 2, 'deep link: 2 results');
    assert((await page.inputValue('#operation')) === 'GET /checkout', 'deep link: operation restored');
    // Tags in logfmt.
    await page.fill('#tags', 'customer.tier=gold');
    await page.click('#find');
    await page.waitForFunction((a) => !document.querySelector(`.result[data-trace-id="${a}"]`) && document.querySelectorAll('.result').length === 1, traceA);
    assert(JSON.parse(new URL(page.url()).searchParams.get('tags'))['customer.tier'] === 'gold', 'tags in the URL as JSON');
    await page.fill('#tags', '');
    await page.click('#find');
    await resultA.waitFor();

    // --- Trace view -------------------------------------------------------------------
    step('trace view');
    await resultA.locator('.trace-link').click();
    const rows = page.locator('#trace-view .span-row');
    await rows.first().waitFor();
    assert(new URL(page.url()).pathname === `${basePath}trace/${traceA}`, `trace at ${page.url()}`);
    assert((await rows.count()) === 4, `expected 4 span rows, got ${await rows.count()}`);
    const skewRow = page.locator(`.span-row[data-span-id="${skewed}"]`);
    const badge = await skewRow.locator('.skew-badge').innerText();
    assert(badge.includes(skew), `skew badge "${badge}" lacks ${skew}`);
    assert((await page.locator('#skew-summary').innerText()).includes('2 spans moved'), 'skew summary');
    const barLeft = () => skewRow.locator('.span-bar').evaluate((e) => parseFloat(e.style.left));
    const adjustedLeft = await barLeft();
    await shot('trace');

    // Collapse and expand the root.
    step('collapse/expand');
    const rootRow = page.locator('.span-row[aria-level="1"]');
    await rootRow.locator('.toggle').click();
    await page.waitForFunction(() => document.querySelectorAll('#trace-view .span-row').length === 1);
    assert((await rootRow.getAttribute('aria-expanded')) === 'false', 'root not collapsed');
    await rootRow.locator('.toggle').click();
    await page.waitForFunction(() => document.querySelectorAll('#trace-view .span-row').length === 4);

    // Span detail: tags, process, warnings, a reference that navigates.
    step('span detail');
    await skewRow.locator('.span-name').click();
    const detail = page.locator('#span-detail');
    await detail.waitFor();
    const detailText = await detail.innerText();
    for (const want of ['charge card', 'Tags', 'Process: proxy-payments', 'host.name', 'pay-1', `adjusted by ${skew}`, 'CHILD_OF']) {
      assert(detailText.includes(want), `span detail lacks "${want}":\n${detailText}`);
    }
    await shot('span-detail');
    await detail.locator('.ref-link').first().click();
    await page.waitForFunction(() => document.querySelector('.span-row.selected')?.getAttribute('aria-level') === '1');
    // The render span has a log and a link to trace B.
    await page.locator('.span-row', { hasText: 'render page' }).locator('.span-name').click();
    await page.waitForFunction(() => document.querySelector('#span-detail')?.innerText.includes('template rendered'));
    const crossRef = detail.locator(`a.ref-link[href*="trace/${traceB}"]`);
    assert((await crossRef.count()) === 1, 'no reference link to trace B');

    // Search within the trace.
    step('search within trace');
    await page.fill('#trace-search', 'select');
    await page.waitForFunction(() => document.querySelector('#match-count').textContent === '1 match');
    assert((await page.locator('.span-row.match').count()) === 1, 'one matching row');
    await page.fill('#trace-search', '');

    // Clock skew off: re-rendered raw, the skewed span moves back; and on again.
    step('clock skew toggle');
    await page.uncheck('#skew-toggle');
    await page.locator('#raw-badge').waitFor();
    assert(new URL(page.url()).searchParams.get('raw') === 'true', 'raw=true not in the URL');
    await skewRow.waitFor();
    const rawLeft = await barLeft();
    assert(rawLeft < adjustedLeft - 1, `skewed span did not move: adjusted ${adjustedLeft}%, raw ${rawLeft}%`);
    assert((await skewRow.locator('.skew-badge').innerText()).includes(`would move ${skew}`), 'raw view says how far the adjuster moves it');
    await shot('trace-raw');
    await page.check('#skew-toggle');
    await page.locator('#raw-badge').waitFor({ state: 'detached' });
    await skewRow.waitFor();
    assert(Math.abs((await barLeft()) - adjustedLeft) < 0.01, 'toggling back did not restore the adjusted position');

    // Keyboard: focus the rows, move down, open detail with Enter.
    step('keyboard');
    await page.locator('#span-rows').focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('.span-row.selected')?.getAttribute('aria-level') === '2');

    // Download the trace JSON, then open it from a file on the search page.
    step('download and upload');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const file = join(outDir, `${traceA}.json`);
    await download.saveAs(file);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    assert(json.data[0].traceID === traceA && json.data[0].spans.length === 4, 'downloaded JSON');
    await page.locator('header a.brand').click();
    await page.locator('#upload').setInputFiles(file);
    await page.locator(`.result[data-trace-id="${traceA}"]`).waitFor();
    await page.locator(`.result[data-trace-id="${traceA}"] .trace-link`).click();
    await rows.first().waitFor();
    assert((await page.locator('#trace-view').innerText()).includes('opened from file'), 'file trace badge');
    assert((await rows.count()) === 4, 'file trace rows');

    // Compare A and B from the search results.
    step('compare');
    await page.goto(searchUrl.toString());
    await resultB.waitFor();
    await resultA.locator('.select-trace').check();
    await resultB.locator('.select-trace').check();
    await page.click('#compare-selected');
    await page.locator('#compare-summary').waitFor();
    const cmp = await page.locator('#compare-summary').innerText();
    assert(/0 only in A, 0 only in B, 1 with a different span count/.test(cmp), `compare summary: ${cmp}`);
    assert((await page.locator('.cmp-row.changed', { hasText: 'SELECT orders' }).count()) === 1, 'SELECT orders count differs');
    await shot('compare');

    // Dependencies: the graph, edge counts, focus on a service.
    if (depsDisabled) {
      // dependencies.menuEnabled: false: no link, and the page itself is gone.
      step('dependencies disabled');
      await page.goto(at('dependencies'));
      await page.locator('#app p.empty', { hasText: 'Nothing here' }).waitFor();
      assert((await page.locator('#deps-graph').count()) === 0, 'dependencies page shown although disabled');
    } else {
      step('dependencies');
      await page.locator('#nav a', { hasText: 'Dependencies' }).click();
      const node = (name) => page.locator(`#deps-graph [data-service="${name}"]`);
      await node('proxy-inventory').waitFor();
      assert((await page.locator('#deps-graph .node').count()) === 3, 'three services');
      assert((await page.locator('#deps-graph .edge').count()) >= 3, 'three links');
      const label1 = await page.locator('#deps-graph .edge-label[data-edge="proxy-payments->proxy-inventory"]').textContent();
      assert(label1 === '1', `payments->inventory calls: ${label1}`);
      await shot('dependencies');
      await node('proxy-inventory').click();
      await page.locator('#deps-focus').waitFor();
      assert(new URL(page.url()).searchParams.get('focus') === 'proxy-inventory', 'focus in the URL');
      await node('proxy-inventory').waitFor();
      await page.locator('#deps-show-all').click();
      await page.locator('#deps-focus').waitFor({ state: 'detached' });
    }

    // Lookup by trace id from the header.
    step('lookup by id');
    await page.fill('#lookup-id', traceB);
    await page.press('#lookup-id', 'Enter');
    await page.locator('.span-row').first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#trace-view .span-row').length === 5);
    assert(new URL(page.url()).pathname === `${basePath}trace/${traceB}`, 'lookup URL');

    // Trace statistics of B: root 0–300ms with "charge card" 10–260 (two SELECTs 20–120
    // and 150–250 under it) and "render page" 260–290.
    step('trace statistics');
    await page.selectOption('#trace-view-select', 'statistics');
    await page.locator('#trace-stats tbody tr').first().waitFor();
    assert(new URL(page.url()).searchParams.get('view') === 'statistics', 'view=statistics not in the URL');
    const statRow = (svc, op) =>
      page.locator(`#trace-stats tbody tr[data-service="${svc}"][data-operation="${op}"]`).evaluate((tr) => Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.textContent])));
    const expectRow = async (svc, op, want) => {
      const got = await statRow(svc, op);
      for (const [k, v] of Object.entries(want)) assert(got[k] === v, `statistics ${svc}/${op} ${k}: ${got[k]}, want ${v} (${JSON.stringify(got)})`);
    };
    assert((await page.locator('#trace-stats tbody tr').count()) === 4, 'four service/operation rows');
    await expectRow('proxy-payments', 'SELECT orders', { count: '2', total: '200ms', avg: '100ms', min: '100ms', max: '100ms', selfTotal: '200ms', selfPct: '100.0%' });
    await expectRow(service, 'GET /checkout', { count: '1', total: '300ms', selfTotal: '20ms', selfPct: '6.7%' });
    await expectRow('proxy-payments', 'charge card', { count: '1', total: '250ms', selfTotal: '50ms' });
    await expectRow(service, 'render page', { count: '1', total: '30ms', selfTotal: '30ms' });
    await page.selectOption('#stats-group', 'service');
    await page.waitForFunction(() => document.querySelectorAll('#trace-stats tbody tr').length === 2);
    await expectRow('proxy-payments', '', { count: '3', total: '450ms', avg: '150ms', min: '100ms', max: '250ms', selfTotal: '250ms' });
    await expectRow(service, '', { count: '2', total: '330ms', selfTotal: '50ms', selfMin: '20ms', selfMax: '30ms' });
    // Sorting by a column.
    await page.locator('#trace-stats button.sort[data-col="count"]').click();
    const firstSvc = await page.locator('#trace-stats tbody tr').first().getAttribute('data-service');
    assert(firstSvc === 'proxy-payments', `sorted by count (descending): ${firstSvc} first`);
    await shot('trace-statistics');

    // The flame graph: click a box, its detail; the pixels are painted where the span is.
    step('flame graph');
    await page.selectOption('#trace-view-select', 'flamegraph');
    const flame = page.locator('#flame-canvas');
    await flame.waitFor();
    assert((await page.locator('#flame-summary').innerText()).startsWith('5 spans, 3 levels'), 'flame graph summary');
    const fbox = await flame.boundingBox();
    const at300 = (ms) => (fbox.width * ms) / 300;
    const painted = (x, y) => flame.evaluate((c, [px, py]) => c.getContext('2d').getImageData(Math.floor((px * c.width) / c.clientWidth), Math.floor((py * c.height) / c.clientHeight), 1, 1).data[3], [x, y]);
    assert((await painted(at300(50), 2 * 20 + 10)) === 255, 'SELECT orders (20–120ms, level 3) is not drawn');
    assert((await painted(at300(135), 2 * 20 + 10)) === 0, 'nothing runs at 135ms on level 3, yet it is painted');
    await flame.click({ position: { x: at300(150), y: 10 } });
    const flameName = page.locator('#flame-detail .flame-name');
    await page.waitForFunction((svc) => document.querySelector('#flame-detail .flame-name')?.textContent === `${svc}: GET /checkout`, service);
    const fd = async (f) => page.locator(`#flame-detail [data-field="${f}"]`).innerText();
    assert((await fd('duration')) === '300ms' && (await fd('self')) === '20ms', `root detail: ${await page.locator('#flame-detail').innerText()}`);
    await flame.click({ position: { x: at300(200), y: 2 * 20 + 10 } });
    await page.waitForFunction(() => document.querySelector('#flame-detail .flame-name')?.textContent === 'proxy-payments: SELECT orders');
    assert((await fd('duration')) === '100ms', 'SELECT orders duration');
    await shot('trace-flamegraph');
    // Zoom into it, then back to the timeline with that span selected.
    await page.click('#flame-zoom');
    await page.locator('#flame-reset').waitFor();
    assert((await painted(fbox.width / 2, 2 * 20 + 10)) === 255, 'zoomed span fills the width');
    await page.click('#flame-timeline');
    await page.waitForFunction(() => document.querySelector('.span-row.selected')?.dataset.spanId === '00000000000000b3');
    assert(!(await flameName.isVisible()) && new URL(page.url()).searchParams.get('view') === null, 'back on the timeline');
    // A deep link opens a view directly.
    await page.goto(at(`trace/${traceB}?view=statistics`));
    await page.locator('#trace-stats tbody tr').first().waitFor();
    assert(!(await page.locator('#span-rows').isVisible()), 'view=statistics also shows the timeline');

    // Archive: a POST to api/archive/<id> under the base path when the backend has archive
    // storage; otherwise no button.
    if (archive) {
      step('archive');
      await page.goto(at(`trace/${traceA}`));
      await rows.first().waitFor();
      const [req] = await Promise.all([page.waitForRequest((r) => r.url().includes('/api/archive/')), page.click('#archive')]);
      assert(req.method() === 'POST' && new URL(req.url()).pathname === `${basePath}api/archive/${traceA}`, `archive request: ${req.method()} ${req.url()}`);
      await page.waitForFunction(() => document.querySelector('#archive-status')?.textContent.startsWith('Archived'));
      assert(await page.locator('#archive').isDisabled(), 'archive button stays enabled after archiving');
      await shot('trace-archived');
      // The failure path: the query service answers 500 (as without archive storage).
      tolerate = '/api/archive/';
      await page.route('**/api/archive/**', (r) =>
        r.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 500, msg: 'archive span storage was not configured' }] }) })
      );
      await page.goto(at(`trace/${traceB}`));
      await rows.first().waitFor();
      await page.click('#archive');
      await page.waitForFunction(() => document.querySelector('#archive-status.error')?.textContent === 'Archive failed: 500 archive span storage was not configured');
      assert(await page.locator('#archive').isEnabled(), 'archive button disabled after a failure');
      await page.unroute('**/api/archive/**');
      tolerate = null;
    } else {
      assert((await page.locator('#archive').count()) === 0, 'archive button without archive storage');
    }
    // Dark theme.
    await page.click('#theme');
    assert((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'dark theme');
    await shot('trace-dark');
    await page.click('#theme');

    // Embedded: no top bar.
    step('uiEmbed');
    await page.goto(at(`trace/${traceA}?uiEmbed=v0`));
    await page.locator('.span-row').first().waitFor();
    assert(!(await page.locator('#topnav').isVisible()), 'uiEmbed=v0 still shows the top bar');
    await shot('embed');
  }

  // --- The 10,000-span trace --------------------------------------------------------
  if (large) {
    step('large trace');
    const n = Number(process.env.LARGE_SPANS);
    const runs = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(at('search'));
      await page.locator('#service option').first().waitFor({ state: 'attached' });
      const t0 = Date.now();
      await page.evaluate((rel) => {
        history.pushState(null, '', rel);
        dispatchEvent(new PopStateEvent('popstate'));
      }, `trace/${large}`);
      // 100,000 spans (UI_LARGE_SPANS) take longer to fetch than the default timeout.
      await page.locator('.span-row').first().waitFor({ timeout: Math.max(15_000, n * 0.6) });
      const wall = Date.now() - t0;
      const m = await page.evaluate(() => {
        const get = (n) => performance.getEntriesByName(n).pop()?.startTime;
        return { requested: get('jaeger:trace-requested'), fetched: get('jaeger:trace-fetched'), rendered: get('jaeger:trace-rendered') };
      });
      runs.push({ wall_ms: wall, fetch_ms: Math.round(m.fetched - m.requested), render_ms: Math.round(m.rendered - m.fetched), first_render_ms: Math.round(m.rendered - m.requested) });
    }
    const inDom = await page.locator('.span-row').count();
    assert(inDom < 150, `${inDom} rows in the DOM: not virtualised`);
    assert((await page.locator('#span-count').innerText()).includes(String(n)), 'span count');
    // Scroll to the end: the last span is rendered.
    const t1 = Date.now();
    await page.locator('#span-rows').evaluate((e) => (e.scrollTop = e.scrollHeight));
    await page.locator(`.span-row[data-index="${n - 1}"]`).waitFor();
    const scrollMs = Date.now() - t1;
    // Frame times while scrolling 4 rows per frame (a brisk wheel scroll), and
    // while jumping a whole screen per frame (every row new).
    const frames = (per) => page.locator('#span-rows').evaluate(async (e, px) => {
      e.scrollTop = 0;
      await new Promise((r) => requestAnimationFrame(() => r()));
      const times = [];
      let last = performance.now();
      for (let i = 0; i < 60; i++) {
        e.scrollTop += px;
        await new Promise((r) => requestAnimationFrame(() => r()));
        const now = performance.now();
        times.push(now - last);
        last = now;
      }
      times.sort((a, b) => a - b);
      return { median_ms: Math.round(times[30] * 10) / 10, max_ms: Math.round(times[59] * 10) / 10 };
    }, per);
    const scrollFrames = { rows4: await frames(4 * 26), screen: await frames(800) };
    await shot('large-trace');
    // The other views of the same trace: built and drawn synchronously by setView.
    // (Only an older embedded UI, under UI_ONLY_LARGE, lacks them.)
    const views = {};
    if (!onlyLarge || (await page.locator('#trace-view-select').count())) {
      for (const v of ['flamegraph', 'statistics']) {
        views[`${v}_ms`] = await page.evaluate((view) => {
          const t0 = performance.now();
          window.jaegerTraceView.setView(view);
          return Math.round(performance.now() - t0);
        }, v);
      }
      await page.locator('#trace-stats tbody tr').first().waitFor();
      const counted = await page.locator('#trace-stats tbody td[data-col="count"]').evaluateAll((tds) => tds.reduce((a, td) => a + Number(td.textContent), 0));
      assert(counted === n, `statistics count ${counted} spans of ${n}`);
      await page.selectOption('#trace-view-select', 'flamegraph');
      await shot('large-flamegraph');
    }
    const best = runs.reduce((a, b) => (b.first_render_ms < a.first_render_ms ? b : a));
    console.log(`timing ${JSON.stringify({ spans: n, runs, best, dom_rows: inDom, scroll_to_end_ms: scrollMs, scroll_frames: scrollFrames, views })}`);
    assert(best.render_ms < 1000, `rendering ${n} spans took ${best.render_ms} ms`);
    for (const [k, ms] of Object.entries(views)) assert(ms < 1000, `${k}: ${ms} ms for ${n} spans`);
  }

  if (external.length) failures.push(`external requests: ${external.join(', ')}`);
  if (failures.length) throw new Error(failures.join('\n'));
  console.log(`[${label}] the UI at ${url} passed every step`);
} finally {
  await browser.close();
}

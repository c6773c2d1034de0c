// Headless Chromium (Debian's `chromium`) driven by playwright-core: open the UI at
// UI_URL, search SERVICE, find TRACE_ID among the results, open it and see every span
// of SPAN_NAMES (separated by `|`). Run by tests/reverse_proxy/main.rs; exits non-zero
// with the reason on failure. SCREENSHOT, if set, receives a PNG of the trace view.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = need('UI_URL');
const service = need('SERVICE');
const traceId = need('TRACE_ID');
const spanNames = need('SPAN_NAMES').split('|');

const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
if (!executablePath) {
  console.error('chromium is not installed: scripts/test installs Debian\'s package (apt-get install chromium)');
  process.exit(1);
}

const browser = await chromium.launch({
  executablePath,
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: 30_000,
});
const failures = [];
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => failures.push(`request failed: ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) failures.push(`HTTP ${r.status()}: ${r.url()}`);
  });

  await page.goto(url);
  // The service list comes from api/services under the base path.
  await page.locator(`#service option[value="${service}"]`).waitFor({ state: 'attached' });
  await page.selectOption('#service', service);
  await page.click('#find');

  const result = page.locator(`.result[data-trace-id="${traceId}"]`);
  await result.waitFor();
  const summary = await result.innerText();
  if (!summary.includes(traceId)) throw new Error(`result does not show the trace id: ${summary}`);
  if (!summary.includes('3 spans')) throw new Error(`result does not count 3 spans: ${summary}`);

  await result.locator('.trace-link').click();
  await page.locator('#trace-view .span-row').first().waitFor();
  const path = new URL(page.url()).pathname;
  if (path !== new URL(`trace/${traceId}`, url).pathname) throw new Error(`trace view at ${path}`);
  const view = await page.locator('#trace-view').innerText();
  for (const name of [traceId, ...spanNames]) {
    if (!view.includes(name)) throw new Error(`trace view lacks "${name}":\n${view}`);
  }
  const rows = await page.locator('#trace-view .span-row').count();
  if (rows !== spanNames.length) throw new Error(`${rows} span rows, expected ${spanNames.length}`);

  // A reload of the trace URL (a deep link) shows the same trace.
  await page.reload();
  await page.locator('#trace-view .span-row').first().waitFor();
  if ((await page.locator('#trace-view .span-row').count()) !== rows) throw new Error('deep link lost spans');

  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  if (failures.length) throw new Error(failures.join('\n'));
  console.log(`found trace ${traceId} with ${rows} spans in the UI at ${url}`);
} finally {
  await browser.close();
}

/**
 * The HTML report in a real browser: headless Debian Chromium (driven by
 * playwright-core, never a downloaded browser) opens the generated file
 * over file://, with JS on and off. Checks: no console errors (a CSP
 * violation or a script error would show there), no request beyond the file
 * itself, the matrix has rows, a filter changes the visible rows, clicking a
 * failed cell shows its decoded trace, the charts have paths. Screenshots go
 * to out/report/.
 *
 * Data: the conformance matrix results (out/conformance/matrix/*.json; when
 * none exist, `npm run conformance:matrix -- --brokers reference,aedes` makes
 * them first), the scenario runner's out/bench/scenario-*.json when present,
 * and a synthetic benchmark results file (reports/fixtures.ts) so that the
 * charts are always there.
 *
 * Run with `npm run test:browser`; not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readResultsFile, validateResults } from '../results/validate.js';
import type { LoadedResults } from './compare.js';
import { sampleBenchmark, sampleConformance, sampleSelftest } from './fixtures.js';
import { renderReport } from './html/report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'out', 'report');
/** Where the matrix results are read from (and written to when absent); REPORT_MATRIX_DIR overrides it. */
const MATRIX_DIR = process.env['REPORT_MATRIX_DIR'] ?? join(ROOT, 'out', 'conformance', 'matrix');
const MATRIX_BROKERS = ['reference', 'reference-limited', 'mosquitto-plain', 'mosquitto-secure', 'aedes'];
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function findChromium(): string | undefined {
  const candidates = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'chromium')), '/usr/bin/chromium'];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  return undefined;
}

const matrixFiles = (): string[] => MATRIX_BROKERS.map((b) => join(MATRIX_DIR, `${b}.json`)).filter((f) => existsSync(f));

/** Runs the matrix for two brokers (a few minutes), killing it by PID if it outlives the limit. */
function runMatrix(limitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', 'conformance:matrix', '--', '--brokers', 'reference,aedes', '--out', MATRIX_DIR], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => { if (child.pid !== undefined) child.kill('SIGKILL'); }, limitMs);
    child.on('close', () => { clearTimeout(timer); resolve(); });
    child.on('error', () => { clearTimeout(timer); resolve(); });
  });
}

const chromiumPath = findChromium();
const required = process.env['REQUIRE_EXTERNAL'] === '1';

describe.skipIf(!chromiumPath && !required)(`HTML report in headless Chromium${chromiumPath ? '' : ' [skipped: chromium not found: run scripts/install-system-deps.sh browser]'}`, () => {
  let server: BrowserServer | undefined;
  let browser: Browser | undefined;
  let url: string;
  let usedFixtures = false;
  const files: LoadedResults[] = [];

  beforeAll(async () => {
    if (!chromiumPath) throw new Error('chromium not found: run scripts/install-system-deps.sh browser (REQUIRE_EXTERNAL=1 makes this a failure)');
    if (matrixFiles().length === 0) await runMatrix(14 * 60_000);
    for (const f of matrixFiles()) files.push({ source: relative(ROOT, f), results: readResultsFile(f) });
    if (files.length === 0) {
      // no matrix results and none could be made: still test the page, with synthetic conformance results
      usedFixtures = true;
      files.push({ source: 'fixture-a.json', results: validateResults(JSON.parse(JSON.stringify(sampleConformance('broker-a')))) });
      files.push({ source: 'fixture-b.json', results: validateResults(JSON.parse(JSON.stringify(sampleConformance('broker-b', { 'publish/retained message replaced': 'fail' })))) });
    }
    const benchDir = join(ROOT, 'out', 'bench');
    const scenarioFiles = existsSync(benchDir) ? readdirSync(benchDir).filter((f) => /^scenario-.*\.json$/.test(f)) : [];
    for (const f of scenarioFiles) files.push({ source: `out/bench/${f}`, results: readResultsFile(join(benchDir, f)) });
    // the synthetic benchmark goes through the same validation as a real file
    files.push({ source: 'reports/fixtures.ts sampleBenchmark() (synthetic)', results: validateResults(JSON.parse(JSON.stringify(sampleBenchmark({ seed: 7 }))), 'sampleBenchmark') });
    files.push({ source: 'reports/fixtures.ts sampleSelftest() (synthetic)', results: validateResults(JSON.parse(JSON.stringify(sampleSelftest())), 'sampleSelftest') });
    mkdirSync(OUT, { recursive: true });
    const file = join(OUT, 'report.browser-test.html');
    writeFileSync(file, renderReport({ current: files, title: 'mqtt-testbed report (browser test)' }));
    url = pathToFileURL(file).href;
    server = await chromium.launchServer({ executablePath: chromiumPath, args: CHROMIUM_ARGS, headless: true, timeout: 30_000, host: '127.0.0.1', port: 0 });
    browser = await chromium.connect(server.wsEndpoint(), { timeout: 30_000 });
  }, 15 * 60_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    const proc = server?.process();
    await server?.close().catch(() => undefined);
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); // by its own PID
  }, 30_000);

  /** A page that records console errors, page errors and every request. */
  async function open(opts: { javaScriptEnabled?: boolean; colorScheme?: 'light' | 'dark' } = {}): Promise<{ page: Page; errors: string[]; requests: string[] }> {
    const context = await browser!.newContext({ viewport: { width: 1440, height: 1000 }, javaScriptEnabled: opts.javaScriptEnabled ?? true, colorScheme: opts.colorScheme ?? 'light' });
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
    return { page, errors, requests };
  }

  test('renders with no console errors and loads nothing but itself', async () => {
    const { page, errors, requests } = await open();
    await page.waitForSelector('html.js', { timeout: 10_000 });
    expect(errors).toEqual([]);
    expect(requests.filter((r) => r !== url)).toEqual([]);
    expect(await page.title()).toContain('mqtt-testbed report');
    if (!usedFixtures) expect(await page.locator('#matrix thead th.bro').count()).toBe(matrixFiles().length);
    await page.context().close();
  });

  test('the matrix has rows, filters change what is visible, search finds a statement', async () => {
    const { page, errors } = await open();
    const rows = page.locator('#matrix tr.row');
    const total = await rows.count();
    expect(total).toBeGreaterThan(usedFixtures ? 3 : 100);
    const visible = (): Promise<number> => page.locator('#matrix tr.row:not([hidden])').count();
    expect(await visible()).toBe(total);

    await page.selectOption('#f-status', 'fail');
    const failing = await visible();
    expect(failing).toBeGreaterThan(0);
    expect(failing).toBeLessThan(total);
    expect(await page.locator('#matrix-count').textContent()).toBe(String(failing));
    for (const st of await page.locator('#matrix tr.row:not([hidden])').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-st') ?? ''))) expect(st.split(' ')).toContain('fail');

    await page.selectOption('#f-version', '5.0');
    const failing50 = await visible();
    expect(failing50).toBeLessThanOrEqual(failing);
    for (const v of await page.locator('#matrix tr.row:not([hidden])').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-version')))) expect(v).toBe('5.0');

    await page.click('#f-reset');
    // Polled from the test side: a waitForFunction string predicate needs eval, which the report's CSP forbids.
    await expect.poll(visible, { timeout: 5000 }).toBe(total);
    await page.fill('#f-search', 'mqtt-3.3.1-5');
    const found = await page.locator('#matrix tr.row:not([hidden]) .sid').allTextContents();
    expect(found.length).toBeGreaterThan(0);
    for (const id of found) expect(id.toLowerCase()).toContain('mqtt-3.3.1-5');
    // section groups without visible rows are hidden too
    expect(await page.locator('#matrix tbody.grp:not([hidden])').count()).toBeLessThan(await page.locator('#matrix tbody.grp').count());
    expect(errors).toEqual([]);
    await page.context().close();
  });

  test('clicking a failed cell shows the statement, its paraphrase and section, and the decoded packet trace', async () => {
    const { page, errors } = await open();
    await page.selectOption('#f-status', 'fail');
    const cell = page.locator('#matrix tr.row:not([hidden]) td.cell[data-s="fail"]').first();
    const statement = await cell.locator('xpath=ancestor::tr').locator('.sid').first().textContent();
    await cell.click();
    const panel = page.locator('#panel');
    await expect.poll(() => panel.isVisible()).toBe(true);
    expect(await panel.locator('h3 .sid').textContent()).toBe(statement);
    expect(await panel.locator('a[href^="#sec-"]').count()).toBe(1);
    // the evidence: a trace table with direction arrows and decoded packets (when the failing test recorded one)
    const traces = panel.locator('table.trace');
    if (await traces.count() > 0) {
      expect(await traces.first().locator('tbody tr').count()).toBeGreaterThan(0);
      const arrows = await traces.first().locator('td.dir').allTextContents();
      expect(arrows.some((a) => a === '→' || a === '←')).toBe(true);
    } else {
      expect(await panel.locator('pre').count()).toBeGreaterThan(0); // the reason at least
    }
    expect(await panel.locator('.badge.s-fail').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(OUT, 'report.png') });
    await page.keyboard.press('Escape');
    await expect.poll(() => panel.isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  test('benchmark charts are drawn: percentile curves with paths, bars, stacked bytes', async () => {
    const { page, errors } = await open({ colorScheme: 'dark' });
    const curves = page.locator('svg.chart.percentile path.curve');
    expect(await curves.count()).toBeGreaterThan(0);
    const d = await curves.first().getAttribute('d');
    expect(d).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/);
    const box = await curves.first().boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(100);
    expect(await page.locator('svg.chart.bars rect.fillk').count()).toBeGreaterThan(0);
    expect(await page.locator('svg.chart.stacked rect[class^="seg-"]').count()).toBeGreaterThan(0);
    // dark scheme applies (the page background follows prefers-color-scheme)
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).toBe('rgb(15, 19, 24)');
    await page.locator('section.bench').first().screenshot({ path: join(OUT, 'report-benchmark-dark.png') });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  test('the suite self-check shows its score, the correct broker and one row per fault; the overview card links to it', async () => {
    const { page, errors } = await open();
    const section = page.locator('section#selftest');
    expect(await section.isVisible()).toBe(true);
    expect(await section.locator('.verdict').first().textContent()).toBe('2 of 3 faults caught');
    expect(await section.locator('table.selftest-faults tbody tr').count()).toBe(3);
    expect(await section.locator('tr#fault-acl-publish-ignored .badge').textContent()).toBe('missed');
    await page.click('.card a[href="#selftest-0"]');
    await expect.poll(() => page.evaluate('location.hash')).toBe('#selftest-0');
    await section.screenshot({ path: join(OUT, 'report-selftest.png') });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  test('without JS the static tables are all there and the filters are hidden', async () => {
    const { page, errors } = await open({ javaScriptEnabled: false });
    expect(await page.locator('#matrix tr.row').count()).toBeGreaterThan(3);
    expect(await page.locator('#filters').isVisible()).toBe(false);
    expect(await page.locator('details.ev').count()).toBeGreaterThan(0);
    expect(await page.locator('table.data.coverage').count()).toBeGreaterThan(0);
    // a failed cell is a plain link to its evidence block
    const href = await page.locator('#matrix td.cell[data-s="fail"] a').first().getAttribute('href');
    expect(href).toMatch(/^#ev-/);
    expect(await page.locator(href!).count()).toBe(1);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

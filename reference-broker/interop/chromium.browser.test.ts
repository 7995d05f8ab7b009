/**
 * A real browser against the reference broker's WebSocket listeners: headless
 * Debian Chromium (driven by playwright-core, never a downloaded browser)
 * loads a page from a local HTTP server; the page speaks MQTT over the
 * browser's native WebSocket, publishes and receives its own message, and a
 * Node-side MQTT.js client checks traffic in both directions.
 *
 * Run with `npm run test:browser` (vitest.browser.config.ts); not part of `npm test`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { chromium, type Browser, type BrowserContext, type BrowserServer, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateDevCerts, readTlsMaterial, startBroker, type RunningBroker } from '../index.js';
import { describeWithTools, useChildProcesses } from './external-tools.js';
import { MQTTJS_PAGE_PAYLOAD, RAW_PAGE_PAYLOAD, mqttJsPage, rawMqttPage } from './pages.js';
import { uniqueClientId, uniqueTopic, withTimeout } from './support.js';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const STEP_TIMEOUT_MS = 15_000;
const SCREENSHOT_DIR = fileURLToPath(new URL('../../out/browser/', import.meta.url));

/** MQTT.js's browser bundle, when the installed package ships one. */
function mqttBrowserBundle(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('mqtt/package.json');
    const bundle = join(dirname(pkg), 'dist', 'mqtt.min.js');
    return existsSync(bundle) ? bundle : undefined;
  } catch {
    return undefined;
  }
}

/** Serves the test pages (and the MQTT.js bundle) on 127.0.0.1, port 0. */
async function startPageServer(bundle: string | undefined): Promise<{ server: Server; origin: string }> {
  const routes = new Map<string, { type: string; body: () => string | Buffer }>([
    ['/raw.html', { type: 'text/html; charset=utf-8', body: rawMqttPage }],
    ['/mqttjs.html', { type: 'text/html; charset=utf-8', body: mqttJsPage }],
  ]);
  if (bundle) routes.set('/mqtt.min.js', { type: 'text/javascript; charset=utf-8', body: () => readFileSync(bundle) });
  const server = createServer((req, res) => {
    const route = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store' }).end(route.body());
  });
  server.listen(0, '127.0.0.1');
  await withTimeout(new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  }), 5000, 'page server listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

/** A Node-side MQTT.js peer; next() waits (event-driven, with a timeout) for a message. */
async function nodePeer(url: string, ca: Buffer | undefined): Promise<{ client: MqttClient; next: (topic: string) => Promise<Received> }> {
  const client = mqtt.connect(url, { protocolVersion: 5, clientId: uniqueClientId('node-peer'), reconnectPeriod: 0, connectTimeout: 5000, ...(ca ? { ca } : {}) });
  const inbox: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    inbox.push({ topic, payload: payload.toString('utf8'), packet });
    for (const w of [...waiters]) w();
  });
  await withTimeout(new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  }), 6000, `Node MQTT.js peer connecting to ${url}`);
  const next = (topic: string): Promise<Received> => {
    let w: (() => void) | undefined;
    const p = new Promise<Received>((resolve) => {
      w = () => {
        const i = inbox.findIndex((m) => m.topic === topic);
        if (i >= 0) resolve(inbox.splice(i, 1)[0]!);
      };
      waiters.add(w);
      w();
    });
    return withTimeout(p, STEP_TIMEOUT_MS, `Node peer receiving on ${topic}`).finally(() => { if (w) waiters.delete(w); });
  };
  return { client, next };
}

describeWithTools(['chromium', 'openssl'], 'Chromium ↔ reference broker over WebSocket', (tools) => {
  // Chromium is shared by the tests of this block: killed (by PID) when the block ends, whatever happens.
  const procs = useChildProcesses(180_000, 'all');
  let browserServer: BrowserServer | undefined;
  let browser: Browser | undefined;
  let rb: RunningBroker;
  let pages: { server: Server; origin: string };
  let certDir: string;
  let ca: Buffer;
  const bundle = mqttBrowserBundle();
  const nodeClients: MqttClient[] = [];

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'mqtt-interop-browser-'));
    const certs = generateDevCerts(certDir);
    ca = readFileSync(certs.caCert);
    const material = readTlsMaterial(certs);
    rb = await startBroker({ tcp: { port: 0 }, ws: { port: 0 }, wss: { port: 0, ...material } });
    pages = await startPageServer(bundle);
    browserServer = await chromium.launchServer({
      executablePath: tools.chromium, args: CHROMIUM_ARGS, headless: true, timeout: 30_000,
      host: '127.0.0.1', port: 0,
    });
    const proc = browserServer.process();
    procs.adopt(proc, `${tools.chromium} (pid ${proc.pid})`);
    browser = await chromium.connect(browserServer.wsEndpoint(), { timeout: 30_000 });
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(nodeClients.map((c) => withTimeout(c.endAsync(true), 5000, 'Node peer end')));
    if (browser) await withTimeout(browser.close(), 10_000, 'browser close').catch(() => undefined);
    if (browserServer) await withTimeout(browserServer.close(), 10_000, 'browser server close').catch(() => undefined);
    // useChildProcesses kills Chromium by its PID if it is still running after this.
    if (pages) await new Promise<void>((resolve) => pages.server.close(() => resolve()));
    await rb?.close();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  }, 60_000);

  /**
   * Opens `path` with the broker URL, topic and ClientID in the query string,
   * waits until the page has subscribed, publishes to it from Node, and waits
   * for the page to report success.
   */
  async function exchange(opts: {
    path: string; brokerUrl: string; nodeUrl: string; label: string; pagePayload: string; screenshot: string;
    context?: BrowserContext;
  }): Promise<{ page: Page; fromPage: Received }> {
    const context = opts.context ?? (await browser!.newContext());
    // No network: anything the page asks for beyond the local page server is refused.
    await context.route('**/*', (route) => (route.request().url().startsWith(pages.origin) ? route.continue() : route.abort()));
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

    const base = uniqueTopic(opts.label);
    const peer = await nodePeer(opts.nodeUrl, ca);
    nodeClients.push(peer.client);
    await peer.client.subscribeAsync(`${base}/from-page`, { qos: 1 });
    const fromPage = peer.next(`${base}/from-page`);

    const query = new URLSearchParams({ broker: opts.brokerUrl, topic: base, clientId: uniqueClientId(`chromium-${opts.label}`) });
    await page.goto(`${pages.origin}${opts.path}?${query}`, { timeout: STEP_TIMEOUT_MS });
    const status = page.locator('#status');
    await page.waitForSelector('#status[data-state="subscribed"], #status[data-state="ok"], #status[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    expect(await status.getAttribute('data-state'), `${await status.textContent()} ${errors.join('; ')}`).not.toBe('error');

    await peer.client.publishAsync(`${base}/to-page`, 'hello from Node', { qos: 1 });
    await page.waitForSelector('#status[data-state="ok"], #status[data-state="error"]', { timeout: STEP_TIMEOUT_MS });
    await page.screenshot({ path: join(SCREENSHOT_DIR, opts.screenshot), fullPage: true });
    expect(await status.getAttribute('data-state'), `${await status.textContent()} ${errors.join('; ')}`).toBe('ok');

    // What the page shows it received: its own message and Node's.
    const shown: [string | null, string | null][] = [];
    for (const li of await page.locator('#received li').all()) {
      shown.push([await li.getAttribute('data-topic'), await li.getAttribute('data-payload')]);
    }
    expect(shown).toEqual(expect.arrayContaining([[`${base}/from-page`, opts.pagePayload], [`${base}/to-page`, 'hello from Node']]));
    expect(errors).toEqual([]);

    const got = await fromPage;
    expect(got.payload).toBe(opts.pagePayload);
    return { page, fromPage: got };
  }

  test('hand-built MQTT 3.1.1 over native WebSocket (ws://, subprotocol mqtt) round trip with a Node MQTT.js peer', async () => {
    const { fromPage } = await exchange({
      path: '/raw.html', brokerUrl: rb.url('ws'), nodeUrl: rb.url('tcp'), label: 'browser-raw',
      pagePayload: RAW_PAGE_PAYLOAD, screenshot: 'raw-mqtt311-ws.png',
    });
    expect(fromPage.packet.qos).toBe(1);
  });

  describe.skipIf(bundle === undefined)(`MQTT.js browser bundle (node_modules/mqtt/dist/mqtt.min.js)${bundle ? '' : ' [skipped: not shipped by the installed mqtt package]'}`, () => {
    test('MQTT 5.0 over ws:// round trip; user properties from the page reach Node', async () => {
      const { fromPage } = await exchange({
        path: '/mqttjs.html', brokerUrl: rb.url('ws'), nodeUrl: rb.url('tcp'), label: 'browser-mqttjs',
        pagePayload: MQTTJS_PAGE_PAYLOAD, screenshot: 'mqttjs-v5-ws.png',
      });
      expect(fromPage.packet.properties).toMatchObject({ userProperties: { browser: 'chromium' }, contentType: 'text/plain' });
    });

    test('MQTT 5.0 over wss:// (dev CA accepted by the browser context), Node peer over wss too', async () => {
      const context = await browser!.newContext({ ignoreHTTPSErrors: true });
      const { fromPage } = await exchange({
        path: '/mqttjs.html', brokerUrl: rb.url('wss'), nodeUrl: rb.url('wss'), label: 'browser-mqttjs-wss',
        pagePayload: MQTTJS_PAGE_PAYLOAD, screenshot: 'mqttjs-v5-wss.png', context,
      });
      expect(fromPage.packet.properties).toMatchObject({ userProperties: { browser: 'chromium' } });
    });
  });
});

/**
 * Interop: libcoap's `coap-client-notls` (Debian libcoap3-bin) as a second
 * client against our CoAP server (the scenario adapter's, coap npm): GET,
 * POST with CON and NON messages, PUT, and Observe for a few notifications.
 * Skipped with the reason when the binary is absent, unless
 * REQUIRE_EXTERNAL=1 (as CI sets it), which makes that a failure.
 */
import { execFile, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SideRun } from '../adapters/context.js';
import { coapServer } from '../adapters/coap.js';
import { names } from '../adapters/names.js';
import type { ServerSide } from '../adapters/types.js';
import { runClock } from '../schedule/open-loop.js';
import { decodeStamp } from '../stamp.js';
import { resolveWorkload } from '../workload.js';

const BIN = process.env['COAP_CLIENT_BIN'] || 'coap-client-notls';
const haveClient = spawnSync(BIN, ['-h'], { stdio: 'ignore' }).error === undefined;
const requireExternal = process.env['REQUIRE_EXTERNAL'] === '1';
const skip = !haveClient && !requireExternal;
const reason = `${BIN} not found: install it with scripts/install-system-deps.sh coap (Debian package libcoap3-bin)`;

/** Runs coap-client; resolves with its stdout (bounded in time by -B and a kill timer). */
function coapClient(args: string[], timeoutMs = 8000): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

describe.skipIf(skip)(`libcoap coap-client against our CoAP server${skip ? ` (skipped: ${reason})` : ''}`, () => {
  let server: ServerSide;
  let run: SideRun;
  let base: string;
  const w = { ...resolveWorkload('fan-out', { rate: '20/s', duration: '20s', warmup: '0s', drain: '1s' }), devices: 1 };

  beforeAll(async () => {
    if (!haveClient) return;
    server = await coapServer({ workload: w, variant: { protocol: 'coap', id: 'coap-con', label: 'CoAP CON', coap: { confirmable: true } }, bindHost: '127.0.0.1', serverHost: '127.0.0.1' });
    base = `coap://127.0.0.1:${server.info.endpoints['port']}`;
    // Start the fan-out schedule now: one update every 50 ms to every observer.
    run = new SideRun(runClock(process.hrtime.bigint(), 0, 20, 1), w);
    server.start(run);
  });
  afterAll(async () => {
    await server?.stop();
    await server?.close();
  });

  test('POST CON and POST NON: 2.04 Changed, and the collector reads the stamp', async () => {
    if (!haveClient) throw new Error(`${reason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    // A JSON stamp (the workload's format) sent as text: the server's collector decodes it.
    const t = Number(process.hrtime.bigint() - run.clock.t0Ns) / 1000;
    const stamp = `{"d":0,"s":1,"t":${Math.round(t)},"l":0,"v":""}`;
    expect(decodeStamp(Buffer.from(stamp), 'json')).toBeDefined();
    const before = run.recorder.receivedAll;
    const con = await coapClient(['-m', 'post', '-e', stamp, '-B', '5', '-v', '7', `${base}/${names.reading(0)}`]);
    expect(con.code).toBe(0);
    expect(con.stdout + con.stderr).toMatch(/2\.04/);
    const non = await coapClient(['-m', 'post', '-N', '-e', stamp, '-B', '5', '-v', '7', `${base}/${names.reading(0)}`]);
    expect(non.code).toBe(0);
    expect(non.stdout + non.stderr).toMatch(/NON.*2\.04|2\.04/);
    expect(run.recorder.receivedAll - before).toBe(2);
  });

  test('PUT then GET: the stored config comes back (2.05 Content)', async () => {
    if (!haveClient) throw new Error(`${reason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    const put = await coapClient(['-m', 'put', '-t', 'application/json', '-e', '{"name":"libcoap"}', '-B', '5', `${base}/${names.haConfig('sensor', 3)}`]);
    expect(put.code).toBe(0);
    const get = await coapClient(['-m', 'get', '-B', '5', `${base}/homeassistant/sensor/3`]);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout.trim())).toEqual({ config: { name: 'libcoap' }, state: null });
  });

  test('GET of an unknown resource: 4.04', async () => {
    if (!haveClient) throw new Error(`${reason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    const r = await coapClient(['-m', 'get', '-B', '5', '-v', '7', `${base}/no/such/thing`]);
    expect(r.stdout + r.stderr).toMatch(/4\.04/);
  });

  test('Observe: the registration is answered and notifications follow (CON, acknowledged by libcoap)', async () => {
    if (!haveClient) throw new Error(`${reason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    const r = await coapClient(['-m', 'get', '-s', '1', '-B', '3', '-w', `${base}/${names.fanOut}`]);
    const lines = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    expect(lines[0]).toBe('ok'); // the answer to the registration
    const stamps = lines.slice(1).map((l) => decodeStamp(Buffer.from(l), 'json'));
    expect(stamps.length).toBeGreaterThanOrEqual(3);
    for (const s of stamps) expect(s).toBeDefined();
    const seqs = stamps.map((s) => s!.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs); // in order
  });
});

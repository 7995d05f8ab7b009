/**
 * `mqtt-testbed fuzz`: bad options are usage errors (exit 2 through main),
 * a broker given by URL is fuzzed with the oracle it announces in its
 * CONNACKs (the reference broker run that way has no findings), and a case
 * from a report is replayed by its seed and path.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startBroker, type RunningBroker } from '../reference-broker/index.js';
import type { FuzzReport } from '../harness/fuzz/report.js';
import { fuzzCommand, parseVersions } from './fuzz-command.js';
import { UsageError, type CliIo } from './io.js';

let broker: RunningBroker;
const dir = mkdtempSync(join(tmpdir(), 'fuzz-command-'));
const keep = process.env['KEEP_FUZZ_OUT'];

beforeAll(async () => {
  broker = await startBroker({ tcp: { host: '127.0.0.1', port: 0 }, maxSessionExpiryInterval: 2 });
});

afterAll(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

function io(): CliIo & { out: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => { text += c.toString(); });
  stderr.resume();
  return { stdout, stderr, stdin: new PassThrough(), cwd: dir, out: () => text };
}

test.each([
  [['--packets', '0']], [['--packets', '1e3x']], [['--versions', '3']], [['--concurrency', '5000']], [['--max-time', 'soon']],
  [['--target', 'http://127.0.0.1:1']], [['--pid', '12']], [['--replay', 'abc']], [['--unknown']],
])('bad options %j are usage errors', async (argv) => {
  await expect(fuzzCommand(argv, io())).rejects.toBeInstanceOf(UsageError);
});

test('versions: 4,5 or 3.1.1,5.0', () => {
  expect(parseVersions('5.0,3.1.1')).toEqual([4, 5]);
  expect(parseVersions('5')).toEqual([5]);
});

test('a broker given by URL: fuzzed with the limits its CONNACKs announce; the reference broker has no findings', async () => {
  const out = keep ?? join(dir, 'remote.json');
  const o = io();
  const code = await fuzzCommand(['--target', broker.url('tcp'), '--packets', '4000', '--seed', '5', '--out', out, '--quiet'], o);
  const report = JSON.parse(readFileSync(out, 'utf8')) as FuzzReport;
  expect(code, o.out()).toBe(0);
  expect(report.target.exact).toBe(false);
  expect(report.memory.measurable).toBe(false);
  expect(report.findings.filter((f) => f.kind.startsWith('mismatch')), o.out()).toEqual([]);
  expect(report.packetsSent).toBeGreaterThanOrEqual(4000);
}, 60_000);

test('--replay SEED:PATH runs that one case and shows the verdict and the outcome', async () => {
  const o = io();
  const code = await fuzzCommand(['--target', broker.url('tcp'), '--replay', '5:3'], o);
  expect(o.out()).toMatch(/case seed 5 path 3/);
  expect(o.out()).toMatch(/expected: /);
  expect(o.out()).toMatch(/got: ok /);
  expect(code).toBe(0);
}, 30_000);

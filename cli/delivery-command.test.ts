/** `mqtt-testbed delivery`: options, and one small run end to end (results file, table, exit code). */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { deliveryCommand } from './delivery-command.js';
import { UsageError, type CliIo } from './io.js';

const io = (): CliIo & { out: () => string } => {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => { text += c.toString(); });
  return { stdout, stderr: new PassThrough(), stdin: new PassThrough(), cwd: process.cwd(), out: () => text };
};

describe('mqtt-testbed delivery', () => {
  test('--help prints the usage', async () => {
    const i = io();
    expect(await deliveryCommand(['--help'], i)).toBe(0);
    expect(i.out()).toMatch(/--brokers LIST/);
  });

  test.each([
    [['--brokers', 'hivemq'], /--brokers: 'hivemq' is not one of reference, mosquitto, aedes/],
    [['--qos', '0'], /--qos: '0' is not one of 1, 2/],
    [['--messages', 'many'], /--messages: expected an integer/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
  ])('bad options are usage errors: %j', async (argv, msg) => {
    const e = await deliveryCommand(argv, io()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(msg);
  });

  test('a small run against the reference broker writes the results file and passes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mqtt-testbed-delivery-cli-'));
    try {
      const i = io();
      const code = await deliveryCommand(['--brokers', 'reference', '--versions', '5', '--qos', '2', '--messages', '500', '--reference-in-process', '--timeout', '30', '--out', out], i);
      expect(code).toBe(0);
      expect(i.out()).toMatch(/\| reference \| 5\.0 +\| 2 +\| 500 /);
      const [file] = readdirSync(out);
      const report = JSON.parse(readFileSync(join(out, file!), 'utf8')) as { schema: string; version: number; runs: { verdict: string; ledger: { received: number } }[] };
      expect(report).toMatchObject({ schema: 'mqtt-testbed/delivery', version: 1 });
      expect(report.runs).toHaveLength(1);
      expect(report.runs[0]).toMatchObject({ verdict: 'pass', ledger: { received: 500 } });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

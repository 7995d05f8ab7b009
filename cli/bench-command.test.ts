/** `mqtt-testbed bench` option handling (the runs themselves: scenarios/runner.test.ts). */
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { benchCommand } from './bench-command.js';
import { UsageError, type CliIo } from './io.js';

const io = (): CliIo & { out: () => string } => {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (c: Buffer) => { text += c.toString(); });
  return { stdout, stderr: new PassThrough(), stdin: new PassThrough(), cwd: process.cwd(), out: () => text };
};

describe('mqtt-testbed bench options', () => {
  test('--help prints the usage', async () => {
    const i = io();
    expect(await benchCommand(['--help'], i)).toBe(0);
    expect(i.out()).toMatch(/--scenario NAME\|FILE\|all/);
  });

  test.each([
    [[], /--scenario is required \(command-response, fan-out, retained-state, telemetry/],
    [['--scenario', 'telemetri'], /no workload named 'telemetri'/],
    [['--scenario', 'telemetry', '--devices', '0', '--qos', '3'], /'devices' must be an integer from 1 to 10000, got 0[\s\S]*'mqtt.qos' must be 0, 1 or 2, got 3/],
    [['--scenario', 'telemetry', '--protocols', 'mqtt,amqp'], /--protocols: expected a comma-separated list of mqtt, http, coap/],
    [['--scenario', 'telemetry', '--broker', 'localhost:1883'], /--broker: expected 'reference', 'mosquitto' or a broker URL/],
    [['--scenario', 'telemetry', '--confirmable', '--non-confirmable'], /exclude each other/],
    [['--scenario', 'telemetry', '--link', 'home-wifi'], /--link needs a device profile/],
    [['--scenario', 'telemetry', '--frobnicate'], /Unknown option '--frobnicate'/],
  ])('bad options are usage errors that say what is wrong: %j', async (argv, msg) => {
    const e = await benchCommand(argv, io()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(msg);
  });
});

/**
 * 10,000 concurrent idle connections to the reference broker (a child
 * process, `mqtt-testbed broker --port 0`, with its file limit raised by
 * `ulimit -n`): every CONNECT is accepted, a control client is still served
 * promptly, and the broker's memory grows by a bounded amount per connection
 * (printed in KiB per connection).
 *
 * Opt-in (it takes several seconds): MQTT_TESTBED_DEEP=1 npx vitest run reference-broker/listeners/idle-connections.test.ts
 * Skipped with the reason when this process or the broker cannot have enough open files.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, test } from 'vitest';
import { encode } from '../../codec/index.js';
import { brokerCommandLine, ROOT, type BrokerCommand } from './broker-process.js';
import { SocketTestClient } from './socket-test-client.js';

const DEEP = process.env.MQTT_TESTBED_DEEP === '1';
const CONNECTIONS = Number(process.env.MQTT_TESTBED_IDLE_CONNECTIONS ?? 10_000);
const NEEDED_FILES = CONNECTIONS + 500;

/** This process's open-file limit (a child shell inherits it). */
function ownFileLimit(): number {
  const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out);
}

function processFileLimit(pid: number): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? (m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1])) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of `pid` in KiB (Linux), or undefined. */
function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const skipReason = !DEEP
  ? 'opt-in: set MQTT_TESTBED_DEEP=1'
  : ownFileLimit() < NEEDED_FILES
    ? `this process may open ${ownFileLimit()} files, ${NEEDED_FILES} are needed (raise ulimit -n before running vitest)`
    : undefined;

const sockets: Socket[] = [];
let child: ChildProcessWithoutNullStreams | undefined;
let command: BrokerCommand | undefined;

afterAll(async () => {
  for (const s of sockets) s.destroy();
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  command?.dispose();
});

/** Opens one TCP connection, sends CONNECT and resolves on CONNACK 0. */
function idleClient(port: number, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port, host: '127.0.0.1' });
    sockets.push(s);
    s.once('connect', () => s.write(encode({ type: 'connect', protocolVersion: i % 2 ? 5 : 4, clean: true, keepAlive: 0, clientId: `idle-${i}` }, i % 2 ? 5 : 4)));
    s.once('data', (d: Buffer) => (d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`connection ${i}: not CONNACK 0: ${d.toString('hex')}`))));
    s.once('error', reject);
    s.once('close', () => reject(new Error(`connection ${i} closed`)));
  });
}

describe.skipIf(skipReason !== undefined)(`${CONNECTIONS} concurrent idle connections${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  test('all accepted; a control client is still served; memory per connection is bounded', async (ctx) => {
    command = brokerCommandLine();
    // Raise the broker's file limit in its shell (to the hard limit if 65536 is not allowed).
    const exec = command.argv.map((a) => `"${a}"`).join(' ');
    child = spawn('sh', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${exec} --port 0 --log-level warn`], { cwd: ROOT, stdio: 'pipe' });
    const stderr: string[] = [];
    createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child!.stdout }).once('line', (l) => resolve(Number(/:(\d+)$/.exec(l)?.[1])));
      child!.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${stderr.join('\n')}`)));
    });
    const pid = child.pid!;
    const limit = processFileLimit(pid);
    if (limit !== undefined && limit < NEEDED_FILES) ctx.skip(`the broker may open only ${limit} files (ulimit -n could not be raised to ${NEEDED_FILES})`);

    const before = rssKiB(pid);
    const t0 = Date.now();
    // In batches: a realistic arrival rate, below maxPendingConnections (1000) waiting for CONNECT at a time.
    for (let i = 0; i < CONNECTIONS; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, CONNECTIONS - i) }, (_, k) => idleClient(port, i + k)));
    }
    const connectMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssKiB(pid);

    // A control client: subscribe, publish QoS 1 to itself, get it back.
    const control = await SocketTestClient.tcp(port, 5);
    const t1 = Date.now();
    expect((await control.connect({ clientId: 'control' })).reasonCode).toBe(0);
    control.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'control/#', qos: 1 }] });
    await control.take((p) => p.type === 'suback');
    control.send({ type: 'publish', topic: 'control/ping', payload: Buffer.from('pong'), qos: 1, retain: false, dup: false, packetId: 2 });
    await control.take((p) => p.type === 'puback', 2000, 'PUBACK');
    const echo = await control.take((p) => p.type === 'publish', 2000, 'the echoed PUBLISH');
    const controlMs = Date.now() - t1;
    expect(echo.type === 'publish' && echo.payload.toString()).toBe('pong');
    expect(controlMs).toBeLessThan(2000);
    control.destroy();
    expect(child.exitCode).toBe(null);

    const perConn = before !== undefined && after !== undefined ? (after - before) / CONNECTIONS : undefined;
    // eslint-disable-next-line no-console
    console.log(`${CONNECTIONS} idle connections: connected in ${connectMs} ms; broker RSS ${before} KiB → ${after} KiB` +
      `${perConn !== undefined ? ` (${perConn.toFixed(1)} KiB per connection)` : ''}; control client round trip ${controlMs} ms; broker file limit ${limit ?? '?'}`);
    if (perConn !== undefined) expect(perConn).toBeLessThan(64);
  }, 120_000);
});

/**
 * kill -9 of the broker process (`mqtt-testbed broker --data-dir`), at
 * random points while a publisher streams QoS 1 and QoS 2 messages to a
 * persistent subscriber: after a restart from the same folder, every message
 * acknowledged to the publisher (PUBACK, PUBREC) reaches the subscriber, QoS
 * 1 at least once and QoS 2 exactly once.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Packet, QoS } from '../../codec/index.js';
import { brokerCommandLine, ROOT, type BrokerCommand } from './broker-process.js';
import { SocketTestClient } from './socket-test-client.js';

const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
const clients: SocketTestClient[] = [];
let command: BrokerCommand;

beforeAll(() => {
  // node dist/cli/main.js broker, or a private build of it when dist/ is stale (see broker-process.ts).
  command = brokerCommandLine();
}, 120_000);

afterAll(() => {
  for (const c of clients) c.destroy();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  command?.dispose();
});

interface BrokerProcess {
  child: ChildProcessWithoutNullStreams;
  port: number;
  stderr: string[];
}

/** Starts `mqtt-testbed broker --port 0 --data-dir dir`; resolves once it printed its URL. */
function startBroker(dir: string): Promise<BrokerProcess> {
  const [node, ...args] = command.argv;
  const child = spawn(node!, [...args, '--port', '0', '--data-dir', dir, '--log-level', 'info'], { cwd: ROOT, stdio: 'pipe' });
  children.push(child);
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`broker did not start: ${stderr.join('\n')}`)), 10_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(t);
      const m = /:(\d+)$/.exec(line);
      if (!m) reject(new Error(`unexpected broker output: ${line}`));
      else resolve({ child, port: Number(m[1]), stderr });
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${stderr.join('\n')}`)));
  });
}

async function client(port: number): Promise<SocketTestClient> {
  const c = await SocketTestClient.tcp(port, 5);
  clients.push(c);
  return c;
}

/**
 * A subscriber that acknowledges everything and keeps its QoS 2 receiver
 * state (identifiers PUBREC'd, awaiting PUBREL) across reconnections, as a
 * client with a persistent session must: a QoS 2 PUBLISH whose identifier is
 * in that set is a resend, not a new message.
 */
class Subscriber {
  readonly deliveries = new Map<string, number>();
  readonly qosOf = new Map<string, QoS>();
  private readonly awaitingRel = new Set<number>();
  c: SocketTestClient | undefined;
  dups = 0;

  async connect(port: number, clean: boolean): Promise<boolean> {
    const c = (this.c = await client(port));
    c.onPacket = (p: Packet) => this.on(c, p);
    const ack = await c.connect({ clientId: 'persistent-sub', clean, properties: { sessionExpiryInterval: 3600 } });
    expect(ack.reasonCode).toBe(0);
    return ack.sessionPresent;
  }

  private on(c: SocketTestClient, p: Packet): void {
    if (p.type === 'publish') {
      const payload = p.payload.toString();
      if (p.dup) this.dups++;
      if (p.qos === 1) {
        this.count(payload, 1);
        c.send({ type: 'puback', packetId: p.packetId! });
      } else if (p.qos === 2) {
        if (!this.awaitingRel.has(p.packetId!)) this.count(payload, 2);
        this.awaitingRel.add(p.packetId!);
        c.send({ type: 'pubrec', packetId: p.packetId! });
      }
    } else if (p.type === 'pubrel') {
      this.awaitingRel.delete(p.packetId);
      c.send({ type: 'pubcomp', packetId: p.packetId });
    }
  }

  private count(payload: string, qos: QoS): void {
    this.deliveries.set(payload, (this.deliveries.get(payload) ?? 0) + 1);
    this.qosOf.set(payload, qos);
  }
}

/**
 * Publishes `n` messages alternating QoS 1 (topic k/1) and QoS 2 (k/2), at
 * most `window` unacknowledged, until the connection drops. `acked` gets the
 * payloads the broker acknowledged (PUBACK; PUBREC for QoS 2).
 */
async function publishUntilCut(port: number, round: number, n: number, window: number, acked: Set<string>, onAck: () => void): Promise<void> {
  const c = await client(port);
  await c.connect({ clientId: `pub-${round}` });
  const byId = new Map<number, string>();
  let next = 1;
  const sendMore = (): void => {
    while (byId.size < window && next <= n) {
      const i = next++;
      const payload = `r${round}-${i}`;
      const qos: QoS = i % 2 === 1 ? 1 : 2;
      const id = ((i - 1) % 65535) + 1;
      byId.set(id, payload);
      c.send({ type: 'publish', topic: `k/${qos}`, payload: Buffer.from(payload), qos, retain: false, dup: false, packetId: id });
    }
  };
  c.onPacket = (p) => {
    if (p.type === 'puback' || p.type === 'pubrec') {
      const payload = byId.get(p.packetId);
      if (payload === undefined) return;
      if ((p.reasonCode ?? 0) < 0x80) acked.add(payload);
      if (p.type === 'pubrec') c.send({ type: 'pubrel', packetId: p.packetId });
      else byId.delete(p.packetId);
      onAck();
    } else if (p.type === 'pubcomp') {
      byId.delete(p.packetId);
    }
    sendMore();
  };
  sendMore();
  await c.whenClosed;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('kill -9 with --data-dir: nothing acknowledged to a publisher is lost', () => {
  const N = 2000;
  const rounds = [
    { subscriberOnline: false, killAt: 0.15 + Math.random() * 0.2 },
    { subscriberOnline: false, killAt: 0.4 + Math.random() * 0.2 },
    { subscriberOnline: true, killAt: 0.6 + Math.random() * 0.3 },
  ];

  for (const [round, r] of rounds.entries()) {
    test(`round ${round + 1}: subscriber ${r.subscriberOnline ? 'connected (in-flight messages resent with DUP)' : 'offline (queued messages)'}, SIGKILL after ~${Math.round(r.killAt * 100)}% of the acknowledgements`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mqtb-kill9-'));
      dirs.push(dir);
      const first = await startBroker(dir);
      const sub = new Subscriber();
      expect(await sub.connect(first.port, true)).toBe(false);
      sub.c!.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'k/1', qos: 1 }, { topicFilter: 'k/2', qos: 2 }] });
      await sub.c!.take((p) => p.type === 'suback');
      if (!r.subscriberOnline) {
        sub.c!.send({ type: 'disconnect', reasonCode: 0 });
        await sub.c!.whenClosed;
      }

      const acked = new Set<string>();
      const killAfter = Math.floor(N * r.killAt);
      let killed = false;
      const exited = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
      await publishUntilCut(first.port, round, N, 200, acked, () => {
        if (!killed && acked.size >= killAfter) {
          killed = true;
          process.kill(first.child.pid!, 'SIGKILL');
        }
      });
      await exited;
      expect(first.child.signalCode).toBe('SIGKILL');
      expect(acked.size).toBeGreaterThanOrEqual(killAfter);

      const t0 = Date.now();
      const second = await startBroker(dir);
      const startMs = Date.now() - t0;
      expect(second.stderr.some((l) => /state restored/.test(l))).toBe(true);
      expect(await sub.connect(second.port, false)).toBe(true);
      await until(() => [...acked].every((p) => sub.deliveries.has(p)), 10_000,
        `every acknowledged message at the subscriber; missing: ${[...acked].filter((p) => !sub.deliveries.has(p)).slice(0, 10).join(', ')}`);
      await new Promise((res) => setTimeout(res, 200)); // late duplicates would show here
      const twice = [...sub.deliveries].filter(([p, n]) => sub.qosOf.get(p) === 2 && n > 1).map(([p]) => p);
      expect(twice).toEqual([]);
      const unacked = [...sub.deliveries.keys()].filter((p) => !acked.has(p)).length;
      // eslint-disable-next-line no-console
      console.log(`kill -9 round ${round + 1}: acknowledged ${acked.size}/${N} before the kill, delivered after restart ${sub.deliveries.size} (+${unacked} never acknowledged), DUP resends ${sub.dups}; restart to listening ${startMs} ms; ${second.stderr.find((l) => /state restored/.test(l))?.replace(/^.*msg="state restored" /, '')}`);
      second.child.kill('SIGTERM');
      await new Promise<void>((resolve) => second.child.once('exit', () => resolve()));
      expect(second.child.exitCode).toBe(0);
    }, 30_000);
  }
});



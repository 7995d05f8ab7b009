/**
 * Limits over real sockets (TCP, WebSocket): connect timeout for a client
 * that never sends CONNECT, a silent (half-open) connection closed by Keep
 * Alive, maxPendingConnections, and back-pressure from a slow subscriber to
 * a fast publisher (nothing acknowledged is lost; a stalled subscriber does
 * not freeze the publisher beyond maxPublisherPauseMs).
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { Packet, PublishPacket } from '../../codec/index.js';
import { memoryLogger, type LogLine } from '../core/test-client.js';
import { SocketTestClient } from './socket-test-client.js';
import { startBroker, type RunningBroker, type StartOptions } from './start.js';

const running: RunningBroker[] = [];
const clients: SocketTestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(running.splice(0).map((b) => b.close()));
});

async function broker(o: StartOptions = {}): Promise<{ rb: RunningBroker; port: number; log: LogLine[] }> {
  const log: LogLine[] = [];
  const rb = await startBroker({ tcp: { port: 0 }, logger: memoryLogger(log), ...o });
  running.push(rb);
  return { rb, port: rb.listeners[0]!.port, log };
}

async function client(port: number, v: 4 | 5 = 5): Promise<SocketTestClient> {
  const c = await SocketTestClient.tcp(port, v);
  clients.push(c);
  return c;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

describe('connections that never complete or go quiet', () => {
  test('a client that never sends CONNECT is closed after connectTimeoutMs, and it is logged', async () => {
    const { port, log } = await broker({ connectTimeoutMs: 300 });
    const c = await client(port);
    const t0 = Date.now();
    await within(c.whenClosed, 3000, 'the broker to close a connection without CONNECT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(log.some((l) => l.msg === 'no CONNECT in time; closing')).toBe(true);
  });

  for (const v of [4, 5] as const) {
    test(`v${v === 5 ? '5.0' : '3.1.1'}: a connection that goes silent (half-open peer) is closed after 1.5 × Keep Alive${v === 5 ? ' with DISCONNECT 0x8D' : ''}`, async () => {
      const { port, log } = await broker();
      const c = await client(port, v);
      expect((await c.connect({ keepAlive: 1, clientId: `ka${v}` })).reasonCode).toBe(0);
      const t0 = Date.now();
      await within(c.whenClosed, 4000, 'the Keep Alive timeout');
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(1400);
      expect(elapsed).toBeLessThan(3000);
      if (v === 5) expect(c.inbox).toMatchObject([{ type: 'disconnect', reasonCode: 0x8d }]);
      expect(log.some((l) => l.msg === 'keep alive expired')).toBe(true);
    });
  }

  test('maxPendingConnections: sockets that send nothing are bounded; the next is closed at once, logged', async () => {
    const { rb, port, log } = await broker({ maxPendingConnections: 3, connectTimeoutMs: 10_000 });
    const idle = [await client(port), await client(port), await client(port)];
    await within((async () => { while (rb.broker.pendingConnections < 3) await new Promise((r) => setTimeout(r, 5)); })(), 2000, 'three pending connections');
    const extra = await client(port);
    await within(extra.whenClosed, 2000, 'the fourth pending connection to be closed');
    expect(idle.some((c) => c.closed)).toBe(false);
    expect(rb.broker.stats.refused).toBe(1);
    expect(log.some((l) => l.level === 'warn' && /maxPendingConnections/.test(l.msg))).toBe(true);
    // A completed CONNECT frees a slot.
    expect((await idle[0]!.connect({ clientId: 'late' })).reasonCode).toBe(0);
    const next = await client(port);
    expect((await next.connect({ clientId: 'next' })).reasonCode).toBe(0);
  });
});

describe('back-pressure over real sockets', () => {
  const N = 300;

  /** A 5.0 subscriber with Receive Maximum 2 that acknowledges each QoS 1 PUBLISH `delayMs` after it arrives (or never). */
  async function slowSubscriber(port: number, delayMs: number | undefined): Promise<{ c: SocketTestClient; got: string[] }> {
    const c = await client(port);
    await c.connect({ clientId: 'slow', properties: { receiveMaximum: 2 } });
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'bp', qos: 1 }] });
    await c.take((p) => p.type === 'suback');
    const got: string[] = [];
    c.onPacket = (p: Packet) => {
      if (p.type !== 'publish') return;
      got.push(p.payload.toString());
      if (delayMs !== undefined) setTimeout(() => c.send({ type: 'puback', packetId: p.packetId! }), delayMs);
    };
    return { c, got };
  }

  /** Publishes N QoS 1 messages as fast as the socket takes them; resolves with the PUBACK count once all arrived. */
  async function fastPublisher(pub: SocketTestClient, count: number): Promise<number> {
    await pub.connect({ clientId: 'fast' });
    let acked = 0;
    const done = new Promise<void>((resolve) => {
      pub.onPacket = (p) => {
        if (p.type === 'puback' && ++acked === count) resolve();
      };
    });
    const batch: PublishPacket[] = [];
    for (let i = 1; i <= count; i++) batch.push({ type: 'publish', topic: 'bp', payload: Buffer.from(`m${i}`), qos: 1, retain: false, dup: false, packetId: i });
    pub.send(...batch);
    await done;
    return acked;
  }

  for (const transport of ['tcp', 'ws'] as const) {
    test(`a slow QoS 1 subscriber and a fast ${transport === 'ws' ? 'WebSocket' : 'TCP'} publisher: the publisher is paused and resumed, every acknowledged message arrives in order`, async () => {
      const { rb, port } = await broker({ queueHighWaterMark: 20, queueLowWaterMark: 10, ws: { port: 0 } });
      const { got } = await slowSubscriber(port, 2);
      const pub = transport === 'ws' ? await SocketTestClient.ws(rb.url('ws'), 5) : await client(port);
      clients.push(pub);
      expect(await within(fastPublisher(pub, N), 15_000, 'every PUBACK')).toBe(N);
      await within((async () => { while (got.length < N) await new Promise((r) => setTimeout(r, 10)); })(), 10_000, 'every message at the subscriber');
      expect(got).toEqual(Array.from({ length: N }, (_, i) => `m${i + 1}`));
      const s = rb.broker.stats;
      expect(s.throttled).toBeGreaterThan(0);
      expect(s.throttleTimeouts).toBe(0);
      expect(s.dropped).toBe(0);
    });
  }

  test('a subscriber that stops reading holds the publisher for maxPublisherPauseMs at most: then its excess is dropped (counted), the publisher goes on', async () => {
    const { rb, port, log } = await broker({ queueHighWaterMark: 20, queueLowWaterMark: 10, maxPublisherPauseMs: 300 });
    const { c, got } = await slowSubscriber(port, undefined);
    const pub = await client(port);
    const t0 = Date.now();
    expect(await within(fastPublisher(pub, N), 10_000, 'every PUBACK despite the stalled subscriber')).toBe(N);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5000);
    const s = rb.broker.stats;
    expect(s.throttleTimeouts).toBeGreaterThanOrEqual(1);
    expect(s.dropped).toBe(N - 2 - 20); // 2 in flight, 20 queued (the high-water mark), the rest dropped
    expect(got.length).toBe(2);
    expect(log.some((l) => l.level === 'warn' && /slow subscriber/.test(l.msg))).toBe(true);
    expect(c.closed).toBe(false);
  });
});

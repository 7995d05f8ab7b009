/**
 * The fault proxy does what each fault says, measured on the wire: byte
 * counts up to a cut, the FIN or RST the client sees, many small reads when
 * split, few when coalesced, nothing through a black hole while the
 * connection stays open, delays at least as configured; seeds replay the
 * same plans, and close() leaves no socket or timer behind.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { encode, type Packet } from '../codec/index.js';
import { startBroker, type RunningBroker } from '../reference-broker/index.js';
import { FaultProxy, type FaultPlan, type PacketHook } from './fault-proxy.js';
import { RawClient } from './raw-client.js';

interface Sink {
  server: Server;
  port: number;
  /** Server-side sockets in accept order. */
  sockets: Socket[];
  received: Buffer[][];
  reads: number[];
  accepted(n: number): Promise<Socket>;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function sink(): Promise<Sink> {
  const sockets: Socket[] = [];
  const received: Buffer[][] = [];
  const reads: number[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer({ allowHalfOpen: false }, (s) => {
    const i = sockets.length;
    sockets.push(s);
    received.push([]);
    reads.push(0);
    s.on('data', (b: Buffer) => { received[i]!.push(b); reads[i]!++; });
    s.on('error', () => {});
    for (const w of waiters.splice(0)) w();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  return {
    server, port: (server.address() as AddressInfo).port, sockets, received, reads,
    async accepted(n) {
      while (sockets.length <= n) await new Promise<void>((r) => waiters.push(r));
      return sockets[n]!;
    },
  };
}

async function proxyTo(s: Sink, plan: FaultPlan = {}, seed = 1): Promise<FaultProxy> {
  const p = await FaultProxy.start({ target: { host: '127.0.0.1', port: s.port }, plan, seed });
  cleanup.push(() => p.close());
  return p;
}

interface Client {
  socket: Socket;
  chunks: Buffer[];
  error: NodeJS.ErrnoException | undefined;
  ended: boolean;
  closed: Promise<void>;
  bytes(): number;
}

async function client(p: FaultProxy): Promise<Client> {
  const socket = connect({ host: '127.0.0.1', port: p.port });
  socket.setNoDelay(true);
  const c: Client = {
    socket, chunks: [], error: undefined, ended: false,
    closed: new Promise<void>((r) => socket.once('close', () => r())),
    bytes: () => c.chunks.reduce((n, b) => n + b.length, 0),
  };
  socket.on('data', (b: Buffer) => c.chunks.push(b));
  socket.on('error', (e: NodeJS.ErrnoException) => { c.error = e; });
  socket.on('end', () => { c.ended = true; });
  cleanup.push(() => { socket.destroy(); });
  await once(socket, 'connect');
  return c;
}

/** Resolves on 'close' (events.once would reject on the 'error' before it). */
const closeOf = (s: Socket): Promise<void> => new Promise((r) => s.once('close', () => r()));

/** Polls a condition every few ms until it holds; fails with `what` after `ms`. */
async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const bytes = (n: number, seed = 0): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const total = (chunks: Buffer[]): number => chunks.reduce((n, b) => n + b.length, 0);

describe('relay and cuts', () => {
  test('without faults bytes pass unchanged both ways and are counted', async () => {
    const s = await sink();
    const p = await proxyTo(s);
    const c = await client(p);
    c.socket.write(bytes(5000));
    const server = await s.accepted(0);
    await until(() => total(s.received[0]!) === 5000, '5000 bytes at the server');
    expect(Buffer.concat(s.received[0]!)).toEqual(bytes(5000));
    server.write(bytes(3000, 7));
    await until(() => c.bytes() === 3000, '3000 bytes at the client');
    expect(Buffer.concat(c.chunks)).toEqual(bytes(3000, 7));
    const st = p.stats();
    expect(st.bytes.read).toEqual({ toBroker: 5000, toClient: 3000 });
    expect(st.bytes.written).toEqual({ toBroker: 5000, toClient: 3000 });
    expect(st.connections).toMatchObject({ accepted: 1, open: 1 });
  });

  test('cut close after N bytes towards the broker: exactly N arrive, both sides see an orderly close', async () => {
    const s = await sink();
    const p = await proxyTo(s, { cut: { mode: 'close', direction: 'toBroker', at: { afterBytes: 777 } } });
    const c = await client(p);
    const server = await s.accepted(0);
    const serverEnded = once(server, 'end');
    c.socket.write(bytes(400));
    c.socket.write(bytes(600, 1));
    await c.closed;
    await serverEnded;
    expect(total(s.received[0]!)).toBe(777);
    expect(Buffer.concat(s.received[0]!)).toEqual(Buffer.concat([bytes(400), bytes(600, 1)]).subarray(0, 777));
    expect(c.ended, 'the client saw a FIN').toBe(true);
    expect(c.error).toBeUndefined();
    const st = p.stats();
    expect(st.faults.close).toBe(1);
    expect(st.log[0]).toMatchObject({ connection: 0, kind: 'close', direction: 'toBroker' });
    expect(st.log[0]!.at).toBeGreaterThan(Date.now() - 60_000);
    await p.idle();
    expect(p.closedConnections()[0]).toMatchObject({ end: 'cut-close', written: { toBroker: 777 } });
  });

  test('cut reset after N bytes towards the broker: the client, with nothing unread, sees ECONNRESET', async () => {
    const s = await sink();
    const p = await proxyTo(s, { cut: { mode: 'reset', direction: 'toBroker', at: { afterBytes: 1234 } } });
    const c = await client(p);
    const server = await s.accepted(0);
    const serverClosed = closeOf(server);
    c.socket.write(bytes(5000));
    await c.closed;
    expect(c.error?.code).toBe('ECONNRESET');
    await serverClosed;
    // An RST may overtake bytes still unread at the receiver (kernel behaviour), never add any.
    expect(total(s.received[0]!)).toBeLessThanOrEqual(1234);
    expect(p.stats().faults.reset).toBe(1);
    await p.idle();
    expect(p.closedConnections()[0]).toMatchObject({ end: 'cut-reset', written: { toBroker: 1234 }, dropped: { toBroker: 5000 - 1234 } });
  });

  test('cut reset after N bytes towards the client: at most N arrive, the broker side sees ECONNRESET', async () => {
    const s = await sink();
    const p = await proxyTo(s, { cut: { mode: 'reset', direction: 'toClient', at: { afterBytes: 1234 } } });
    const c = await client(p);
    const server = await s.accepted(0);
    let serverError: string | undefined;
    server.on('error', (e: NodeJS.ErrnoException) => { serverError = e.code; });
    const serverClosed = closeOf(server);
    server.write(bytes(5000));
    await c.closed;
    // With bytes still unread when the RST lands, Linux 6.x reports them and then end-of-stream, not ECONNRESET.
    expect(c.bytes()).toBeLessThanOrEqual(1234);
    await serverClosed;
    expect(serverError, 'the broker side was reset').toBe('ECONNRESET');
    expect(p.stats().faults.reset).toBe(1);
  });

  test('cut after N whole MQTT packets: the first N packets arrive, nothing of the next', async () => {
    const s = await sink();
    const p = await proxyTo(s, { cut: { mode: 'close', direction: 'toBroker', at: { afterPackets: 3 } } });
    const c = await client(p);
    const packets: Packet[] = [1, 2, 3, 4, 5].map((i) => ({ type: 'publish', topic: `t/${i}`, payload: bytes(i * 50), qos: 1, retain: false, dup: false, packetId: i }));
    const frames = packets.map((pk) => encode(pk, 4));
    await s.accepted(0);
    c.socket.write(Buffer.concat(frames)); // one write, so only packet framing can find the boundary
    await c.closed;
    expect(Buffer.concat(s.received[0]!)).toEqual(Buffer.concat(frames.slice(0, 3)));
  });

  test('cutAll resets every open connection and returns the count', async () => {
    const s = await sink();
    const p = await proxyTo(s);
    const cs = await Promise.all([client(p), client(p), client(p)]);
    await s.accepted(2);
    expect(p.cutAll('reset')).toBe(3);
    await Promise.all(cs.map((c) => c.closed));
    for (const c of cs) expect(c.error?.code).toBe('ECONNRESET');
    await p.idle();
    expect(p.stats().connections).toMatchObject({ open: 0, closed: 3 });
  });

  test('a cut after some ms ends the connection on time', async () => {
    const s = await sink();
    const p = await proxyTo(s, { cut: { mode: 'close', direction: 'toClient', at: { afterMs: 80 } } });
    const t0 = performance.now();
    const c = await client(p);
    await c.closed;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
    expect(c.ended).toBe(true);
  });
});

describe('shaping', () => {
  test('split: one 10,000-byte write reaches the client in many small reads, intact', async () => {
    const s = await sink();
    const p = await proxyTo(s, { split: { toClient: { maxChunk: 100 } } });
    const c = await client(p);
    const server = await s.accepted(0);
    server.write(bytes(10_000));
    await until(() => c.bytes() === 10_000, 'all bytes');
    expect(Buffer.concat(c.chunks)).toEqual(bytes(10_000));
    expect(c.chunks.length).toBeGreaterThanOrEqual(50);
    expect(Math.max(...c.chunks.map((b) => b.length))).toBeLessThanOrEqual(200);
  });

  test('coalesce: 40 small writes reach the broker in a few reads, intact', async () => {
    const s = await sink();
    const p = await proxyTo(s, { coalesce: { toBroker: { holdMs: 40, maxBytes: 100_000 } } });
    const c = await client(p);
    await s.accepted(0);
    for (let i = 0; i < 40; i++) {
      c.socket.write(bytes(10, i));
      await new Promise((r) => setImmediate(r));
    }
    await until(() => total(s.received[0]!) === 400, 'all bytes');
    expect(Buffer.concat(s.received[0]!)).toEqual(Buffer.concat(Array.from({ length: 40 }, (_, i) => bytes(10, i))));
    expect(s.reads[0]).toBeLessThanOrEqual(4);
  });

  test('delay: bytes arrive no earlier than the configured delay, both directions, order kept under jitter', async () => {
    const s = await sink();
    const p = await proxyTo(s, { delay: { toClient: { ms: 100, jitterMs: 30 }, toBroker: { ms: 60 } } });
    const c = await client(p);
    const server = await s.accepted(0);
    let t0 = performance.now();
    for (let i = 0; i < 20; i++) server.write(bytes(50, i));
    await until(() => c.bytes() === 1000, 'delayed bytes');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
    expect(Buffer.concat(c.chunks)).toEqual(Buffer.concat(Array.from({ length: 20 }, (_, i) => bytes(50, i))));
    t0 = performance.now();
    c.socket.write(bytes(10));
    await until(() => total(s.received[0]!) === 10, 'delayed bytes to the broker');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
  });

  test('black hole: bytes towards the broker vanish, the connection stays open, the other direction works', async () => {
    const s = await sink();
    const p = await proxyTo(s, { blackhole: { direction: 'toBroker' } });
    const c = await client(p);
    const server = await s.accepted(0);
    c.socket.write(bytes(3000));
    await until(() => p.stats().bytes.dropped.toBroker === 3000, 'the bytes to be swallowed');
    server.write(bytes(20));
    await until(() => c.bytes() === 20, 'the other direction');
    await new Promise((r) => setTimeout(r, 150)); // silence is what is checked here
    expect(total(s.received[0]!)).toBe(0);
    expect(c.socket.destroyed || c.ended).toBe(false);
    expect(server.destroyed).toBe(false);
    expect(p.stats().faults.blackhole).toBe(1);
    // the client's FIN is swallowed too: the broker side stays half-open, as on a dead link
    c.socket.end();
    await new Promise((r) => setTimeout(r, 100));
    expect(server.readableEnded).toBe(false);
  });

  test('black hole after N bytes, lifted at run time with setPlan(existing)', async () => {
    const s = await sink();
    const p = await proxyTo(s, { blackhole: { direction: 'toBroker', at: { afterBytes: 100 } } });
    const c = await client(p);
    await s.accepted(0);
    c.socket.write(bytes(300));
    await until(() => p.stats().bytes.dropped.toBroker === 200, 'the tail to be swallowed');
    expect(total(s.received[0]!)).toBe(100);
    p.setPlan({}, { existing: true });
    c.socket.write(bytes(50, 3));
    await until(() => total(s.received[0]!) === 150, 'bytes after the plan change');
    expect(Buffer.concat(s.received[0]!).subarray(100)).toEqual(bytes(50, 3));
  });
});

describe('seeds and resources', () => {
  const randomPlan: FaultPlan = {
    cut: { mode: 'either', direction: 'either', at: { afterBytes: { min: 0, max: 1_000_000 } } },
    delay: { toClient: { ms: { min: 0, max: 50 } } },
    split: { toBroker: { maxChunk: { min: 1, max: 9 } } },
  };

  async function plansOf(seed: number): Promise<unknown[]> {
    const s = await sink();
    const p = await proxyTo(s, randomPlan, seed);
    for (let i = 0; i < 6; i++) {
      const c = await client(p);
      await s.accepted(i);
      c.socket.destroy();
    }
    await p.idle();
    return p.closedConnections().sort((a, b) => a.index - b.index).map((r) => r.plan);
  }

  test('the same seed gives every connection the same plan; another seed does not', async () => {
    const a = await plansOf(42);
    const b = await plansOf(42);
    const c = await plansOf(43);
    expect(a).toHaveLength(6);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const modes = new Set(a.map((x) => (x as { cut: { mode: string } }).cut.mode));
    expect(modes.size, 'open choices really vary between connections').toBe(2);
  });

  test('close() leaves no socket, server or timer behind', async () => {
    const resources = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
      return out;
    };
    const s = await sink();
    const before = resources();
    const p = await FaultProxy.start({ target: { host: '127.0.0.1', port: s.port }, plan: { delay: { toClient: { ms: 10_000 } }, coalesce: { toBroker: { holdMs: 10_000, maxBytes: 1 << 20 } } } });
    const cs = await Promise.all([client(p), client(p), client(p)]);
    await s.accepted(2);
    for (const c of cs) c.socket.write(bytes(100)); // held by coalesce, with a timer pending
    s.sockets[0]!.write(bytes(100)); // held by the delay, with a timer pending
    await until(() => p.stats().bytes.read.toBroker === 300 && p.stats().bytes.read.toClient === 100, 'bytes read');
    await p.close();
    for (const c of cs) await c.closed;
    await until(() => s.sockets.every((x) => x.destroyed), 'the sink side to close');
    await new Promise((r) => setImmediate(r));
    const after = resources();
    for (const kind of ['TCPSocketWrap', 'TCPServerWrap', 'Timeout']) expect(after[kind] ?? 0, kind).toBeLessThanOrEqual(before[kind] ?? 0);
    expect(p.stats().connections.open).toBe(0);
  });

  test('a bad plan is refused with a stable code', async () => {
    await expect(FaultProxy.start({ target: 'mqtt://127.0.0.1:1', plan: { split: { toClient: { maxChunk: 0 } } } }))
      .rejects.toMatchObject({ code: 'BAD_FAULT_PLAN' });
  });
});

describe('MQTT-aware mode', () => {
  let broker: RunningBroker;
  async function mqttProxy(hook: PacketHook): Promise<FaultProxy> {
    broker = await startBroker({ tcp: { port: 0 } });
    cleanup.push(() => broker.close());
    const p = await FaultProxy.start({ target: broker.url('tcp'), plan: { packets: hook } });
    cleanup.push(() => p.close());
    return p;
  }
  async function mqttClient(url: string, id: string, version: 4 | 5 = 5): Promise<RawClient> {
    const c = await RawClient.open(url, { version, label: id, timeoutMs: 3000 });
    cleanup.push(() => c.destroy());
    const ack = await c.connect({ clean: true, keepAlive: 30, clientId: id });
    expect(ack.reasonCode).toBe(0);
    return c;
  }
  const pub = (topic: string, text: string, qos: 0 | 1, packetId?: number): Packet =>
    ({ type: 'publish', topic, payload: Buffer.from(text), qos, retain: false, dup: false, ...(packetId ? { packetId } : {}) });

  test('a hook duplicates and rewrites packets towards the client', async () => {
    const p = await mqttProxy((pk, ctx) => {
      if (ctx.direction === 'toClient' && pk.type === 'publish') return [pk, { ...pk, payload: Buffer.from(`${pk.payload.toString()}!`) }];
    });
    const sub = await mqttClient(p.url, 'fp-sub');
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'fp/dup', qos: 0 }] });
    await sub.expect('suback');
    const pubc = await mqttClient(broker.url('tcp'), 'fp-pub');
    pubc.send(pub('fp/dup', 'x', 0));
    const first = await sub.expect('publish');
    const second = await sub.expect('publish');
    expect([first.payload.toString(), second.payload.toString()]).toEqual(['x', 'x!']);
    expect(p.connections()[0]!.packets).toMatchObject({ replaced: 1 });
  });

  test('a hook drops a PUBLISH and fakes the PUBACK: the publisher is acknowledged, nobody receives it', async () => {
    const p = await mqttProxy((pk, ctx) => {
      if (ctx.direction === 'toBroker' && pk.type === 'publish' && pk.qos === 1) {
        ctx.send('toClient', [{ type: 'puback', packetId: pk.packetId!, reasonCode: 0 }]);
        return 'drop';
      }
    });
    const sub = await mqttClient(broker.url('tcp'), 'fp-sub2');
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'fp/drop', qos: 1 }] });
    await sub.expect('suback');
    const pubc = await mqttClient(p.url, 'fp-pub2');
    pubc.send(pub('fp/drop', 'gone', 1, 9));
    expect((await pubc.expect('puback')).packetId).toBe(9);
    await sub.expectNothing(150, (x) => x.type === 'publish');
    expect(p.connections()[0]!.packets).toMatchObject({ dropped: 1, injected: 1 });
  });

  test('ctx.later delays one packet and lets the next overtake it', async () => {
    const p = await mqttProxy((pk, ctx) => {
      if (ctx.direction === 'toClient' && pk.type === 'publish' && pk.payload.toString() === 'a') {
        ctx.later(80, [pk]);
        return 'drop';
      }
    });
    const sub = await mqttClient(p.url, 'fp-sub3', 4);
    sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'fp/late', qos: 0 }] });
    await sub.expect('suback');
    const pubc = await mqttClient(broker.url('tcp'), 'fp-pub3', 4);
    const t0 = performance.now();
    pubc.send(pub('fp/late', 'a', 0));
    pubc.send(pub('fp/late', 'b', 0));
    expect((await sub.expect('publish')).payload.toString()).toBe('b');
    expect((await sub.expect('publish')).payload.toString()).toBe('a');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
  });

  test('bytes that are not MQTT pass through raw, recorded as a decode error', async () => {
    const s = await sink();
    const p = await FaultProxy.start({ target: { host: '127.0.0.1', port: s.port }, plan: { packets: () => 'drop' } });
    cleanup.push(() => p.close());
    const c = await client(p);
    await s.accepted(0);
    const junk = Buffer.from([0x00, 0x01, 0x02, 0x03, 0x04]); // packet type 0 is reserved
    c.socket.write(junk);
    await until(() => total(s.received[0]!) === 5, 'raw bytes');
    expect(Buffer.concat(s.received[0]!)).toEqual(junk);
    expect(p.stats().faults['decode-error']).toBe(1);
  });
});

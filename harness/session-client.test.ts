/**
 * The reconnecting session client keeps its session across cuts: in-flight
 * PUBLISHes go again with DUP 1 and their identifiers, in order, PUBRELs
 * again; a QoS 2 PUBLISH resent by the broker is acknowledged but not
 * delivered twice; a lost session is reported and the subscriptions made
 * again; the window bounds what is in flight. Against the reference broker
 * in-process, through the fault proxy in MQTT-aware mode (to see and shape
 * the packets).
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { Packet, PublishPacket } from '../codec/index.js';
import { startBroker, type RunningBroker } from '../reference-broker/index.js';
import { FaultProxy, type PacketHook } from './fault-proxy.js';
import { SessionClient, type ReceivedMessage, type SessionClientOptions, type SessionEvent } from './session-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Seen { conn: number; dir: 'toBroker' | 'toClient'; p: Packet }

async function setup(hook?: PacketHook): Promise<{ broker: RunningBroker; proxy: FaultProxy; seen: Seen[] }> {
  const broker = await startBroker({ tcp: { port: 0 } });
  cleanup.push(() => broker.close());
  const seen: Seen[] = [];
  const proxy = await FaultProxy.start({
    target: broker.url('tcp'),
    plan: { packets: (p, ctx) => { seen.push({ conn: ctx.connection, dir: ctx.direction, p }); return hook?.(p, ctx); } },
  });
  cleanup.push(() => proxy.close());
  return { broker, proxy, seen };
}

function client(o: Partial<SessionClientOptions> & Pick<SessionClientOptions, 'url' | 'clientId'>): SessionClient & { events: SessionEvent[]; got: ReceivedMessage[] } {
  const events: SessionEvent[] = [];
  const got: ReceivedMessage[] = [];
  const c = new SessionClient({ version: 5, reconnectDelayMs: { min: 0, max: 5 }, onEvent: (e) => events.push(e), onMessage: (m) => got.push(m), ...o });
  cleanup.push(() => c.close({ endSession: true }));
  return Object.assign(c, { events, got });
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const publishes = (seen: Seen[], conn: number): PublishPacket[] =>
  seen.filter((s) => s.conn === conn && s.dir === 'toBroker' && s.p.type === 'publish').map((s) => s.p as PublishPacket);

/** Index of the proxied connection that carried the latest CONNECT (3.1.1 clients open a clean-slate connection first). */
const lastConn = (seen: Seen[]): number => seen.filter((s) => s.p.type === 'connect').at(-1)!.conn;

/** A hook dropping packets of one type while `on` (turned off before the cut, so the next connection works). */
function dropping(type: Packet['type']): { on: boolean; hook: PacketHook } {
  const d: { on: boolean; hook: PacketHook } = { on: true, hook: (p) => (d.on && p.type === type ? 'drop' : undefined) };
  return d;
}

describe.each([5, 4] as const)('MQTT %s session client', (version) => {
  test('after a cut, unacknowledged PUBLISHes go again with DUP 1, original identifiers, in order [MQTT-4.4.0-1]', async () => {
    // The first connection never sees a PUBACK, so everything stays in flight.
    const drop = dropping('puback');
    const { proxy, seen } = await setup(drop.hook);
    const c = client({ url: proxy.url, clientId: `sc-r${version}`, version });
    await c.start();
    const before = lastConn(seen);
    const done = [1, 2, 3, 4, 5].map((i) => c.publish('sc/resend', Buffer.from(`m${i}`), 1));
    await until(() => publishes(seen, before).length === 5, 'five PUBLISHes');
    expect(c.inFlight).toBe(5);
    drop.on = false;
    proxy.cutAll('reset');
    await Promise.all(done);
    const after = lastConn(seen);
    const first = publishes(seen, before);
    const again = publishes(seen, after);
    expect(first.every((p) => !p.dup)).toBe(true);
    expect(again.map((p) => [p.packetId, p.dup, p.payload.toString()])).toEqual(first.map((p) => [p.packetId, true, p.payload.toString()]));
    const connect = seen.find((s) => s.conn === after && s.p.type === 'connect')!.p;
    expect(connect).toMatchObject({ clean: false });
    expect(c.stats).toMatchObject({ resentPublishes: 5, sessionsPresent: 1, sessionsLost: 0, disconnects: 1 });
  });

  test('QoS 2: a PUBREL without PUBCOMP is resent as PUBREL, never as PUBLISH [MQTT-4.3.3-6]', async () => {
    const drop = dropping('pubcomp');
    const { proxy, seen } = await setup(drop.hook);
    const c = client({ url: proxy.url, clientId: `sc-q${version}`, version });
    await c.start();
    const done = c.publish('sc/q2', Buffer.from('x'), 2);
    await until(() => seen.some((s) => s.p.type === 'pubrel'), 'PUBREL');
    drop.on = false;
    proxy.cutAll('close');
    await done;
    const conn1 = seen.filter((s) => s.conn === lastConn(seen) && s.dir === 'toBroker').map((s) => s.p.type);
    expect(conn1).toContain('pubrel');
    expect(conn1).not.toContain('publish');
    expect(c.stats.resentPubrels).toBe(1);
  });

  test('QoS 2 receiver: a PUBLISH resent for an identifier awaiting PUBREL is acknowledged, not delivered again [MQTT-4.3.3-10]', async () => {
    // The subscriber's first PUBREC never reaches the broker, so the broker resends the PUBLISH after the cut.
    const drop = dropping('pubrec');
    const { broker, proxy } = await setup(drop.hook);
    const sub = client({ url: proxy.url, clientId: `sc-s${version}`, version, subscriptions: [{ topicFilter: 'sc/rx', qos: 2 }] });
    await sub.start();
    const pub = client({ url: broker.url('tcp'), clientId: `sc-p${version}`, version });
    await pub.start();
    const acked = pub.publish('sc/rx', Buffer.from('once'), 2);
    await until(() => sub.got.length === 1, 'the first delivery');
    drop.on = false;
    proxy.cutAll('reset');
    await until(() => sub.stats.qos2DuplicatesSuppressed === 1, 'the resent PUBLISH');
    await acked;
    await until(() => sub.connected, 'reconnected');
    expect(sub.got.map((m) => m.payload.toString())).toEqual(['once']);
  });

  test('the window bounds messages in flight', async () => {
    const { proxy } = await setup((p) => (p.type === 'puback' ? 'drop' : undefined));
    const c = client({ url: proxy.url, clientId: `sc-w${version}`, version, window: 4 });
    await c.start();
    let admitted = 0;
    const loop = (async () => {
      for (let i = 0; i < 10; i++) {
        await c.windowSpace();
        void c.publish('sc/w', Buffer.from(String(i)), 1).catch(() => undefined);
        admitted++;
      }
    })();
    await until(() => admitted === 4 && c.inFlight === 4, 'a full window');
    await new Promise((r) => setTimeout(r, 50)); // nothing more may be admitted while no PUBACK comes
    expect(admitted).toBe(4);
    await c.close();
    await loop;
  });
});

test('a lost session (expired while away) is reported, its in-flight messages fail, subscriptions are made again', async () => {
  const drop = dropping('puback');
  const { proxy, seen } = await setup(drop.hook);
  const c = client({
    url: proxy.url, clientId: 'sc-lost', version: 5, sessionExpiry: 1, reconnectDelayMs: { min: 1300, max: 1300 },
    subscriptions: [{ topicFilter: 'sc/lost', qos: 1 }],
  });
  await c.start();
  const p = c.publish('sc/lost', Buffer.from('x'), 1);
  await until(() => publishes(seen, 0).length === 1, 'the PUBLISH');
  drop.on = false;
  proxy.cutAll('reset');
  await expect(p).rejects.toMatchObject({ code: 'SESSION_LOST' });
  await until(() => c.connected, 'reconnected');
  expect(c.stats).toMatchObject({ sessionsLost: 1, discardedOnSessionLoss: 1 });
  expect(c.events.some((e) => e.kind === 'session-lost')).toBe(true);
  expect(seen.filter((s) => s.p.type === 'subscribe').map((s) => s.conn)).toEqual([0, 1]);
}, 10_000);

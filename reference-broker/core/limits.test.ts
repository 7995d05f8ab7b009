/**
 * Resource limits of the broker core, each enforced with its reason code and
 * logged (rate-limited): connections (completed and pending), packet size,
 * queues with back-pressure on publishers (bounded in time), and where a
 * shared subscription's unacknowledged message goes when its member's
 * session ends (5.0 §4.8.2).
 */
import { describe, expect, test } from 'vitest';
import { encode, type PublishPacket } from '../../codec/index.js';
import { Broker } from './broker.js';
import { FakeClock } from './clock.js';
import type { BrokerOptions } from './options.js';
import {
  VERSIONS, connect, connectPacket, memoryLogger, open, payloads, pub, st, sub, subscriber, types, type ConnectedClient, type LogLine,
} from './test-client.js';

function broker(o: Omit<BrokerOptions, 'clock' | 'logger'> = {}): { broker: Broker; clock: FakeClock; log: LogLine[] } {
  const clock = new FakeClock();
  const log: LogLine[] = [];
  return { broker: new Broker({ ...o, clock, logger: memoryLogger(log) }), clock, log };
}

const warnings = (log: LogLine[], re: RegExp): LogLine[] => log.filter((l) => l.level === 'warn' && re.test(l.msg));

/** Acknowledges every QoS 1 PUBLISH the client has received; returns their payloads. */
function ackAll(c: ConnectedClient): string[] {
  const got = c.takePublishes();
  for (const p of got) if (p.qos === 1) c.send({ type: 'puback', packetId: p.packetId! });
  return payloads(got);
}

describe('connection limits', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.2.2-5'], ['MQTT-3.2.2-7'])} maxConnections: refused with ${v === 5 ? '0x97' : '0x03'}, counted and logged; a takeover of a connected ClientID is let in`, () => {
      const { broker: b, log } = broker({ maxConnections: 2 });
      connect(b, v, { clientId: 'one' });
      connect(b, v, { clientId: 'two' });
      const extra = open(b, v);
      extra.send(connectPacket(v, { clientId: 'three' }));
      expect(extra.take()).toMatchObject([{ type: 'connack', reasonCode: v === 5 ? 0x97 : 0x03 }]);
      expect(extra.closed).toBe(true);
      expect(b.stats.refused).toBe(1);
      expect(warnings(log, /connection limit reached/)[0]?.fields).toMatchObject({ clientId: 'three', open: 2, limit: 2 });
      // 'one' reconnects (say, after a network change, before its old connection timed out).
      const again = connect(b, v, { clientId: 'one' });
      expect(again.connack.reasonCode).toBe(0);
      expect(b.openConnections).toBe(2);
    });
  }

  test(`${st('5.0', [])} maxPendingConnections: connections that have not sent CONNECT are bounded; the next is closed at once and logged`, () => {
    const { broker: b, clock, log } = broker({ maxPendingConnections: 3, connectTimeoutMs: 5000 });
    const idle = [open(b, 5), open(b, 5), open(b, 5)];
    expect(b.pendingConnections).toBe(3);
    const fourth = open(b, 5);
    expect(fourth.link.destroyed).toBe(true);
    expect(b.stats.refused).toBe(1);
    expect(warnings(log, /maxPendingConnections/)).toHaveLength(1);
    for (let i = 0; i < 20; i++) open(b, 5); // a flood logs one line per 10 s
    expect(warnings(log, /maxPendingConnections/)).toHaveLength(1);
    // A completed CONNECT frees its pending slot.
    idle[0]!.send(connectPacket(5));
    expect(b.pendingConnections).toBe(2);
    expect(open(b, 5).link.destroyed).toBe(false);
    // The connect timeout closes the rest and frees theirs.
    clock.advance(5000);
    expect(idle[1]!.closed && idle[2]!.closed).toBe(true);
    expect(b.pendingConnections).toBe(0);
    clock.advance(10_000);
    open(b, 5); open(b, 5); open(b, 5); open(b, 5);
    expect(warnings(log, /maxPendingConnections/).at(-1)?.fields).toMatchObject({ suppressed: 20 });
  });

  test(`${st('5.0', ['MQTT-4.13.1-1'])} maximum packet size: DISCONNECT 0x95, logged with the codec error`, () => {
    const { broker: b, log } = broker({ maxPacketSize: 100 });
    const c = connect(b, 5);
    c.send(pub('t', 'x'.repeat(200)));
    expect(c.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x95 }]);
    expect(log.find((l) => l.msg === 'bad packet; closing')?.fields).toMatchObject({ code: 'PACKET_TOO_LARGE' });
  });
});

describe('back-pressure from slow subscribers', () => {
  const limits = { queueHighWaterMark: 5, queueLowWaterMark: 2, maxPublisherPauseMs: 2000 };

  for (const v of VERSIONS) {
    test(`${st(v, [], [])} a connected subscriber's queue at the high-water mark pauses the publisher; it resumes at the low-water mark; nothing acknowledged is lost`, () => {
      const { broker: b, clock } = broker({ ...limits, maxInflight: 1 });
      const s = subscriber(b, v, 't', 1, v === 5 ? { properties: { receiveMaximum: 1 } } : {});
      const p = connect(b, v);
      for (let i = 1; i <= 10; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
      // m1 in flight, m2..m6 queued: the 6th message reached the mark; m7..m10 wait unread.
      expect(p.link.paused).toBe(true);
      expect(types(p.take())).toEqual(Array(6).fill('puback'));
      expect(b.stats.throttled).toBe(1);
      const got: string[] = [];
      for (let round = 0; round < 20 && got.length < 10; round++) {
        got.push(...ackAll(s));
        clock.advance(0); // held packets are handled on the next timer turn
      }
      expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 1}`));
      expect(types(p.take())).toEqual(Array(4).fill('puback'));
      expect(p.link.paused).toBe(false);
      expect(b.stats.throttled).toBe(2); // m9 reached the mark again
      expect(b.stats.dropped).toBe(0);
    });
  }

  for (const v of VERSIONS) {
    // Found by the fuzzer (harness/fuzz): a bad packet read behind the pause closed the connection before the packets queued ahead of it.
    test(`${st(v, 'MQTT-4.8.0-1', 'MQTT-4.13.1-1')} a malformed packet read while the publisher is paused ends the connection only after the packets before it`, () => {
      const { broker: b, clock } = broker({ ...limits, maxInflight: 1 });
      const s = subscriber(b, v, 't', 1, v === 5 ? { properties: { receiveMaximum: 1 } } : {});
      const p = connect(b, v);
      const qos3 = Buffer.from([0x36, v === 5 ? 6 : 5, 0, 1, 0x74, 0, 1, ...(v === 5 ? [0] : [])]);
      p.sendRaw(Buffer.concat([...Array.from({ length: 8 }, (_, i) => encode(pub('t', `m${i + 1}`, { qos: 1, id: i + 1 }), v)), qos3]));
      expect(p.link.paused).toBe(true);
      expect(p.closed).toBe(false); // m7 and m8 come first
      for (let round = 0; round < 20 && !p.closed; round++) {
        ackAll(s);
        clock.advance(0);
      }
      expect(types(p.take())).toEqual([...Array(8).fill('puback'), ...(v === 5 ? ['disconnect'] : [])]);
      expect(p.closed).toBe(true);
    });
  }

  test(`${st('5.0', [])} a stalled subscriber pauses a publisher for maxPublisherPauseMs at most; then its session drops above the mark (counted, logged once)`, () => {
    const { broker: b, clock, log } = broker(limits);
    const s = subscriber(b, 5, 't', 1, { clientId: 'stalled', properties: { receiveMaximum: 1 } });
    const p = connect(b, 5, { keepAlive: 1 });
    for (let i = 1; i <= 8; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
    expect(p.link.paused).toBe(true);
    clock.advance(1999);
    expect(p.link.paused).toBe(true);
    expect(p.closed).toBe(false); // Keep Alive 1 s: a paused publisher is not silent, it is unread
    clock.advance(1);
    expect(p.link.paused).toBe(false);
    expect(b.stats.throttleTimeouts).toBe(1);
    clock.advance(0);
    for (let i = 9; i <= 30; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
    expect(types(p.take())).toEqual(Array(30).fill('puback'));
    expect(p.link.paused).toBe(false);
    expect(b.stats.dropped).toBe(30 - 6);
    expect(warnings(log, /slow subscriber: a publisher waited/)).toHaveLength(1);
    expect(warnings(log, /slow subscriber: message above the high-water mark dropped/)).toHaveLength(1);
    // It catches up: below the low-water mark it queues (and pauses publishers) again.
    let got: string[] = [];
    for (let i = 0; i < 10; i++) got = got.concat(ackAll(s));
    expect(got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    p.send(pub('t', 'again', { qos: 1, id: 99 }));
    expect(ackAll(s)).toEqual(['again']);
  });

  test(`${st('5.0', [])} offline sessions keep drop-when-full (maxQueuedMessages) and never pause a publisher`, () => {
    const { broker: b, log } = broker({ ...limits, maxQueuedMessages: 8 });
    subscriber(b, 5, 't', 1, { clientId: 'away', clean: false, properties: { sessionExpiryInterval: 60 } }).drop();
    const p = connect(b, 5);
    for (let i = 1; i <= 12; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
    expect(p.link.pauses).toBe(0);
    expect(types(p.take())).toEqual(Array(12).fill('puback'));
    expect(b.stats.dropped).toBe(4);
    expect(warnings(log, /session queue full/)).toHaveLength(1);
  });

  test(`${st('5.0', [])} a subscriber publishing to its own slow subscription is not paused (it would stop its own acknowledgements)`, () => {
    const { broker: b } = broker(limits);
    const s = subscriber(b, 5, 'self', 1, { properties: { receiveMaximum: 1 } });
    for (let i = 1; i <= 10; i++) s.send(pub('self', `m${i}`, { qos: 1, id: i }));
    expect(s.link.pauses).toBe(0);
  });

  test(`${st('5.0', [])} a paused publisher resumes when the slow subscriber disconnects, and a closing publisher is forgotten`, () => {
    const { broker: b, clock } = broker(limits);
    const s = subscriber(b, 5, 't', 1, { properties: { receiveMaximum: 1 } });
    const p = connect(b, 5);
    const q = connect(b, 5);
    for (let i = 1; i <= 7; i++) p.send(pub('t', `p${i}`, { qos: 1, id: i }));
    q.send(pub('t', 'q1', { qos: 1, id: 1 }));
    expect(p.link.paused && q.link.paused).toBe(true);
    q.drop();
    expect(b.sessions.get(s.clientId)!.pausedPublishers?.size).toBe(1);
    s.drop();
    expect(p.link.paused).toBe(false);
    clock.advance(0);
    expect(types(p.take())).toEqual(Array(7).fill('puback'));
  });
});

describe('shared subscriptions: a member whose session ends (5.0 §4.8.2)', () => {
  /** Two members of one share group; publishes until `a` holds a message; returns it. */
  function setup(qos: 1 | 2) {
    const { broker: b, clock } = broker();
    const a = subscriber(b, 5, '$share/g/s', qos, { clientId: 'a' });
    const c = subscriber(b, 5, '$share/g/s', qos, { clientId: 'c' });
    const p = connect(b, 5);
    let held: PublishPacket | undefined;
    for (let i = 1; !held && i < 10; i++) {
      p.send(pub('s', `m${i}`, { qos, id: i }));
      held = a.takePublishes()[0];
      c.take();
    }
    return { b, clock, a, c, p, held: held! };
  }

  test(`${st('5.0', [])} an unacknowledged QoS 1 message goes to another member (SHOULD)`, () => {
    const { a, c, held } = setup(1);
    a.drop(); // Session Expiry Interval 0: the session ends with the connection
    const moved = c.takePublishes();
    expect(moved.map((x) => [x.payload.toString(), x.dup])).toEqual([[held.payload.toString(), false]]);
  });

  test(`${st('5.0', ['MQTT-4.8.2-5'])} a QoS 2 message already sent is not sent to another member`, () => {
    const { a, c } = setup(2);
    a.drop();
    expect(c.takePublishes()).toEqual([]);
  });

  test(`${st('5.0', ['MQTT-4.8.2-6'])} a message the member refused (PUBACK 0x80) is not sent to another member`, () => {
    const { a, c, held } = setup(1);
    a.send({ type: 'puback', packetId: held.packetId!, reasonCode: 0x80 });
    a.drop();
    expect(c.takePublishes()).toEqual([]);
  });

  test(`${st('5.0', [])} a member that only disconnects keeps its message (resent to it on reconnect); when its session expires, queued messages move on`, () => {
    const { broker: b, clock } = broker();
    const a = subscriber(b, 5, '$share/g/s', 1, { clientId: 'a', clean: false, properties: { sessionExpiryInterval: 10 } });
    a.drop();
    const c = subscriber(b, 5, '$share/g/s', 1, { clientId: 'c' });
    c.drop();
    const p = connect(b, 5);
    p.send(pub('s', 'one', { qos: 1, id: 1 }), pub('s', 'two', { qos: 1, id: 2 }));
    // Both members offline: round robin gives one message to each; c's session ended with its connection.
    expect(b.sessions.get('a')!.queue.length).toBeGreaterThan(0);
    const c2 = subscriber(b, 5, '$share/g/s', 1, { clientId: 'c' });
    clock.advance(10_000); // a's session expires
    expect(b.sessions.has('a')).toBe(false);
    expect(payloads(c2.takePublishes()).length).toBeGreaterThan(0);
  });
});

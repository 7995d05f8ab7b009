/**
 * Session state across connections: Clean Session (3.1.1), Clean Start and
 * Session Expiry Interval (5.0), Session Present, what is kept while the
 * client is away, what is resent when it returns, and the DISCONNECT that
 * changes the expiry.
 */
import { describe, expect, test } from 'vitest';
import type { ProtocolVersion } from '../../codec/index.js';
import { Session } from './session.js';
import {
  VERSIONS, brief, connect, makeBroker, payloads, pub, st, sub, subscriber, types, type ConnectFields,
} from './test-client.js';

/** CONNECT fields for a session that outlives the connection. */
function persistent(v: ProtocolVersion, expiry = 0xffffffff): ConnectFields {
  return v === 5 ? { clean: false, properties: { sessionExpiryInterval: expiry } } : { clean: false };
}

describe('clean and persistent sessions', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.1.2-6', 'MQTT-3.2.2-3'], ['MQTT-3.1.2-4', 'MQTT-4.1.0-2', 'MQTT-3.2.2-3'])} a clean session ends with the connection: no subscriptions, Session Present 0 next time`, () => {
      const { broker } = makeBroker();
      const a = subscriber(broker, v, 't', 1, { clientId: 'c' });
      a.send({ type: 'disconnect' });
      expect(broker.sessions.has('c')).toBe(false);
      const again = connect(broker, v, { clientId: 'c', ...persistent(v) });
      expect(again.connack.sessionPresent).toBe(false);
      connect(broker, v).send(pub('t', 'x', { qos: 1, id: 1 }));
      expect(again.take()).toEqual([]);
    });

    test(`${st(v, ['MQTT-3.1.2-4', 'MQTT-3.2.2-2', 'MQTT-3.1.3-2'], ['MQTT-3.1.2-5', 'MQTT-3.1.2-23', 'MQTT-3.2.2-3', 'MQTT-3.1.3-2'])} a persistent session is resumed with Session Present 1 and its subscriptions`, () => {
      const { broker } = makeBroker();
      const a = subscriber(broker, v, 't/+', 1, { clientId: 'p', ...persistent(v) });
      expect(a.connack.sessionPresent).toBe(false); // nothing stored yet [3.1.1 MQTT-3.2.2-3 / 5.0 MQTT-3.2.2-3]
      a.send({ type: 'disconnect' });
      expect(broker.sessions.has('p')).toBe(true);
      const b = connect(broker, v, { clientId: 'p', ...persistent(v) });
      expect(b.connack.sessionPresent).toBe(true);
      connect(broker, v).send(pub('t/1', 'after', { qos: 1, id: 1 }));
      expect(b.takePublishes().map(brief)).toEqual([{ topic: 't/1', payload: 'after', qos: 1, retain: false, dup: false, packetId: 1 }]);
      // another ClientId does not see that state
      expect(connect(broker, v, { clientId: 'other', ...persistent(v) }).connack.sessionPresent).toBe(false);
    });

    test(`${st(v, ['MQTT-3.1.2-6', 'MQTT-3.2.2-1'], ['MQTT-3.1.2-4', 'MQTT-3.2.2-2'])} Clean ${v === 5 ? 'Start' : 'Session'} 1 discards a stored session`, () => {
      const { broker } = makeBroker();
      const a = subscriber(broker, v, 't', 1, { clientId: 'p', ...persistent(v) });
      a.drop();
      connect(broker, v).send(pub('t', 'queued', { qos: 1, id: 1 }));
      const b = connect(broker, v, { clientId: 'p', clean: true });
      expect(b.connack.sessionPresent).toBe(false);
      expect(b.take()).toEqual([]); // the queued message went with the old session
      connect(broker, v).send(pub('t', 'later', { qos: 1, id: 1 }));
      expect(b.take()).toEqual([]); // and so did the subscription
    });

    test(`${st(v, ['MQTT-3.1.2-5', 'MQTT-4.5.0-1'], ['MQTT-3.1.2-23', 'MQTT-4.5.0-1'])} QoS 1 and 2 messages are queued while offline and delivered on reconnect, in order; QoS 0 is not queued`, () => {
      const { broker } = makeBroker();
      const a = subscriber(broker, v, 't/#', 2, { clientId: 'q', ...persistent(v) });
      a.send({ type: 'disconnect' });
      const p = connect(broker, v);
      p.send(
        pub('t/a', 'm1', { qos: 1, id: 1 }),
        pub('t/a', 'm2', { qos: 0 }),
        pub('t/b', 'm3', { qos: 2, id: 2 }),
        pub('t/a', 'm4', { qos: 1, id: 3 }),
        pub('t/a', 'm5', { qos: 2, id: 4 }),
      );
      const b = connect(broker, v, { clientId: 'q', ...persistent(v) });
      expect(b.connack.sessionPresent).toBe(true);
      const got = b.takePublishes();
      expect(payloads(got)).toEqual(['m1', 'm3', 'm4', 'm5']);
      expect(got.map((x) => [x.qos, x.dup])).toEqual([[1, false], [2, false], [1, false], [2, false]]);
      expect(new Set(got.map((x) => x.packetId)).size).toBe(4);
    });

    test(`${st(v, ['MQTT-4.4.0-1', 'MQTT-3.3.1-1', 'MQTT-4.3.3-1'], ['MQTT-4.4.0-1', 'MQTT-3.3.1-1', 'MQTT-4.3.3-6'])} on reconnect unacknowledged PUBLISH (DUP 1) and PUBREL are resent with their ids, in the original order`, () => {
      const { broker } = makeBroker();
      const a = subscriber(broker, v, 't', 2, { clientId: 'r', ...persistent(v) });
      const p = connect(broker, v);
      p.send(pub('t', 'A', { qos: 1, id: 1 }), pub('t', 'B', { qos: 2, id: 2 }), pub('t', 'C', { qos: 2, id: 3 }), pub('t', 'D', { qos: 1, id: 4 }));
      const first = a.takePublishes();
      expect(first.map((x) => [x.payload.toString(), x.packetId, x.dup])).toEqual([['A', 1, false], ['B', 2, false], ['C', 3, false], ['D', 4, false]]);
      a.send({ type: 'pubrec', packetId: 2 }); // B: PUBREL next
      a.send({ type: 'puback', packetId: 4 }); // D: done
      expect(a.take()).toMatchObject([{ type: 'pubrel', packetId: 2 }]);
      a.drop();
      const b = connect(broker, v, { clientId: 'r', ...persistent(v) });
      const resent = b.take();
      expect(resent.map((x) => (x.type === 'publish' ? `publish ${x.packetId} ${x.payload.toString()} dup=${x.dup}` : `${x.type} ${'packetId' in x ? x.packetId : ''}`))).toEqual([
        'publish 1 A dup=true', 'pubrel 2', 'publish 3 C dup=true',
      ]);
      // the flows complete on the new connection
      b.send({ type: 'puback', packetId: 1 }, { type: 'pubcomp', packetId: 2 }, { type: 'pubrec', packetId: 3 });
      expect(b.take()).toMatchObject([{ type: 'pubrel', packetId: 3 }]);
      b.send({ type: 'pubcomp', packetId: 3 });
      expect(broker.sessions.get('r')!.inflight.size).toBe(0);
      // and nothing is resent on the next reconnect
      b.drop();
      expect(connect(broker, v, { clientId: 'r', ...persistent(v) }).take()).toEqual([]);
    });

    test(`${st(v, 'MQTT-4.4.0-1', 'MQTT-4.4.0-1')} in-flight messages are resent before queued ones, then the queue drains in order`, () => {
      const { broker } = makeBroker({ maxInflight: 2 });
      const a = subscriber(broker, v, 't', 1, { clientId: 'o', ...persistent(v), ...(v === 5 ? { properties: { sessionExpiryInterval: 100, receiveMaximum: 2 } } : {}) });
      const p = connect(broker, v);
      for (let i = 1; i <= 3; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
      expect(payloads(a.takePublishes())).toEqual(['m1', 'm2']);
      a.drop();
      for (let i = 4; i <= 5; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
      const b = connect(broker, v, { clientId: 'o', ...persistent(v), ...(v === 5 ? { properties: { sessionExpiryInterval: 100, receiveMaximum: 2 } } : {}) });
      const got = b.takePublishes();
      expect(got.map((x) => [x.payload.toString(), x.dup])).toEqual([['m1', true], ['m2', true]]);
      b.send({ type: 'puback', packetId: got[0]!.packetId! });
      b.send({ type: 'puback', packetId: got[1]!.packetId! });
      const rest = b.takePublishes();
      expect(rest.map((x) => [x.payload.toString(), x.dup])).toEqual([['m3', false], ['m4', false]]);
      b.send({ type: 'puback', packetId: rest[0]!.packetId! });
      expect(payloads(b.takePublishes())).toEqual(['m5']);
    });

    test(`${st(v, ['MQTT-4.1.0-1', 'MQTT-4.3.3-2'], ['MQTT-4.1.0-1', 'MQTT-4.3.3-10'])} inbound QoS 2 state survives a reconnect: a resent PUBLISH is not delivered twice`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 2);
      const p = connect(broker, v, { clientId: 'pub2', ...persistent(v) });
      p.send(pub('t', 'once', { qos: 2, id: 7 }));
      expect(types(p.take())).toEqual(['pubrec']);
      p.drop();
      const p2 = connect(broker, v, { clientId: 'pub2', ...persistent(v) });
      p2.send(pub('t', 'once', { qos: 2, id: 7, dup: true }));
      expect(p2.take()).toMatchObject([{ type: 'pubrec', packetId: 7 }]);
      p2.send({ type: 'pubrel', packetId: 7 });
      expect(p2.take()).toMatchObject([{ type: 'pubcomp', packetId: 7 }]);
      expect(payloads(s.takePublishes())).toEqual(['once']);
    });
  }

  test(`${st('5.0', ['MQTT-3.3.4-9', 'MQTT-3.3.4-10', 'MQTT-4.4.0-1'])} resending on reconnect respects the new Receive Maximum; PUBRELs are not held back`, () => {
    const { broker } = makeBroker();
    const fields = (rm: number): ConnectFields => ({ clientId: 'rm', clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: rm } });
    const s = subscriber(broker, 5, 't', 2, fields(10));
    const p = connect(broker, 5);
    p.send(pub('t', 'x', { qos: 2, id: 100 }));
    for (let i = 1; i <= 5; i++) p.send(pub('t', `${i}`, { qos: 1, id: i }));
    expect(s.takePublishes().map((x) => x.packetId)).toEqual([1, 2, 3, 4, 5, 6]);
    s.send({ type: 'pubrec', packetId: 1 }); // 'x' waits for PUBCOMP
    s.take();
    s.drop();
    p.send(pub('t', 'new', { qos: 1, id: 7 }));
    const b = connect(broker, 5, fields(2));
    // the PUBREL and one PUBLISH fill the window of 2
    expect(b.take().map((x) => `${x.type} ${'packetId' in x ? x.packetId : ''}`)).toEqual(['pubrel 1', 'publish 2']);
    b.send({ type: 'pubcomp', packetId: 1 });
    expect(b.takePublishes().map((x) => [x.packetId, x.dup])).toEqual([[3, true]]);
    b.send({ type: 'puback', packetId: 2 }, { type: 'puback', packetId: 3 });
    expect(b.takePublishes().map((x) => [x.packetId, x.dup])).toEqual([[4, true], [5, true]]);
    b.send({ type: 'puback', packetId: 4 });
    expect(b.takePublishes().map((x) => [x.packetId, x.dup])).toEqual([[6, true]]);
    b.send({ type: 'puback', packetId: 5 });
    expect(b.takePublishes().map((x) => [x.payload.toString(), x.dup])).toEqual([['new', false]]);
  });

  test(`${st('5.0', ['MQTT-3.3.4-9'])} a deferred resend the client acknowledges anyway is not sent`, () => {
    const { broker } = makeBroker();
    const fields = (rm: number): ConnectFields => ({ clientId: 'rm2', clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: rm } });
    const s = subscriber(broker, 5, 't', 1, fields(10));
    const p = connect(broker, 5);
    for (let i = 1; i <= 3; i++) p.send(pub('t', `${i}`, { qos: 1, id: i }));
    s.take();
    s.drop();
    const b = connect(broker, 5, fields(1));
    expect(b.takePublishes().map((x) => x.packetId)).toEqual([1]);
    b.send({ type: 'puback', packetId: 2 }); // acknowledges what it got on the old connection
    expect(b.take()).toEqual([]);
    b.send({ type: 'puback', packetId: 1 });
    expect(b.takePublishes().map((x) => x.packetId)).toEqual([3]);
    b.send({ type: 'puback', packetId: 3 });
    expect(broker.sessions.get('rm2')!.inflight.size).toBe(0);
  });

  test(`${st('5.0', ['MQTT-3.3.4-9', 'MQTT-4.3.3-6'])} a deferred QoS 2 resend the client answers with PUBREC is never sent again as PUBLISH`, () => {
    const { broker } = makeBroker();
    const fields = (rm: number): ConnectFields => ({ clientId: 'rm3', clean: false, properties: { sessionExpiryInterval: 60, receiveMaximum: rm } });
    const s = subscriber(broker, 5, 't', 2, fields(10));
    const p = connect(broker, 5);
    for (let i = 1; i <= 2; i++) p.send(pub('t', `${i}`, { qos: 2, id: i }));
    s.take();
    s.drop();
    const b = connect(broker, 5, fields(1));
    expect(b.takePublishes().map((x) => x.packetId)).toEqual([1]);
    b.send({ type: 'pubrec', packetId: 2 }); // got it on the old connection
    expect(b.take()).toEqual([{ type: 'pubrel', packetId: 2, reasonCode: 0 }]);
    b.send({ type: 'pubrec', packetId: 1 }, { type: 'pubcomp', packetId: 1 }, { type: 'pubcomp', packetId: 2 });
    expect(b.take()).toEqual([{ type: 'pubrel', packetId: 1, reasonCode: 0 }]);
    expect(broker.sessions.get('rm3')!.inflight.size).toBe(0);
  });

  test(`${st('3.1.1', ['MQTT-3.1.2-4', 'MQTT-3.1.2-5'])} a Clean Session 0 session never expires`, () => {
    const { broker, clock } = makeBroker();
    subscriber(broker, 4, 't', 1, { clientId: 'forever', clean: false }).drop();
    clock.advance(10 * 365 * 24 * 3600 * 1000);
    expect(broker.sessions.has('forever')).toBe(true);
    expect(clock.pending()).toBe(0);
    expect(connect(broker, 4, { clientId: 'forever', clean: false }).connack.sessionPresent).toBe(true);
  });
});

describe('5.0 Session Expiry Interval', () => {
  test(`${st('5.0', ['MQTT-4.1.0-2', 'MQTT-3.1.2-23'])} the session is discarded when the interval has passed after the close, not before`, () => {
    const { broker, clock } = makeBroker();
    subscriber(broker, 5, 't', 1, { clientId: 'e', clean: false, properties: { sessionExpiryInterval: 10 } }).drop();
    clock.advance(9999);
    expect(broker.sessions.has('e')).toBe(true);
    clock.advance(1);
    expect(broker.sessions.has('e')).toBe(false);
    expect(broker.router.trie.size).toBe(0);
    expect(connect(broker, 5, { clientId: 'e', clean: false, properties: { sessionExpiryInterval: 10 } }).connack.sessionPresent).toBe(false);
  });

  test(`${st('5.0', ['MQTT-3.1.2-5', 'MQTT-3.2.2-3'])} a reconnect in time stops the expiry; the next close starts it again`, () => {
    const { broker, clock } = makeBroker();
    const props = { clean: false, properties: { sessionExpiryInterval: 10 } };
    subscriber(broker, 5, 't', 1, { clientId: 'e', ...props }).drop();
    clock.advance(9000);
    const b = connect(broker, 5, { clientId: 'e', ...props });
    expect(b.connack.sessionPresent).toBe(true);
    clock.advance(60_000);
    expect(broker.sessions.has('e')).toBe(true);
    b.drop();
    clock.advance(10_000);
    expect(broker.sessions.has('e')).toBe(false);
  });

  test(`${st('5.0', ['MQTT-3.1.2-23'])} 0xFFFFFFFF: the session never expires`, () => {
    const { broker, clock } = makeBroker();
    subscriber(broker, 5, 't', 1, { clientId: 'never', clean: false, properties: { sessionExpiryInterval: 0xffffffff } }).drop();
    clock.advance(0xffffffff * 1000 + 1);
    expect(broker.sessions.has('never')).toBe(true);
    expect(clock.pending()).toBe(0);
  });

  test(`${st('5.0', ['MQTT-4.1.0-2'])} no Session Expiry Interval (0): the session ends with the connection, even with Clean Start 0`, () => {
    const { broker } = makeBroker();
    subscriber(broker, 5, 't', 1, { clientId: 'z', clean: false }).drop();
    expect(broker.sessions.has('z')).toBe(false);
  });

  test(`${st('5.0', ['MQTT-4.1.0-2'])} maxSessionExpiryInterval caps the interval and CONNACK says so`, () => {
    const { broker, clock } = makeBroker({ maxSessionExpiryInterval: 5 });
    const a = subscriber(broker, 5, 't', 1, { clientId: 'cap', clean: false, properties: { sessionExpiryInterval: 3600 } });
    expect(a.connack.properties?.sessionExpiryInterval).toBe(5);
    a.drop();
    clock.advance(5000);
    expect(broker.sessions.has('cap')).toBe(false);
    // within the cap nothing is echoed
    expect(connect(broker, 5, { clean: false, properties: { sessionExpiryInterval: 5 } }).connack.properties?.sessionExpiryInterval).toBeUndefined();
  });

  test(`${st('5.0', ['MQTT-3.1.2-23'])} DISCONNECT may change the interval: 0 ends the session now`, () => {
    const { broker } = makeBroker();
    const a = subscriber(broker, 5, 't', 1, { clientId: 'd0', clean: false, properties: { sessionExpiryInterval: 300 } });
    a.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    expect(a.closed).toBe(true);
    expect(broker.sessions.has('d0')).toBe(false);
  });

  test(`${st('5.0', ['MQTT-3.1.2-23', 'MQTT-4.1.0-2'])} DISCONNECT may change the interval: a longer one is used`, () => {
    const { broker, clock } = makeBroker();
    const a = subscriber(broker, 5, 't', 1, { clientId: 'd1', clean: false, properties: { sessionExpiryInterval: 10 } });
    a.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 100 } });
    clock.advance(99_999);
    expect(broker.sessions.has('d1')).toBe(true);
    clock.advance(1);
    expect(broker.sessions.has('d1')).toBe(false);
  });

  test(`${st('5.0', ['MQTT-4.13.1-1', 'MQTT-3.14.2-2'])} DISCONNECT raising the interval from 0 is a Protocol Error: DISCONNECT 0x82, session ended, Will published`, () => {
    const { broker } = makeBroker();
    const w = subscriber(broker, 5, 'will', 0);
    const a = connect(broker, 5, { clientId: 'd2', will: { topic: 'will', payload: Buffer.from('gone'), qos: 0, retain: false } });
    a.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
    const got = a.take();
    expect(got).toMatchObject([{ type: 'disconnect', reasonCode: 0x82 }]);
    expect(got[0]?.type === 'disconnect' && got[0].properties?.sessionExpiryInterval).toBeFalsy();
    expect(a.closed).toBe(true);
    expect(broker.sessions.has('d2')).toBe(false);
    expect(payloads(w.takePublishes())).toEqual(['gone']);
  });

  // statements: none — broker option maxQueuedMessages
  test(`${st('5.0', [])} messages queued for an offline session beyond maxQueuedMessages are dropped (broker limit)`, () => {
    const { broker } = makeBroker({ maxQueuedMessages: 3 });
    subscriber(broker, 5, 't', 1, { clientId: 'full', clean: false, properties: { sessionExpiryInterval: 60 } }).drop();
    const p = connect(broker, 5);
    for (let i = 1; i <= 5; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
    expect(broker.stats.dropped).toBe(2);
    expect(payloads(connect(broker, 5, { clientId: 'full', clean: false, properties: { sessionExpiryInterval: 60 } }).takePublishes())).toEqual(['m1', 'm2', 'm3']);
  });
});

describe('Packet Identifier allocation (Session)', () => {
  test(`${st('5.0', 'MQTT-2.2.1-4')} ${st('3.1.1', 'MQTT-2.3.1-4')} ids are non-zero, skip ids in flight, and wrap from 65535 to 1`, () => {
    const s = new Session('x', 5);
    const hold = (id: number): void => {
      s.inflight.set(id, { msg: { topic: 't', payload: Buffer.alloc(0), qos: 1, retain: false, properties: undefined, expiresAt: undefined, origin: undefined }, qos: 1, retain: false, subscriptionIds: undefined, packetId: id, phase: 'publish' });
    };
    expect(s.allocatePacketId()).toBe(1);
    hold(2);
    expect(s.allocatePacketId()).toBe(3); // 2 is in flight
    let last = 3;
    for (let i = 0; i < 65532; i++) last = s.allocatePacketId(); // 4 … 65535
    expect(last).toBe(65535);
    hold(1);
    expect(s.allocatePacketId()).toBe(3); // wrapped, 1 and 2 in flight, never 0
    s.inflight.clear();
    for (let id = 1; id <= 65535; id++) hold(id);
    expect(() => s.allocatePacketId()).toThrow(/in use/);
  });
});

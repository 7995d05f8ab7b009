/**
 * Routing through the broker: overlapping subscriptions, shared
 * subscriptions, No Local, Retain As Published, Subscription Identifiers,
 * '$' topics; and the Router's match cache.
 */
import { describe, expect, test } from 'vitest';
import type { QoS } from '../../codec/index.js';
import type { AppMessage } from './message.js';
import { Router } from './router.js';
import { Session } from './session.js';
import {
  VERSIONS, brief, connect, makeBroker, payloads, pub, st, sub, subscriber, types,
} from './test-client.js';

describe('overlapping subscriptions', () => {
  for (const v of VERSIONS) {
    test(`${st(v, 'MQTT-3.3.5-1', ['MQTT-3.3.4-2', 'MQTT-3.3.4-3', 'MQTT-3.3.4-4'])} one copy per client, at the highest granted QoS${v === 5 ? ', with every Subscription Identifier' : ''}`, () => {
      const { broker } = makeBroker();
      const s = connect(broker, v);
      const withId = (id: number) => (v === 5 ? { subId: id } : {});
      s.send(sub(1, 'a/+', 0, withId(1)), sub(2, 'a/#', 2, withId(2)), sub(3, 'a/b', 1, withId(3)), sub(4, 'a/c', 2, withId(4)), sub(5, '+/b', 1));
      expect(types(s.take())).toEqual(['suback', 'suback', 'suback', 'suback', 'suback']);
      connect(broker, v).send(pub('a/b', 'x', { qos: 2, id: 1 }));
      const got = s.takePublishes();
      expect(got.map(brief)).toEqual([{ topic: 'a/b', payload: 'x', qos: 2, retain: false, dup: false, packetId: 1 }]);
      if (v === 5) expect([...got[0]!.properties!.subscriptionIdentifiers!].sort()).toEqual([1, 2, 3]);
    });

    test(`${st(v, ['MQTT-3.3.2-3', 'MQTT-4.7.3-4'], ['MQTT-3.3.2-3', 'MQTT-4.7.3-4'])} the Topic Name reaches the subscriber unchanged`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, '+/+/#', 0);
      const topics = ['Sport/Tennis', 'a//b', ' x / y ', 'ü/ñ/€/😀'];
      const p = connect(broker, v);
      for (const t of topics) p.send(pub(t, ''));
      expect(s.takePublishes().map((x) => x.topic)).toEqual(topics);
    });

    test(`${st(v, 'MQTT-4.7.2-1', 'MQTT-4.7.2-1')} wildcard-first filters do not receive '$' topics; '$SYS/#' does`, () => {
      const { broker } = makeBroker();
      const all = subscriber(broker, v, '#', 0);
      const plus = subscriber(broker, v, '+/info', 0);
      const sys = subscriber(broker, v, '$SYS/#', 0);
      broker.publishLocal('$SYS/info', Buffer.from('s'));
      connect(broker, v).send(pub('x/info', 'n'));
      expect(payloads(all.takePublishes())).toEqual(['n']);
      expect(payloads(plus.takePublishes())).toEqual(['n']);
      expect(payloads(sys.takePublishes())).toEqual(['s']);
    });

    test(`${st(v, ['MQTT-3.10.4-2', 'MQTT-3.10.4-3'], ['MQTT-3.10.4-2', 'MQTT-3.10.4-3'])} after UNSUBSCRIBE nothing new arrives, but a delivery under way completes`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 2, { clientId: 'u' });
      const p = connect(broker, v);
      p.send(pub('t', 'before', { qos: 2, id: 1 }));
      const [d] = s.takePublishes();
      s.send({ type: 'unsubscribe', packetId: 2, topicFilters: ['t'] });
      expect(types(s.take())).toEqual(['unsuback']);
      p.send(pub('t', 'after', { qos: 2, id: 2 }));
      expect(s.take()).toEqual([]);
      s.send({ type: 'pubrec', packetId: d!.packetId! });
      expect(types(s.take())).toEqual(['pubrel']);
      s.send({ type: 'pubcomp', packetId: d!.packetId! });
      expect(broker.sessions.get('u')!.inflight.size).toBe(0);
    });
  }
});

describe('5.0 shared subscriptions', () => {
  test(`${st('5.0', ['MQTT-4.8.2-3'])} messages are spread round robin over the group; each group and each ordinary subscriber gets one copy`, () => {
    const { broker } = makeBroker();
    const members = ['a', 'b', 'c'].map((id) => subscriber(broker, 5, '$share/g/t/+', 1, { clientId: id }));
    const other = subscriber(broker, 5, '$share/h/t/#', 0);
    const plain = subscriber(broker, 5, 't/+', 0);
    const p = connect(broker, 5);
    for (let i = 0; i < 6; i++) p.send(pub('t/x', `${i}`, { qos: 1, id: i + 1 }));
    expect(members.map((m) => payloads(m.takePublishes()))).toEqual([['0', '3'], ['1', '4'], ['2', '5']]);
    expect(payloads(other.takePublishes())).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(payloads(plain.takePublishes())).toEqual(['0', '1', '2', '3', '4', '5']);
  });

  test(`${st('5.0', ['MQTT-4.8.2-3'])} each member receives at its own granted QoS`, () => {
    const { broker } = makeBroker();
    const a = subscriber(broker, 5, '$share/g/t', 0);
    const b = subscriber(broker, 5, '$share/g/t', 2);
    const p = connect(broker, 5);
    p.send(pub('t', '1', { qos: 2, id: 1 }), pub('t', '2', { qos: 2, id: 2 }));
    expect(a.takePublishes().map((x) => x.qos)).toEqual([0]);
    expect(b.takePublishes().map((x) => x.qos)).toEqual([2]);
  });

  // statements: none — 5.0 §4.8.2 leaves the choice of member to the server; this is the broker's policy
  test(`${st('5.0', [])} members with a live connection are preferred (§4.8.2); with none, messages queue in a member's session`, () => {
    const { broker } = makeBroker();
    const persistent = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const a = subscriber(broker, 5, '$share/g/t', 1, { clientId: 'a', ...persistent });
    const b = subscriber(broker, 5, '$share/g/t', 1, { clientId: 'b', ...persistent });
    const c = subscriber(broker, 5, '$share/g/t', 1, { clientId: 'c', ...persistent });
    b.drop();
    const p = connect(broker, 5);
    for (let i = 0; i < 4; i++) p.send(pub('t', `${i}`, { qos: 1, id: i + 1 }));
    expect([...payloads(a.takePublishes()), ...payloads(c.takePublishes())].sort()).toEqual(['0', '1', '2', '3']);
    expect(broker.sessions.get('b')!.queue.length).toBe(0);
    a.drop();
    c.drop();
    for (let i = 4; i < 7; i++) p.send(pub('t', `${i}`, { qos: 1, id: i + 1 }));
    const queued = ['a', 'b', 'c'].map((id) => broker.sessions.get(id)!.queue.length);
    expect(queued.reduce((x, y) => x + y, 0)).toBe(3); // each message kept once, by one member
  });

  test(`${st('5.0', ['MQTT-3.10.4-1'])} unsubscribing a member removes it from the group`, () => {
    const { broker } = makeBroker();
    const a = subscriber(broker, 5, '$share/g/t', 0);
    const b = subscriber(broker, 5, '$share/g/t', 0);
    b.send({ type: 'unsubscribe', packetId: 9, topicFilters: ['$share/g/t'] });
    expect(b.take()).toEqual([{ type: 'unsuback', packetId: 9, reasonCodes: [0] }]);
    const p = connect(broker, 5);
    for (let i = 0; i < 3; i++) p.send(pub('t', `${i}`));
    expect(payloads(a.takePublishes())).toEqual(['0', '1', '2']);
    expect(b.take()).toEqual([]);
  });

  // statements: none — 5.0 §3.2.2.3.13 / Table 3-8 (0x9E)
  test(`${st('5.0', [])} Shared Subscriptions disabled: SUBACK 0x9E`, () => {
    const { broker } = makeBroker({ sharedSubscriptions: false });
    const c = connect(broker, 5);
    c.send(sub(1, '$share/g/t', 1));
    expect(c.take()).toEqual([{ type: 'suback', packetId: 1, reasonCodes: [0x9e] }]);
  });

  test(`${st('5.0', ['MQTT-3.8.3-4'])} No Local on a Shared Subscription is a Protocol Error → DISCONNECT 0x82`, () => {
    const { broker } = makeBroker();
    const c = connect(broker, 5);
    // the codec refuses to encode it; build the packet by hand: options byte 0x04 | QoS 1
    const filter = Buffer.from('$share/g/t');
    const body = Buffer.concat([Buffer.from([0, 1, 0, 0, filter.length]), filter, Buffer.from([0x05])]);
    c.sendRaw(Buffer.concat([Buffer.from([0x82, body.length]), body]));
    expect(c.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x82 }]);
    expect(c.closed).toBe(true);
  });
});

describe('5.0 subscription options', () => {
  test(`${st('5.0', 'MQTT-3.8.3-3')} No Local: not sent back to the publishing client; others still get it`, () => {
    const { broker } = makeBroker();
    const self = connect(broker, 5, { clientId: 'self' });
    self.send(sub(1, 't', 1, { noLocal: true }));
    self.take();
    const other = subscriber(broker, 5, 't', 1);
    self.send(pub('t', 'mine', { qos: 1, id: 1 }));
    expect(types(self.take())).toEqual(['puback']);
    expect(payloads(other.takePublishes())).toEqual(['mine']);
    other.send(pub('t', 'theirs', { qos: 1, id: 1 }));
    expect(payloads(self.takePublishes())).toEqual(['theirs']);
  });

  test(`${st('5.0', ['MQTT-3.8.3-3', 'MQTT-3.3.4-2'])} No Local on one of two overlapping subscriptions: delivered per the other one`, () => {
    const { broker } = makeBroker();
    const self = connect(broker, 5);
    self.send(sub(1, 't', 2, { noLocal: true, subId: 1 }), sub(2, '#', 1, { subId: 2 }));
    self.take();
    self.send(pub('t', 'x', { qos: 2, id: 1 }));
    const got = self.takePublishes();
    expect(got.map((x) => [x.payload.toString(), x.qos])).toEqual([['x', 1]]);
    expect(got[0]!.properties?.subscriptionIdentifiers).toEqual([2]);
  });

  test(`${st('5.0', ['MQTT-3.3.1-12', 'MQTT-3.3.1-13'])} Retain As Published: 1 keeps RETAIN on forwarded messages, 0 clears it`, () => {
    const { broker } = makeBroker();
    const keep = connect(broker, 5);
    keep.send(sub(1, 't', 0, { retainAsPublished: true, retainHandling: 2 }));
    keep.take();
    const clear = subscriber(broker, 5, 't', 0);
    connect(broker, 5).send(pub('t', 'r', { retain: true }), pub('t', 'n'));
    expect(keep.takePublishes().map((x) => x.retain)).toEqual([true, false]);
    expect(clear.takePublishes().map((x) => x.retain)).toEqual([false, false]);
  });

  test(`${st('3.1.1', 'MQTT-3.3.1-9')} 3.1.1: forwarded messages always carry RETAIN 0`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 4, 't', 0);
    connect(broker, 4).send(pub('t', 'r', { retain: true }));
    expect(s.takePublishes().map((x) => x.retain)).toEqual([false]);
  });

  test(`${st('5.0', ['MQTT-3.3.4-3', 'MQTT-3.3.4-5'])} Subscription Identifiers: carried when set, absent when not, updated when the subscription is replaced`, () => {
    const { broker } = makeBroker();
    const s = connect(broker, 5);
    s.send(sub(1, 'a', 0, { subId: 42 }), sub(2, 'b', 0));
    s.take();
    const p = connect(broker, 5);
    p.send(pub('a', '1'), pub('b', '2'));
    const got = s.takePublishes();
    expect(got[0]!.properties?.subscriptionIdentifiers).toEqual([42]);
    expect(got[1]!.properties?.subscriptionIdentifiers).toBeUndefined();
    s.send(sub(3, 'a', 0, { subId: 268_435_455 }));
    s.take();
    p.send(pub('a', '3'));
    expect(s.takePublishes()[0]!.properties?.subscriptionIdentifiers).toEqual([268_435_455]);
    s.send(sub(4, 'a', 0));
    s.take();
    p.send(pub('a', '4'));
    expect(s.takePublishes()[0]!.properties?.subscriptionIdentifiers).toBeUndefined();
  });

  test(`${st('5.0', ['MQTT-4.8.2-3'])} a shared subscription carries its own Subscription Identifier`, () => {
    const { broker } = makeBroker();
    const s = connect(broker, 5);
    s.send(sub(1, '$share/g/t', 1, { subId: 7 }));
    s.take();
    connect(broker, 5).send(pub('t', 'x'));
    expect(s.takePublishes()[0]!.properties?.subscriptionIdentifiers).toEqual([7]);
  });

  test(`${st('5.0', ['MQTT-4.13.1-1'])} Subscription Identifiers not supported: a SUBSCRIBE carrying one → DISCONNECT 0xA1`, () => {
    const { broker } = makeBroker({ subscriptionIdentifiers: false });
    const s = connect(broker, 5);
    expect(s.connack.properties?.subscriptionIdentifierAvailable).toBe(0);
    s.send(sub(1, 't', 0, { subId: 1 }));
    expect(s.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0xa1 }]);
    expect(s.closed).toBe(true);
  });
});

describe('Router', () => {
  function msg(topic: string, qos: QoS = 1, origin?: string): AppMessage {
    return { topic, payload: Buffer.from('x'), qos, retain: false, properties: undefined, expiresAt: undefined, origin };
  }

  test(`${st('5.0', 'MQTT-3.8.4-3')} the match cache is invalidated when subscriptions change`, () => {
    const router = new Router();
    const a = new Session('a', 5);
    const b = new Session('b', 5);
    const route = (topic: string): string[] => {
      const out: string[] = [];
      router.route(msg(topic), () => true, (d) => out.push(`${d.session.clientId}@${d.qos}`));
      return out;
    };
    const add = (s: Session, filter: string, qos: QoS): void => {
      router.trie.add(filter, { owner: s, filter, shareName: undefined, qos, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined });
    };
    add(a, 't/#', 0);
    expect(route('t/1')).toEqual(['a@0']);
    expect(route('t/1')).toEqual(['a@0']);
    add(b, 't/1', 2);
    expect(route('t/1')).toEqual(['a@0', 'b@1']);
    add(a, 't/#', 1);
    expect(route('t/1')).toEqual(['a@1', 'b@1']);
    router.trie.remove('t/1', b);
    expect(route('t/1')).toEqual(['a@1']);
  });

  // statements: none — the broker's member selection policy (5.0 §4.8.2)
  test(`${st('5.0', [])} share groups: round robin skips members without a connection, and falls back to round robin over all`, () => {
    const router = new Router();
    const sessions = ['a', 'b', 'c'].map((id) => new Session(id, 5));
    for (const s of sessions) {
      router.trie.add('t', { owner: s, filter: '$share/g/t', shareName: 'g', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined });
    }
    const online = new Set(['a', 'c']);
    const pick = (): string => {
      let who = '';
      router.route(msg('t'), (s) => online.has(s.clientId), (d) => { who = d.session.clientId; });
      return who;
    };
    expect([pick(), pick(), pick(), pick()]).toEqual(['a', 'c', 'a', 'c']);
    online.clear();
    const offline = [pick(), pick(), pick()];
    expect([...offline].sort()).toEqual(['a', 'b', 'c']);
  });
});

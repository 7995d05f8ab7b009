/**
 * Retained messages: storing, replacing, clearing, delivery on subscribe
 * (RETAIN 1, QoS, Retain Handling), not for shared subscriptions, expiry,
 * '$' topics and wildcards; plus RetainedStore.match against topicMatches.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { topicFilterProblem, topicMatches, type QoS } from '../../codec/index.js';
import type { AppMessage } from './message.js';
import { RetainedStore } from './retained-store.js';
import { VERSIONS, brief, connect, makeBroker, payloads, pub, st, sub, subscriber } from './test-client.js';

describe('retained messages through the broker', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.3.1-5', 'MQTT-3.3.1-6', 'MQTT-3.3.1-8'], ['MQTT-3.3.1-5', 'MQTT-3.3.1-9'])} stored per topic and sent to a new subscription with RETAIN 1 at min(QoS, granted)`, () => {
      const { broker } = makeBroker();
      const p = connect(broker, v);
      p.send(pub('r/a', 'A', { qos: 2, id: 1, retain: true }), pub('r/b', 'B', { qos: 1, id: 2, retain: true }), pub('r/c', 'C', { qos: 0, retain: true }));
      expect(broker.retained.size).toBe(3);
      const s1 = subscriber(broker, v, 'r/a', 1);
      expect(s1.takePublishes().map(brief)).toEqual([{ topic: 'r/a', payload: 'A', qos: 1, retain: true, dup: false, packetId: 1 }]);
      const s2 = subscriber(broker, v, 'r/+', 2);
      expect(s2.takePublishes().map((x) => [x.topic, x.qos, x.retain]).sort()).toEqual([['r/a', 2, true], ['r/b', 1, true], ['r/c', 0, true]]);
    });

    test(`${st(v, ['MQTT-3.3.1-5', 'MQTT-3.3.1-7'], 'MQTT-3.3.1-5')} a new retained message replaces the topic's previous one`, () => {
      const { broker } = makeBroker();
      const p = connect(broker, v);
      p.send(pub('r', 'old', { qos: 1, id: 1, retain: true }), pub('r', 'new', { qos: 0, retain: true }));
      const s = subscriber(broker, v, 'r', 2);
      expect(s.takePublishes().map((x) => [x.payload.toString(), x.qos])).toEqual([['new', 0]]);
    });

    test(`${st(v, 'MQTT-3.3.1-12', 'MQTT-3.3.1-8')} a PUBLISH with RETAIN 0 neither stores nor replaces nor clears`, () => {
      const { broker } = makeBroker();
      const p = connect(broker, v);
      p.send(pub('r', 'kept', { retain: true }), pub('r', 'plain'), pub('r', ''), pub('other', 'plain'));
      expect(broker.retained.size).toBe(1);
      expect(payloads(subscriber(broker, v, '#', 0).takePublishes())).toEqual(['kept']);
    });

    test(`${st(v, ['MQTT-3.3.1-10', 'MQTT-3.3.1-11'], ['MQTT-3.3.1-6', 'MQTT-3.3.1-7'])} a zero-length retained PUBLISH clears the topic and is still delivered to current subscribers`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 'r', 1);
      const p = connect(broker, v);
      p.send(pub('r', 'x', { retain: true }));
      s.take();
      p.send(pub('r', '', { qos: 1, id: 1, retain: true }));
      expect(s.takePublishes().map((x) => [x.payload.length, x.retain])).toEqual([[0, false]]);
      expect(broker.retained.size).toBe(0);
      expect(subscriber(broker, v, 'r', 1).take()).toEqual([]);
      // clearing a topic with nothing retained stores nothing either
      p.send(pub('empty', '', { retain: true }));
      expect(broker.retained.size).toBe(0);
    });

    test(`${st(v, 'MQTT-3.3.1-9', 'MQTT-3.3.1-12')} delivered to an existing subscription with RETAIN 0`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 'r', 0);
      connect(broker, v).send(pub('r', 'live', { retain: true }));
      expect(s.takePublishes().map((x) => x.retain)).toEqual([false]);
    });

    test(`${st(v, 'MQTT-3.8.4-3', 'MQTT-3.8.4-4')} re-subscribing (Retain Handling 0) sends the retained messages again`, () => {
      const { broker } = makeBroker();
      connect(broker, v).send(pub('r', 'x', { retain: true }));
      const s = subscriber(broker, v, 'r', 0);
      expect(payloads(s.takePublishes())).toEqual(['x']);
      s.send(sub(2, 'r', 0));
      expect(s.take().map((x) => x.type)).toEqual(['suback', 'publish']);
    });

    test(`${st(v, 'MQTT-3.1.2-7', [])} retained messages outlive the publisher's session`, () => {
      const { broker } = makeBroker();
      const p = connect(broker, v, { clientId: 'gone' });
      p.send(pub('r', 'stays', { retain: true }));
      p.send({ type: 'disconnect' });
      expect(broker.sessions.size).toBe(0);
      expect(payloads(subscriber(broker, v, 'r', 0).takePublishes())).toEqual(['stays']);
    });

    test(`${st(v, 'MQTT-4.7.2-1', 'MQTT-4.7.2-1')} '$' topics: not for filters starting with a wildcard, but for '$SYS/#' and '$SYS/+'`, () => {
      const { broker } = makeBroker();
      broker.publishLocal('$SYS/uptime', Buffer.from('1'), 0, true);
      connect(broker, v).send(pub('app/x', '2', { retain: true }));
      expect(payloads(subscriber(broker, v, '#', 0).takePublishes())).toEqual(['2']);
      expect(payloads(subscriber(broker, v, '+/uptime', 0).takePublishes())).toEqual([]);
      expect(payloads(subscriber(broker, v, '+/+', 0).takePublishes())).toEqual(['2']);
      expect(payloads(subscriber(broker, v, '$SYS/#', 0).takePublishes())).toEqual(['1']);
      expect(payloads(subscriber(broker, v, '$SYS/+', 0).takePublishes())).toEqual(['1']);
    });

    test(`${st(v, ['MQTT-3.3.1-6', 'MQTT-3.3.2-3'], ['MQTT-3.3.1-9', 'MQTT-3.3.2-3'])} wildcards: 'a/#' includes 'a' itself, '+' matches empty levels`, () => {
      const { broker } = makeBroker();
      const p = connect(broker, v);
      for (const t of ['a', 'a/b', 'a/b/c', '/x', 'b']) p.send(pub(t, t, { retain: true }));
      expect(payloads(subscriber(broker, v, 'a/#', 0).takePublishes()).sort()).toEqual(['a', 'a/b', 'a/b/c']);
      expect(payloads(subscriber(broker, v, '+/x', 0).takePublishes())).toEqual(['/x']);
      expect(payloads(subscriber(broker, v, 'a/+/c', 0).takePublishes())).toEqual(['a/b/c']);
    });
  }

  test(`${st('5.0', ['MQTT-3.3.1-9', 'MQTT-3.3.1-10', 'MQTT-3.3.1-11'])} Retain Handling 0: always; 1: only for a new subscription; 2: never`, () => {
    const { broker } = makeBroker();
    connect(broker, 5).send(pub('r', 'x', { retain: true }));
    const c = connect(broker, 5);
    const kinds = (): string[] => c.take().map((x) => x.type);
    c.send(sub(1, 'r', 0, { retainHandling: 0 }));
    expect(kinds()).toEqual(['suback', 'publish']);
    c.send(sub(2, 'r', 0, { retainHandling: 0 }));
    expect(kinds()).toEqual(['suback', 'publish']);
    c.send(sub(3, 'r', 0, { retainHandling: 1 }));
    expect(kinds()).toEqual(['suback']); // exists already
    c.send(sub(4, 'r/#', 0, { retainHandling: 1 }));
    expect(kinds()).toEqual(['suback', 'publish']); // new
    c.send(sub(5, '+', 0, { retainHandling: 2 }));
    expect(kinds()).toEqual(['suback']);
  });

  // statements: none — 5.0 §3.3.1.3 sends retained messages when a new non-shared subscription is made
  test(`${st('5.0', [])} retained messages are not sent to shared subscriptions`, () => {
    const { broker } = makeBroker();
    connect(broker, 5).send(pub('r', 'x', { retain: true }));
    const c = connect(broker, 5);
    c.send(sub(1, '$share/g/r', 1));
    expect(c.take().map((x) => x.type)).toEqual(['suback']);
  });

  test(`${st('5.0', ['MQTT-3.3.2-5', 'MQTT-3.3.2-6'])} retained message expiry: the forwarded interval counts down; once expired it is not delivered and is dropped`, () => {
    const { broker, clock } = makeBroker();
    connect(broker, 5).send(pub('r', 'x', { retain: true, props: { messageExpiryInterval: 10 } }));
    clock.advance(4000);
    const early = subscriber(broker, 5, 'r', 0);
    expect(early.takePublishes().map((x) => x.properties?.messageExpiryInterval)).toEqual([6]);
    clock.advance(6000);
    expect(subscriber(broker, 5, 'r', 0).take()).toEqual([]);
    expect(broker.retained.size).toBe(0);
  });

  // statements: none — 5.0 §3.2.2.3.5 (Retain Available: DISCONNECT 0x9A)
  test(`${st('5.0', [])} PUBLISH with RETAIN 1 when retain is not available → DISCONNECT 0x9A`, () => {
    const { broker } = makeBroker({ retainAvailable: false });
    const p = connect(broker, 5);
    expect(p.connack.properties?.retainAvailable).toBe(0);
    p.send(pub('r', 'x', { retain: true }));
    expect(p.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x9a }]);
    expect(p.closed).toBe(true);
    expect(broker.retained.size).toBe(0);
  });
});

describe('memory', () => {
  /** True when `b` is a whole allocation of its own, not a slice of a larger one (a socket chunk, a slab of Node's buffer pool). */
  const ownsItsMemory = (b: Buffer): boolean => b.byteOffset === 0 && b.buffer.byteLength === b.length;

  for (const v of VERSIONS) {
    // statements: none — found by the fuzzer's memory check (harness/fuzz): each small retained message kept 8 KiB pool slabs alive.
    test(`${st(v, [], [])} a retained message and the encodings cached on it own their bytes: no slices of Node's shared buffer pool`, () => {
      const { broker } = makeBroker();
      connect(broker, v).send(pub('own/a', 'tiny', { qos: 1, id: 1, retain: true }));
      expect(payloads(subscriber(broker, v, 'own/#', 1).takePublishes())).toEqual(['tiny']);
      const [held] = broker.retained.match('own/a', broker.clock.now()) as Array<AppMessage & { wire?: Array<{ bytes: Buffer } | undefined> }>;
      expect(ownsItsMemory(held!.payload)).toBe(true);
      const forms = (held!.wire ?? []).filter((f) => f !== undefined);
      expect(forms.length).toBeGreaterThan(0);
      for (const f of forms) expect(ownsItsMemory(f.bytes)).toBe(true);
    });
  }
});

describe('RetainedStore', () => {
  function m(topic: string, payload = topic, expiresAt?: number): AppMessage {
    return { topic, payload: Buffer.from(payload), qos: 0 as QoS, retain: true, properties: undefined, expiresAt, origin: undefined };
  }

  test(`${st('5.0', ['MQTT-3.3.1-5', 'MQTT-3.3.1-6', 'MQTT-3.3.1-7'])} set / get / replace / clear / delete keep the count right and prune`, () => {
    const store = new RetainedStore();
    store.set(m('a/b'));
    store.set(m('a'));
    store.set(m('a/b', 'again'));
    expect(store.size).toBe(2);
    expect(store.get('a/b')?.payload.toString()).toBe('again');
    store.set(m('a/b', ''));
    expect(store.size).toBe(1);
    expect(store.get('a/b')).toBeUndefined();
    expect(store.delete('a/b')).toBe(false);
    expect(store.delete('a')).toBe(true);
    expect(store.size).toBe(0);
    expect(store.all()).toEqual([]);
    expect((store as unknown as { root: { children?: Map<string, unknown> } }).root.children?.size ?? 0).toBe(0);
  });

  test(`${st('5.0', 'MQTT-3.3.2-5')} match() drops expired messages from the store`, () => {
    const store = new RetainedStore();
    store.set(m('a/1', 'x', 100));
    store.set(m('a/2', 'y', 200));
    store.set(m('a/3', 'z'));
    expect(store.match('a/+', 150).map((x) => x.topic).sort()).toEqual(['a/2', 'a/3']);
    expect(store.size).toBe(2);
    expect(store.match('#', 200).map((x) => x.topic)).toEqual(['a/3']);
    expect(store.size).toBe(1);
  });

  test(`${st('5.0', ['MQTT-4.7.2-1', 'MQTT-3.3.1-9'])} ${st('3.1.1', ['MQTT-4.7.2-1', 'MQTT-3.3.1-6'])} match() returns exactly the stored topics that topicMatches() accepts`, () => {
    const level = fc.constantFrom('a', 'b', '', '$x', '$', 'c$');
    const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('/')).filter((t) => t.length > 0);
    const filter = fc
      .tuple(fc.array(fc.oneof(level, fc.constant('+')), { maxLength: 4 }), fc.boolean())
      .map(([ls, hash]) => (hash ? [...ls, '#'] : ls).join('/'))
      .filter((f) => f.length > 0 && topicFilterProblem(f, 4) === undefined);
    fc.assert(
      fc.property(fc.uniqueArray(topic, { maxLength: 20 }), fc.array(filter, { minLength: 1, maxLength: 10 }), (topics, filters) => {
        const store = new RetainedStore();
        for (const t of topics) store.set(m(t));
        expect(store.size).toBe(topics.length);
        for (const f of filters) {
          expect(store.match(f, 0).map((x) => x.topic).sort()).toEqual(topics.filter((t) => topicMatches(f, t)).sort());
        }
      }),
      { numRuns: 300 },
    );
  });
});

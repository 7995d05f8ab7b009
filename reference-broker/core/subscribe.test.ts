/**
 * SUBSCRIBE / SUBACK and UNSUBSCRIBE / UNSUBACK: identifiers, one code per
 * filter in order, granted QoS, replacement, exact-match removal, and the
 * broker's optional features (wildcards, authorization).
 */
import { describe, expect, test } from 'vitest';
import { VERSIONS, connect, makeBroker, payloads, pub, st, sub, subMany, subscriber, types } from './test-client.js';

describe('SUBSCRIBE', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.8.4-1', 'MQTT-3.8.4-2', 'MQTT-3.8.4-4', 'MQTT-3.8.4-5', 'MQTT-3.9.3-1', 'MQTT-2.3.1-7'], ['MQTT-3.8.4-1', 'MQTT-3.8.4-2', 'MQTT-3.8.4-5', 'MQTT-3.8.4-6', 'MQTT-3.8.4-7', 'MQTT-3.9.3-1', 'MQTT-2.2.1-6'])} one SUBACK with the packet id and one granted QoS per filter, in order`, () => {
      const { broker } = makeBroker();
      const c = connect(broker, v);
      c.send(subMany(4242, ['a', 2], ['b/+', 0], ['c/#', 1]));
      expect(c.take()).toEqual([{ type: 'suback', packetId: 4242, reasonCodes: [2, 0, 1] }]);
      connect(broker, v).send(pub('b/x', '1', { qos: 1, id: 1 }), pub('c', '2', { qos: 2, id: 2 }), pub('a', '3', { qos: 2, id: 3 }));
      expect(c.takePublishes().map((p) => [p.payload.toString(), p.qos])).toEqual([['1', 0], ['2', 1], ['3', 2]]);
    });

    test(`${st(v, [], 'MQTT-3.2.2-10')} requests above the broker's Maximum QoS are accepted and granted at that maximum`, () => {
      const { broker } = makeBroker({ maxQoS: 1 });
      const c = connect(broker, v);
      c.send(subMany(1, ['a', 2], ['b', 1], ['c', 0]));
      expect(c.take()).toEqual([{ type: 'suback', packetId: 1, reasonCodes: [1, 1, 0] }]);
    });

    test(`${st(v, 'MQTT-3.8.4-3', ['MQTT-3.8.4-3'])} subscribing again to an identical filter replaces the subscription (new QoS, still one copy)`, () => {
      const { broker } = makeBroker();
      const c = connect(broker, v, { clientId: 'rep' });
      c.send(sub(1, 'x/+', 0), sub(2, 'x/+', 2));
      expect(c.take()).toMatchObject([{ type: 'suback', reasonCodes: [0] }, { type: 'suback', reasonCodes: [2] }]);
      expect(broker.sessions.get('rep')!.subscriptions.size).toBe(1);
      expect(broker.router.trie.size).toBe(1);
      connect(broker, v).send(pub('x/1', 'once', { qos: 2, id: 1 }));
      expect(c.takePublishes().map((p) => [p.payload.toString(), p.qos])).toEqual([['once', 2]]);
    });

    test(`${st(v, ['MQTT-3.8.3-2'], [])} wildcard subscriptions disabled: SUBACK ${v === 5 ? '0xA2' : '0x80'} for wildcard filters only`, () => {
      const { broker } = makeBroker({ wildcardSubscriptions: false });
      const c = connect(broker, v);
      c.send(subMany(1, ['a/+', 1], ['a/b', 1], ['#', 0]));
      const bad = v === 5 ? 0xa2 : 0x80;
      expect(c.take()).toEqual([{ type: 'suback', packetId: 1, reasonCodes: [bad, 1, bad] }]);
    });
  }
});

describe('UNSUBSCRIBE', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.10.4-4', 'MQTT-3.10.4-5', 'MQTT-3.10.4-6'], ['MQTT-3.10.4-4', 'MQTT-3.10.4-5', 'MQTT-3.10.4-6', 'MQTT-3.11.3-1', 'MQTT-3.11.3-2'])} one UNSUBACK with the packet id, also when nothing was subscribed${v === 5 ? ' (0x00 / 0x11 per filter, in order)' : ''}`, () => {
      const { broker } = makeBroker();
      const c = subscriber(broker, v, 'a', 1);
      c.send({ type: 'unsubscribe', packetId: 77, topicFilters: ['nope', 'a', 'a'] });
      expect(c.take()).toEqual([v === 5 ? { type: 'unsuback', packetId: 77, reasonCodes: [0x11, 0x00, 0x11] } : { type: 'unsuback', packetId: 77 }]);
    });

    test(`${st(v, 'MQTT-3.10.4-1', 'MQTT-3.10.4-1')} only the exact filter is removed (no wildcard matching between filters)`, () => {
      const { broker } = makeBroker();
      const c = connect(broker, v);
      c.send(sub(1, 'a/b', 0), sub(2, 'a/+', 0));
      c.take();
      c.send({ type: 'unsubscribe', packetId: 3, topicFilters: ['a/#', 'A/b'] });
      c.take();
      const p = connect(broker, v);
      p.send(pub('a/b', '1'));
      expect(payloads(c.takePublishes())).toEqual(['1']);
      c.send({ type: 'unsubscribe', packetId: 4, topicFilters: ['a/+'] });
      c.take();
      p.send(pub('a/b', '2'), pub('a/c', '3'));
      expect(payloads(c.takePublishes())).toEqual(['2']);
      c.send({ type: 'unsubscribe', packetId: 5, topicFilters: ['a/b'] });
      expect(types(c.take())).toEqual(['unsuback']);
      p.send(pub('a/b', '4'));
      expect(c.take()).toEqual([]);
      expect(broker.router.trie.size).toBe(0);
    });
  }
});

/**
 * The authorization hooks: a denied PUBLISH is acknowledged (3.1.1: as if
 * accepted; 5.0: 0x87) but not delivered or retained; a denied SUBSCRIBE
 * filter gets a failure code while the others in the packet are granted.
 */
import { describe, expect, test } from 'vitest';
import type { QoS } from '../../codec/index.js';
import type { ClientInfo } from './options.js';
import { VERSIONS, connect, makeBroker, payloads, pub, st, subMany, subscriber, types } from './test-client.js';

const denyTopic = (client: ClientInfo, topic: string): boolean => !topic.startsWith('secret/') || client.username === 'admin';

describe('authorizePublish', () => {
  for (const v of VERSIONS) {
    test(`${st(v, 'MQTT-3.3.5-2', ['MQTT-3.4.2-1', 'MQTT-3.5.2-1'])} denied QoS 1/2 PUBLISH: ${v === 5 ? 'PUBACK / PUBREC 0x87' : 'positive PUBACK / PUBREC'}, not delivered, not retained`, () => {
      const calls: [string, string, QoS, boolean][] = [];
      const { broker } = makeBroker({ hooks: { authorizePublish: (c, t, q, r) => { calls.push([c.clientId, t, q, r]); return denyTopic(c, t); } } });
      const s = subscriber(broker, v, '#', 2);
      const p = connect(broker, v, { clientId: 'pubber' });
      p.send(pub('secret/a', 'x', { qos: 1, id: 1, retain: true }), pub('secret/b', 'y', { qos: 2, id: 2 }), pub('secret/c', 'z'));
      const acks = p.take();
      if (v === 5) {
        expect(acks).toEqual([{ type: 'puback', packetId: 1, reasonCode: 0x87 }, { type: 'pubrec', packetId: 2, reasonCode: 0x87 }]);
      } else {
        expect(acks).toEqual([{ type: 'puback', packetId: 1 }, { type: 'pubrec', packetId: 2 }]);
        p.send({ type: 'pubrel', packetId: 2 });
        expect(p.take()).toEqual([{ type: 'pubcomp', packetId: 2 }]);
      }
      expect(s.take()).toEqual([]);
      expect(broker.retained.size).toBe(0);
      expect(broker.stats.denied).toBe(3);
      expect(calls).toEqual([['pubber', 'secret/a', 1, true], ['pubber', 'secret/b', 2, false], ['pubber', 'secret/c', 0, false]]);
      expect(p.closed).toBe(false);
      // allowed topics still flow
      p.send(pub('open', 'ok', { qos: 1, id: 3 }));
      expect(payloads(s.takePublishes())).toEqual(['ok']);
    });
  }

  test(`${st('5.0', ['MQTT-4.3.3-9'])} after a denied QoS 2 PUBLISH (PUBREC 0x87) the same id is a new message`, () => {
    let allow = false;
    const { broker } = makeBroker({ hooks: { authorizePublish: () => allow } });
    const s = subscriber(broker, 5, 't', 2);
    const p = connect(broker, 5);
    p.send(pub('t', 'no', { qos: 2, id: 5 }));
    expect(p.take()).toEqual([{ type: 'pubrec', packetId: 5, reasonCode: 0x87 }]);
    allow = true;
    p.send(pub('t', 'yes', { qos: 2, id: 5 }));
    expect(p.take()).toEqual([{ type: 'pubrec', packetId: 5, reasonCode: 0 }]);
    expect(payloads(s.takePublishes())).toEqual(['yes']);
  });
});

describe('authorizeSubscribe', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.9.3-1', 'MQTT-3.9.3-2', 'MQTT-3.8.4-5'], ['MQTT-3.9.3-1', 'MQTT-3.9.3-2', 'MQTT-3.8.4-7'])} a denied filter gets ${v === 5 ? '0x87' : '0x80'}, the others are granted; nothing is delivered for it`, () => {
      const { broker } = makeBroker({ hooks: { authorizeSubscribe: (c, f) => denyTopic(c, f) } });
      const c = connect(broker, v);
      c.send(subMany(3, ['ok/1', 1], ['secret/x', 1], ['ok/2', 2]));
      expect(c.take()).toEqual([{ type: 'suback', packetId: 3, reasonCodes: [1, v === 5 ? 0x87 : 0x80, 2] }]);
      const p = connect(broker, v);
      p.send(pub('secret/x', 'hidden'), pub('ok/1', 'seen'));
      expect(payloads(c.takePublishes())).toEqual(['seen']);
      const admin = connect(broker, v, { username: 'admin' });
      admin.send(subMany(4, ['secret/x', 0]));
      expect(types(admin.take())).toEqual(['suback']);
    });
  }
});

describe('a hook that throws', () => {
  for (const v of VERSIONS) {
    test(`${st(v, 'MQTT-4.8.0-2', 'MQTT-4.13.2-1')} authorizePublish / authorizeSubscribe throwing: that connection is closed${v === 5 ? ' (DISCONNECT 0x83)' : ''}, nothing escapes onData, others unaffected`, () => {
      const errors: string[] = [];
      const logger = { debug() {}, info() {}, warn() {}, error: (msg: string) => { errors.push(msg); } };
      const boom = (): boolean => { throw new Error('acl backend down'); };
      const { broker } = makeBroker({ logger, hooks: { authorizePublish: (_c, t) => (t === 'boom' ? boom() : true), authorizeSubscribe: (_c, f) => (f === 'boom' ? boom() : true) } });
      const s = subscriber(broker, v, '#', 1);
      const expectClosed = (c: ReturnType<typeof connect>): void => {
        expect(c.take()).toEqual(v === 5 ? [{ type: 'disconnect', reasonCode: 0x83, properties: { reasonString: 'authorization failed internally' } }] : []);
        expect(c.closed).toBe(true);
      };
      const a = connect(broker, v, { will: { topic: 'boom', payload: Buffer.from('w'), qos: 0, retain: false } });
      expect(() => a.send(pub('boom', 'x', { qos: 1, id: 1 }))).not.toThrow();
      expectClosed(a); // no PUBACK: the client resends on its next connection
      const b = connect(broker, v);
      expect(() => b.send(subMany(2, ['fine', 1], ['boom', 1]))).not.toThrow();
      expectClosed(b);
      expect(s.take()).toEqual([]); // nor was a's Will on 'boom' published: its authorization failed too
      expect(errors).toEqual(['authorizePublish hook threw', 'authorizePublish hook threw', 'authorizeSubscribe hook threw']);
      connect(broker, v).send(pub('fine', 'ok'));
      expect(payloads(s.takePublishes())).toEqual(['ok']);
    });
  }
});

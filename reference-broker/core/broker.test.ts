import { describe, expect, test } from 'vitest';
import { encode, type Packet, type ProtocolVersion } from '../../codec/index.js';
import { Broker } from './broker.js';
import { FakeClock } from './clock.js';
import type { Connection } from './connection.js';
import { FakeLink } from './fake-link.js';

function client(b: Broker, v: ProtocolVersion) {
  const link = new FakeLink();
  const conn: Connection = b.accept(link);
  return {
    link, conn,
    send: (p: Packet) => conn.onData(encode(p, v)),
    take: () => link.take(v),
  };
}

describe('broker core smoke', () => {
  for (const v of [4, 5] as const) {
    test(`v${v}: connect, subscribe, publish QoS 1 round trip`, () => {
      const clock = new FakeClock();
      const b = new Broker({ clock });
      const a = client(b, v);
      a.send({ type: 'connect', protocolVersion: v, clean: true, keepAlive: 30, clientId: 'a' });
      expect(a.take()).toMatchObject([{ type: 'connack', reasonCode: 0, sessionPresent: false }]);
      a.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 't/#', qos: 1 }] });
      expect(a.take()).toMatchObject([{ type: 'suback', packetId: 1, reasonCodes: [1] }]);
      const c = client(b, v);
      c.send({ type: 'connect', protocolVersion: v, clean: true, keepAlive: 0, clientId: 'c' });
      c.take();
      c.send({ type: 'publish', topic: 't/x', payload: Buffer.from('hi'), qos: 1, retain: false, dup: false, packetId: 9 });
      expect(c.take()).toMatchObject([{ type: 'puback', packetId: 9 }]);
      const got = a.take();
      expect(got).toMatchObject([{ type: 'publish', topic: 't/x', qos: 1, packetId: 1 }]);
      expect((got[0] as { payload: Buffer }).payload.toString()).toBe('hi');
    });
  }
});

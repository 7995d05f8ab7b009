/**
 * QoS 0/1/2 in both directions: acknowledgements, exactly-once on the
 * inbound side, delivery QoS, Packet Identifiers and the in-flight window.
 */
import { describe, expect, test } from 'vitest';
import type { QoS } from '../../codec/index.js';
import { encode } from '../../codec/index.js';
import { FakeLink } from './fake-link.js';
import {
  VERSIONS, brief, connect, connectPacket, makeBroker, payloads, pub, st, sub, subscriber, types,
} from './test-client.js';

/** A link whose send buffer the test fills and drains. */
class SlowLink extends FakeLink {
  buffered = 0;
  override bufferedBytes(): number {
    return this.buffered;
  }
}

describe('inbound (client → broker)', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-4.3.1-1', 'MQTT-3.3.4-1'], ['MQTT-4.3.1-1', 'MQTT-3.3.4-1'])} QoS 0: delivered, not acknowledged`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 2);
      const p = connect(broker, v);
      p.send(pub('t', 'zero'));
      expect(p.take()).toEqual([]);
      expect(s.takePublishes().map(brief)).toEqual([{ topic: 't', payload: 'zero', qos: 0, retain: false, dup: false }]);
    });

    test(`${st(v, ['MQTT-3.3.4-1', 'MQTT-2.3.1-6', 'MQTT-4.3.2-2'], ['MQTT-3.3.4-1', 'MQTT-4.3.2-4', 'MQTT-2.2.1-5'])} QoS 1: PUBACK with the PUBLISH's Packet Identifier`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 1);
      const p = connect(broker, v);
      p.send(pub('t', 'one', { qos: 1, id: 4321 }));
      expect(p.take()).toEqual([v === 5 ? { type: 'puback', packetId: 4321, reasonCode: 0 } : { type: 'puback', packetId: 4321 }]);
      expect(payloads(s.takePublishes())).toEqual(['one']);
    });

    if (v === 5) {
      test(`${st(v, [], 'MQTT-3.4.2-1')} QoS 1/2 with no matching subscriber: PUBACK / PUBREC 0x10`, () => {
        const { broker } = makeBroker();
        const p = connect(broker, v);
        p.send(pub('nobody', 'x', { qos: 1, id: 1 }), pub('nobody', 'x', { qos: 2, id: 2 }));
        expect(p.take()).toEqual([{ type: 'puback', packetId: 1, reasonCode: 0x10 }, { type: 'pubrec', packetId: 2, reasonCode: 0x10 }]);
      });
    }

    test(`${st(v, 'MQTT-4.3.2-2', 'MQTT-4.3.2-5')} QoS 1: after PUBACK the same Packet Identifier is a new message`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 1);
      const p = connect(broker, v);
      p.send(pub('t', 'a', { qos: 1, id: 9 }), pub('t', 'b', { qos: 1, id: 9 }), pub('t', 'a', { qos: 1, id: 9, dup: true }));
      expect(types(p.take())).toEqual(['puback', 'puback', 'puback']);
      expect(payloads(s.takePublishes())).toEqual(['a', 'b', 'a']);
    });

    test(`${st(v, 'MQTT-4.3.3-2', ['MQTT-4.3.3-8', 'MQTT-4.3.3-11', 'MQTT-2.2.1-5'])} QoS 2: PUBLISH → PUBREC, PUBREL → PUBCOMP, delivered once`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 2);
      const p = connect(broker, v);
      p.send(pub('t', 'two', { qos: 2, id: 77 }));
      expect(p.take()).toMatchObject([{ type: 'pubrec', packetId: 77 }]);
      p.send({ type: 'pubrel', packetId: 77 });
      expect(p.take()).toMatchObject([{ type: 'pubcomp', packetId: 77 }]);
      expect(payloads(s.takePublishes())).toEqual(['two']);
      expect(broker.sessions.get(p.clientId)!.inboundQos2.size).toBe(0);
    });

    test(`${st(v, 'MQTT-4.3.3-2', ['MQTT-4.3.3-10', 'MQTT-4.3.3-12'])} QoS 2 exactly once: a resend before PUBREL is re-acknowledged, not delivered; after PUBCOMP the id is new`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 2);
      const p = connect(broker, v);
      p.send(pub('t', 'x', { qos: 2, id: 5 }));
      p.send(pub('t', 'x', { qos: 2, id: 5, dup: true }));
      p.send(pub('t', 'x', { qos: 2, id: 5, dup: false }));
      expect(p.take()).toMatchObject([{ type: 'pubrec', packetId: 5 }, { type: 'pubrec', packetId: 5 }, { type: 'pubrec', packetId: 5 }]);
      expect(payloads(s.takePublishes())).toEqual(['x']);
      p.send({ type: 'pubrel', packetId: 5 });
      expect(types(p.take())).toEqual(['pubcomp']);
      p.send(pub('t', 'y', { qos: 2, id: 5 }));
      expect(types(p.take())).toEqual(['pubrec']);
      expect(payloads(s.takePublishes())).toEqual(['y']);
    });

    test(`${st(v, ['MQTT-4.3.3-2'], ['MQTT-4.3.3-11'])} PUBREL for an unknown id still gets a PUBCOMP${v === 5 ? ' (0x92)' : ''}`, () => {
      const { broker } = makeBroker();
      const p = connect(broker, v);
      p.send({ type: 'pubrel', packetId: 123 });
      expect(p.take()).toEqual([v === 5 ? { type: 'pubcomp', packetId: 123, reasonCode: 0x92 } : { type: 'pubcomp', packetId: 123 }]);
      expect(p.closed).toBe(false);
    });

    test(`${st(v, 'MQTT-3.3.1-3', 'MQTT-3.3.1-3')} the DUP flag of a forwarded PUBLISH does not copy the incoming DUP`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 1);
      const p = connect(broker, v);
      p.send(pub('t', 'd', { qos: 1, id: 1, dup: true }));
      expect(s.takePublishes().map((x) => x.dup)).toEqual([false]);
    });
  }

  test(`${st('5.0', ['MQTT-3.3.4-7', 'MQTT-4.13.1-1'])} more unacknowledged QoS 2 PUBLISHes than Receive Maximum → DISCONNECT 0x93`, () => {
    const { broker } = makeBroker({ receiveMaximum: 2 });
    const p = connect(broker, 5);
    expect(p.connack.properties?.receiveMaximum).toBe(2);
    p.send(pub('t', '1', { qos: 2, id: 1 }), pub('t', '2', { qos: 2, id: 2 }));
    p.send(pub('t', '2', { qos: 2, id: 2, dup: true })); // a resend is not a new one
    expect(types(p.take())).toEqual(['pubrec', 'pubrec', 'pubrec']);
    p.send(pub('t', '3', { qos: 2, id: 3 }));
    expect(p.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x93 }]);
    expect(p.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-3.3.4-7'])} QoS 2 ids released by PUBREL make room again under Receive Maximum`, () => {
    const { broker } = makeBroker({ receiveMaximum: 1 });
    const p = connect(broker, 5);
    for (let id = 1; id <= 5; id++) {
      p.send(pub('t', 'x', { qos: 2, id }));
      p.send({ type: 'pubrel', packetId: id });
    }
    expect(types(p.take())).toEqual(Array(5).fill(['pubrec', 'pubcomp']).flat());
    expect(p.closed).toBe(false);
  });
});

describe('outbound (broker → client)', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-4.3.2-1', 'MQTT-2.3.1-4'], ['MQTT-4.3.2-1', 'MQTT-4.3.2-2', 'MQTT-4.3.2-3'])} QoS 1: PUBLISH with a fresh id and DUP 0, held until PUBACK`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 1, { clientId: 's1' });
      connect(broker, v).send(pub('t', 'a', { qos: 1, id: 1 }), pub('t', 'b', { qos: 1, id: 1 }));
      const got = s.takePublishes();
      expect(got.map(brief)).toEqual([
        { topic: 't', payload: 'a', qos: 1, retain: false, dup: false, packetId: 1 },
        { topic: 't', payload: 'b', qos: 1, retain: false, dup: false, packetId: 2 },
      ]);
      const session = broker.sessions.get('s1')!;
      expect([...session.inflight.keys()]).toEqual([1, 2]);
      s.send({ type: 'puback', packetId: 1 });
      expect([...session.inflight.keys()]).toEqual([2]);
      s.send({ type: 'puback', packetId: 2 });
      expect(session.inflight.size).toBe(0);
      expect(s.take()).toEqual([]);
    });

    test(`${st(v, 'MQTT-4.3.3-1', ['MQTT-4.3.3-1', 'MQTT-4.3.3-2', 'MQTT-4.3.3-3', 'MQTT-4.3.3-4', 'MQTT-4.3.3-5'])} QoS 2: PUBLISH, PUBREC → PUBREL, PUBCOMP ends it`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 2, { clientId: 's2' });
      connect(broker, v).send(pub('t', 'q2', { qos: 2, id: 1 }));
      const [p] = s.takePublishes();
      expect(brief(p!)).toEqual({ topic: 't', payload: 'q2', qos: 2, retain: false, dup: false, packetId: 1 });
      const session = broker.sessions.get('s2')!;
      s.send({ type: 'pubrec', packetId: 1 });
      expect(s.take()).toEqual([v === 5 ? { type: 'pubrel', packetId: 1, reasonCode: 0 } : { type: 'pubrel', packetId: 1 }]);
      expect(session.inflight.get(1)?.phase).toBe('pubrel');
      s.send({ type: 'pubrec', packetId: 1 }); // a repeated PUBREC gets the PUBREL again, never the PUBLISH
      expect(types(s.take())).toEqual(['pubrel']);
      s.send({ type: 'pubcomp', packetId: 1 });
      expect(session.inflight.size).toBe(0);
      expect(s.take()).toEqual([]);
    });

    test(`${st(v, ['MQTT-3.8.4-6'], ['MQTT-3.8.4-8'])} delivered at min(published QoS, granted QoS)`, () => {
      const levels: QoS[] = [0, 1, 2];
      for (const granted of levels) {
        const { broker } = makeBroker();
        const s = subscriber(broker, v, 't', granted);
        const p = connect(broker, v);
        levels.forEach((q, i) => p.send(pub('t', `q${q}`, { qos: q, id: i + 1 })));
        expect(s.takePublishes().map((x) => [x.payload.toString(), x.qos])).toEqual(levels.map((q) => [`q${q}`, Math.min(q, granted)]));
      }
    });

    test(`${st(v, 'MQTT-2.3.1-5', ['MQTT-2.2.1-2', 'MQTT-3.3.1-2'])} a QoS 0 delivery has no Packet Identifier and DUP 0`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 0);
      connect(broker, v).send(pub('t', 'x', { qos: 2, id: 3 }));
      const [p] = s.takePublishes();
      expect(p).toMatchObject({ qos: 0, dup: false });
      expect(p!.packetId).toBeUndefined();
    });

    test(`${st(v, 'MQTT-2.3.1-4', 'MQTT-2.2.1-4')} Packet Identifiers are non-zero and unique among in-flight deliveries`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, '#', 2, { clientId: 'ids' });
      const p = connect(broker, v);
      for (let i = 1; i <= 20; i++) p.send(pub(`t/${i}`, `${i}`, { qos: ((i % 2) + 1) as QoS, id: i }));
      const ids = s.takePublishes().map((x) => x.packetId!);
      expect(ids).toHaveLength(20);
      expect(ids.every((id) => id > 0 && id <= 65535)).toBe(true);
      expect(new Set(ids).size).toBe(20);
    });

    test(`${st(v, 'MQTT-2.3.1-4', 'MQTT-2.2.1-4')} Packet Identifiers wrap after 65535 and skip ones still in flight`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 1);
      const p = connect(broker, v);
      p.send(pub('t', 'held', { qos: 1, id: 1 })); // stays unacknowledged with id 1
      expect(s.takePublishes().map((x) => x.packetId)).toEqual([1]);
      const seen: number[] = [];
      // 65535 more QoS 1 deliveries, each acknowledged at once
      for (let i = 0; i < 65535; i++) {
        broker.publishLocal('t', Buffer.from('y'), 1);
        const [d] = s.link.take(v);
        const id = d?.type === 'publish' ? d.packetId! : -1;
        seen.push(id);
        s.send({ type: 'puback', packetId: id });
      }
      expect(seen[0]).toBe(2);
      expect(seen[65533]).toBe(65535);
      expect(seen[65534]).toBe(2); // 1 is still in flight, 0 is never used
      expect(seen.includes(0)).toBe(false);
    });

    // statements: none — robustness
    test(`${st(v, [], [])} a PUBACK or PUBCOMP for an unknown id is ignored`, () => {
      const { broker } = makeBroker();
      const s = subscriber(broker, v, 't', 1);
      s.send({ type: 'puback', packetId: 999 }, { type: 'pubcomp', packetId: 998 });
      expect(s.take()).toEqual([]);
      expect(s.closed).toBe(false);
    });

    test(`${st(v, 'MQTT-4.6.0-6', ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'])} one publisher's messages on a topic reach the subscriber in order, across QoS levels and the window`, () => {
      const { broker } = makeBroker({ maxInflight: 3 });
      const s = connect(broker, v, v === 5 ? { properties: { receiveMaximum: 3 } } : {});
      s.send(sub(1, 't', 2));
      s.take();
      const p = connect(broker, v);
      for (let i = 1; i <= 30; i++) p.send(pub('t', `${i}`, { qos: (i % 3) as QoS, id: i }));
      const got: string[] = [];
      for (let round = 0; round < 40; round++) {
        for (const x of s.take()) {
          if (x.type === 'publish') {
            got.push(x.payload.toString());
            if (x.qos === 1) s.send({ type: 'puback', packetId: x.packetId! });
            if (x.qos === 2) s.send({ type: 'pubrec', packetId: x.packetId! });
          } else if (x.type === 'pubrel') {
            s.send({ type: 'pubcomp', packetId: x.packetId });
          }
        }
      }
      // QoS 0 is not held behind the window, so compare per QoS level
      for (const q of [0, 1, 2]) {
        const expected = Array.from({ length: 30 }, (_, i) => i + 1).filter((i) => i % 3 === q).map(String);
        expect(got.filter((x) => Number(x) % 3 === q)).toEqual(expected);
      }
      expect(got).toHaveLength(30);
    });
  }

  test(`${st('5.0', ['MQTT-4.4.0-2'])} a PUBREC ≥ 0x80 ends the QoS 2 delivery: no PUBREL, nothing resent`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 5, 't', 2, { clientId: 'rej', clean: false, properties: { sessionExpiryInterval: 60 } });
    connect(broker, 5).send(pub('t', 'no', { qos: 2, id: 1 }));
    const [p] = s.takePublishes();
    s.send({ type: 'pubrec', packetId: p!.packetId!, reasonCode: 0x80 });
    expect(s.take()).toEqual([]);
    expect(broker.sessions.get('rej')!.inflight.size).toBe(0);
    s.drop();
    expect(connect(broker, 5, { clientId: 'rej', clean: false, properties: { sessionExpiryInterval: 60 } }).take()).toEqual([]);
  });

  test(`${st('5.0', ['MQTT-3.3.4-9', 'MQTT-4.9.0-1', 'MQTT-4.9.0-2'])} never more unacknowledged QoS 1/2 PUBLISHes than the client's Receive Maximum; the rest flow as acks return, in order`, () => {
    const { broker } = makeBroker();
    const s = connect(broker, 5, { properties: { receiveMaximum: 2 } });
    s.send(sub(1, 't', 2));
    s.take();
    const p = connect(broker, 5);
    for (let i = 1; i <= 6; i++) p.send(pub('t', `m${i}`, { qos: i % 2 === 0 ? 2 : 1, id: i }));
    let got = s.takePublishes();
    expect(payloads(got)).toEqual(['m1', 'm2']);
    s.send({ type: 'puback', packetId: got[0]!.packetId! });
    got = s.takePublishes();
    expect(payloads(got)).toEqual(['m3']);
    // a QoS 2 delivery holds its slot until PUBCOMP, not PUBREC
    s.send({ type: 'pubrec', packetId: 2 });
    expect(types(s.take())).toEqual(['pubrel']);
    s.send({ type: 'pubcomp', packetId: 2 });
    expect(payloads(s.takePublishes())).toEqual(['m4']);
    s.send({ type: 'puback', packetId: got[0]!.packetId! });
    expect(payloads(s.takePublishes())).toEqual(['m5']);
  });

  test(`${st('5.0', ['MQTT-3.3.4-10', 'MQTT-4.9.0-3'])} with the window full, other packets are still answered and QoS 0 still flows`, () => {
    const { broker } = makeBroker();
    const s = connect(broker, 5, { properties: { receiveMaximum: 1 } });
    s.send(sub(1, 't', 1));
    s.take();
    const p = connect(broker, 5);
    p.send(pub('t', 'a', { qos: 1, id: 1 }), pub('t', 'b', { qos: 1, id: 2 }));
    expect(payloads(s.takePublishes())).toEqual(['a']);
    s.send({ type: 'pingreq' }, sub(2, 'u', 0), { type: 'unsubscribe', packetId: 3, topicFilters: ['u'] });
    expect(types(s.take())).toEqual(['pingresp', 'suback', 'unsuback']);
    p.send(pub('t', 'zero', { qos: 0 }));
    expect(s.takePublishes().map((x) => [x.payload.toString(), x.qos])).toEqual([['zero', 0]]);
  });

  // statements: none — broker option maxInflight (3.1.1 has no Receive Maximum)
  test(`${st('3.1.1', [])} 3.1.1: the broker's maxInflight bounds unacknowledged deliveries`, () => {
    const { broker } = makeBroker({ maxInflight: 2 });
    const s = subscriber(broker, 4, 't', 1);
    const p = connect(broker, 4);
    for (let i = 1; i <= 4; i++) p.send(pub('t', `m${i}`, { qos: 1, id: i }));
    const got = s.takePublishes();
    expect(payloads(got)).toEqual(['m1', 'm2']);
    s.send({ type: 'puback', packetId: got[1]!.packetId! });
    expect(payloads(s.takePublishes())).toEqual(['m3']);
  });
});

describe('back-pressure (link send buffer)', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-4.6.0-6'], ['MQTT-4.6.0-5'])} above maxWriteBuffer QoS 0 is dropped and QoS 1/2 wait; onDrain sends them in order`, () => {
      const { broker } = makeBroker({ maxWriteBuffer: 1000 });
      const link = new SlowLink();
      const conn = broker.accept(link);
      conn.onData(encode(connectPacket(v, { clientId: 'slow' }), v));
      conn.onData(encode(sub(1, 't', 2), v));
      expect(types(link.take(v))).toEqual(['connack', 'suback']);
      link.buffered = 5000;
      const p = connect(broker, v);
      p.send(pub('t', 'q1', { qos: 1, id: 1 }), pub('t', 'q0', { qos: 0 }), pub('t', 'q2', { qos: 2, id: 2 }));
      expect(link.take(v)).toEqual([]);
      expect(broker.stats.dropped).toBe(1);
      link.buffered = 0;
      conn.onDrain();
      expect(link.take(v).map((x) => (x.type === 'publish' ? x.payload.toString() : x.type))).toEqual(['q1', 'q2']);
    });
  }
});

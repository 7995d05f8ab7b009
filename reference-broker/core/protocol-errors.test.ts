/**
 * Protocol violations: each closes only the offending connection (5.0:
 * DISCONNECT with the reason code first), publishes its Will, and leaves the
 * broker and every other client working. Also framing: packets split or
 * batched arbitrarily, and fuzzed input that must never throw out of onData.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encode, type Packet, type ProtocolVersion } from '../../codec/index.js';
import { arbitraryPacketSequence } from '../../codec/arbitraries.js';
import type { Broker } from './broker.js';
import {
  VERSIONS, connect, makeBroker, payloads, pub, st, sub, subscriber, types, vname,
} from './test-client.js';

const noCheck = { validate: false } as const;

/** A fixed header with `body` after it (body shorter than 128 bytes). */
function raw(byte1: number, body: readonly number[]): Buffer {
  return Buffer.from([byte1, body.length, ...body]);
}

const str = (s: string): number[] => [0, Buffer.byteLength(s), ...Buffer.from(s)];

interface Violation {
  what: string;
  v4?: string[] | undefined;
  v5?: string[] | undefined;
  /** 5.0 DISCONNECT reason code expected (undefined: only for 3.1.1). */
  reason?: number;
  only?: ProtocolVersion;
  bytes(v: ProtocolVersion): Buffer;
}

const VIOLATIONS: Violation[] = [
  { what: 'PUBLISH with QoS 3', v4: ['MQTT-3.3.1-4'], v5: ['MQTT-3.3.1-4'], reason: 0x81, bytes: (v) => raw(0x36, [...str('t'), 0, 1, ...(v === 5 ? [0] : [])]) },
  { what: 'PUBLISH QoS 0 with DUP 1', v4: ['MQTT-3.3.1-2'], v5: ['MQTT-3.3.1-2'], reason: 0x81, bytes: (v) => raw(0x38, [...str('t'), ...(v === 5 ? [0] : [])]) },
  { what: 'PUBLISH with a wildcard in the Topic Name', v4: ['MQTT-3.3.2-2', 'MQTT-4.7.1-1'], v5: ['MQTT-3.3.2-2', 'MQTT-4.7.0-1'], reason: 0x90, bytes: (v) => encode(pub('a/+', 'x'), v, noCheck) },
  { what: 'PUBLISH with ill-formed UTF-8 in the topic', v4: ['MQTT-1.5.3-1'], v5: ['MQTT-1.5.4-1'], reason: 0x81, bytes: (v) => raw(0x30, [0, 2, 0xc3, 0x28, ...(v === 5 ? [0] : [])]) },
  { what: 'PUBLISH with U+0000 in the topic', v4: ['MQTT-1.5.3-2'], v5: ['MQTT-1.5.4-2'], reason: 0x81, bytes: (v) => raw(0x30, [0, 2, 0x61, 0x00, ...(v === 5 ? [0] : [])]) },
  { what: 'PUBLISH QoS 1 with Packet Identifier 0', v4: ['MQTT-2.3.1-1'], v5: ['MQTT-2.2.1-3'], reason: 0x82, bytes: (v) => raw(0x32, [...str('t'), 0, 0, ...(v === 5 ? [0] : [])]) },
  { what: '3.1.1 PUBLISH with an empty topic', v4: ['MQTT-4.7.3-1'], only: 4, bytes: () => raw(0x30, [0, 0]) },
  { what: 'PUBREL with flags 0000', v4: ['MQTT-3.6.1-1'], v5: ['MQTT-3.6.1-1'], reason: 0x81, bytes: () => raw(0x60, [0, 1]) },
  { what: 'SUBSCRIBE with flags 0000', v4: ['MQTT-3.8.1-1'], v5: ['MQTT-3.8.1-1'], reason: 0x81, bytes: (v) => raw(0x80, [0, 1, ...(v === 5 ? [0] : []), ...str('t'), 0]) },
  { what: 'UNSUBSCRIBE with flags 0000', v4: ['MQTT-3.10.1-1'], v5: ['MQTT-3.10.1-1'], reason: 0x81, bytes: (v) => raw(0xa0, [0, 1, ...(v === 5 ? [0] : []), ...str('t')]) },
  { what: 'SUBSCRIBE without a Topic Filter', v4: ['MQTT-3.8.3-3'], v5: ['MQTT-4.13.1-1'], reason: 0x82, bytes: (v) => raw(0x82, [0, 1, ...(v === 5 ? [0] : [])]) },
  { what: 'UNSUBSCRIBE without a Topic Filter', v4: ['MQTT-3.10.3-2'], v5: ['MQTT-4.13.1-1'], reason: 0x82, bytes: (v) => raw(0xa2, [0, 1, ...(v === 5 ? [0] : [])]) },
  { what: 'SUBSCRIBE with reserved option bits set', v4: ['MQTT-3.8.3-4'], v5: ['MQTT-3.8.3-5'], reason: 0x81, bytes: (v) => raw(0x82, [0, 1, ...(v === 5 ? [0] : []), ...str('t'), 0xc0]) },
  { what: 'SUBSCRIBE with requested QoS 3', v4: ['MQTT-3.8.3-4'], v5: ['MQTT-4.13.1-1'], reason: 0x82, bytes: (v) => raw(0x82, [0, 1, ...(v === 5 ? [0] : []), ...str('t'), 3]) },
  { what: 'SUBSCRIBE with a misplaced #', v4: ['MQTT-4.7.1-2'], v5: ['MQTT-4.7.1-1'], reason: 0x8f, bytes: (v) => raw(0x82, [0, 1, ...(v === 5 ? [0] : []), ...str('a/#/b'), 0]) },
  { what: 'SUBSCRIBE with Packet Identifier 0', v4: ['MQTT-2.3.1-1'], v5: ['MQTT-2.2.1-3'], reason: 0x82, bytes: (v) => raw(0x82, [0, 0, ...(v === 5 ? [0] : []), ...str('t'), 0]) },
  { what: 'DISCONNECT with reserved flags set', v4: ['MQTT-3.14.1-1'], v5: ['MQTT-3.14.1-1'], reason: 0x81, bytes: () => raw(0xe1, []) },
  { what: 'PINGREQ with a body', v4: ['MQTT-4.8.0-1'], v5: ['MQTT-4.13.1-1'], reason: 0x81, bytes: () => raw(0xc0, [0]) },
  { what: 'reserved packet type 0', v4: ['MQTT-4.8.0-1'], v5: ['MQTT-4.13.1-1'], reason: 0x81, bytes: () => raw(0x00, []) },
  { what: 'a server-only packet (CONNACK) from the client', v4: ['MQTT-4.8.0-1'], v5: ['MQTT-4.13.1-1'], reason: 0x82, bytes: (v) => encode({ type: 'connack', sessionPresent: false, reasonCode: 0 }, v) },
  { what: 'Remaining Length in five bytes', v4: ['MQTT-4.8.0-1'], v5: ['MQTT-4.13.1-1'], reason: 0x81, bytes: () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]) },
  { what: 'Remaining Length not in its shortest form', v4: ['MQTT-4.8.0-1'], v5: ['MQTT-1.5.5-1'], reason: 0x81, bytes: () => Buffer.from([0xc0, 0x80, 0x00]) },
  { what: 'packet bytes left over inside the Remaining Length', v4: ['MQTT-4.8.0-1'], v5: ['MQTT-4.13.1-1'], reason: 0x81, bytes: (v) => raw(0x40, [0, 1, ...(v === 5 ? [0, 0, 0] : [0])]) },
  { what: '3.1.1 AUTH (type 15 is reserved)', v4: ['MQTT-4.8.0-1'], only: 4, bytes: () => raw(0xf0, []) },
  { what: 'AUTH without an authentication exchange', v5: ['MQTT-4.13.1-1'], reason: 0x82, only: 5, bytes: () => encode({ type: 'auth', reasonCode: 0x18 }, 5) },
  { what: 'PUBLISH carrying a Subscription Identifier', v5: ['MQTT-3.3.4-6'], reason: 0x82, only: 5, bytes: () => encode(pub('t', 'x', { props: { subscriptionIdentifiers: [1] } }), 5, noCheck) },
  { what: 'PUBLISH with Topic Alias 0', v5: ['MQTT-3.3.2-8'], reason: 0x94, only: 5, bytes: () => raw(0x30, [...str('t'), 3, 0x23, 0, 0]) },
  { what: 'DISCONNECT with a server-only reason code', v5: ['MQTT-3.14.2-1'], reason: 0x82, only: 5, bytes: () => raw(0xe0, [0x8e]) },
  { what: 'PUBLISH with a duplicated property', v5: ['MQTT-4.13.1-1'], reason: 0x82, only: 5, bytes: () => raw(0x30, [...str('t'), 4, 0x01, 0, 0x01, 0]) },
  { what: 'PUBLISH with an unknown property', v5: ['MQTT-4.13.1-1'], reason: 0x81, only: 5, bytes: () => raw(0x30, [...str('t'), 2, 0x7f, 0]) },
  // Found by the fuzzer (harness/fuzz): the codec answers these with 0x84, which a DISCONNECT cannot carry.
  { what: 'a second CONNECT with protocol name MQTX', v4: ['MQTT-3.1.0-2'], v5: ['MQTT-3.1.0-2'], reason: 0x82, bytes: (v) => secondConnect(v, (b) => { b[7] = 0x58; }) },
  { what: 'a second CONNECT with protocol level 6', v4: ['MQTT-3.1.0-2'], v5: ['MQTT-3.1.0-2'], reason: 0x82, bytes: (v) => secondConnect(v, (b) => { b[8] = 6; }) },
];

/** A valid CONNECT of version `v`, then changed in place (name at bytes 4–7, level at byte 8). */
function secondConnect(v: ProtocolVersion, change: (b: Buffer) => void): Buffer {
  const b = encode({ type: 'connect', protocolVersion: v, clean: true, keepAlive: 0, clientId: 'again' }, v);
  change(b);
  return b;
}

/** A victim (with a Will), a bystander subscriber and a bystander publisher. */
function scene(v: ProtocolVersion) {
  const { broker, clock } = makeBroker();
  const watcher = subscriber(broker, v, '#', 1, { clientId: 'watcher' });
  const victim = connect(broker, v, { clientId: 'victim', will: { topic: 'will', payload: Buffer.from('victim died'), qos: 1, retain: false } });
  const bystander = connect(broker, v, { clientId: 'bystander' });
  return { broker, clock, watcher, victim, bystander };
}

function stillWorks(broker: Broker, v: ProtocolVersion, watcher: ReturnType<typeof scene>['watcher'], bystander: ReturnType<typeof scene>['bystander']): void {
  bystander.send(pub('alive', 'yes', { qos: 1, id: 99 }));
  expect(types(bystander.take())).toEqual(['puback']);
  const got = watcher.takePublishes().filter((p) => p.topic === 'alive');
  expect(payloads(got)).toEqual(['yes']);
  watcher.send({ type: 'puback', packetId: got[0]!.packetId! });
  // and a brand-new client can still connect
  expect(connect(broker, v).connack.reasonCode).toBe(0);
  expect(watcher.closed || bystander.closed).toBe(false);
}

describe('a violation closes only that connection', () => {
  for (const v of VERSIONS) {
    for (const bad of VIOLATIONS.filter((x) => x.only === undefined || x.only === v)) {
      test(`${st(v, bad.v4 ?? [], bad.v5 ?? [])} ${bad.what}: closed${v === 5 ? ` after DISCONNECT 0x${bad.reason!.toString(16)}` : ''}, Will published, others unaffected`, () => {
        const { broker, watcher, victim, bystander } = scene(v);
        victim.sendRaw(bad.bytes(v));
        expect(victim.closed).toBe(true);
        const got = victim.take();
        if (v === 5) {
          expect(got).toMatchObject([{ type: 'disconnect', reasonCode: bad.reason }]);
          const d = got[0];
          expect(d?.type === 'disconnect' && d.properties?.sessionExpiryInterval).toBeFalsy(); // [MQTT-3.14.2-2]
        } else {
          expect(got).toEqual([]);
        }
        // after the close, further bytes are ignored
        victim.send({ type: 'pingreq' });
        expect(victim.take()).toEqual([]);
        expect(broker.sessions.has('victim')).toBe(false);
        expect(broker.connections.has(victim.conn)).toBe(false);
        const wills = watcher.takePublishes();
        expect(wills.map((p) => [p.topic, p.payload.toString()])).toEqual([['will', 'victim died']]);
        watcher.send({ type: 'puback', packetId: wills[0]!.packetId! });
        stillWorks(broker, v, watcher, bystander);
      });
    }
  }
});

describe('framing', () => {
  for (const v of VERSIONS) {
    test(`${st(v, 'MQTT-4.8.0-1', 'MQTT-4.13.1-1')} packets before a bad one in the same chunk are processed; the rest is not`, () => {
      const { watcher, victim } = scene(v);
      victim.sendRaw(Buffer.concat([encode(pub('t', 'before'), v), raw(0x36, [...str('t'), 0, 1, 0]), encode(pub('t', 'after'), v)]));
      expect(victim.closed).toBe(true);
      expect(watcher.takePublishes().map((p) => p.payload.toString())).toEqual(['before', 'victim died']);
    });

    // statements: none — MQTT is a byte stream (3.1.1 §4.2, 5.0 §4.2)
    test(`${st(v, [], [])} byte-by-byte and batched input give the same result`, () => {
      const packets: Packet[] = [sub(1, 'x/#', 2), pub('x/1', 'a', { qos: 1, id: 1 }), pub('x/2', 'b', { qos: 2, id: 2 }), { type: 'pubrel', packetId: 2 }, { type: 'pingreq' }];
      const all = Buffer.concat(packets.map((p) => encode(p, v)));
      const runs = [[all], [...all].map((b) => Buffer.from([b]))];
      const results = runs.map((chunks) => {
        const { broker } = makeBroker();
        const c = connect(broker, v, { clientId: 'same' });
        for (const ch of chunks) c.sendRaw(ch);
        return c.take().map((p) => ({ ...p, payload: 'payload' in p ? p.payload.toString() : undefined }));
      });
      expect(results[1]).toEqual(results[0]);
      expect(types(results[0] as Packet[])).toEqual(['suback', 'publish', 'puback', 'publish', 'pubrec', 'pubcomp', 'pingresp']);
    });

    test(`${st(v, 'MQTT-4.8.0-1', 'MQTT-4.13.1-1')} a client that goes silent mid-packet is not answered until the packet completes`, () => {
      const { broker } = makeBroker();
      const c = connect(broker, v);
      const bytes = encode(pub('t', 'x'.repeat(200), { qos: 1, id: 3 }), v);
      c.sendRaw(bytes.subarray(0, 100));
      expect(c.take()).toEqual([]);
      c.sendRaw(bytes.subarray(100));
      expect(c.take()).toMatchObject([{ type: 'puback', packetId: 3 }]);
    });
  }
});

describe('fuzzing', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-4.8.0-1'], ['MQTT-4.13.1-1'])} ${vname(v)}: random bytes after CONNECT never throw out of onData and never disturb others`, () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 6 }), (chunks) => {
          const { broker, clock, watcher, victim, bystander } = scene(v);
          for (const ch of chunks) victim.sendRaw(Buffer.from(ch));
          clock.advance(1000);
          victim.take();
          watcher.takePublishes().forEach((p) => { if (p.packetId) watcher.send({ type: 'puback', packetId: p.packetId }); });
          stillWorks(broker, v, watcher, bystander);
        }),
        { numRuns: 150 },
      );
    });

    test(`${st(v, ['MQTT-4.8.0-1'], ['MQTT-4.13.1-1'])} ${vname(v)}: random valid client packets after CONNECT never throw out of onData and never disturb others`, () => {
      fc.assert(
        fc.property(arbitraryPacketSequence(v, 'server', { minPackets: 1, maxPackets: 8 }), fc.nat({ max: 100_000 }), (packets, wait) => {
          const { broker, clock, watcher, victim, bystander } = scene(v);
          for (const p of packets) victim.sendRaw(encode(p, v));
          clock.advance(wait);
          victim.take();
          // acknowledge whatever reached the watcher so its window stays open
          for (const p of watcher.take()) {
            if (p.type === 'publish' && p.qos === 1) watcher.send({ type: 'puback', packetId: p.packetId! });
            if (p.type === 'publish' && p.qos === 2) watcher.send({ type: 'pubrec', packetId: p.packetId! });
            if (p.type === 'pubrel') watcher.send({ type: 'pubcomp', packetId: p.packetId });
          }
          watcher.take();
          stillWorks(broker, v, watcher, bystander);
        }),
        { numRuns: 200 },
      );
    });
  }
});

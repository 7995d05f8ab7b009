/**
 * The mutation model (mutations.ts, packet-mutations.ts, session-mutations.ts):
 * each mutation of a known packet gives bytes that a server-side decoder
 * rejects with the expected error — or, for the session-order mutations, the
 * expected order of packets.
 */
import { describe, expect, test } from 'vitest';
import { Decoder, decodePacket, encode, isMqttCodecError, type MqttCodecError, type Packet, type ProtocolVersion } from './index.js';
import { applyByteMutation, corruptLength, describeByteMutation, encodeVarint } from './mutations.js';
import { applyPacketMutation, BAD_UTF8, describePacketMutation, nonRepeatableProperties, type BadUtf8, type PacketMutation } from './packet-mutations.js';
import { applySessionMutation, type SessionMutation, type SessionUnit } from './session-mutations.js';

const CONNECT4: Packet = { type: 'connect', protocolVersion: 4, clean: true, keepAlive: 30, clientId: 'client-1' };
const CONNECT5: Packet = { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 30, clientId: 'client-1' };
const PUBLISH: Packet = { type: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, retain: false, dup: false, packetId: 7 };
const PUBLISH0: Packet = { type: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 0, retain: false, dup: false };
const SUBSCRIBE: Packet = { type: 'subscribe', packetId: 3, subscriptions: [{ topicFilter: 'a/#', qos: 1 }] };

/** Decodes `bytes` after a valid CONNECT as a server would; the codec error, or undefined when all decode. */
function serverError(version: ProtocolVersion, bytes: Buffer): MqttCodecError | undefined {
  const d = new Decoder({ role: 'server', version, maxPacketSize: 1024 });
  try {
    d.decodeAll(bytes);
    return undefined;
  } catch (e) {
    if (!isMqttCodecError(e)) throw e;
    return e;
  }
}

describe('packet mutations: each gives the error a server must see', () => {
  test.each([
    ['SUBSCRIBE flags 0000 (must be 0010)', 5, SUBSCRIBE, { kind: 'flags', value: 0 }, 'RESERVED_FLAGS', 'MQTT-3.8.1-1', 0x81],
    ['SUBSCRIBE flags 0010 asked: the mutation still makes them illegal', 4, SUBSCRIBE, { kind: 'flags', value: 2 }, 'RESERVED_FLAGS', 'MQTT-3.8.1-1', 0x81],
    ['PUBLISH QoS 3', 5, PUBLISH, { kind: 'flags', value: 0 }, 'INVALID_QOS', 'MQTT-3.3.1-4', 0x81],
    ['PUBLISH DUP on QoS 0', 4, PUBLISH0, { kind: 'flags', value: 1 }, 'DUP_WITH_QOS0', 'MQTT-3.3.1-2', 0x81],
    ['a string length overrunning the packet', 4, PUBLISH0, { kind: 'string-overrun', slot: 0, extra: 3 }, 'TRUNCATED', undefined, 0x81],
    ['Remaining Length beyond the Maximum Packet Size', 5, PUBLISH, { kind: 'oversize-packet', over: 1, keep: 4 }, 'PACKET_TOO_LARGE', 'MQTT-3.2.2-15', 0x95],
    ['a PUBLISH of Maximum Packet Size + 1', 5, PUBLISH, { kind: 'payload-at-limit', delta: 1 }, 'PACKET_TOO_LARGE', 'MQTT-3.2.2-15', 0x95],
    ['a topic padded to 4096 bytes (beyond 1024)', 4, PUBLISH, { kind: 'oversize-field', slot: 0, length: 4096 }, 'PACKET_TOO_LARGE', undefined, 0x81],
    ['Message Expiry Interval twice', 5, { ...PUBLISH, properties: { messageExpiryInterval: 60 } }, { kind: 'duplicate-property', pick: 1 }, 'DUPLICATE_PROPERTY', undefined, 0x82],
  ] as const)('%s', (_name, version, packet, m, code, statement, reasonCode) => {
    const e = serverError(version, applyPacketMutation(packet, version, m as PacketMutation, { maxPacketSize: 1024 }));
    expect(e?.code).toBe(code);
    if (statement !== undefined) expect(e?.statement).toBe(statement);
    if (version === 5) expect(e?.reasonCode).toBe(reasonCode);
  });

  test('a PUBLISH of exactly the Maximum Packet Size is accepted, one byte more is not', () => {
    const at = applyPacketMutation(PUBLISH, 5, { kind: 'payload-at-limit', delta: 0 }, { maxPacketSize: 1024 });
    expect(at.length).toBe(1024);
    expect(serverError(5, at)).toBeUndefined();
    expect(applyPacketMutation(PUBLISH, 5, { kind: 'payload-at-limit', delta: 1 }, { maxPacketSize: 1024 }).length).toBe(1025);
  });

  test.each(Object.keys(BAD_UTF8) as BadUtf8[])('%s UTF-8 in the topic is rejected with MQTT-1.5.4-1 or -2', (bad) => {
    const e = serverError(5, applyPacketMutation(PUBLISH, 5, { kind: 'bad-utf8', slot: 0, bad, at: 2 }));
    expect(e?.code).toBe(bad === 'null-char' ? 'UTF8_NULL_CHAR' : 'INVALID_UTF8');
    expect(e?.statement).toBe(bad === 'null-char' ? 'MQTT-1.5.4-2' : 'MQTT-1.5.4-1');
  });

  test('ill-formed UTF-8 in a CONNECT ClientId keeps the rest of the id (unique ids stay unique)', () => {
    const bytes = applyPacketMutation(CONNECT5, 5, { kind: 'bad-utf8', slot: 0, bad: 'surrogate', at: 0 });
    expect(bytes.includes(Buffer.from('client-1'))).toBe(true);
    const e = (() => { try { decodePacket(bytes, { role: 'server' }); return undefined; } catch (x) { return x as MqttCodecError; } })();
    expect(e?.code).toBe('INVALID_UTF8');
    expect(e?.version).toBe(5);
  });

  test('every non-repeatable property can be given twice, in every packet a client sends', () => {
    const packets: Packet[] = [
      CONNECT5, PUBLISH, SUBSCRIBE, { type: 'unsubscribe', packetId: 4, topicFilters: ['a'] },
      { type: 'puback', packetId: 1, reasonCode: 0 }, { type: 'pubrel', packetId: 1, reasonCode: 0 }, { type: 'disconnect', reasonCode: 0 },
      { type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'm' } },
    ];
    for (const p of packets) {
      const ctx = p.type as Parameters<typeof nonRepeatableProperties>[0];
      const n = nonRepeatableProperties(ctx).length;
      for (let pick = 0; pick < n; pick++) {
        const bytes = applyPacketMutation(p, 5, { kind: 'duplicate-property', pick });
        const e = (() => { try { decodePacket(bytes, { role: 'server', version: 5 }); return undefined; } catch (x) { return x as MqttCodecError; } })();
        expect(e?.code, `${p.type}: ${describePacketMutation({ kind: 'duplicate-property', pick }, p, 5)}`).toBe('DUPLICATE_PROPERTY');
      }
    }
  });

  test('a mutation that does not fit the packet leaves it unchanged', () => {
    expect(applyPacketMutation({ type: 'pingreq' }, 5, { kind: 'bad-utf8', slot: 0, bad: 'overlong', at: 0 })).toEqual(encode({ type: 'pingreq' }, 5));
    expect(applyPacketMutation(PUBLISH, 4, { kind: 'duplicate-property', pick: 0 })).toEqual(encode(PUBLISH, 4));
    expect(applyPacketMutation(PUBLISH, 5, { kind: 'payload-at-limit', delta: 0 }, {})).toEqual(encode(PUBLISH, 5));
  });
});

describe('byte mutations', () => {
  test('positions are taken modulo the length, and each kind does what it says', () => {
    const input = Buffer.from([1, 2, 3, 4]);
    expect(applyByteMutation(input, { kind: 'flip', at: 5, bit: 0 })).toEqual(Buffer.from([0, 2, 3, 4])); // 5 mod (4 + 1) = 0
    expect(applyByteMutation(input, { kind: 'flip', at: 3, bit: 1 })).toEqual(Buffer.from([1, 2, 3, 6]));
    expect(applyByteMutation(input, { kind: 'truncate', at: 2 })).toEqual(Buffer.from([1, 2]));
    expect(applyByteMutation(input, { kind: 'delete', at: 1, count: 2 })).toEqual(Buffer.from([1, 4]));
    expect(applyByteMutation(input, { kind: 'duplicate', at: 1, count: 2 })).toEqual(Buffer.from([1, 2, 3, 2, 3, 4]));
    expect(applyByteMutation(input, { kind: 'insert', at: 9, bytes: Uint8Array.of(9) })).toEqual(Buffer.from([1, 2, 3, 4, 9]));
    expect(describeByteMutation({ kind: 'flip', at: 5, bit: 0 }, 4)).toBe('flip bit 0 at byte 0');
  });

  test('a non-minimal Remaining Length is rejected (5.0 MQTT-1.5.5-1)', () => {
    const [bad] = corruptLength([encode(PUBLISH0, 5)], { kind: 'raw', packet: 0, bytes: Uint8Array.of(0x80 | (encode(PUBLISH0, 5).length - 2), 0x00) });
    expect(serverError(5, bad!)?.code).toBe('VARINT_NOT_MINIMAL');
    expect(encodeVarint(128)).toEqual(Uint8Array.of(0x80, 0x01));
  });
});

describe('session mutations', () => {
  const units = (...ps: Packet[]): SessionUnit[] => ps.map((packet) => ({ packet }));
  const types = (us: SessionUnit[]): string[] => us.map((u) => ('packet' in u ? u.packet.type : `raw:${u.bytes.toString('hex')}`));
  const seq = units(CONNECT5, PUBLISH, SUBSCRIBE);

  test.each([
    ['drop-connect', { kind: 'drop-connect' }, 5, ['publish', 'subscribe']],
    ['move-connect', { kind: 'move-connect', to: 1 }, 5, ['publish', 'subscribe', 'connect']],
    ['second-connect', { kind: 'second-connect', at: 0 }, 5, ['connect', 'connect', 'publish', 'subscribe']],
    ['server-packet', { kind: 'server-packet', at: 1, type: 'suback' }, 5, ['connect', 'publish', 'suback', 'subscribe']],
    ['stray-ack', { kind: 'stray-ack', at: 0, type: 'pubrel', packetId: 9 }, 5, ['connect', 'pubrel', 'publish', 'subscribe']],
    ['auth-without-method 5.0', { kind: 'auth-without-method', at: 2, reasonCode: 0x18 }, 5, ['connect', 'publish', 'subscribe', 'auth']],
    ['auth-without-method 3.1.1', { kind: 'auth-without-method', at: 2, reasonCode: 0x18 }, 4, ['connect', 'publish', 'subscribe', 'raw:f000']],
    ['swap', { kind: 'swap', a: 0, b: 2 }, 5, ['subscribe', 'publish', 'connect']],
    ['early-disconnect', { kind: 'early-disconnect', at: 0, reasonCode: 0 }, 5, ['connect', 'disconnect', 'publish', 'subscribe']],
    ['unknown-alias', { kind: 'unknown-alias', at: 0, alias: 3 }, 5, ['connect', 'publish', 'publish', 'subscribe']],
  ] as const)('%s', (_name, m, version, expected) => {
    expect(types(applySessionMutation(seq, m as SessionMutation, version))).toEqual(expected);
  });

  test('a client sending a server-only packet is a WRONG_DIRECTION protocol error (0x82)', () => {
    const [, bad] = applySessionMutation(units(CONNECT5), { kind: 'server-packet', at: 0, type: 'connack' }, 5);
    const e = serverError(5, encode((bad as { packet: Packet }).packet, 5));
    expect(e?.code).toBe('WRONG_DIRECTION');
    expect(e?.reasonCode).toBe(0x82);
  });

  test('a PUBLISH before CONNECT is rejected before the version is known [MQTT-3.1.0-1]', () => {
    const us = applySessionMutation(units(CONNECT4, PUBLISH), { kind: 'drop-connect' }, 4);
    const d = new Decoder({ role: 'server' });
    expect(() => d.decodeAll(encode((us[0] as { packet: Packet }).packet, 4))).toThrow(/VERSION_UNKNOWN/);
  });
});

/**
 * The fuzz oracle: known byte streams give the verdict the specs require
 * (accept, wait, or close with which answer and reason code), the classifier
 * turns a broker's behaviour into ok / mismatch / hang, and — the codec
 * fuzzed in-process — no generated case makes the decoder throw anything but
 * an MqttCodecError or gives a verdict that depends on the chunking.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fcParameters } from '../../codec/arbitraries.js';
import { encode, type Packet, type ProtocolVersion } from '../../codec/index.js';
import { applyPacketMutation, type PacketMutation } from '../../codec/packet-mutations.js';
import { arbitraryFuzzCase, materializeCase } from './case.js';
import type { Observation } from './case-connection.js';
import { classify } from './classify.js';
import { judgeCase } from './execute.js';
import { judge, type CloseVerdict, type Verdict } from './oracle.js';
import { modelFromProfile, referenceModel, refineWithConnack } from './server-model.js';

const MODEL = referenceModel({ maxPacketSize: 1024, topicAliasMaximum: 10, receiveMaximum: 2 });
const connect = (version: ProtocolVersion, extra: Partial<Extract<Packet, { type: 'connect' }>> = {}): Packet =>
  ({ type: 'connect', protocolVersion: version, clean: true, keepAlive: 60, clientId: 'c1', ...extra });
const publish = (extra: Partial<Extract<Packet, { type: 'publish' }>> = {}): Packet =>
  ({ type: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, ...extra });

/** The verdict on `packets` (each a packet or raw bytes) sent by a client speaking `version`. */
function verdictOf(version: ProtocolVersion, ...packets: Array<Packet | Buffer>): Verdict {
  return judge(Buffer.concat(packets.map((p) => (Buffer.isBuffer(p) ? p : encode(p, version, { validate: false })))), MODEL);
}

function closes(v: Verdict): CloseVerdict {
  if (v.kind !== 'close') throw new Error(`expected a close verdict, got ${v.kind}`);
  return v;
}

describe('verdicts', () => {
  test('valid packets: accept, with the PINGREQs to answer', () => {
    const v = verdictOf(5, connect(5), publish(), { type: 'pingreq' }, { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: '#', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    expect(v).toMatchObject({ kind: 'accept', connected: true, pingreqs: 1, packets: 4 });
  });

  test('a packet before CONNECT: close, send nothing [MQTT-3.1.0-1]', () => {
    const v = closes(verdictOf(5, publish()));
    expect(v.answer).toEqual({ via: 'none' });
    expect(v.statement).toBe('MQTT-3.1.0-1');
  });

  test('a second CONNECT: 5.0 DISCONNECT 0x82, 3.1.1 plain close [MQTT-3.1.0-2]', () => {
    expect(closes(verdictOf(5, connect(5), connect(5))).answer).toEqual({ via: 'disconnect', codes: [0x82] });
    expect(closes(verdictOf(4, connect(4), connect(4))).answer).toEqual({ via: 'none' });
  });

  test('a malformed second CONNECT: DISCONNECT 0x82, never the CONNACK-only 0x84 the codec gives a bad first CONNECT', () => {
    const bad = encode(connect(5), 5);
    bad[8] = 6; // protocol level
    expect(closes(verdictOf(5, connect(5), bad)).answer).toEqual({ via: 'disconnect', codes: [0x82] });
    const badName = encode(connect(5), 5);
    badName[7] = 0x58; // 'MQTX'
    expect(closes(verdictOf(5, connect(5), badName)).answer).toEqual({ via: 'disconnect', codes: [0x82] });
    expect(closes(verdictOf(5, connect(5), applyPacketMutation(connect(5), 5, { kind: 'bad-utf8', slot: 0, bad: 'overlong', at: 0 }))).answer)
      .toEqual({ via: 'disconnect', codes: [0x81, 0x82] });
  });

  test('illegal fixed-header flags after CONNECT: DISCONNECT 0x81 with the packet\'s statement', () => {
    const bad = applyPacketMutation({ type: 'unsubscribe', packetId: 1, topicFilters: ['a'] }, 5, { kind: 'flags', value: 0 });
    const v = closes(verdictOf(5, connect(5), bad));
    expect(v.answer).toEqual({ via: 'disconnect', codes: [0x81] });
    expect(v.statement).toBe('MQTT-3.10.1-1');
  });

  test('ill-formed UTF-8 in the CONNECT: a 5.0 server MAY answer CONNACK 0x81; 3.1.1 closes', () => {
    const m: PacketMutation = { kind: 'bad-utf8', slot: 0, bad: 'overlong', at: 0 };
    expect(closes(verdictOf(5, applyPacketMutation(connect(5), 5, m))).answer).toEqual({ via: 'connack', codes: [0x81], required: false });
    const v4 = closes(verdictOf(4, applyPacketMutation(connect(4), 4, m)));
    expect(v4.answer).toEqual({ via: 'none' });
    expect(v4.statement).toBe('MQTT-1.5.3-1');
  });

  test('a packet beyond the Maximum Packet Size: DISCONNECT 0x95', () => {
    const v = closes(verdictOf(5, connect(5), applyPacketMutation(publish(), 5, { kind: 'oversize-packet', over: 0, keep: 0 }, { maxPacketSize: 1024 })));
    expect(v.answer).toEqual({ via: 'disconnect', codes: [0x95] });
  });

  test('a property given twice: DISCONNECT 0x82', () => {
    const v = closes(verdictOf(5, connect(5), applyPacketMutation(publish({ properties: { contentType: 'a' } }), 5, { kind: 'duplicate-property', pick: 2 })));
    expect(v.rule).toBe('codec:DUPLICATE_PROPERTY');
    expect(v.answer).toEqual({ via: 'disconnect', codes: [0x82] });
  });

  test('acknowledgements of nothing are accepted; a server-only packet from the client is a protocol error', () => {
    expect(verdictOf(5, connect(5), { type: 'pubrel', packetId: 4, reasonCode: 0 }, { type: 'puback', packetId: 9, reasonCode: 0 }).kind).toBe('accept');
    expect(closes(verdictOf(5, connect(5), { type: 'pingresp' })).answer).toEqual({ via: 'disconnect', codes: [0x82] });
  });

  test('AUTH without an exchange: 5.0 DISCONNECT 0x82; in 3.1.1 type 15 is reserved', () => {
    const v = closes(verdictOf(5, connect(5), { type: 'auth', reasonCode: 0x18 }));
    expect(v.rule).toBe('auth-without-exchange');
    expect(v.answer).toEqual({ via: 'disconnect', codes: [0x82] });
    expect(closes(verdictOf(4, connect(4), Buffer.from([0xf0, 0]))).rule).toBe('codec:UNKNOWN_PACKET_TYPE');
  });

  test('Topic Aliases: above the maximum 0x94, never mapped 0x82, mapped then used: accepted', () => {
    expect(closes(verdictOf(5, connect(5), publish({ properties: { topicAlias: 11 } }))).answer).toEqual({ via: 'disconnect', codes: [0x94] });
    expect(closes(verdictOf(5, connect(5), publish({ topic: '', properties: { topicAlias: 3 } }))).answer).toEqual({ via: 'disconnect', codes: [0x82] });
    expect(verdictOf(5, connect(5), publish({ properties: { topicAlias: 3 } }), publish({ topic: '', properties: { topicAlias: 3 } })).kind).toBe('accept');
  });

  test('Receive Maximum: one QoS 2 PUBLISH too many is 0x93; a PUBREL frees a slot', () => {
    const q2 = (id: number): Packet => publish({ qos: 2, packetId: id });
    expect(closes(verdictOf(5, connect(5), q2(1), q2(2), q2(3))).answer).toEqual({ via: 'disconnect', codes: [0x93] });
    expect(verdictOf(5, connect(5), q2(1), q2(2), { type: 'pubrel', packetId: 1, reasonCode: 0 }, q2(3)).kind).toBe('accept');
  });

  test('CONNECT refusals: empty ClientId with Clean Session 0 in 3.1.1 must get 0x02; an authentication method 0x8C or 0x87', () => {
    expect(closes(verdictOf(4, connect(4, { clientId: '', clean: false }))).answer).toEqual({ via: 'connack', codes: [0x02], required: true });
    expect(closes(verdictOf(5, connect(5, { properties: { authenticationMethod: 'SCRAM' } }))).answer).toEqual({ via: 'connack', codes: [0x8c, 0x87], required: false });
    expect(verdictOf(5, connect(5, { clientId: '', clean: false })).kind).toBe('accept'); // 5.0: the server assigns one
  });

  test('an unsupported protocol level: CONNACK 0x01 (3.1.1 form) or 0x84 (5.0 form), or just close', () => {
    const bytes = encode(connect(4), 4);
    bytes[8] = 6; // protocol level
    expect(closes(judge(bytes, MODEL)).answer).toEqual({ via: 'connack', codes: [0x01, 0x84], required: false });
  });

  test('DISCONNECT: the client leaves; raising the Session Expiry Interval from 0 is a protocol error', () => {
    expect(verdictOf(5, connect(5), { type: 'disconnect', reasonCode: 0 }, publish()).kind).toBe('client-disconnect');
    expect(closes(verdictOf(5, connect(5), { type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 5 } })).answer).toEqual({ via: 'disconnect', codes: [0x82] });
  });

  test('a Remaining Length longer than needed: 5.0 forbids it (MQTT-1.5.5-1); in 3.1.1 a server may also accept it', () => {
    const nonMinimal = Buffer.from([0xc0, 0x80, 0x00]); // PINGREQ, Remaining Length 0 in two bytes
    expect(closes(verdictOf(5, connect(5), nonMinimal)).mayStayOpen).toBeUndefined();
    expect(closes(verdictOf(4, connect(4), nonMinimal)).mayStayOpen).toMatch(/3\.1\.1/);
  });

  test('bytes that stop inside a packet: wait', () => {
    const bytes = Buffer.concat([encode(connect(5), 5), encode(publish(), 5).subarray(0, 3)]);
    expect(judge(bytes, MODEL).kind).toBe('incomplete');
    expect(judge(Buffer.alloc(0), MODEL).kind).toBe('incomplete');
  });

  test('a Payload Format Indicator 1 on a non-UTF-8 payload: accepted, and DISCONNECT 0x99 allowed', () => {
    const v = verdictOf(5, connect(5), publish({ payload: Buffer.from([0xff]), properties: { payloadFormatIndicator: 1 } }));
    expect(v.kind).toBe('accept');
    expect(v.alternatives).toContainEqual(expect.objectContaining({ via: 'disconnect', codes: [0x99] }));
  });

  test('a remote broker: its CONNACK states its limits (Topic Alias Maximum absent = 0)', () => {
    const remote = modelFromProfile(undefined);
    const refined = refineWithConnack(remote, { type: 'connack', sessionPresent: false, reasonCode: 0, properties: { topicAliasMaximum: 5, maximumQoS: 1 } });
    expect(refined).toMatchObject({ topicAliasMaximum: 5, maxQoS: 1, exact: false });
    expect(refineWithConnack(MODEL, { type: 'connack', sessionPresent: false, reasonCode: 0 })).toBe(MODEL);
  });
});

describe('classification', () => {
  const obs = (o: Partial<Observation>): Observation => ({
    openError: undefined, connack: undefined, disconnect: undefined, disconnectBeforeConnack: false, pingresps: 0,
    closed: false, closedAfterMs: undefined, badBytes: undefined, largestPacket: 0, ...o,
  });
  const ctx = { takeoverPossible: false, keepAlive: 0 };
  const bad5 = verdictOf(5, connect(5), applyPacketMutation(publish(), 5, { kind: 'flags', value: 0 }));
  const connack0 = { code: 0, packet: undefined };

  test('the right DISCONNECT code and a close: ok', () => {
    expect(classify(bad5, obs({ connack: connack0, disconnect: { code: 0x81 }, closed: true }), ctx)).toMatchObject({ status: 'ok', kind: 'closed-with-reason' });
  });
  test('a wrong code: mismatch wrong-code', () => {
    expect(classify(bad5, obs({ connack: connack0, disconnect: { code: 0x82 }, closed: true }), ctx)).toMatchObject({ status: 'mismatch', kind: 'wrong-code' });
  });
  test('5.0 closed without DISCONNECT: mismatch no-reason-code', () => {
    expect(classify(bad5, obs({ connack: connack0, closed: true }), ctx)).toMatchObject({ status: 'mismatch', kind: 'no-reason-code' });
  });
  test('still open after a malformed packet: mismatch not-closed', () => {
    expect(classify(bad5, obs({ connack: connack0, pingresps: 1 }), ctx)).toMatchObject({ status: 'mismatch', kind: 'not-closed' });
  });
  test('a valid case closed: unexpected-close; neither answered nor closed: hang', () => {
    const ok5 = verdictOf(5, connect(5), publish());
    expect(classify(ok5, obs({ connack: connack0, closed: true }), ctx)).toMatchObject({ status: 'mismatch', kind: 'unexpected-close' });
    expect(classify(ok5, obs({ connack: connack0 }), ctx)).toMatchObject({ status: 'hang', kind: 'no-pingresp' });
    expect(classify(ok5, obs({ connack: connack0, pingresps: 1 }), ctx)).toMatchObject({ status: 'ok', kind: 'accepted' });
    expect(classify(ok5, obs({ connack: connack0, disconnect: { code: 0x8e }, closed: true }), { ...ctx, takeoverPossible: true })).toMatchObject({ status: 'ok', kind: 'taken-over' });
  });
  test('a 3.1.1 server that reads a longer Remaining Length than needed and goes on: tolerated', () => {
    const v4 = verdictOf(4, connect(4), Buffer.from([0xc0, 0x80, 0x00]));
    expect(classify(v4, obs({ connack: connack0, pingresps: 2 }), ctx)).toMatchObject({ status: 'ok', kind: 'tolerated' });
    expect(classify(v4, obs({ connack: connack0, closed: true }), ctx)).toMatchObject({ status: 'ok', kind: 'closed' });
  });
  test('DISCONNECT before CONNACK [MQTT-3.14.0-1] and 3.1.1 CONNACK 0 for a malformed CONNECT', () => {
    const badConnect = verdictOf(4, applyPacketMutation(connect(4), 4, { kind: 'bad-utf8', slot: 0, bad: 'null-char', at: 0 }));
    expect(classify(badConnect, obs({ connack: connack0, closed: true }), ctx)).toMatchObject({ status: 'mismatch', kind: 'accepted-bad-connect' });
    expect(classify(bad5, obs({ disconnect: { code: 0x81 }, disconnectBeforeConnack: true, closed: true }), ctx)).toMatchObject({ status: 'mismatch', kind: 'disconnect-before-connack' });
  });
});

test('the codec, fuzzed in-process: no generated case crashes the decoder or depends on its chunking', () => {
  const model = referenceModel({ maxPacketSize: 65_536, topicAliasMaximum: 1024, receiveMaximum: 65_535 });
  fc.assert(fc.property(arbitraryFuzzCase({ versions: [4, 5] }), (c) => {
    const m = materializeCase(c, { clientId: 'fzprop-0000000', limits: { maxPacketSize: 65_536 } });
    const r = judgeCase(m, model);
    expect(r.codec).toBeUndefined();
  }), fcParameters(400));
});

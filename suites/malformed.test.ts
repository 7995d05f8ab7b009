/**
 * Malformed and forbidden packets: reserved fixed-header flags, framing,
 * forbidden field values and 5.0 property errors (3.1.1 §2.2.2, §3.x, §4.8;
 * 5.0 §2.1.3, §2.2.2.2, §3.x, §4.13).
 *
 * Every case sends exact bytes on a connected client and expects the broker to
 * close that connection without answering the packet; 5.0 brokers should send
 * DISCONNECT with the fitting reason code first (SHOULD: a finding when not).
 * PUBLISH cases also check, with a subscriber and a control message, that the
 * packet was not delivered; every case ends by showing the broker still works.
 */
import type { Packet, ProtocolVersion } from '../codec/index.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  brokerStillUp, expectNotDelivered, expectRejected, frame, hex, P, rawPublish, rawSubscribe, rawUnsubscribe,
  rawConnect, sendOffending, sendOnConnected, u16, watcher,
} from './support/v5-helpers.js';

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;

interface Case {
  /** Bytes to send; `topic` is a topic watched by a subscriber when `publishes` is set. */
  bytes: (v: ProtocolVersion, topic: string) => Buffer;
  what: string;
  /** Statement failed when the connection stays open, per version. */
  statement: (v: ProtocolVersion) => string;
  reasons?: number[];
  notAnswered?: Packet['type'][];
  /** The bytes are a PUBLISH to the watched topic: check it is not delivered. */
  publishes?: boolean;
}

async function rejects(t: ConformanceContext, c: Case): Promise<void> {
  const statement = c.statement(t.version);
  const w = c.publishes ? await watcher(t) : undefined;
  const client = await sendOnConnected(t, 'bad', c.bytes(t.version, w?.topic ?? t.topic('x')), c.what);
  await expectRejected(t, client, { statement, reasons: c.reasons, notAnswered: c.notAnswered, what: c.what });
  if (w) await expectNotDelivered(t, w.watch, w.topic, statement, c.what);
  else await brokerStillUp(t);
}

const close4 = 'MQTT-4.8.0-1';
const close5 = 'MQTT-4.13.1-1';
const byVersion = (v4: string, v5: string) => (v: ProtocolVersion): string => (v === 5 ? v5 : v4);

// ---------------------------------------------------------------------------
// Reserved fixed-header flags (3.1.1 Table 2.2 / 5.0 Table 2-2)
// ---------------------------------------------------------------------------

/** 5.0 acks may carry a reason code; the bare 2-byte form is valid in both versions. */
const flagCases: { name: string; first: number; body: Buffer; v4: string[]; v5: string[]; statement: (v: ProtocolVersion) => string; notAnswered?: Packet['type'][] }[] = [
  { name: 'PUBACK with flags 0010', first: 0x42, body: u16(1), v4: ['MQTT-2.2.2-1', 'MQTT-2.2.2-2'], v5: ['MQTT-2.1.3-1', close5], statement: byVersion('MQTT-2.2.2-2', close5) },
  { name: 'PUBREC with flags 0010', first: 0x52, body: u16(1), v4: ['MQTT-2.2.2-1', 'MQTT-2.2.2-2'], v5: ['MQTT-2.1.3-1', close5], statement: byVersion('MQTT-2.2.2-2', close5), notAnswered: ['pubrel'] },
  { name: 'PUBREL with flags 0000', first: 0x60, body: u16(1), v4: ['MQTT-3.6.1-1', 'MQTT-2.2.2-2'], v5: ['MQTT-3.6.1-1', 'MQTT-2.1.3-1'], statement: () => 'MQTT-3.6.1-1', notAnswered: ['pubcomp'] },
  { name: 'PUBCOMP with flags 0001', first: 0x71, body: u16(1), v4: ['MQTT-2.2.2-1', 'MQTT-2.2.2-2'], v5: ['MQTT-2.1.3-1', close5], statement: byVersion('MQTT-2.2.2-2', close5) },
  { name: 'PINGREQ with flags 0001', first: 0xc1, body: Buffer.alloc(0), v4: ['MQTT-2.2.2-1', 'MQTT-2.2.2-2'], v5: ['MQTT-2.1.3-1', close5], statement: byVersion('MQTT-2.2.2-2', close5), notAnswered: ['pingresp'] },
];

for (const c of flagCases) {
  conformance(`${c.name} (reserved flags) closes the connection`, { v4: c.v4, v5: c.v5 }, async (t) => {
    await rejects(t, { bytes: () => frame(c.first, c.body), what: c.name, statement: c.statement, reasons: [MALFORMED], notAnswered: c.notAnswered ?? [] });
  });
}

conformance('SUBSCRIBE with flags 0000 (reserved flags) closes the connection unanswered', { v4: ['MQTT-3.8.1-1', 'MQTT-2.2.2-2'], v5: ['MQTT-3.8.1-1', 'MQTT-2.1.3-1'] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawSubscribe(v, { packetId: 7, filters: [{ filter: topic, options: 0 }], firstByte: 0x80 }),
    what: 'SUBSCRIBE with fixed-header flags 0000', statement: () => 'MQTT-3.8.1-1', reasons: [MALFORMED], notAnswered: ['suback'],
  });
});

conformance('UNSUBSCRIBE with flags 0000 (reserved flags) closes the connection unanswered', { v4: ['MQTT-3.10.1-1', 'MQTT-2.2.2-2'], v5: ['MQTT-3.10.1-1', 'MQTT-2.1.3-1'] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawUnsubscribe(v, { packetId: 7, filters: [topic], firstByte: 0xa0 }),
    what: 'UNSUBSCRIBE with fixed-header flags 0000', statement: () => 'MQTT-3.10.1-1', reasons: [MALFORMED], notAnswered: ['unsuback'],
  });
});

conformance('AUTH with flags 0001 (reserved flags) closes the connection', { v5: ['MQTT-3.15.1-1', 'MQTT-2.1.3-1'] }, async (t) => {
  await rejects(t, { bytes: () => frame(0xf1, Buffer.from([0x19, 0x00])), what: 'AUTH with fixed-header flags 0001', statement: () => 'MQTT-3.15.1-1', reasons: [MALFORMED], notAnswered: ['auth'] });
});

conformance('CONNECT with flags 0001 (reserved flags) is refused and the connection closed', { v4: ['MQTT-2.2.2-1', 'MQTT-2.2.2-2', 'MQTT-3.1.4-1'], v5: ['MQTT-2.1.3-1', 'MQTT-3.1.4-1'] }, async (t) => {
  const client = await t.open('bad');
  sendOffending(client, rawConnect(t, { firstByte: 0x11, clientId: t.clientId('bad') }), 'CONNECT with fixed-header flags 0001');
  await expectRejected(t, client, { statement: t.version === 5 ? 'MQTT-3.1.4-1' : 'MQTT-2.2.2-2', reasons: [MALFORMED], notAnswered: ['connack'], what: 'CONNECT with fixed-header flags 0001', disconnectOptional: true });
  await brokerStillUp(t);
});

conformance('DISCONNECT with flags 0001 is treated as malformed, not as a normal disconnect (the Will is published)', { v4: ['MQTT-3.14.1-1', 'MQTT-2.2.2-2'], v5: ['MQTT-3.14.1-1', 'MQTT-2.1.3-1'] }, async (t) => {
  const { watch, topic } = await watcher(t);
  const { client } = await t.connect('bad', { will: { topic, payload: Buffer.from('will'), qos: 0, retain: false } });
  sendOffending(client, frame(0xe1, t.version === 5 ? Buffer.from([0x00]) : Buffer.alloc(0)), 'DISCONNECT with fixed-header flags 0001');
  await expectRejected(t, client, { statement: 'MQTT-3.14.1-1', reasons: [MALFORMED], what: 'DISCONNECT with fixed-header flags 0001' });
  // A malformed DISCONNECT is no DISCONNECT: the connection ended abnormally, so the Will must go out.
  await t.expect(watch, 'publish', 'MQTT-3.14.1-1', { where: (p) => p.payload.toString() === 'will', what: 'the Will (the broker treated the malformed DISCONNECT as a normal one and discarded the Will)' });
});

// ---------------------------------------------------------------------------
// Packet types a client must not send
// ---------------------------------------------------------------------------

conformance('packet type 0 (reserved) closes the connection', { v4: [close4], v5: [close5] }, async (t) => {
  await rejects(t, { bytes: () => Buffer.from([0x00, 0x00]), what: 'packet type 0', statement: byVersion(close4, close5), reasons: [MALFORMED, PROTOCOL_ERROR] });
});

conformance('packet type 15 (reserved in 3.1.1) closes the connection', { v4: [close4] }, async (t) => {
  await rejects(t, { bytes: () => Buffer.from([0xf0, 0x00]), what: 'packet type 15', statement: () => close4 });
});

for (const [name, bytes] of [
  ['CONNACK', (v: ProtocolVersion) => frame(0x20, v === 5 ? Buffer.from([0, 0, 0]) : Buffer.from([0, 0]))],
  ['SUBACK', (v: ProtocolVersion) => frame(0x90, u16(1), v === 5 ? Buffer.from([0, 0]) : Buffer.from([0]))],
  ['PINGRESP', () => Buffer.from([0xd0, 0x00])],
] as const) {
  conformance(`${name} sent by a client (server-only packet) closes the connection`, { v4: [close4], v5: [close5] }, async (t) => {
    await rejects(t, { bytes: (v) => bytes(v), what: `${name} from a client`, statement: byVersion(close4, close5), reasons: [PROTOCOL_ERROR, MALFORMED] });
  });
}

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

conformance('a Remaining Length of more than 4 bytes closes the connection', { v4: [close4], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x01, 0x61]),
    what: 'PUBLISH whose Remaining Length has 5 bytes', statement: byVersion(close4, close5), reasons: [MALFORMED],
  });
});

conformance('a truncated PUBLISH followed by a half-close is not delivered and the connection is closed', { v4: [close4], v5: [close5] }, async (t) => {
  const { watch, topic } = await watcher(t);
  const { client } = await t.connect('bad');
  const whole = rawPublish(t.version, { topic, qos: 0, payload: 'truncated-payload' });
  // The Remaining Length says 40 bytes more than are ever sent.
  const lying = Buffer.concat([Buffer.from([0x30]), Buffer.from([whole[1]! + 40]), whole.subarray(2)]);
  sendOffending(client, lying, 'PUBLISH whose Remaining Length is 40 bytes longer than what follows');
  client.end();
  const statement = t.version === 5 ? close5 : close4;
  await expectRejected(t, client, { statement, what: 'a truncated PUBLISH', disconnectOptional: true });
  await expectNotDelivered(t, watch, topic, statement, 'the truncated PUBLISH');
});

conformance('a topic length running past the end of the packet closes the connection', { v4: [close4], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (_v, topic) => frame(0x30, u16(topic.length + 200), Buffer.from(topic)),
    what: 'PUBLISH whose Topic Name length runs past the end of the packet', statement: byVersion(close4, close5), reasons: [MALFORMED], publishes: true,
  });
});

// ---------------------------------------------------------------------------
// PUBLISH fields
// ---------------------------------------------------------------------------

conformance('PUBLISH with QoS 3 closes the connection and is not delivered', { v4: ['MQTT-3.3.1-4', close4], v5: ['MQTT-3.3.1-4', close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, qos: 3, packetId: 1, payload: 'qos3' }),
    what: 'PUBLISH with both QoS bits set', statement: () => 'MQTT-3.3.1-4', reasons: [MALFORMED], notAnswered: ['puback', 'pubrec'], publishes: true,
  });
});

conformance('PUBLISH at QoS 0 with DUP 1 closes the connection and is not delivered', { v4: ['MQTT-3.3.1-2', close4], v5: ['MQTT-3.3.1-2', close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, qos: 0, dup: true, payload: 'dup-qos0' }),
    what: 'QoS 0 PUBLISH with DUP 1', statement: byVersion(close4, close5), reasons: [MALFORMED, PROTOCOL_ERROR], publishes: true,
  });
});

for (const wildcard of ['+', '#'] as const) {
  conformance(`PUBLISH to a Topic Name containing '${wildcard}' closes the connection and is not delivered`, { v4: ['MQTT-3.3.2-2', 'MQTT-4.7.1-1', close4], v5: ['MQTT-3.3.2-2', 'MQTT-4.7.0-1', close5] }, async (t) => {
    // The watcher subscribes to the parent level with '#', which would match the wildcard topic taken literally
    // (without wildcard support only the close is checked).
    const parent = t.topic('w');
    const watch = t.profile.wildcardSubscriptions === false ? undefined : await t.subscriber('watch', `${parent}/#`, { qos: 1 });
    const bad = `${parent}/a/${wildcard}`;
    const client = await sendOnConnected(t, 'bad', rawPublish(t.version, { topic: bad, qos: 0, payload: 'wildcard' }), `PUBLISH to ${bad}`);
    const statement = t.version === 5 ? close5 : close4;
    await expectRejected(t, client, { statement, reasons: [PROTOCOL_ERROR, MALFORMED, 0x90], what: `PUBLISH to '${bad}'` });
    if (watch) await expectNotDelivered(t, watch, `${parent}/a/b`, 'MQTT-3.3.2-2', `the PUBLISH to '${bad}'`);
    else await brokerStillUp(t);
  });
}

conformance('PUBLISH with an empty Topic Name (and no Topic Alias) closes the connection', { v4: ['MQTT-4.7.3-1', close4], v5: ['MQTT-4.7.3-1', close5] }, async (t) => {
  await rejects(t, { bytes: (v) => rawPublish(v, { topic: '', qos: 0, payload: 'empty-topic' }), what: 'PUBLISH with a zero-length Topic Name', statement: byVersion(close4, close5), reasons: [PROTOCOL_ERROR, MALFORMED] });
});

conformance('QoS 1 PUBLISH with Packet Identifier 0 closes the connection unacknowledged', { v4: ['MQTT-2.3.1-1', close4], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, qos: 1, packetId: 0, payload: 'id0' }),
    what: 'QoS 1 PUBLISH with Packet Identifier 0', statement: byVersion('MQTT-2.3.1-1', close5), reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['puback'], publishes: true,
  });
});

// ---------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE fields
// ---------------------------------------------------------------------------

conformance('SUBSCRIBE with Packet Identifier 0 closes the connection unanswered', { v4: ['MQTT-2.3.1-1', close4], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawSubscribe(v, { packetId: 0, filters: [{ filter: topic, options: 0 }] }),
    what: 'SUBSCRIBE with Packet Identifier 0', statement: byVersion('MQTT-2.3.1-1', close5), reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['suback'],
  });
});

conformance('UNSUBSCRIBE with Packet Identifier 0 closes the connection unanswered', { v4: ['MQTT-2.3.1-1', close4], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawUnsubscribe(v, { packetId: 0, filters: [topic] }),
    what: 'UNSUBSCRIBE with Packet Identifier 0', statement: byVersion('MQTT-2.3.1-1', close5), reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['unsuback'],
  });
});

conformance('SUBSCRIBE requesting QoS 3 closes the connection unanswered', { v4: ['MQTT-3.8.3-4'], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawSubscribe(v, { filters: [{ filter: topic, options: 3 }] }),
    what: 'SUBSCRIBE with Requested QoS 3', statement: byVersion('MQTT-3.8.3-4', close5), reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['suback'],
  });
});

conformance('SUBSCRIBE with reserved subscription-option bits set closes the connection unanswered', { v4: ['MQTT-3.8.3-4'], v5: ['MQTT-3.8.3-5', close5] }, async (t) => {
  await rejects(t, {
    // 3.1.1: bits 7-2 of the QoS byte are reserved; 5.0: bits 7-6 of the options byte.
    bytes: (v, topic) => rawSubscribe(v, { filters: [{ filter: topic, options: v === 5 ? 0xc1 : 0x05 }] }),
    what: 'SUBSCRIBE with reserved option bits set', statement: byVersion('MQTT-3.8.3-4', 'MQTT-3.8.3-5'), reasons: [MALFORMED], notAnswered: ['suback'],
  });
});

conformance('SUBSCRIBE with Retain Handling 3 closes the connection unanswered', { v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawSubscribe(v, { filters: [{ filter: topic, options: 0x30 }] }),
    what: 'SUBSCRIBE with Retain Handling 3', statement: () => close5, reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['suback'],
  });
});

conformance('SUBSCRIBE without any Topic Filter closes the connection unanswered', { v4: ['MQTT-3.8.3-3'], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v) => rawSubscribe(v, { filters: [] }),
    what: 'SUBSCRIBE with an empty payload', statement: byVersion('MQTT-3.8.3-3', close5), reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['suback'],
  });
});

conformance('UNSUBSCRIBE without any Topic Filter closes the connection unanswered', { v4: ['MQTT-3.10.3-2'], v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v) => rawUnsubscribe(v, { filters: [] }),
    what: 'UNSUBSCRIBE with an empty payload', statement: byVersion('MQTT-3.10.3-2', close5), reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['unsuback'],
  });
});

/** Invalid filters: the broker must not grant them. 3.1.1: a protocol violation (close); 5.0: SUBACK 0x8F or close. */
const invalidFilters: { filter: (base: string) => string; rule: string; v4: string; v5: string }[] = [
  { filter: (b) => `${b}/#/x`, rule: "'#' not last", v4: 'MQTT-4.7.1-2', v5: 'MQTT-4.7.1-1' },
  { filter: (b) => `${b}/x#`, rule: "'#' not alone in its level", v4: 'MQTT-4.7.1-2', v5: 'MQTT-4.7.1-1' },
  { filter: (b) => `${b}/x+`, rule: "'+' not alone in its level", v4: 'MQTT-4.7.1-3', v5: 'MQTT-4.7.1-2' },
  { filter: (b) => `${b}/+x/y`, rule: "'+' not alone in its level", v4: 'MQTT-4.7.1-3', v5: 'MQTT-4.7.1-2' },
  { filter: () => '', rule: 'empty filter', v4: 'MQTT-4.7.3-1', v5: 'MQTT-4.7.3-1' },
];

for (const f of invalidFilters) {
  conformance(`an invalid Topic Filter (${f.rule}: '${f.filter('a')}') is not granted`, { v4: [f.v4, close4], v5: [f.v5] }, async (t) => {
    const base = t.topic('f');
    const filter = f.filter(base);
    const client = await sendOnConnected(t, 'bad', rawSubscribe(t.version, { packetId: 3, filters: [{ filter, options: 1 }] }), `SUBSCRIBE to '${filter}'`);
    const ack = await client.expect('suback', { timeoutMs: t.timeoutMs }).catch(() => undefined);
    if (ack) {
      t.check(ack.reasonCodes.length === 1 && ack.reasonCodes[0]! >= 0x80, t.version === 5 ? f.v5 : f.v4, `the broker granted the invalid filter '${filter}': ${ack.reasonCodes.map(hex).join(',')}`);
      if (t.version === 4) t.finding(`invalid filter '${filter}' answered with SUBACK 0x80 instead of closing the connection (3.1.1 §4.8: a protocol violation closes the connection)`);
    } else {
      // Closed: the 5.0 reason code is checked like any rejection.
      await expectRejected(t, client, { statement: t.version === 5 ? f.v5 : close4, reasons: [PROTOCOL_ERROR, MALFORMED, 0x8f], what: `SUBSCRIBE to '${filter}'` });
    }
    await brokerStillUp(t);
  });
}

// ---------------------------------------------------------------------------
// 5.0 properties (§2.2.2.2 and the property definitions)
// ---------------------------------------------------------------------------

conformance('a property repeated in a PUBLISH (Payload Format Indicator twice) is a Protocol Error', { v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, properties: [P.payloadFormat(1), P.payloadFormat(1)], payload: 'dup-prop' }),
    what: 'PUBLISH carrying the Payload Format Indicator twice', statement: () => close5, reasons: [PROTOCOL_ERROR, MALFORMED], publishes: true,
  });
});

conformance('a property not allowed in PUBLISH (Session Expiry Interval) makes the packet malformed', { v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, properties: [P.sessionExpiry(10)], payload: 'wrong-prop' }),
    what: 'PUBLISH carrying a Session Expiry Interval', statement: () => close5, reasons: [MALFORMED, PROTOCOL_ERROR], publishes: true,
  });
});

conformance('an unknown property identifier makes the packet malformed', { v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, properties: [Buffer.from([0x7f, 0x00])], payload: 'unknown-prop' }),
    what: 'PUBLISH carrying property identifier 0x7F', statement: () => close5, reasons: [MALFORMED, PROTOCOL_ERROR], publishes: true,
  });
});

conformance('a PUBLISH from a client carrying a Subscription Identifier is a Protocol Error', { v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, properties: [P.subscriptionId(5)], payload: 'sub-id' }),
    what: 'client PUBLISH with a Subscription Identifier', statement: () => close5, reasons: [PROTOCOL_ERROR, MALFORMED], publishes: true,
  });
});

conformance('a Subscription Identifier of 0 in SUBSCRIBE is a Protocol Error', { v5: [close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawSubscribe(v, { filters: [{ filter: topic, options: 0 }], properties: [P.subscriptionId(0)] }),
    what: 'SUBSCRIBE with Subscription Identifier 0', statement: () => close5, reasons: [PROTOCOL_ERROR, MALFORMED], notAnswered: ['suback'],
  });
});

conformance('a Response Topic containing a wildcard is refused', { v5: ['MQTT-3.3.2-14', close5] }, async (t) => {
  await rejects(t, {
    bytes: (v, topic) => rawPublish(v, { topic, properties: [P.responseTopic(`${topic}/+`)], payload: 'rt-wildcard' }),
    what: "PUBLISH whose Response Topic contains '+'", statement: () => close5, reasons: [PROTOCOL_ERROR, MALFORMED], publishes: true,
  });
});

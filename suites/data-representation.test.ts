/**
 * Data representation: UTF-8 Encoded Strings, string pairs, Variable Byte
 * Integers and Property Length (3.1.1 §1.5.3; 5.0 §1.5.4, §1.5.5, §1.5.7,
 * §2.2.2).
 *
 * Ill-formed UTF-8 (overlong forms, encoded surrogates, truncated sequences,
 * bytes that never occur in UTF-8) and U+0000 make a packet malformed: the
 * broker closes the connection and does not deliver the message. A BOM
 * (EF BB BF) is an ordinary character that must survive unchanged.
 */
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  brokerStillUp, expectNotDelivered, expectRejected, P, publish, publishes, rawConnect, rawPublish, rawSubscribe,
  sendOffending, sendOnConnected, subscribe,
} from './support/v5-helpers.js';

const MALFORMED = 0x81;
const close5 = 'MQTT-4.13.1-1';

/** `${parent}/` + raw bytes, as a Buffer (the raw part may be ill-formed). */
const topicWith = (parent: string, raw: Buffer): Buffer => Buffer.concat([Buffer.from(`${parent}/`), raw]);

/** Publishes to a topic containing `raw` under a watched parent; expects the close and no delivery. */
async function badTopicPublish(t: ConformanceContext, raw: Buffer, what: string, statement: string): Promise<void> {
  const parent = t.topic('u');
  // The bad topic can only be watched through a wildcard; without wildcard support only the close is checked.
  const watch = t.profile.wildcardSubscriptions === false ? undefined : await t.subscriber('watch', `${parent}/#`, { qos: 1 });
  const client = await sendOnConnected(t, 'bad', rawPublish(t.version, { topic: topicWith(parent, raw), qos: 1, packetId: 1, payload: 'bad-utf8' }), what);
  await expectRejected(t, client, { statement, reasons: [MALFORMED], notAnswered: ['puback'], what });
  if (watch) await expectNotDelivered(t, watch, `${parent}/ok`, statement, `the PUBLISH with ${what}`);
  else await brokerStillUp(t);
}

const illFormed: { name: string; bytes: number[] }[] = [
  { name: "an overlong encoding of '/' (C0 AF)", bytes: [0x61, 0xc0, 0xaf, 0x62] },
  { name: 'an encoded surrogate U+D800 (ED A0 80)', bytes: [0x61, 0xed, 0xa0, 0x80] },
  { name: 'a truncated 3-byte sequence (E2 82)', bytes: [0x61, 0xe2, 0x82] },
  { name: 'a byte that never occurs in UTF-8 (FF)', bytes: [0x61, 0xff, 0x62] },
];

for (const c of illFormed) {
  conformance(`a Topic Name with ${c.name} closes the connection and is not delivered`, { v4: ['MQTT-1.5.3-1', 'MQTT-3.3.2-1'], v5: ['MQTT-1.5.4-1', 'MQTT-3.3.2-1', close5] }, async (t) => {
    await badTopicPublish(t, Buffer.from(c.bytes), `a Topic Name containing ${c.name}`, t.version === 5 ? close5 : 'MQTT-1.5.3-1');
  });
}

conformance('a Topic Name containing U+0000 closes the connection and is not delivered', { v4: ['MQTT-1.5.3-2', 'MQTT-4.7.3-2'], v5: ['MQTT-1.5.4-2', 'MQTT-4.7.3-2', close5] }, async (t) => {
  await badTopicPublish(t, Buffer.from([0x61, 0x00, 0x62]), 'a Topic Name containing U+0000', t.version === 5 ? close5 : 'MQTT-1.5.3-2');
});

conformance('a Topic Filter with an encoded surrogate closes the connection unanswered', { v4: ['MQTT-1.5.3-1'], v5: ['MQTT-1.5.4-1', close5] }, async (t) => {
  const filter = topicWith(t.topic('f'), Buffer.from([0xed, 0xbf, 0xbf]));
  const client = await sendOnConnected(t, 'bad', rawSubscribe(t.version, { filters: [{ filter, options: 0 }] }), 'SUBSCRIBE with an encoded surrogate (U+DFFF) in the filter');
  await expectRejected(t, client, { statement: t.version === 5 ? close5 : 'MQTT-1.5.3-1', reasons: [MALFORMED], notAnswered: ['suback'], what: 'a Topic Filter containing U+DFFF' });
  await brokerStillUp(t);
});

conformance('a Topic Filter containing U+0000 closes the connection unanswered', { v4: ['MQTT-1.5.3-2', 'MQTT-4.7.3-2'], v5: ['MQTT-1.5.4-2', 'MQTT-4.7.3-2', close5] }, async (t) => {
  const filter = topicWith(t.topic('f'), Buffer.from([0x00, 0x23]));
  const client = await sendOnConnected(t, 'bad', rawSubscribe(t.version, { filters: [{ filter, options: 0 }] }), 'SUBSCRIBE with U+0000 in the filter');
  await expectRejected(t, client, { statement: t.version === 5 ? close5 : 'MQTT-1.5.3-2', reasons: [MALFORMED], notAnswered: ['suback'], what: 'a Topic Filter containing U+0000' });
  await brokerStillUp(t);
});

for (const [name, raw, v4, v5] of [
  ['an encoded surrogate', Buffer.from([0x63, 0xed, 0xa0, 0x80]), 'MQTT-1.5.3-1', 'MQTT-1.5.4-1'],
  ['U+0000', Buffer.from([0x63, 0x00, 0x64]), 'MQTT-1.5.3-2', 'MQTT-1.5.4-2'],
] as const) {
  conformance(`a Client Identifier containing ${name} is refused and the connection closed`, { v4: [v4], v5: [v5, close5] }, async (t) => {
    const client = await t.open('bad');
    sendOffending(client, rawConnect(t, { clientId: Buffer.concat([Buffer.from(t.clientId('b')), raw]) }), `CONNECT whose Client Identifier contains ${name}`);
    await expectRejected(t, client, { statement: t.version === 5 ? close5 : v4, reasons: [MALFORMED, 0x85], notAnswered: ['connack'], what: `a Client Identifier containing ${name}`, disconnectOptional: true });
    await brokerStillUp(t);
  });
}

// ---------------------------------------------------------------------------
// 5.0: string pairs and string properties
// ---------------------------------------------------------------------------

async function badPropertyPublish(t: ConformanceContext, prop: Buffer, what: string): Promise<void> {
  const topic = t.topic('p');
  const watch = await t.subscriber('watch', topic, { qos: 1 });
  const client = await sendOnConnected(t, 'bad', rawPublish(t.version, { topic, qos: 1, packetId: 1, properties: [prop], payload: 'bad-prop' }), what);
  await expectRejected(t, client, { statement: close5, reasons: [MALFORMED], notAnswered: ['puback'], what });
  await expectNotDelivered(t, watch, topic, close5, `the PUBLISH with ${what}`);
}

conformance('a User Property name with ill-formed UTF-8 closes the connection and is not delivered', { v5: ['MQTT-1.5.7-1', 'MQTT-1.5.4-1', close5] }, async (t) => {
  await badPropertyPublish(t, P.userProperty(Buffer.from([0x6b, 0xc0, 0x80]), 'v'), 'a User Property name containing the overlong C0 80');
});

conformance('a User Property value containing U+0000 closes the connection and is not delivered', { v5: ['MQTT-1.5.7-1', 'MQTT-1.5.4-2', close5] }, async (t) => {
  await badPropertyPublish(t, P.userProperty('k', Buffer.from([0x76, 0x00])), 'a User Property value containing U+0000');
});

conformance('a Content Type with ill-formed UTF-8 closes the connection and is not delivered', { v5: ['MQTT-3.3.2-19', 'MQTT-1.5.4-1', close5] }, async (t) => {
  await badPropertyPublish(t, P.contentType(Buffer.from([0x74, 0x65, 0x78, 0x74, 0xed, 0xb0, 0x80])), 'a Content Type containing an encoded surrogate');
});

conformance('a Response Topic with ill-formed UTF-8 closes the connection and is not delivered', { v5: ['MQTT-3.3.2-13', 'MQTT-1.5.4-1', close5] }, async (t) => {
  await badPropertyPublish(t, P.responseTopic(Buffer.from([0x72, 0x2f, 0xf8, 0x88, 0x80, 0x80, 0x80])), 'a Response Topic containing a 5-byte sequence');
});

// ---------------------------------------------------------------------------
// BOM: kept wherever it appears
// ---------------------------------------------------------------------------

conformance('a BOM (U+FEFF) inside a Topic Name is kept: it matches only a filter with the BOM', { v4: ['MQTT-1.5.3-3', 'MQTT-4.7.3-4'], v5: ['MQTT-1.5.4-3', 'MQTT-4.7.3-4'] }, async (t) => {
  const base = t.topic('bom');
  const withBom = `${base}/\uFEFFx`;
  const withoutBom = `${base}/x`;
  const exact = await t.subscriber('exact', withBom, { qos: 1 });
  const stripped = await t.subscriber('stripped', withoutBom, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, withBom, 'bom', { qos: 1 });
  const got = await t.expect(exact, 'publish', t.version === 5 ? 'MQTT-1.5.4-3' : 'MQTT-1.5.3-3', { what: 'the message on the topic with a BOM' });
  t.check(got.topic === withBom, t.version === 5 ? 'MQTT-1.5.4-3' : 'MQTT-1.5.3-3', `delivered topic ${JSON.stringify(got.topic)} differs from the published ${JSON.stringify(withBom)}`);
  // Barrier: a later message on the BOM-less topic; the message with the BOM must not have reached that subscriber first.
  await publish(t, pub, withoutBom, 'plain', { qos: 1 });
  await t.expect(stripped, 'publish', undefined, { where: (p) => p.payload.toString() === 'plain', what: 'the control message on the topic without BOM' });
  const leaked = publishes(stripped).filter((p) => p.payload.toString() === 'bom');
  t.check(leaked.length === 0, 'MQTT-4.7.3-4', `the message published to '${JSON.stringify(withBom)}' reached the subscriber of '${withoutBom}': the BOM was stripped`);
});

conformance('a BOM at the start of User Property names and values and of the Content Type is forwarded unchanged', { v5: ['MQTT-1.5.4-3', 'MQTT-1.5.7-1', 'MQTT-3.3.2-17', 'MQTT-3.3.2-20'] }, async (t) => {
  const topic = t.topic('bomprop');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  const userProperties: [string, string][] = [['\uFEFFname', '\uFEFFvalue']];
  await publish(t, pub, topic, 'x', { qos: 1, properties: { userProperties, contentType: '\uFEFFtext/plain' } });
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-17', { where: (p) => p.topic === topic });
  t.check(JSON.stringify(got.properties?.userProperties) === JSON.stringify(userProperties), 'MQTT-1.5.4-3', `User Properties arrived as ${JSON.stringify(got.properties?.userProperties)}, sent ${JSON.stringify(userProperties)}`);
  t.check(got.properties?.contentType === '\uFEFFtext/plain', 'MQTT-1.5.4-3', `Content Type arrived as ${JSON.stringify(got.properties?.contentType)}`);
});

// ---------------------------------------------------------------------------
// Variable Byte Integers and Property Length (5.0)
// ---------------------------------------------------------------------------

conformance("the broker's Variable Byte Integers use the fewest bytes (Remaining Length, Property Length, Subscription Identifier)", { v5: ['MQTT-1.5.5-1'] }, async (t) => {
  const topic = t.topic('vbi');
  const { client: sub } = await t.connect('sub');
  const withIds = t.profile.subscriptionIdentifiers !== false;
  await subscribe(t, sub, [{ topicFilter: topic, qos: 1 }], withIds ? { properties: { subscriptionIdentifiers: [200] } } : {});
  const { client: pub } = await t.connect('pub');
  // 200 bytes of payload: a two-byte Remaining Length; a 130-byte User Property: a two-byte Property Length.
  await publish(t, pub, topic, Buffer.alloc(200, 0x41), { qos: 1, properties: { userProperties: [['k', 'v'.repeat(125)]] } });
  // Our decoder rejects a non-minimal Variable Byte Integer anywhere in a packet (undecodable = failure below).
  const got = await t.expect(sub, 'publish', 'MQTT-1.5.5-1', { where: (p) => p.topic === topic });
  t.check(got.payload.length === 200, 'MQTT-1.5.5-1', `payload of ${got.payload.length} bytes, sent 200`);
  if (withIds) t.check(got.properties?.subscriptionIdentifiers?.[0] === 200, undefined, `Subscription Identifier ${JSON.stringify(got.properties?.subscriptionIdentifiers)} instead of [200]`);
});

conformance('packets without properties carry a Property Length of 0 (SUBACK, UNSUBACK, PUBLISH)', { v5: ['MQTT-2.2.2-1'] }, async (t) => {
  const topic = t.topic('pl');
  const { client: sub } = await t.connect('sub');
  // Two filters: a SUBACK without Property Length would read the first reason code as the length.
  const suback = await subscribe(t, sub, [{ topicFilter: topic, qos: 1 }, { topicFilter: `${topic}/other`, qos: 1 }]);
  t.check(suback.reasonCodes.length === 2 && suback.properties === undefined, 'MQTT-2.2.2-1', `SUBACK decoded as ${JSON.stringify(suback)}`);
  const { client: pub } = await t.connect('pub');
  // A payload starting with 0x00: a missing Property Length would swallow that byte.
  const payload = Buffer.from([0x00, 0x01, 0x02, 0x03]);
  await publish(t, pub, topic, payload, { qos: 1 });
  const got = await t.expect(sub, 'publish', 'MQTT-2.2.2-1', { where: (p) => p.topic === topic });
  t.check(got.payload.equals(payload), 'MQTT-2.2.2-1', `payload arrived as ${got.payload.toString('hex')}, sent ${payload.toString('hex')}`);
  sub.send({ type: 'unsubscribe', packetId: 9, topicFilters: [topic, `${topic}/never`] });
  const unsuback = await t.expect(sub, 'unsuback', 'MQTT-3.10.4-4', { where: (a) => a.packetId === 9 });
  t.check((unsuback.reasonCodes ?? []).length === 2, 'MQTT-2.2.2-1', `UNSUBACK decoded with ${(unsuback.reasonCodes ?? []).length} reason codes for 2 filters`);
});

conformance('a Remaining Length in a non-minimal encoding is rejected (or else reported)', { v4: [], v5: [] }, async (t) => {
  const topic = t.topic('nm');
  const watch = await t.subscriber('watch', topic, { qos: 1 });
  const minimal = rawPublish(t.version, { topic, qos: 0, payload: 'non-minimal' });
  const len = minimal[1]!;
  // Remaining Length < 128 written in two bytes: (len | 0x80), 0x00.
  const bytes = Buffer.concat([Buffer.from([0x30, len | 0x80, 0x00]), minimal.subarray(2)]);
  const { client } = await t.connect('bad');
  sendOffending(client, bytes, `PUBLISH whose Remaining Length ${len} is written as 2 bytes`);
  const delivered = await watch.expect('publish', { where: (p) => p.payload.toString() === 'non-minimal', timeoutMs: 500 }).then(() => true, () => false);
  if (delivered) {
    t.finding(`the broker accepted and delivered a PUBLISH whose Remaining Length is not in its shortest form (${t.version === 5 ? '5.0 §1.5.5 [MQTT-1.5.5-1]' : '3.1.1 §2.2.3'} binds the sender; a strict receiver treats it as malformed)`);
  } else if (!client.closed) {
    t.finding('the broker neither delivered nor rejected a PUBLISH with a non-minimal Remaining Length within 500 ms (connection still open)');
  }
  await brokerStillUp(t);
});

/**
 * MQTT 5.0 server capabilities announced in CONNACK and their enforcement
 * (§3.2.2.3.4 Maximum QoS, §3.2.2.3.5 Retain Available, §3.2.2.3.11-13
 * Wildcard / Subscription Identifier / Shared Subscription Available).
 *
 * Each test reads what the broker announced on this connection: a broker that
 * claims full support is checked to really support it, a broker that limits a
 * feature is checked to refuse its use. Assigned Client Identifier, Server
 * Keep Alive, Response Information, Request Problem Information (connect /
 * keep-alive suites), the Will checks of 3.2.2-12/13 (will suite) and 4.12
 * enhanced authentication (auth suite) live elsewhere.
 */
import { conformance } from './support/conformance.js';
import { brokerStillUp, expectNotDelivered, expectRejected, hex, nextId, P, rawSubscribe, sendOffending, sendOffendingPacket, subscribe, watcher } from './support/v5-helpers.js';

const close5 = 'MQTT-4.13.1-1';

conformance('a broker that announces no Maximum QoS accepts QoS 1 and QoS 2 PUBLISHes', { v5: ['MQTT-3.2.2-9'] }, async (t) => {
  const { client, connack } = await t.connect('pub');
  const max = connack.properties?.maximumQoS;
  if (max !== undefined) return t.skip(`the broker announces Maximum QoS ${max} (checked by the tests below)`);
  const topic = t.topic('q');
  const id1 = nextId(client);
  client.send({ type: 'publish', topic, payload: Buffer.from('q1'), qos: 1, retain: false, dup: false, packetId: id1 });
  const ack1 = await t.expect(client, 'puback', 'MQTT-3.2.2-9', { where: (a) => a.packetId === id1, what: 'PUBACK (no Maximum QoS announced, so QoS 1 must be supported)' });
  t.check((ack1.reasonCode ?? 0) < 0x80, 'MQTT-3.2.2-9', `QoS 1 PUBLISH refused with PUBACK ${hex(ack1.reasonCode)}, yet CONNACK announced no Maximum QoS`);
  const id2 = nextId(client);
  client.send({ type: 'publish', topic, payload: Buffer.from('q2'), qos: 2, retain: false, dup: false, packetId: id2 });
  const rec = await t.expect(client, 'pubrec', 'MQTT-3.2.2-9', { where: (a) => a.packetId === id2, what: 'PUBREC (no Maximum QoS announced, so QoS 2 must be supported)' });
  t.check((rec.reasonCode ?? 0) < 0x80, 'MQTT-3.2.2-9', `QoS 2 PUBLISH refused with PUBREC ${hex(rec.reasonCode)}, yet CONNACK announced no Maximum QoS`);
  client.send({ type: 'pubrel', packetId: id2, reasonCode: 0 });
  await t.expect(client, 'pubcomp', 'MQTT-4.3.3-11', { where: (a) => a.packetId === id2 });
  if (t.profile.maxQoS !== undefined && t.profile.maxQoS < 2) {
    t.fail('MQTT-3.2.2-9', `the profile says the broker supports QoS ${t.profile.maxQoS} at most, but its CONNACK announces no Maximum QoS`);
  }
});

conformance('a broker with a Maximum QoS below 2 still accepts SUBSCRIBE requesting QoS 0, 1 and 2', { v5: ['MQTT-3.2.2-10'] }, async (t) => {
  const { client, connack } = await t.connect('sub');
  const max = connack.properties?.maximumQoS;
  if (max === undefined) return t.skip('the broker announces no Maximum QoS (it supports QoS 2)');
  const base = t.topic('mq');
  const ack = await subscribe(t, client, [0, 1, 2].map((q) => ({ topicFilter: `${base}/${q}`, qos: q as 0 | 1 | 2 })), { requireGranted: false });
  t.check(ack.reasonCodes.length === 3 && ack.reasonCodes.every((c) => c < 0x80), 'MQTT-3.2.2-10', `SUBACK ${ack.reasonCodes.map(hex).join(',')} for requested QoS 0,1,2 (Maximum QoS ${max})`);
  const over = ack.reasonCodes.filter((c) => c > max);
  if (over.length > 0) t.finding(`SUBACK grants QoS ${over.join(',')} above the announced Maximum QoS ${max}`);
});

conformance('a PUBLISH above the announced Maximum QoS is a Protocol Error (DISCONNECT 0x9B) and not delivered', { v5: [close5, 'MQTT-4.13.2-1'] }, async (t) => {
  const { watch, topic } = await watcher(t);
  const { client, connack } = await t.connect('bad');
  const max = connack.properties?.maximumQoS;
  if (max === undefined) return t.skip('the broker announces no Maximum QoS (it supports QoS 2)');
  const qos = (max + 1) as 1 | 2;
  sendOffendingPacket(client, { type: 'publish', topic, payload: Buffer.from('over-max'), qos, retain: false, dup: false, packetId: 1 });
  await expectRejected(t, client, { statement: close5, reasons: [0x9b], notAnswered: ['puback', 'pubrec'], what: `a QoS ${qos} PUBLISH with Maximum QoS ${max}` });
  await expectNotDelivered(t, watch, topic, close5, `the QoS ${qos} PUBLISH above Maximum QoS ${max}`);
});

conformance('a broker that announces Retain Available 0 refuses a PUBLISH with RETAIN 1 (DISCONNECT 0x9A)', { v5: [close5, 'MQTT-4.13.2-1'] }, async (t) => {
  const { watch, topic } = await watcher(t);
  const { client, connack } = await t.connect('bad');
  if (connack.properties?.retainAvailable !== 0) return t.skip('the broker announces retained messages as available');
  sendOffendingPacket(client, { type: 'publish', topic, payload: Buffer.from('retained'), qos: 1, retain: true, dup: false, packetId: 1 });
  await expectRejected(t, client, { statement: close5, reasons: [0x9a], notAnswered: ['puback'], what: 'a PUBLISH with RETAIN 1 while Retain Available is 0' });
  await expectNotDelivered(t, watch, topic, close5, 'the retained PUBLISH');
});

conformance('a broker that announces Subscription Identifier Available 0 refuses a SUBSCRIBE carrying one (0xA1)', { v5: [close5, 'MQTT-4.13.2-1'] }, async (t) => {
  const { client, connack } = await t.connect('bad');
  if (connack.properties?.subscriptionIdentifierAvailable !== 0) return t.skip('the broker announces Subscription Identifiers as available');
  sendOffending(client, rawSubscribe(5, { filters: [{ filter: t.topic('sid'), options: 1 }], properties: [P.subscriptionId(3)] }), 'SUBSCRIBE with a Subscription Identifier');
  await expectRejected(t, client, { statement: close5, reasons: [0xa1], notAnswered: ['suback'], what: 'a SUBSCRIBE with a Subscription Identifier while they are not available' });
  await brokerStillUp(t);
});

for (const f of [
  { name: 'Wildcard Subscription Available', prop: 'wildcardSubscriptionAvailable', code: 0xa2, filter: (b: string) => `${b}/+` },
  { name: 'Shared Subscription Available', prop: 'sharedSubscriptionAvailable', code: 0x9e, filter: (b: string) => `$share/g/${b}` },
] as const) {
  conformance(`a broker that announces ${f.name} 0 does not grant such a subscription`, { v5: [close5] }, async (t) => {
    const { client, connack } = await t.connect('bad');
    if (connack.properties?.[f.prop] !== 0) return t.skip(`the broker announces ${f.name}`);
    const filter = f.filter(t.topic('x'));
    sendOffending(client, rawSubscribe(5, { filters: [{ filter, options: 1 }] }), `SUBSCRIBE to ${filter}`);
    const ack = await client.expect('suback', { timeoutMs: t.timeoutMs }).catch(() => undefined);
    if (ack) {
      // The SUBACK table has this code too: refusing the subscription without closing is what most brokers do.
      t.check(ack.reasonCodes[0]! >= 0x80, close5, `the broker granted '${filter}' (SUBACK ${hex(ack.reasonCodes[0])}) although it announced ${f.name} 0`);
      if (ack.reasonCodes[0] !== f.code) t.finding(`'${filter}' refused with SUBACK ${hex(ack.reasonCodes[0])}; ${hex(f.code)} names the reason`);
    } else {
      await expectRejected(t, client, { statement: close5, reasons: [f.code], what: `SUBSCRIBE to '${filter}' while ${f.name} is 0` });
    }
    await brokerStillUp(t);
  });
}

/**
 * MQTT 5.0 flow control (§4.9, §3.3.4, Receive Maximum in §3.1.2.11.3 and
 * §3.2.2.3.3): the broker never has more unacknowledged QoS 1/2 PUBLISHes
 * towards a client than that client's Receive Maximum, keeps answering every
 * other packet while its quota is zero, and refuses a client that exceeds the
 * broker's own Receive Maximum (DISCONNECT 0x93).
 */
import type { PublishPacket } from '../codec/index.js';
import { conformance } from './support/conformance.js';
import { brokerStillUp, expectRejected, nextId, P, publish, rawConnect, sendOffending, sendOffendingPacket } from './support/v5-helpers.js';

const SILENCE = 300;

conformance('the broker keeps at most Receive Maximum QoS 1 PUBLISHes unacknowledged towards a client', { v5: ['MQTT-3.3.4-9', 'MQTT-4.9.0-1', 'MQTT-4.9.0-2'] }, async (t) => {
  const topic = t.topic('rm1');
  const RM = 2;
  const total = 4;
  const s = await t.subscriber('sub', topic, { qos: 1, properties: { receiveMaximum: RM } });
  const { client: pub } = await t.connect('pub');
  for (let i = 0; i < total; i++) await publish(t, pub, topic, `m${i}`, { qos: 1 });
  const outstanding: PublishPacket[] = [];
  for (let received = 0; received < total;) {
    const p = await t.expect(s, 'publish', undefined, { where: (x) => x.topic === topic, what: `message ${received + 1} of ${total} (held back and never sent after acknowledgements?)` });
    received++;
    outstanding.push(p);
    t.check(p.qos === 1, undefined, `message delivered at QoS ${p.qos}, subscription granted QoS 1 (test precondition)`);
    t.check(outstanding.length <= RM, 'MQTT-3.3.4-9', `${outstanding.length} QoS 1 PUBLISHes unacknowledged; the client's Receive Maximum is ${RM}`);
    if (outstanding.length === RM) {
      await t.expectNothing(s, SILENCE, 'MQTT-4.9.0-2', (x) => x.type === 'publish' && x.topic === topic, `no PUBLISH while ${RM} are unacknowledged (Receive Maximum ${RM})`);
      const oldest = outstanding.shift()!;
      s.send({ type: 'puback', packetId: oldest.packetId! });
    }
  }
});

conformance('a QoS 2 PUBLISH counts against Receive Maximum until its PUBCOMP', { v5: ['MQTT-3.3.4-9', 'MQTT-4.9.0-2'], requires: ['qos2'] }, async (t) => {
  const topic = t.topic('rm2');
  const s = await t.subscriber('sub', topic, { qos: 2, properties: { receiveMaximum: 1 } });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'first', { qos: 2 });
  await publish(t, pub, topic, 'second', { qos: 2 });
  const first = await t.expect(s, 'publish', undefined, { where: (p) => p.topic === topic, what: 'the first QoS 2 message (test precondition)' });
  t.check(first.qos === 2, undefined, `delivered at QoS ${first.qos}, subscription granted QoS 2 (test precondition)`);
  s.send({ type: 'pubrec', packetId: first.packetId! });
  await t.expect(s, 'pubrel', 'MQTT-4.3.3-4', { where: (r) => r.packetId === first.packetId });
  await t.expectNothing(s, SILENCE, 'MQTT-3.3.4-9', (p) => p.type === 'publish' && p.topic === topic, 'no second PUBLISH before the first is completed by PUBCOMP (Receive Maximum 1)');
  s.send({ type: 'pubcomp', packetId: first.packetId! });
  const second = await t.expect(s, 'publish', undefined, { where: (p) => p.topic === topic, what: 'the second message after PUBCOMP' });
  t.check(second.payload.toString() === 'second', undefined, `after PUBCOMP got '${second.payload.toString()}'`);
});

conformance('with its send quota at zero the broker still answers PINGREQ, SUBSCRIBE, UNSUBSCRIBE and PUBLISH', { v5: ['MQTT-3.3.4-10', 'MQTT-4.9.0-3', 'MQTT-3.3.4-9'] }, async (t) => {
  const topic = t.topic('quota0');
  const other = t.topic('other');
  const s = await t.subscriber('sub', topic, { qos: 1, properties: { receiveMaximum: 1 } });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'held', { qos: 1 });
  await publish(t, pub, topic, 'queued', { qos: 1 });
  const held = await t.expect(s, 'publish', undefined, { where: (p) => p.topic === topic, what: 'the first message (test precondition)' });
  // Quota is zero now. Everything but QoS > 0 PUBLISH must still flow.
  s.send({ type: 'pingreq' });
  await t.expect(s, 'pingresp', 'MQTT-3.3.4-10', { what: 'PINGRESP while the send quota is zero' });
  const subId = nextId(s);
  s.send({ type: 'subscribe', packetId: subId, subscriptions: [{ topicFilter: other, qos: 1 }] });
  await t.expect(s, 'suback', 'MQTT-3.3.4-10', { where: (a) => a.packetId === subId, what: 'SUBACK while the send quota is zero' });
  const unsubId = nextId(s);
  s.send({ type: 'unsubscribe', packetId: unsubId, topicFilters: [other] });
  await t.expect(s, 'unsuback', 'MQTT-3.3.4-10', { where: (a) => a.packetId === unsubId, what: 'UNSUBACK while the send quota is zero' });
  const pubId = nextId(s);
  s.send({ type: 'publish', topic: other, payload: Buffer.from('from-sub'), qos: 1, retain: false, dup: false, packetId: pubId });
  await t.expect(s, 'puback', 'MQTT-4.9.0-3', { where: (a) => a.packetId === pubId, what: 'PUBACK for the client\'s own PUBLISH while the send quota is zero' });
  const early = s.received.find((p) => p.type === 'publish' && p.payload.toString() === 'queued');
  t.check(!early, 'MQTT-3.3.4-9', 'the second QoS 1 message was sent while the first was unacknowledged (Receive Maximum 1)');
  s.send({ type: 'puback', packetId: held.packetId! });
  await t.expect(s, 'publish', undefined, { where: (p) => p.payload.toString() === 'queued', what: 'the queued message once the quota is back' });
});

conformance('a client exceeding the broker\'s Receive Maximum is disconnected (0x93)', { v5: ['MQTT-4.13.1-1', 'MQTT-4.13.2-1'], requires: ['qos2'] }, async (t) => {
  const topic = t.topic('exceed');
  const { client, connack } = await t.connect('bad');
  const rm = connack.properties?.receiveMaximum ?? 65535;
  if (rm >= 65535) t.skip(`the broker announces Receive Maximum ${rm}: with 65,535 Packet Identifiers a client cannot exceed it`);
  if (rm > 10_000) t.skip(`the broker announces Receive Maximum ${rm}: too many in-flight messages to exceed it within the test budget`);
  // QoS 2 PUBLISHes stay unacknowledged for the broker until it sends PUBCOMP, which needs our PUBREL: never sent.
  for (let i = 1; i <= rm; i++) {
    client.send({ type: 'publish', topic, payload: Buffer.from(`m${i}`), qos: 2, retain: false, dup: false, packetId: i });
  }
  const last = await t.expect(client, 'pubrec', undefined, { where: (r) => r.packetId === rm, what: `PUBREC for in-flight message ${rm} of ${rm} (test precondition)` });
  t.check((last.reasonCode ?? 0) < 0x80, undefined, `QoS 2 message ${rm} refused with PUBREC 0x${(last.reasonCode ?? 0).toString(16)} (test precondition)`);
  const refused = client.received.filter((p) => p.type === 'pubrec' && (p.reasonCode ?? 0) >= 0x80);
  t.check(refused.length === 0, undefined, `the broker refused ${refused.length} of the first ${rm} QoS 2 messages (test precondition)`);
  sendOffendingPacket(client, { type: 'publish', topic, payload: Buffer.from('one-too-many'), qos: 2, retain: false, dup: false, packetId: rm + 1 });
  await expectRejected(t, client, { statement: 'MQTT-4.13.1-1', reasons: [0x93], notAnswered: ['pubrec'], what: `QoS 2 PUBLISH number ${rm + 1} (Receive Maximum ${rm})` });
  await brokerStillUp(t);
});

conformance('a CONNECT with Receive Maximum 0 is refused and the connection closed', { v5: ['MQTT-3.1.4-1'] }, async (t) => {
  const client = await t.open('bad');
  sendOffending(client, rawConnect(t, { properties: [P.receiveMaximum(0)] }), 'CONNECT with Receive Maximum 0');
  await expectRejected(t, client, { statement: 'MQTT-3.1.4-1', reasons: [0x82], notAnswered: ['connack'], what: 'CONNECT with Receive Maximum 0', disconnectOptional: true });
  await brokerStillUp(t);
});

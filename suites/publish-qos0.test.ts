/**
 * PUBLISH at QoS 0 (3.1.1 §3.3, §4.3.1; 5.0 §3.3, §4.3.1): the broker as
 * receiver (no acknowledgement) and as sender (QoS 0, DUP 0, no Packet
 * Identifier), and delivery to every matching subscription.
 */
import { conformance } from './support/conformance.js';
import { publish, receive, sendPublish, SILENCE_MS, subscribeOk, sv, text } from './support/publish-helpers.js';

conformance('a QoS 0 PUBLISH is forwarded with QoS 0, DUP 0, no Packet Identifier and the payload intact', {
  v4: ['MQTT-4.3.1-1', 'MQTT-3.3.1-2', 'MQTT-2.3.1-5', 'MQTT-3.3.2-1', 'MQTT-3.3.2-3'],
  v5: ['MQTT-4.3.1-1', 'MQTT-3.3.1-2', 'MQTT-2.2.1-2', 'MQTT-3.3.2-1', 'MQTT-3.3.2-3'],
}, async (t) => {
  const topic = t.topic('q0');
  // Subscribed at QoS 2: the QoS 0 message must still go out at QoS 0.
  const sub = await t.subscriber('sub', topic, { qos: t.profile.maxQoS ?? 2 });
  const { client: pub } = await t.connect('pub');
  // A payload whose first two bytes would be eaten as a Packet Identifier if the broker wrongly wrote one.
  const payload = 'QoS0 payload, intact';
  sendPublish(pub, topic, payload, 0);
  const [p] = await receive(t, sub, 1, 'MQTT-4.3.1-1', { where: (x) => x.topic === topic });
  t.check(p!.qos === 0, 'MQTT-4.3.1-1', `forwarded at QoS ${p!.qos}, published at QoS 0`);
  t.check(!p!.dup, 'MQTT-3.3.1-2', 'DUP is 1 on a QoS 0 PUBLISH');
  t.check(p!.packetId === undefined, sv(t, 'MQTT-2.3.1-5', 'MQTT-2.2.1-2'), `QoS 0 PUBLISH has Packet Identifier ${String(p!.packetId)}`);
  t.check(text(p!) === payload, sv(t, 'MQTT-2.3.1-5', 'MQTT-2.2.1-2'), `payload '${text(p!)}' differs from '${payload}' (a Packet Identifier in a QoS 0 PUBLISH shifts the payload)`);
  t.check(p!.topic === topic, 'MQTT-3.3.2-3', `Topic Name '${p!.topic}' is not the published '${topic}'`);
});

conformance('a QoS 0 PUBLISH is not acknowledged', { v4: ['MQTT-3.3.4-1'], v5: ['MQTT-3.3.4-1'] }, async (t) => {
  const topic = t.topic('noack');
  const sub = await t.subscriber('sub', topic);
  const { client: pub } = await t.connect('pub');
  sendPublish(pub, topic, 'x', 0);
  pub.send({ type: 'pingreq' });
  await t.expect(pub, 'pingresp', undefined, { what: 'PINGRESP (precondition)' });
  await receive(t, sub, 1, undefined, { where: (p) => p.topic === topic, what: 'PUBLISH (precondition)' });
  await t.expectNothing(pub, SILENCE_MS, 'MQTT-3.3.4-1', (p) => p.type === 'puback' || p.type === 'pubrec', 'no acknowledgement of a QoS 0 PUBLISH');
});

conformance('a QoS 0 message reaches every client subscribed to its topic', { v4: ['MQTT-4.5.0-1'], v5: ['MQTT-4.5.0-1'] }, async (t) => {
  const topic = t.topic('fan');
  const subs = await Promise.all(['s0', 's1', 's2'].map((l, i) => t.subscriber(l, topic, { qos: Math.min(i, t.profile.maxQoS ?? 2) as 0 | 1 | 2 })));
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'to all', 0);
  for (const sub of subs) {
    const [p] = await receive(t, sub, 1, 'MQTT-4.5.0-1', { where: (x) => x.topic === topic, what: `PUBLISH to ${sub.label}` });
    t.check(text(p!) === 'to all' && p!.qos === 0, 'MQTT-4.5.0-1', `${sub.label} got '${text(p!)}' at QoS ${p!.qos}`);
  }
});

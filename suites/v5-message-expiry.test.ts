/**
 * MQTT 5.0 Message Expiry Interval (§3.3.2.3.3): a copy that expires before
 * delivery starts is deleted, and a forwarded copy carries the interval minus
 * the time it waited in the broker; for queued (offline session) and retained
 * messages.
 *
 * Expiry is measured in whole seconds, so these tests let real time pass (the
 * only non-event waits in the suites): 1.2 s to see an interval decrease,
 * 2.2 s for a 1-second interval to have certainly run out.
 */
import { conformance } from './support/conformance.js';
import { clearRetained, publish, publishes, subscribe } from './support/v5-helpers.js';

/** Lets `ms` of wall-clock time pass: expiry is defined in seconds and no packet marks its passing. */
const letTimePass = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

conformance('a message forwarded at once carries a Message Expiry Interval no larger than the one published', { v5: ['MQTT-3.3.2-6'] }, async (t) => {
  const topic = t.topic('live');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'live', { qos: 1, properties: { messageExpiryInterval: 60 } });
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-6', { where: (p) => p.topic === topic });
  const e = got.properties?.messageExpiryInterval;
  t.check(e !== undefined && e >= 59 && e <= 60, 'MQTT-3.3.2-6', `forwarded Message Expiry Interval ${e ?? 'absent'}; published 60 and forwarded at once`);
});

conformance('a message queued for an offline session carries the interval reduced by its waiting time', { v5: ['MQTT-3.3.2-6'], requires: ['persistentSessions'] }, async (t) => {
  const topic = t.topic('queued');
  const clientId = t.clientId('sub');
  const first = await t.subscriber('sub', topic, { qos: 1, clientId, clean: true, properties: { sessionExpiryInterval: 60 } });
  first.disconnect();
  await first.expectClose();
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'queued', { qos: 1, properties: { messageExpiryInterval: 10 } });
  await letTimePass(1200);
  const { client: sub, connack } = await t.connect('sub-again', { clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
  t.check(connack.sessionPresent, undefined, 'the session was not kept (Session Present 0): test precondition, see the session suite');
  const got = await t.expect(sub, 'publish', undefined, { where: (p) => p.topic === topic, what: 'the message queued while offline (test precondition)' });
  const e = got.properties?.messageExpiryInterval;
  t.check(e !== undefined, 'MQTT-3.3.2-6', 'the queued message lost its Message Expiry Interval');
  t.check(e! <= 9 && e! >= 1, 'MQTT-3.3.2-6', `Message Expiry Interval ${e} after waiting 1.2 s in the broker; published 10, so at most 9 expected`);
});

conformance('a queued message that expires before the session reconnects is not delivered', { v5: ['MQTT-3.3.2-5'], requires: ['persistentSessions'] }, async (t) => {
  const topic = t.topic('expired');
  const clientId = t.clientId('sub');
  const first = await t.subscriber('sub', topic, { qos: 1, clientId, clean: true, properties: { sessionExpiryInterval: 60 } });
  first.disconnect();
  await first.expectClose();
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await letTimePass(2200);
  await publish(t, pub, topic, 'stays', { qos: 1 });
  const { client: sub } = await t.connect('sub-again', { clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
  // The surviving message was queued after the expired one: once it arrives, the expired one would have come first.
  await t.expect(sub, 'publish', undefined, { where: (p) => p.payload.toString() === 'stays', what: 'the message without expiry queued after the expired one (test precondition)' });
  const expired = publishes(sub, topic).filter((p) => p.payload.toString() === 'expires');
  t.check(expired.length === 0, 'MQTT-3.3.2-5', `the message with Message Expiry Interval 1 was delivered 2.2 s later (Message Expiry Interval on delivery: ${expired[0]?.properties?.messageExpiryInterval ?? 'absent'})`);
});

conformance('an expired retained message is not sent to a new subscriber', { v5: ['MQTT-3.3.2-5'], requires: ['retain'] }, async (t) => {
  const base = t.topic('ret-exp');
  const { client: pub } = await t.connect('pub');
  try {
    await publish(t, pub, `${base}/expires`, 'expires', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await letTimePass(2200);
    await publish(t, pub, `${base}/stays`, 'stays', { qos: 1, retain: true });
    const { client: sub } = await t.connect('sub');
    await subscribe(t, sub, [{ topicFilter: `${base}/#`, qos: 1 }]);
    await t.expect(sub, 'publish', undefined, { where: (p) => p.payload.toString() === 'stays', what: 'the retained message without expiry (test precondition)' });
    // Retained messages of one SUBSCRIBE may come in any order: a short bounded silence for the expired one.
    await t.expectNothing(sub, 400, 'MQTT-3.3.2-5', (p) => p.type === 'publish' && p.payload.toString() === 'expires', 'no expired retained message');
  } finally {
    clearRetained(pub, `${base}/expires`);
    clearRetained(pub, `${base}/stays`);
  }
});

conformance('a retained message is sent with its Message Expiry Interval reduced by the time it was kept', { v5: ['MQTT-3.3.2-6'], requires: ['retain'] }, async (t) => {
  const topic = t.topic('ret-dec');
  const { client: pub } = await t.connect('pub');
  try {
    await publish(t, pub, topic, 'kept', { qos: 1, retain: true, properties: { messageExpiryInterval: 10 } });
    await letTimePass(1200);
    const { client: sub } = await t.connect('sub');
    await subscribe(t, sub, [{ topicFilter: topic, qos: 1 }]);
    const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-6', { where: (p) => p.topic === topic, what: 'the retained message (still 8+ s to live)' });
    const e = got.properties?.messageExpiryInterval;
    t.check(e !== undefined, 'MQTT-3.3.2-6', 'the retained message lost its Message Expiry Interval');
    t.check(e! <= 9 && e! >= 1, 'MQTT-3.3.2-6', `Message Expiry Interval ${e} after 1.2 s as a retained message; published 10, so at most 9 expected`);
  } finally {
    clearRetained(pub, topic);
  }
});

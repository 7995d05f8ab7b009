/**
 * Retained messages (3.1.1 §3.3.1.3, 5.0 §3.3.1.3, with Retain Handling 0
 * and Retain As Published 0, the defaults): stored and sent to new
 * subscriptions with RETAIN 1, forwarded live with RETAIN 0, replaced,
 * cleared by an empty payload, untouched by non-retained messages, and sent
 * again when a subscription is replaced.
 */
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { clearRetained, expectNoPublish, publish, receive, subscribeOk, sv, text } from './support/publish-helpers.js';

/** Runs `body`, then clears the retained messages of `topics` (best effort) so no state outlives the test. */
async function withRetained(t: ConformanceContext, topics: string[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } finally {
    await clearRetained(t, topics);
  }
}

conformance('a retained message is sent to a new subscription with RETAIN 1', {
  v4: ['MQTT-3.3.1-5', 'MQTT-3.3.1-6', 'MQTT-3.3.1-8'],
  v5: ['MQTT-3.3.1-5', 'MQTT-3.3.1-9'],
  requires: ['retain', 'qos1'],
}, async (t) => {
  const topic = t.topic('r');
  await withRetained(t, [topic], async () => {
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'kept', 1, { retain: true });
    const sub = await t.subscriber('sub', topic, { qos: 1 });
    const [p] = await receive(t, sub, 1, sv(t, 'MQTT-3.3.1-6', 'MQTT-3.3.1-9'), { where: (x) => x.topic === topic, what: 'the retained message' });
    t.check(text(p!) === 'kept', sv(t, 'MQTT-3.3.1-6', 'MQTT-3.3.1-9'), `got '${text(p!)}'`);
    t.check(p!.retain, sv(t, 'MQTT-3.3.1-8', 'MQTT-3.3.1-9'), 'a retained message sent because of a new subscription has RETAIN 0');
    t.check(p!.qos === 1, 'MQTT-3.3.1-5', `retained at QoS 1, subscribed at QoS 1, sent at QoS ${p!.qos}`);
  });
});

conformance('a message forwarded to an existing subscription has RETAIN 0 even when published retained', {
  v4: ['MQTT-3.3.1-9'], v5: ['MQTT-3.3.1-12'], requires: ['retain', 'qos1'],
}, async (t) => {
  const topic = t.topic('live');
  await withRetained(t, [topic], async () => {
    const sub = await t.subscriber('sub', topic, { qos: 1 });
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'live', 1, { retain: true });
    const [p] = await receive(t, sub, 1, sv(t, 'MQTT-3.3.1-9', 'MQTT-3.3.1-12'), { where: (x) => x.topic === topic });
    t.check(!p!.retain, sv(t, 'MQTT-3.3.1-9', 'MQTT-3.3.1-12'), 'a message forwarded to an existing subscription (Retain As Published 0) has RETAIN 1');
  });
});

conformance('a newer retained message replaces the older one', { v4: ['MQTT-3.3.1-5'], v5: ['MQTT-3.3.1-5'], requires: ['retain', 'qos1'] }, async (t) => {
  const topic = t.topic('rep');
  await withRetained(t, [topic], async () => {
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'old', 1, { retain: true });
    await publish(t, pub, topic, 'new', 1, { retain: true });
    const sub = await t.subscriber('sub', topic, { qos: 1 });
    const [p] = await receive(t, sub, 1, 'MQTT-3.3.1-5', { where: (x) => x.topic === topic });
    t.check(text(p!) === 'new', 'MQTT-3.3.1-5', `new subscriber got '${text(p!)}', not the latest retained message`);
    await expectNoPublish(t, sub, 'MQTT-3.3.1-5', (x) => x.topic === topic, 'only the latest retained message');
  });
});

conformance('a retained QoS 0 message discards the previous retained message', { v4: ['MQTT-3.3.1-7'], requires: ['retain', 'qos1'] }, async (t) => {
  const topic = t.topic('q0');
  await withRetained(t, [topic], async () => {
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'qos1', 1, { retain: true });
    await publish(t, pub, topic, 'qos0', 0, { retain: true });
    // Make sure the QoS 0 message was processed before subscribing: a round trip on the same connection.
    await publish(t, pub, t.topic('fence'), 'fence', 1);
    const sub = await t.subscriber('sub', topic, { qos: 1 });
    const p = await sub.expect('publish', { where: (x) => x.topic === topic, timeoutMs: 1000 }).catch(() => undefined);
    if (!p) {
      t.finding('the retained QoS 0 message was not kept (allowed: the server "MAY choose to discard it at any time"; keeping it is advised)');
      return;
    }
    t.check(text(p) === 'qos0', 'MQTT-3.3.1-7', `new subscriber got '${text(p)}': the older retained message survived a retained QoS 0 PUBLISH`);
  });
});

conformance('a retained PUBLISH with an empty payload is delivered and clears the retained message', {
  v4: ['MQTT-3.3.1-10', 'MQTT-3.3.1-11'], v5: ['MQTT-3.3.1-6', 'MQTT-3.3.1-7'], requires: ['retain', 'qos1'],
}, async (t) => {
  const topic = t.topic('clr');
  await withRetained(t, [topic], async () => {
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'to be cleared', 1, { retain: true });
    const live = await t.subscriber('live', topic, { qos: 1 });
    await receive(t, live, 1, undefined, { where: (x) => x.topic === topic && text(x) === 'to be cleared', what: 'the retained message (precondition)' });
    await publish(t, pub, topic, Buffer.alloc(0), 1, { retain: true });
    const [p] = await receive(t, live, 1, sv(t, 'MQTT-3.3.1-10', 'MQTT-3.3.1-6'), { where: (x) => x.topic === topic, what: 'the empty retained PUBLISH, delivered normally' });
    t.check(p!.payload.length === 0, sv(t, 'MQTT-3.3.1-10', 'MQTT-3.3.1-6'), `delivered payload '${text(p!)}'`);
    const fresh = await t.subscriber('fresh', topic, { qos: 1 });
    await expectNoPublish(t, fresh, sv(t, 'MQTT-3.3.1-11', 'MQTT-3.3.1-7'), (x) => x.topic === topic, 'no retained message after the empty retained PUBLISH');
  });
});

conformance('a PUBLISH with RETAIN 0 leaves the retained message as it is', {
  v4: ['MQTT-3.3.1-12'], v5: ['MQTT-3.3.1-8'], requires: ['retain', 'qos1'],
}, async (t) => {
  const topic = t.topic('keep');
  const st = sv(t, 'MQTT-3.3.1-12', 'MQTT-3.3.1-8');
  await withRetained(t, [topic], async () => {
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'retained', 1, { retain: true });
    await publish(t, pub, topic, 'not retained', 1);
    await publish(t, pub, topic, Buffer.alloc(0), 1); // empty, RETAIN 0: does not clear either
    const sub = await t.subscriber('sub', topic, { qos: 1 });
    const [p] = await receive(t, sub, 1, st, { where: (x) => x.topic === topic, what: 'the retained message' });
    t.check(text(p!) === 'retained', st, `new subscriber got '${text(p!)}'`);
    await expectNoPublish(t, sub, st, (x) => x.topic === topic, 'nothing but the retained message');
  });
});

conformance('a retained message is sent at the lower of its QoS and the granted QoS', {
  v4: ['MQTT-3.3.1-5', 'MQTT-3.8.4-6'], v5: ['MQTT-3.3.1-5', 'MQTT-3.8.4-8'], requires: ['retain', 'qos1'],
}, async (t) => {
  const topic = t.topic('rq');
  await withRetained(t, [topic], async () => {
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'retained at 1', 1, { retain: true });
    const sub0 = await t.subscriber('sub0', topic, { qos: 0 });
    const [a] = await receive(t, sub0, 1, 'MQTT-3.3.1-5', { where: (x) => x.topic === topic });
    t.check(a!.qos === 0, sv(t, 'MQTT-3.8.4-6', 'MQTT-3.8.4-8'), `retained QoS 1 to a QoS 0 subscription sent at QoS ${a!.qos}`);
    const top = t.profile.maxQoS ?? 2;
    const subTop = await t.subscriber('subtop', topic, { qos: top });
    const [b] = await receive(t, subTop, 1, 'MQTT-3.3.1-5', { where: (x) => x.topic === topic });
    t.check(b!.qos === 1, 'MQTT-3.3.1-5', `retained at QoS 1, subscribed at QoS ${top}, sent at QoS ${b!.qos}: the stored QoS was not kept`);
  });
});

conformance('a wildcard subscription receives the retained message of every matching topic', {
  v4: ['MQTT-3.3.1-6', 'MQTT-3.3.1-8'], v5: ['MQTT-3.3.1-9'], requires: ['retain', 'wildcards', 'qos1'],
}, async (t) => {
  const topics = ['w', 'w/a', 'w/b/c'].map((x) => t.topic(x));
  const other = t.topic('wx');
  await withRetained(t, [...topics, other], async () => {
    const { client: pub } = await t.connect('pub');
    for (const topic of [...topics, other]) await publish(t, pub, topic, topic, 1, { retain: true });
    const sub = await t.subscriber('sub', t.topic('w/#'), { qos: 1 });
    const st = sv(t, 'MQTT-3.3.1-6', 'MQTT-3.3.1-9');
    const got = await receive(t, sub, topics.length, st, { where: (x) => x.topic.startsWith(t.topic('w')), what: 'retained message' });
    t.check(got.map((p) => p.topic).sort().join(' ') === [...topics].sort().join(' '), st, `retained messages received for [${got.map((p) => p.topic).join(', ')}]`);
    t.check(got.every((p) => p.retain), sv(t, 'MQTT-3.3.1-8', 'MQTT-3.3.1-9'), 'a retained message sent on subscription has RETAIN 0');
    await expectNoPublish(t, sub, st, (x) => x.topic.startsWith(t.topic('w')), 'no other retained message');
  });
});

conformance('subscribing again with an identical filter sends the retained messages again', {
  v4: ['MQTT-3.8.4-3'], v5: ['MQTT-3.8.4-4', 'MQTT-3.3.1-9'], requires: ['retain', 'qos1'],
}, async (t) => {
  const topic = t.topic('again');
  const st = sv(t, 'MQTT-3.8.4-3', 'MQTT-3.8.4-4');
  await withRetained(t, [topic], async () => {
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'retained', 1, { retain: true });
    const sub = await t.subscriber('sub', topic, { qos: 1 });
    await receive(t, sub, 1, undefined, { where: (x) => x.topic === topic, what: 'the retained message on the first SUBSCRIBE (precondition)' });
    await subscribeOk(t, sub, topic, { qos: 1 });
    const [p] = await receive(t, sub, 1, st, { where: (x) => x.topic === topic, what: 'the retained message again, after the identical SUBSCRIBE' });
    t.check(p!.retain && text(p!) === 'retained', st, `got '${text(p!)}' with RETAIN ${p!.retain ? 1 : 0}`);
  });
});

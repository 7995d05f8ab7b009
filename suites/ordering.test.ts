/**
 * Message ordering (3.1.1 §4.6, 5.0 §4.6): every topic is an Ordered Topic
 * by default, so messages of one publisher on one topic at one QoS reach a
 * subscriber in the order the broker received them, pipelined or queued for
 * an offline client.
 */
import type { ConnackPacket, PublishPacket } from '../codec/index.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  connectFreshPersistent, dropConnection, endSession, pipeline, receive, resume, serverReceiveMaximum, subscribeOk, sv, text,
} from './support/publish-helpers.js';

const N = 40;

/** Messages in flight at once: pipelined, within the broker's 5.0 Receive Maximum. */
function windowFor(connack: ConnackPacket): number {
  return Math.min(10, serverReceiveMaximum(connack));
}

function checkOrder(t: ConformanceContext, got: PublishPacket[], what: string): void {
  const seq = got.map((p) => Number(text(p)));
  const bad = seq.findIndex((v, i) => i > 0 && v < seq[i - 1]!);
  t.check(bad < 0, sv(t, 'MQTT-4.6.0-6', 'MQTT-4.6.0-5'), `${what}: message ${seq[bad] ?? '?'} arrived after ${seq[bad - 1] ?? '?'} (sequence ${seq.join(',')})`);
}

for (const qos of [0, 1, 2] as const) {
  conformance(`QoS ${qos} messages of one publisher on one topic arrive in the order sent`, {
    v4: ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'], v5: ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'],
    requires: qos === 2 ? ['qos2'] : qos === 1 ? ['qos1'] : [],
  }, async (t) => {
    const topic = t.topic(`q${qos}`);
    const sub = await t.subscriber('sub', topic, { qos });
    const { client: pub, connack } = await t.connect('pub');
    const sending = pipeline(t, pub, [topic], N, qos, windowFor(connack));
    // QoS 0 may legitimately be dropped under load; QoS 1 and 2 may not.
    const got = await receive(t, sub, N, qos === 0 ? undefined : sv(t, 'MQTT-4.6.0-6', 'MQTT-4.6.0-5'), { where: (p) => p.topic === topic, what: 'message' });
    await sending;
    checkOrder(t, got, `QoS ${qos}`);
  });
}

conformance('per-topic order holds when one publisher interleaves topics under a wildcard subscription', {
  v4: ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'], v5: ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'], requires: ['qos1', 'wildcards'],
}, async (t) => {
  const topics = ['i/a', 'i/b', 'i/c'].map((x) => t.topic(x));
  const sub = await t.subscriber('sub', t.topic('i/+'), { qos: 1 });
  const { client: pub, connack } = await t.connect('pub');
  const sending = pipeline(t, pub, topics, N, 1, windowFor(connack));
  const got = await receive(t, sub, N, sv(t, 'MQTT-4.6.0-6', 'MQTT-4.6.0-5'), { where: (p) => topics.includes(p.topic), what: 'message' });
  await sending;
  for (const topic of topics) checkOrder(t, got.filter((p) => p.topic === topic), `topic ${topic}`);
});

conformance('messages queued for a disconnected subscriber are delivered in order when it resumes', {
  v4: ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'], v5: ['MQTT-4.6.0-5', 'MQTT-4.6.0-6'], requires: ['qos1', 'persistentSessions'],
}, async (t) => {
  const topic = t.topic('queued');
  const n = 20;
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, topic, { qos: 1 });
    await dropConnection(s1);
    const { client: pub, connack } = await t.connect('pub');
    await pipeline(t, pub, [topic], n, 1, windowFor(connack));
    const { client: s2 } = await resume(t, 'sub');
    const got = await receive(t, s2, n, sv(t, 'MQTT-4.6.0-6', 'MQTT-4.6.0-5'), { where: (p) => p.topic === topic, what: 'queued message' });
    checkOrder(t, got, 'queued while away');
  } finally {
    await endSession(t, 'sub');
  }
});

/**
 * MQTT 5.0 subscription options and identifiers (§3.8.3.1, §3.8.2.1.2,
 * §3.3.4): No Local, Retain As Published, Retain Handling 0/1/2, replacing a
 * subscription, and Subscription Identifiers on deliveries (single, overlapping,
 * replaced, retained).
 */
import type { PublishPacket, Subscription } from '../codec/index.js';
import type { RawClient } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { clearRetained, publish, publishes, subscribe } from './support/v5-helpers.js';

const sub = (topicFilter: string, o: Partial<Subscription> = {}): Subscription => ({ topicFilter, qos: 1, ...o });

/** Connects `label` and subscribes it with the given options. */
async function subscriber(t: ConformanceContext, label: string, subs: Subscription[], subscriptionIdentifier?: number): Promise<RawClient> {
  const { client } = await t.connect(label);
  await subscribe(t, client, subs, subscriptionIdentifier !== undefined ? { properties: { subscriptionIdentifiers: [subscriptionIdentifier] } } : {});
  return client;
}

// ---------------------------------------------------------------------------
// No Local
// ---------------------------------------------------------------------------

conformance('No Local: a client does not receive its own messages, other subscribers do', { v5: ['MQTT-3.8.3-3'] }, async (t) => {
  const topic = t.topic('nl');
  const self = await subscriber(t, 'self', [sub(topic, { noLocal: true })]);
  const other = await subscriber(t, 'other', [sub(topic)]);
  await publish(t, self, topic, 'own', { qos: 1 });
  await t.expect(other, 'publish', undefined, { where: (p) => p.payload.toString() === 'own', what: "the No Local client's message at another subscriber (test precondition)" });
  // Barrier: a message from the other client, routed after 'own'; 'own' would have reached `self` first.
  await publish(t, other, topic, 'foreign', { qos: 1 });
  await t.expect(self, 'publish', undefined, { where: (p) => p.payload.toString() === 'foreign', what: "another client's message at the No Local subscriber (test precondition)" });
  const own = publishes(self, topic).filter((p) => p.payload.toString() === 'own');
  t.check(own.length === 0, 'MQTT-3.8.3-3', `the No Local subscriber received its own message (${own.length} cop${own.length === 1 ? 'y' : 'ies'})`);
});

// ---------------------------------------------------------------------------
// Retain As Published
// ---------------------------------------------------------------------------

conformance('Retain As Published 0: a live retained message is forwarded with RETAIN 0', { v5: ['MQTT-3.3.1-12'], requires: ['retain'] }, async (t) => {
  const topic = t.topic('rap0');
  const s = await subscriber(t, 'sub', [sub(topic, { retainAsPublished: false })]);
  const { client: pub } = await t.connect('pub');
  try {
    await publish(t, pub, topic, 'retained-live', { qos: 1, retain: true });
    const got = await t.expect(s, 'publish', 'MQTT-3.3.1-12', { where: (p) => p.topic === topic });
    t.check(!got.retain, 'MQTT-3.3.1-12', 'forwarded with RETAIN 1 to a subscription with Retain As Published 0');
  } finally {
    clearRetained(pub, topic);
  }
});

conformance('Retain As Published 1: forwarded messages keep the RETAIN flag they were published with', { v5: ['MQTT-3.3.1-13'], requires: ['retain'] }, async (t) => {
  const topic = t.topic('rap1');
  const s = await subscriber(t, 'sub', [sub(topic, { retainAsPublished: true })]);
  const { client: pub } = await t.connect('pub');
  try {
    await publish(t, pub, topic, 'retained-live', { qos: 1, retain: true });
    await publish(t, pub, topic, 'plain-live', { qos: 1, retain: false });
    const r = await t.expect(s, 'publish', 'MQTT-3.3.1-13', { where: (p) => p.payload.toString() === 'retained-live' });
    t.check(r.retain, 'MQTT-3.3.1-13', 'a message published with RETAIN 1 was forwarded with RETAIN 0 despite Retain As Published 1');
    const n = await t.expect(s, 'publish', 'MQTT-3.3.1-13', { where: (p) => p.payload.toString() === 'plain-live' });
    t.check(!n.retain, 'MQTT-3.3.1-13', 'a message published with RETAIN 0 was forwarded with RETAIN 1');
  } finally {
    clearRetained(pub, topic);
  }
});

// ---------------------------------------------------------------------------
// Retain Handling
// ---------------------------------------------------------------------------

/** A topic with a retained message; returns the publisher (for cleanup) and the payload. */
async function retainedTopic(t: ConformanceContext, name: string): Promise<{ topic: string; pub: RawClient; payload: string }> {
  const topic = t.topic(name);
  const { client: pub } = await t.connect('pub');
  const payload = `retained-${t.id}`;
  await publish(t, pub, topic, payload, { qos: 1, retain: true });
  return { topic, pub, payload };
}

/** After a SUBSCRIBE: a live message as barrier, then a short silence; returns the retained copies received. */
async function retainedCopiesAfter(t: ConformanceContext, s: RawClient, pub: RawClient, topic: string, payload: string): Promise<PublishPacket[]> {
  const live = `live-${Math.random().toString(36).slice(2, 8)}`;
  await publish(t, pub, topic, live, { qos: 1 });
  await t.expect(s, 'publish', undefined, { where: (p) => p.payload.toString() === live, what: 'a live message after the SUBSCRIBE (test precondition)' });
  // Retained messages are sent on the SUBSCRIBE, so before the live one in practice; a short silence covers brokers that send them later.
  await s.expectNothing(300, (p) => p.type === 'publish' && p.payload.toString() === payload).catch(() => undefined);
  return publishes(s, topic).filter((p) => p.payload.toString() === payload);
}

conformance('Retain Handling 0: retained messages are sent on every SUBSCRIBE, replacing ones included', { v5: ['MQTT-3.3.1-9', 'MQTT-3.8.4-4'], requires: ['retain'] }, async (t) => {
  const { topic, pub, payload } = await retainedTopic(t, 'rh0');
  try {
    const { client: s } = await t.connect('sub');
    await subscribe(t, s, [sub(topic, { retainHandling: 0 })]);
    const first = await t.expect(s, 'publish', 'MQTT-3.3.1-9', { where: (p) => p.payload.toString() === payload, what: 'the retained message on the new subscription' });
    t.check(first.retain, 'MQTT-3.3.1-9', 'the retained message sent on SUBSCRIBE has RETAIN 0');
    await subscribe(t, s, [sub(topic, { retainHandling: 0 })]);
    await t.expect(s, 'publish', 'MQTT-3.8.4-4', { where: (p) => p.payload.toString() === payload, what: 'the retained message again on the replacing subscription' });
  } finally {
    clearRetained(pub, topic);
  }
});

conformance('Retain Handling 1: retained messages are sent for a new subscription only, not when it already exists', { v5: ['MQTT-3.3.1-10'], requires: ['retain'] }, async (t) => {
  const { topic, pub, payload } = await retainedTopic(t, 'rh1');
  try {
    const { client: s } = await t.connect('sub');
    await subscribe(t, s, [sub(topic, { retainHandling: 1 })]);
    await t.expect(s, 'publish', 'MQTT-3.3.1-10', { where: (p) => p.payload.toString() === payload, what: 'the retained message on the new subscription' });
    await subscribe(t, s, [sub(topic, { retainHandling: 1 })]);
    const copies = await retainedCopiesAfter(t, s, pub, topic, payload);
    t.check(copies.length === 1, 'MQTT-3.3.1-10', `the retained message was sent again when the subscription already existed (${copies.length} copies)`);
  } finally {
    clearRetained(pub, topic);
  }
});

conformance('Retain Handling 2: no retained messages are sent on SUBSCRIBE', { v5: ['MQTT-3.3.1-11'], requires: ['retain'] }, async (t) => {
  const { topic, pub, payload } = await retainedTopic(t, 'rh2');
  try {
    const { client: s } = await t.connect('sub');
    await subscribe(t, s, [sub(topic, { retainHandling: 2 })]);
    const copies = await retainedCopiesAfter(t, s, pub, topic, payload);
    t.check(copies.length === 0, 'MQTT-3.3.1-11', `the retained message was sent to a subscription with Retain Handling 2 (${copies.length} copies)`);
  } finally {
    clearRetained(pub, topic);
  }
});

// ---------------------------------------------------------------------------
// SUBACK and replacement
// ---------------------------------------------------------------------------

conformance('a SUBSCRIBE with several filters and options gets one reason code per filter, each a granted QoS', { v5: ['MQTT-3.8.4-6', 'MQTT-3.8.4-7'] }, async (t) => {
  const base = t.topic('multi');
  const subs: Subscription[] = [
    sub(`${base}/a`, { qos: 0, noLocal: true }),
    sub(`${base}/b`, { qos: 1, retainAsPublished: true }),
    sub(`${base}/c`, { qos: 2, retainHandling: 2 }),
  ];
  const { client } = await t.connect('sub');
  const ack = await subscribe(t, client, subs, { requireGranted: false });
  t.check(ack.reasonCodes.length === 3, 'MQTT-3.8.4-6', `SUBACK has ${ack.reasonCodes.length} reason codes for 3 filters`);
  for (const [i, c] of ack.reasonCodes.entries()) {
    const requested = subs[i]!.qos;
    t.check(c <= requested || c >= 0x80, 'MQTT-3.8.4-7', `reason code 0x${c.toString(16)} for filter ${i} (requested QoS ${requested}) is neither a QoS up to the requested one nor a failure`);
  }
});

conformance('subscribing again to the same filter replaces the subscription (new QoS, one copy)', { v5: ['MQTT-3.8.4-3'] }, async (t) => {
  const topic = t.topic('replace');
  const { client: s } = await t.connect('sub');
  await subscribe(t, s, [sub(topic, { qos: 0 })]);
  const ack = await subscribe(t, s, [sub(topic, { qos: 1 })]);
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'after-replace', { qos: 1 });
  const got = await t.expect(s, 'publish', 'MQTT-3.8.4-3', { where: (p) => p.topic === topic });
  t.check(got.qos === Math.min(1, ack.reasonCodes[0]!), 'MQTT-3.8.4-3', `delivered at QoS ${got.qos}; the replacing subscription was granted QoS ${ack.reasonCodes[0]}`);
  await t.expectNothing(s, 300, 'MQTT-3.8.4-3', (p) => p.type === 'publish' && p.topic === topic, 'a second copy (the old subscription should be gone)');
});

// ---------------------------------------------------------------------------
// Subscription Identifiers
// ---------------------------------------------------------------------------

conformance('a Subscription Identifier (up to 268,435,455) is sent with matching messages, and only to its subscriber', { v5: ['MQTT-3.3.4-3'], requires: ['subscriptionIds'] }, async (t) => {
  const topic = t.topic('sid');
  const id = 268_435_455;
  const withId = await subscriber(t, 'with-id', [sub(topic)], id);
  const without = await subscriber(t, 'without-id', [sub(topic)]);
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'x', { qos: 1 });
  const a = await t.expect(withId, 'publish', 'MQTT-3.3.4-3', { where: (p) => p.topic === topic });
  t.check(JSON.stringify(a.properties?.subscriptionIdentifiers) === JSON.stringify([id]), 'MQTT-3.3.4-3', `Subscription Identifiers ${JSON.stringify(a.properties?.subscriptionIdentifiers)} instead of [${id}]`);
  const b = await t.expect(without, 'publish', 'MQTT-3.3.4-3', { where: (p) => p.topic === topic });
  t.check(b.properties?.subscriptionIdentifiers === undefined, 'MQTT-3.3.4-3', `a subscription without identifier got Subscription Identifiers ${JSON.stringify(b.properties?.subscriptionIdentifiers)}`);
});

/** Collects the copies of one message until `done` says enough, then a short silence for more. */
async function copiesOf(t: ConformanceContext, s: RawClient, payload: string, done: (copies: PublishPacket[]) => boolean, statement: string): Promise<PublishPacket[]> {
  const mine = (): PublishPacket[] => publishes(s).filter((p) => p.payload.toString() === payload);
  while (!done(mine())) {
    const n = mine().length;
    await t.expect(s, 'publish', statement, { where: (p) => p.payload.toString() === payload && mine().length > n, what: `copy ${n + 1} of the message` });
  }
  await s.expectNothing(300, (p) => p.type === 'publish' && p.payload.toString() === payload).catch(() => undefined);
  return mine();
}

const idsOf = (p: PublishPacket): number[] => [...(p.properties?.subscriptionIdentifiers ?? [])].sort((x, y) => x - y);

conformance('overlapping subscriptions: their Subscription Identifiers are all delivered, in one copy or one per copy', { v5: ['MQTT-3.3.4-3', 'MQTT-3.3.4-4', 'MQTT-3.3.4-5'], requires: ['subscriptionIds', 'wildcards'] }, async (t) => {
  const base = t.topic('ovl');
  const { client: s } = await t.connect('sub');
  await subscribe(t, s, [sub(`${base}/#`)], { properties: { subscriptionIdentifiers: [1] } });
  await subscribe(t, s, [sub(`${base}/x`)], { properties: { subscriptionIdentifiers: [2] } });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, `${base}/x`, 'overlap', { qos: 1 });
  const copies = await copiesOf(t, s, 'overlap', (c) => new Set(c.flatMap(idsOf)).size >= 2, 'MQTT-3.3.4-3');
  const shapes = copies.map((c) => JSON.stringify(idsOf(c)));
  if (copies.length === 1) {
    t.check(shapes[0] === '[1,2]', 'MQTT-3.3.4-4', `the single copy carries Subscription Identifiers ${shapes[0]} instead of both 1 and 2`);
  } else {
    t.check(copies.length === 2 && shapes.sort().join() === ['[1]', '[2]'].sort().join(), 'MQTT-3.3.4-5', `${copies.length} copies with Subscription Identifiers ${shapes.join(' ')}; expected one copy per subscription, each with its own identifier`);
  }
});

conformance('overlapping subscriptions with and without identifier: only the identifier that exists is sent', { v5: ['MQTT-3.3.4-3', 'MQTT-3.3.4-4', 'MQTT-3.3.4-5'], requires: ['subscriptionIds', 'wildcards'] }, async (t) => {
  const base = t.topic('mixed');
  const { client: s } = await t.connect('sub');
  await subscribe(t, s, [sub(`${base}/#`)], { properties: { subscriptionIdentifiers: [5] } });
  await subscribe(t, s, [sub(`${base}/+`)]);
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, `${base}/x`, 'mixed', { qos: 1 });
  const copies = await copiesOf(t, s, 'mixed', (c) => c.some((p) => idsOf(p).includes(5)), 'MQTT-3.3.4-3');
  const shapes = copies.map((c) => JSON.stringify(idsOf(c))).sort();
  if (copies.length === 1) t.check(shapes[0] === '[5]', 'MQTT-3.3.4-4', `the single copy carries Subscription Identifiers ${shapes[0]} instead of [5]`);
  else t.check(copies.length === 2 && shapes.join() === ['[]', '[5]'].sort().join(), 'MQTT-3.3.4-5', `${copies.length} copies with Subscription Identifiers ${shapes.join(' ')}; expected [5] on one copy and none on the other`);
});

conformance('replacing a subscription replaces its Subscription Identifier', { v5: ['MQTT-3.8.4-3', 'MQTT-3.3.4-3'], requires: ['subscriptionIds'] }, async (t) => {
  const topic = t.topic('resid');
  const { client: s } = await t.connect('sub');
  await subscribe(t, s, [sub(topic)], { properties: { subscriptionIdentifiers: [1] } });
  await subscribe(t, s, [sub(topic)], { properties: { subscriptionIdentifiers: [2] } });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'x', { qos: 1 });
  const got = await t.expect(s, 'publish', 'MQTT-3.3.4-3', { where: (p) => p.topic === topic });
  t.check(JSON.stringify(idsOf(got)) === '[2]', 'MQTT-3.8.4-3', `Subscription Identifiers ${JSON.stringify(idsOf(got))} after the subscription was replaced with identifier 2`);
});

conformance('a retained message sent on SUBSCRIBE carries the Subscription Identifier', { v5: ['MQTT-3.3.4-3'], requires: ['subscriptionIds', 'retain'] }, async (t) => {
  const { topic, pub, payload } = await retainedTopic(t, 'retsid');
  try {
    const { client: s } = await t.connect('sub');
    await subscribe(t, s, [sub(topic)], { properties: { subscriptionIdentifiers: [42] } });
    const got = await t.expect(s, 'publish', 'MQTT-3.3.4-3', { where: (p) => p.payload.toString() === payload, what: 'the retained message' });
    t.check(JSON.stringify(idsOf(got)) === '[42]', 'MQTT-3.3.4-3', `the retained message carries Subscription Identifiers ${JSON.stringify(idsOf(got))} instead of [42]`);
  } finally {
    clearRetained(pub, topic);
  }
});

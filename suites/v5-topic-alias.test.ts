/**
 * MQTT 5.0 Topic Alias (§3.3.2.3.4, §3.1.2.11.5, §3.2.2.3.8): the broker
 * accepts every alias up to the maximum it announced, rejects 0, values above
 * its maximum and unknown aliases (Protocol Errors, 0x94 / 0x82), forgets
 * mappings with the connection, and towards a client uses aliases only within
 * the maximum that client announced.
 */
import type { PublishPacket } from '../codec/index.js';
import type { RawClient } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { expectNotDelivered, expectRejected, nextId, publishes, sendOffendingPacket } from './support/v5-helpers.js';

const close5 = 'MQTT-4.13.1-1';
const TOPIC_ALIAS_INVALID = 0x94;
const PROTOCOL_ERROR = 0x82;

/** Topic Alias Maximum the broker announced in CONNACK (0 when absent). */
async function announcedMax(t: ConformanceContext, label: string): Promise<{ client: RawClient; max: number }> {
  const { client, connack } = await t.connect(label);
  return { client, max: connack.properties?.topicAliasMaximum ?? 0 };
}

function aliased(topic: string, alias: number, payload: string, packetId?: number): PublishPacket {
  const p: PublishPacket = { type: 'publish', topic, payload: Buffer.from(payload), qos: packetId ? 1 : 0, retain: false, dup: false, properties: { topicAlias: alias } };
  if (packetId) p.packetId = packetId;
  return p;
}

/** Sends an aliased QoS 1 PUBLISH and waits for its PUBACK (the broker accepted it). */
async function sendAliased(t: ConformanceContext, client: RawClient, topic: string, alias: number, payload: string, statement: string): Promise<void> {
  const id = nextId(client);
  client.send(aliased(topic, alias, payload, id), { validate: false });
  const ack = await t.expect(client, 'puback', statement, { where: (a) => a.packetId === id, what: `PUBACK of the PUBLISH with Topic Alias ${alias}${topic ? ` and topic ${topic}` : ' only'}` });
  t.check((ack.reasonCode ?? 0) < 0x80, statement, `PUBLISH with Topic Alias ${alias} refused: PUBACK 0x${(ack.reasonCode ?? 0).toString(16)}`);
}

conformance('the broker accepts Topic Alias 1 and its announced maximum, and resolves alias-only PUBLISHes', { v5: ['MQTT-3.3.2-12'] }, async (t) => {
  const base = t.topic('ta');
  const sub = await t.subscriber('sub', [`${base}/one`, `${base}/max`].map((topicFilter) => ({ topicFilter, qos: 1 as const })));
  const { client: pub, max } = await announcedMax(t, 'pub');
  if (max < 1) t.skip('the broker announces no Topic Alias Maximum (it accepts no aliases)');
  await sendAliased(t, pub, `${base}/one`, 1, 'a1-set', 'MQTT-3.3.2-12');
  await sendAliased(t, pub, '', 1, 'a1-use', 'MQTT-3.3.2-12');
  await sendAliased(t, pub, `${base}/max`, max, 'amax-set', 'MQTT-3.3.2-12');
  await sendAliased(t, pub, '', max, 'amax-use', 'MQTT-3.3.2-12');
  const expected: [string, string][] = [['a1-set', `${base}/one`], ['a1-use', `${base}/one`], ['amax-set', `${base}/max`], ['amax-use', `${base}/max`]];
  for (const [payload, topic] of expected) {
    const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-12', { where: (p) => p.payload.toString() === payload, what: `the message '${payload}'` });
    t.check(got.topic === topic, 'MQTT-3.3.2-12', `'${payload}' was delivered on '${got.topic}', expected '${topic}' (alias ${payload.startsWith('a1') ? 1 : max})`);
  }
});

conformance('a Topic Alias can be remapped to another topic by the client', { v5: ['MQTT-3.3.2-12'] }, async (t) => {
  const base = t.topic('remap');
  const sub = await t.subscriber('sub', [`${base}/first`, `${base}/second`].map((topicFilter) => ({ topicFilter, qos: 1 as const })));
  const { client: pub, max } = await announcedMax(t, 'pub');
  if (max < 1) t.skip('the broker announces no Topic Alias Maximum (it accepts no aliases)');
  await sendAliased(t, pub, `${base}/first`, 1, 'first', 'MQTT-3.3.2-12');
  await sendAliased(t, pub, `${base}/second`, 1, 'second', 'MQTT-3.3.2-12');
  await sendAliased(t, pub, '', 1, 'via-alias', 'MQTT-3.3.2-12');
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-12', { where: (p) => p.payload.toString() === 'via-alias' });
  t.check(got.topic === `${base}/second`, 'MQTT-3.3.2-12', `alias 1 resolved to '${got.topic}' after it was remapped to '${base}/second'`);
});

conformance('Topic Alias 0 is a Protocol Error (DISCONNECT 0x94) and the message is not delivered', { v5: ['MQTT-3.3.2-8', close5, 'MQTT-4.13.2-1'] }, async (t) => {
  const topic = t.topic('zero');
  const watch = await t.subscriber('watch', topic, { qos: 1 });
  const { client } = await t.connect('bad');
  sendOffendingPacket(client, aliased(topic, 0, 'alias-0', 1));
  await expectRejected(t, client, { statement: close5, reasons: [TOPIC_ALIAS_INVALID], notAnswered: ['puback'], what: 'PUBLISH with Topic Alias 0' });
  await expectNotDelivered(t, watch, topic, 'MQTT-3.3.2-8', 'the PUBLISH with Topic Alias 0');
});

conformance('a Topic Alias above the announced maximum is a Protocol Error (DISCONNECT 0x94)', { v5: [close5, 'MQTT-4.13.2-1'] }, async (t) => {
  const topic = t.topic('above');
  const watch = await t.subscriber('watch', topic, { qos: 1 });
  const { client, max } = await announcedMax(t, 'bad');
  if (max >= 65535) t.skip('the broker announces Topic Alias Maximum 65535: no alias is above it');
  sendOffendingPacket(client, aliased(topic, max + 1, 'alias-above', 1));
  await expectRejected(t, client, { statement: close5, reasons: [TOPIC_ALIAS_INVALID], notAnswered: ['puback'], what: `PUBLISH with Topic Alias ${max + 1} (announced maximum ${max})` });
  await expectNotDelivered(t, watch, topic, close5, `the PUBLISH with Topic Alias ${max + 1}`);
});

conformance('an alias-only PUBLISH with an alias never mapped is a Protocol Error', { v5: [close5] }, async (t) => {
  const topic = t.topic('unknown');
  const watch = await t.subscriber('watch', topic, { qos: 1 });
  const { client, max } = await announcedMax(t, 'bad');
  if (max < 1) t.skip('the broker announces no Topic Alias Maximum (it accepts no aliases)');
  sendOffendingPacket(client, aliased('', 1, 'unmapped', 1));
  await expectRejected(t, client, { statement: close5, reasons: [PROTOCOL_ERROR, TOPIC_ALIAS_INVALID], notAnswered: ['puback'], what: 'PUBLISH with an empty Topic Name and an unmapped Topic Alias' });
  await expectNotDelivered(t, watch, topic, close5, 'the PUBLISH with an unmapped Topic Alias');
});

conformance('Topic Alias mappings do not survive into a new connection', { v5: ['MQTT-3.3.2-7', close5] }, async (t) => {
  const topic = t.topic('carry');
  const watch = await t.subscriber('watch', topic, { qos: 1 });
  const clientId = t.clientId('carry');
  const { client: first, connack } = await t.connect('first', { clientId });
  if ((connack.properties?.topicAliasMaximum ?? 0) < 1) t.skip('the broker announces no Topic Alias Maximum (it accepts no aliases)');
  await sendAliased(t, first, topic, 1, 'mapped', 'MQTT-3.3.2-12');
  await t.expect(watch, 'publish', 'MQTT-3.3.2-12', { where: (p) => p.payload.toString() === 'mapped' });
  first.disconnect();
  await first.expectClose();
  const { client: second } = await t.connect('second', { clientId });
  const since = watch.received.length;
  sendOffendingPacket(second, aliased('', 1, 'stale-alias', 1));
  await expectRejected(t, second, { statement: 'MQTT-3.3.2-7', reasons: [PROTOCOL_ERROR, TOPIC_ALIAS_INVALID], notAnswered: ['puback'], what: 'alias-only PUBLISH using a mapping of the previous connection' });
  await expectNotDelivered(t, watch, topic, 'MQTT-3.3.2-7', 'the PUBLISH that used an alias of the previous connection', { since });
});

/** Publishes `rounds` messages on each of `topics` (QoS 1 from the publisher) and returns them in order. */
async function burst(t: ConformanceContext, topics: string[], rounds: number): Promise<{ topic: string; payload: string }[]> {
  const { client: pub } = await t.connect('pub');
  const sent: { topic: string; payload: string }[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [i, topic] of topics.entries()) {
      const payload = `m${r}-${i}`;
      const id = nextId(pub);
      pub.send({ type: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, packetId: id });
      await t.expect(pub, 'puback', 'MQTT-3.3.4-1', { where: (a) => a.packetId === id });
      sent.push({ topic, payload });
    }
  }
  return sent;
}

conformance('towards a client the broker uses only Topic Aliases from 1 to the maximum the client announced', { v5: ['MQTT-3.1.2-26', 'MQTT-3.3.2-11', 'MQTT-3.3.2-8', 'MQTT-3.3.2-3'] }, async (t) => {
  const base = t.topic('out');
  const topics = [0, 1, 2, 3].map((i) => `${base}/topic-${i}`);
  const sub = await t.subscriber('sub', topics.map((topicFilter) => ({ topicFilter, qos: 0 as const })), { properties: { topicAliasMaximum: 2 } });
  const sent = await burst(t, topics, 3);
  const map = new Map<number, string>();
  let aliasesSeen = 0;
  for (const m of sent) {
    const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-3', { where: (p) => p.payload.toString() === m.payload, what: `message ${m.payload}` });
    const alias = got.properties?.topicAlias;
    let topic = got.topic;
    if (alias !== undefined) {
      aliasesSeen++;
      t.check(alias !== 0, 'MQTT-3.3.2-8', 'the broker sent Topic Alias 0');
      t.check(alias <= 2, 'MQTT-3.1.2-26', `the broker sent Topic Alias ${alias}; the client announced Topic Alias Maximum 2`);
      if (topic) map.set(alias, topic);
      else topic = map.get(alias) ?? t.fail('MQTT-3.3.2-3', `message ${m.payload} carries only Topic Alias ${alias}, which the broker never mapped on this connection`);
    }
    t.check(topic === m.topic, 'MQTT-3.3.2-3', `message ${m.payload} resolves to topic '${topic}', published on '${m.topic}'`);
  }
  if (aliasesSeen === 0) t.finding('the broker sent no Topic Alias to a client that allows 2 (allowed: aliases are optional for the sender); the alias limits were not exercised');
});

conformance('a client that announces no Topic Alias Maximum (or 0) receives no Topic Aliases', { v5: ['MQTT-3.1.2-27'] }, async (t) => {
  const base = t.topic('none');
  const topics = [0, 1, 2].map((i) => `${base}/topic-${i}`);
  const filters = topics.map((topicFilter) => ({ topicFilter, qos: 0 as const }));
  const absent = await t.subscriber('absent', filters);
  const zero = await t.subscriber('zero', filters, { properties: { topicAliasMaximum: 0 } });
  const sent = await burst(t, topics, 3);
  for (const sub of [absent, zero]) {
    const last = sent[sent.length - 1]!;
    await t.expect(sub, 'publish', 'MQTT-3.1.2-27', { where: (p) => p.payload.toString() === last.payload, what: `the last message at ${sub.label}` });
    const withAlias = publishes(sub).filter((p) => p.properties?.topicAlias !== undefined);
    t.check(withAlias.length === 0, 'MQTT-3.1.2-27', `${sub.label} (Topic Alias Maximum ${sub === zero ? '0' : 'absent'}) received ${withAlias.length} PUBLISH with a Topic Alias, e.g. alias ${withAlias[0]?.properties?.topicAlias}`);
  }
});

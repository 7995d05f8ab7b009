/**
 * UNSUBSCRIBE and UNSUBACK (3.1.1 §3.10–3.11, 5.0 §3.10–3.11): exact
 * filter comparison, no new messages afterwards, deliveries under way
 * completed, one UNSUBACK per UNSUBSCRIBE (also when nothing matched), and
 * malformed UNSUBSCRIBE packets.
 */
import { encode } from '../codec/index.js';
import { describe } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import { checkReasonCode, expectNoPublish, publish, receive, subscribeOk, sv, text, unsubscribe } from './support/publish-helpers.js';

conformance('UNSUBACK carries the Packet Identifier of the UNSUBSCRIBE it answers', {
  v4: ['MQTT-3.10.4-4', 'MQTT-2.3.1-7'],
  v5: ['MQTT-3.10.4-4', 'MQTT-3.10.4-5', 'MQTT-2.2.1-6'],
}, async (t) => {
  const { client } = await t.connect('sub');
  await subscribeOk(t, client, [0, 1, 2].map((i) => ({ topicFilter: t.topic(`u${i}`), qos: 0 as const })));
  for (const [i, id] of [1, 0x4321, 0xffff].entries()) {
    client.send({ type: 'unsubscribe', packetId: id, topicFilters: [t.topic(`u${i}`)] });
    const ack = await t.expect(client, 'unsuback', 'MQTT-3.10.4-4', { what: `UNSUBACK for UNSUBSCRIBE id ${id}` });
    t.check(ack.packetId === id, sv(t, 'MQTT-3.10.4-4', 'MQTT-3.10.4-5'), `UNSUBACK carries id ${ack.packetId}, the UNSUBSCRIBE had ${id}`);
  }
});

conformance('after UNSUBSCRIBE no new messages are delivered for the removed filter', {
  v4: ['MQTT-3.10.4-1', 'MQTT-3.10.4-2'],
  v5: ['MQTT-3.10.4-1', 'MQTT-3.10.4-2', 'MQTT-3.11.3-2'],
}, async (t) => {
  const topic = t.topic('gone');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'before', 1);
  await receive(t, sub, 1, undefined, { where: (p) => p.topic === topic, what: 'PUBLISH before UNSUBSCRIBE (precondition)' });
  const ack = await unsubscribe(t, sub, [topic]);
  if (t.version === 5) {
    checkReasonCode(t, 'unsuback', ack.reasonCodes?.[0], 'MQTT-3.11.3-2');
    t.check(ack.reasonCodes?.[0] === 0, 'MQTT-3.10.4-1', `UNSUBACK reason ${describe(ack)} for a filter that was subscribed`);
  }
  await publish(t, pub, topic, 'after', 1);
  await expectNoPublish(t, sub, 'MQTT-3.10.4-2', (p) => p.topic === topic, 'no PUBLISH after UNSUBSCRIBE');
});

conformance('UNSUBSCRIBE removes only a subscription whose filter is identical, character for character', {
  v4: ['MQTT-3.10.4-1'], v5: ['MQTT-3.10.4-1'], requires: ['wildcards'],
}, async (t) => {
  const topic = t.topic('k/x');
  const wild = t.topic('+/x');
  const sub = await t.subscriber('sub', [{ topicFilter: wild, qos: 0 }, { topicFilter: topic, qos: 0 }]);
  const { client: pub } = await t.connect('pub');
  // Filters that match the subscriptions but are not the same strings: nothing is removed.
  const ack = await unsubscribe(t, sub, [t.topic('#'), t.topic('k/+'), t.topic('K/x'), `${topic}/`]);
  if (t.version === 5) {
    const c = ack.reasonCodes ?? [];
    if (c.some((x) => x !== 0x11)) t.finding(`UNSUBACK for filters matching no subscription exactly: [${c.map((x) => `0x${x.toString(16)}`).join(',')}] (0x11 No subscription existed expected)`);
  }
  await publish(t, pub, topic, 'still subscribed', 0);
  // (Overlapping subscriptions may bring one copy each: only the payload identifies a step.)
  await receive(t, sub, 1, 'MQTT-3.10.4-1', { where: (p) => p.topic === topic && text(p) === 'still subscribed', what: 'PUBLISH: a non-identical UNSUBSCRIBE removed a subscription' });
  // The identical wildcard filter removes the wildcard subscription only; the exact one still delivers.
  await unsubscribe(t, sub, [wild]);
  await publish(t, pub, topic, 'exact only', 0);
  await receive(t, sub, 1, 'MQTT-3.10.4-1', { where: (p) => p.topic === topic && text(p) === 'exact only', what: `PUBLISH through ${topic} after removing ${wild}` });
  await unsubscribe(t, sub, [topic]);
  await publish(t, pub, topic, 'none', 0);
  await expectNoPublish(t, sub, 'MQTT-3.10.4-1', (p) => p.topic === topic && text(p) === 'none', 'no PUBLISH once both filters are removed');
});

conformance('UNSUBACK is sent even when no subscription matched', {
  v4: ['MQTT-3.10.4-5'], v5: ['MQTT-3.10.4-5', 'MQTT-3.11.3-2'],
}, async (t) => {
  const { client } = await t.connect('sub');
  client.send({ type: 'unsubscribe', packetId: 0x0a0b, topicFilters: [t.topic('never')] });
  const ack = await t.expect(client, 'unsuback', 'MQTT-3.10.4-5', { what: 'UNSUBACK for an UNSUBSCRIBE that matched nothing' });
  t.check(ack.packetId === 0x0a0b, 'MQTT-3.10.4-5', `UNSUBACK carries id ${ack.packetId}`);
  if (t.version === 5) {
    const c = ack.reasonCodes?.[0];
    checkReasonCode(t, 'unsuback', c, 'MQTT-3.11.3-2');
    if (c !== 0x11) t.finding(`UNSUBACK reason 0x${(c ?? 0).toString(16)} for a filter never subscribed (0x11 No subscription existed expected)`);
  }
});

conformance('an UNSUBSCRIBE with several filters is answered by one UNSUBACK and removes each', {
  v4: ['MQTT-3.10.4-6'], v5: ['MQTT-3.10.4-6', 'MQTT-3.11.3-1', 'MQTT-3.11.3-2'],
}, async (t) => {
  const [a, b, c] = [t.topic('a'), t.topic('b'), t.topic('c')];
  const sub = await t.subscriber('sub', [{ topicFilter: a, qos: 0 }, { topicFilter: c, qos: 0 }]);
  const ack = await unsubscribe(t, sub, [a, b, c]);
  if (t.version === 5) {
    const codes = ack.reasonCodes ?? [];
    t.check(codes.length === 3, 'MQTT-3.10.4-6', `3 filters, ${codes.length} reason codes: ${describe(ack)}`);
    for (const x of codes) checkReasonCode(t, 'unsuback', x, 'MQTT-3.11.3-2');
    t.check(codes[0] === 0 && codes[2] === 0, 'MQTT-3.11.3-1', `reason codes [${codes.map((x) => `0x${x.toString(16)}`).join(',')}] for [subscribed, never subscribed, subscribed]`);
    if (codes[1] !== 0x11) t.finding(`UNSUBACK reason 0x${(codes[1] ?? 0).toString(16)} for the filter never subscribed (0x11 expected)`);
  }
  await t.expectNothing(sub, 200, 'MQTT-3.10.4-6', (p) => p.type === 'unsuback', 'a single UNSUBACK');
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, a, 'a', 0);
  await publish(t, pub, c, 'c', 0);
  await expectNoPublish(t, sub, 'MQTT-3.10.4-6', (p) => p.topic === a || p.topic === c, 'no PUBLISH for either removed filter');
});

conformance('a QoS 2 delivery already under way is completed after UNSUBSCRIBE', {
  v4: ['MQTT-3.10.4-3'], v5: ['MQTT-3.10.4-3'], requires: ['qos2'],
}, async (t) => {
  const topic = t.topic('inflight');
  const sub = await t.subscriber('sub', topic, { qos: 2 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'under way', 2);
  const p = await t.expect(sub, 'publish', undefined, { where: (x) => x.topic === topic, what: 'PUBLISH (precondition)' });
  await unsubscribe(t, sub, [topic]);
  sub.send({ type: 'pubrec', packetId: p.packetId!, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
  const rel = await t.expect(sub, 'pubrel', 'MQTT-3.10.4-3', { where: (r) => r.packetId === p.packetId, what: 'PUBREL completing the delivery begun before UNSUBSCRIBE' });
  if (t.version === 5) t.check((rel.reasonCode ?? 0) === 0, 'MQTT-3.10.4-3', `PUBREL reason 0x${(rel.reasonCode ?? 0).toString(16)}: the broker dropped the delivery`);
  sub.send({ type: 'pubcomp', packetId: p.packetId!, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
});

conformance('an UNSUBSCRIBE whose fixed-header flags are not 0010 closes the connection', { v4: ['MQTT-3.10.1-1'], v5: ['MQTT-3.10.1-1'] }, async (t) => {
  const { client } = await t.connect('sub');
  const bytes = encode({ type: 'unsubscribe', packetId: 1, topicFilters: [t.topic('flags')] }, t.version);
  bytes[0] = 0xa0; // UNSUBSCRIBE with flags 0000
  client.sendBytes(bytes, 'UNSUBSCRIBE with fixed-header flags 0000');
  await t.expectClosed(client, 'MQTT-3.10.1-1');
  t.check(!client.received.some((p) => p.type === 'unsuback'), 'MQTT-3.10.1-1', 'the broker answered an UNSUBSCRIBE with invalid flags');
});

conformance('an UNSUBSCRIBE without any topic filter closes the connection', { v4: ['MQTT-3.10.3-2'] }, async (t) => {
  const { client } = await t.connect('sub');
  client.sendBytes(Buffer.from([0xa2, 0x02, 0x00, 0x01]), 'UNSUBSCRIBE id 1 with no payload');
  await t.expectClosed(client, 'MQTT-3.10.3-2');
  t.check(!client.received.some((p) => p.type === 'unsuback'), 'MQTT-3.10.3-2', 'the broker answered an UNSUBSCRIBE without topic filters');
});

conformance('an UNSUBSCRIBE with Packet Identifier 0 closes the connection', { v4: ['MQTT-2.3.1-1'] }, async (t) => {
  const { client } = await t.connect('sub');
  const bytes = encode({ type: 'unsubscribe', packetId: 0, topicFilters: [t.topic('id0')] }, t.version, { validate: false });
  client.sendBytes(bytes, 'UNSUBSCRIBE with Packet Identifier 0');
  await t.expectClosed(client, 'MQTT-2.3.1-1');
  t.check(!client.received.some((p) => p.type === 'unsuback'), 'MQTT-2.3.1-1', 'the broker answered an UNSUBSCRIBE with Packet Identifier 0');
});

conformance('UNSUBACKs to a client with a small Maximum Packet Size leave out what would not fit', { v5: ['MQTT-3.11.2-1', 'MQTT-3.11.2-2'] }, async (t) => {
  const { client, max } = await t.connectSmall('sub');
  // Nothing subscribed: 0x11 No subscription existed, which a broker may want to explain.
  const ack = await unsubscribe(t, client, [t.topic('none')]);
  const size = encode(ack, 5).length;
  t.check(size <= max || !ack.properties?.reasonString, 'MQTT-3.11.2-1', `UNSUBACK of ${size} bytes carries a Reason String beyond Maximum Packet Size ${max}`);
  t.check(size <= max || !ack.properties?.userProperties, 'MQTT-3.11.2-2', `UNSUBACK of ${size} bytes carries User Properties beyond Maximum Packet Size ${max}`);
});

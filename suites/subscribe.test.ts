/**
 * SUBSCRIBE and SUBACK (3.1.1 §3.8–3.9, 5.0 §3.8–3.9): acknowledgement and
 * Packet Identifier, one granted QoS per filter in order, delivery at
 * min(published, granted) QoS, replacing an identical subscription, and
 * malformed SUBSCRIBE packets.
 */
import { encode, type QoS } from '../codec/index.js';
import { describe } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import {
  checkReasonCode, publish, receive, sendPublish, SILENCE_MS, subscribe, subscribeOk, sv, text,
} from './support/publish-helpers.js';

const maxQoS = (t: { profile: { maxQoS?: QoS } }): QoS => t.profile.maxQoS ?? 2;

conformance('SUBACK carries the Packet Identifier of the SUBSCRIBE it answers', {
  v4: ['MQTT-3.8.4-1', 'MQTT-3.8.4-2', 'MQTT-2.3.1-7'],
  v5: ['MQTT-3.8.4-1', 'MQTT-3.8.4-2', 'MQTT-2.2.1-6'],
}, async (t) => {
  const { client } = await t.connect('sub');
  for (const [i, id] of [1, 0x1234, 0xffff].entries()) {
    client.send({ type: 'subscribe', packetId: id, subscriptions: [{ topicFilter: t.topic(`id${i}`), qos: 0 }] });
    const ack = await t.expect(client, 'suback', 'MQTT-3.8.4-1', { what: `SUBACK for SUBSCRIBE id ${id}` });
    t.check(ack.packetId === id, 'MQTT-3.8.4-2', `SUBACK carries id ${ack.packetId}, the SUBSCRIBE had ${id}`);
  }
});

conformance('a SUBSCRIBE with several filters gets one SUBACK granting each filter, in order', {
  v4: ['MQTT-3.8.4-4', 'MQTT-3.8.4-5', 'MQTT-3.9.3-1', 'MQTT-3.9.3-2'],
  v5: ['MQTT-3.8.4-5', 'MQTT-3.8.4-6', 'MQTT-3.8.4-7', 'MQTT-3.9.3-1', 'MQTT-3.9.3-2'],
}, async (t) => {
  const max = maxQoS(t);
  const requested: QoS[] = [2, 0, 1, 0];
  const filters = requested.map((q, i) => ({ topicFilter: t.topic(`f${i}`), qos: q }));
  const { client: sub } = await t.connect('sub');
  const ack = await subscribe(t, sub, filters);
  const codes = ack.reasonCodes;
  t.check(codes.length === filters.length, sv(t, 'MQTT-3.8.4-5', 'MQTT-3.8.4-6'), `${filters.length} filters, ${codes.length} codes: ${describe(ack)}`);
  for (const c of codes) checkReasonCode(t, 'suback', c, 'MQTT-3.9.3-2');
  for (const [i, f] of filters.entries()) {
    const c = codes[i]!;
    t.check(c < 0x80, sv(t, 'MQTT-3.8.4-5', 'MQTT-3.8.4-7'), `filter ${i} (${f.topicFilter}) refused with 0x${c.toString(16)}`);
    // A granted QoS above the request means the codes are out of order (or wrong).
    t.check(c <= f.qos, 'MQTT-3.9.3-1', `filter ${i} asked for QoS ${f.qos} and got ${c}: codes [${codes.join(',')}] do not follow the filter order [${requested.join(',')}]`);
    if (c < Math.min(f.qos, max)) t.finding(`filter ${i} asked for QoS ${f.qos}, granted ${c} although the profile says maximum QoS ${max}`);
  }
  // Each filter works as if it had been subscribed alone.
  const { client: pub } = await t.connect('pub');
  for (const f of filters) await publish(t, pub, f.topicFilter, `to ${f.topicFilter}`, max >= 1 ? 1 : 0);
  const got = await receive(t, sub, filters.length, sv(t, 'MQTT-3.8.4-4', 'MQTT-3.8.4-5'), { where: (p) => filters.some((f) => f.topicFilter === p.topic) });
  const topics = got.map((p) => p.topic).sort().join(' ');
  t.check(topics === filters.map((f) => f.topicFilter).sort().join(' '), sv(t, 'MQTT-3.8.4-4', 'MQTT-3.8.4-5'), `delivered for [${topics}]`);
});

conformance('messages are delivered at the lower of the published QoS and the granted QoS', {
  v4: ['MQTT-3.8.4-6'], v5: ['MQTT-3.8.4-8'],
}, async (t) => {
  const st = sv(t, 'MQTT-3.8.4-6', 'MQTT-3.8.4-8');
  const max = maxQoS(t);
  const levels = ([0, 1, 2] as const).filter((q) => q <= max);
  const { client: sub } = await t.connect('sub');
  const filters = levels.map((q) => ({ topicFilter: t.topic(`g${q}`), qos: q }));
  const ack = await subscribeOk(t, sub, filters);
  const { client: pub } = await t.connect('pub');
  const expected = new Map<string, number>();
  for (const [i, f] of filters.entries()) {
    for (const q of levels) {
      await publish(t, pub, f.topicFilter, `p${q}`, q);
      expected.set(`${f.topicFilter} p${q}`, Math.min(q, ack.reasonCodes[i]!));
    }
  }
  const got = await receive(t, sub, expected.size, st, { where: (p) => filters.some((f) => f.topicFilter === p.topic) });
  for (const p of got) {
    const key = `${p.topic} ${text(p)}`;
    const want = expected.get(key);
    t.check(want !== undefined, st, `unexpected or duplicate delivery ${key}`);
    t.check(p.qos === want, st, `${text(p)} on a subscription granted QoS ${ack.reasonCodes[filters.findIndex((f) => f.topicFilter === p.topic)]!} arrived at QoS ${p.qos}, expected ${String(want)}`);
    expected.delete(key);
  }
});

conformance('subscribing again with an identical filter replaces the subscription', {
  v4: ['MQTT-3.8.4-3'], v5: ['MQTT-3.8.4-3'], requires: ['qos1'],
}, async (t) => {
  const topic = t.topic('again');
  const { client: sub } = await t.connect('sub');
  const { client: pub } = await t.connect('pub');
  const first = await subscribeOk(t, sub, topic, { qos: 0 });
  const second = await subscribeOk(t, sub, topic, { qos: 1 });
  await publish(t, pub, topic, 'after upgrade', 1);
  const [p1] = await receive(t, sub, 1, 'MQTT-3.8.4-3', { where: (p) => p.topic === topic });
  t.check(p1!.qos === Math.min(1, second.reasonCodes[0]!), 'MQTT-3.8.4-3', `delivered at QoS ${p1!.qos}: the second SUBSCRIBE (granted ${second.reasonCodes[0]!}) did not replace the first (granted ${first.reasonCodes[0]!})`);
  await t.expectNothing(sub, SILENCE_MS, 'MQTT-3.8.4-3', (p) => p.type === 'publish' && p.topic === topic, 'one copy only: the old subscription is gone');
  await subscribeOk(t, sub, topic, { qos: 0 });
  await publish(t, pub, topic, 'after downgrade', 1);
  const [p2] = await receive(t, sub, 1, 'MQTT-3.8.4-3', { where: (p) => p.topic === topic });
  t.check(p2!.qos === 0, 'MQTT-3.8.4-3', `delivered at QoS ${p2!.qos} after re-subscribing at QoS 0`);
  await t.expectNothing(sub, SILENCE_MS, 'MQTT-3.8.4-3', (p) => p.type === 'publish' && p.topic === topic, 'one copy only after the downgrade');
});

conformance('no message is lost while an identical subscription is replaced', {
  v4: ['MQTT-3.8.4-3'], v5: ['MQTT-3.8.4-4'], requires: ['qos1'],
}, async (t) => {
  const st = sv(t, 'MQTT-3.8.4-3', 'MQTT-3.8.4-4');
  const topic = t.topic('flow');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  const n = 30;
  for (let i = 0; i < n; i++) sendPublish(pub, topic, `m${i}`, 1);
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    // Replace the subscription while the stream is flowing.
    if (i === 3 || i === 12 || i === 21) sub.send({ type: 'subscribe', packetId: 100 + i, subscriptions: [{ topicFilter: topic, qos: 1 }] });
    const [p] = await receive(t, sub, 1, st, { where: (x) => x.topic === topic, what: `message ${i + 1} of ${n}` });
    seen.set(text(p!), (seen.get(text(p!)) ?? 0) + 1);
  }
  const missing = Array.from({ length: n }, (_, i) => `m${i}`).filter((m) => !seen.has(m));
  t.check(missing.length === 0, st, `lost while re-subscribing: ${missing.join(', ')}`);
  const twice = [...seen].filter(([, c]) => c > 1).map(([m]) => m);
  if (twice.length > 0) t.finding(`delivered twice while re-subscribing: ${twice.join(', ')}`);
});

conformance('a SUBSCRIBE whose fixed-header flags are not 0010 closes the connection', { v4: ['MQTT-3.8.1-1'], v5: ['MQTT-3.8.1-1'] }, async (t) => {
  const { client } = await t.connect('sub');
  const bytes = encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: t.topic('flags'), qos: 0 }] }, t.version);
  bytes[0] = 0x80; // SUBSCRIBE with flags 0000
  client.sendBytes(bytes, 'SUBSCRIBE with fixed-header flags 0000');
  await t.expectClosed(client, 'MQTT-3.8.1-1');
  t.check(!client.received.some((p) => p.type === 'suback'), 'MQTT-3.8.1-1', 'the broker answered a SUBSCRIBE with invalid flags');
});

conformance('a SUBSCRIBE with a reserved bit set in the subscription options closes the connection', { v4: ['MQTT-3.8.3-4'], v5: ['MQTT-3.8.3-5'] }, async (t) => {
  const { client } = await t.connect('sub');
  const bytes = encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: t.topic('rsv'), qos: 0 }] }, t.version);
  bytes[bytes.length - 1] = 0x40; // options byte: reserved bit 6
  client.sendBytes(bytes, 'SUBSCRIBE options with reserved bit 6 set');
  await t.expectClosed(client, sv(t, 'MQTT-3.8.3-4', 'MQTT-3.8.3-5'));
  t.check(!client.received.some((p) => p.type === 'suback'), sv(t, 'MQTT-3.8.3-4', 'MQTT-3.8.3-5'), 'the broker answered a SUBSCRIBE with a reserved bit set');
});

conformance('a SUBSCRIBE requesting QoS 3 closes the connection', { v4: ['MQTT-3.8.3-4'] }, async (t) => {
  const { client } = await t.connect('sub');
  const bytes = encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: t.topic('q3'), qos: 0 }] }, t.version);
  bytes[bytes.length - 1] = 0x03;
  client.sendBytes(bytes, 'SUBSCRIBE requesting QoS 3');
  await t.expectClosed(client, 'MQTT-3.8.3-4');
  t.check(!client.received.some((p) => p.type === 'suback'), 'MQTT-3.8.3-4', 'the broker answered a SUBSCRIBE requesting QoS 3');
});

conformance('a SUBSCRIBE without any topic filter closes the connection', { v4: ['MQTT-3.8.3-3'] }, async (t) => {
  const { client } = await t.connect('sub');
  client.sendBytes(Buffer.from([0x82, 0x02, 0x00, 0x01]), 'SUBSCRIBE id 1 with no payload');
  await t.expectClosed(client, 'MQTT-3.8.3-3');
  t.check(!client.received.some((p) => p.type === 'suback'), 'MQTT-3.8.3-3', 'the broker answered a SUBSCRIBE without topic filters');
});

conformance('a SUBSCRIBE with Packet Identifier 0 closes the connection', { v4: ['MQTT-2.3.1-1'] }, async (t) => {
  const { client } = await t.connect('sub');
  const bytes = encode({ type: 'subscribe', packetId: 0, subscriptions: [{ topicFilter: t.topic('id0'), qos: 0 }] }, t.version, { validate: false });
  client.sendBytes(bytes, 'SUBSCRIBE with Packet Identifier 0');
  await t.expectClosed(client, 'MQTT-2.3.1-1');
  t.check(!client.received.some((p) => p.type === 'suback'), 'MQTT-2.3.1-1', 'the broker answered a SUBSCRIBE with Packet Identifier 0');
});

conformance('a broker without wildcard subscriptions refuses filters that use them', { v4: ['MQTT-3.8.3-2'] }, async (t) => {
  if (t.profile.wildcardSubscriptions !== false) return t.skip(`profile '${t.profile.name}' does not say wildcard subscriptions are unsupported`);
  const { client } = await t.connect('sub');
  const ack = await subscribe(t, client, [{ topicFilter: t.topic('+'), qos: 0 }, { topicFilter: t.topic('#'), qos: 0 }]).catch(() => undefined);
  if (ack === undefined) return; // closing the connection rejects the subscription too
  t.check(ack.reasonCodes.every((c) => c === 0x80), 'MQTT-3.8.3-2', `wildcard filters granted: ${describe(ack)}`);
});

conformance('SUBACKs to a client with a small Maximum Packet Size leave out what would not fit', { v5: ['MQTT-3.9.2-1', 'MQTT-3.9.2-2'] }, async (t) => {
  const { client, max } = await t.connectSmall('sub');
  // A plain filter and a shared one (a broker without shared subscriptions refuses it, perhaps with a Reason String).
  const ack = await subscribe(t, client, [{ topicFilter: t.topic('small'), qos: 0 }, { topicFilter: `$share/mtb/${t.topic('small')}`, qos: 0 }]);
  const size = encode(ack, 5).length;
  t.check(size <= max || !ack.properties?.reasonString, 'MQTT-3.9.2-1', `SUBACK of ${size} bytes carries a Reason String beyond Maximum Packet Size ${max}`);
  t.check(size <= max || !ack.properties?.userProperties, 'MQTT-3.9.2-2', `SUBACK of ${size} bytes carries User Properties beyond Maximum Packet Size ${max}`);
});

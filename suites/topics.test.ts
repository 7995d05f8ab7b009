/**
 * Topic Names and Topic Filters (3.1.1 §3.3.2, §4.7; 5.0 §3.3.2, §4.7):
 * `+` and `#` (incl. the parent level and empty levels), `$` topics and
 * leading wildcards, exact (un-normalised) matching, overlapping
 * subscriptions, and the invalid names and filters a broker must refuse.
 */
import type { ProtocolVersion, QoS } from '../codec/index.js';
import type { RawClient } from '../harness/raw-client.js';
import { describe, WaitError } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import { vbi } from './support/v5-helpers.js';
import type { ConformanceContext } from './support/context.js';
import { ack, dollarTopic, expectNoPublish, publish, receive, SILENCE_MS, subscribe, subscribeOk, sv, text } from './support/publish-helpers.js';


function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}

/** A QoS 0 PUBLISH with the Topic Name given as raw bytes (may be invalid). */
function rawPublish(version: ProtocolVersion, topic: Buffer, payload = Buffer.from('x')): Buffer {
  const body = Buffer.concat([u16(topic.length), topic, version === 5 ? Buffer.from([0]) : Buffer.alloc(0), payload]);
  return Buffer.concat([Buffer.from([0x30]), vbi(body.length), body]);
}

/** A SUBSCRIBE (id 1, QoS 0) with the Topic Filter given as raw bytes (may be invalid). */
function rawSubscribe(version: ProtocolVersion, filter: Buffer): Buffer {
  const body = Buffer.concat([u16(1), version === 5 ? Buffer.from([0]) : Buffer.alloc(0), u16(filter.length), filter, Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0x82]), vbi(body.length), body]);
}

/** Waits for the broker to refuse a subscription: a failure code in SUBACK, or closing the connection. Returns what happened. */
async function expectRefused(t: ConformanceContext, client: RawClient, statement: string, what: string): Promise<string> {
  const outcome = await client.expect('suback').then(
    (a) => ({ suback: a }),
    (e: unknown) => (e instanceof WaitError && e.failure === 'closed' ? { closed: true as const } : undefined),
  );
  t.check(outcome !== undefined, statement, `${what}: neither SUBACK nor close within ${t.timeoutMs} ms`);
  if ('suback' in outcome!) {
    t.check(outcome.suback.reasonCodes.every((c) => c >= 0x80), statement, `${what} was granted: ${describe(outcome.suback)}`);
    return describe(outcome.suback);
  }
  return 'closed';
}

/**
 * Publishes every topic (QoS 1) and checks `sub` receives exactly `expected`:
 * each expected topic at least once, nothing else under `base`.
 */
async function checkDelivery(t: ConformanceContext, sub: RawClient, topics: string[], expected: string[], statement: (topic: string) => string): Promise<void> {
  const { client: pub } = await t.connect('pub');
  const all = new Set(topics);
  // The ones that must not arrive go first, so a wrong match shows before the silence check ends.
  for (const topic of topics.filter((x) => !expected.includes(x))) await publish(t, pub, topic, topic, 1);
  for (const topic of expected) await publish(t, pub, topic, topic, 1);
  const pending = new Set(expected);
  while (pending.size > 0) {
    const p = await t.expect(sub, 'publish', statement([...pending][0]!), { where: (x) => all.has(x.topic), what: `PUBLISH for one of ${[...pending].join(', ')}` });
    await ack(t, sub, p);
    t.check(pending.has(p.topic) || expected.includes(p.topic), statement(p.topic), `received '${p.topic}', which the filter does not match`);
    t.check(text(p) === p.topic, 'MQTT-3.3.2-3', `Topic Name '${p.topic}' delivered for a message published to '${text(p)}'`);
    pending.delete(p.topic);
  }
  await expectNoPublish(t, sub, undefined, (x) => all.has(x.topic) && !expected.includes(x.topic), 'no PUBLISH for a topic the filter does not match').catch((e: Error) => {
    const stray = sub.received.find((x) => x.type === 'publish' && all.has(x.topic) && !expected.includes(x.topic));
    t.fail(stray && stray.type === 'publish' ? statement(stray.topic) : undefined, e.message);
  });
}

conformance('+ matches exactly one whole level, including an empty one', {
  v4: ['MQTT-4.7.1-3', 'MQTT-3.3.2-3'], v5: ['MQTT-4.7.1-2', 'MQTT-3.3.2-3'], requires: ['wildcards', 'qos1'],
}, async (t) => {
  const st = sv(t, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2');
  const sub = await t.subscriber('sub', [{ topicFilter: t.topic('a/+/c'), qos: 1 }, { topicFilter: t.topic('e/+'), qos: 1 }]);
  const yes = ['a/b/c', 'a//c', 'a/pb/c', 'e/x', 'e/'].map((x) => t.topic(x));
  const no = ['a/c', 'a/b/x/c', 'a/b/c/d', 'a/b', 'e', 'e/x/y', 'e//'].map((x) => t.topic(x));
  await checkDelivery(t, sub, [...yes, ...no], yes, () => st);
});

conformance('# matches the parent level and every level below it', {
  v4: ['MQTT-4.7.1-2', 'MQTT-3.3.2-3'], v5: ['MQTT-4.7.1-1', 'MQTT-3.3.2-3'], requires: ['wildcards', 'qos1'],
}, async (t) => {
  const st = sv(t, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1');
  const sub = await t.subscriber('sub', t.topic('s/#'), { qos: 1 });
  const yes = ['s', 's/', 's/a', 's/a/b', 's/a//b', 's//'].map((x) => t.topic(x));
  const no = ['sx', 'x/s', 'x/s/a'].map((x) => t.topic(x));
  await checkDelivery(t, sub, [...yes, ...no], yes, () => st);
});

conformance('filters starting with a wildcard do not match topics starting with $', {
  v4: ['MQTT-4.7.2-1'], v5: ['MQTT-4.7.2-1'], requires: ['wildcards'],
}, async (t) => {
  const d = await dollarTopic(t, 'd');
  if (!d) return t.skip('no $ topic root is usable by clients here (tried SUITE_DOLLAR_ROOTS, default $mqtt-testbed,$SYS)');
  const normal = t.topic('d');
  const rest = normal.split('/').slice(1).join('/');
  const leading = ['#', `+/${rest}`, '+/#', `+/${rest.split('/').map(() => '+').join('/')}`];
  const subs: RawClient[] = [];
  for (const [i, f] of leading.entries()) {
    const { client } = await t.connect(`w${i}`);
    const suback = await subscribe(t, client, f);
    if (suback.reasonCodes[0]! >= 0x80) {
      t.finding(`filter '${f}' refused (${describe(suback)}): not checked`);
      continue;
    }
    subs.push(client);
  }
  if (subs.length === 0) return t.skip('every leading-wildcard filter was refused');
  // A literal subscription to the $ topic shows the message is really published.
  const control = await t.subscriber('lit', d.topic);
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, d.topic, 'dollar', 0);
  await publish(t, pub, normal, 'normal', 0);
  await receive(t, control, 1, undefined, { where: (p) => p.topic === d.topic, what: `the $ message through the literal filter '${d.topic}' (precondition)` });
  for (const s of subs) await receive(t, s, 1, undefined, { where: (p) => p.topic === normal, what: `the normal message on ${s.label} (precondition)` });
  for (const s of subs) await expectNoPublish(t, s, 'MQTT-4.7.2-1', (p) => p.topic === d.topic, `no '${d.topic}' through a filter starting with a wildcard`, 150);
});

conformance('matching is exact: no case folding, Unicode normalisation or trimming', {
  v4: ['MQTT-4.7.3-4'], v5: ['MQTT-4.7.3-4'], requires: ['qos1'],
}, async (t) => {
  const nfc = 'caf\u00e9';
  const nfd = 'cafe\u0301';
  const filters = ['Case', nfc, 'sp ace', 'tr'].map((x) => t.topic(`n/${x}`));
  const sub = await t.subscriber('sub', filters.map((f) => ({ topicFilter: f, qos: 1 as QoS })));
  const no = ['case', 'CASE', nfd, ' sp ace', 'sp ace ', 'sp  ace', 'tr/', 'tr ', 'Tr'].map((x) => t.topic(`n/${x}`));
  await checkDelivery(t, sub, [...filters, ...no], filters, () => 'MQTT-4.7.3-4');
});

conformance('overlapping subscriptions deliver the message at the highest QoS they grant', {
  v4: ['MQTT-3.3.5-1'], v5: ['MQTT-3.3.4-2'], requires: ['wildcards', 'qos1'],
}, async (t) => {
  const st = sv(t, 'MQTT-3.3.5-1', 'MQTT-3.3.4-2');
  const max = t.profile.maxQoS ?? 2;
  const { client: sub } = await t.connect('sub');
  const filters = [{ topicFilter: t.topic('o/#'), qos: 0 as QoS }, { topicFilter: t.topic('o/+'), qos: 1 as QoS }, { topicFilter: t.topic('o/x'), qos: max }];
  const granted = (await subscribeOk(t, sub, filters)).reasonCodes;
  const { client: pub } = await t.connect('pub');
  // o/x matches all three, o/y the first two.
  for (const [topic, matching] of [[t.topic('o/x'), [0, 1, 2]], [t.topic('o/y'), [0, 1]]] as const) {
    await publish(t, pub, topic, 'overlap', max);
    const want = Math.min(max, Math.max(...matching.map((i) => granted[i]!)));
    const copies = await receive(t, sub, 1, st, { where: (p) => p.topic === topic });
    for (;;) {
      const more = await sub.expect('publish', { where: (p) => p.topic === topic, timeoutMs: SILENCE_MS }).catch(() => undefined);
      if (!more) break;
      await ack(t, sub, more);
      copies.push(more);
    }
    const best = Math.max(...copies.map((p) => p.qos));
    t.check(best === want, st, `'${topic}' matches subscriptions granted [${matching.map((i) => granted[i]!).join(',')}]; copies came at QoS [${copies.map((p) => p.qos).join(',')}], none at ${want}`);
    t.check(copies.length <= matching.length, st, `${copies.length} copies for ${matching.length} matching subscriptions`);
    if (copies.length > 1) t.finding(`'${topic}': ${copies.length} copies, one per matching subscription (allowed: "MAY deliver further copies")`);
  }
});

conformance('a message reaches every client whose subscription matches, whatever the filter form', {
  v4: ['MQTT-4.5.0-1'], v5: ['MQTT-4.5.0-1'], requires: ['wildcards', 'qos1'],
}, async (t) => {
  const topic = t.topic('m/x');
  const subs = await Promise.all([topic, t.topic('m/+'), t.topic('m/#'), t.topic('+/x')].map((f, i) => t.subscriber(`s${i}`, f, { qos: 1 })));
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'everyone', 1);
  for (const s of subs) await receive(t, s, 1, 'MQTT-4.5.0-1', { where: (p) => p.topic === topic, what: `PUBLISH to ${s.label}` });
});

conformance('a PUBLISH whose Topic Name contains a wildcard closes the connection', {
  v4: ['MQTT-3.3.2-2', 'MQTT-4.7.1-1'], v5: ['MQTT-3.3.2-2', 'MQTT-4.7.0-1'],
}, async (t) => {
  // Without wildcard subscriptions the forwarding cannot be watched; the close still is.
  const watch = t.profile.wildcardSubscriptions === false ? undefined : await t.subscriber('watch', t.topic('#'));
  for (const w of ['+', '#']) {
    const { client } = await t.connect(`p${w === '+' ? 'plus' : 'hash'}`);
    client.sendBytes(rawPublish(t.version, Buffer.from(t.topic(`w/${w}`))), `PUBLISH to '${t.topic(`w/${w}`)}'`);
    await t.expectClosed(client, 'MQTT-3.3.2-2');
  }
  if (watch) await expectNoPublish(t, watch, sv(t, 'MQTT-4.7.1-1', 'MQTT-4.7.0-1'), (p) => p.topic.startsWith(t.topic('w/')), 'no forwarding of a PUBLISH to a wildcard Topic Name', 200);
});

conformance('a PUBLISH with an empty Topic Name closes the connection', { v4: ['MQTT-4.7.3-1'], v5: ['MQTT-4.7.3-1'] }, async (t) => {
  const { client } = await t.connect('pub');
  client.sendBytes(rawPublish(t.version, Buffer.alloc(0)), 'PUBLISH with a zero-length Topic Name (and no Topic Alias)');
  await t.expectClosed(client, 'MQTT-4.7.3-1');
});

conformance('a Topic Name containing U+0000 closes the connection', { v4: ['MQTT-4.7.3-2'], v5: ['MQTT-4.7.3-2'] }, async (t) => {
  const watch = t.profile.wildcardSubscriptions === false ? undefined : await t.subscriber('watch', t.topic('#'));
  const { client } = await t.connect('pub');
  client.sendBytes(rawPublish(t.version, Buffer.from(`${t.topic('nul')}\u0000x`)), 'PUBLISH with U+0000 in the Topic Name');
  await t.expectClosed(client, 'MQTT-4.7.3-2');
  if (watch) await expectNoPublish(t, watch, 'MQTT-4.7.3-2', (p) => p.topic.startsWith(t.topic('nul')), 'no forwarding of a Topic Name with U+0000', 200);
});

conformance('a Topic Name that is not well-formed UTF-8 closes the connection', { v4: ['MQTT-3.3.2-1'], v5: ['MQTT-3.3.2-1'] }, async (t) => {
  const { client } = await t.connect('pub');
  client.sendBytes(rawPublish(t.version, Buffer.concat([Buffer.from(t.topic('bad')), Buffer.from([0xc3, 0x28])])), 'PUBLISH with ill-formed UTF-8 (C3 28) in the Topic Name');
  await t.expectClosed(client, 'MQTT-3.3.2-1');
});

conformance('an empty Topic Filter is refused', { v4: ['MQTT-4.7.3-1'], v5: ['MQTT-4.7.3-1'] }, async (t) => {
  const { client } = await t.connect('sub');
  client.sendBytes(rawSubscribe(t.version, Buffer.alloc(0)), 'SUBSCRIBE with a zero-length Topic Filter');
  await expectRefused(t, client, 'MQTT-4.7.3-1', 'the empty Topic Filter');
});

conformance('a Topic Filter containing U+0000 is refused', { v4: ['MQTT-4.7.3-2'], v5: ['MQTT-4.7.3-2'] }, async (t) => {
  const { client } = await t.connect('sub');
  client.sendBytes(rawSubscribe(t.version, Buffer.from(`${t.topic('nul')}\u0000`)), 'SUBSCRIBE with U+0000 in the Topic Filter');
  await expectRefused(t, client, 'MQTT-4.7.3-2', 'the Topic Filter with U+0000');
});

conformance('Topic Filters with misplaced wildcards are refused', {
  v4: ['MQTT-4.7.1-2', 'MQTT-4.7.1-3'], v5: ['MQTT-4.7.1-1', 'MQTT-4.7.1-2'],
}, async (t) => {
  const bad: [string, string][] = [
    ['a/#/b', sv(t, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1')], ['a#', sv(t, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1')],
    ['#a', sv(t, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1')], ['a/#/', sv(t, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1')],
    ['a+', sv(t, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2')], ['+a/b', sv(t, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2')],
    ['a/b+/c', sv(t, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2')], ['++', sv(t, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2')],
  ];
  const outcomes = await Promise.all(bad.map(async ([f, st], i) => {
    const { client } = await t.connect(`b${i}`);
    client.sendBytes(rawSubscribe(t.version, Buffer.from(t.topic(f))), `SUBSCRIBE to '${t.topic(f)}'`);
    return `${f}: ${await expectRefused(t, client, st, `filter '${t.topic(f)}'`)}`;
  }));
  t.recorder.event('-', 'outcomes', outcomes.join('; '));
});

conformance('Topic Filters with wildcards in valid places are accepted', {
  v4: ['MQTT-4.7.1-2', 'MQTT-4.7.1-3'], v5: ['MQTT-4.7.1-1', 'MQTT-4.7.1-2'], requires: ['wildcards'],
}, async (t) => {
  const { client } = await t.connect('sub');
  const good = ['#', '+', '+/+', '+/#', 'a/+/b/#', '/+', '//#', '+//+'].map((f) => ({ topicFilter: t.topic(f), qos: 0 as QoS }));
  const suback = await subscribe(t, client, good);
  for (const [i, c] of suback.reasonCodes.entries()) {
    const f = good[i]!.topicFilter;
    t.check(c < 0x80, f.endsWith('#') ? sv(t, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1') : sv(t, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2'), `valid filter '${f}' refused with 0x${c.toString(16)}`);
  }
  t.check(suback.reasonCodes.length === good.length, undefined, describe(suback));
});

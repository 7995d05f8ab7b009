/**
 * MQTT 5.0 shared subscriptions (§4.8.2): the $share/{ShareName}/{filter}
 * syntax, one delivery per message per group, the granted QoS of each member,
 * what happens to a message whose receiver disappears or refuses it, and No
 * Local on a shared subscription (a Protocol Error, §3.8.3.1).
 */
import type { PublishPacket } from '../codec/index.js';
import type { RawClient } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { brokerStillUp, expectOnAny, expectRejected, hex, publish, publishes, rawSubscribe, sendOffending, subscribe } from './support/v5-helpers.js';

const share = (t: ConformanceContext, topic: string, group = `g${t.id}`): string => `$share/${group}/${topic}`;

/** Connects `label` and subscribes it to `filter` at `qos` (granted required). */
async function member(t: ConformanceContext, label: string, filter: string, qos: 0 | 1 | 2, o: { clientId?: string; sessionExpiryInterval?: number } = {}): Promise<RawClient> {
  const { client } = await t.connect(label, { clientId: o.clientId ?? t.clientId(label), properties: o.sessionExpiryInterval ? { sessionExpiryInterval: o.sessionExpiryInterval } : {} });
  await subscribe(t, client, [{ topicFilter: filter, qos }]);
  return client;
}

/** Ends a persistent session we created (best effort): DISCONNECT with Session Expiry Interval 0. */
function endSession(client: RawClient): void {
  if (client.closed) return;
  client.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  client.end();
}

const copies = (clients: RawClient[], payload: string): PublishPacket[] =>
  clients.flatMap((c) => publishes(c).filter((p) => p.payload.toString() === payload));

/** Waits for `payload` on any member; returns it and the others. */
async function receiver(t: ConformanceContext, members: RawClient[], payload: string, statement: string | undefined): Promise<{ x: RawClient; others: RawClient[]; packet: PublishPacket }> {
  const { client: x, packet } = await expectOnAny(t, members, (p) => p.payload.toString() === payload, statement, `'${payload}' at a member of the share group`);
  return { x, others: members.filter((m) => m !== x), packet };
}

// ---------------------------------------------------------------------------
// Syntax
// ---------------------------------------------------------------------------

conformance('a shared subscription $share/{ShareName}/{filter} is granted and delivers on the real topic', { v5: ['MQTT-4.8.2-1', 'MQTT-4.8.2-2', 'MQTT-3.3.2-3'], requires: ['shared'] }, async (t) => {
  const topic = t.topic('s');
  const m = await member(t, 'm', share(t, topic), 1);
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'shared', { qos: 1 });
  const got = await t.expect(m, 'publish', 'MQTT-4.8.2-1', { where: (p) => p.payload.toString() === 'shared' });
  t.check(got.topic === topic, 'MQTT-3.3.2-3', `delivered on '${got.topic}' instead of the published topic '${topic}'`);
});

const invalid: { name: string; filter: (t: ConformanceContext, topic: string) => string; statement: string }[] = [
  { name: 'an empty ShareName', filter: (_t, topic) => `$share//${topic}`, statement: 'MQTT-4.8.2-1' },
  { name: "'+' in the ShareName", filter: (t, topic) => `$share/g${t.id}+/${topic}`, statement: 'MQTT-4.8.2-2' },
  { name: "'#' in the ShareName", filter: (t, topic) => `$share/g${t.id}#/${topic}`, statement: 'MQTT-4.8.2-2' },
  { name: 'no Topic Filter after the ShareName', filter: (t) => `$share/g${t.id}`, statement: 'MQTT-4.8.2-2' },
  { name: "an empty Topic Filter after 'ShareName/'", filter: (t) => `$share/g${t.id}/`, statement: 'MQTT-4.8.2-2' },
];

for (const c of invalid) {
  conformance(`a shared subscription with ${c.name} is not granted`, { v5: [c.statement], requires: ['shared'] }, async (t) => {
    const filter = c.filter(t, t.topic('bad'));
    const { client } = await t.connect('bad');
    sendOffending(client, rawSubscribe(5, { filters: [{ filter, options: 1 }] }), `SUBSCRIBE to '${filter}'`);
    const ack = await client.expect('suback', { timeoutMs: t.timeoutMs }).catch(() => undefined);
    if (ack) {
      t.check(ack.reasonCodes[0]! >= 0x80, c.statement, `the broker granted '${filter}' (SUBACK ${hex(ack.reasonCodes[0])})`);
    } else {
      await expectRejected(t, client, { statement: c.statement, reasons: [0x82, 0x81, 0x8f, 0x9e], what: `SUBSCRIBE to '${filter}'` });
    }
    await brokerStillUp(t);
  });
}

conformance('No Local on a shared subscription is a Protocol Error', { v5: ['MQTT-3.8.3-4', 'MQTT-4.13.1-1'], requires: ['shared'] }, async (t) => {
  const filter = share(t, t.topic('nl'));
  const { client } = await t.connect('bad');
  sendOffending(client, rawSubscribe(5, { filters: [{ filter, options: 0x05 }] }), `SUBSCRIBE to '${filter}' with No Local`);
  const ack = await client.expect('suback', { timeoutMs: t.timeoutMs }).catch(() => undefined);
  if (ack) {
    t.check(ack.reasonCodes[0]! >= 0x80, 'MQTT-3.8.3-4', `the broker granted No Local on the shared subscription '${filter}' (SUBACK ${hex(ack.reasonCodes[0])})`);
    t.finding(`No Local on a shared subscription answered with SUBACK ${hex(ack.reasonCodes[0])} instead of a Protocol Error (DISCONNECT 0x82 and close, §3.8.3.1 / §4.13)`);
  } else {
    await expectRejected(t, client, { statement: 'MQTT-4.13.1-1', reasons: [0x82], what: `SUBSCRIBE to '${filter}' with No Local` });
  }
  await brokerStillUp(t);
});

// ---------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------

conformance('each message of a shared subscription goes to exactly one member of the group (§4.8.2)', { v5: [], requires: ['shared'] }, async (t) => {
  const topic = t.topic('one');
  const members = [await member(t, 'a', share(t, topic), 1), await member(t, 'b', share(t, topic), 1), await member(t, 'c', share(t, topic), 1)];
  const { client: pub } = await t.connect('pub');
  const n = 9;
  for (let i = 0; i < n; i++) await publish(t, pub, topic, `m${i}`, { qos: 1 });
  for (let i = 0; i < n; i++) {
    const { x, packet } = await receiver(t, members, `m${i}`, undefined);
    x.send({ type: 'puback', packetId: packet.packetId! });
  }
  await members[0]!.expectNothing(300, () => false).catch(() => undefined);
  for (let i = 0; i < n; i++) {
    const c = copies(members, `m${i}`);
    t.check(c.length === 1, undefined, `message m${i} reached ${c.length} members of one share group (§4.8.2: each message goes to one session of the group)`);
  }
  const used = members.filter((m) => publishes(m, topic).length > 0).length;
  if (used === 1) t.finding(`all ${n} messages went to one member of a 3-member share group (allowed, but no load is shared)`);
});

conformance('each member of a share group receives at most the QoS it was granted', { v5: ['MQTT-4.8.2-3'], requires: ['shared', 'qos1'] }, async (t) => {
  const topic = t.topic('qos');
  const q0 = await member(t, 'q0', share(t, topic), 0);
  const q1 = await member(t, 'q1', share(t, topic), 1);
  const { client: pub } = await t.connect('pub');
  const n = 8;
  for (let i = 0; i < n; i++) await publish(t, pub, topic, `m${i}`, { qos: 1 });
  for (let i = 0; i < n; i++) {
    const { x, packet } = await receiver(t, [q0, q1], `m${i}`, 'MQTT-4.8.2-3');
    if (packet.qos === 1) x.send({ type: 'puback', packetId: packet.packetId! });
    t.check(x !== q0 || packet.qos === 0, 'MQTT-4.8.2-3', `m${i} sent at QoS ${packet.qos} to the member granted QoS 0`);
  }
  if (publishes(q0, topic).length === 0) t.finding(`no message went to the QoS 0 member out of ${n}: the QoS 0 side was not exercised`);
});

conformance('a QoS 2 delivery to a member that disconnects is completed to that member when it reconnects', { v5: ['MQTT-4.8.2-4'], requires: ['shared', 'qos2', 'persistentSessions'] }, async (t) => {
  const topic = t.topic('q2r');
  const ids = [t.clientId('a'), t.clientId('b')];
  const members = [await member(t, 'a', share(t, topic), 2, { clientId: ids[0], sessionExpiryInterval: 30 }), await member(t, 'b', share(t, topic), 2, { clientId: ids[1], sessionExpiryInterval: 30 })];
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'q2', { qos: 2 });
  const { x, others } = await receiver(t, members, 'q2', 'MQTT-4.8.2-4');
  const xid = ids[members.indexOf(x)]!;
  x.destroy(); // no PUBREC: the delivery is interrupted
  await x.expectClose();
  const { client: back, connack } = await t.connect('back', { clientId: xid, clean: false, properties: { sessionExpiryInterval: 30 } });
  try {
    t.check(connack.sessionPresent, undefined, 'the session of the member was not kept (test precondition)');
    const again = await t.expect(back, 'publish', 'MQTT-4.8.2-4', { where: (p) => p.payload.toString() === 'q2', what: 'the interrupted QoS 2 message, re-sent to the same member' });
    back.send({ type: 'pubrec', packetId: again.packetId! });
    await t.expect(back, 'pubrel', 'MQTT-4.3.3-4', { where: (p) => p.packetId === again.packetId });
    back.send({ type: 'pubcomp', packetId: again.packetId! });
    await others[0]!.expectNothing(300, () => false).catch(() => undefined);
    t.check(copies(others, 'q2').length === 0, 'MQTT-4.8.2-4', 'the interrupted QoS 2 message was also sent to the other member');
  } finally {
    endSession(back);
    for (const m of others) endSession(m);
  }
});

conformance('a QoS 2 message whose member\'s session ended is not sent to another member', { v5: ['MQTT-4.8.2-5'], requires: ['shared', 'qos2'] }, async (t) => {
  const topic = t.topic('q2e');
  const ids = [t.clientId('a'), t.clientId('b')];
  const members = [await member(t, 'a', share(t, topic), 2, { clientId: ids[0] }), await member(t, 'b', share(t, topic), 2, { clientId: ids[1] })];
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'orphan', { qos: 2 });
  const { x, others } = await receiver(t, members, 'orphan', 'MQTT-4.8.2-5');
  x.destroy(); // Session Expiry Interval 0: the session ends with the connection
  await x.expectClose();
  // Reconnecting the same ClientID with Clean Start proves the broker has finished with the old session.
  await t.connect('same-id', { clientId: ids[members.indexOf(x)]! });
  await publish(t, pub, topic, 'after', { qos: 2 });
  const y = others[0]!;
  const after = await t.expect(y, 'publish', undefined, { where: (p) => p.payload.toString() === 'after', what: 'a later message at the remaining member (test precondition)' });
  y.send({ type: 'pubrec', packetId: after.packetId! });
  await y.expectNothing(300, () => false).catch(() => undefined);
  t.check(copies([y], 'orphan').length === 0, 'MQTT-4.8.2-5', 'the QoS 2 message of the member whose session ended was sent to another member');
});

for (const q of [1, 2] as const) {
  conformance(`a message a member refuses (${q === 1 ? 'PUBACK' : 'PUBREC'} 0x80) is discarded, not sent to another member`, { v5: ['MQTT-4.8.2-6'], requires: q === 2 ? ['shared', 'qos2'] : ['shared', 'qos1'] }, async (t) => {
    const topic = t.topic(`ref${q}`);
    const members = [await member(t, 'a', share(t, topic), q), await member(t, 'b', share(t, topic), q)];
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'refused', { qos: q });
    const { x, packet } = await receiver(t, members, 'refused', 'MQTT-4.8.2-6');
    x.send({ type: q === 1 ? 'puback' : 'pubrec', packetId: packet.packetId!, reasonCode: 0x80 });
    // Barrier: a later message, acknowledged normally wherever it lands.
    await publish(t, pub, topic, 'later', { qos: q });
    const later = await receiver(t, members, 'later', undefined);
    if (q === 1) later.x.send({ type: 'puback', packetId: later.packet.packetId! });
    else later.x.send({ type: 'pubrec', packetId: later.packet.packetId! });
    await members[0]!.expectNothing(300, () => false).catch(() => undefined);
    const c = copies(members, 'refused');
    t.check(c.length === 1, 'MQTT-4.8.2-6', `the refused message was sent ${c.length} times in the group (${members.map((m) => `${m.label}: ${copies([m], 'refused').length}`).join(', ')})`);
  });
}

conformance('a QoS 1 message whose member\'s session ended goes to another member (SHOULD)', { v5: [], requires: ['shared', 'qos1'] }, async (t) => {
  const topic = t.topic('q1e');
  const ids = [t.clientId('a'), t.clientId('b')];
  const members = [await member(t, 'a', share(t, topic), 1, { clientId: ids[0] }), await member(t, 'b', share(t, topic), 1, { clientId: ids[1] })];
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'rehome', { qos: 1 });
  const { x, others } = await receiver(t, members, 'rehome', undefined);
  x.destroy();
  await x.expectClose();
  await t.connect('same-id', { clientId: ids[members.indexOf(x)]! });
  const y = others[0]!;
  const moved = await y.expect('publish', { where: (p) => p.payload.toString() === 'rehome', timeoutMs: 1500 }).then(() => true, () => false);
  if (!moved) t.finding('a QoS 1 message left unacknowledged by a member whose session ended was not sent to another member within 1.5 s (§4.8.2: the server SHOULD send it to another subscriber)');
});

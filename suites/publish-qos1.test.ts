/**
 * PUBLISH at QoS 1 (3.1.1 §2.3.1, §3.3–3.4, §4.3.2; 5.0 §2.2.1, §3.3–3.4,
 * §4.3.2): PUBACK as receiver, Packet Identifiers as sender, DUP handling,
 * identifier reuse, and the 5.0 receive window.
 */
import { encode, type PublishPacket } from '../codec/index.js';
import { describe, WaitError } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import {
  checkReasonCode, connectFreshPersistent, dropConnection, endSession, expectNoPublish, pipeline, publish, receive, resume, serverReceiveMaximum, sendPublish, SILENCE_MS, subscribe, sv, text, unsubscribe,
} from './support/publish-helpers.js';

conformance('a QoS 1 PUBLISH is acknowledged by a PUBACK carrying its Packet Identifier', {
  v4: ['MQTT-3.3.4-1', 'MQTT-2.3.1-6', 'MQTT-4.3.2-2'],
  v5: ['MQTT-3.3.4-1', 'MQTT-2.2.1-5', 'MQTT-4.3.2-4', 'MQTT-3.4.2-1'],
  requires: ['qos1'],
}, async (t) => {
  const topic = t.topic('ack1');
  await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  for (const id of [1, 0x1234, 0xffff]) {
    sendPublish(pub, topic, `id ${id}`, 1, { packetId: id });
    const ack = await t.expect(pub, 'puback', 'MQTT-3.3.4-1', { what: `PUBACK for PUBLISH id ${id}` });
    t.check(ack.packetId === id, sv(t, 'MQTT-2.3.1-6', 'MQTT-2.2.1-5'), `PUBACK carries id ${ack.packetId}, the PUBLISH had ${id}`);
    if (t.version === 5) {
      checkReasonCode(t, 'puback', ack.reasonCode, 'MQTT-3.4.2-1');
      t.check((ack.reasonCode ?? 0) < 0x80, 'MQTT-4.3.2-4', `PUBACK reason code 0x${(ack.reasonCode ?? 0).toString(16)} refuses a plain PUBLISH`);
    }
  }
});

conformance('a QoS 1 PUBLISH reusing an acknowledged Packet Identifier is a new message, whatever its DUP flag', {
  v4: ['MQTT-4.3.2-2'], v5: ['MQTT-4.3.2-5'], requires: ['qos1'],
}, async (t) => {
  const topic = t.topic('reuse1');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  const st = sv(t, 'MQTT-4.3.2-2', 'MQTT-4.3.2-5');
  await publish(t, pub, topic, 'first', 1, { packetId: 7 });
  await publish(t, pub, topic, 'second', 1, { packetId: 7 });
  await publish(t, pub, topic, 'third', 1, { packetId: 7, dup: true });
  const got = await receive(t, sub, 3, st, { where: (p) => p.topic === topic, what: 'each of the 3 messages sent with id 7' });
  t.check(got.map(text).join(',') === 'first,second,third', st, `received ${got.map(text).join(',')}`);
});

conformance('every QoS 1 message acknowledged with PUBACK is delivered, also when the client does not wait between them', {
  v4: ['MQTT-4.3.2-2', 'MQTT-4.5.0-1'], v5: ['MQTT-4.3.2-4', 'MQTT-4.5.0-1'], requires: ['qos1'],
}, async (t) => {
  const topic = t.topic('pipe1');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub, connack } = await t.connect('pub');
  // 3.1.1 has no flow control: the client may have any number in flight. 5.0: up to the broker's Receive Maximum.
  const accepted = await pipeline(t, pub, [topic], 40, 1, serverReceiveMaximum(connack));
  const got = await receive(t, sub, accepted.length, 'MQTT-4.5.0-1', { where: (p) => p.topic === topic, what: 'acknowledged message' }).catch((e: Error): never => {
    const seen = new Set(sub.received.flatMap((p) => (p.type === 'publish' && p.topic === topic ? [text(p)] : [])));
    return t.fail('MQTT-4.5.0-1', `${e.message.replace(/^\[[^\]]+\] /, '')}; PUBACKed but never delivered: ${accepted.filter((a) => !seen.has(a)).join(',')}`);
  });
  t.check(new Set(got.map(text)).size === accepted.length, 'MQTT-4.5.0-1', `delivered ${got.map(text).join(',')}`);
});

conformance('a QoS 1 message is sent to a subscriber with QoS 1, DUP 0 and a non-zero Packet Identifier', {
  v4: ['MQTT-4.3.2-1', 'MQTT-2.3.1-1', 'MQTT-2.3.1-4'],
  v5: ['MQTT-4.3.2-1', 'MQTT-4.3.2-2', 'MQTT-2.2.1-4'],
  requires: ['qos1'],
}, async (t) => {
  const topic = t.topic('out1');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'out', 1);
  const [p] = await receive(t, sub, 1, sv(t, 'MQTT-4.3.2-1', 'MQTT-4.3.2-2'), { where: (x) => x.topic === topic });
  t.check(p!.qos === 1, sv(t, 'MQTT-4.3.2-1', 'MQTT-4.3.2-2'), `sent at QoS ${p!.qos}`);
  t.check(!p!.dup, sv(t, 'MQTT-4.3.2-1', 'MQTT-4.3.2-2'), 'first transmission has DUP 1');
  t.check((p!.packetId ?? 0) !== 0, sv(t, 'MQTT-2.3.1-1', 'MQTT-2.2.1-4'), 'Packet Identifier is 0');
});

conformance('the DUP flag the broker sends does not copy the DUP flag it received', { v4: ['MQTT-3.3.1-3'], v5: ['MQTT-3.3.1-3'], requires: ['qos1'] }, async (t) => {
  const topic = t.topic('dup');
  const sub1 = await t.subscriber('sub1', topic, { qos: 1 });
  const sub0 = await t.subscriber('sub0', topic, { qos: 0 });
  if (t.version === 4) {
    // 3.1.1 lets a sender retransmit on the same connection: the same PUBLISH again, now with DUP 1.
    const { client: pub } = await t.connect('pub');
    const id = sendPublish(pub, topic, 'dup in', 1);
    sendPublish(pub, topic, 'dup in', 1, { packetId: id, dup: true });
    await t.expect(pub, 'puback', 'MQTT-3.3.4-1', { where: (a) => a.packetId === id });
  } else {
    // 5.0 resends only on reconnection [MQTT-4.4.0-1]: send, drop the connection, resume the session and resend with DUP 1.
    t.requires('persistentSessions');
    const { client: first } = await connectFreshPersistent(t, 'pub');
    const id = sendPublish(first, topic, 'dup in', 1);
    await dropConnection(first);
    const { client: pub } = await resume(t, 'pub');
    sendPublish(pub, topic, 'dup in', 1, { packetId: id, dup: true });
    await t.expect(pub, 'puback', 'MQTT-3.3.4-1', { where: (a) => a.packetId === id });
    await endSession(t, 'pub');
  }
  // The broker may forward the message once or twice (at least once); each copy is its own first transmission.
  for (const [sub, qos] of [[sub1, 1], [sub0, 0]] as const) {
    const copies = await receive(t, sub, 1, 'MQTT-3.3.1-3', { where: (x) => x.topic === topic });
    const again = await sub.expect('publish', { where: (x) => x.topic === topic, timeoutMs: SILENCE_MS }).catch(() => undefined);
    if (again) copies.push(again);
    for (const p of copies) {
      t.check(!p.dup, 'MQTT-3.3.1-3', `QoS ${qos} subscriber got ${describe(p)}: the broker copied the incoming DUP flag onto its own first transmission`);
    }
  }
});

conformance('Packet Identifiers of unacknowledged QoS 1 deliveries are non-zero and distinct', {
  v4: ['MQTT-2.3.1-1', 'MQTT-2.3.1-4', 'MQTT-4.3.2-1'],
  v5: ['MQTT-2.2.1-4', 'MQTT-4.3.2-1'],
  requires: ['qos1'],
}, async (t) => {
  const topic = t.topic('ids1');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub, connack } = await t.connect('pub');
  const n = Math.min(20, serverReceiveMaximum(connack));
  for (let i = 0; i < n; i++) sendPublish(pub, topic, `m${i}`, 1);
  for (let i = 0; i < n; i++) await t.expect(pub, 'puback', 'MQTT-3.3.4-1');
  const st = sv(t, 'MQTT-2.3.1-4', 'MQTT-2.2.1-4');
  const unacked = new Map<number, string>();
  let received = 0;
  while (received < n) {
    let p: PublishPacket | undefined;
    try {
      p = await sub.expect('publish', { where: (x) => x.topic === topic, timeoutMs: unacked.size > 0 ? SILENCE_MS : t.timeoutMs });
    } catch {
      // The broker may hold deliveries back behind its own in-flight limit: free the window and go on.
      t.check(unacked.size > 0, 'MQTT-4.3.2-1', `only ${received} of ${n} QoS 1 messages arrived`);
      for (const id of unacked.keys()) sub.send({ type: 'puback', packetId: id, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
      unacked.clear();
      continue;
    }
    received++;
    const id = p.packetId ?? 0;
    t.check(id !== 0, sv(t, 'MQTT-2.3.1-1', 'MQTT-2.2.1-4'), `${text(p)} has Packet Identifier 0`);
    t.check(!unacked.has(id), st, `${text(p)} reuses id ${id} of ${unacked.get(id)!}, which is still unacknowledged`);
    unacked.set(id, text(p));
  }
});

conformance('a QoS 1 PUBLISH with Packet Identifier 0 closes the connection', { v4: ['MQTT-2.3.1-1'], requires: ['qos1'] }, async (t) => {
  const { client } = await t.connect('pub');
  const bytes = encode({ type: 'publish', topic: t.topic('id0'), payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 0 }, t.version, { validate: false });
  client.sendBytes(bytes, 'QoS 1 PUBLISH with Packet Identifier 0');
  await t.expectClosed(client, 'MQTT-2.3.1-1');
  t.check(!client.received.some((p) => p.type === 'puback'), 'MQTT-2.3.1-1', 'the broker acknowledged a PUBLISH with Packet Identifier 0');
});

conformance('a PUBLISH the client may not make is acknowledged as usual or the connection is closed', { v4: ['MQTT-3.3.5-2'], requires: ['acl', 'qos1'] }, async (t) => {
  const claim = t.profile.acl?.find((c) => c.action === 'publish' && c.expect === 'deny');
  if (!claim) return t.skip(`profile '${t.profile.name}' claims no denied PUBLISH`);
  const { client } = await t.connect('deny', { role: claim.role });
  const id = sendPublish(client, claim.topic, 'denied', 1);
  const outcome = await client.expect('puback', { where: (a) => a.packetId === id }).then(
    () => 'puback' as const,
    (e: unknown) => (e instanceof WaitError && e.failure === 'closed' ? 'closed' as const : 'nothing' as const),
  );
  t.check(outcome !== 'nothing', 'MQTT-3.3.5-2', `role ${claim.role} published to '${claim.topic}' (denied): neither PUBACK nor close`);
});

conformance('the broker keeps no more unacknowledged QoS 1 PUBLISHes in flight than the client\'s Receive Maximum', { v5: ['MQTT-3.3.4-9'], requires: ['qos1'] }, async (t) => {
  const topic = t.topic('rmax');
  const sub = await t.subscriber('sub', topic, { qos: 1, properties: { receiveMaximum: 2 } });
  const { client: pub } = await t.connect('pub');
  const n = 6;
  for (let i = 0; i < n; i++) sendPublish(pub, topic, `m${i}`, 1);
  const inFlight: PublishPacket[] = [];
  let got = 0;
  while (got < n) {
    // Fill the window: with 2 unacknowledged, a third PUBLISH must not come.
    while (inFlight.length < 2 && got < n) {
      inFlight.push(await t.expect(sub, 'publish', 'MQTT-3.3.4-9', { where: (p) => p.topic === topic, what: `PUBLISH m${got} once the window has room` }));
      got++;
    }
    if (got < n) await expectNoPublish(t, sub, 'MQTT-3.3.4-9', (p) => p.topic === topic, 'no PUBLISH beyond Receive Maximum 2', 250);
    const done = inFlight.shift()!;
    sub.send({ type: 'puback', packetId: done.packetId!, reasonCode: 0 });
  }
});

conformance('a full receive window does not hold back packets other than PUBLISH', { v5: ['MQTT-3.3.4-10'], requires: ['qos1'] }, async (t) => {
  const topic = t.topic('rfull');
  const sub = await t.subscriber('sub', topic, { qos: 1, properties: { receiveMaximum: 1 } });
  const { client: pub } = await t.connect('pub');
  sendPublish(pub, topic, 'fills the window', 1);
  sendPublish(pub, topic, 'waits', 1);
  await t.expect(sub, 'publish', undefined, { where: (p) => p.topic === topic, what: 'the first PUBLISH (precondition)' });
  // The window (1) is full. Everything else must still flow.
  sub.send({ type: 'pingreq' });
  await t.expect(sub, 'pingresp', 'MQTT-3.3.4-10', { what: 'PINGRESP while the receive window is full' });
  const suback = await subscribe(t, sub, t.topic('other'), { qos: 1 });
  t.check(suback.reasonCodes.length === 1, 'MQTT-3.3.4-10', describe(suback));
  await unsubscribe(t, sub, [t.topic('other')]);
  const id = sendPublish(sub, t.topic('own'), 'own', 1);
  await t.expect(sub, 'puback', 'MQTT-3.3.4-10', { where: (a) => a.packetId === id, what: 'PUBACK of its own QoS 1 PUBLISH while the window is full' });
});

conformance('PUBACKs to a client with a small Maximum Packet Size leave out what would not fit', { v5: ['MQTT-3.4.2-2', 'MQTT-3.4.2-3'], requires: ['qos1'] }, async (t) => {
  const { client, max } = await t.connectSmall('pub');
  // No subscriber: a broker that explains "No matching subscribers" in a Reason String must drop it here.
  const ids = [sendPublish(client, t.topic('nobody'), 'x', 1), sendPublish(client, t.topic('nobody2'), 'y', 1)];
  for (const id of ids) {
    const ack = await t.expect(client, 'puback', 'MQTT-3.3.4-1', { where: (a) => a.packetId === id });
    const size = encode(ack, 5).length;
    t.check(size <= max || !ack.properties?.reasonString, 'MQTT-3.4.2-2', `PUBACK of ${size} bytes carries a Reason String beyond Maximum Packet Size ${max}`);
    t.check(size <= max || !ack.properties?.userProperties, 'MQTT-3.4.2-3', `PUBACK of ${size} bytes carries User Properties beyond Maximum Packet Size ${max}`);
  }
});

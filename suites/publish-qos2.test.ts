/**
 * PUBLISH at QoS 2 (3.1.1 §3.3, §3.5–3.7, §4.3.3; 5.0 §3.3, §3.5–3.7,
 * §4.3.3): exactly once with the broker as receiver (PUBREC, duplicates,
 * PUBREL/PUBCOMP, identifier reuse) and as sender (PUBLISH, PUBREL), and
 * malformed QoS / PUBREL flags.
 */
import { encode, type PublishPacket } from '../codec/index.js';
import { conformance } from './support/conformance.js';
import {
  checkReasonCode, expectNoPublish, pipeline, publish, receive, sendPublish, serverReceiveMaximum, SILENCE_MS, subscribe, sv, text,
} from './support/publish-helpers.js';

conformance('a QoS 2 PUBLISH is answered by PUBREC, and its PUBREL by PUBCOMP, each with the Packet Identifier', {
  v4: ['MQTT-3.3.4-1', 'MQTT-2.3.1-6', 'MQTT-4.3.3-2'],
  v5: ['MQTT-3.3.4-1', 'MQTT-2.2.1-5', 'MQTT-4.3.3-8', 'MQTT-4.3.3-11', 'MQTT-3.5.2-1', 'MQTT-3.7.2-1'],
  requires: ['qos2'],
}, async (t) => {
  const topic = t.topic('ack2');
  await t.subscriber('sub', topic, { qos: 2 });
  const { client: pub } = await t.connect('pub');
  for (const id of [0x00ff, 0xfffe]) {
    sendPublish(pub, topic, `id ${id}`, 2, { packetId: id });
    const rec = await t.expect(pub, 'pubrec', 'MQTT-3.3.4-1', { what: `PUBREC for PUBLISH id ${id}` });
    t.check(rec.packetId === id, sv(t, 'MQTT-2.3.1-6', 'MQTT-2.2.1-5'), `PUBREC carries id ${rec.packetId}, the PUBLISH had ${id}`);
    if (t.version === 5) {
      checkReasonCode(t, 'pubrec', rec.reasonCode, 'MQTT-3.5.2-1');
      t.check((rec.reasonCode ?? 0) < 0x80, 'MQTT-4.3.3-8', `PUBREC reason code 0x${(rec.reasonCode ?? 0).toString(16)} refuses a plain PUBLISH`);
    }
    pub.send({ type: 'pubrel', packetId: id, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
    const comp = await t.expect(pub, 'pubcomp', sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11'), { what: `PUBCOMP for PUBREL id ${id}` });
    t.check(comp.packetId === id, sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11'), `PUBCOMP carries id ${comp.packetId}, the PUBREL had ${id}`);
    if (t.version === 5) {
      checkReasonCode(t, 'pubcomp', comp.reasonCode, 'MQTT-3.7.2-1');
      t.check((comp.reasonCode ?? 0) === 0, 'MQTT-4.3.3-11', `PUBCOMP reason code 0x${(comp.reasonCode ?? 0).toString(16)} for a PUBREL whose PUBLISH was PUBREC'd`);
    }
  }
});

// 3.1.1 lets a sender retransmit on the same connection (§4.4 only says when it is REQUIRED); 5.0 forbids
// resending at any time but reconnection [MQTT-4.4.0-1], so the 5.0 form of this test is in redelivery.test.ts.
conformance('a QoS 2 PUBLISH resent with DUP before PUBREL is acknowledged again but delivered only once', {
  v4: ['MQTT-4.3.3-2'], requires: ['qos2'],
}, async (t) => {
  const topic = t.topic('once');
  const st = 'MQTT-4.3.3-2';
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  sendPublish(pub, topic, 'exactly once', 2, { packetId: 42 });
  await t.expect(pub, 'pubrec', 'MQTT-3.3.4-1', { where: (r) => r.packetId === 42 });
  // The PUBREC "got lost": the sender resends the same PUBLISH with DUP 1, twice.
  sendPublish(pub, topic, 'exactly once', 2, { packetId: 42, dup: true });
  await t.expect(pub, 'pubrec', st, { where: (r) => r.packetId === 42, what: 'PUBREC for the resent PUBLISH (id 42)' });
  sendPublish(pub, topic, 'exactly once', 2, { packetId: 42, dup: true });
  await t.expect(pub, 'pubrec', st, { where: (r) => r.packetId === 42, what: 'PUBREC for the second resend (id 42)' });
  pub.send({ type: 'pubrel', packetId: 42 });
  await t.expect(pub, 'pubcomp', st, { where: (c) => c.packetId === 42 });
  await receive(t, sub, 1, st, { where: (p) => p.topic === topic, what: 'the message' });
  await expectNoPublish(t, sub, st, (p) => p.topic === topic, 'no second delivery of a QoS 2 message');
});

conformance('every QoS 2 message acknowledged with PUBREC is delivered, also when the client does not wait between them', {
  v4: ['MQTT-4.3.3-2', 'MQTT-4.5.0-1'], v5: ['MQTT-4.3.3-8', 'MQTT-4.5.0-1'], requires: ['qos2'],
}, async (t) => {
  const topic = t.topic('pipe2');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub, connack } = await t.connect('pub');
  // 3.1.1 has no flow control: the client may have any number in flight. 5.0: up to the broker's Receive Maximum.
  const accepted = await pipeline(t, pub, [topic], 40, 2, serverReceiveMaximum(connack));
  const got = await receive(t, sub, accepted.length, 'MQTT-4.5.0-1', { where: (p) => p.topic === topic, what: 'acknowledged message' }).catch((e: Error): never => {
    const seen = new Set(sub.received.flatMap((p) => (p.type === 'publish' && p.topic === topic ? [text(p)] : [])));
    return t.fail('MQTT-4.5.0-1', `${e.message.replace(/^\[[^\]]+\] /, '')}; PUBREC'd with success but never delivered: ${accepted.filter((a) => !seen.has(a)).join(',')}`);
  });
  t.check(new Set(got.map(text)).size === accepted.length, 'MQTT-4.5.0-1', `delivered ${got.map(text).join(',')}`);
});

conformance('after PUBCOMP, a QoS 2 PUBLISH reusing the Packet Identifier is a new message', {
  v4: ['MQTT-4.3.3-2'], v5: ['MQTT-4.3.3-12'], requires: ['qos2'],
}, async (t) => {
  const topic = t.topic('reuse2');
  const st = sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-12');
  const sub = await t.subscriber('sub', topic, { qos: 2 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'first', 2, { packetId: 9 });
  await publish(t, pub, topic, 'second', 2, { packetId: 9 });
  await publish(t, pub, topic, 'third', 2, { packetId: 9, dup: true });
  const got = await receive(t, sub, 3, st, { where: (p) => p.topic === topic, what: 'each of 3 messages sent with id 9' });
  t.check(got.map(text).join(',') === 'first,second,third', st, `received ${got.map(text).join(',')}`);
});

conformance('the broker sends a QoS 2 message with QoS 2, DUP 0 and a fresh id, answers PUBREC with PUBREL, then is done', {
  v4: ['MQTT-4.3.3-1', 'MQTT-2.3.1-1', 'MQTT-2.3.1-4', 'MQTT-2.3.1-6', 'MQTT-3.6.1-1'],
  v5: ['MQTT-4.3.3-1', 'MQTT-4.3.3-2', 'MQTT-4.3.3-4', 'MQTT-2.2.1-4', 'MQTT-2.2.1-5', 'MQTT-3.6.1-1', 'MQTT-3.6.2-1'],
  requires: ['qos2'],
}, async (t) => {
  const topic = t.topic('out2');
  const sub = await t.subscriber('sub', topic, { qos: 2 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'a', 2);
  await publish(t, pub, topic, 'b', 2);
  const sent = sv(t, 'MQTT-4.3.3-1', 'MQTT-4.3.3-2');
  const p1 = await t.expect(sub, 'publish', sent, { where: (p) => p.topic === topic, what: 'PUBLISH a' });
  // Both in flight at once, unless the broker holds the second back behind its own window.
  const early = await sub.expect('publish', { where: (p) => p.topic === topic, timeoutMs: SILENCE_MS }).catch(() => undefined);
  if (early) t.check(p1.packetId !== early.packetId, sv(t, 'MQTT-2.3.1-4', 'MQTT-2.2.1-4'), `both unacknowledged messages use id ${String(p1.packetId)}`);
  for (let i = 0; i < 2; i++) {
    const p = i === 0 ? p1 : (early ?? await t.expect(sub, 'publish', sent, { where: (x) => x.topic === topic, what: 'PUBLISH b' }));
    t.check(p.qos === 2 && !p.dup, sent, `first transmission of '${text(p)}' has QoS ${p.qos}, DUP ${p.dup ? 1 : 0}`);
    t.check((p.packetId ?? 0) !== 0, sv(t, 'MQTT-2.3.1-1', 'MQTT-2.2.1-4'), `'${text(p)}' has Packet Identifier 0`);
    const id = p.packetId!;
    sub.send({ type: 'pubrec', packetId: id, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
    // A PUBREL with wrong fixed-header flags would not decode (the receiving codec checks 0010).
    const rel = await t.expect(sub, 'pubrel', sv(t, 'MQTT-4.3.3-1', 'MQTT-4.3.3-4'), { what: `PUBREL for PUBREC id ${id}` });
    t.check(rel.packetId === id, sv(t, 'MQTT-2.3.1-6', 'MQTT-2.2.1-5'), `PUBREL carries id ${rel.packetId}, the PUBREC had ${id}`);
    if (t.version === 5) checkReasonCode(t, 'pubrel', rel.reasonCode, 'MQTT-3.6.2-1');
    sub.send({ type: 'pubcomp', packetId: id, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
  }
  // Completed: nothing more about these messages.
  await t.expectNothing(sub, SILENCE_MS, sv(t, 'MQTT-4.3.3-1', 'MQTT-4.3.3-6'),
    (p) => (p.type === 'publish' && p.topic === topic) || p.type === 'pubrel', 'nothing more after PUBCOMP');
});

conformance('a PUBLISH with both QoS bits set closes the connection', { v4: ['MQTT-3.3.1-4'], v5: ['MQTT-3.3.1-4'] }, async (t) => {
  const { client } = await t.connect('pub');
  const good = encode({ type: 'publish', topic: t.topic('q3'), payload: Buffer.from('q3'), qos: 2, retain: false, dup: false, packetId: 5 }, t.version);
  good[0] = 0x36; // PUBLISH, QoS bits 11
  client.sendBytes(good, 'PUBLISH with QoS 3');
  await t.expectClosed(client, 'MQTT-3.3.1-4');
  t.check(!client.received.some((p) => p.type === 'pubrec' || p.type === 'puback'), 'MQTT-3.3.1-4', 'the broker acknowledged a QoS 3 PUBLISH');
});

conformance('a PUBREL whose fixed-header flags are not 0010 closes the connection', { v4: ['MQTT-3.6.1-1'], v5: ['MQTT-3.6.1-1'], requires: ['qos2'] }, async (t) => {
  const { client } = await t.connect('pub');
  sendPublish(client, t.topic('relflags'), 'x', 2, { packetId: 3 });
  await t.expect(client, 'pubrec', 'MQTT-3.3.4-1', { where: (r) => r.packetId === 3 });
  const rel = encode({ type: 'pubrel', packetId: 3 }, t.version);
  rel[0] = 0x60; // PUBREL with flags 0000
  client.sendBytes(rel, 'PUBREL with fixed-header flags 0000');
  await t.expectClosed(client, 'MQTT-3.6.1-1');
  t.check(!client.received.some((p) => p.type === 'pubcomp'), 'MQTT-3.6.1-1', 'the broker completed a PUBREL with invalid flags');
});

conformance('a PUBREL for an unknown Packet Identifier is still answered by PUBCOMP', {
  v4: ['MQTT-4.3.3-2'], v5: ['MQTT-4.3.3-11', 'MQTT-3.7.2-1'], requires: ['qos2'],
}, async (t) => {
  const { client } = await t.connect('pub');
  client.send({ type: 'pubrel', packetId: 0x3131, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
  const comp = await t.expect(client, 'pubcomp', sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11'), { what: 'PUBCOMP(id 0x3131)' });
  t.check(comp.packetId === 0x3131, sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11'), `PUBCOMP carries id ${comp.packetId}`);
  if (t.version === 5) {
    checkReasonCode(t, 'pubcomp', comp.reasonCode, 'MQTT-3.7.2-1');
    if (comp.reasonCode !== 0x92) t.finding(`PUBCOMP for an unknown Packet Identifier has reason 0x${(comp.reasonCode ?? 0).toString(16)}, not 0x92 Packet Identifier not found`);
  }
});

conformance('after a PUBREC with a failure reason code the Packet Identifier starts a new message', { v5: ['MQTT-4.3.3-9'], requires: ['qos2', 'acl'] }, async (t) => {
  const deny = t.profile.acl?.find((c) => c.action === 'publish' && c.expect === 'deny');
  const allow = deny && t.profile.acl?.find((c) => c.action === 'publish' && c.expect === 'allow' && c.role === deny.role);
  if (!deny || !allow) return t.skip(`profile '${t.profile.name}' claims no role with both a denied and an allowed PUBLISH`);
  const sub = await t.connect('sub');
  const granted = await subscribe(t, sub.client, allow.topic, { qos: 1 });
  if (granted.reasonCodes[0]! >= 0x80) return t.skip(`the default role may not subscribe to '${allow.topic}'`);
  const { client: pub } = await t.connect('pub', { role: deny.role });
  sendPublish(pub, deny.topic, 'denied', 2, { packetId: 11 });
  const rec = await t.expect(pub, 'pubrec', 'MQTT-3.3.4-1', { where: (r) => r.packetId === 11 });
  if ((rec.reasonCode ?? 0) < 0x80) return t.skip(`the denied PUBLISH got PUBREC 0x${(rec.reasonCode ?? 0).toString(16)}, not a failure: nothing to check`);
  const marker = `after failed PUBREC ${t.id}`;
  sendPublish(pub, allow.topic, marker, 2, { packetId: 11 });
  const rec2 = await t.expect(pub, 'pubrec', 'MQTT-4.3.3-9', { where: (r) => r.packetId === 11, what: 'PUBREC for the new PUBLISH reusing id 11' });
  t.check((rec2.reasonCode ?? 0) < 0x80, 'MQTT-4.3.3-9', `new PUBLISH reusing id 11 refused with 0x${(rec2.reasonCode ?? 0).toString(16)}`);
  pub.send({ type: 'pubrel', packetId: 11, reasonCode: 0 });
  await t.expect(pub, 'pubcomp', 'MQTT-4.3.3-11', { where: (c) => c.packetId === 11 });
  await receive(t, sub.client, 1, 'MQTT-4.3.3-9', { where: (p: PublishPacket) => text(p) === marker, what: 'the new message reusing id 11' });
});

conformance('the broker completes a QoS 2 exchange whose message expired in the meantime', { v5: ['MQTT-4.3.3-13'], requires: ['qos2'], timeoutMs: 20_000 }, async (t) => {
  const { client: pub } = await t.connect('pub');
  sendPublish(pub, t.topic('exp'), 'expires in 1 s', 2, { packetId: 21, properties: { messageExpiryInterval: 1 } });
  await t.expect(pub, 'pubrec', 'MQTT-3.3.4-1', { where: (r) => r.packetId === 21 });
  // Let the message expire (a bounded silence).
  await t.expectNothing(pub, 2100, undefined, (p) => p.type === 'pubcomp', 'quiet while the message expires (1 s, counted in whole seconds by some brokers)');
  pub.send({ type: 'pubrel', packetId: 21, reasonCode: 0 });
  const comp = await t.expect(pub, 'pubcomp', 'MQTT-4.3.3-13', { where: (c) => c.packetId === 21, what: 'PUBCOMP after the message expired' });
  t.check((comp.reasonCode ?? 0) === 0, 'MQTT-4.3.3-13', `PUBCOMP reason 0x${(comp.reasonCode ?? 0).toString(16)}: the broker dropped the exchange of an expired message`);
});

conformance('PUBREC, PUBREL and PUBCOMP to a client with a small Maximum Packet Size leave out what would not fit', {
  v5: ['MQTT-3.5.2-2', 'MQTT-3.5.2-3', 'MQTT-3.6.2-2', 'MQTT-3.6.2-3', 'MQTT-3.7.2-2', 'MQTT-3.7.2-3'], requires: ['qos2'],
}, async (t) => {
  const { client, max } = await t.connectSmall('pub');
  const fits = (p: Parameters<typeof encode>[0], kind: string, rs: string, up: string): void => {
    const size = encode(p, 5).length;
    const props = 'properties' in p ? p.properties : undefined;
    const has = (k: string): boolean => props !== undefined && k in props;
    t.check(size <= max || !has('reasonString'), rs, `${kind} of ${size} bytes carries a Reason String beyond Maximum Packet Size ${max}`);
    t.check(size <= max || !has('userProperties'), up, `${kind} of ${size} bytes carries User Properties beyond Maximum Packet Size ${max}`);
  };
  // PUBREC: a QoS 2 PUBLISH nobody subscribes to (0x10 No matching subscribers may come with an explanation).
  sendPublish(client, t.topic('nobody'), 'x', 2, { packetId: 31 });
  const rec = await t.expect(client, 'pubrec', 'MQTT-3.3.4-1', { where: (r) => r.packetId === 31 });
  fits(rec, 'PUBREC', 'MQTT-3.5.2-2', 'MQTT-3.5.2-3');
  client.send({ type: 'pubrel', packetId: 31, reasonCode: 0 });
  fits(await t.expect(client, 'pubcomp', 'MQTT-4.3.3-11', { where: (c) => c.packetId === 31 }), 'PUBCOMP', 'MQTT-3.7.2-2', 'MQTT-3.7.2-3');
  // PUBCOMP with a failure: PUBREL for an identifier the broker does not know.
  client.send({ type: 'pubrel', packetId: 32, reasonCode: 0 });
  fits(await t.expect(client, 'pubcomp', 'MQTT-4.3.3-11', { where: (c) => c.packetId === 32 }), 'PUBCOMP', 'MQTT-3.7.2-2', 'MQTT-3.7.2-3');
  // PUBREL with a failure: PUBREC for an identifier the broker never used (it may answer 0x92, or not at all).
  client.send({ type: 'pubrec', packetId: 33, reasonCode: 0 });
  client.send({ type: 'pingreq' });
  await t.expect(client, 'pingresp', undefined, { what: 'PINGRESP (precondition)' });
  const rel = client.received.find((p) => p.type === 'pubrel' && p.packetId === 33);
  if (rel) fits(rel, 'PUBREL', 'MQTT-3.6.2-2', 'MQTT-3.6.2-3');
});

/**
 * Message delivery retry (3.1.1 §4.4, 5.0 §4.4) with persistent sessions:
 * unacknowledged PUBLISH and PUBREL resent on reconnect, with DUP 1, the
 * original Packet Identifiers and in order; the broker as QoS 2 receiver
 * across a reconnect; what must not be resent.
 */
import type { PublishPacket } from '../codec/index.js';
import { describe } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import {
  ack, connectFreshPersistent, dropConnection, endSession, expectNoPublish, publish, receive, resume, sendPublish, SILENCE_MS,
  subscribeOk, sv, text,
} from './support/publish-helpers.js';

const rc = (v: number, code = 0): { reasonCode?: number } => (v === 5 ? { reasonCode: code } : {});

conformance('an unacknowledged QoS 1 delivery is resent on reconnect with DUP 1 and the same Packet Identifier', {
  v4: ['MQTT-4.4.0-1', 'MQTT-3.3.1-1', 'MQTT-4.3.2-1'],
  v5: ['MQTT-4.4.0-1', 'MQTT-3.3.1-1', 'MQTT-4.3.2-3'],
  requires: ['persistentSessions', 'qos1'],
}, async (t) => {
  const topic = t.topic('r1');
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, topic, { qos: 1 });
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'unacked', 1);
    const first = await t.expect(s1, 'publish', undefined, { where: (p) => p.topic === topic, what: 'PUBLISH (precondition)' });
    await dropConnection(s1); // no PUBACK
    const { client: s2 } = await resume(t, 'sub');
    const again = await t.expect(s2, 'publish', 'MQTT-4.4.0-1', { where: (p) => p.topic === topic, what: 'the unacknowledged PUBLISH, resent' });
    t.check(again.packetId === first.packetId, 'MQTT-4.4.0-1', `resent with id ${String(again.packetId)}, first sent with id ${String(first.packetId)}`);
    t.check(again.dup, 'MQTT-3.3.1-1', 'the resent PUBLISH has DUP 0');
    t.check(again.qos === 1 && text(again) === 'unacked', 'MQTT-4.4.0-1', `resent ${describe(again)} '${text(again)}'`);
    s2.send({ type: 'puback', packetId: again.packetId!, ...rc(t.version) });
    // Acknowledged now: the next reconnect brings nothing back.
    s2.send({ type: 'pingreq' });
    await t.expect(s2, 'pingresp', undefined, { what: 'PINGRESP (the PUBACK was read)' });
    await dropConnection(s2);
    const { client: s3 } = await resume(t, 'sub');
    await expectNoPublish(t, s3, sv(t, 'MQTT-4.3.2-1', 'MQTT-4.3.2-3'), (p) => p.topic === topic, 'no resend of an acknowledged QoS 1 message');
  } finally {
    await endSession(t, 'sub');
  }
});

conformance('an unacknowledged QoS 2 PUBLISH is resent on reconnect with DUP 1 and the same Packet Identifier', {
  v4: ['MQTT-4.4.0-1', 'MQTT-3.3.1-1', 'MQTT-4.3.3-1'],
  v5: ['MQTT-4.4.0-1', 'MQTT-3.3.1-1', 'MQTT-4.3.3-3'],
  requires: ['persistentSessions', 'qos2'],
}, async (t) => {
  const topic = t.topic('r2');
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, topic, { qos: 2 });
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'no pubrec', 2);
    const first = await t.expect(s1, 'publish', undefined, { where: (p) => p.topic === topic, what: 'PUBLISH (precondition)' });
    await dropConnection(s1); // no PUBREC
    const { client: s2 } = await resume(t, 'sub');
    const st = sv(t, 'MQTT-4.3.3-1', 'MQTT-4.3.3-3');
    const again = await t.expect(s2, 'publish', st, { where: (p) => p.topic === topic, what: 'the PUBLISH still awaiting PUBREC, resent' });
    t.check(again.packetId === first.packetId, 'MQTT-4.4.0-1', `resent with id ${String(again.packetId)}, first sent with id ${String(first.packetId)}`);
    t.check(again.dup, 'MQTT-3.3.1-1', 'the resent PUBLISH has DUP 0');
    t.check(again.qos === 2 && text(again) === 'no pubrec', st, `resent ${describe(again)} '${text(again)}'`);
    await ack(t, s2, again);
    await expectNoPublish(t, s2, st, (p) => p.topic === topic, 'nothing more once PUBCOMP is sent');
  } finally {
    await endSession(t, 'sub');
  }
});

conformance('after PUBREC, a reconnect brings the PUBREL again and never the PUBLISH', {
  v4: ['MQTT-4.4.0-1', 'MQTT-4.3.3-1'],
  v5: ['MQTT-4.4.0-1', 'MQTT-4.3.3-5', 'MQTT-4.3.3-6'],
  requires: ['persistentSessions', 'qos2'],
}, async (t) => {
  const topic = t.topic('rel');
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, topic, { qos: 2 });
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'pubrel pending', 2);
    const p = await t.expect(s1, 'publish', undefined, { where: (x) => x.topic === topic, what: 'PUBLISH (precondition)' });
    s1.send({ type: 'pubrec', packetId: p.packetId!, ...rc(t.version) });
    await t.expect(s1, 'pubrel', sv(t, 'MQTT-4.3.3-1', 'MQTT-4.3.3-4'), { where: (r) => r.packetId === p.packetId });
    await dropConnection(s1); // no PUBCOMP
    const { client: s2 } = await resume(t, 'sub');
    const rel = await t.expect(s2, 'pubrel', sv(t, 'MQTT-4.4.0-1', 'MQTT-4.3.3-5'), { what: `PUBREL(id ${String(p.packetId)}), resent` });
    t.check(rel.packetId === p.packetId, 'MQTT-4.4.0-1', `PUBREL resent with id ${rel.packetId}, the PUBLISH had ${String(p.packetId)}`);
    await expectNoPublish(t, s2, sv(t, 'MQTT-4.3.3-1', 'MQTT-4.3.3-6'), (x) => x.topic === topic, 'no PUBLISH once PUBREL has been sent');
    s2.send({ type: 'pubcomp', packetId: rel.packetId, ...rc(t.version) });
  } finally {
    await endSession(t, 'sub');
  }
});

conformance('unacknowledged deliveries are resent on reconnect in their original order', {
  v4: ['MQTT-4.4.0-1', 'MQTT-4.6.0-6'],
  v5: ['MQTT-4.4.0-1', 'MQTT-4.6.0-5'],
  requires: ['persistentSessions', 'qos1'],
}, async (t) => {
  const topic = t.topic('order');
  const n = 5;
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, topic, { qos: 1 });
    const { client: pub } = await t.connect('pub');
    for (let i = 0; i < n; i++) await publish(t, pub, topic, `m${i}`, 1);
    const first = await receive(t, s1, n, undefined, { where: (p) => p.topic === topic, ack: false });
    await dropConnection(s1);
    const { client: s2 } = await resume(t, 'sub');
    const again = await receive(t, s2, n, 'MQTT-4.4.0-1', { where: (p) => p.topic === topic, what: 'resent PUBLISH' });
    const was = first.map((p) => `${text(p)}#${String(p.packetId)}`).join(' ');
    const now = again.map((p) => `${text(p)}#${String(p.packetId)}`).join(' ');
    t.check(now === was, sv(t, 'MQTT-4.6.0-6', 'MQTT-4.6.0-5'), `first sent as [${was}], resent as [${now}]`);
    t.check(again.every((p) => p.dup), 'MQTT-4.4.0-1', `resent without DUP: ${again.filter((p) => !p.dup).map(text).join(', ')}`);
  } finally {
    await endSession(t, 'sub');
  }
});

conformance('the broker does not resend an unacknowledged PUBLISH while the connection lasts', { v5: ['MQTT-4.4.0-1'], requires: ['qos1'] }, async (t) => {
  const topic = t.topic('live');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'not acked', 1);
  await t.expect(sub, 'publish', undefined, { where: (p) => p.topic === topic, what: 'PUBLISH (precondition)' });
  await expectNoPublish(t, sub, 'MQTT-4.4.0-1', (p) => p.topic === topic, 'no resend on the same connection', SILENCE_MS * 2);
});

conformance('a PUBLISH answered by PUBACK or PUBREC with a failure reason code is not resent', {
  v5: ['MQTT-4.4.0-2'], requires: ['persistentSessions', 'qos2'],
}, async (t) => {
  const t1 = t.topic('f1');
  const t2 = t.topic('f2');
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, [{ topicFilter: t1, qos: 1 }, { topicFilter: t2, qos: 2 }]);
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, t1, 'refused 1', 1);
    await publish(t, pub, t2, 'refused 2', 2);
    const a = await t.expect(s1, 'publish', undefined, { where: (p) => p.topic === t1, what: 'PUBLISH (precondition)' });
    const b = await t.expect(s1, 'publish', undefined, { where: (p) => p.topic === t2, what: 'PUBLISH (precondition)' });
    s1.send({ type: 'puback', packetId: a.packetId!, reasonCode: 0x80 });
    s1.send({ type: 'pubrec', packetId: b.packetId!, reasonCode: 0x80 });
    s1.send({ type: 'pingreq' });
    await t.expect(s1, 'pingresp', undefined, { what: 'PINGRESP (the acknowledgements were read)' });
    await t.expectNothing(s1, SILENCE_MS, 'MQTT-4.4.0-2', (p) => p.type === 'pubrel' && p.packetId === b.packetId, 'no PUBREL after a failed PUBREC');
    await dropConnection(s1);
    const { client: s2 } = await resume(t, 'sub');
    await t.expectNothing(s2, SILENCE_MS, 'MQTT-4.4.0-2',
      (p) => (p.type === 'publish' && (p.topic === t1 || p.topic === t2)) || p.type === 'pubrel', 'no resend of a PUBLISH acknowledged with 0x80');
  } finally {
    await endSession(t, 'sub');
  }
});

conformance('a QoS 2 PUBLISH the client resends after reconnecting is acknowledged but not delivered twice', {
  v4: ['MQTT-4.3.3-2', 'MQTT-4.4.0-1'],
  v5: ['MQTT-4.3.3-10', 'MQTT-4.4.0-1'],
  requires: ['persistentSessions', 'qos2'],
}, async (t) => {
  const topic = t.topic('in2');
  const st = sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-10');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  try {
    const { client: p1 } = await connectFreshPersistent(t, 'pub');
    sendPublish(p1, topic, 'once across reconnect', 2, { packetId: 77 });
    await t.expect(p1, 'pubrec', 'MQTT-3.3.4-1', { where: (r) => r.packetId === 77 });
    await dropConnection(p1); // the PUBREC "was lost"
    const { client: p2 } = await resume(t, 'pub');
    sendPublish(p2, topic, 'once across reconnect', 2, { packetId: 77, dup: true });
    await t.expect(p2, 'pubrec', st, { where: (r) => r.packetId === 77, what: 'PUBREC for the PUBLISH resent after reconnect' });
    p2.send({ type: 'pubrel', packetId: 77, ...rc(t.version) });
    const comp = await t.expect(p2, 'pubcomp', sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11'), { where: (c) => c.packetId === 77 });
    if (t.version === 5 && comp.reasonCode !== 0) t.finding(`PUBCOMP after the resumed exchange has reason 0x${(comp.reasonCode ?? 0).toString(16)}: the session lost the QoS 2 state`);
    await receive(t, sub, 1, st, { where: (p) => p.topic === topic, what: 'the message' });
    await expectNoPublish(t, sub, st, (p) => p.topic === topic, 'no second delivery of the QoS 2 message');
  } finally {
    await endSession(t, 'pub');
  }
});

conformance('a PUBREL the client resends after reconnecting is answered by PUBCOMP and the message arrives once', {
  v4: ['MQTT-4.3.3-2', 'MQTT-4.4.0-1'],
  v5: ['MQTT-4.3.3-11', 'MQTT-4.4.0-1'],
  requires: ['persistentSessions', 'qos2'],
}, async (t) => {
  const topic = t.topic('rel2');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  try {
    const { client: p1 } = await connectFreshPersistent(t, 'pub');
    sendPublish(p1, topic, 'released after reconnect', 2, { packetId: 78 });
    await t.expect(p1, 'pubrec', 'MQTT-3.3.4-1', { where: (r) => r.packetId === 78 });
    await dropConnection(p1); // PUBREL not sent yet
    const { client: p2 } = await resume(t, 'pub');
    p2.send({ type: 'pubrel', packetId: 78, ...rc(t.version) });
    const st = sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11');
    const comp = await t.expect(p2, 'pubcomp', st, { where: (c) => c.packetId === 78, what: 'PUBCOMP for the PUBREL resent after reconnect' });
    if (t.version === 5) t.check(comp.reasonCode === 0, 'MQTT-4.3.3-11', `PUBCOMP reason 0x${(comp.reasonCode ?? 0).toString(16)}: the session lost the Packet Identifier awaiting PUBREL`);
    await receive(t, sub, 1, 'MQTT-4.4.0-1', { where: (p) => p.topic === topic, what: 'the message' });
    await expectNoPublish(t, sub, 'MQTT-4.4.0-1', (p) => p.topic === topic, 'no second delivery');
  } finally {
    await endSession(t, 'pub');
  }
});

conformance('a QoS 2 message already sent is resent after reconnect even once its expiry has passed', {
  v5: ['MQTT-4.3.3-7', 'MQTT-4.4.0-1'], requires: ['persistentSessions', 'qos2'], timeoutMs: 20_000,
}, async (t) => {
  const topic = t.topic('exp');
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, topic, { qos: 2 });
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'expires in 1 s', 2, { properties: { messageExpiryInterval: 1 } });
    const first = await t.expect(s1, 'publish', undefined, { where: (p) => p.topic === topic, what: 'PUBLISH (precondition)' });
    await dropConnection(s1);
    await t.expectNothing(pub, 2100, undefined, () => false, 'the message expiry (1 s, counted in whole seconds by some brokers) passing');
    const { client: s2 } = await resume(t, 'sub');
    const again: PublishPacket = await t.expect(s2, 'publish', 'MQTT-4.3.3-7', { where: (p) => p.topic === topic, what: 'the sent QoS 2 PUBLISH, resent after its expiry' });
    t.check(again.packetId === first.packetId && again.dup, 'MQTT-4.4.0-1', `resent as ${describe(again)}, first sent as ${describe(first)}`);
    await ack(t, s2, again);
  } finally {
    await endSession(t, 'sub');
  }
});

conformance('messages published while a subscriber is away are delivered when it resumes its session', {
  v4: ['MQTT-4.5.0-1'], v5: ['MQTT-4.5.0-1'], requires: ['persistentSessions', 'qos1'],
}, async (t) => {
  const topic = t.topic('away');
  const top = t.profile.maxQoS ?? 2;
  try {
    const { client: s1 } = await connectFreshPersistent(t, 'sub');
    await subscribeOk(t, s1, topic, { qos: top });
    await dropConnection(s1);
    const { client: pub } = await t.connect('pub');
    await publish(t, pub, topic, 'while away 1', 1);
    if (top === 2) await publish(t, pub, topic, 'while away 2', 2);
    const { client: s2 } = await resume(t, 'sub');
    const got = await receive(t, s2, top === 2 ? 2 : 1, 'MQTT-4.5.0-1', { where: (p) => p.topic === topic, what: 'message published while away' });
    const texts = got.map(text).sort().join(',');
    t.check(texts === (top === 2 ? 'while away 1,while away 2' : 'while away 1'), 'MQTT-4.5.0-1', `received ${texts}`);
    const dups = got.filter((p) => p.dup);
    if (dups.length > 0) t.finding(`messages queued while the client was away arrived with DUP 1 on their first transmission: ${dups.map(text).join(', ')}`);
  } finally {
    await endSession(t, 'sub');
  }
});

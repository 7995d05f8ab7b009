/**
 * Session state (3.1.1 §3.1.2.4, §3.2.2.2, §4.1; 5.0 §3.1.2.4, §3.1.2.11.2, §3.2.2.1.1, §4.1):
 * Clean Session / Clean Start, Session Present, resumption with subscriptions
 * and queued or in-flight messages, Session Expiry.
 */
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  ack, disconnectAndWait, dropAndWait, endSessions, persistent, publish, requireGrantedExpiry, since, will,
} from './support/session-helpers.js';

/** Connects `clientId` with a session that outlives the connection and subscribes it to `topic`. */
async function persistentSubscriber(t: ConformanceContext, label: string, clientId: string, topic: string, qos: 0 | 1 | 2, expiry?: number) {
  const r = await t.connect(label, { clientId, ...persistent(t, expiry) });
  requireGrantedExpiry(t, r.connack, expiry ?? 5);
  r.client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: topic, qos }] });
  const suback = await t.expect(r.client, 'suback', 'MQTT-3.8.4-1');
  const granted = suback.reasonCodes[0] ?? 0x80;
  t.check(granted < 0x80, undefined, `SUBACK refused ${topic}: 0x${granted.toString(16)}`);
  if (granted < qos) t.skip(`the server granted QoS ${granted} for a QoS ${qos} subscription`);
  return r;
}

conformance('Clean Session / Clean Start 1 discards the existing session', {
  v4: ['MQTT-3.1.2-6', 'MQTT-3.2.2-1', 'MQTT-3.1.4-3'],
  v5: ['MQTT-3.1.2-4', 'MQTT-3.2.2-2', 'MQTT-3.1.4-4'],
  requires: ['persistentSessions'],
}, async (t) => {
  const clientId = t.clientId('clean');
  const topic = t.topic('clean');
  try {
    const { client } = await persistentSubscriber(t, 'old', clientId, topic, 1);
    await disconnectAndWait(t, client);
    const statement = t.version === 5 ? 'MQTT-3.1.2-4' : 'MQTT-3.1.2-6';
    const { client: fresh, connack } = await t.connect('fresh', { clientId, clean: true });
    t.check(!connack.sessionPresent, t.version === 5 ? 'MQTT-3.2.2-2' : 'MQTT-3.2.2-1', 'Session Present 1 for Clean Start 1');
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'after-clean', { qos: 1 });
    await t.expectNothing(fresh, 400, statement, (p) => p.type === 'publish', 'no PUBLISH through the subscription of the discarded session');
    // The clean session lives only as long as its connection: it is not there to resume afterwards.
    await disconnectAndWait(t, fresh);
    const { connack: after } = await t.connect('after', { clientId, ...persistent(t) });
    t.check(!after.sessionPresent, statement, 'Session Present 1 when resuming after a Clean Session / Clean Start 1 connection ended');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('Clean Session / Clean Start 0 with no stored session gets Session Present 0', {
  v4: ['MQTT-3.2.2-3', 'MQTT-3.1.2-4'],
  v5: ['MQTT-3.2.2-3', 'MQTT-3.1.2-6'],
}, async (t) => {
  const clientId = t.clientId('new');
  try {
    const { connack } = await t.connect('c', { clientId, ...persistent(t) });
    t.check(connack.reasonCode === 0 && !connack.sessionPresent, 'MQTT-3.2.2-3', `CONNACK 0x${connack.reasonCode.toString(16)}, Session Present ${connack.sessionPresent ? 1 : 0} for a client id never seen`);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a resumed session is reported with Session Present 1 and keeps its subscriptions', {
  v4: ['MQTT-3.2.2-2', 'MQTT-3.1.2-4', 'MQTT-4.1.0-1', 'MQTT-3.1.4-3'],
  v5: ['MQTT-3.2.2-3', 'MQTT-3.1.2-5', 'MQTT-3.1.2-23', 'MQTT-3.1.4-4'],
  requires: ['persistentSessions'],
}, async (t) => {
  const clientId = t.clientId('resume');
  const topic = t.topic('resume');
  try {
    const { client } = await persistentSubscriber(t, 'first', clientId, topic, 0);
    await disconnectAndWait(t, client);
    const { client: again, connack } = await t.connect('again', { clientId, ...persistent(t) });
    t.check(connack.sessionPresent, 'MQTT-3.2.2-' + (t.version === 5 ? '3' : '2'), 'Session Present 0 when resuming a session with a subscription');
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'resumed', { qos: 0 });
    const p = await t.expect(again, 'publish', t.version === 5 ? 'MQTT-3.1.2-5' : 'MQTT-3.1.2-4', { where: (m) => m.topic === topic, what: 'PUBLISH through the subscription kept in the session' });
    t.check(p.payload.toString() === 'resumed', undefined, `payload '${p.payload.toString()}'`);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('QoS 1 messages published while the client is away are delivered when it resumes', {
  v4: ['MQTT-3.1.2-5', 'MQTT-4.5.0-1', 'MQTT-3.2.0-1'],
  v5: ['MQTT-3.1.2-23', 'MQTT-4.5.0-1', 'MQTT-3.2.0-1'],
  requires: ['persistentSessions', 'qos1'],
}, async (t) => {
  const clientId = t.clientId('q1');
  const topic = t.topic('q1');
  try {
    const { client } = await persistentSubscriber(t, 'first', clientId, topic, 1);
    await dropAndWait(client); // network failure: the session stays
    const pub = (await t.connect('pub')).client;
    for (let i = 1; i <= 3; i++) await publish(t, pub, topic, `away-${i}`, { qos: 1, packetId: i });
    const { client: again, connack } = await t.connect('again', { clientId, ...persistent(t) });
    t.check(connack.sessionPresent, t.version === 5 ? 'MQTT-3.1.2-23' : 'MQTT-3.1.2-5', 'Session Present 0: the session was not kept');
    t.check(again.received[0]?.type === 'connack', 'MQTT-3.2.0-1', `the server sent ${again.received[0]?.type.toUpperCase()} before CONNACK`);
    const got: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const p = await t.expect(again, 'publish', t.version === 5 ? 'MQTT-3.1.2-23' : 'MQTT-3.1.2-5', { where: (m) => m.topic === topic, what: `queued message ${i} of 3` });
      t.check(p.qos === 1, 'MQTT-4.5.0-1', `queued message delivered at QoS ${p.qos}`);
      got.push(p.payload.toString());
      await ack(t, again, p);
    }
    t.check(got.join() === 'away-1,away-2,away-3', undefined, `queued messages arrived as ${got.join(', ')}`);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('QoS 2 messages published while the client is away are delivered when it resumes', {
  v4: ['MQTT-3.1.2-5', 'MQTT-4.5.0-1'],
  v5: ['MQTT-3.1.2-23', 'MQTT-4.5.0-1'],
  requires: ['persistentSessions', 'qos2'],
}, async (t) => {
  const clientId = t.clientId('q2');
  const topic = t.topic('q2');
  try {
    const { client } = await persistentSubscriber(t, 'first', clientId, topic, 2);
    await disconnectAndWait(t, client);
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'away-q2', { qos: 2 });
    const { client: again, connack } = await t.connect('again', { clientId, ...persistent(t) });
    t.check(connack.sessionPresent, t.version === 5 ? 'MQTT-3.1.2-23' : 'MQTT-3.1.2-5', 'Session Present 0: the session was not kept');
    const p = await t.expect(again, 'publish', t.version === 5 ? 'MQTT-3.1.2-23' : 'MQTT-3.1.2-5', { where: (m) => m.topic === topic, what: 'the QoS 2 message queued while away' });
    t.check(p.qos === 2 && p.payload.toString() === 'away-q2', 'MQTT-4.5.0-1', `got QoS ${p.qos} '${p.payload.toString()}'`);
    await ack(t, again, p);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('an unacknowledged QoS 1 PUBLISH is re-sent with its packet identifier on resumption', {
  v4: ['MQTT-4.4.0-1', 'MQTT-3.3.1-1'],
  v5: ['MQTT-4.4.0-1', 'MQTT-3.3.1-1'],
  requires: ['persistentSessions', 'qos1'],
}, async (t) => {
  const clientId = t.clientId('inflight');
  const topic = t.topic('inflight');
  try {
    const { client } = await persistentSubscriber(t, 'first', clientId, topic, 1);
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'unacked', { qos: 1 });
    const first = await t.expect(client, 'publish', 'MQTT-4.5.0-1', { where: (m) => m.topic === topic });
    await dropAndWait(client); // never acknowledged
    const { client: again, connack } = await t.connect('again', { clientId, ...persistent(t) });
    t.check(connack.sessionPresent, 'MQTT-4.4.0-1', 'Session Present 0: the session was not kept');
    const p = await t.expect(again, 'publish', 'MQTT-4.4.0-1', { where: (m) => m.topic === topic, what: 'the unacknowledged PUBLISH re-sent' });
    t.check(p.packetId === first.packetId, 'MQTT-4.4.0-1', `re-sent with packet id ${p.packetId}, first sent with ${first.packetId}`);
    t.check(p.dup, 'MQTT-3.3.1-1', 're-sent PUBLISH has DUP 0');
    await ack(t, again, p);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('an unacknowledged PUBREL is re-sent with its packet identifier on resumption', {
  v4: ['MQTT-4.4.0-1'],
  v5: ['MQTT-4.4.0-1'],
  requires: ['persistentSessions', 'qos2'],
}, async (t) => {
  const clientId = t.clientId('pubrel');
  const topic = t.topic('pubrel');
  try {
    const { client } = await persistentSubscriber(t, 'first', clientId, topic, 2);
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'q2', { qos: 2 });
    const p = await t.expect(client, 'publish', 'MQTT-4.5.0-1', { where: (m) => m.topic === topic });
    client.send({ type: 'pubrec', packetId: p.packetId! });
    const rel = await t.expect(client, 'pubrel', 'MQTT-4.4.0-1', { where: (r) => r.packetId === p.packetId });
    await dropAndWait(client); // PUBCOMP never sent
    const { client: again, connack } = await t.connect('again', { clientId, ...persistent(t) });
    t.check(connack.sessionPresent, 'MQTT-4.4.0-1', 'Session Present 0: the session was not kept');
    const rel2 = await t.expect(again, 'pubrel', 'MQTT-4.4.0-1', { what: `PUBREL ${rel.packetId} re-sent` });
    t.check(rel2.packetId === rel.packetId, 'MQTT-4.4.0-1', `PUBREL re-sent with packet id ${rel2.packetId}, first sent with ${rel.packetId}`);
    const republished = again.received.find((m) => m.type === 'publish' && m.topic === topic);
    t.check(!republished, 'MQTT-4.4.0-1', 'the server re-sent the PUBLISH although PUBREC had been received');
    again.send({ type: 'pubcomp', packetId: rel2.packetId });
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('session state belongs to its client identifier', { v4: ['MQTT-3.1.3-2'], v5: ['MQTT-3.1.3-2'], requires: ['persistentSessions'] }, async (t) => {
  const a = t.clientId('ida');
  const b = t.clientId('idb');
  const topic = t.topic('owner');
  try {
    const { client } = await persistentSubscriber(t, 'a', a, topic, 1);
    await disconnectAndWait(t, client);
    const { client: other, connack } = await t.connect('b', { clientId: b, ...persistent(t) });
    t.check(!connack.sessionPresent, 'MQTT-3.1.3-2', `client '${b}' was given Session Present 1 for a session that belongs to '${a}'`);
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'for-a', { qos: 1 });
    await t.expectNothing(other, 400, 'MQTT-3.1.3-2', (p) => p.type === 'publish', `no delivery of '${a}'s subscription to '${b}'`);
    const { client: owner, connack: back } = await t.connect('a2', { clientId: a, ...persistent(t) });
    t.check(back.sessionPresent, 'MQTT-3.1.3-2', `'${a}' did not get its own session back`);
    const p = await t.expect(owner, 'publish', 'MQTT-3.1.3-2', { where: (m) => m.topic === topic, what: 'the message queued in its own session' });
    await ack(t, owner, p);
  } finally {
    await endSessions(t, a, b);
  }
});

conformance('a takeover with Clean Session / Clean Start 0 continues the session', { v4: ['MQTT-3.1.4-2', 'MQTT-3.2.2-2'], v5: ['MQTT-3.1.4-3', 'MQTT-3.1.2-5'], requires: ['persistentSessions'] }, async (t) => {
  const clientId = t.clientId('take');
  const topic = t.topic('take');
  try {
    const { client: first } = await persistentSubscriber(t, 'first', clientId, topic, 1);
    const { client: second, connack } = await t.connect('second', { clientId, ...persistent(t) });
    await t.expectClosed(first, t.version === 5 ? 'MQTT-3.1.4-3' : 'MQTT-3.1.4-2');
    t.check(connack.sessionPresent, t.version === 5 ? 'MQTT-3.1.2-5' : 'MQTT-3.2.2-2', 'Session Present 0 when taking over a live session with Clean Start 0');
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'after-takeover', { qos: 1 });
    const p = await t.expect(second, 'publish', t.version === 5 ? 'MQTT-3.1.2-5' : 'MQTT-3.2.2-2', { where: (m) => m.topic === topic, what: 'PUBLISH through the subscription of the taken-over session' });
    await ack(t, second, p);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('retained messages survive the end of the session that published them', { v4: ['MQTT-3.1.2-7'], requires: ['retain'] }, async (t) => {
  const topic = t.topic('retained');
  const { client } = await t.connect('pub', { clean: true });
  await publish(t, client, topic, 'kept', { qos: 1, retain: true });
  await disconnectAndWait(t, client); // Clean Session 1: the session ends here
  try {
    const sub = await t.subscriber('sub', topic, { qos: 1 });
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-7', { where: (m) => m.topic === topic, what: 'the retained message of the ended session' });
    t.check(p.payload.toString() === 'kept', 'MQTT-3.1.2-7', `retained payload '${p.payload.toString()}'`);
    await ack(t, sub, p);
  } finally {
    try {
      const { client: clear } = await t.connect('clear');
      await publish(t, clear, topic, Buffer.alloc(0), { qos: 1, retain: true });
    } catch {
      // best effort
    }
  }
});

conformance('Session Expiry Interval 0 ends the session when the connection closes', { v5: ['MQTT-4.1.0-2', 'MQTT-3.2.2-3'] }, async (t) => {
  const clientId = t.clientId('exp0');
  const topic = t.topic('exp0');
  try {
    const { client } = await t.connect('first', { clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: topic, qos: 1 }] });
    await t.expect(client, 'suback', 'MQTT-3.8.4-1');
    await disconnectAndWait(t, client);
    const { connack } = await t.connect('again', { clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
    t.check(!connack.sessionPresent, 'MQTT-4.1.0-2', 'Session Present 1 after a connection with Session Expiry Interval 0 closed');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('the session is discarded once its Session Expiry Interval has elapsed', { v5: ['MQTT-4.1.0-2', 'MQTT-3.2.2-3'], requires: ['persistentSessions'], timeoutMs: 15_000 }, async (t) => {
  const clientId = t.clientId('exp1');
  const topic = t.topic('exp1');
  const willTopic = t.topic('exp1-end');
  // The session's end is made visible by a Will whose delay (30 s) exceeds the expiry (1 s):
  // it is published when the session ends [MQTT-3.1.2-8].
  const watcher = await t.subscriber('watch', willTopic, { qos: 0 });
  try {
    const { client, connack } = await t.connect('first', {
      clientId, clean: false, properties: { sessionExpiryInterval: 1 },
      will: will(t, willTopic, { payload: 'session ended', properties: { willDelayInterval: 30 } }),
    });
    const granted = connack.properties?.sessionExpiryInterval ?? 1;
    if (granted !== 1) t.skip(`the server changed Session Expiry Interval 1 to ${granted}`);
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: topic, qos: 1 }] });
    await t.expect(client, 'suback', 'MQTT-3.8.4-1');
    const closedAt = performance.now();
    await dropAndWait(client);
    try {
      await watcher.expect('publish', { where: (p) => p.topic === willTopic, timeoutMs: 4000 });
    } catch {
      t.finding('no Will was published when the session expired (delay 30 s > expiry 1 s); reconnecting 4 s after the close');
    }
    t.recorder.event('-', 'note', `session end observed ${since(closedAt)} ms after the close`);
    const { client: again, connack: back } = await t.connect('again', { clientId, clean: false, properties: { sessionExpiryInterval: 0 } });
    t.check(!back.sessionPresent, 'MQTT-4.1.0-2', `Session Present 1 ${since(closedAt)} ms after a close with Session Expiry Interval 1 s`);
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'after-expiry', { qos: 1 });
    await t.expectNothing(again, 300, 'MQTT-4.1.0-2', (p) => p.type === 'publish', 'no delivery through the subscription of the expired session');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('session state is kept for as long as the connection is open', { v4: ['MQTT-4.1.0-2'], v5: ['MQTT-4.1.0-1'] }, async (t) => {
  const clientId = t.clientId('open');
  const topic = t.topic('open');
  const statement = t.version === 5 ? 'MQTT-4.1.0-1' : 'MQTT-4.1.0-2';
  try {
    // 3.1.1: a Clean Session 1 session, which lasts exactly as long as the connection;
    // 5.0: Session Expiry 1 s, which must not run while the connection is open.
    if (t.version === 5) t.requires('persistentSessions');
    const { client, connack } = await t.connect('c', t.version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 1 } } : { clientId, clean: true });
    const granted = connack.properties?.sessionExpiryInterval ?? 1;
    if (t.version === 5 && granted > 1) t.skip(`the server changed Session Expiry Interval 1 to ${granted}`);
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: topic, qos: 1 }] });
    await t.expect(client, 'suback', 'MQTT-3.8.4-1');
    const start = performance.now();
    // Stay connected and active for well over the 1 s expiry.
    while (since(start) < 1800) {
      await t.expectNothing(client, 450, statement, (p) => p.type !== 'pingresp', 'silence while connected');
      client.send({ type: 'pingreq' });
      await t.expect(client, 'pingresp', 'MQTT-3.12.4-1');
    }
    const pub = (await t.connect('pub')).client;
    await publish(t, pub, topic, 'still-subscribed', { qos: 1 });
    const p = await t.expect(client, 'publish', statement, { where: (m) => m.topic === topic, what: `PUBLISH through a subscription made ${since(start)} ms ago on the same, still open connection` });
    await ack(t, client, p);
  } finally {
    await endSessions(t, clientId);
  }
});

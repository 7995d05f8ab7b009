/**
 * DISCONNECT (3.1.1 §3.14; 5.0 §3.14): what a client's DISCONNECT does to
 * the Will and the session, malformed DISCONNECT, and the DISCONNECT a 5.0
 * server sends before it closes a connection.
 */
import { encode } from '../codec/index.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  ack, checkServerDisconnect, connectBytes, connectOutcome, disconnectAndWait, dropAndWait, endSessions, hex,
  persistent, receivedOf, requireGrantedExpiry, will,
} from './support/session-helpers.js';

async function watch(t: ConformanceContext, name = 'will') {
  const topic = t.topic(name);
  const sub = await t.subscriber('watch', topic, { qos: 1 });
  return { topic, sub };
}

conformance('no Will is published after a normal DISCONNECT', { v4: ['MQTT-3.14.4-3', 'MQTT-3.1.2-10'], v5: ['MQTT-3.14.4-3', 'MQTT-3.1.2-10'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client } = await t.connect('willer', { will: will(t, topic, { qos: 1, payload: 'must not appear' }) });
  // DISCONNECT without closing our side: the server should close [3.1.1 §3.14.4, 5.0 §3.14.4 (SHOULD)].
  client.send(t.version === 5 ? { type: 'disconnect', reasonCode: 0 } : { type: 'disconnect' });
  try {
    await client.expectClose(t.timeoutMs);
  } catch {
    t.finding(`the server did not close the connection within ${t.timeoutMs} ms of the client's DISCONNECT (SHOULD)`);
    await dropAndWait(client);
  }
  await t.expectNothing(sub, 500, 'MQTT-3.14.4-3', (p) => p.type === 'publish' && p.topic === topic, 'no Will after DISCONNECT');
});

conformance('DISCONNECT with reason 0x04 (Disconnect with Will Message) publishes the Will', { v5: ['MQTT-3.1.2-8', 'MQTT-3.1.2-10'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client } = await t.connect('willer', { will: will(t, topic, { qos: 1, payload: 'with will' }) });
  await disconnectAndWait(t, client, 0x04);
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, what: 'the Will after DISCONNECT 0x04' });
  t.check(p.payload.toString() === 'with will', 'MQTT-3.1.2-8', `payload '${p.payload.toString()}'`);
  await ack(t, sub, p);
});

conformance('a DISCONNECT with reserved flag bits set is malformed and closes the connection', { v4: ['MQTT-3.14.1-1'], v5: ['MQTT-3.14.1-1'] }, async (t) => {
  const { client } = await t.connect('c');
  client.sendBytes(t.version === 5 ? Buffer.from([0xe1, 0x01, 0x00]) : Buffer.from([0xe1, 0x00]), 'DISCONNECT with flags 0001');
  await t.expectClosed(client, 'MQTT-3.14.1-1');
  if (t.version === 5) {
    const d = checkServerDisconnect(t, client, [0x81], 'MQTT-3.14.1-1');
    if (!d) t.finding('closed without DISCONNECT 0x81 (Malformed Packet)');
  }
});

conformance('the Will is published after a malformed DISCONNECT', { v4: ['MQTT-3.1.2-8', 'MQTT-3.14.1-1'], v5: ['MQTT-3.1.2-8', 'MQTT-3.14.1-1'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client } = await t.connect('willer', { will: will(t, topic, { qos: 1, payload: 'malformed disconnect' }) });
  client.sendBytes(t.version === 5 ? Buffer.from([0xe1, 0x01, 0x00]) : Buffer.from([0xe1, 0x00]), 'DISCONNECT with flags 0001');
  await t.expectClosed(client, 'MQTT-3.14.1-1');
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, what: 'the Will: a malformed DISCONNECT is a protocol violation, not a DISCONNECT' });
  await ack(t, sub, p);
});

conformance('the server DISCONNECT for a protocol error has a valid reason, no Session Expiry, and is the last packet', {
  v5: ['MQTT-3.14.2-1', 'MQTT-3.14.2-2', 'MQTT-3.14.4-1', 'MQTT-3.14.4-2', 'MQTT-4.13.1-1'],
}, async (t) => {
  const clientId = t.clientId('perr');
  try {
    const { client } = await t.connect('c', { clientId, ...persistent(t, 10) });
    client.send({ type: 'connect', protocolVersion: 5, clean: true, keepAlive: 0, clientId });
    await t.expectClosed(client, 'MQTT-4.13.1-1');
    const d = checkServerDisconnect(t, client, undefined, 'MQTT-3.14.2-1');
    if (!d) t.finding('the server closed for a Protocol Error (second CONNECT) without DISCONNECT 0x82');
    else if (d.reasonCode !== 0x82) t.finding(`DISCONNECT 0x${hex(d.reasonCode ?? 0)} for a second CONNECT (0x82 Protocol Error expected)`);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('the server sends no DISCONNECT before a successful CONNACK', { v5: ['MQTT-3.14.0-1'] }, async (t) => {
  // A malformed CONNECT (Will Retain without Will Flag) and a refused one (protocol level 6).
  const a = await t.open('malformed');
  a.sendBytes(connectBytes(t, {}, (b, at) => { b[at.flags]! |= 0x20; }), 'CONNECT with Will Retain 1 and Will Flag 0');
  const b = await t.open('refused');
  b.sendBytes(connectBytes(t, {}, (bytes, at) => { bytes[at.level] = 6; }), 'CONNECT with protocol level 6');
  for (const c of [a, b]) {
    await connectOutcome(c, t.timeoutMs);
    const ds = receivedOf(c, 'disconnect');
    t.check(ds.length === 0, 'MQTT-3.14.0-1', `${c.label}: DISCONNECT 0x${hex(ds[0]?.reasonCode ?? 0)} sent without a successful CONNACK`);
  }
});

conformance('DISCONNECT with Session Expiry Interval 0 ends a persistent session', { v5: ['MQTT-4.1.0-2'], requires: ['persistentSessions'] }, async (t) => {
  const clientId = t.clientId('dse0');
  try {
    const { client, connack } = await t.connect('c', { clientId, ...persistent(t, 30) });
    requireGrantedExpiry(t, connack, 5);
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: t.topic('dse0'), qos: 1 }] });
    await t.expect(client, 'suback', 'MQTT-3.8.4-1');
    client.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await t.expectClosed(client, undefined);
    const { connack: again } = await t.connect('again', { clientId, ...persistent(t, 30) });
    t.check(!again.sessionPresent, 'MQTT-4.1.0-2', 'Session Present 1 although the DISCONNECT set Session Expiry Interval 0');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a DISCONNECT that raises Session Expiry Interval from 0 does not keep the session', { v5: ['MQTT-4.1.0-2'] }, async (t) => {
  const clientId = t.clientId('dseup');
  const { topic, sub } = await watch(t);
  try {
    const { client } = await t.connect('c', { clientId, clean: false, will: will(t, topic, { qos: 1, payload: 'invalid disconnect' }) });
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: t.topic('dseup'), qos: 1 }] });
    await t.expect(client, 'suback', 'MQTT-3.8.4-1');
    // CONNECT had no Session Expiry Interval (0): a non-zero value in DISCONNECT is a Protocol Error [5.0 §3.14.2.2.2].
    client.send({ type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
    await t.expectClosed(client, undefined);
    const d = checkServerDisconnect(t, client, undefined, 'MQTT-3.14.2-1');
    if (d && d.reasonCode !== 0x82) t.finding(`DISCONNECT 0x${hex(d.reasonCode ?? 0)} for Session Expiry raised from 0 (0x82 Protocol Error expected)`);
    try {
      const p = await sub.expect('publish', { where: (m) => m.topic === topic, timeoutMs: 1000 });
      await ack(t, sub, p);
    } catch {
      t.finding('no Will after a DISCONNECT that raised Session Expiry from 0 (5.0 §3.14.2.2.2: not a valid DISCONNECT, so the Will should be published)');
    }
    const { connack } = await t.connect('again', { clientId, clean: false });
    t.check(!connack.sessionPresent, 'MQTT-4.1.0-2', 'Session Present 1: the server kept the session of a connection with Session Expiry Interval 0 because its DISCONNECT raised it (a Protocol Error)');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a server DISCONNECT leaves out Reason String and User Properties that would exceed the client Maximum Packet Size', { v5: ['MQTT-3.14.2-3', 'MQTT-3.14.2-4', 'MQTT-3.1.2-24'] }, async (t) => {
  // Room for this server's own CONNACK (measured first) and a DISCONNECT without properties, not for a Reason String.
  const { client: probe, connack: probeAck } = await t.connect('probe');
  probe.disconnect();
  const max = Math.max(encode(probeAck, 5).length, 4) + 2;
  const { client } = await t.connect('c', { properties: { maximumPacketSize: max } });
  client.send({ type: 'connect', protocolVersion: 5, clean: true, keepAlive: 0, clientId: t.clientId('c') });
  await t.expectClosed(client, 'MQTT-3.1.0-2');
  const d = checkServerDisconnect(t, client, undefined, 'MQTT-3.14.2-1');
  if (!d) return; // closed without DISCONNECT: nothing too large was sent
  const size = encode(d, 5).length;
  t.check(d.properties?.reasonString === undefined || size <= max, 'MQTT-3.14.2-3', `DISCONNECT of ${size} bytes with a Reason String, client Maximum Packet Size ${max}`);
  t.check(d.properties?.userProperties === undefined || size <= max, 'MQTT-3.14.2-4', `DISCONNECT of ${size} bytes with User Properties, client Maximum Packet Size ${max}`);
  t.check(size <= max, 'MQTT-3.1.2-24', `DISCONNECT of ${size} bytes, client Maximum Packet Size ${max}`);
});

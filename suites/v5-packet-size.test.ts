/**
 * MQTT 5.0 Maximum Packet Size, both ways (§3.1.2.11.4, §3.2.2.3.6): the
 * broker never sends a client a packet above the client's maximum (it drops
 * such PUBLISHes as if delivered, and leaves Reason Strings and User
 * Properties out of its own packets), and it refuses a packet above its own
 * announced maximum (DISCONNECT 0x95).
 *
 * Sizes of received packets are measured by re-encoding them: exact for
 * PUBLISH; for acknowledgements it can only undercount (a broker may write a
 * longer but valid form), so a reported excess is always real.
 */
import type { AllProperties, Packet } from '../codec/index.js';
import type { RawClient } from '../harness/raw-client.js';
import { describe } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  brokerStillUp, clearRetained, expectNotDelivered, expectRejected, nextId, P, publish, rawConnect, rawPublish, sendOffending,
  subscribe, watcher, wireSize,
} from './support/v5-helpers.js';

const propsOf = (p: Packet): AllProperties | undefined => ('properties' in p ? p.properties : undefined);

/** Fails `statement` if `client` received any packet larger than `max`. */
function checkSizes(t: ConformanceContext, client: RawClient, max: number, statement: (p: Packet) => string): void {
  for (const p of client.received) {
    const size = wireSize(p, 5);
    t.check(size <= max, statement(p), `the broker sent ${describe(p)} of ${size} bytes to a client whose Maximum Packet Size is ${max}${p.type !== 'publish' ? ` (properties: ${JSON.stringify(Object.keys(propsOf(p) ?? {}))})` : ''}`);
  }
}

conformance('a PUBLISH larger than the client\'s Maximum Packet Size is not sent; later messages still are', { v5: ['MQTT-3.1.2-24', 'MQTT-3.1.2-25'] }, async (t) => {
  const topic = t.topic('big');
  const max = 128;
  const sub = await t.subscriber('sub', topic, { qos: 1, properties: { maximumPacketSize: max } });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, Buffer.alloc(200, 0x42), { qos: 1 });
  await publish(t, pub, topic, 'small', { qos: 1 });
  const small = await t.expect(sub, 'publish', 'MQTT-3.1.2-25', { where: (p) => p.payload.toString() === 'small', what: 'the small message published after the oversized one (the broker must carry on as if the big one was delivered)' });
  sub.send({ type: 'puback', packetId: small.packetId! });
  checkSizes(t, sub, max, () => 'MQTT-3.1.2-24');
  await t.expectNothing(sub, 300, 'MQTT-3.1.2-24', (p) => p.type === 'publish' || p.type === 'disconnect', 'no oversized PUBLISH and no DISCONNECT');
  checkSizes(t, sub, max, () => 'MQTT-3.1.2-24');
});

conformance('a retained message larger than the client\'s Maximum Packet Size is not sent on SUBSCRIBE', { v5: ['MQTT-3.1.2-24', 'MQTT-3.1.2-25'], requires: ['retain', 'wildcards'] }, async (t) => {
  const base = t.topic('bigret');
  const { client: pub } = await t.connect('pub');
  try {
    await publish(t, pub, `${base}/big`, Buffer.alloc(300, 0x42), { qos: 1, retain: true });
    await publish(t, pub, `${base}/small`, 'small', { qos: 1, retain: true });
    const { client: sub } = await t.connect('sub', { properties: { maximumPacketSize: 128 } });
    await subscribe(t, sub, [{ topicFilter: `${base}/#`, qos: 1 }]);
    await t.expect(sub, 'publish', 'MQTT-3.1.2-25', { where: (p) => p.payload.toString() === 'small', what: 'the small retained message' });
    await t.expectNothing(sub, 300, 'MQTT-3.1.2-24', (p) => p.type === 'publish' && p.payload.length === 300, 'no oversized retained message');
    checkSizes(t, sub, 128, () => 'MQTT-3.1.2-24');
  } finally {
    clearRetained(pub, `${base}/big`);
    clearRetained(pub, `${base}/small`);
  }
});

/** Small enough that a Reason String rarely fits, large enough for a CONNACK announcing every capability. */
const SMALL = 64;

conformance('a DISCONNECT sent to a client with a small Maximum Packet Size leaves out Reason String and User Properties', { v5: ['MQTT-3.1.2-24', 'MQTT-3.14.2-3', 'MQTT-3.14.2-4', 'MQTT-4.13.1-1'] }, async (t) => {
  const { client } = await t.connect('bad', { properties: { maximumPacketSize: SMALL } });
  // A malformed packet (QoS 3 PUBLISH): a broker that explains itself would add a Reason String.
  sendOffending(client, rawPublish(5, { topic: t.topic('x'), qos: 3, packetId: 1 }), 'PUBLISH with QoS 3');
  await expectRejected(t, client, { statement: 'MQTT-4.13.1-1', reasons: [0x81], what: 'PUBLISH with QoS 3' });
  checkSizes(t, client, SMALL, (p) => (propsOf(p)?.userProperties ? 'MQTT-3.14.2-4' : p.type === 'disconnect' ? 'MQTT-3.14.2-3' : 'MQTT-3.1.2-24'));
});

conformance('acknowledgements to a client with a small Maximum Packet Size leave out Reason String and User Properties', {
  v5: ['MQTT-3.1.2-24', 'MQTT-3.4.2-2', 'MQTT-3.4.2-3', 'MQTT-3.5.2-2', 'MQTT-3.5.2-3', 'MQTT-3.7.2-2', 'MQTT-3.7.2-3', 'MQTT-3.9.2-1', 'MQTT-3.9.2-2', 'MQTT-3.11.2-1', 'MQTT-3.11.2-2'],
}, async (t) => {
  const { client } = await t.connect('small', { properties: { maximumPacketSize: SMALL } });
  const nobody = t.topic('nobody-listens');
  // PUBACK / PUBREC for messages nobody subscribed to (0x10 "No matching subscribers" is often explained).
  const p1 = nextId(client);
  client.send({ type: 'publish', topic: nobody, payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: p1 });
  await t.expect(client, 'puback', 'MQTT-3.3.4-1', { where: (a) => a.packetId === p1 });
  if (t.profile.maxQoS === undefined || t.profile.maxQoS >= 2) {
    const p2 = nextId(client);
    client.send({ type: 'publish', topic: nobody, payload: Buffer.from('x'), qos: 2, retain: false, dup: false, packetId: p2 });
    await t.expect(client, 'pubrec', 'MQTT-3.3.4-1', { where: (a) => a.packetId === p2 });
    client.send({ type: 'pubrel', packetId: p2, reasonCode: 0 });
    await t.expect(client, 'pubcomp', 'MQTT-4.3.3-11', { where: (a) => a.packetId === p2 });
  }
  // PUBCOMP for a PUBREL with an unknown identifier (0x92 "Packet Identifier not found").
  client.send({ type: 'pubrel', packetId: 4242, reasonCode: 0 });
  await t.expect(client, 'pubcomp', 'MQTT-4.3.3-11', { where: (a) => a.packetId === 4242 });
  // UNSUBACK for a filter that was never subscribed (0x11 "No subscription existed").
  const u = nextId(client);
  client.send({ type: 'unsubscribe', packetId: u, topicFilters: [t.topic('never-subscribed')] });
  await t.expect(client, 'unsuback', 'MQTT-3.10.4-4', { where: (a) => a.packetId === u });
  // SUBACK: a plain subscription (and a refused one below when the profile names one).
  await subscribe(t, client, [{ topicFilter: t.topic('ok'), qos: 1 }]);
  const statementFor = (p: Packet): string => {
    const up = propsOf(p)?.userProperties !== undefined;
    switch (p.type) {
      case 'puback': return up ? 'MQTT-3.4.2-3' : 'MQTT-3.4.2-2';
      case 'pubrec': return up ? 'MQTT-3.5.2-3' : 'MQTT-3.5.2-2';
      case 'pubcomp': return up ? 'MQTT-3.7.2-3' : 'MQTT-3.7.2-2';
      case 'suback': return up ? 'MQTT-3.9.2-2' : 'MQTT-3.9.2-1';
      case 'unsuback': return up ? 'MQTT-3.11.2-2' : 'MQTT-3.11.2-1';
      default: return 'MQTT-3.1.2-24';
    }
  };
  checkSizes(t, client, SMALL, statementFor);
  const deny = t.profile.acl?.find((c) => c.action === 'subscribe' && c.expect === 'deny');
  if (deny) {
    const { client: denied } = await t.connect('denied', { role: deny.role, properties: { maximumPacketSize: SMALL } });
    const ack = await subscribe(t, denied, [{ topicFilter: deny.topic, qos: 1 }], { requireGranted: false });
    // A broker may grant and filter on delivery instead (the security suite reports that); then
    // there is no refusal whose Reason String could be too large, and nothing more to check here.
    if (ack.reasonCodes[0]! >= 0x80) checkSizes(t, denied, SMALL, statementFor);
    else t.recorder.event('denied', 'note', `SUBACK granted ${deny.topic} despite the deny claim: no refusal to size-check`);
  }
});

conformance('a refused CONNACK to a client with a small Maximum Packet Size leaves out Reason String and User Properties', { v5: ['MQTT-3.2.2-19', 'MQTT-3.2.2-20'], requires: ['auth'] }, async (t) => {
  const { client, connack } = await t.connect('bad', { password: Buffer.from('certainly-not-the-password'), properties: { maximumPacketSize: SMALL }, expectSuccess: false });
  t.check(connack.reasonCode >= 0x80, undefined, `a wrong password was accepted (CONNACK 0x${connack.reasonCode.toString(16)}): cannot provoke a refusal (test precondition)`);
  checkSizes(t, client, SMALL, (p) => (propsOf(p)?.userProperties ? 'MQTT-3.2.2-20' : 'MQTT-3.2.2-19'));
});

conformance('a packet above the broker\'s Maximum Packet Size is refused (DISCONNECT 0x95) and not delivered', { v5: ['MQTT-4.13.1-1', 'MQTT-4.13.2-1'], timeoutMs: 30_000 }, async (t) => {
  const { watch, topic } = await watcher(t);
  const { client, connack } = await t.connect('bad');
  const max = connack.properties?.maximumPacketSize;
  if (max === undefined) return t.skip('the broker announces no Maximum Packet Size (only the protocol limit of 256 MiB applies)');
  if (max > 64 * 1024 * 1024) t.skip(`the broker's Maximum Packet Size ${max} is too large to exceed within the test budget`);
  const header = rawPublish(5, { topic, qos: 0, payload: Buffer.alloc(0) });
  // Fixed header grows with the Remaining Length: pad the payload so the whole packet is max + 1 bytes.
  let payloadLen = max + 1 - header.length;
  for (let i = 0; i < 4 && rawPublish(5, { topic, qos: 0, payload: Buffer.alloc(payloadLen) }).length > max + 1; i++) payloadLen--;
  const bytes = rawPublish(5, { topic, qos: 0, payload: Buffer.alloc(payloadLen, 0x5a) });
  t.check(bytes.length === max + 1, undefined, `built ${bytes.length} bytes for max ${max} (test bug)`);
  sendOffending(client, bytes, `PUBLISH of ${bytes.length} bytes (broker maximum ${max})`);
  await expectRejected(t, client, { statement: 'MQTT-4.13.1-1', reasons: [0x95], what: `a PUBLISH of ${bytes.length} bytes above the announced Maximum Packet Size ${max}` });
  await expectNotDelivered(t, watch, topic, 'MQTT-4.13.1-1', 'the oversized PUBLISH');
});

conformance('a CONNECT with Maximum Packet Size 0 is refused and the connection closed', { v5: ['MQTT-3.1.4-1'] }, async (t) => {
  const client = await t.open('bad');
  sendOffending(client, rawConnect(t, { properties: [P.maximumPacketSize(0)] }), 'CONNECT with Maximum Packet Size 0');
  await expectRejected(t, client, { statement: 'MQTT-3.1.4-1', reasons: [0x82], notAnswered: ['connack'], what: 'CONNECT with Maximum Packet Size 0', disconnectOptional: true });
  await brokerStillUp(t);
});

conformance('a CONNACK never exceeds the client\'s Maximum Packet Size, even a tiny one', { v5: ['MQTT-3.1.2-24'] }, async (t) => {
  // 5 bytes hold a CONNACK without properties (20 03 00 00 00) and nothing more.
  const max = 5;
  const client = await t.open('tiny');
  const cred = t.target.profile.credentials?.['default'];
  client.send({
    type: 'connect', protocolVersion: 5, clean: true, keepAlive: 0, clientId: t.clientId('tiny'), properties: { maximumPacketSize: max },
    ...(cred?.username !== undefined ? { username: cred.username } : {}), ...(cred?.password !== undefined ? { password: Buffer.from(cred.password) } : {}),
  });
  const connack = await client.expect('connack', { timeoutMs: t.timeoutMs }).catch(() => undefined);
  if (connack) {
    checkSizes(t, client, max, () => 'MQTT-3.1.2-24');
  } else if (!client.closed) {
    t.finding(`with Maximum Packet Size ${max} the broker sent no CONNACK and left the connection open for ${t.timeoutMs} ms (it could send a CONNACK without properties, or refuse and close)`);
  }
});

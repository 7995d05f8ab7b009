/** CONNECT / CONNACK and client identifiers (3.1.1 §3.1–3.2, 5.0 §3.1–3.2). */
import { encode, type Packet, type PublishPacket } from '../codec/index.js';
import { roleCredentials } from '../harness/target.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  checkServerDisconnect, connectBytes, connectOutcome, connectPacket, endSessions, expectConnack, failOnBadBytes, hex,
  persistent, publish, receivedOf, requireGrantedExpiry,
} from './support/session-helpers.js';

/** A publisher connected as the default role. */
async function publisher(t: ConformanceContext, label = 'pub') {
  return (await t.connect(label)).client;
}

conformance('CONNECT is acknowledged with CONNACK success, the first packet the server sends', { v4: ['MQTT-3.2.0-1', 'MQTT-3.1.4-4'], v5: ['MQTT-3.1.4-5', 'MQTT-3.2.0-1', 'MQTT-3.2.2-1'] }, async (t) => {
  // The codec rejects CONNACK flags bits 7-1 set [5.0 MQTT-3.2.2-1]; a plain t.connect() would report that as a missing CONNACK.
  const client = await t.open('c');
  client.send(connectPacket(t, { clientId: t.clientId('c') }));
  const connack = await expectConnack(t, client, t.version === 5 ? 'MQTT-3.1.4-5' : 'MQTT-3.1.4-4');
  t.check(connack.reasonCode === 0, t.version === 5 ? 'MQTT-3.1.4-5' : 'MQTT-3.1.4-4', `CONNACK code 0x${hex(connack.reasonCode)}`);
  t.check(client.received[0]?.type === 'connack', 'MQTT-3.2.0-1', `first packet from the server was ${client.received[0]?.type.toUpperCase()}`);
});

conformance('a second CONNECT is a protocol violation and closes the connection', { v4: ['MQTT-3.1.0-2'], v5: ['MQTT-3.1.0-2', 'MQTT-3.2.0-2'] }, async (t) => {
  const { client } = await t.connect('c');
  client.send({ type: 'connect', protocolVersion: t.version, clean: true, keepAlive: 0, clientId: t.clientId('c') });
  const info = await t.expectClosed(client, 'MQTT-3.1.0-2');
  const connacks = receivedOf(client, 'connack');
  t.check(connacks.length === 1, t.version === 5 ? 'MQTT-3.2.0-2' : 'MQTT-3.1.0-2', `the server sent ${connacks.length} CONNACKs on one connection`);
  if (t.version === 5 && info.disconnect && info.disconnect.reasonCode !== 0x82) {
    t.finding(`DISCONNECT reason 0x${(info.disconnect.reasonCode ?? 0).toString(16)} instead of 0x82 Protocol Error`);
  }
});

conformance('reserved CONNECT flag set closes the connection', { v4: ['MQTT-3.1.2-3'], v5: ['MQTT-3.1.2-3'] }, async (t) => {
  const client = await t.open('c');
  // CONNECT, clean session, reserved bit 0 set (flags 0x03), keep alive 0, client id "a"
  const body = t.version === 5
    ? Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x03, 0, 0, 0, 0, 1, 0x61])
    : Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x03, 0, 0, 0, 1, 0x61]);
  client.sendBytes(Buffer.concat([Buffer.from([0x10, body.length]), body]), 'CONNECT with reserved flag 1');
  const info = await t.expectClosed(client, 'MQTT-3.1.2-3');
  const connack = client.received.find((p) => p.type === 'connack');
  t.check(!connack || connack.reasonCode !== 0, 'MQTT-3.1.2-3', 'the broker accepted a CONNECT whose reserved flag is 1');
  void info;
});

conformance('a client identifier of 23 ASCII letters and digits is accepted', { v4: ['MQTT-3.1.3-5'], v5: ['MQTT-3.1.3-5'] }, async (t) => {
  const base = t.clientId('');
  if (!/^[0-9a-zA-Z]*$/.test(base) || base.length > 23) t.skip(`the profile's client id prefix makes '${base}' unusable for a 1-23 alphanumeric id`);
  // Fill up to exactly 23 characters with upper case letters, lower case letters and digits.
  const fill = 'ZYXWVUTSRQPONzyxwvu9876';
  const clientId = (base + fill).slice(0, 23);
  const { client, connack } = await t.connect('c', { clientId, expectSuccess: false });
  t.check(connack.reasonCode === 0, 'MQTT-3.1.3-5', `client id '${clientId}' (23 alphanumerics) refused with 0x${hex(connack.reasonCode)}`);
  client.send({ type: 'pingreq' });
  await t.expect(client, 'pingresp', 'MQTT-3.1.3-5', { what: 'PINGRESP on the accepted connection' });
});

conformance('a zero-length client identifier is given a unique identifier', { v4: ['MQTT-3.1.3-6'], v5: ['MQTT-3.1.3-6', 'MQTT-3.2.2-16'], requires: ['zeroLengthClientId'] }, async (t) => {
  const a = await t.connect('a', { clientId: '', clean: true, expectSuccess: false });
  const b = await t.connect('b', { clientId: '', clean: true, expectSuccess: false });
  for (const { connack } of [a, b]) {
    if (connack.reasonCode !== 0) t.skip(`the server refuses zero-length client ids (CONNACK 0x${hex(connack.reasonCode)}), which the spec allows; set zeroLengthClientId: false in the profile`);
  }
  if (t.version === 5) {
    const ida = a.connack.properties?.assignedClientIdentifier;
    const idb = b.connack.properties?.assignedClientIdentifier;
    t.check(ida !== undefined && ida.length > 0, 'MQTT-3.2.2-16', 'CONNACK for a zero-length ClientID carries no Assigned Client Identifier');
    t.check(idb !== undefined && idb.length > 0, 'MQTT-3.2.2-16', 'CONNACK for a zero-length ClientID carries no Assigned Client Identifier');
    t.check(ida !== idb, 'MQTT-3.2.2-16', `two clients were assigned the same identifier '${ida}'`);
  }
  // Both connections stay usable: neither was taken over by the other (the ids are unique).
  for (const { client } of [a, b]) {
    client.send({ type: 'pingreq' });
    await t.expect(client, 'pingresp', 'MQTT-3.1.3-6', { what: 'PINGRESP (both zero-length-id clients still connected)' });
  }
});

conformance('the assigned client identifier names the session', { v5: ['MQTT-3.1.3-7'], requires: ['zeroLengthClientId', 'persistentSessions'] }, async (t) => {
  const topic = t.topic('assigned');
  const { client, connack } = await t.connect('anon', { clientId: '', ...persistent(t), expectSuccess: false });
  if (connack.reasonCode !== 0) t.skip(`the server refuses zero-length client ids (CONNACK 0x${hex(connack.reasonCode)})`);
  requireGrantedExpiry(t, connack, 5);
  const assigned = connack.properties?.assignedClientIdentifier;
  if (!assigned) return t.fail('MQTT-3.1.3-7', 'no Assigned Client Identifier in CONNACK');
  try {
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: topic, qos: 1 }] });
    await t.expect(client, 'suback', 'MQTT-3.1.3-7');
    client.disconnect();
    await t.expectClosed(client, undefined);
    const again = await t.connect('again', { clientId: assigned, ...persistent(t) });
    t.check(again.connack.sessionPresent, 'MQTT-3.1.3-7', `reconnecting with the assigned id '${assigned}' and Clean Start 0 found no session (Session Present 0)`);
    const pub = await publisher(t);
    await publish(t, pub, topic, 'to-assigned', { qos: 1 });
    const p = await t.expect(again.client, 'publish', 'MQTT-3.1.3-7', { where: (m) => m.topic === topic, what: 'PUBLISH through the subscription made under the assigned id' });
    if (p.qos === 1) again.client.send({ type: 'puback', packetId: p.packetId! });
  } finally {
    await endSessions(t, assigned);
  }
});

conformance('a zero-length client identifier with Clean Session 0 is refused with 0x02 and the connection closed', { v4: ['MQTT-3.1.3-8', 'MQTT-3.2.2-4', 'MQTT-3.2.2-5'] }, async (t) => {
  const client = await t.open('c');
  client.send(connectPacket(t, { clientId: '', clean: false }));
  const connack = await expectConnack(t, client, 'MQTT-3.1.3-8');
  t.check(connack.reasonCode === 0x02, 'MQTT-3.1.3-8', `CONNACK 0x${hex(connack.reasonCode)} instead of 0x02 (identifier rejected)`);
  t.check(!connack.sessionPresent, 'MQTT-3.2.2-4', 'Session Present 1 on a refusal');
  await t.expectClosed(client, 'MQTT-3.2.2-5');
});

conformance('a server that refuses zero-length client identifiers answers 0x02 / 0x85 and closes', { v4: ['MQTT-3.1.3-9', 'MQTT-3.2.2-5'], v5: ['MQTT-3.1.3-8', 'MQTT-3.2.2-7', 'MQTT-3.2.2-8'] }, async (t) => {
  const client = await t.open('c');
  client.send(connectPacket(t, { clientId: '', clean: true }));
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, t.version === 5 ? 'MQTT-3.2.2-8' : undefined);
  if (out.connack?.reasonCode === 0) t.skip('the server accepts zero-length client ids (see the assignment test)');
  const statement = t.version === 5 ? 'MQTT-3.1.3-8' : 'MQTT-3.1.3-9';
  t.check(out.closed !== undefined, t.version === 5 ? 'MQTT-3.1.3-8' : 'MQTT-3.2.2-5', 'connection still open after the refusal');
  if (!out.connack) {
    if (t.version === 4) t.fail(statement, 'the connection was closed without CONNACK 0x02');
    return; // 5.0: the CONNACK is optional
  }
  const ok = t.version === 5 ? [0x85] : [0x02];
  t.check(ok.includes(out.connack.reasonCode), statement, `refused with 0x${hex(out.connack.reasonCode)} instead of 0x${hex(ok[0]!)}`);
});

conformance('an unsupported protocol level is refused and the connection closed', { v4: ['MQTT-3.1.2-2', 'MQTT-3.2.2-4', 'MQTT-3.2.2-5'], v5: ['MQTT-3.1.2-2', 'MQTT-3.2.2-7'] }, async (t) => {
  const client = await t.open('c');
  // 3.1.1: level 2 (no such MQTT version); 5.0: level 6 (a future version).
  const level = t.version === 5 ? 6 : 2;
  client.sendBytes(connectBytes(t, {}, (b, at) => { b[at.level] = level; }), `CONNECT with protocol level ${level}`);
  const out = await connectOutcome(client, t.timeoutMs);
  if (t.version === 4) {
    failOnBadBytes(t, client, 'MQTT-3.1.2-2');
    t.check(out.connack !== undefined, 'MQTT-3.1.2-2', 'no CONNACK 0x01 for an unsupported protocol level');
    t.check(out.connack!.reasonCode === 0x01, 'MQTT-3.1.2-2', `CONNACK 0x${hex(out.connack!.reasonCode)} instead of 0x01 (unacceptable protocol version)`);
    t.check(!out.connack!.sessionPresent, 'MQTT-3.2.2-4', 'Session Present 1 on a refusal');
    t.check(out.closed !== undefined, 'MQTT-3.2.2-5', 'connection still open after CONNACK 0x01');
    return;
  }
  t.check(out.closed !== undefined, 'MQTT-3.1.2-2', 'connection still open after a CONNECT with protocol level 6');
  if (client.badBytes) {
    t.finding(`answered protocol level 6 with bytes that are not a 5.0 CONNACK (probably a 3.1.1-format refusal): ${client.badBytes.message}`);
  } else if (out.connack) {
    t.check(out.connack.reasonCode === 0x84 || out.connack.reasonCode >= 0x80, 'MQTT-3.1.2-2', `CONNACK 0x${hex(out.connack.reasonCode)} for protocol level 6`);
    if (out.connack.reasonCode !== 0x84) t.finding(`CONNACK 0x${hex(out.connack.reasonCode)} instead of 0x84 Unsupported Protocol Version`);
  }
});

conformance('a wrong protocol name is not processed as MQTT', { v4: ['MQTT-3.1.2-1'], v5: ['MQTT-3.1.2-1'] }, async (t) => {
  const client = await t.open('c');
  client.sendBytes(connectBytes(t, {}, (b, at) => { b.write('MQTX', at.name + 2, 'latin1'); }), "CONNECT with protocol name 'MQTX'");
  const out = await connectOutcome(client, t.timeoutMs);
  const ok = receivedOf(client, 'connack').find((c) => c.reasonCode === 0);
  t.check(!ok, 'MQTT-3.1.2-1', "the server accepted protocol name 'MQTX' with CONNACK 0");
  if (t.version === 5) {
    t.check(out.closed !== undefined, 'MQTT-3.1.2-1', "connection still open after protocol name 'MQTX'");
    if (out.connack && out.connack.reasonCode !== 0x84) t.finding(`CONNACK 0x${hex(out.connack.reasonCode)} instead of 0x84 for a wrong protocol name`);
  } else if (!out.closed) {
    t.finding("the server neither answered nor closed a CONNECT with protocol name 'MQTX' (allowed if it speaks another protocol)");
  }
});

conformance('a first packet other than CONNECT closes the connection unanswered', { v4: ['MQTT-4.8.0-1', 'MQTT-3.2.0-1'], v5: ['MQTT-4.13.1-1', 'MQTT-3.2.0-1'] }, async (t) => {
  const client = await t.open('c');
  client.send({ type: 'pingreq' });
  await t.expectClosed(client, t.version === 5 ? 'MQTT-4.13.1-1' : 'MQTT-4.8.0-1');
  failOnBadBytes(t, client, 'MQTT-3.2.0-1');
  const other = client.received.filter((p) => p.type !== 'connack' || p.reasonCode === 0);
  t.check(other.length === 0, 'MQTT-3.2.0-1', `the server sent ${other.map((p) => p.type.toUpperCase()).join(', ')} to a client that never sent CONNECT`);
});

conformance('a malformed CONNECT (Will Retain without Will Flag) is closed without acceptance', { v4: ['MQTT-3.1.4-1'], v5: ['MQTT-3.1.4-1', 'MQTT-3.2.2-7'] }, async (t) => {
  const client = await t.open('c');
  client.sendBytes(connectBytes(t, {}, (b, at) => { b[at.flags]! |= 0x20; }), 'CONNECT with Will Retain 1 and Will Flag 0');
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, 'MQTT-3.1.4-1');
  t.check(out.closed !== undefined, 'MQTT-3.1.4-1', 'connection still open after a malformed CONNECT');
  if (t.version === 4) {
    t.check(!out.connack, 'MQTT-3.1.4-1', `the server sent CONNACK 0x${hex(out.connack?.reasonCode ?? 0)}; a non-conforming CONNECT is closed without CONNACK`);
  } else if (out.connack) {
    t.check(out.connack.reasonCode >= 0x80, 'MQTT-3.1.4-1', `the server accepted a malformed CONNECT (CONNACK 0x${hex(out.connack.reasonCode)})`);
    if (![0x81, 0x82].includes(out.connack.reasonCode)) t.finding(`CONNACK 0x${hex(out.connack.reasonCode)} for a malformed CONNECT (0x81 Malformed Packet expected)`);
  }
});

conformance('packets after a refused CONNECT are not processed', { v4: ['MQTT-3.1.4-5', 'MQTT-3.2.2-5'], v5: ['MQTT-3.1.4-6', 'MQTT-3.2.2-7', 'MQTT-3.2.2-6'] }, async (t) => {
  const topic = t.topic('after-refusal');
  const sub = await t.subscriber('sub', topic, { qos: 0 });
  const client = await t.open('c');
  // 3.1.1: a zero-length ClientId with Clean Session 0 must be refused [MQTT-3.1.3-8];
  // 5.0: an Authentication Method nobody implements (refused with 0x8C / 0x87 [MQTT-4.12.0-1]).
  const connect = t.version === 5
    ? connectPacket(t, { clientId: t.clientId('c'), properties: { authenticationMethod: 'mqtt-testbed.invalid/none' } })
    : connectPacket(t, { clientId: '', clean: false });
  const pub: PublishPacket = { type: 'publish', topic, payload: Buffer.from('must not be processed'), qos: 0, retain: false, dup: false };
  client.sendBytes(Buffer.concat([encode(connect, t.version), encode(pub, t.version)]), 'CONNECT (to be refused) + PUBLISH in one write');
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, t.version === 5 ? 'MQTT-3.2.2-8' : undefined);
  if (receivedOf(client, 'auth').length > 0) t.skip('the server started enhanced authentication for the test method');
  if (out.connack?.reasonCode === 0) t.skip(`the CONNECT was accepted, not refused (${t.version === 5 ? 'see auth.test MQTT-4.12.0-1' : 'see MQTT-3.1.3-8'})`);
  t.check(out.closed !== undefined, t.version === 5 ? 'MQTT-3.2.2-7' : 'MQTT-3.2.2-5', 'connection still open after the refusal');
  await t.expectNothing(sub, 400, t.version === 5 ? 'MQTT-3.1.4-6' : 'MQTT-3.1.4-5', (p) => p.type === 'publish', 'no delivery of the PUBLISH sent after the refused CONNECT');
});

conformance('a CONNECT with a wrong password is refused and the connection closed', { v4: ['MQTT-3.2.2-4', 'MQTT-3.2.2-5'], v5: ['MQTT-3.1.4-2', 'MQTT-3.2.2-6', 'MQTT-3.2.2-7', 'MQTT-3.2.2-8'], requires: ['auth'] }, async (t) => {
  const cred = roleCredentials(t.target, 'default');
  if (!cred?.username) t.skip("the profile's default role has no user name");
  const client = await t.open('c');
  client.send(connectPacket(t, { password: Buffer.from(`wrong-${t.id}`) }));
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, t.version === 5 ? 'MQTT-3.2.2-8' : 'MQTT-3.2.2-4');
  t.check(out.connack?.reasonCode !== 0, t.version === 5 ? 'MQTT-3.1.4-2' : 'MQTT-3.2.2-5', 'a wrong password was accepted');
  t.check(out.closed !== undefined, t.version === 5 ? 'MQTT-3.1.4-2' : 'MQTT-3.2.2-5', 'connection still open after refusing the credentials');
  if (out.connack) {
    t.check(!out.connack.sessionPresent, t.version === 5 ? 'MQTT-3.2.2-6' : 'MQTT-3.2.2-4', 'Session Present 1 on a refusal');
    const expected = t.version === 5 ? [0x86, 0x87] : [0x04, 0x05];
    if (!expected.includes(out.connack.reasonCode)) t.finding(`refused with 0x${hex(out.connack.reasonCode)} (0x${hex(expected[0]!)} bad user name or password expected)`);
  }
});

conformance('a second connection with the same client identifier closes the first', { v4: ['MQTT-3.1.4-2'], v5: ['MQTT-3.1.4-3'] }, async (t) => {
  const clientId = t.clientId('dup');
  const { client: first } = await t.connect('first', { clientId });
  const { client: second } = await t.connect('second', { clientId });
  const statement = t.version === 5 ? 'MQTT-3.1.4-3' : 'MQTT-3.1.4-2';
  await t.expectClosed(first, statement);
  if (t.version === 5) {
    const d = checkServerDisconnect(t, first, 0x8e, 'MQTT-3.1.4-3');
    if (!d) t.finding('the taken-over connection was closed without DISCONNECT 0x8E (Session taken over)');
  }
  second.send({ type: 'pingreq' });
  await t.expect(second, 'pingresp', statement, { what: 'PINGRESP on the new connection' });
});

conformance('Response Information is not returned unless requested', { v5: ['MQTT-3.1.2-28'] }, async (t) => {
  const { connack: a } = await t.connect('zero', { properties: { requestResponseInformation: 0 } });
  t.check(a.properties?.responseInformation === undefined, 'MQTT-3.1.2-28', `CONNACK has Response Information '${a.properties?.responseInformation}' although Request Response Information is 0`);
  const { connack: b } = await t.connect('absent');
  t.check(b.properties?.responseInformation === undefined, 'MQTT-3.1.2-28', `CONNACK has Response Information '${b.properties?.responseInformation}' although Request Response Information is absent (0)`);
});

conformance('with Request Problem Information 0 no Reason String or User Property appears outside PUBLISH, CONNACK and DISCONNECT', { v5: ['MQTT-3.1.2-29'] }, async (t) => {
  const topic = t.topic('rpi');
  // Things that commonly make a server explain itself: an UNSUBSCRIBE of a filter never subscribed (0x11),
  // a QoS 1 PUBLISH nobody receives (0x10), a PUBREL for an unknown packet id (0x92).
  const provoke = async (label: string, rpi: 0 | undefined): Promise<Packet[]> => {
    const { client } = await t.connect(label, rpi === undefined ? {} : { properties: { requestProblemInformation: rpi } });
    client.send({ type: 'unsubscribe', packetId: 7, topicFilters: [`${topic}/never-subscribed`] });
    await t.expect(client, 'unsuback', 'MQTT-3.1.2-29');
    client.send({ type: 'publish', topic, payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 8 });
    await t.expect(client, 'puback', 'MQTT-3.1.2-29');
    client.send({ type: 'pubrel', packetId: 9 });
    await t.expect(client, 'pubcomp', 'MQTT-3.1.2-29');
    return [...client.received];
  };
  const explained = (p: Packet): boolean => 'properties' in p && p.properties !== undefined && ('reasonString' in p.properties || 'userProperties' in p.properties);
  const quiet = await provoke('rpi0', 0);
  const bad = quiet.filter((p) => p.type !== 'publish' && p.type !== 'connack' && p.type !== 'disconnect' && explained(p));
  t.check(bad.length === 0, 'MQTT-3.1.2-29', `Reason String / User Property sent on ${bad.map((p) => p.type.toUpperCase()).join(', ')} after Request Problem Information 0`);
  const control = await provoke('rpi1', undefined);
  if (!control.some(explained)) t.recorder.event('-', 'note', 'the server sent no Reason String on these packets even when allowed; the check above is weak for this broker');
});

conformance('no PUBLISH larger than the client Maximum Packet Size is sent; the server carries on', { v5: ['MQTT-3.1.2-24', 'MQTT-3.1.2-25'] }, async (t) => {
  const topic = t.topic('mps');
  const max = 128;
  const sub = await t.subscriber('sub', topic, { qos: 1, properties: { maximumPacketSize: max } });
  const pub = await publisher(t);
  await publish(t, pub, topic, Buffer.alloc(400, 0x61), { qos: 1, packetId: 1 });
  await publish(t, pub, topic, 'small', { qos: 1, packetId: 2 });
  const small = await t.expect(sub, 'publish', 'MQTT-3.1.2-25', { where: (p) => p.payload.toString() === 'small', what: 'the small PUBLISH after the oversized one' });
  sub.send({ type: 'puback', packetId: small.packetId! });
  failOnBadBytes(t, sub, 'MQTT-3.1.2-24');
  for (const p of receivedOf(sub, 'publish')) {
    const size = encode(p, 5).length;
    t.check(size <= max, 'MQTT-3.1.2-24', `received a ${size}-byte PUBLISH with Maximum Packet Size ${max}`);
  }
  t.check(!sub.closed, 'MQTT-3.1.2-25', 'the server closed the connection instead of discarding the oversized message');
});

conformance('no Topic Alias is sent to a client that allows none', { v5: ['MQTT-3.1.2-27'] }, async (t) => {
  const topic = t.topic('noalias');
  const sub = await t.subscriber('sub', topic, { qos: 0 });
  const pub = await publisher(t);
  for (let i = 0; i < 4; i++) await publish(t, pub, topic, `m${i}`, { qos: 1, packetId: i + 1 });
  for (let i = 0; i < 4; i++) {
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-27', { where: (m) => m.payload.toString() === `m${i}` || m.topic === '' });
    t.check(p.properties?.topicAlias === undefined, 'MQTT-3.1.2-27', `PUBLISH carries Topic Alias ${p.properties?.topicAlias} although the client sent no Topic Alias Maximum`);
  }
});

conformance('Topic Aliases sent to the client stay within its Topic Alias Maximum', { v5: ['MQTT-3.1.2-26', 'MQTT-3.3.2-11'] }, async (t) => {
  const max = 2;
  const topics = [0, 1, 2, 3].map((i) => t.topic(`alias${i}`));
  const sub = await t.subscriber('sub', topics.map((topicFilter) => ({ topicFilter, qos: 0 as const })), { properties: { topicAliasMaximum: max } });
  const pub = await publisher(t);
  let id = 1;
  for (let round = 0; round < 3; round++) for (const topic of topics) await publish(t, pub, topic, topic, { qos: 1, packetId: id++ });
  const aliases = new Map<number, string>();
  for (let n = 0; n < topics.length * 3; n++) {
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-26');
    const alias = p.properties?.topicAlias;
    if (alias !== undefined) {
      t.check(alias >= 1 && alias <= max, 'MQTT-3.1.2-26', `Topic Alias ${alias} with the client's Topic Alias Maximum ${max}`);
      if (p.topic !== '') aliases.set(alias, p.topic);
    }
    const resolved = p.topic !== '' ? p.topic : alias !== undefined ? aliases.get(alias) : undefined;
    t.check(resolved === p.payload.toString(), undefined, `PUBLISH for ${p.payload.toString()} resolved to topic '${resolved}' (alias ${alias})`);
  }
});

conformance('Session Present is 0 on a refusal even when a session exists', { v4: ['MQTT-3.2.2-4'], v5: ['MQTT-3.2.2-6'], requires: ['persistentSessions', 'auth'] }, async (t) => {
  const cred = roleCredentials(t.target, 'default');
  if (!cred?.username) t.skip("the profile's default role has no user name");
  const clientId = t.clientId('sp');
  const { client, connack } = await t.connect('setup', { clientId, ...persistent(t) });
  requireGrantedExpiry(t, connack, 5);
  try {
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: t.topic('sp'), qos: 1 }] });
    await t.expect(client, 'suback', undefined);
    client.disconnect();
    await t.expectClosed(client, undefined);
    const bad = await t.open('bad');
    bad.send(connectPacket(t, { clientId, ...persistent(t), password: Buffer.from(`wrong-${t.id}`) }));
    const out = await connectOutcome(bad, t.timeoutMs);
    failOnBadBytes(t, bad, t.version === 5 ? 'MQTT-3.2.2-6' : 'MQTT-3.2.2-4');
    if (out.connack?.reasonCode === 0) t.skip('a wrong password was accepted (see the wrong-password test)');
    if (out.connack) t.check(!out.connack.sessionPresent, t.version === 5 ? 'MQTT-3.2.2-6' : 'MQTT-3.2.2-4', 'Session Present 1 on a refused CONNECT');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a server without QoS 1 or 2 says so in CONNACK Maximum QoS', { v5: ['MQTT-3.2.2-9'] }, async (t) => {
  const topic = t.topic('maxqos');
  const { client, connack } = await t.connect('c');
  const announced = connack.properties?.maximumQoS;
  if (t.profile.maxQoS !== undefined && t.profile.maxQoS < 2) {
    t.check(announced === t.profile.maxQoS, 'MQTT-3.2.2-9', `the profile says Maximum QoS ${t.profile.maxQoS}, CONNACK announces ${announced ?? 'none (2)'}`);
  }
  if (announced !== undefined) t.skip(`the server announces Maximum QoS ${announced}`);
  // No Maximum QoS announced: QoS 1 and QoS 2 PUBLISHes must be accepted, not refused as unsupported (0x9B).
  client.send({ type: 'publish', topic, payload: Buffer.from('q1'), qos: 1, retain: false, dup: false, packetId: 1 });
  const ack1 = await t.expect(client, 'puback', 'MQTT-3.2.2-9', { what: 'PUBACK for QoS 1 (no Maximum QoS announced)' });
  t.check((ack1.reasonCode ?? 0) !== 0x9b, 'MQTT-3.2.2-9', 'QoS 1 refused with 0x9B although CONNACK announced no Maximum QoS');
  client.send({ type: 'publish', topic, payload: Buffer.from('q2'), qos: 2, retain: false, dup: false, packetId: 2 });
  const rec = await t.expect(client, 'pubrec', 'MQTT-3.2.2-9', { what: 'PUBREC for QoS 2 (no Maximum QoS announced)' });
  t.check((rec.reasonCode ?? 0) !== 0x9b, 'MQTT-3.2.2-9', 'QoS 2 refused with 0x9B although CONNACK announced no Maximum QoS');
  client.send({ type: 'pubrel', packetId: 2 });
  await t.expect(client, 'pubcomp', 'MQTT-4.3.3-11');
});

conformance('SUBSCRIBE at QoS 0, 1 and 2 is accepted whatever the Maximum QoS', { v5: ['MQTT-3.2.2-10'] }, async (t) => {
  const { client, connack } = await t.connect('c');
  const max = connack.properties?.maximumQoS ?? 2;
  const subs = ([0, 1, 2] as const).map((qos) => ({ topicFilter: t.topic(`sq${qos}`), qos }));
  client.send({ type: 'subscribe', packetId: 3, subscriptions: subs });
  const ack = await t.expect(client, 'suback', 'MQTT-3.2.2-10');
  ack.reasonCodes.forEach((code, i) => {
    t.check(code < 0x80, 'MQTT-3.2.2-10', `SUBSCRIBE at QoS ${i} refused with 0x${hex(code)} (Maximum QoS ${max})`);
    if (code > max) t.finding(`granted QoS ${code} above the announced Maximum QoS ${max}`);
  });
});

conformance('a refusal CONNACK leaves out Reason String and User Properties that would exceed the client Maximum Packet Size', { v5: ['MQTT-3.2.2-19', 'MQTT-3.2.2-20', 'MQTT-3.1.2-24'] }, async (t) => {
  const max = 16;
  const client = await t.open('c');
  // An Authentication Method nobody implements makes the server refuse, typically explaining why.
  client.send(connectPacket(t, { clientId: t.clientId('c'), properties: { maximumPacketSize: max, authenticationMethod: 'mqtt-testbed.invalid/none' } }));
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, 'MQTT-3.1.2-24');
  if (!out.connack) return; // closed without CONNACK: nothing too large was sent
  if (out.connack.reasonCode === 0) t.skip('the CONNECT was accepted (see auth.test MQTT-4.12.0-1)');
  const size = encode(out.connack, 5).length;
  t.check(out.connack.properties?.reasonString === undefined || size <= max, 'MQTT-3.2.2-19', `CONNACK of ${size} bytes with a Reason String, client Maximum Packet Size ${max}`);
  t.check(out.connack.properties?.userProperties === undefined || size <= max, 'MQTT-3.2.2-20', `CONNACK of ${size} bytes with User Properties, client Maximum Packet Size ${max}`);
  t.check(size <= max, 'MQTT-3.1.2-24', `CONNACK of ${size} bytes, client Maximum Packet Size ${max}`);
});

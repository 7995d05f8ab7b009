/**
 * 5.0 enhanced authentication as a client can observe it without knowing a
 * method the server implements (5.0 §3.15, §4.12): unknown methods refused,
 * no AUTH without a method, AUTH outside an exchange is a protocol error.
 */
import { conformance } from './support/conformance.js';
import { checkServerDisconnect, connectOutcome, connectPacket, failOnBadBytes, hex, receivedOf } from './support/session-helpers.js';

/** A method name no server implements. */
const UNKNOWN_METHOD = 'mqtt-testbed.invalid/no-such-method';

conformance('an unsupported Authentication Method is refused and the connection closed', { v5: ['MQTT-4.12.0-1', 'MQTT-4.12.0-5', 'MQTT-3.2.2-6', 'MQTT-3.2.2-7'] }, async (t) => {
  const client = await t.open('c');
  client.send(connectPacket(t, { clientId: t.clientId('c'), properties: { authenticationMethod: UNKNOWN_METHOD, authenticationData: Buffer.from('x') } }));
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, 'MQTT-4.12.0-1');
  const auth = receivedOf(client, 'auth')[0];
  if (auth) {
    t.check(auth.properties?.authenticationMethod === UNKNOWN_METHOD, 'MQTT-4.12.0-5', `server AUTH names method '${auth.properties?.authenticationMethod}', CONNECT named '${UNKNOWN_METHOD}'`);
    t.skip(`the server continued authentication (AUTH 0x${hex(auth.reasonCode)}) for '${UNKNOWN_METHOD}'`);
  }
  if (out.connack?.reasonCode === 0) {
    const m = out.connack.properties?.authenticationMethod;
    t.check(m === UNKNOWN_METHOD, 'MQTT-4.12.0-5', `CONNACK 0x00 ${m === undefined ? 'without an Authentication Method' : `with method '${m}'`} for CONNECT method '${UNKNOWN_METHOD}'`);
    t.fail('MQTT-4.12.0-1', `the server accepted an Authentication Method ('${UNKNOWN_METHOD}') it cannot support`);
  }
  t.check(out.closed !== undefined, out.connack ? 'MQTT-3.2.2-7' : 'MQTT-4.12.0-1', 'connection still open after refusing the Authentication Method');
  if (out.connack) {
    t.check(!out.connack.sessionPresent, 'MQTT-3.2.2-6', 'Session Present 1 on a refusal');
    if (![0x8c, 0x87].includes(out.connack.reasonCode)) t.finding(`unsupported Authentication Method refused with 0x${hex(out.connack.reasonCode)} (0x8C Bad authentication method or 0x87 Not authorized expected)`);
  }
});

conformance('without an Authentication Method the server sends no AUTH and no method in CONNACK', { v5: ['MQTT-4.12.0-6'] }, async (t) => {
  const { client, connack } = await t.connect('c');
  t.check(connack.properties?.authenticationMethod === undefined, 'MQTT-4.12.0-6', `CONNACK carries Authentication Method '${connack.properties?.authenticationMethod}'`);
  t.check(connack.properties?.authenticationData === undefined, 'MQTT-4.12.0-6', 'CONNACK carries Authentication Data');
  client.send({ type: 'pingreq' });
  await t.expect(client, 'pingresp', 'MQTT-3.12.4-1');
  await t.expectNothing(client, 300, 'MQTT-4.12.0-6', (p) => p.type === 'auth', 'no AUTH');
  t.check(receivedOf(client, 'auth').length === 0, 'MQTT-4.12.0-6', 'the server sent AUTH to a client that named no Authentication Method');
});

conformance('an AUTH from a client that used no Authentication Method is a protocol error', { v5: ['MQTT-4.13.1-1', 'MQTT-4.12.0-6'] }, async (t) => {
  const { client } = await t.connect('c');
  client.send({ type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: UNKNOWN_METHOD } });
  await t.expectClosed(client, 'MQTT-4.13.1-1');
  t.check(receivedOf(client, 'auth').length === 0, 'MQTT-4.12.0-6', 'the server answered AUTH with AUTH on a connection without an Authentication Method');
  const d = checkServerDisconnect(t, client, undefined, 'MQTT-3.14.2-1');
  if (!d) t.finding('closed without DISCONNECT 0x82 (Protocol Error)');
  else if (d.reasonCode !== 0x82) t.finding(`DISCONNECT 0x${hex(d.reasonCode ?? 0)} for an unexpected AUTH (0x82 Protocol Error expected)`);
});

conformance('an AUTH with reserved flag bits set is malformed and closes the connection', { v5: ['MQTT-3.15.1-1'] }, async (t) => {
  const { client } = await t.connect('c');
  client.sendBytes(Buffer.from([0xf1, 0x00]), 'AUTH with flags 0001');
  await t.expectClosed(client, 'MQTT-3.15.1-1');
  const d = checkServerDisconnect(t, client, undefined, 'MQTT-3.14.2-1');
  if (!d) t.finding('closed without DISCONNECT 0x81 (Malformed Packet)');
  else if (![0x81, 0x82].includes(d.reasonCode ?? 0)) t.finding(`DISCONNECT 0x${hex(d.reasonCode ?? 0)} for an AUTH with bad flags (0x81 Malformed Packet expected)`);
  else if (d.reasonCode === 0x82) t.recorder.event('-', 'note', 'DISCONNECT 0x82: the server may have rejected AUTH as such before checking its flags');
});

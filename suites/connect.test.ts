/** CONNECT / CONNACK and client identifiers (3.1.1 §3.1–3.2, 5.0 §3.1–3.2). */
import { conformance } from './support/conformance.js';

conformance('CONNECT is acknowledged with CONNACK success', { v4: ['MQTT-3.2.0-1'], v5: ['MQTT-3.1.4-5', 'MQTT-3.2.0-1'] }, async (t) => {
  const { connack } = await t.connect('c');
  t.check(connack.reasonCode === 0, t.statements[0], `CONNACK code 0x${connack.reasonCode.toString(16)}`);
});

conformance('a second CONNECT is a protocol violation and closes the connection', { v4: ['MQTT-3.1.0-2'], v5: ['MQTT-3.1.0-2'] }, async (t) => {
  const { client } = await t.connect('c');
  client.send({ type: 'connect', protocolVersion: t.version, clean: true, keepAlive: 0, clientId: t.clientId('c') });
  const info = await t.expectClosed(client, 'MQTT-3.1.0-2');
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

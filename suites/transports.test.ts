/**
 * MQTT over WebSocket and secure WebSocket (3.1.1 and 5.0 §6): the core
 * behaviour (connect, subscribe, QoS 0/1/2, retained, Will on an abrupt
 * close) on each WebSocket listener the profile names, and the §6 rules:
 * binary frames only [MQTT-6.0.0-1], packets not aligned with frames
 * [MQTT-6.0.0-2], the 'mqtt' subprotocol [MQTT-6.0.0-4].
 */
import type { Packet, QoS } from '../codec/index.js';
import { describe } from '../harness/raw-client.js';
import { listenerUrl, tlsOptions } from '../harness/target.js';
import { WsRaw } from '../harness/ws-raw.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { credentialsOf } from './support/security-helpers.js';

const KINDS = [
  { kind: 'ws', name: 'WebSocket' },
  { kind: 'wss', name: 'secure WebSocket' },
] as const;

type Kind = (typeof KINDS)[number]['kind'];

/** A raw WebSocket to the `kind` listener, closed when the test ends. */
async function wsOpen(t: ConformanceContext, kind: Kind, label: string, protocols?: string[]): Promise<WsRaw> {
  const url = listenerUrl(t.target, kind);
  if (!url) t.skip(`profile '${t.profile.name}' names no ${kind} listener`);
  const ws = await WsRaw.open(url, {
    version: t.version, label, recorder: t.recorder, timeoutMs: t.timeoutMs,
    tls: kind === 'wss' ? tlsOptions(t.target, 'default', true) : undefined,
    ...(protocols ? { protocols } : {}),
  });
  t.onCleanup(() => ws.destroy());
  return ws;
}

function connectPacket(t: ConformanceContext, label: string): Packet {
  return { type: 'connect', protocolVersion: t.version, clean: true, keepAlive: 0, clientId: t.clientId(label), ...credentialsOf(t, 'default') };
}

async function wsExpect<T extends Packet['type']>(t: ConformanceContext, ws: WsRaw, type: T, statement: string | undefined) {
  try {
    return await ws.expect(type);
  } catch (e) {
    return t.fail(statement, (e as Error).message);
  }
}

for (const { kind, name } of KINDS) {
  // ------------------------------------------------------------ core behaviour over the WebSocket listener

  conformance(`over ${name}: CONNECT is answered with CONNACK success`, { v4: ['MQTT-3.1.4-4'], v5: ['MQTT-3.1.4-5'], requires: [kind] }, async (t) => {
    const { connack } = await t.connect('c', { listener: kind, expectSuccess: false });
    t.check(connack.reasonCode === 0, t.statements[0], `CONNACK ${describe(connack)}`);
  });

  conformance(`over ${name}: SUBSCRIBE is answered with a SUBACK carrying its packet identifier`, { v4: ['MQTT-3.8.4-1', 'MQTT-3.8.4-2'], v5: ['MQTT-3.8.4-1', 'MQTT-3.8.4-2'], requires: [kind] }, async (t) => {
    const { client } = await t.connect('sub', { listener: kind });
    client.send({ type: 'subscribe', packetId: 4242, subscriptions: [{ topicFilter: t.topic('s'), qos: 1 }] });
    const ack = await t.expect(client, 'suback', 'MQTT-3.8.4-1');
    t.check(ack.packetId === 4242, 'MQTT-3.8.4-2', `SUBACK packet id ${ack.packetId}, SUBSCRIBE had 4242`);
  });

  conformance(`over ${name}: a QoS 0 message reaches a subscriber once, at QoS 0`, { v4: ['MQTT-4.5.0-1', 'MQTT-3.3.1-2'], v5: ['MQTT-4.5.0-1', 'MQTT-3.3.1-2'], requires: [kind] }, async (t) => {
    const topic = t.topic('q0');
    const sub = await t.subscriber('sub', topic, { qos: 2, listener: kind });
    const { client: pub } = await t.connect('pub', { listener: kind });
    pub.send({ type: 'publish', topic, payload: Buffer.from('q0'), qos: 0, retain: false, dup: false });
    const p = await t.expect(sub, 'publish', 'MQTT-4.5.0-1', { where: (m) => m.topic === topic });
    t.check(p.qos === 0 && !p.dup, 'MQTT-3.3.1-2', `delivered as ${describe(p)}`);
    await t.expectNothing(sub, 200, 'MQTT-4.5.0-1', (m) => m.type === 'publish' && m.topic === topic, 'a second copy');
  });

  conformance(`over ${name}: a QoS 1 message is acknowledged to the publisher and delivered at QoS 1`, {
    v4: ['MQTT-4.3.2-2', 'MQTT-4.3.2-1', 'MQTT-4.5.0-1'], v5: ['MQTT-4.3.2-4', 'MQTT-4.3.2-2', 'MQTT-4.5.0-1'], requires: [kind],
  }, async (t) => {
    const topic = t.topic('q1');
    const sub = await t.subscriber('sub', topic, { qos: 1, listener: kind });
    const { client: pub } = await t.connect('pub', { listener: kind });
    pub.send({ type: 'publish', topic, payload: Buffer.from('q1'), qos: 1, retain: false, dup: false, packetId: 11 });
    const ack = await t.expect(pub, 'puback', t.statements[0], { where: (a) => a.packetId === 11 });
    t.check((ack.reasonCode ?? 0) < 0x80, t.statements[0], `publisher got ${describe(ack)}`);
    const p = await t.expect(sub, 'publish', 'MQTT-4.5.0-1', { where: (m) => m.topic === topic });
    t.check(p.qos === 1 && p.packetId !== undefined && !p.dup, t.statements[1], `delivered as ${describe(p)}`);
    sub.send({ type: 'puback', packetId: p.packetId! });
  });

  conformance(`over ${name}: a QoS 2 message completes both handshakes and is delivered exactly once`, {
    v4: ['MQTT-4.3.3-2', 'MQTT-4.3.3-1', 'MQTT-4.5.0-1'], v5: ['MQTT-4.3.3-8', 'MQTT-4.3.3-11', 'MQTT-4.3.3-4', 'MQTT-4.5.0-1'], requires: [kind, 'qos2'],
  }, async (t) => {
    const topic = t.topic('q2');
    const sub = await t.subscriber('sub', topic, { qos: 2, listener: kind });
    const { client: pub } = await t.connect('pub', { listener: kind });
    pub.send({ type: 'publish', topic, payload: Buffer.from('q2'), qos: 2, retain: false, dup: false, packetId: 12 });
    const rec = await t.expect(pub, 'pubrec', t.statements[0], { where: (a) => a.packetId === 12 });
    t.check((rec.reasonCode ?? 0) < 0x80, t.statements[0], `publisher got ${describe(rec)}`);
    pub.send({ type: 'pubrel', packetId: 12 });
    await t.expect(pub, 'pubcomp', t.version === 5 ? 'MQTT-4.3.3-11' : 'MQTT-4.3.3-2', { where: (a) => a.packetId === 12 });
    const p = await t.expect(sub, 'publish', 'MQTT-4.5.0-1', { where: (m) => m.topic === topic });
    t.check(p.qos === 2 && p.packetId !== undefined, t.version === 5 ? 'MQTT-4.3.3-4' : 'MQTT-4.3.3-1', `delivered as ${describe(p)}`);
    sub.send({ type: 'pubrec', packetId: p.packetId! });
    await t.expect(sub, 'pubrel', t.version === 5 ? 'MQTT-4.3.3-4' : 'MQTT-4.3.3-1', { where: (a) => a.packetId === p.packetId });
    sub.send({ type: 'pubcomp', packetId: p.packetId! });
    await t.expectNothing(sub, 200, 'MQTT-4.5.0-1', (m) => m.type === 'publish' && m.topic === topic, 'a second copy');
  });

  conformance(`over ${name}: a retained message is sent, with RETAIN 1, to a later subscriber`, {
    v4: ['MQTT-3.3.1-5', 'MQTT-3.3.1-6', 'MQTT-3.3.1-8'], v5: ['MQTT-3.3.1-5', 'MQTT-3.3.1-9'], requires: [kind, 'retain'],
  }, async (t) => {
    const topic = t.topic('r');
    const { client: pub } = await t.connect('pub', { listener: kind });
    pub.send({ type: 'publish', topic, payload: Buffer.from('kept'), qos: 1, retain: true, dup: false, packetId: 13 });
    await t.expect(pub, 'puback', 'MQTT-3.3.1-5', { where: (a) => a.packetId === 13 });
    try {
      const sub = await t.subscriber('sub', topic, { qos: 1, listener: kind });
      const p = await t.expect(sub, 'publish', t.version === 5 ? 'MQTT-3.3.1-9' : 'MQTT-3.3.1-6', { where: (m) => m.topic === topic });
      t.check(p.payload.toString() === 'kept', 'MQTT-3.3.1-5', `retained payload '${p.payload.toString()}'`);
      t.check(p.retain, t.version === 5 ? 'MQTT-3.3.1-9' : 'MQTT-3.3.1-8', `delivered as ${describe(p)}`);
    } finally {
      pub.send({ type: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }); // clear it
    }
  });

  conformance(`over ${name}: the Will is published when the WebSocket connection drops without DISCONNECT`, { v4: ['MQTT-3.1.2-8'], v5: ['MQTT-3.1.2-8'], requires: [kind] }, async (t) => {
    const topic = t.topic('will');
    const sub = await t.subscriber('sub', topic, { qos: 1, listener: kind });
    const { client: dying } = await t.connect('dying', { listener: kind, will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
    dying.destroy(); // TCP dropped under the WebSocket: no close frame, no DISCONNECT
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic });
    t.check(p.payload.toString() === 'gone', 'MQTT-3.1.2-8', `Will payload '${p.payload.toString()}'`);
  });

  // ------------------------------------------------------------ §6: WebSocket framing and subprotocol

  conformance(`over ${name}: the server selects and returns the 'mqtt' subprotocol`, { v4: ['MQTT-6.0.0-4'], v5: ['MQTT-6.0.0-4'], requires: [kind] }, async (t) => {
    const ws = await wsOpen(t, kind, 'ws', ['mqtt']);
    t.check(ws.protocol === 'mqtt', 'MQTT-6.0.0-4', `the server selected subprotocol '${ws.protocol}'`);
  });

  conformance(`over ${name}: the server sends MQTT packets in binary frames only`, { v4: ['MQTT-6.0.0-1'], v5: ['MQTT-6.0.0-1'], requires: [kind] }, async (t) => {
    const ws = await wsOpen(t, kind, 'ws');
    ws.send(connectPacket(t, 'bin'));
    const connack = await wsExpect(t, ws, 'connack', undefined);
    t.check(connack.reasonCode === 0, undefined, `CONNACK ${describe(connack)}`);
    ws.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: t.topic('b'), qos: 0 }] });
    await wsExpect(t, ws, 'suback', 'MQTT-3.8.4-1');
    ws.send({ type: 'pingreq' });
    await wsExpect(t, ws, 'pingresp', undefined);
    const text = ws.frames.filter((f) => !f.binary);
    t.check(text.length === 0, 'MQTT-6.0.0-1', `${text.length} of ${ws.frames.length} frames from the server were not binary`);
  });

  conformance(`over ${name}: a text frame from the client makes the server close the connection`, { v4: ['MQTT-6.0.0-1'], v5: ['MQTT-6.0.0-1'], requires: [kind] }, async (t) => {
    const ws = await wsOpen(t, kind, 'ws');
    ws.send(connectPacket(t, 'text'));
    const connack = await wsExpect(t, ws, 'connack', undefined);
    t.check(connack.reasonCode === 0, undefined, `CONNACK ${describe(connack)}`);
    // A PUBLISH whose bytes are all ASCII, so the text frame is valid UTF-8: only its frame type is wrong.
    const publish = ws.bytes({ type: 'publish', topic: t.topic('text'), payload: Buffer.from('in a text frame'), qos: 0, retain: false, dup: false });
    t.check(publish.every((b) => b < 0x80), undefined, 'test setup: the PUBLISH is not pure ASCII');
    ws.sendFrame(publish, { binary: false }, 'PUBLISH QoS 0 in a TEXT frame');
    try {
      await ws.expectClose();
    } catch (e) {
      t.fail('MQTT-6.0.0-1', `the connection stayed open after a text frame: ${(e as Error).message}`);
    }
  });

  conformance(`over ${name}: packets split across several binary frames are reassembled`, { v4: ['MQTT-6.0.0-2'], v5: ['MQTT-6.0.0-2'], requires: [kind] }, async (t) => {
    const ws = await wsOpen(t, kind, 'ws');
    const connect = ws.bytes(connectPacket(t, 'split'));
    // Fixed header byte alone, then the length, then the rest in two pieces.
    ws.sendSplit(connect, [1, 1, 5, connect.length], 'CONNECT');
    const connack = await wsExpect(t, ws, 'connack', 'MQTT-6.0.0-2');
    t.check(connack.reasonCode === 0, undefined, `CONNACK ${describe(connack)}`);
    const subscribe = ws.bytes({ type: 'subscribe', packetId: 77, subscriptions: [{ topicFilter: t.topic('split'), qos: 1 }] });
    ws.sendSplit(subscribe, [3, subscribe.length], 'SUBSCRIBE');
    const ack = await wsExpect(t, ws, 'suback', 'MQTT-6.0.0-2');
    t.check(ack.packetId === 77, 'MQTT-3.8.4-2', `SUBACK id ${ack.packetId}`);
  });

  conformance(`over ${name}: several packets in one binary frame are all processed`, { v4: ['MQTT-6.0.0-2'], v5: ['MQTT-6.0.0-2'], requires: [kind] }, async (t) => {
    const ws = await wsOpen(t, kind, 'ws');
    const topic = t.topic('one-frame');
    const frame = ws.bytes(
      connectPacket(t, 'many'),
      { type: 'subscribe', packetId: 5, subscriptions: [{ topicFilter: topic, qos: 1 }] },
      { type: 'publish', topic, payload: Buffer.from('same frame'), qos: 1 as QoS, retain: false, dup: false, packetId: 6 },
      { type: 'pingreq' },
    );
    ws.sendFrame(frame, { binary: true }, 'CONNECT + SUBSCRIBE + PUBLISH + PINGREQ');
    const connack = await wsExpect(t, ws, 'connack', 'MQTT-6.0.0-2');
    t.check(connack.reasonCode === 0, undefined, `CONNACK ${describe(connack)}`);
    await wsExpect(t, ws, 'suback', 'MQTT-6.0.0-2');
    await wsExpect(t, ws, 'puback', 'MQTT-6.0.0-2');
    await wsExpect(t, ws, 'pingresp', 'MQTT-6.0.0-2');
  });
}

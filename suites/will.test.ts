/**
 * Last Will (3.1.1 §3.1.2.5–3.1.2.7, §3.1.3.2–3.1.3.3; 5.0 §3.1.2.5–3.1.2.7,
 * §3.1.3.2 Will Properties incl. Will Delay Interval). Each test watches the
 * Will Topic with its own subscriber and ends the Will client's connection
 * in the way under test.
 */
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  ack, connectOutcome, connectPacket, disconnectAndWait, dropAndWait, endSessions, failOnBadBytes, hex, persistent,
  publish, requireGrantedExpiry, since, will,
} from './support/session-helpers.js';

/** Clears a retained message (best effort: a server without retain may refuse). */
async function clearRetained(t: ConformanceContext, topic: string): Promise<void> {
  try {
    const { client } = await t.connect('clear');
    await publish(t, client, topic, Buffer.alloc(0), { qos: 1, retain: true });
  } catch {
    // best effort
  }
}

/** Subscriber on a fresh Will Topic; returns both and the QoS the server granted. */
async function watch(t: ConformanceContext, name = 'will', qos: 0 | 1 | 2 = 1) {
  const topic = t.topic(name);
  const { client: sub } = await t.connect(`w-${name}`.slice(0, 8));
  sub.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: topic, qos }] });
  const suback = await t.expect(sub, 'suback', 'MQTT-3.8.4-1');
  const granted = suback.reasonCodes[0] ?? 0x80;
  t.check(granted < 0x80, undefined, `SUBSCRIBE to the Will Topic refused: 0x${granted.toString(16)}`);
  return { topic, sub, granted: granted as 0 | 1 | 2 };
}

conformance('the Will is published when the connection is lost without DISCONNECT', { v4: ['MQTT-3.1.2-8'], v5: ['MQTT-3.1.2-7', 'MQTT-3.1.2-8'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client } = await t.connect('willer', { will: will(t, topic, { qos: 1, payload: 'lost' }) });
  await t.expectNothing(sub, 300, 'MQTT-3.1.2-8', (p) => p.type === 'publish', 'no Will while the connection is open');
  await dropAndWait(client);
  const p = await t.expect(sub, 'publish', t.version === 5 ? 'MQTT-3.1.2-7' : 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, what: 'the Will after a network failure' });
  t.check(p.payload.toString() === 'lost', 'MQTT-3.1.2-8', `Will payload '${p.payload.toString()}'`);
  await ack(t, sub, p);
});

conformance('the Will is published when the server closes the connection for a protocol error', { v4: ['MQTT-3.1.2-8', 'MQTT-3.1.0-2'], v5: ['MQTT-3.1.2-8', 'MQTT-3.1.0-2'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client } = await t.connect('willer', { will: will(t, topic, { qos: 1, payload: 'protocol error' }) });
  client.send({ type: 'connect', protocolVersion: t.version, clean: true, keepAlive: 0, clientId: t.clientId('again') });
  await t.expectClosed(client, 'MQTT-3.1.0-2');
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, what: 'the Will after the server closed the connection for a second CONNECT' });
  await ack(t, sub, p);
});

conformance('the Will is published when Keep Alive expires', { v4: ['MQTT-3.1.2-8', 'MQTT-3.1.2-24'], v5: ['MQTT-3.1.2-8', 'MQTT-3.1.2-22'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client, connack } = await t.connect('willer', { keepAlive: 1, will: will(t, topic, { qos: 1, payload: 'keep alive' }) });
  const keepAlive = connack.properties?.serverKeepAlive ?? 1;
  if (keepAlive === 0 || keepAlive > 3) t.skip(`the server imposed Server Keep Alive ${keepAlive} s`);
  const start = performance.now();
  // When the close comes is checked by keep-alive.test; here only that it comes, and brings the Will.
  await t.expectClosed(client, t.version === 5 ? 'MQTT-3.1.2-22' : 'MQTT-3.1.2-24', keepAlive * 1500 + 8000);
  t.recorder.event('-', 'note', `keep-alive close ${since(start)} ms after CONNACK`);
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, what: `the Will after the keep-alive close (Keep Alive ${keepAlive} s)` });
  await ack(t, sub, p);
});

conformance('a Will with Will Retain 0 is published as a non-retained message', { v4: ['MQTT-3.1.2-16'], v5: ['MQTT-3.1.2-14'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client } = await t.connect('willer', { will: will(t, topic, { qos: 1, retain: false, payload: 'not retained' }) });
  await dropAndWait(client);
  const statement = t.version === 5 ? 'MQTT-3.1.2-14' : 'MQTT-3.1.2-16';
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic });
  await ack(t, sub, p);
  t.check(!p.retain, statement, 'the Will reached an existing subscriber with RETAIN 1');
  const late = await t.subscriber('late', topic, { qos: 1 });
  await t.expectNothing(late, 400, statement, (m) => m.type === 'publish' && m.topic === topic, 'no retained Will for a later subscriber');
});

conformance('a Will with Will Retain 1 is published as a retained message', { v4: ['MQTT-3.1.2-17'], v5: ['MQTT-3.1.2-15'], requires: ['retain'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const statement = t.version === 5 ? 'MQTT-3.1.2-15' : 'MQTT-3.1.2-17';
  try {
    const { client, connack } = await t.connect('willer', { will: will(t, topic, { qos: 1, retain: true, payload: 'retained will' }), expectSuccess: false });
    if (connack.reasonCode !== 0) {
      // 5.0 lets a server without retain support refuse it [MQTT-3.2.2-13]; 3.1.1 has no such refusal.
      if (t.version === 5) t.skip(`the server refused a retained Will with 0x${hex(connack.reasonCode)} (see the MQTT-3.2.2-13 test)`);
      t.fail(statement, `the server refused a CONNECT with Will Retain 1: CONNACK 0x${hex(connack.reasonCode)}`);
    }
    await dropAndWait(client);
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic });
    await ack(t, sub, p);
    const late = await t.subscriber('late', topic, { qos: 1 });
    const r = await t.expect(late, 'publish', statement, { where: (m) => m.topic === topic, what: 'the retained Will for a later subscriber' });
    t.check(r.retain && r.payload.toString() === 'retained will', statement, `later subscriber got RETAIN ${r.retain ? 1 : 0} '${r.payload.toString()}'`);
    await ack(t, late, r);
  } finally {
    await clearRetained(t, topic);
  }
});

conformance('the Will is published at its Will QoS', { v4: ['MQTT-3.1.2-8'], v5: ['MQTT-3.1.2-8'], requires: ['qos2'] }, async (t) => {
  const { topic, sub, granted } = await watch(t, 'qos', 2);
  const { client: one } = await t.connect('will1', { will: will(t, topic, { qos: 1, payload: 'q1' }) });
  const two = await t.connect('will2', { will: will(t, topic, { qos: 2, payload: 'q2' }), expectSuccess: false });
  if (two.connack.reasonCode !== 0) {
    if (t.version === 5) t.skip(`the server refused Will QoS 2 with 0x${hex(two.connack.reasonCode)} (see the MQTT-3.2.2-12 test)`);
    t.fail('MQTT-3.1.2-8', `the server refused a CONNECT with Will QoS 2: CONNACK 0x${hex(two.connack.reasonCode)}`);
  }
  await Promise.all([dropAndWait(one), dropAndWait(two.client)]);
  for (const [payload, qos] of [['q1', 1], ['q2', 2]] as const) {
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic && m.payload.toString() === payload, what: `the Will QoS ${qos}` });
    const expected = Math.min(qos, granted);
    t.check(p.qos === expected, 'MQTT-3.1.2-8', `Will with Will QoS ${qos} delivered at QoS ${p.qos} to a subscription granted QoS ${granted}`);
    await ack(t, sub, p);
  }
});

conformance('the Will of a connection taken over by the same client identifier is published', { v4: ['MQTT-3.1.2-8'], v5: ['MQTT-3.1.2-8'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const clientId = t.clientId('taken');
  const { client: old } = await t.connect('old', { clientId, will: will(t, topic, { qos: 1, payload: 'taken over' }) });
  await t.connect('new', { clientId, clean: true });
  await t.expectClosed(old, t.version === 5 ? 'MQTT-3.1.4-3' : 'MQTT-3.1.4-2');
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, what: 'the Will of the taken-over connection' });
  await ack(t, sub, p);
});

conformance('the Will is forgotten once published', { v4: ['MQTT-3.1.2-10'], v5: ['MQTT-3.1.2-10'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const clientId = t.clientId('once');
  try {
    const { client } = await t.connect('first', { clientId, ...persistent(t), will: will(t, topic, { qos: 1, payload: 'once' }) });
    await dropAndWait(client);
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic });
    await ack(t, sub, p);
    const { client: again } = await t.connect('again', { clientId, ...persistent(t) });
    await dropAndWait(again);
    await t.expectNothing(sub, 400, 'MQTT-3.1.2-10', (m) => m.type === 'publish' && m.topic === topic, 'no second Will after a reconnect without Will Flag');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a Will removed by DISCONNECT does not come back for a later connection without Will Flag', { v4: ['MQTT-3.1.2-12', 'MQTT-3.1.2-10'], v5: ['MQTT-3.1.2-10'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const clientId = t.clientId('gone');
  try {
    const { client } = await t.connect('first', { clientId, ...persistent(t), will: will(t, topic, { qos: 1, payload: 'removed' }) });
    await disconnectAndWait(t, client);
    const { client: again } = await t.connect('again', { clientId, ...persistent(t) });
    await dropAndWait(again);
    await t.expectNothing(sub, 400, t.version === 5 ? 'MQTT-3.1.2-10' : 'MQTT-3.1.2-12', (m) => m.type === 'publish' && m.topic === topic, 'no Will for a connection that set no Will Flag');
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a Will Delay Interval postpones the Will', { v5: ['MQTT-3.1.2-8'], requires: ['persistentSessions'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const clientId = t.clientId('delay');
  try {
    const { client, connack } = await t.connect('willer', { clientId, ...persistent(t, 10), will: will(t, topic, { qos: 1, payload: 'delayed', properties: { willDelayInterval: 1 } }) });
    requireGrantedExpiry(t, connack, 2);
    const start = performance.now();
    await dropAndWait(client);
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, timeoutMs: 3500, what: 'the Will 1 s (Will Delay Interval) after the close' });
    const ms = since(start);
    t.recorder.event('-', 'note', `Will arrived ${ms} ms after the close`);
    t.check(ms >= 950, 'MQTT-3.1.2-8', `Will published ${ms} ms after the close, before its Will Delay Interval of 1 s`);
    t.check(ms <= 2000, 'MQTT-3.1.2-8', `Will published ${ms} ms after the close; Will Delay Interval is 1 s (tolerance 1 s)`);
    await ack(t, sub, p);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a delayed Will is published when the session expires first', { v5: ['MQTT-3.1.2-8'], requires: ['persistentSessions'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const clientId = t.clientId('expfirst');
  try {
    const { client, connack } = await t.connect('willer', { clientId, clean: true, properties: { sessionExpiryInterval: 1 }, will: will(t, topic, { qos: 1, payload: 'session end', properties: { willDelayInterval: 30 } }) });
    const granted = connack.properties?.sessionExpiryInterval ?? 1;
    if (granted !== 1) t.skip(`the server changed Session Expiry Interval 1 to ${granted}`);
    const start = performance.now();
    await dropAndWait(client);
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, timeoutMs: 3500, what: 'the Will when the 1 s session ends (Will Delay 30 s)' });
    const ms = since(start);
    t.recorder.event('-', 'note', `Will arrived ${ms} ms after the close`);
    t.check(ms >= 950, 'MQTT-3.1.2-8', `Will published ${ms} ms after the close, before the session (expiry 1 s) ended and before its Will Delay of 30 s`);
    t.check(ms <= 2000, 'MQTT-3.1.2-8', `Will published ${ms} ms after the close; the session expired after 1 s (tolerance 1 s)`);
    await ack(t, sub, p);
  } finally {
    await endSessions(t, clientId);
  }
});

conformance('a delayed Will is published at once when the session ends with the connection', { v5: ['MQTT-3.1.2-8'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const { client } = await t.connect('willer', { clean: true, will: will(t, topic, { qos: 1, payload: 'no session', properties: { willDelayInterval: 30 } }) });
  const start = performance.now();
  await dropAndWait(client);
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic, timeoutMs: 2000, what: 'the Will as the Session Expiry 0 session ends (Will Delay 30 s)' });
  t.recorder.event('-', 'note', `Will arrived ${since(start)} ms after the close`);
  await ack(t, sub, p);
});

conformance('reconnecting within the Will Delay Interval cancels the Will', { v5: ['MQTT-3.1.3-9', 'MQTT-3.1.2-8'], requires: ['persistentSessions'] }, async (t) => {
  const control = t.topic('control');
  const cancelled = t.topic('cancelled');
  const sub = await t.subscriber('watch', [{ topicFilter: control, qos: 1 }, { topicFilter: cancelled, qos: 1 }]);
  const idA = t.clientId('ctl');
  const idB = t.clientId('cxl');
  try {
    const delayed = (topic: string) => will(t, topic, { qos: 1, payload: topic, properties: { willDelayInterval: 1 } });
    const a = await t.connect('control', { clientId: idA, ...persistent(t, 10), will: delayed(control) });
    const b = await t.connect('cancel', { clientId: idB, ...persistent(t, 10), will: delayed(cancelled) });
    requireGrantedExpiry(t, a.connack, 2);
    await Promise.all([dropAndWait(a.client), dropAndWait(b.client)]);
    const { connack } = await t.connect('back', { clientId: idB, ...persistent(t, 10) });
    t.check(connack.sessionPresent, 'MQTT-3.1.3-9', 'Session Present 0 on reconnecting within the Will Delay Interval');
    // The control client's Will (same delay, not cancelled) marks the moment the other would have been published.
    const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === control, timeoutMs: 3500, what: 'the control Will (not cancelled)' });
    await ack(t, sub, p);
    const early = sub.received.find((m) => m.type === 'publish' && m.topic === cancelled);
    t.check(!early, 'MQTT-3.1.3-9', 'the Will of the client that reconnected within its Will Delay Interval was published');
    await t.expectNothing(sub, 400, 'MQTT-3.1.3-9', (m) => m.type === 'publish' && m.topic === cancelled, 'no Will for the client that reconnected in time');
  } finally {
    await endSessions(t, idA, idB);
  }
});

conformance('Will Properties are forwarded with the Will, User Properties in order', { v5: ['MQTT-3.1.3-10', 'MQTT-3.1.2-8'] }, async (t) => {
  const { topic, sub } = await watch(t);
  const userProperties: [string, string][] = [['k', '1'], ['a', 'x'], ['k', '2'], ['k', '0']];
  const correlationData = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  const responseTopic = t.topic('reply');
  const { client } = await t.connect('willer', {
    will: will(t, topic, {
      qos: 1, payload: 'héllo',
      properties: { payloadFormatIndicator: 1, messageExpiryInterval: 60, contentType: 'text/plain; charset=utf-8', responseTopic, correlationData, userProperties },
    }),
  });
  await dropAndWait(client);
  const p = await t.expect(sub, 'publish', 'MQTT-3.1.2-8', { where: (m) => m.topic === topic });
  await ack(t, sub, p);
  const pr = p.properties ?? {};
  const got = JSON.stringify(pr.userProperties ?? []);
  t.check(got === JSON.stringify(userProperties), 'MQTT-3.1.3-10', `Will User Properties arrived as ${got}, sent as ${JSON.stringify(userProperties)}`);
  t.check(pr.payloadFormatIndicator === 1, undefined, `Payload Format Indicator ${pr.payloadFormatIndicator} (sent 1) [5.0 §3.1.3.2.3]`);
  t.check(pr.contentType === 'text/plain; charset=utf-8', undefined, `Content Type '${pr.contentType}' [5.0 §3.1.3.2.5]`);
  t.check(pr.responseTopic === responseTopic, undefined, `Response Topic '${pr.responseTopic}' [5.0 §3.1.3.2.6]`);
  t.check(pr.correlationData !== undefined && pr.correlationData.equals(correlationData), undefined, `Correlation Data ${pr.correlationData?.toString('hex')} (sent ${correlationData.toString('hex')}) [5.0 §3.1.3.2.7]`);
  const mei = pr.messageExpiryInterval;
  t.check(mei !== undefined && mei > 0 && mei <= 60, undefined, `Message Expiry Interval ${mei} (sent 60) [5.0 §3.1.3.2.4]`);
  t.check(p.payload.toString() === 'héllo', 'MQTT-3.1.2-8', `payload '${p.payload.toString()}'`);
});

conformance('a Will QoS above the server Maximum QoS is refused', { v5: ['MQTT-3.2.2-12'] }, async (t) => {
  const client = await t.open('c');
  client.send(connectPacket(t, { clientId: t.clientId('wq'), will: will(t, t.topic('wq'), { qos: 2 }) }));
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, 'MQTT-3.2.2-12');
  if (out.connack?.reasonCode === 0) {
    const max = out.connack.properties?.maximumQoS;
    t.check(max === undefined || max >= 2, 'MQTT-3.2.2-12', `accepted a Will QoS 2 while announcing Maximum QoS ${max}`);
    t.skip('the server supports QoS 2 (no Maximum QoS in CONNACK): nothing to refuse');
  }
  t.check(out.closed !== undefined, 'MQTT-3.2.2-12', 'connection still open after refusing the Will QoS');
  if (out.connack && out.connack.reasonCode !== 0x9b) t.finding(`Will QoS 2 refused with 0x${hex(out.connack.reasonCode)} (0x9B QoS not supported advised)`);
});

conformance('a retained Will is refused when the server has no retain support', { v5: ['MQTT-3.2.2-13'] }, async (t) => {
  const topic = t.topic('wr');
  const client = await t.open('c');
  client.send(connectPacket(t, { clientId: t.clientId('wr'), will: will(t, topic, { qos: 0, retain: true }) }));
  const out = await connectOutcome(client, t.timeoutMs);
  failOnBadBytes(t, client, 'MQTT-3.2.2-13');
  if (out.connack?.reasonCode === 0) {
    const available = out.connack.properties?.retainAvailable;
    t.check(available !== 0, 'MQTT-3.2.2-13', 'accepted a Will with Will Retain 1 while announcing Retain Available 0');
    client.disconnect(); // normal DISCONNECT: the Will (retained) is discarded
    t.skip('the server supports retained messages: nothing to refuse');
  }
  t.check(out.closed !== undefined, 'MQTT-3.2.2-13', 'connection still open after refusing the retained Will');
  if (out.connack && out.connack.reasonCode !== 0x9a) t.finding(`retained Will refused with 0x${hex(out.connack.reasonCode)} (0x9A Retain not supported advised)`);
});

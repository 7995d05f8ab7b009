/**
 * Keep Alive and PING (3.1.1 §3.1.2.10, §3.12–3.13; 5.0 §3.1.2.10, §3.2.2.3.14, §3.12–3.13).
 * Timings are measured from the moment CONNECT (or the client's last packet)
 * was sent to the moment the connection closed.
 */
import type { ConnackPacket } from '../codec/index.js';
import type { RawClient } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { checkServerDisconnect, connectPacket, expectConnack, hex, since } from './support/session-helpers.js';

/** How late a keep-alive close may come after 1.5 × Keep Alive before it counts as a failure, ms. */
const LATE_MS = 500;
/** Longest keep alive (s) the suite is willing to wait out. */
const MAX_MEASURABLE = 3;

async function connectTimed(t: ConformanceContext, label: string, keepAlive: number): Promise<{ client: RawClient; connack: ConnackPacket; sentAt: number; ackedAt: number }> {
  const client = await t.open(label);
  const sentAt = performance.now();
  client.send(connectPacket(t, { clientId: t.clientId(label), keepAlive }));
  const connack = await expectConnack(t, client, t.version === 5 ? 'MQTT-3.1.4-5' : 'MQTT-3.2.0-1');
  const ackedAt = performance.now();
  t.check(connack.reasonCode === 0, undefined, `CONNACK 0x${hex(connack.reasonCode)}`);
  return { client, connack, sentAt, ackedAt };
}

/**
 * Waits for the keep-alive close of an idle client and checks when it came:
 * not before Keep Alive has passed since CONNECT was sent, and by 1.5 × Keep
 * Alive (+ LATE_MS) after CONNACK arrived (the later reference, so a slow
 * authentication does not count against the server).
 */
async function expectKeepAliveClose(t: ConformanceContext, client: RawClient, sentAt: number, ackedAt: number, keepAlive: number, statement: string): Promise<void> {
  const limit = keepAlive * 1500;
  // Wait well past the limit, so a late close is reported with its real time.
  await t.expectClosed(client, statement, limit + 8000);
  const fromConnect = since(sentAt);
  const fromConnack = since(ackedAt);
  const when = `${fromConnect} ms after CONNECT was sent (${fromConnack} ms after CONNACK)`;
  t.recorder.event(client.label, 'note', `closed ${when}; Keep Alive ${keepAlive} s`);
  t.check(fromConnect >= keepAlive * 1000 - 20, statement, `closed ${when}, before the Keep Alive of ${keepAlive} s had passed`);
  t.check(fromConnack <= limit + LATE_MS, statement, `closed ${when}; 1.5 × Keep Alive is ${limit} ms (tolerance ${LATE_MS} ms)`);
  if (fromConnect < limit - 50) t.finding(`keep-alive close ${when}, before 1.5 × Keep Alive (${limit} ms)`);
  if (t.version === 5) {
    const d = checkServerDisconnect(t, client, undefined, 'MQTT-3.14.2-1');
    if (d && d.reasonCode !== 0x8d) t.finding(`keep-alive DISCONNECT reason 0x${hex(d.reasonCode ?? 0)} instead of 0x8D Keep Alive timeout`);
  }
}

conformance('a silent client is disconnected after 1.5 × Keep Alive, not before Keep Alive', { v4: ['MQTT-3.1.2-24'], v5: ['MQTT-3.1.2-22', 'MQTT-3.2.2-22'] }, async (t) => {
  const { client, connack, sentAt, ackedAt } = await connectTimed(t, 'idle', 1);
  const ska = connack.properties?.serverKeepAlive;
  const keepAlive = ska ?? 1;
  if (ska !== undefined) t.recorder.event('-', 'note', `the server imposed Server Keep Alive ${ska} s instead of 1 s`);
  if (keepAlive === 0) t.skip('the server answered Keep Alive 1 with Server Keep Alive 0 (no keep alive)');
  if (keepAlive > MAX_MEASURABLE) t.skip(`Server Keep Alive ${keepAlive} s is too long to wait out here`);
  await expectKeepAliveClose(t, client, sentAt, ackedAt, keepAlive, t.version === 5 ? (ska === undefined ? 'MQTT-3.2.2-22' : 'MQTT-3.1.2-22') : 'MQTT-3.1.2-24');
});

conformance('a Server Keep Alive imposed in CONNACK is the one the server enforces', { v5: ['MQTT-3.1.2-22'] }, async (t) => {
  const { client, connack, sentAt, ackedAt } = await connectTimed(t, 'long', 0xffff);
  const ska = connack.properties?.serverKeepAlive;
  if (ska === undefined) return t.skip('the server accepted Keep Alive 65535 without a Server Keep Alive');
  if (ska === 0) return t.skip('Server Keep Alive 0: no keep alive to measure');
  if (ska > MAX_MEASURABLE) return t.skip(`Server Keep Alive ${ska} s is too long to wait out here`);
  await expectKeepAliveClose(t, client, sentAt, ackedAt, ska, 'MQTT-3.1.2-22');
});

conformance('PINGREQ is answered with PINGRESP', { v4: ['MQTT-3.12.4-1'], v5: ['MQTT-3.12.4-1'] }, async (t) => {
  const { client } = await t.connect('c', { keepAlive: 30 });
  for (let i = 0; i < 3; i++) {
    client.send({ type: 'pingreq' });
    await t.expect(client, 'pingresp', 'MQTT-3.12.4-1', { what: `PINGRESP ${i + 1} of 3` });
  }
});

conformance('a client that sends within its Keep Alive stays connected', { v4: ['MQTT-3.1.2-24'], v5: ['MQTT-3.1.2-22'] }, async (t) => {
  const topic = t.topic('ka-active');
  const { client, connack } = await t.connect('active', { keepAlive: 1 });
  const keepAlive = connack.properties?.serverKeepAlive ?? 1;
  if (keepAlive !== 1) t.skip(`the server imposed Server Keep Alive ${keepAlive} s`);
  const statement = t.version === 5 ? 'MQTT-3.1.2-22' : 'MQTT-3.1.2-24';
  const start = performance.now();
  // ~3 s (twice 1.5 × Keep Alive), a packet every ~600 ms: PINGREQ and QoS 0 PUBLISH both count as activity.
  for (let i = 0; since(start) < 3000; i++) {
    await t.expectNothing(client, 600, statement, (p) => p.type !== 'pingresp', 'silence between our packets');
    t.check(!client.closed, statement, `connection closed ${since(start)} ms in, although the client sent a packet every ~600 ms with Keep Alive 1 s`);
    if (i % 2 === 0) {
      client.send({ type: 'pingreq' });
      await t.expect(client, 'pingresp', 'MQTT-3.12.4-1');
    } else {
      client.send({ type: 'publish', topic, payload: Buffer.from(`tick ${i}`), qos: 0, retain: false, dup: false });
    }
  }
  t.check(!client.closed, statement, 'connection closed although the client kept within its Keep Alive');
});

conformance('Keep Alive 0 without a Server Keep Alive means no keep-alive timeout', { v5: ['MQTT-3.2.2-22'] }, async (t) => {
  const { client, connack } = await t.connect('zero', { keepAlive: 0 });
  const ska = connack.properties?.serverKeepAlive;
  if (ska !== undefined) t.skip(`the server imposed Server Keep Alive ${ska} s on Keep Alive 0`);
  const start = performance.now();
  for (let i = 0; i < 4; i++) await t.expectNothing(client, 500, 'MQTT-3.2.2-22', undefined, 'silence on an idle Keep Alive 0 connection');
  t.check(!client.closed, 'MQTT-3.2.2-22', `an idle Keep Alive 0 connection was closed after ${since(start)} ms although the server sent no Server Keep Alive`);
});

/**
 * Resource limits a broker declares (profile `limits`), probed from outside:
 * a connection that sends no CONNECT, or trickles one (slowloris), is closed
 * within the declared connect timeout; connections beyond the declared
 * connection limit are refused with a reason (5.0 CONNACK 0x97 Quota exceeded,
 * 3.1.1 CONNACK 0x03 Server unavailable) while the broker keeps serving the
 * ones it has; a 3.1.1 packet above the declared maximum packet size closes
 * the connection (5.0's is in v5-packet-size.test.ts).
 *
 * 3.1.1 §3.1 and 5.0 §3.1: a Server that receives no CONNECT "within a
 * reasonable amount of time" SHOULD close the connection — no numbered
 * statement, so these checks declare none. Refusal reason codes: 3.1.1
 * §3.2.2.3 Table 3.1, 5.0 §3.2.2.2 (MQTT-3.2.2-7 / -6: close after a refusal).
 * Without a declared limit a check measures and reports what it finds.
 *
 * The connection-limit and packet-size checks are serial: the first fills the broker. The
 * connect-timeout checks run side by side (each waits up to 10 s on a broker without a timeout).
 */
import { encode, type ConnackPacket } from '../codec/index.js';
import { RawClient, WaitError } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { credentialsOf } from './support/security-helpers.js';

/** Without a declared connect timeout, wait this long before reporting a finding. */
const UNDECLARED_WAIT_MS = 10_000;
/** Slack for timers and a loaded machine on top of a declared timeout. */
const SLACK_MS = 2_000;
/** The connection-limit check opens at most this many connections. */
const MAX_LIMIT_CHECKED = 2_000;

function connectTimeout(t: ConformanceContext): { waitMs: number; declared: boolean } {
  const d = t.profile.limits?.connectTimeoutMs;
  return d !== undefined ? { waitMs: d + SLACK_MS, declared: true } : { waitMs: UNDECLARED_WAIT_MS, declared: false };
}

/** Waits for `client` to be closed; returns the ms it took, or undefined when it stayed open for `waitMs`. */
async function closedWithin(client: RawClient, waitMs: number): Promise<number | undefined> {
  const start = performance.now();
  try {
    await client.expectClose(waitMs);
    return Math.round(performance.now() - start);
  } catch (e) {
    if (e instanceof WaitError) return undefined;
    throw e;
  }
}

function reportSlow(t: ConformanceContext, what: string, declared: boolean, waitMs: number): void {
  const msg = `${what} was still open after ${waitMs} ms`;
  if (declared) t.fail(undefined, `${msg}, though the profile declares limits.connectTimeoutMs ${t.profile.limits?.connectTimeoutMs}`);
  t.finding(`${msg} (no limits.connectTimeoutMs declared): a client can hold connections without ever connecting (slowloris)`);
}

conformance('limits (§3.1): a connection that sends nothing is closed within the connect timeout', { v4: [], v5: [], timeoutMs: UNDECLARED_WAIT_MS + 10_000 }, async (t) => {
  const { waitMs, declared } = connectTimeout(t);
  const client = await t.open('silent');
  const ms = await closedWithin(client, waitMs);
  if (ms === undefined) return reportSlow(t, 'a connection that sent nothing', declared, waitMs);
  t.recorder.event('-', 'closed', `after ${ms} ms without CONNECT`);
  t.check(client.received.length === 0, undefined, `the broker sent ${client.received.length} packet(s) to a connection that never sent CONNECT`);
});

conformance('limits (§3.1): a CONNECT trickled a byte at a time, never completed, is closed within the connect timeout (slowloris)', { v4: [], v5: [], timeoutMs: UNDECLARED_WAIT_MS + 10_000 }, async (t) => {
  const { waitMs, declared } = connectTimeout(t);
  const client = await t.open('trickle');
  const bytes = encode({ type: 'connect', protocolVersion: t.version, clean: true, keepAlive: 0, clientId: t.clientId('trickle') }, t.version);
  // One byte every 250 ms, keeping the last one back: activity that never completes a CONNECT.
  let sent = 0;
  const trickle = setInterval(() => {
    if (sent < bytes.length - 1 && !client.closed) client.sendBytes(bytes.subarray(sent, ++sent), 'one byte of a CONNECT');
  }, 250);
  try {
    const ms = await closedWithin(client, waitMs);
    if (ms === undefined) return reportSlow(t, `a connection trickling a CONNECT (${sent} of ${bytes.length} bytes sent)`, declared, waitMs);
    t.recorder.event('-', 'closed', `after ${ms} ms, ${sent} of ${bytes.length} CONNECT bytes sent`);
  } finally {
    clearInterval(trickle);
  }
});

/** Refusal reasons a server may give for a connection limit. */
const LIMIT_REASONS_V5 = new Set([0x97 /* Quota exceeded */, 0x89 /* Server busy */, 0x88 /* Server unavailable */, 0x9f /* Connection rate exceeded */]);

conformance('limits: connections beyond the declared connection limit are refused with a reason, and the broker keeps serving', { v4: ['MQTT-3.2.2-5'], v5: ['MQTT-3.2.2-7'], serial: true, timeoutMs: 60_000 }, async (t) => {
  const limit = t.profile.limits?.connectionLimit;
  if (limit === undefined) return t.skip(`profile '${t.profile.name}' declares no limits.connectionLimit`);
  if (limit > MAX_LIMIT_CHECKED) t.skip(`limits.connectionLimit ${limit} is above the ${MAX_LIMIT_CHECKED} connections this check opens`);
  if (!t.target.profileSource.startsWith('launched:') && process.env['SUITE_EXCLUSIVE'] !== '1') {
    t.skip('filling a shared broker to its connection limit would disturb the tests running next to it: run alone with SUITE_EXCLUSIVE=1 npx vitest run suites/limits.test.ts');
  }
  const clients: RawClient[] = [];
  let refused: { index: number; connack?: ConnackPacket; closedOnly: boolean } | undefined;
  try {
    // Open in batches until the broker refuses one (others may be connected: it may come early).
    for (let i = 0; i <= limit && !refused; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, limit + 1 - i) }, async (_, k) => {
        const index = i + k;
        const client = await RawClient.open(t.target.url, { version: t.version, label: `conn-${index}`, timeoutMs: t.timeoutMs });
        const connack = await client.connect({ clean: true, keepAlive: 0, clientId: t.clientId(`n${index}`), ...credentialsOf(t, 'default') }, t.timeoutMs).catch(() => undefined);
        return { index, client, connack };
      }));
      for (const b of batch) {
        clients.push(b.client);
        const accepted = b.connack !== undefined && b.connack.reasonCode === 0;
        if (!accepted && (!refused || b.index < refused.index)) refused = { index: b.index, closedOnly: b.connack === undefined, ...(b.connack ? { connack: b.connack } : {}) };
      }
    }
    t.recorder.event('-', 'limit', refused ? `first refusal at our connection #${refused.index + 1} (declared limit ${limit})` : `all ${limit + 1} connections accepted`);
    if (!refused) return t.fail(undefined, `${limit + 1} connections were all accepted, though the profile declares limits.connectionLimit ${limit}`);
    if (refused.connack) {
      const code = refused.connack.reasonCode;
      if (t.version === 5) t.check(LIMIT_REASONS_V5.has(code), undefined, `the refusal's reason code is 0x${code.toString(16)}; a connection limit is 0x97 Quota exceeded (or 0x89 Server busy)`);
      else t.check(code === 0x03, undefined, `the refusal's return code is 0x${code.toString(16)}; 3.1.1 has 0x03 Server unavailable for this`);
      const refusedClient = clients[refused.index]!;
      await t.expectClosed(refusedClient, t.version === 5 ? 'MQTT-3.2.2-7' : 'MQTT-3.2.2-5');
    } else {
      t.finding(`over the limit the broker closed the connection without a CONNACK${t.version === 5 ? ' (0x97 Quota exceeded would tell the client why)' : ''}`);
    }
    // The broker still serves the connections it accepted, and frees a slot when one leaves.
    const first = clients[0]!;
    first.send({ type: 'pingreq' });
    await t.expect(first, 'pingresp', undefined, { what: 'PINGRESP on a connection accepted before the limit was reached' });
    const leaving = clients.find((c, i) => i !== 0 && i !== refused!.index && !c.closed);
    if (leaving) {
      leaving.disconnect();
      await leaving.expectClose(t.timeoutMs).catch(() => undefined);
      // The broker may notice the freed slot a moment later: a few attempts.
      let again: ConnackPacket | undefined;
      for (let attempt = 0; attempt < 5 && again?.reasonCode !== 0; attempt++) {
        const c = await RawClient.open(t.target.url, { version: t.version, label: `again-${attempt}`, timeoutMs: t.timeoutMs });
        clients.push(c);
        again = await c.connect({ clean: true, keepAlive: 0, clientId: t.clientId(`again${attempt}`), ...credentialsOf(t, 'default') }, t.timeoutMs).catch(() => undefined);
        if (again?.reasonCode !== 0) await new Promise((r) => setTimeout(r, 200));
      }
      t.check(again?.reasonCode === 0, undefined, 'after a connection left, a new one was still refused: the limit does not free slots');
    }
  } finally {
    for (const c of clients) c.destroy();
  }
});

conformance('limits: a packet above the declared maximum packet size closes the connection and is not delivered', { v4: [], serial: true, timeoutMs: 30_000 }, async (t) => {
  const max = t.profile.limits?.maxPacketSize;
  if (max === undefined) return t.skip(`profile '${t.profile.name}' declares no limits.maxPacketSize`);
  if (max > 64 * 1024 * 1024) t.skip(`limits.maxPacketSize ${max} is above the 64 MiB this check sends`);
  const topic = t.topic('big');
  const sub = await t.subscriber('sub', topic, { qos: 0 });
  const { client: pub } = await t.connect('pub');
  // Remaining Length = 2 + topic + payload; the whole packet is one byte over the limit.
  const topicLen = Buffer.byteLength(topic);
  let payload = max - (2 + topicLen);
  let bytes = encode({ type: 'publish', topic, payload: Buffer.alloc(Math.max(0, payload)), qos: 0, retain: false, dup: false }, 4);
  payload += max + 1 - bytes.length;
  bytes = encode({ type: 'publish', topic, payload: Buffer.alloc(payload), qos: 0, retain: false, dup: false }, 4);
  t.recorder.event('-', 'oversize', `PUBLISH of ${bytes.length} bytes; limit ${max}`);
  pub.sendBytes(bytes, `PUBLISH of ${bytes.length} bytes (limit ${max})`);
  await t.expectClosed(pub, undefined, 15_000);
  await t.expectNothing(sub, 300, undefined, (p) => p.type === 'publish', 'the oversized PUBLISH');
});

/**
 * Helpers for the PUBLISH / QoS / SUBSCRIBE / topic / retained / ordering
 * suites: complete QoS flows as a client, acknowledge what the broker sends,
 * subscribe and unsubscribe with checked acknowledgements, persistent
 * sessions (3.1.1 Clean Session 0, 5.0 Clean Start 0 + Session Expiry), and
 * a probe for a `$` topic root the broker lets clients use.
 *
 * Every wait is event-driven; a failed wait fails the statement it is given.
 */
import {
  isReasonCodeAllowed, SUBACK_RETURN_CODES_V4, type ConnackPacket,
  type PublishPacket, type PublishProperties, type QoS, type ReasonPacket, type SubackPacket, type Subscription, type UnsubackPacket,
} from '../../codec/index.js';
import { describe, type RawClient } from '../../harness/raw-client.js';
import type { ConformanceContext, ConnectOptions } from './context.js';

/** A bounded silence: how long "nothing more arrives" is watched for (ms). */
export const SILENCE_MS = Number(process.env['SUITE_SILENCE_MS'] ?? 400);

/** Session Expiry Interval (s) used for 5.0 persistent sessions: long enough for a test, short enough to clean up after itself. */
export const SESSION_EXPIRY_S = 60;

/** The 3.1.1 id or the 5.0 id, per the version the test runs as. */
export function sv(t: ConformanceContext, v4: string, v5: string): string {
  return t.version === 5 ? v5 : v4;
}

const nextIds = new WeakMap<RawClient, number>();

/** A fresh Packet Identifier for `client` (1, 2, 3, … wrapping before 65535). */
export function nextId(client: RawClient): number {
  const id = nextIds.get(client) ?? 1;
  nextIds.set(client, id >= 0xfffe ? 1 : id + 1);
  return id;
}

/** Payload as text. */
export function text(p: PublishPacket): string {
  return Buffer.from(p.payload).toString('utf8');
}

export interface PublishOptions {
  retain?: boolean;
  dup?: boolean;
  packetId?: number;
  properties?: PublishProperties;
}

/** Sends a PUBLISH without waiting for anything; returns its Packet Identifier (0 for QoS 0). */
export function sendPublish(client: RawClient, topic: string, payload: string | Buffer, qos: QoS, o: PublishOptions = {}): number {
  const packetId = qos > 0 ? (o.packetId ?? nextId(client)) : 0;
  const p: PublishPacket = { type: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos, retain: o.retain ?? false, dup: o.dup ?? false };
  if (qos > 0) p.packetId = packetId;
  if (o.properties) p.properties = o.properties;
  client.send(p);
  return packetId;
}

/**
 * Publishes as a client and completes the flow: waits for PUBACK (QoS 1) or
 * PUBREC, sends PUBREL and waits for PUBCOMP (QoS 2). A missing
 * acknowledgement fails MQTT-3.3.4-1 (PUBACK / PUBREC) or the version's
 * PUBCOMP statement.
 */
export async function publish(t: ConformanceContext, client: RawClient, topic: string, payload: string | Buffer, qos: QoS, o: PublishOptions = {}): Promise<void> {
  const id = sendPublish(client, topic, payload, qos, o);
  if (qos === 1) {
    await t.expect(client, 'puback', 'MQTT-3.3.4-1', { where: (a) => a.packetId === id, what: `PUBACK(id ${id})` });
  } else if (qos === 2) {
    const rec = await t.expect(client, 'pubrec', 'MQTT-3.3.4-1', { where: (a) => a.packetId === id, what: `PUBREC(id ${id})` });
    if (t.version === 5 && (rec.reasonCode ?? 0) >= 0x80) return; // a failed PUBREC ends the exchange
    client.send({ type: 'pubrel', packetId: id, ...(t.version === 5 ? { reasonCode: 0 } : {}) });
    await t.expect(client, 'pubcomp', sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11'), { where: (a) => a.packetId === id, what: `PUBCOMP(id ${id})` });
  }
}

/**
 * Acknowledges a PUBLISH the broker sent, as a well-behaved receiver:
 * PUBACK (QoS 1), or PUBREC, then PUBCOMP once PUBREL arrives (QoS 2). A
 * missing PUBREL fails 3.1.1 MQTT-4.3.3-1 / 5.0 MQTT-4.3.3-4.
 */
export async function ack(t: ConformanceContext, client: RawClient, p: PublishPacket): Promise<void> {
  if (p.qos === 0) return;
  const id = p.packetId!;
  const rc = t.version === 5 ? { reasonCode: 0 } : {};
  if (p.qos === 1) {
    client.send({ type: 'puback', packetId: id, ...rc });
    return;
  }
  client.send({ type: 'pubrec', packetId: id, ...rc });
  await t.expect(client, 'pubrel', sv(t, 'MQTT-4.3.3-1', 'MQTT-4.3.3-4'), { where: (r) => r.packetId === id, what: `PUBREL(id ${id})` });
  client.send({ type: 'pubcomp', packetId: id, ...rc });
}

/**
 * Takes `n` PUBLISHes (matching `where`) from `client`, in arrival order,
 * acknowledging each unless `ack: false`. A missing one fails `statement`.
 */
export async function receive(
  t: ConformanceContext, client: RawClient, n: number, statement: string | undefined,
  o: { where?: (p: PublishPacket) => boolean; ack?: boolean; what?: string; timeoutMs?: number } = {},
): Promise<PublishPacket[]> {
  const got: PublishPacket[] = [];
  for (let i = 0; i < n; i++) {
    const what = `${o.what ?? 'PUBLISH'} (${i + 1} of ${n})`;
    const p = await t.expect(client, 'publish', statement, { where: o.where, what, timeoutMs: o.timeoutMs });
    got.push(p);
    if (o.ack ?? true) await ack(t, client, p);
  }
  return got;
}

/** Fails `statement` if a PUBLISH (matching `where`) reaches `client` within `ms`. */
export async function expectNoPublish(t: ConformanceContext, client: RawClient, statement: string | undefined, where: (p: PublishPacket) => boolean = () => true, what = 'no PUBLISH', ms = SILENCE_MS): Promise<void> {
  await t.expectNothing(client, ms, statement, (p) => p.type === 'publish' && where(p), what);
}

/** Checks a 5.0 reason code comes from `packet`'s table (3.1.1 SUBACK: 0x00, 0x01, 0x02, 0x80). */
export function checkReasonCode(t: ConformanceContext, packet: ReasonPacket, code: number | undefined, statement: string): void {
  if (t.version === 4) {
    if (packet === 'suback') t.check(code !== undefined && SUBACK_RETURN_CODES_V4.has(code), statement, `SUBACK return code ${String(code)} is not 0x00, 0x01, 0x02 or 0x80`);
    return;
  }
  const c = code ?? 0;
  t.check(isReasonCodeAllowed(packet, c), statement, `reason code 0x${c.toString(16).padStart(2, '0')} is not in the ${packet.toUpperCase()} reason code table`);
}

/** SUBSCRIBE and wait for its SUBACK (by Packet Identifier); a missing SUBACK fails MQTT-3.8.4-1. */
export async function subscribe(t: ConformanceContext, client: RawClient, subs: Subscription[] | string, o: { qos?: QoS; packetId?: number } = {}): Promise<SubackPacket> {
  const subscriptions = typeof subs === 'string' ? [{ topicFilter: subs, qos: o.qos ?? 0 }] : subs;
  const packetId = o.packetId ?? nextId(client);
  client.send({ type: 'subscribe', packetId, subscriptions });
  return t.expect(client, 'suback', 'MQTT-3.8.4-1', { where: (a) => a.packetId === packetId, what: `SUBACK(id ${packetId})` });
}

/** subscribe(), failing the test (no statement: a precondition) unless every filter is granted. */
export async function subscribeOk(t: ConformanceContext, client: RawClient, subs: Subscription[] | string, o: { qos?: QoS } = {}): Promise<SubackPacket> {
  const suback = await subscribe(t, client, subs, o);
  t.check(suback.reasonCodes.every((c) => c < 0x80), undefined, `precondition: SUBSCRIBE refused: ${describe(suback)}`);
  return suback;
}

/** UNSUBSCRIBE and wait for its UNSUBACK; a missing UNSUBACK fails MQTT-3.10.4-4. */
export async function unsubscribe(t: ConformanceContext, client: RawClient, filters: string[], o: { packetId?: number } = {}): Promise<UnsubackPacket> {
  const packetId = o.packetId ?? nextId(client);
  client.send({ type: 'unsubscribe', packetId, topicFilters: filters });
  return t.expect(client, 'unsuback', 'MQTT-3.10.4-4', { where: (a) => a.packetId === packetId, what: `UNSUBACK(id ${packetId})` });
}

/** Connect options for a session that outlives the connection (3.1.1 Clean Session 0; 5.0 Clean Start 0 + Session Expiry). */
export function persistent(t: ConformanceContext, o: ConnectOptions = {}): ConnectOptions {
  return {
    ...o,
    clean: false,
    ...(t.version === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S, ...o.properties } } : {}),
  };
}

/**
 * Connects `label` with a fresh persistent session: first a clean connection
 * that discards whatever an earlier run left under this client id, then the
 * persistent one.
 */
export async function connectFreshPersistent(t: ConformanceContext, label: string, o: ConnectOptions = {}) {
  const { client } = await t.connect(label, { ...o, clean: true });
  client.disconnect();
  await client.expectClose().catch(() => undefined);
  return t.connect(label, persistent(t, o));
}

/** Reconnects `label` to its persistent session (fails the precondition unless Session Present is 1). */
export async function resume(t: ConformanceContext, label: string, o: ConnectOptions = {}) {
  const r = await t.connect(label, persistent(t, o));
  t.check(r.connack.sessionPresent, undefined, `precondition: ${label} reconnected with Clean ${t.version === 5 ? 'Start' : 'Session'} 0 but CONNACK Session Present is 0 (no session kept)`);
  return r;
}

/** Ends `label`'s session on the broker (clean connection, then DISCONNECT). Best effort. */
export async function endSession(t: ConformanceContext, label: string): Promise<void> {
  try {
    const { client } = await t.connect(label, { clean: true });
    client.disconnect();
  } catch {
    // cleanup only
  }
}

/**
 * Drops a connection so that the broker keeps its session (no DISCONNECT in
 * 3.1.1 needed; a normal DISCONNECT in 5.0 keeps a session whose expiry is
 * non-zero). Waits until the transport is closed.
 */
export async function dropConnection(client: RawClient): Promise<void> {
  client.destroy();
  await client.expectClose(1000).catch(() => undefined);
}

/** Clears retained messages left by a test (zero-length retained PUBLISH at QoS 1). Best effort. */
export async function clearRetained(t: ConformanceContext, topics: string[]): Promise<void> {
  try {
    const { client } = await t.connect('clr');
    for (const topic of topics) await publish(t, client, topic, Buffer.alloc(0), 1, { retain: true });
    client.disconnect();
  } catch {
    // cleanup only
  }
}

/**
 * A `$`-prefixed topic the test may use: the test topic with its first level
 * replaced by a `$` root the broker lets clients publish and subscribe to.
 * The roots are tried in order (SUITE_DOLLAR_ROOTS, comma-separated, default
 * `$mqtt-testbed,$SYS`): a root counts as usable when a literal subscription
 * to it is granted and a QoS 1 PUBLISH to it reaches that subscription.
 * Returns undefined when none is usable.
 */
export async function dollarTopic(t: ConformanceContext, name: string): Promise<{ topic: string; probe: string } | undefined> {
  const roots = (process.env['SUITE_DOLLAR_ROOTS'] ?? '$mqtt-testbed,$SYS').split(',').map((s) => s.trim()).filter((s) => s.startsWith('$'));
  const rest = t.topic(name).split('/').slice(1).join('/');
  const { client } = await t.connect('dprobe');
  for (const root of roots) {
    const probe = `${root}/${rest}/probe`;
    const suback = await subscribe(t, client, probe, { qos: 1 });
    if (suback.reasonCodes.some((c) => c >= 0x80)) continue;
    await publish(t, client, probe, 'probe', 1);
    const got = await client.expect('publish', { where: (p) => p.topic === probe, timeoutMs: 1000 }).catch(() => undefined);
    if (got) {
      await ack(t, client, got);
      client.disconnect();
      return { topic: `${root}/${rest}`, probe };
    }
  }
  client.disconnect();
  return undefined;
}

/** Base levels of this test's topics: the test topic without its last level (e.g. ['mqtt-testbed', '<id>']). */
export function baseLevels(t: ConformanceContext): string[] {
  return t.topic('x').split('/').slice(0, -1);
}

/** The Receive Maximum a 5.0 CONNACK announces (65535 when absent, and for 3.1.1, which has none). */
export function serverReceiveMaximum(connack: ConnackPacket): number {
  return connack.properties?.receiveMaximum ?? 65535;
}

/**
 * Publishes `n` messages (payloads '0'…'n-1', round-robin over `topics`)
 * without waiting between them: up to `window` unacknowledged at a time,
 * completing the oldest flow before sending more. Returns the payloads the
 * broker accepted (5.0: acknowledged with a reason code below 0x80).
 */
export async function pipeline(t: ConformanceContext, pub: RawClient, topics: string[], n: number, qos: QoS, window = n): Promise<string[]> {
  const accepted: string[] = [];
  if (qos === 0) {
    for (let i = 0; i < n; i++) sendPublish(pub, topics[i % topics.length]!, `${i}`, 0);
    for (let i = 0; i < n; i++) accepted.push(`${i}`);
    return accepted;
  }
  const inflight: { id: number; payload: string }[] = [];
  let next = 0;
  const rc = t.version === 5 ? { reasonCode: 0 } : {};
  while (next < n || inflight.length > 0) {
    while (inflight.length < Math.max(1, window) && next < n) {
      inflight.push({ id: sendPublish(pub, topics[next % topics.length]!, `${next}`, qos), payload: `${next}` });
      next++;
    }
    const { id, payload } = inflight.shift()!;
    if (qos === 1) {
      const a = await t.expect(pub, 'puback', 'MQTT-3.3.4-1', { where: (x) => x.packetId === id, what: `PUBACK(id ${id})` });
      if ((a.reasonCode ?? 0) < 0x80) accepted.push(payload);
    } else {
      const r = await t.expect(pub, 'pubrec', 'MQTT-3.3.4-1', { where: (x) => x.packetId === id, what: `PUBREC(id ${id})` });
      if ((r.reasonCode ?? 0) >= 0x80) continue;
      accepted.push(payload);
      pub.send({ type: 'pubrel', packetId: id, ...rc });
      await t.expect(pub, 'pubcomp', sv(t, 'MQTT-4.3.3-2', 'MQTT-4.3.3-11'), { where: (x) => x.packetId === id, what: `PUBCOMP(id ${id})` });
    }
  }
  return accepted;
}

/**
 * Helpers for the malformed-input, data-representation and MQTT 5.0 feature
 * suites: a byte builder for packets our encoder refuses to write (reserved
 * flags, QoS 3, ill-formed UTF-8, repeated properties ...), the "was it
 * rejected?" check with the 5.0 reason-code findings, and the control-client
 * barrier that shows a rejected packet was not processed and that the broker
 * is still up.
 *
 * Everything here is spec-driven: a check fails the statement the caller
 * names; what the spec only advises (SHOULD send DISCONNECT, preferred reason
 * code) becomes a finding.
 */
import type { Packet, PacketOf, PublishPacket, SubackPacket, Subscription, SubscribeProperties, ProtocolVersion, PublishProperties } from '../../codec/index.js';
import { encode } from '../../codec/index.js';
import { describe, type CloseInfo, type RawClient } from '../../harness/raw-client.js';
import { roleCredentials } from '../../harness/target.js';
import { publish as publishFlow } from './publish-helpers.js';
import type { ConformanceContext, ConnectOptions } from './context.js';

// ---------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------

/** Variable Byte Integer, minimal form. */
export function vbi(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

export const u8 = (n: number): Buffer => Buffer.from([n & 0xff]);
export const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Length-prefixed string: a JS string is UTF-8 encoded, a Buffer is written as given (ill-formed on purpose). */
export function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return Buffer.concat([u16(b.length), b]);
}

/** Fixed header byte + minimal Remaining Length + body. */
export function frame(firstByte: number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  return Buffer.concat([u8(firstByte), vbi(b.length), b]);
}

/** A 5.0 property section: Property Length followed by the properties, exactly as given (duplicates allowed). */
export function props(...p: Buffer[]): Buffer {
  const b = Buffer.concat(p);
  return Buffer.concat([vbi(b.length), b]);
}

/** Single 5.0 properties, identifier + value, written verbatim. */
export const P = {
  payloadFormat: (v: number): Buffer => Buffer.from([0x01, v]),
  messageExpiry: (s: number): Buffer => Buffer.concat([u8(0x02), u32(s)]),
  contentType: (s: string | Buffer): Buffer => Buffer.concat([u8(0x03), str(s)]),
  responseTopic: (s: string | Buffer): Buffer => Buffer.concat([u8(0x08), str(s)]),
  correlationData: (b: Buffer): Buffer => Buffer.concat([u8(0x09), str(b)]),
  subscriptionId: (n: number): Buffer => Buffer.concat([u8(0x0b), vbi(n)]),
  sessionExpiry: (s: number): Buffer => Buffer.concat([u8(0x11), u32(s)]),
  receiveMaximum: (n: number): Buffer => Buffer.concat([u8(0x21), u16(n)]),
  maximumPacketSize: (n: number): Buffer => Buffer.concat([u8(0x27), u32(n)]),
  topicAlias: (n: number): Buffer => Buffer.concat([u8(0x23), u16(n)]),
  userProperty: (k: string | Buffer, v: string | Buffer): Buffer => Buffer.concat([u8(0x26), str(k), str(v)]),
};

export interface RawPublish {
  topic: string | Buffer;
  qos?: number;
  dup?: boolean;
  retain?: boolean;
  /** Written when the QoS bits are non-zero (default 1). */
  packetId?: number;
  /** 5.0 properties, each from `P` (the section's length is computed). Ignored for 3.1.1. */
  properties?: Buffer[];
  payload?: Buffer | string;
  /** Overrides the whole first byte (type and flags). */
  firstByte?: number;
}

/** A PUBLISH as bytes, without any validation (QoS 3, DUP on QoS 0, wildcard or ill-formed topics ...). */
export function rawPublish(version: ProtocolVersion, p: RawPublish): Buffer {
  const qos = p.qos ?? 0;
  const first = p.firstByte ?? (0x30 | (p.dup ? 8 : 0) | ((qos & 3) << 1) | (p.retain ? 1 : 0));
  const parts: Buffer[] = [str(p.topic)];
  if (qos > 0) parts.push(u16(p.packetId ?? 1));
  if (version === 5) parts.push(props(...(p.properties ?? [])));
  parts.push(typeof p.payload === 'string' ? Buffer.from(p.payload) : (p.payload ?? Buffer.alloc(0)));
  return frame(first, ...parts);
}

export interface RawFilter {
  filter: string | Buffer;
  /** Subscription options byte (3.1.1: requested QoS byte). */
  options: number;
}

export function rawSubscribe(version: ProtocolVersion, o: { packetId?: number; filters: RawFilter[]; properties?: Buffer[]; firstByte?: number }): Buffer {
  const parts: Buffer[] = [u16(o.packetId ?? 1)];
  if (version === 5) parts.push(props(...(o.properties ?? [])));
  for (const f of o.filters) parts.push(str(f.filter), u8(f.options));
  return frame(o.firstByte ?? 0x82, ...parts);
}

export function rawUnsubscribe(version: ProtocolVersion, o: { packetId?: number; filters: (string | Buffer)[]; properties?: Buffer[]; firstByte?: number }): Buffer {
  const parts: Buffer[] = [u16(o.packetId ?? 1)];
  if (version === 5) parts.push(props(...(o.properties ?? [])));
  for (const f of o.filters) parts.push(str(f));
  return frame(o.firstByte ?? 0xa2, ...parts);
}

/**
 * A CONNECT as bytes, with the default role's credentials (so that a broker
 * which fails to reject it would accept it, not refuse it for want of a
 * password). Clean Start / Clean Session 1, Keep Alive 0.
 */
export function rawConnect(t: ConformanceContext, o: { firstByte?: number; clientId?: string | Buffer; username?: string | Buffer; properties?: Buffer[] } = {}): Buffer {
  const cred = roleCredentials(t.target, 'default');
  const username = o.username ?? cred?.username;
  const password = cred?.password;
  let flags = 0x02;
  if (username !== undefined) flags |= 0x80;
  if (username !== undefined && password !== undefined) flags |= 0x40;
  const parts: Buffer[] = [str('MQTT'), u8(t.version), u8(flags), u16(0)];
  if (t.version === 5) parts.push(props(...(o.properties ?? [])));
  parts.push(str(o.clientId ?? t.clientId('raw')));
  if (username !== undefined) parts.push(str(username));
  if (username !== undefined && password !== undefined) parts.push(str(password));
  return frame(o.firstByte ?? 0x10, ...parts);
}

/** Exact size on the wire of a packet the broker sent (exact for PUBLISH: varints are checked minimal by the decoder). */
export function wireSize(p: Packet, version: ProtocolVersion): number {
  return encode(p, version, { validate: false }).length;
}

export const hex = (n: number | undefined): string => `0x${(n ?? 0).toString(16).padStart(2, '0')}`;

// ---------------------------------------------------------------------------
// Packet identifiers and small exchanges
// ---------------------------------------------------------------------------

const ids = new WeakMap<RawClient, number>();

/** Next packet identifier for `client` (1, 2, ... 65535, then wraps). */
export function nextId(client: RawClient): number {
  const n = ((ids.get(client) ?? 0) % 65535) + 1;
  ids.set(client, n);
  return n;
}

/** Sends SUBSCRIBE and waits for its SUBACK (3.8.4-1 when missing). */
export async function subscribe(
  t: ConformanceContext, client: RawClient, subs: Subscription[] | string,
  o: { qos?: 0 | 1 | 2; properties?: SubscribeProperties; requireGranted?: boolean } = {},
): Promise<SubackPacket> {
  const subscriptions = typeof subs === 'string' ? [{ topicFilter: subs, qos: o.qos ?? 0 }] : subs;
  const packetId = nextId(client);
  const p: PacketOf<'subscribe'> = { type: 'subscribe', packetId, subscriptions };
  if (o.properties) p.properties = o.properties;
  client.send(p, { validate: false });
  const ack = await t.expect(client, 'suback', 'MQTT-3.8.4-1', { where: (a) => a.packetId === packetId });
  if (o.requireGranted ?? true) {
    t.check(ack.reasonCodes.every((c) => c < 0x80), undefined,
      `SUBSCRIBE of ${subscriptions.map((s) => s.topicFilter).join(', ')} refused: ${describe(ack)} (test precondition)`);
  }
  return ack;
}

/** Publishes; for QoS 1/2 waits for PUBACK / completes the PUBREC-PUBREL-PUBCOMP exchange. */
export async function publish(
  t: ConformanceContext, client: RawClient, topic: string, payload: string | Buffer,
  o: { qos?: 0 | 1 | 2; retain?: boolean; properties?: PublishProperties } = {},
): Promise<void> {
  await publishFlow(t, client, topic, payload, o.qos ?? 0, { retain: o.retain, properties: o.properties });
}

/** Retained-message cleanup (best effort, never fails the test). */
export function clearRetained(client: RawClient, topic: string): void {
  try {
    if (!client.closed) client.send({ type: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false });
  } catch {
    /* cleanup only */
  }
}

/** Received PUBLISH packets (all so far) on `client`, optionally on one topic. */
export function publishes(client: RawClient, topic?: string): PublishPacket[] {
  return client.received.filter((p): p is PublishPacket => p.type === 'publish' && (topic === undefined || p.topic === topic));
}

/**
 * Waits until one of `clients` receives a PUBLISH matching `where`; returns
 * which one. The other clients' waits stay armed until their timeout and may
 * take a later matching packet out of that client's inbox, so checks that
 * follow read `client.received` (which keeps everything) rather than expect().
 */
export async function expectOnAny(
  t: ConformanceContext, clients: RawClient[], where: (p: PublishPacket) => boolean, statement: string | undefined, what: string,
): Promise<{ client: RawClient; packet: PublishPacket }> {
  const already = clients.map((c) => ({ c, p: publishes(c).find(where) })).find((x) => x.p);
  if (already) return { client: already.c, packet: already.p! };
  const attempts = clients.map((c) => c.expect('publish', { where, what, timeoutMs: t.timeoutMs }).then((packet) => ({ client: c, packet })));
  try {
    return await Promise.any(attempts);
  } catch (e) {
    const first = e instanceof AggregateError ? (e.errors[0] as Error | undefined) : (e as Error);
    t.fail(statement, `${what}: ${first?.message ?? 'not received'}`);
  }
}

// ---------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------

export interface Rejection {
  /** Statement that fails when the broker keeps the connection open (or processed the packet). */
  statement: string;
  /** 5.0: the reason codes that fit this error, the one the spec names first. Absent: any code >= 0x80. */
  reasons?: readonly number[];
  /** Packet types whose arrival would show the broker processed the rejected packet. */
  notAnswered?: readonly Packet['type'][];
  /** 5.0: do not report a close without DISCONNECT (e.g. the client already half-closed). */
  disconnectOptional?: boolean;
  /** What was sent, for messages. */
  what: string;
}

/** Where each client's offending bytes start in `received` (answers before that do not count). */
const sentAt = new WeakMap<RawClient, number>();

/**
 * The broker must close `client` and must not have answered the packet.
 * 5.0: a DISCONNECT is what the spec advises (§4.13.1 SHOULD); its absence or
 * an unexpected reason code is a finding, a DISCONNECT below 0x80 too.
 */
export async function expectRejected(t: ConformanceContext, client: RawClient, r: Rejection): Promise<CloseInfo> {
  let info: CloseInfo;
  try {
    info = await client.expectClose(t.timeoutMs);
  } catch (e) {
    // Announced an error (>= 0x80) yet kept the connection: 5.0 §4.13.2 [MQTT-4.13.2-1] when the test checks it.
    const announced = client.received.slice(sentAt.get(client) ?? 0).find((p) => (p.type === 'disconnect' || p.type === 'connack') && (p.reasonCode ?? 0) >= 0x80);
    const statement = announced && t.statements.includes('MQTT-4.13.2-1') ? 'MQTT-4.13.2-1' : r.statement;
    t.fail(statement, `${(e as Error).message}${announced ? ` after ${describe(announced)}` : ''} (${r.what})`);
  }
  const after = client.received.slice(sentAt.get(client) ?? 0);
  for (const type of r.notAnswered ?? []) {
    const got = after.find((p) => p.type === type && !(p.type === 'connack' && p.reasonCode >= 0x80));
    if (got) t.fail(r.statement, `the broker answered ${r.what} with ${describe(got)} before closing: it processed the packet`);
  }
  if (t.version === 5) {
    const d = info.disconnect;
    const refusal = after.find((p) => p.type === 'connack');
    if (refusal && refusal.type === 'connack') {
      if (refusal.reasonCode < 0x80) t.fail(r.statement, `the broker accepted ${r.what} (${describe(refusal)})`);
      if (r.reasons && !r.reasons.includes(refusal.reasonCode)) t.finding(`${r.what}: CONNACK ${hex(refusal.reasonCode)} where ${r.reasons.map(hex).join(' or ')} fits (§4.13)`);
    } else if (!d) {
      if (!r.disconnectOptional) t.finding(`${r.what}: connection closed without DISCONNECT${r.reasons ? ` ${hex(r.reasons[0])}` : ''} (5.0 §4.13.1: the server SHOULD send one before closing)`);
    } else if ((d.reasonCode ?? 0) < 0x80) {
      t.finding(`${r.what}: DISCONNECT ${hex(d.reasonCode)} is not an error code (>= 0x80) although the broker closed because of an error`);
    } else if (r.reasons && !r.reasons.includes(d.reasonCode ?? 0)) {
      t.finding(`${r.what}: DISCONNECT ${hex(d.reasonCode)} where ${r.reasons.map(hex).join(' or ')} fits`);
    }
  }
  return info;
}

/** Sends the offending bytes and remembers the point, for expectRejected. */
export function sendOffending(client: RawClient, bytes: Buffer, note: string): void {
  sentAt.set(client, client.received.length);
  client.sendBytes(bytes, note);
}

/** Sends an offending packet object (validation off) and remembers the point, for expectRejected. */
export function sendOffendingPacket(client: RawClient, p: Packet): void {
  sentAt.set(client, client.received.length);
  client.send(p, { validate: false });
}

/** Connects a client and sends `bytes` on it; returns the client. */
export async function sendOnConnected(t: ConformanceContext, label: string, bytes: Buffer, note: string, o: ConnectOptions = {}): Promise<RawClient> {
  const { client } = await t.connect(label, o);
  sendOffending(client, bytes, note);
  return client;
}

// ---------------------------------------------------------------------------
// Control clients: the broker still works, and did not process what it rejected
// ---------------------------------------------------------------------------

/** A subscriber (QoS 1) on a fresh topic of this test that watches for deliveries that must not happen. */
export async function watcher(t: ConformanceContext, name = 'w'): Promise<{ watch: RawClient; topic: string }> {
  const topic = t.topic(name);
  const watch = await t.subscriber(`watch-${name}`, topic, { qos: 1 });
  return { watch, topic };
}

/**
 * After a rejected PUBLISH to `topic`: a fresh control client publishes a
 * marker to `topic` (showing the broker still accepts clients and routes), the
 * watcher must receive the marker, and nothing before it (the rejected
 * PUBLISH was processed earlier than the marker if at all). `since`: index in
 * `watch.received` from which deliveries count (earlier ones were expected).
 */
export async function expectNotDelivered(t: ConformanceContext, watch: RawClient, topic: string, statement: string, what: string, o: { since?: number } = {}): Promise<void> {
  await controlPublish(t, topic);
  const marker = `control-${t.id}`;
  await t.expect(watch, 'publish', statement, { where: (p) => p.payload.toString() === marker, what: `the control message on ${topic}` });
  const others = watch.received.slice(o.since ?? 0).filter((p): p is PublishPacket => p.type === 'publish' && p.payload.toString() !== marker);
  if (others.length > 0) t.fail(statement, `the broker delivered ${what} to a subscriber: ${others.map(describe).join(', ')}`);
}

/** A fresh client publishes the control marker (QoS 1) to `topic` and gets its PUBACK. */
export async function controlPublish(t: ConformanceContext, topic: string): Promise<void> {
  let control: RawClient;
  try {
    ({ client: control } = await t.connect(`control-${Math.random().toString(36).slice(2, 6)}`));
  } catch (e) {
    t.fail(undefined, `the broker no longer accepts connections after the rejected packet: ${(e as Error).message}`);
  }
  const packetId = nextId(control);
  control.send({ type: 'publish', topic, payload: Buffer.from(`control-${t.id}`), qos: 1, retain: false, dup: false, packetId });
  await t.expect(control, 'puback', undefined, { where: (a) => a.packetId === packetId, what: 'PUBACK of the control message (broker still working)' });
  control.disconnect();
}

/** The broker still works: a fresh client connects, subscribes and gets its own QoS 1 message back. */
export async function brokerStillUp(t: ConformanceContext): Promise<void> {
  const topic = t.topic('alive');
  let client: RawClient;
  try {
    client = await t.subscriber(`alive-${Math.random().toString(36).slice(2, 6)}`, topic, { qos: 1 });
  } catch (e) {
    t.fail(undefined, `the broker no longer works after the rejected packet: ${(e as Error).message}`);
  }
  const packetId = nextId(client);
  client.send({ type: 'publish', topic, payload: Buffer.from(`alive-${t.id}`), qos: 1, retain: false, dup: false, packetId });
  await t.expect(client, 'puback', undefined, { where: (a) => a.packetId === packetId, what: 'PUBACK of the control message (broker still working)' });
  await t.expect(client, 'publish', undefined, { where: (p) => p.topic === topic, what: 'the control message (broker still routing)' });
  client.disconnect();
}

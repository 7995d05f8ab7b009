/**
 * Helpers for the CONNECT / session / keep-alive / Will / DISCONNECT / AUTH
 * suites: CONNECT packets and bytes with the profile's credentials (for raw
 * sends), persistent-session options per version, session clean-up, timing,
 * and checks of what the server sent before closing.
 *
 * Everything here goes through ConformanceContext and RawClient; nothing
 * sleeps: waits end on packets, on the close, or as bounded silences.
 */
import { encode, type ConnackPacket, type ConnectPacket, type DisconnectPacket, type Packet, type PublishPacket, type QoS } from '../../codec/index.js';
import { WaitError, type CloseInfo, type RawClient } from '../../harness/raw-client.js';
import { roleCredentials } from '../../harness/target.js';
import { publish as publishFlow } from './publish-helpers.js';
import type { ConformanceContext, ConnectOptions } from './context.js';

/** Session Expiry Interval the suites ask for when a 5.0 session has to outlive its connection, s. Short, so leaks expire. */
export const PERSIST_SECONDS = 30;

/** Options that ask for a session that outlives the connection: 3.1.1 Clean Session 0, 5.0 Clean Start 0 + Session Expiry. */
export function persistent(t: ConformanceContext, expirySeconds = PERSIST_SECONDS, clean = false): Pick<ConnectOptions, 'clean' | 'properties'> {
  return t.version === 5 ? { clean, properties: { sessionExpiryInterval: expirySeconds } } : { clean };
}

/** The CONNECT that t.connect() would send for the default role, as a packet (for raw sends and patched bytes). */
export function connectPacket(t: ConformanceContext, o: ConnectOptions = {}): ConnectPacket {
  const cred = roleCredentials(t.target, o.role ?? 'default');
  const p: ConnectPacket = {
    type: 'connect', protocolVersion: o.version ?? t.version, clean: o.clean ?? true, keepAlive: o.keepAlive ?? 0,
    clientId: o.clientId ?? t.clientId('raw'),
  };
  const username = o.username === null ? undefined : (o.username ?? cred?.username);
  const password = o.password === null ? undefined : (o.password ?? (cred?.password !== undefined ? Buffer.from(cred.password) : undefined));
  if (username !== undefined) p.username = username;
  if (password !== undefined) p.password = password;
  if (o.will) p.will = o.will;
  if (o.properties) p.properties = o.properties;
  return p;
}

/** Where the fields of an encoded CONNECT sit (after the variable-length Remaining Length). */
export interface ConnectLayout {
  /** Offset of the protocol name's 2-byte length. */
  name: number;
  /** Offset of the Protocol Level byte. */
  level: number;
  /** Offset of the Connect Flags byte. */
  flags: number;
}

/** Encodes a CONNECT (with credentials), then lets `patch` change bytes in place (same length). */
export function connectBytes(t: ConformanceContext, o: ConnectOptions, patch: (bytes: Buffer, at: ConnectLayout) => void): Buffer {
  const p = connectPacket(t, o);
  const bytes = Buffer.from(encode(p, p.protocolVersion));
  let i = 1;
  while ((bytes[i]! & 0x80) !== 0) i++;
  const name = i + 1;
  const at: ConnectLayout = { name, level: name + 6, flags: name + 7 };
  patch(bytes, at);
  return bytes;
}

/**
 * When the broker sent bytes our codec rejects, the codec error names the
 * statement they break (CONNACK flags, reason codes, Session Expiry in a
 * server DISCONNECT ...): fail with it.
 */
export function failOnBadBytes(t: ConformanceContext, client: RawClient, fallback?: string): void {
  const bad = client.badBytes;
  if (bad) t.fail(bad.statement ?? fallback, `${client.label}: the broker sent bytes that break the spec: ${bad.message}`);
}

/** Waits for a CONNACK; a codec rejection is reported under the statement it breaks, a timeout/close under `statement`. */
export async function expectConnack(t: ConformanceContext, client: RawClient, statement: string | undefined, timeoutMs = t.timeoutMs): Promise<ConnackPacket> {
  try {
    return await client.expect('connack', { timeoutMs });
  } catch (e) {
    failOnBadBytes(t, client, statement);
    if (e instanceof WaitError) t.fail(statement, e.message);
    throw e;
  }
}

/** Outcome of a CONNECT the server may answer with a CONNACK, a close, both, or neither (within the timeout). */
export interface ConnectOutcome {
  connack: ConnackPacket | undefined;
  /** Close info, or undefined when still open at the end of the wait. */
  closed: CloseInfo | undefined;
}

/**
 * Waits for the answer to a CONNECT: a successful CONNACK (then returns at
 * once, connection open), or a refusal and the close, or a close without
 * CONNACK; each wait up to `timeoutMs`. Never fails by itself: the caller
 * decides what the outcome means.
 */
export async function connectOutcome(client: RawClient, timeoutMs: number): Promise<ConnectOutcome> {
  let connack: ConnackPacket | undefined;
  try {
    connack = await client.expect('connack', { timeoutMs });
  } catch (e) {
    if (!(e instanceof WaitError)) throw e;
    if (e.failure === 'timeout') return { connack: undefined, closed: undefined };
  }
  if (connack?.reasonCode === 0) return { connack, closed: client.closed ? await client.expectClose(0) : undefined };
  let closed: CloseInfo | undefined;
  try {
    closed = await client.expectClose(timeoutMs);
  } catch (e) {
    if (!(e instanceof WaitError)) throw e;
  }
  return { connack, closed };
}

/** Milliseconds since `start` (a performance.now() value), rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}

/** Session Expiry the server will apply: the CONNACK's value when it sent one, else what was asked for. */
export function grantedExpiry(connack: ConnackPacket, requested: number): number {
  return connack.properties?.sessionExpiryInterval ?? requested;
}

/**
 * Skips the test when a 5.0 server announces (CONNACK Session Expiry
 * Interval) that it will not keep the session as long as the test needs.
 */
export function requireGrantedExpiry(t: ConformanceContext, connack: ConnackPacket, atLeast: number): void {
  if (t.version !== 5) return;
  const granted = grantedExpiry(connack, atLeast);
  if (granted < atLeast) t.skip(`the server caps Session Expiry Interval at ${granted} s (CONNACK); the test needs ${atLeast} s`);
}

/**
 * Ends the sessions of `clientIds` on the broker (Clean Start 1, Session
 * Expiry 0, then DISCONNECT), so tests do not leave sessions behind on a
 * shared broker. Best effort: failures here are not test failures.
 */
export async function endSessions(t: ConformanceContext, ...clientIds: string[]): Promise<void> {
  await Promise.all(clientIds.map(async (clientId) => {
    try {
      const { client } = await t.connect(`cleanup-${clientId.slice(-4)}`, { clientId, clean: true, expectSuccess: false });
      client.disconnect();
    } catch {
      // best effort
    }
  }));
}

/** Sends a PUBLISH and, for QoS 1/2, completes the flow; the PUBACK/PUBCOMP means the server owns the message [MQTT-4.5.0-1]. */
export async function publish(t: ConformanceContext, client: RawClient, topic: string, payload: string | Buffer, o: { qos?: QoS; retain?: boolean; packetId?: number; properties?: PublishPacket['properties'] } = {}): Promise<void> {
  await publishFlow(t, client, topic, payload, o.qos ?? 0, { retain: o.retain, packetId: o.packetId, properties: o.properties });
}

export { ack } from './publish-helpers.js';

/** Sends DISCONNECT (normal) and waits until the server has closed the connection, so later steps see the session offline. */
export async function disconnectAndWait(t: ConformanceContext, client: RawClient, reasonCode?: number): Promise<void> {
  client.disconnect(reasonCode);
  await t.expectClosed(client, undefined);
}

/** Drops the connection without DISCONNECT and waits for the local close. */
export async function dropAndWait(client: RawClient): Promise<void> {
  client.destroy();
  await client.expectClose(1000).catch(() => undefined);
}

/**
 * Checks a server-sent 5.0 DISCONNECT: nothing follows it on the connection
 * [MQTT-3.14.4-1], it carries no Session Expiry Interval [MQTT-3.14.2-2],
 * and (when `expected` is given) its reason code; a different code fails
 * `statement`. Codec rejections (a reason code not in the table, MQTT-3.14.2-1)
 * fail with the statement the codec names.
 */
export function checkServerDisconnect(t: ConformanceContext, client: RawClient, expected: number | number[] | undefined, statement: string | undefined): DisconnectPacket | undefined {
  failOnBadBytes(t, client, statement);
  const i = client.received.findIndex((p) => p.type === 'disconnect');
  if (i < 0) return undefined;
  const d = client.received[i] as DisconnectPacket;
  const after = client.received.slice(i + 1);
  t.check(after.length === 0, 'MQTT-3.14.4-1', `the server sent ${after.map((p) => p.type.toUpperCase()).join(', ')} after its DISCONNECT`);
  t.check(d.properties?.sessionExpiryInterval === undefined, 'MQTT-3.14.2-2', `server DISCONNECT carries Session Expiry Interval ${d.properties?.sessionExpiryInterval}`);
  const codes = expected === undefined ? undefined : Array.isArray(expected) ? expected : [expected];
  if (codes) {
    t.check(codes.includes(d.reasonCode ?? 0), statement, `DISCONNECT reason 0x${hex(d.reasonCode ?? 0)}, expected ${codes.map((c) => `0x${hex(c)}`).join(' or ')}`);
  }
  return d;
}

export function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Packets of `type` received so far (taken or not). */
export function receivedOf<T extends Packet['type']>(client: RawClient, type: T): Extract<Packet, { type: T }>[] {
  return client.received.filter((p): p is Extract<Packet, { type: T }> => p.type === type);
}

/** A Will for `topic` with a payload naming the test (3.1.1 ignores `properties`). */
export function will(t: ConformanceContext, topic: string, o: { qos?: QoS; retain?: boolean; payload?: string; properties?: NonNullable<ConnectPacket['will']>['properties'] } = {}): NonNullable<ConnectPacket['will']> {
  const w: NonNullable<ConnectPacket['will']> = { topic, payload: Buffer.from(o.payload ?? `will ${t.id}`), qos: o.qos ?? 0, retain: o.retain ?? false };
  if (t.version === 5 && o.properties) w.properties = o.properties;
  return w;
}

/**
 * Helpers of the security and transport suites: connecting as a profile role
 * on the listener its credentials suit, finding a role that may watch a
 * topic, and attempts that are expected to be refused.
 */
import { topicMatches, type ConnackPacket, type ConnectPacket, type Packet, type PacketOf, type QoS } from '../../codec/index.js';
import type { AclClaim } from '../../harness/profile.js';
import { RawClient, WaitError, type CloseInfo } from '../../harness/raw-client.js';
import { listenerUrl, roleCredentials } from '../../harness/target.js';
import type { TlsClientOptions } from '../../harness/transport.js';
import type { ConformanceContext, ConnectOptions, Listener } from './context.js';

/** Bounded silence used to conclude that something did not arrive, ms. */
export const SILENCE_MS = Number(process.env['SUITE_SILENCE_MS'] ?? 400);

/** The listener a role's credentials suit: TCP when it has a password (or nothing), TLS when it only has a certificate. */
export function roleListener(t: ConformanceContext, role: string): Listener {
  const c = roleCredentials(t.target, role);
  const hasTcp = listenerUrl(t.target, 'tcp') !== undefined;
  if (c?.cert && c.password === undefined && listenerUrl(t.target, 'tls')) return 'tls';
  return hasTcp ? 'tcp' : 'tls';
}

/** Connects as `role` (its listener, its client id when the profile binds one); fails the test unless CONNACK is a success. */
export function connectAs(t: ConformanceContext, label: string, role: string, o: ConnectOptions = {}): Promise<{ client: RawClient; connack: ConnackPacket }> {
  const cred = roleCredentials(t.target, role);
  if (!cred && role !== 'default') t.skip(`profile '${t.profile.name}' names no credentials for role '${role}'`);
  return t.connect(`${label}(${role})`, {
    role, listener: roleListener(t, role),
    ...(cred?.clientId !== undefined ? { clientId: cred.clientId } : {}),
    ...o,
  });
}

/** All roles of the profile, `default` first. */
export function roles(t: ConformanceContext): string[] {
  const names = Object.keys(t.profile.credentials ?? {});
  return ['default', ...names.filter((n) => n !== 'default')];
}

/** A concrete topic name matched by `filter` ('+' and '#' levels become `fill`). */
export function topicFor(filter: string, fill: string): string {
  return filter.split('/').map((l) => (l === '+' || l === '#' ? fill : l)).join('/');
}

/**
 * Connects a client that is allowed to subscribe to `topic` and subscribes it
 * (QoS 1): roles with an `allow` subscribe claim covering the topic first,
 * then every other role except those in `avoid`. Undefined when no role's
 * SUBSCRIBE is granted.
 */
export async function watcherFor(t: ConformanceContext, topic: string, avoid: string[] = []): Promise<{ client: RawClient; role: string } | undefined> {
  const claimed = (t.profile.acl ?? [])
    .filter((c) => c.action === 'subscribe' && c.expect === 'allow' && topicMatches(c.topic, topic))
    .map((c) => c.role);
  const order = [...new Set([...claimed, ...roles(t)])].filter((r) => !avoid.includes(r));
  for (const [i, role] of order.entries()) {
    const { client } = await connectAs(t, `watch${i}`, role);
    client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: topic, qos: 1 }] });
    const ack = await t.expect(client, 'suback', 'MQTT-3.8.4-1');
    if ((ack.reasonCodes[0] ?? 0x80) < 0x80) return { client, role };
    client.disconnect();
  }
  return undefined;
}

/** ACL claims of one kind. */
export function claimsOf(t: ConformanceContext, action: AclClaim['action'], expect: AclClaim['expect']): AclClaim[] {
  return (t.profile.acl ?? []).filter((c) => c.action === action && c.expect === expect);
}

/** How an attempt that should be refused ended. */
export interface Attempt {
  /**
   * 'handshake': the transport never opened; 'closed': closed without CONNACK; 'connack': a CONNACK came
   * (see `connack`); 'open': still open with no CONNACK; 'bad-bytes': the broker sent bytes our codec rejects.
   */
  outcome: 'handshake' | 'closed' | 'connack' | 'open' | 'bad-bytes';
  /** For 'bad-bytes': the statement the broker's bytes break, when numbered. */
  statement?: string | undefined;
  connack?: ConnackPacket | undefined;
  error?: string | undefined;
  close?: CloseInfo | undefined;
  client?: RawClient | undefined;
}

/**
 * Opens `url` with `tls` and sends CONNECT, then reports how far it got:
 * refused handshake, closed, CONNACK (and whether the connection then
 * closed), or nothing within the timeout.
 */
export async function attemptConnect(
  t: ConformanceContext, label: string, url: string, tls: TlsClientOptions | undefined,
  connect: Omit<ConnectPacket, 'type' | 'protocolVersion'>,
): Promise<Attempt> {
  let client: RawClient;
  try {
    client = await RawClient.open(url, { version: t.version, label, recorder: t.recorder, tls, timeoutMs: t.timeoutMs });
  } catch (e) {
    return { outcome: 'handshake', error: (e as Error).message };
  }
  t.onCleanup(() => client.destroy());
  client.send({ type: 'connect', protocolVersion: t.version, ...connect });
  try {
    const connack = await client.expect('connack');
    return { outcome: 'connack', connack, client };
  } catch (e) {
    if (!(e instanceof WaitError)) throw e;
    if (e.failure === 'bad-bytes') return { outcome: 'bad-bytes', error: e.message, statement: client.badBytes?.statement, client };
    if (e.failure === 'closed') {
      const close = await client.expectClose(t.timeoutMs).catch(() => undefined);
      return { outcome: 'closed', close, error: e.message, client };
    }
    return { outcome: 'open', error: e.message, client };
  }
}

/** CONNECT fields carrying `role`'s user name and password from the profile. */
export function credentialsOf(t: ConformanceContext, role: string): Pick<ConnectPacket, 'username' | 'password'> {
  const c = roleCredentials(t.target, role);
  const out: Pick<ConnectPacket, 'username' | 'password'> = {};
  if (c?.username !== undefined) out.username = c.username;
  if (c?.password !== undefined) out.password = Buffer.from(c.password);
  return out;
}

/** A packet id for QoS > 0, undefined at QoS 0. */
export function pid(qos: QoS, id: number): number | undefined {
  return qos === 0 ? undefined : id;
}

/**
 * Waits for a packet like t.expect(), but when the broker's bytes do not
 * decode, fails the statement the codec names (e.g. a SUBACK code outside
 * the table breaks MQTT-3.9.3-2) rather than `onTimeout`.
 */
export async function expectPacket<T extends Packet['type']>(
  t: ConformanceContext, client: RawClient, type: T, onTimeout: string | undefined,
  o: { where?: (p: PacketOf<T>) => boolean; what?: string; timeoutMs?: number } = {},
): Promise<PacketOf<T>> {
  try {
    return await client.expect(type, o);
  } catch (e) {
    if (!(e instanceof WaitError)) throw e;
    t.fail(e.failure === 'bad-bytes' ? client.badBytes?.statement : onTimeout, e.message);
  }
}

/** `0x87` */
export function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

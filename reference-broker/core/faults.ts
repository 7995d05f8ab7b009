/**
 * Deliberate spec violations for the suite self-check (`mqtt-testbed
 * selftest`): each fault is one switch at one place in the core that makes
 * the broker break the statements listed here, so that a run of the
 * conformance suites against it shows whether they notice. Never set in
 * production; with no fault given every switch is off.
 *
 * Each switch in the code is marked `// FAULT <name>:` and costs one
 * property read of a frozen record of booleans (FaultSet).
 */

export interface FaultInfo {
  /** Where in the core the switch sits. */
  readonly area: 'matching' | 'retained' | 'delivery' | 'will' | 'qos-flow' | 'session' | 'acl' | 'connection' | 'subscribe' | 'v5';
  /** What the broker does wrong, in one line. */
  readonly description: string;
  /** Normative statements the fault breaks, per spec version (absent: the fault cannot show in that version). */
  readonly statements: { readonly '3.1.1'?: readonly string[]; readonly '5.0'?: readonly string[] };
  /** Spec section, for faults that break behaviour no numbered statement covers (e.g. authorization, §5.4.2). */
  readonly section?: string;
}

/** The faults, by name. Statement ids are checked against spec/statements-*.json by faults.test.ts. */
export const FAULTS = {
  // Subscription matching (subscription-trie.ts)
  'plus-multilevel': {
    area: 'matching', description: "'+' matches one or more levels: a/+/c also matches a/x/y/c",
    statements: { '3.1.1': ['MQTT-4.7.1-3', 'MQTT-3.3.2-3'], '5.0': ['MQTT-4.7.1-2', 'MQTT-3.3.2-3'] },
  },
  'hash-no-parent': {
    area: 'matching', description: "'#' does not match the parent level: sport/# misses sport",
    statements: { '3.1.1': ['MQTT-4.7.1-2'], '5.0': ['MQTT-4.7.1-1'] },
  },
  'dollar-wildcard': {
    area: 'matching', description: "filters starting with '#' or '+' also match topics starting with '$'",
    statements: { '3.1.1': ['MQTT-4.7.2-1'], '5.0': ['MQTT-4.7.2-1'] },
  },
  // Retained messages (broker.ts publish, router.ts)
  'retain-not-stored': {
    area: 'retained', description: 'a PUBLISH with RETAIN 1 is forwarded but not stored as the retained message',
    statements: { '3.1.1': ['MQTT-3.3.1-5', 'MQTT-3.3.1-6'], '5.0': ['MQTT-3.3.1-5', 'MQTT-3.3.1-9'] },
  },
  'retain-not-cleared': {
    area: 'retained', description: 'a retained PUBLISH with an empty payload leaves the old retained message in place',
    statements: { '3.1.1': ['MQTT-3.3.1-10', 'MQTT-3.3.1-11'], '5.0': ['MQTT-3.3.1-6', 'MQTT-3.3.1-7'] },
  },
  'retain-flag-live': {
    area: 'retained', description: 'messages forwarded to existing subscriptions keep RETAIN 1 (as if Retain As Published were always 1)',
    statements: { '3.1.1': ['MQTT-3.3.1-9'], '5.0': ['MQTT-3.3.1-12'] },
  },
  // Will (connection.ts, broker.ts, connect-flow.ts)
  'will-not-sent': {
    area: 'will', description: 'the Will is dropped when the connection closes without DISCONNECT (never published)',
    statements: { '3.1.1': ['MQTT-3.1.2-8'], '5.0': ['MQTT-3.1.2-8'] },
  },
  'will-on-disconnect': {
    area: 'will', description: 'a normal DISCONNECT does not delete the Will: it is published anyway',
    statements: { '3.1.1': ['MQTT-3.1.2-10', 'MQTT-3.14.4-3'], '5.0': ['MQTT-3.1.2-10', 'MQTT-3.14.4-3'] },
  },
  'will-qos0': {
    area: 'will', description: 'the Will is published at QoS 0 whatever its Will QoS',
    statements: { '3.1.1': ['MQTT-3.1.2-8'], '5.0': ['MQTT-3.1.2-8'] },
  },
  'will-retain-ignored': {
    area: 'will', description: 'a Will with Will Retain 1 is published as a non-retained message',
    statements: { '3.1.1': ['MQTT-3.1.2-17'], '5.0': ['MQTT-3.1.2-15'] },
  },
  // QoS flows and delivery (publish-flow.ts, delivery.ts, router.ts)
  'qos2-duplicate': {
    area: 'qos-flow', description: 'a QoS 2 PUBLISH resent before PUBREL is delivered again (no exactly-once)',
    statements: { '3.1.1': ['MQTT-4.3.3-2'], '5.0': ['MQTT-4.3.3-10'] },
  },
  'redelivery-lost': {
    area: 'qos-flow', description: 'unacknowledged QoS 1/2 PUBLISHes are dropped instead of resent when the session resumes',
    statements: { '3.1.1': ['MQTT-4.4.0-1'], '5.0': ['MQTT-4.4.0-1'] },
  },
  'no-dup-on-redelivery': {
    area: 'qos-flow', description: 'PUBLISHes resent on reconnect carry DUP 0',
    statements: { '3.1.1': ['MQTT-3.3.1-1'], '5.0': ['MQTT-3.3.1-1'] },
  },
  'qos-downgrade': {
    area: 'delivery', description: 'every delivery goes out at QoS 0, whatever the published and granted QoS',
    statements: { '3.1.1': ['MQTT-3.8.4-6'], '5.0': ['MQTT-3.8.4-8'] },
  },
  'granted-qos-ignored': {
    area: 'delivery', description: 'messages are delivered at the published QoS even above the QoS granted to the subscription',
    statements: { '3.1.1': ['MQTT-3.8.4-6'], '5.0': ['MQTT-3.8.4-8', 'MQTT-4.8.2-3'] },
  },
  'reorder-queued': {
    area: 'delivery', description: 'messages queued for an offline session are sent newest first when it resumes',
    statements: { '3.1.1': ['MQTT-4.6.0-6'], '5.0': ['MQTT-4.6.0-5'] },
  },
  // Sessions (broker.ts attachSession)
  'session-lost': {
    area: 'session', description: 'a persistent session is discarded at reconnect, as if Clean Session / Clean Start were 1',
    statements: { '3.1.1': ['MQTT-3.1.2-4', 'MQTT-3.2.2-2'], '5.0': ['MQTT-3.1.2-5', 'MQTT-3.2.2-3'] },
  },
  'session-kept-on-clean': {
    area: 'session', description: 'Clean Session / Clean Start 1 resumes the existing session instead of discarding it',
    statements: { '3.1.1': ['MQTT-3.1.2-6', 'MQTT-3.2.2-1'], '5.0': ['MQTT-3.1.2-4', 'MQTT-3.2.2-2'] },
  },
  // Authorization hooks (publish-flow.ts, subscribe-flow.ts)
  'acl-publish-ignored': {
    area: 'acl', description: 'the authorizePublish hook (the ACL) is not consulted: every PUBLISH is routed',
    statements: {}, section: '5.4.2',
  },
  'acl-subscribe-ignored': {
    area: 'acl', description: 'the authorizeSubscribe hook (the ACL) is not consulted: every SUBSCRIBE is granted',
    statements: {}, section: '5.4.2',
  },
  // Connection (connection.ts, subscribe-flow.ts)
  'keep-alive-ignored': {
    area: 'connection', description: 'Keep Alive is not enforced: a silent client stays connected',
    statements: { '3.1.1': ['MQTT-3.1.2-24'], '5.0': ['MQTT-3.1.2-22'] },
  },
  'malformed-ignored': {
    area: 'connection', description: 'a malformed packet after CONNECT is dropped and the connection kept open',
    statements: { '3.1.1': ['MQTT-4.8.0-1', 'MQTT-2.2.2-2'], '5.0': ['MQTT-4.13.1-1'] },
  },
  'suback-order': {
    area: 'subscribe', description: 'SUBACK return codes come in the reverse order of the SUBSCRIBE filters',
    statements: { '3.1.1': ['MQTT-3.9.3-1'], '5.0': ['MQTT-3.9.3-1'] },
  },
  // MQTT 5.0 features
  'no-local-ignored': {
    area: 'v5', description: 'No Local is ignored: a client receives its own messages',
    statements: { '5.0': ['MQTT-3.8.3-3'] },
  },
  'retain-as-published-ignored': {
    area: 'v5', description: 'Retain As Published 1 is ignored: forwarded messages always carry RETAIN 0',
    statements: { '5.0': ['MQTT-3.3.1-13'] },
  },
  'message-expiry-ignored': {
    area: 'v5', description: 'Message Expiry Interval is ignored: expired messages are delivered, the interval is forwarded unchanged',
    statements: { '5.0': ['MQTT-3.3.2-5', 'MQTT-3.3.2-6'] },
  },
  'subscription-id-missing': {
    area: 'v5', description: 'Subscription Identifiers are not sent with matching messages',
    statements: { '5.0': ['MQTT-3.3.4-3'] },
  },
  'topic-alias-remap-ignored': {
    area: 'v5', description: 'a Topic Alias the client maps to a new topic keeps its first topic',
    statements: { '5.0': ['MQTT-3.3.2-12'] },
  },
  'receive-maximum-ignored': {
    area: 'v5', description: "the client's Receive Maximum is ignored: more QoS 1/2 PUBLISHes in flight than it allows",
    statements: { '5.0': ['MQTT-3.3.4-9', 'MQTT-4.9.0-2'] },
  },
} as const satisfies Record<string, FaultInfo>;

export type FaultName = keyof typeof FAULTS;

export const FAULT_NAMES: readonly FaultName[] = Object.freeze(Object.keys(FAULTS) as FaultName[]);

/** Which faults are on: read at each switch, so a plain record (one property load, no hashing). */
export type FaultSet = Readonly<Record<FaultName, boolean>>;

export const NO_FAULTS: FaultSet = Object.freeze(Object.fromEntries(FAULT_NAMES.map((n) => [n, false])) as Record<FaultName, boolean>);

export function isFaultName(name: string): name is FaultName {
  return Object.hasOwn(FAULTS, name);
}

/** An unknown fault name: the message lists the valid ones. */
export class UnknownFaultError extends Error {
  override readonly name = 'UnknownFaultError';
  readonly code = 'UNKNOWN_FAULT';
  constructor(readonly unknown: readonly string[]) {
    super(`unknown fault${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')}; valid faults: ${FAULT_NAMES.join(', ')}`);
  }
}

/** Validates fault names (whitespace around names and empty entries ignored); throws UnknownFaultError naming the valid ones. */
export function parseFaults(names: Iterable<string> | string): FaultName[] {
  const list = (typeof names === 'string' ? names.split(',') : [...names]).map((n) => n.trim()).filter((n) => n.length > 0);
  const unknown = list.filter((n) => !isFaultName(n));
  if (unknown.length > 0) throw new UnknownFaultError(unknown);
  return [...new Set(list as FaultName[])];
}

/** The switches for `names` (validated). */
export function faultSet(names: Iterable<string> | undefined): FaultSet {
  if (names === undefined) return NO_FAULTS;
  const on = parseFaults(names);
  if (on.length === 0) return NO_FAULTS;
  const set = { ...NO_FAULTS } as Record<FaultName, boolean>;
  for (const n of on) set[n] = true;
  return Object.freeze(set);
}

/** The names of the faults that are on. */
export function activeFaults(set: FaultSet): FaultName[] {
  return FAULT_NAMES.filter((n) => set[n]);
}

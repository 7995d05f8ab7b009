/**
 * fast-check arbitraries for *valid* MQTT 3.1.1 (protocol level 4) and 5.0
 * (level 5) packets in the codec's normal form (see types.ts), plus the
 * building blocks they are made of (strings, topics, properties, reason codes)
 * and helpers for streams (packet sequences, chunkings) and run parameters.
 *
 * "Valid" means: `encode(p, version, { validate: true })` accepts it, and
 * `decodePacket(encode(p, version), { version, role })` returns a packet equal
 * to `p` (toStrictEqual), for the decoding `role` the packet was made for.
 * Beyond the codec's own checks the arbitraries also honour the spec's
 * cross-field rules that a sender MUST follow (listed where they are applied),
 * so the broker fuzzer and the conformance suites can send what they produce.
 *
 * Tables, not lists: property placement, data types, repeatability and value
 * ranges come from `PROPERTIES` (properties.ts); reason codes from
 * `REASON_CODES_V5` and the 3.1.1 return-code tables (reason-codes.ts);
 * packet directions from `SENDER` (constants.ts). Rules the tables cannot
 * express are applied explicitly in `arbitraryProperties` and the packet
 * builders, each with its spec reference.
 *
 * Roles follow the decoder's convention: `role` is the side that *decodes*.
 * 'server' means packets a Client sends; 'client' means packets a Server
 * sends; `undefined` means either (each packet picks a direction).
 *
 * This module depends on fast-check (a dev dependency): import it from tests
 * and tools only, never from runtime code. It is deliberately not re-exported
 * from codec/index.ts.
 */
import fc, { type Arbitrary, type Parameters, type WeightedArbitrary } from 'fast-check';
import {
  CLIENT_ONLY_DISCONNECT_REASONS, CONNACK_RETURN_CODES_V4, MAX_VARINT, PacketTypeCode, PROPERTIES, REASON_CODES_V5, SENDER,
  SERVER_ONLY_DISCONNECT_REASONS, SUBACK_RETURN_CODES_V4,
  type AckPacket, type AckProperties, type AllProperties, type AuthPacket, type AuthProperties, type ConnackPacket,
  type ConnackProperties, type ConnectPacket, type ConnectProperties, type DisconnectPacket, type DisconnectProperties,
  type Packet, type PacketOf, type PacketTypeName, type PingreqPacket, type PingrespPacket, type PropertyContext,
  type PropertyDef, type PropertyName, type ProtocolVersion, type PublishPacket, type PublishProperties, type QoS,
  type ReasonPacket, type RetainHandling, type Role, type SubackPacket, type SubscribePacket, type SubscribeProperties,
  type Subscription, type UnsubackPacket, type UnsubscribePacket, type UnsubscribeProperties, type UserProperties,
  type Will, type WillProperties,
} from './index.js';

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/** Size and content knobs. Defaults keep packets small (well under 1 KiB) so runs are fast. */
export interface ArbitraryOptions {
  /** Longest UTF-8 string field, in code points (up to 4 bytes each). Default 10. */
  maxStringLength?: number;
  /** Longest Binary Data field (password, correlation data, authentication data), in bytes. Default 16. */
  maxBinaryLength?: number;
  /** Longest PUBLISH / Will payload, in bytes. Default 48. */
  maxPayloadLength?: number;
  /** Longest list: subscriptions, topic filters, reason codes, user properties, subscription identifiers. Default 4. */
  maxListLength?: number;
  /** Most topic levels in a generated Topic Name or Topic Filter. Default 4. */
  maxTopicLevels?: number;
  /**
   * Include code points the specs say a string SHOULD NOT contain (3.1.1 §1.5.3, 5.0 §1.5.4):
   * control characters U+0001–U+001F and U+007F–U+009F, and Unicode non-characters. They are
   * well-formed, so the codec must carry them; a broker MAY close the connection on them.
   * Default true. Set false for traffic a strict broker has to accept.
   */
  discouragedCodePoints?: boolean;
  /** Expected number of non-user properties in a property set (user properties are drawn separately). Default 2. */
  propertiesPerSet?: number;
}

type Resolved = Required<ArbitraryOptions>;

const DEFAULTS: Resolved = {
  maxStringLength: 10,
  maxBinaryLength: 16,
  maxPayloadLength: 48,
  maxListLength: 4,
  maxTopicLevels: 4,
  discouragedCodePoints: true,
  propertiesPerSet: 2,
};

function resolve(o: ArbitraryOptions | undefined): Resolved {
  return { ...DEFAULTS, ...o };
}

// ---------------------------------------------------------------------------
// Directions and packet types
// ---------------------------------------------------------------------------

export const ROLES: readonly Role[] = ['server', 'client'];
export const VERSIONS: readonly ProtocolVersion[] = [4, 5];

/** The sender of what `role` decodes: a server decodes what a client sends, and vice versa. */
export function senderOf(role: Role): 'client' | 'server' {
  return role === 'server' ? 'client' : 'server';
}

/** Packet types that exist in `version` and that the side `role` may receive (all, when role is undefined). From `SENDER`. */
export function packetTypesFor(version: ProtocolVersion, role?: Role): PacketTypeName[] {
  const wanted = role === undefined ? undefined : role === 'server' ? 'c' : 's';
  return (Object.keys(PacketTypeCode) as PacketTypeName[]).filter((t) =>
    (version === 5 || t !== 'auth') && (wanted === undefined || SENDER[t] === 'b' || SENDER[t] === wanted));
}

/** Runs `build` for the given role, or for a randomly chosen one when it is undefined. */
function eitherRole<T>(role: Role | undefined, build: (role: Role) => Arbitrary<T>): Arbitrary<T> {
  return role !== undefined ? build(role) : fc.oneof(build('server'), build('client'));
}

// ---------------------------------------------------------------------------
// Strings (3.1.1 §1.5.3, 5.0 §1.5.4) and binary data
// ---------------------------------------------------------------------------

/** Code points the specs say SHOULD NOT appear in a UTF-8 string: C0/C1 controls (but not U+0000, which MUST NOT) and non-characters. */
export function isDiscouragedCodePoint(cp: number): boolean {
  return (cp >= 0x01 && cp <= 0x1f) || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
}

/**
 * A Unicode scalar value other than U+0000 (MQTT-1.5.3-2 / MQTT-1.5.4-2) and the surrogates
 * (which have no UTF-8 form, MQTT-1.5.3-1 / MQTT-1.5.4-1). Mostly ASCII; all UTF-8 lengths
 * (2, 3 and 4 bytes — astral planes become surrogate pairs in JS strings) and the boundary code
 * points, U+FEFF included (kept, never stripped: MQTT-1.5.4-3).
 */
export function arbitraryCodePoint(options?: ArbitraryOptions, exclude?: (cp: number) => boolean): Arbitrary<number> {
  const o = resolve(options);
  const parts: WeightedArbitrary<number>[] = [
    { weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 2, arbitrary: fc.integer({ min: 0xa0, max: 0x7ff }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x800, max: 0xd7ff }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xfffd }) },
    { weight: 2, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }) },
    { weight: 1, arbitrary: fc.constantFrom(0xe9, 0x7ff, 0x800, 0x20ac, 0xd7ff, 0xe000, 0xfeff, 0xfffd, 0x10000, 0x1f600, 0x10fffd) },
  ];
  if (o.discouragedCodePoints) {
    parts.push({ weight: 1, arbitrary: fc.constantFrom(0x01, 0x09, 0x1f, 0x7f, 0x80, 0x9f, 0xfdd0, 0xfffe, 0xffff, 0x1fffe, 0x10ffff) });
  }
  const cp = fc.oneof(...parts);
  const keep = (c: number): boolean => (o.discouragedCodePoints || !isDiscouragedCodePoint(c)) && !(exclude?.(c) ?? false);
  return cp.filter(keep);
}

/** A UTF-8 Encoded String field: well-formed, no U+0000, lengths in code points (max from options). */
export function arbitraryUtf8String(
  options?: ArbitraryOptions,
  constraints: { minLength?: number; maxLength?: number; exclude?: (cp: number) => boolean } = {},
): Arbitrary<string> {
  const o = resolve(options);
  return fc.array(arbitraryCodePoint(o, constraints.exclude), {
    minLength: constraints.minLength ?? 0,
    maxLength: constraints.maxLength ?? o.maxStringLength,
  }).map((cps) => String.fromCodePoint(...cps));
}

/** Binary Data as a Buffer (the decoder returns Buffers). */
export function arbitraryBinary(maxLength: number, minLength = 0): Arbitrary<Buffer> {
  return fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));
}

const ALNUM = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * A Client Identifier: empty (the server assigns one), the 1–23 alphanumerics every server
 * MUST accept (MQTT-3.1.3-5), or any UTF-8 string.
 */
export function arbitraryClientId(options?: ArbitraryOptions): Arbitrary<string> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: fc.array(fc.constantFrom(...ALNUM), { minLength: 1, maxLength: 23 }).map((a) => a.join('')) },
    { weight: 2, arbitrary: arbitraryUtf8String(options) },
  );
}

/** A user property list: names drawn partly from a small pool so they repeat (5.0 §3.3.2.3.7), order significant. */
export function arbitraryUserProperties(options?: ArbitraryOptions): Arbitrary<UserProperties> {
  const o = resolve(options);
  const str = arbitraryUtf8String(o);
  // '1' and '__proto__' stress object-based representations (integer-like keys reorder, prototype keys).
  const name = fc.oneof({ weight: 2, arbitrary: fc.constantFrom('k', 'key', 'ü', '😀', '', '1', '__proto__') }, { weight: 1, arbitrary: str });
  return fc.array(fc.tuple(name, str), { minLength: 1, maxLength: o.maxListLength });
}

// ---------------------------------------------------------------------------
// Topics (3.1.1 §4.7, 5.0 §4.7, shared subscriptions 5.0 §4.8.2)
// ---------------------------------------------------------------------------

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const isTopicSpecial = (cp: number): boolean => cp === SLASH || cp === PLUS || cp === HASH;

/** One topic level: any string without '/', '+', '#' (possibly empty). */
function arbitraryTopicLevel(o: Resolved, minLength = 0): Arbitrary<string> {
  return arbitraryUtf8String(o, { minLength, maxLength: Math.min(o.maxStringLength, 6), exclude: isTopicSpecial });
}

const SAMPLE_TOPIC_NAMES = ['a', '/', '//', 'a/b', 'a//b', '/a', 'a/', 'sport/tennis/player1', '$SYS/broker/uptime', 'ü/€/😀', ' ', 'a b/c'];

/** A Topic Name: non-empty (MQTT-4.7.3-1), no wildcards (MQTT-3.3.2-2); empty levels allowed. */
export function arbitraryTopicName(options?: ArbitraryOptions): Arbitrary<string> {
  const o = resolve(options);
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(arbitraryTopicLevel(o), { minLength: 1, maxLength: o.maxTopicLevels }).map((ls) => ls.join('/')).filter((s) => s.length > 0) },
    { weight: 1, arbitrary: fc.constantFrom(...SAMPLE_TOPIC_NAMES) },
  );
}

const SAMPLE_TOPIC_FILTERS = ['#', '+', '+/+', '/#', 'a/#', 'a/+/b', '+/', '/+', 'sport/tennis/#', '$SYS/#', '+/tennis/#'];

/**
 * A (non-shared) Topic Filter: non-empty, '+' only as a whole level (MQTT-4.7.1-3 / 5.0
 * MQTT-4.7.1-2), '#' only as the whole last level (MQTT-4.7.1-2 / 5.0 MQTT-4.7.1-1). In 5.0 it
 * never starts with `$share/` (that prefix makes it a shared filter, see arbitrarySharedTopicFilter).
 */
export function arbitraryTopicFilter(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<string> {
  const o = resolve(options);
  const level = fc.oneof({ weight: 3, arbitrary: arbitraryTopicLevel(o) }, { weight: 1, arbitrary: fc.constant('+') });
  const built = fc.tuple(fc.array(level, { maxLength: o.maxTopicLevels }), fc.boolean())
    .map(([ls, hash]) => (hash ? [...ls, '#'] : ls).join('/'));
  return fc.oneof({ weight: 4, arbitrary: built }, { weight: 1, arbitrary: fc.constantFrom(...SAMPLE_TOPIC_FILTERS) })
    .filter((f) => f.length > 0 && (version === 4 || !f.startsWith('$share/')));
}

/** A 5.0 shared subscription filter `$share/{ShareName}/{filter}` (5.0 §4.8.2): ShareName non-empty, without '/', '+', '#'. */
export function arbitrarySharedTopicFilter(options?: ArbitraryOptions): Arbitrary<string> {
  const o = resolve(options);
  return fc.tuple(arbitraryTopicLevel(o, 1), arbitraryTopicFilter(5, o)).map(([share, f]) => `$share/${share}/${f}`);
}

// ---------------------------------------------------------------------------
// Reason codes (5.0 §2.4 Table 2-6; 3.1.1 §3.2.2.3, §3.9.3)
// ---------------------------------------------------------------------------

/**
 * Every code `type` may carry in `version`, from the codec's tables. 5.0 DISCONNECT is
 * direction-aware (Table 3-10 "Sent by"): a server (role 'server') only receives client codes
 * and vice versa. Caveat: the codec follows Table 2-6, which lists 0x8C (Bad authentication
 * method) for DISCONNECT although Table 3-10 (referenced by MQTT-3.14.2-1) omits it; filter it
 * out when targeting a peer that reads Table 3-10 strictly.
 */
export function reasonCodesFor(type: ReasonPacket, version: ProtocolVersion, role?: Role): number[] {
  if (version === 4) {
    if (type === 'connack') return Object.keys(CONNACK_RETURN_CODES_V4).map(Number);
    if (type === 'suback') return [...SUBACK_RETURN_CODES_V4];
    throw new Error(`${type} carries no return code in MQTT 3.1.1`);
  }
  const codes = new Set<number>();
  for (const e of REASON_CODES_V5) if (e.packets.includes(type)) codes.add(e.code);
  if (type === 'disconnect') {
    const banned = role === 'server' ? SERVER_ONLY_DISCONNECT_REASONS : role === 'client' ? CLIENT_ONLY_DISCONNECT_REASONS : undefined;
    if (banned) for (const c of banned) codes.delete(c);
  }
  return [...codes].sort((a, b) => a - b);
}

/** A valid code for `type`; shrinks towards the lowest (0x00 where allowed). */
export function arbitraryReasonCode(type: ReasonPacket, version: ProtocolVersion, role?: Role): Arbitrary<number> {
  return fc.constantFrom(...reasonCodesFor(type, version, role));
}

// ---------------------------------------------------------------------------
// Properties (5.0 §2.2.2, Table 2-4 via PROPERTIES)
// ---------------------------------------------------------------------------

/** The property-set type each property context uses in types.ts. */
export interface PropertiesOf {
  connect: ConnectProperties;
  will: WillProperties;
  connack: ConnackProperties;
  publish: PublishProperties;
  puback: AckProperties;
  pubrec: AckProperties;
  pubrel: AckProperties;
  pubcomp: AckProperties;
  subscribe: SubscribeProperties;
  suback: AckProperties;
  unsubscribe: UnsubscribeProperties;
  unsuback: AckProperties;
  disconnect: DisconnectProperties;
  auth: AuthProperties;
}
// Compile-time check that PropertiesOf covers exactly the contexts of properties.ts.
type SameKeys<A, B> = [Exclude<keyof A, B>, Exclude<B, keyof A>] extends [never, never] ? true : never;
const _propertiesOfCoversContexts: SameKeys<PropertiesOf, PropertyContext> = true;
void _propertiesOfCoversContexts;

type PropertyValue = NonNullable<AllProperties[PropertyName]>;

const MAX_BY_TYPE = { byte: 0xff, u16: 0xffff, u32: 0xffffffff, varint: MAX_VARINT } as const;

/** Valid values of one integer property: the type's range, minus what the table's `check` rejects. */
function integerValue(def: PropertyDef & { type: keyof typeof MAX_BY_TYPE }): Arbitrary<number> {
  const max = MAX_BY_TYPE[def.type];
  const check = def.check;
  if (check === undefined) return fc.integer({ min: 0, max });
  if (max <= 0xff) {
    const ok: number[] = [];
    for (let v = 0; v <= max; v++) if (check(v) === undefined) ok.push(v);
    return fc.constantFrom(...ok);
  }
  return fc.integer({ min: 0, max }).filter((v) => check(v) === undefined);
}

/** Arbitrary value of property `def` in context `ctx`, from its table entry (plus the Response Topic rule). */
function propertyValue(def: PropertyDef, ctx: PropertyContext, o: Resolved): Arbitrary<PropertyValue> {
  switch (def.type) {
    case 'byte': case 'u16': case 'u32':
      return integerValue({ ...def, type: def.type });
    case 'varint': {
      // Subscription Identifier: repeats only where the table says so (a server's PUBLISH, one per
      // matching subscription, 5.0 §3.3.2.3.8); once in SUBSCRIBE (5.0 §3.8.2.1.2).
      const many = def.repeatable?.includes(ctx) ?? false;
      return fc.array(integerValue({ ...def, type: 'varint' }), { minLength: 1, maxLength: many ? o.maxListLength : 1 });
    }
    case 'utf8':
      // Response Topic is used as a Topic Name: no wildcards, non-empty (MQTT-3.3.2-13, MQTT-3.3.2-14).
      return def.name === 'responseTopic' ? arbitraryTopicName(o) : arbitraryUtf8String(o);
    case 'binary':
      return arbitraryBinary(o.maxBinaryLength);
    case 'pair':
      return arbitraryUserProperties(o);
  }
}

/** Properties a sender may not put in a packet even though the table allows them in its context. */
function excludedBySender(ctx: PropertyContext, role: Role | undefined): ReadonlySet<PropertyName> {
  // A PUBLISH from a Client carries no Subscription Identifier (MQTT-3.3.4-6).
  if (ctx === 'publish' && role === 'server') return new Set(['subscriptionIdentifiers']);
  // A DISCONNECT from the Server carries no Session Expiry Interval (MQTT-3.14.2-2).
  if (ctx === 'disconnect' && role === 'client') return new Set(['sessionExpiryInterval']);
  return new Set();
}

/**
 * A property set for context `ctx`, or undefined (normal form: no empty sets). Generated from
 * `PROPERTIES`: every property the table allows in `ctx`, each present with probability about
 * `propertiesPerSet / n`, values in range and passing the table's check, in a random wire order.
 * Rules outside the table:
 *  - direction: see excludedBySender (role = the side decoding the packet);
 *  - Authentication Data needs an Authentication Method (5.0 §3.1.2.11.10, §3.2.2.3.18), and an
 *    AUTH always names its method (5.0 §3.15.2.2.2, "It is a Protocol Error to omit the
 *    Authentication Method"): when `ctx` is 'auth' the set is never empty.
 */
export function arbitraryProperties<C extends PropertyContext>(ctx: C, role?: Role, options?: ArbitraryOptions): Arbitrary<PropertiesOf[C] | undefined> {
  const o = resolve(options);
  const excluded = excludedBySender(ctx, role);
  const defs = PROPERTIES.filter((d) => d.contexts.includes(ctx) && !excluded.has(d.name));
  const others = defs.filter((d) => d.type !== 'pair').length;
  const absentWeight = Math.max(1, Math.round(others / o.propertiesPerSet) - 1);
  const slots = defs.map((d) => fc.oneof(
    { weight: d.type === 'pair' ? 1 : absentWeight, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: propertyValue(d, ctx, o) },
  ));
  const order = fc.shuffledSubarray(defs.map((_, i) => i), { minLength: defs.length, maxLength: defs.length });
  const methodFallback = arbitraryUtf8String(o, { minLength: 1 });
  const set = fc.tuple(fc.tuple(...slots), order, methodFallback).map(([values, perm, method]) => {
    const out: Partial<Record<PropertyName, PropertyValue>> = {};
    for (const i of perm) {
      const v = values[i];
      if (v !== undefined) out[defs[i]!.name] = v;
    }
    const needsMethod = ctx === 'auth' || (out.authenticationData !== undefined && ctx !== 'will');
    if (needsMethod && out.authenticationMethod === undefined) out.authenticationMethod = method;
    return Object.keys(out).length === 0 ? undefined : (out as PropertiesOf[C]);
  });
  if (ctx === 'auth') return set;
  return fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: set });
}

/**
 * 5.0 Payload Format Indicator 1 declares the payload UTF-8 (§3.3.2.3.2, §3.1.3.2.3): then the
 * payload is drawn as UTF-8 text, otherwise as arbitrary bytes.
 */
function payloadFor(props: { payloadFormatIndicator?: number } | undefined, bytes: Buffer, text: string): Buffer {
  return props?.payloadFormatIndicator === 1 ? Buffer.from(text, 'utf8') : bytes;
}

// ---------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------

/** fc.record yielding ordinary objects (the decoder's output has Object.prototype; toStrictEqual compares prototypes). */
function record<R>(model: { [K in keyof R]: Arbitrary<R[K]> }): Arbitrary<R> {
  // Every key is required (the default), so RecordValue<R, keyof R> is R; TS cannot see that for a generic R.
  return fc.record(model, { noNullPrototype: true }) as Arbitrary<R>;
}

const qosArb: Arbitrary<QoS> = fc.constantFrom(0, 1, 2);
const packetIdArb: Arbitrary<number> = fc.integer({ min: 1, max: 0xffff });

/** Will Message (3.1.1 §3.1.3.2–3, 5.0 §3.1.3.2–4). */
export function arbitraryWill(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<Will> {
  const o = resolve(options);
  return record({
    topic: arbitraryTopicName(o),
    bytes: arbitraryBinary(o.maxPayloadLength),
    text: arbitraryUtf8String(o),
    qos: qosArb,
    retain: fc.boolean(),
    properties: version === 5 ? arbitraryProperties('will', 'server', o) : fc.constant(undefined),
  }).map((r) => {
    const will: Will = { topic: r.topic, payload: payloadFor(r.properties, r.bytes, r.text), qos: r.qos, retain: r.retain };
    if (r.properties !== undefined) will.properties = r.properties;
    return will;
  });
}

/**
 * CONNECT. 3.1.1: a Password needs a User Name (MQTT-3.1.2-22); an empty ClientId needs
 * CleanSession 1 (MQTT-3.1.3-7). 5.0 lifts both (§3.1.2.9, §3.1.3.1).
 */
export function arbitraryConnect(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<ConnectPacket> {
  const o = resolve(options);
  return record({
    clean: fc.boolean(),
    keepAlive: fc.integer({ min: 0, max: 0xffff }),
    clientId: arbitraryClientId(o),
    will: fc.option(arbitraryWill(version, o), { nil: undefined }),
    username: fc.option(arbitraryUtf8String(o), { nil: undefined }),
    password: fc.option(arbitraryBinary(o.maxBinaryLength), { nil: undefined }),
    properties: version === 5 ? arbitraryProperties('connect', 'server', o) : fc.constant(undefined),
  }).map((r) => {
    const p: ConnectPacket = {
      type: 'connect', protocolVersion: version, clean: version === 4 && r.clientId === '' ? true : r.clean, keepAlive: r.keepAlive, clientId: r.clientId,
    };
    if (r.will !== undefined) p.will = r.will;
    if (r.username !== undefined) p.username = r.username;
    if (r.password !== undefined && (version === 5 || r.username !== undefined)) p.password = r.password;
    if (r.properties !== undefined) p.properties = r.properties;
    return p;
  });
}

/** CONNACK: Session Present only with code 0 (MQTT-3.2.2-4 / 5.0 MQTT-3.2.2-6). */
export function arbitraryConnack(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<ConnackPacket> {
  const o = resolve(options);
  return record({
    reasonCode: arbitraryReasonCode('connack', version),
    sessionPresent: fc.boolean(),
    properties: version === 5 ? arbitraryProperties('connack', 'client', o) : fc.constant(undefined),
  }).map((r) => {
    const p: ConnackPacket = { type: 'connack', sessionPresent: r.reasonCode === 0 && r.sessionPresent, reasonCode: r.reasonCode };
    if (r.properties !== undefined) p.properties = r.properties;
    return p;
  });
}

/**
 * PUBLISH in either direction. DUP only with QoS > 0 (MQTT-3.3.1-2); a non-zero Packet
 * Identifier exactly when QoS > 0 (MQTT-2.3.1-1, MQTT-2.2.1-2); in 5.0 a Topic Alias allows an
 * empty Topic Name (§3.3.2.3.4); Subscription Identifiers only from the Server (MQTT-3.3.4-6).
 */
export function arbitraryPublish(version: ProtocolVersion, role?: Role, options?: ArbitraryOptions): Arbitrary<PublishPacket> {
  const o = resolve(options);
  return eitherRole(role, (r) => record({
    topic: arbitraryTopicName(o),
    emptyTopic: fc.boolean(),
    qos: qosArb,
    dup: fc.boolean(),
    retain: fc.boolean(),
    packetId: packetIdArb,
    bytes: arbitraryBinary(o.maxPayloadLength),
    text: arbitraryUtf8String(o),
    properties: version === 5 ? arbitraryProperties('publish', r, o) : fc.constant(undefined),
  }).map((x) => {
    const aliased = x.properties?.topicAlias !== undefined;
    const p: PublishPacket = {
      type: 'publish', topic: aliased && x.emptyTopic ? '' : x.topic, payload: payloadFor(x.properties, x.bytes, x.text),
      qos: x.qos, retain: x.retain, dup: x.qos > 0 && x.dup,
    };
    if (x.qos > 0) p.packetId = x.packetId;
    if (x.properties !== undefined) p.properties = x.properties;
    return p;
  }));
}

type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

/** PUBACK / PUBREC / PUBREL / PUBCOMP: non-zero Packet Identifier; 5.0 reason code always present (normal form). */
export function arbitraryPubAck<T extends AckType>(type: T, version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<AckPacket<T>> {
  const o = resolve(options);
  if (version === 4) return packetIdArb.map((packetId) => ({ type, packetId }));
  return record({ packetId: packetIdArb, reasonCode: arbitraryReasonCode(type, 5), properties: arbitraryProperties(type, undefined, o) })
    .map((r) => {
      const p: AckPacket<T> = { type, packetId: r.packetId, reasonCode: r.reasonCode };
      if (r.properties !== undefined) p.properties = r.properties;
      return p;
    });
}

/** One subscription. 5.0: options always present (normal form); No Local is 0 on shared filters (MQTT-3.8.3-4); Retain Handling ≠ 3. */
export function arbitrarySubscription(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<Subscription> {
  const o = resolve(options);
  if (version === 4) return record({ topicFilter: arbitraryTopicFilter(4, o), qos: qosArb });
  return record({
    topicFilter: fc.oneof({ weight: 4, arbitrary: arbitraryTopicFilter(5, o) }, { weight: 1, arbitrary: arbitrarySharedTopicFilter(o) }),
    qos: qosArb,
    noLocal: fc.boolean(),
    retainAsPublished: fc.boolean(),
    retainHandling: fc.constantFrom<RetainHandling>(0, 1, 2),
  }).map((s) => ({ ...s, noLocal: s.noLocal && !s.topicFilter.startsWith('$share/') }));
}

/** SUBSCRIBE: at least one subscription (MQTT-3.8.3-3 / 5.0 MQTT-3.8.3-2). */
export function arbitrarySubscribe(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<SubscribePacket> {
  const o = resolve(options);
  return record({
    packetId: packetIdArb,
    subscriptions: fc.array(arbitrarySubscription(version, o), { minLength: 1, maxLength: o.maxListLength }),
    properties: version === 5 ? arbitraryProperties('subscribe', 'server', o) : fc.constant(undefined),
  }).map((r) => {
    const p: SubscribePacket = { type: 'subscribe', packetId: r.packetId, subscriptions: r.subscriptions };
    if (r.properties !== undefined) p.properties = r.properties;
    return p;
  });
}

/** SUBACK: one or more codes (one per requested filter). */
export function arbitrarySuback(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<SubackPacket> {
  const o = resolve(options);
  return record({
    packetId: packetIdArb,
    reasonCodes: fc.array(arbitraryReasonCode('suback', version), { minLength: 1, maxLength: o.maxListLength }),
    properties: version === 5 ? arbitraryProperties('suback', 'client', o) : fc.constant(undefined),
  }).map((r) => {
    const p: SubackPacket = { type: 'suback', packetId: r.packetId, reasonCodes: r.reasonCodes };
    if (r.properties !== undefined) p.properties = r.properties;
    return p;
  });
}

/** UNSUBSCRIBE: at least one filter (MQTT-3.10.3-2). */
export function arbitraryUnsubscribe(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<UnsubscribePacket> {
  const o = resolve(options);
  const filter = version === 5
    ? fc.oneof({ weight: 4, arbitrary: arbitraryTopicFilter(5, o) }, { weight: 1, arbitrary: arbitrarySharedTopicFilter(o) })
    : arbitraryTopicFilter(4, o);
  return record({
    packetId: packetIdArb,
    topicFilters: fc.array(filter, { minLength: 1, maxLength: o.maxListLength }),
    properties: version === 5 ? arbitraryProperties('unsubscribe', 'server', o) : fc.constant(undefined),
  }).map((r) => {
    const p: UnsubscribePacket = { type: 'unsubscribe', packetId: r.packetId, topicFilters: r.topicFilters };
    if (r.properties !== undefined) p.properties = r.properties;
    return p;
  });
}

/** UNSUBACK: 3.1.1 has only the Packet Identifier; 5.0 adds one or more reason codes. */
export function arbitraryUnsuback(version: ProtocolVersion, options?: ArbitraryOptions): Arbitrary<UnsubackPacket> {
  const o = resolve(options);
  if (version === 4) return packetIdArb.map((packetId) => ({ type: 'unsuback', packetId }));
  return record({
    packetId: packetIdArb,
    reasonCodes: fc.array(arbitraryReasonCode('unsuback', 5), { minLength: 1, maxLength: o.maxListLength }),
    properties: arbitraryProperties('unsuback', 'client', o),
  }).map((r) => {
    const p: UnsubackPacket = { type: 'unsuback', packetId: r.packetId, reasonCodes: r.reasonCodes };
    if (r.properties !== undefined) p.properties = r.properties;
    return p;
  });
}

export function arbitraryPingreq(): Arbitrary<PingreqPacket> {
  return fc.constant({ type: 'pingreq' });
}

export function arbitraryPingresp(): Arbitrary<PingrespPacket> {
  return fc.constant({ type: 'pingresp' });
}

/** DISCONNECT in either direction; 5.0 reason code always present and valid for the sender (Table 3-10). */
export function arbitraryDisconnect(version: ProtocolVersion, role?: Role, options?: ArbitraryOptions): Arbitrary<DisconnectPacket> {
  const o = resolve(options);
  if (version === 4) return fc.constant({ type: 'disconnect' });
  return eitherRole(role, (r) => record({ reasonCode: arbitraryReasonCode('disconnect', 5, r), properties: arbitraryProperties('disconnect', r, o) })
    .map((x) => {
      const p: DisconnectPacket = { type: 'disconnect', reasonCode: x.reasonCode };
      if (x.properties !== undefined) p.properties = x.properties;
      return p;
    }));
}

/** AUTH (5.0 only): reason code 0x00, 0x18 or 0x19, always with an Authentication Method (5.0 §3.15.2.2.2). */
export function arbitraryAuth(options?: ArbitraryOptions): Arbitrary<AuthPacket> {
  const o = resolve(options);
  return record({ reasonCode: arbitraryReasonCode('auth', 5), properties: arbitraryProperties('auth', undefined, o) })
    .map((r) => {
      const p: AuthPacket = { type: 'auth', reasonCode: r.reasonCode };
      if (r.properties !== undefined) p.properties = r.properties;
      return p;
    });
}

type Builder<T extends PacketTypeName> = (version: ProtocolVersion, role: Role | undefined, o: ArbitraryOptions | undefined) => Arbitrary<PacketOf<T>>;

const BUILDERS: { [T in PacketTypeName]: Builder<T> } = {
  connect: (v, _r, o) => arbitraryConnect(v, o),
  connack: (v, _r, o) => arbitraryConnack(v, o),
  publish: (v, r, o) => arbitraryPublish(v, r, o),
  puback: (v, _r, o) => arbitraryPubAck('puback', v, o),
  pubrec: (v, _r, o) => arbitraryPubAck('pubrec', v, o),
  pubrel: (v, _r, o) => arbitraryPubAck('pubrel', v, o),
  pubcomp: (v, _r, o) => arbitraryPubAck('pubcomp', v, o),
  subscribe: (v, _r, o) => arbitrarySubscribe(v, o),
  suback: (v, _r, o) => arbitrarySuback(v, o),
  unsubscribe: (v, _r, o) => arbitraryUnsubscribe(v, o),
  unsuback: (v, _r, o) => arbitraryUnsuback(v, o),
  pingreq: () => arbitraryPingreq(),
  pingresp: () => arbitraryPingresp(),
  disconnect: (v, r, o) => arbitraryDisconnect(v, r, o),
  auth: (v, _r, o) => {
    if (v !== 5) throw new Error('AUTH exists only in MQTT 5.0');
    return arbitraryAuth(o);
  },
};

/**
 * Valid packets of one type. `role` is the decoding side; a type that side never receives
 * (e.g. CONNECT for role 'client') is an error, as is AUTH in 3.1.1.
 */
export function arbitraryPacketOfType<T extends PacketTypeName>(type: T, version: ProtocolVersion, role?: Role, options?: ArbitraryOptions): Arbitrary<PacketOf<T>> {
  if (!packetTypesFor(version, role).includes(type)) {
    throw new Error(`a ${role ?? 'peer'} never receives ${type.toUpperCase()} in protocol level ${version}`);
  }
  return BUILDERS[type](version, role, options);
}

/** Any valid packet of `version` that the side `role` may receive (every type, either direction, when role is undefined). */
export function arbitraryPacket(version: ProtocolVersion, role?: Role, options?: ArbitraryOptions): Arbitrary<Packet> {
  return fc.oneof(...packetTypesFor(version, role).map((t): Arbitrary<Packet> => arbitraryPacketOfType(t, version, role, options)));
}

export interface SequenceOptions extends ArbitraryOptions {
  /** Fewest packets. Default 1. */
  minPackets?: number;
  /** Most packets. Default 6. */
  maxPackets?: number;
  /**
   * Start like a connection does: role 'server' gets a CONNECT first and no further CONNECT
   * (MQTT-3.1.0-1, MQTT-3.1.0-2); role 'client' gets a CONNACK first and no further CONNACK
   * (MQTT-3.2.0-1 / 5.0 §3.2). Requires a role. Default false.
   */
  handshake?: boolean;
}

/** A stream of valid packets of one version, all receivable by `role` (a decoder with that role and version yields them in order). */
export function arbitraryPacketSequence(version: ProtocolVersion, role?: Role, options: SequenceOptions = {}): Arbitrary<Packet[]> {
  const min = options.minPackets ?? 1;
  const max = options.maxPackets ?? 6;
  if (!options.handshake) return fc.array(arbitraryPacket(version, role, options), { minLength: min, maxLength: max });
  if (role === undefined) throw new Error('handshake needs a role');
  const first = role === 'server' ? 'connect' : 'connack';
  const rest = fc.oneof(...packetTypesFor(version, role).filter((t) => t !== first)
    .map((t): Arbitrary<Packet> => arbitraryPacketOfType(t, version, role, options)));
  return fc.tuple(arbitraryPacketOfType(first, version, role, options), fc.array(rest, { minLength: Math.max(0, min - 1), maxLength: Math.max(0, max - 1) }))
    .map(([head, tail]) => [head, ...tail]);
}

// ---------------------------------------------------------------------------
// Chunking
// ---------------------------------------------------------------------------

/**
 * How to cut a byte stream into chunks: chunk sizes used in turn, cycling until the bytes run
 * out. `[]` means one chunk with everything; `[1]` one byte per chunk; a 0 is an empty chunk.
 */
export interface ChunkPlan {
  readonly sizes: readonly number[];
}

export const WHOLE: ChunkPlan = { sizes: [] };
export const BYTE_BY_BYTE: ChunkPlan = { sizes: [1] };

/** A chunk plan: the two extremes, or random sizes up to `maxChunk` bytes (empty chunks included). */
export function arbitraryChunkPlan(maxChunk = 24): Arbitrary<ChunkPlan> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(WHOLE, BYTE_BY_BYTE) },
    { weight: 4, arbitrary: fc.array(fc.integer({ min: 0, max: maxChunk }), { minLength: 1, maxLength: 8 }).map((sizes) => ({ sizes })) },
  );
}

/** Cuts `bytes` according to `plan`; the chunks concatenate to `bytes` (they are views, not copies). */
export function splitByPlan(bytes: Buffer, plan: ChunkPlan): Buffer[] {
  const total = plan.sizes.reduce((a, b) => a + b, 0);
  if (total === 0) return [...plan.sizes.map(() => bytes.subarray(0, 0)), bytes];
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < bytes.length; i = (i + 1) % plan.sizes.length) {
    const n = plan.sizes[i]!;
    out.push(bytes.subarray(off, off + n));
    off += n;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Run parameters
// ---------------------------------------------------------------------------

/** Parses an integer environment variable, or returns undefined when unset or empty. */
export function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got '${raw}'`);
  return n;
}

/**
 * fast-check parameters for a property: `FC_RUNS` overrides `defaultRuns`; `FC_SEED` (and
 * optionally `FC_PATH`) replay a failure. Without FC_SEED a fresh seed is drawn and passed
 * explicitly, so fast-check's failure report always starts with `{ seed: …, path: … }`:
 * rerun with `FC_SEED=<seed> FC_PATH=<path>` to replay the counterexample.
 */
export function fcParameters<T>(defaultRuns: number): Parameters<T> {
  const seed = envInt('FC_SEED') ?? ((Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0);
  const params: Parameters<T> = { numRuns: envInt('FC_RUNS') ?? defaultRuns, seed };
  const path = process.env['FC_PATH'];
  if (path !== undefined && path !== '' && envInt('FC_SEED') !== undefined) params.path = path;
  return params;
}

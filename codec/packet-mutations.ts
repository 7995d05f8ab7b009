/**
 * Field-aware mutations of one valid packet: illegal fixed-header flags,
 * ill-formed UTF-8 and U+0000 inside a string field, oversized fields, string
 * lengths that overrun the packet, packets beyond the receiver's Maximum
 * Packet Size (declared, or a PUBLISH padded to the limit ± a few bytes), and
 * 5.0 properties that must not repeat given twice. Each takes the packet
 * object and returns the bytes to send; the receiver's verdict is whatever a
 * decoder in role 'server' says about them (harness/fuzz/oracle.ts).
 *
 * Indices (`slot`, `pick`, `at`) are taken modulo what the packet offers, so
 * every mutation applies to any packet (a packet without string fields or
 * properties is sent unchanged).
 *
 * Tool-only (fast-check), like arbitraries.ts and mutations.ts.
 */
import fc, { type Arbitrary } from 'fast-check';
import {
  encode, FIXED_FLAGS, MAX_VARINT, PacketTypeCode, PROPERTIES,
  type AllProperties, type Packet, type PropertyContext, type PropertyDef, type ProtocolVersion,
} from './index.js';
import { encodeVarint, remainingLengthEnd } from './mutations.js';

/** Byte sequences a UTF-8 Encoded String must not contain (3.1.1 §1.5.3, 5.0 §1.5.4). */
export const BAD_UTF8 = {
  /** a continuation byte with no lead byte [MQTT-1.5.4-1] */
  'lone-continuation': [0x80],
  /** '/' encoded in two bytes: overlong forms are ill-formed [MQTT-1.5.4-1] */
  overlong: [0xc0, 0xaf],
  /** U+D800 encoded as UTF-8: surrogates have no UTF-8 form [MQTT-1.5.4-1] */
  surrogate: [0xed, 0xa0, 0x80],
  /** a three-byte sequence cut after two bytes [MQTT-1.5.4-1] */
  truncated: [0xe2, 0x82],
  /** 0xFF never appears in UTF-8 [MQTT-1.5.4-1] */
  'invalid-byte': [0xff],
  /** U+110000, above the last code point [MQTT-1.5.4-1] */
  'above-max': [0xf4, 0x90, 0x80, 0x80],
  /** U+0000 [MQTT-1.5.4-2] */
  'null-char': [0x00],
} as const satisfies Record<string, readonly number[]>;

export type BadUtf8 = keyof typeof BAD_UTF8;

export type PacketMutation =
  /** Reserved flags of a non-PUBLISH packet set to `value` (≠ the required ones); PUBLISH: QoS 3, or DUP on QoS 0. */
  | { kind: 'flags'; value: number }
  /** `bad` inserted at `at` inside a string field prefixed with a marker. */
  | { kind: 'bad-utf8'; slot: number; bad: BadUtf8; at: number }
  /** A string field padded to `length` bytes (at most 65535, the format's limit). */
  | { kind: 'oversize-field'; slot: number; length: number }
  /** A string field's length prefix claims `extra` more bytes than it holds. */
  | { kind: 'string-overrun'; slot: number; extra: number }
  /** Remaining Length beyond the receiver's Maximum Packet Size by `over` bytes; only `keep` bytes of the body follow. */
  | { kind: 'oversize-packet'; over: number; keep: number }
  /** A PUBLISH padded so the whole packet is the receiver's Maximum Packet Size + `delta` bytes. */
  | { kind: 'payload-at-limit'; delta: number }
  /** 5.0: a property that may appear once, twice (protocol error, 5.0 §2.2.2.2). */
  | { kind: 'duplicate-property'; pick: number };

/** What the mutations need to know about the receiver. */
export interface ReceiverLimits {
  /** The receiver's Maximum Packet Size, when known. */
  maxPacketSize?: number | undefined;
}

/** Largest packet `payload-at-limit` builds: beyond it the mutation is skipped (too costly to send often). */
export const PAYLOAD_AT_LIMIT_CAP = 256 * 1024;

export function arbitraryPacketMutation(version: ProtocolVersion): Arbitrary<PacketMutation> {
  const common: Arbitrary<PacketMutation>[] = [
    fc.record({ kind: fc.constant('flags' as const), value: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ kind: fc.constant('bad-utf8' as const), slot: fc.nat(), bad: fc.constantFrom(...(Object.keys(BAD_UTF8) as BadUtf8[])), at: fc.nat() }),
    fc.record({ kind: fc.constant('oversize-field' as const), slot: fc.nat(), length: fc.constantFrom(256, 1024, 4096, 16_384, 65_535) }),
    fc.record({ kind: fc.constant('string-overrun' as const), slot: fc.nat(), extra: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('oversize-packet' as const), over: fc.oneof(fc.constantFrom(0, 1), fc.nat({ max: 1_000_000 })), keep: fc.nat({ max: 64 }) }),
    fc.record({ kind: fc.constant('payload-at-limit' as const), delta: fc.integer({ min: -2, max: 2 }) }),
  ];
  if (version === 5) common.push(fc.record({ kind: fc.constant('duplicate-property' as const), pick: fc.nat() }));
  return fc.oneof(...common);
}

// ---------------------------------------------------------------------------
// String fields ("slots")
// ---------------------------------------------------------------------------

interface Slot {
  name: string;
  get(p: Packet): string;
  set(p: Packet, s: string): Packet;
}

const userPropertySlot: Slot = {
  name: 'properties.userProperties',
  get: () => '',
  set: (p, s) => withProperties(p, { userProperties: [...(propertiesOf(p)?.userProperties ?? []), [s, '']] }),
};

function propertySlot(name: 'reasonString' | 'contentType' | 'responseTopic' | 'authenticationMethod'): Slot {
  return {
    name: `properties.${name}`,
    get: (p) => propertiesOf(p)?.[name] ?? '',
    set: (p, s) => withProperties(p, { [name]: s }),
  };
}

function propertiesOf(p: Packet): AllProperties | undefined {
  return 'properties' in p ? p.properties : undefined;
}

function withProperties(p: Packet, add: AllProperties): Packet {
  // Every packet type with properties has them under `properties`; the union cannot express that generically.
  return { ...p, properties: { ...propertiesOf(p), ...add } } as Packet;
}

/** The UTF-8 string fields a packet of this type carries in `version`. */
function slotsOf(p: Packet, version: ProtocolVersion): Slot[] {
  const v5 = version === 5;
  switch (p.type) {
    case 'connect': {
      const out: Slot[] = [
        { name: 'clientId', get: (x) => (x as typeof p).clientId, set: (x, s) => ({ ...(x as typeof p), clientId: s }) },
        { name: 'username', get: (x) => (x as typeof p).username ?? '', set: (x, s) => ({ ...(x as typeof p), username: s }) },
      ];
      if (p.will) {
        out.push({ name: 'will.topic', get: (x) => (x as typeof p).will!.topic, set: (x, s) => ({ ...(x as typeof p), will: { ...(x as typeof p).will!, topic: s } }) });
      }
      if (v5) out.push(userPropertySlot);
      return out;
    }
    case 'publish': {
      const out: Slot[] = [{ name: 'topic', get: (x) => (x as typeof p).topic, set: (x, s) => ({ ...(x as typeof p), topic: s }) }];
      if (v5) out.push(propertySlot('contentType'), propertySlot('responseTopic'), userPropertySlot);
      return out;
    }
    case 'subscribe': {
      const out: Slot[] = [{
        name: 'subscriptions[0].topicFilter',
        get: (x) => (x as typeof p).subscriptions[0]!.topicFilter,
        set: (x, s) => {
          const [first, ...rest] = (x as typeof p).subscriptions;
          return { ...(x as typeof p), subscriptions: [{ ...first!, topicFilter: s }, ...rest] };
        },
      }];
      if (v5) out.push(userPropertySlot);
      return out;
    }
    case 'unsubscribe': {
      const out: Slot[] = [{
        name: 'topicFilters[0]',
        get: (x) => (x as typeof p).topicFilters[0]!,
        set: (x, s) => ({ ...(x as typeof p), topicFilters: [s, ...(x as typeof p).topicFilters.slice(1)] }),
      }];
      if (v5) out.push(userPropertySlot);
      return out;
    }
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': case 'disconnect':
      return v5 ? [propertySlot('reasonString'), userPropertySlot] : [];
    case 'auth':
      return v5 ? [propertySlot('authenticationMethod'), propertySlot('reasonString')] : [];
    default:
      return [];
  }
}

const MARKER_CHAR = 0x51; // 'Q'

/** Offset of the 2-byte length prefix of `s` (written as a UTF-8 string) in `buf`, searching from the end. */
function findString(buf: Buffer, s: string): number {
  const body = Buffer.from(s, 'utf8');
  const needle = Buffer.concat([Uint8Array.of(body.length >> 8, body.length & 0xff), body]);
  return buf.lastIndexOf(needle);
}

function encodeLoose(p: Packet, version: ProtocolVersion): Buffer {
  return encode(p, version, { validate: false });
}

/** Sets slot `slot` to `marker + existing` (the existing value stays a suffix: unique client ids stay unique); returns bytes and where the string sits. */
function withMarkedSlot(p: Packet, version: ProtocolVersion, slot: number, markerLength: number): { bytes: Buffer; at: number; length: number } | undefined {
  const slots = slotsOf(p, version);
  if (slots.length === 0) return undefined;
  const s = slots[slot % slots.length]!;
  const value = String.fromCharCode(MARKER_CHAR).repeat(markerLength) + s.get(p);
  if (Buffer.byteLength(value) > 0xffff) return undefined;
  const bytes = encodeLoose(s.set(p, value), version);
  const at = findString(bytes, value);
  return at < 0 ? undefined : { bytes, at, length: Buffer.byteLength(value) };
}

// ---------------------------------------------------------------------------
// Properties given twice
// ---------------------------------------------------------------------------

const CONTEXT_OF: Partial<Record<Packet['type'], PropertyContext>> = {
  connect: 'connect', publish: 'publish', puback: 'puback', pubrec: 'pubrec', pubrel: 'pubrel', pubcomp: 'pubcomp',
  subscribe: 'subscribe', unsubscribe: 'unsubscribe', disconnect: 'disconnect', auth: 'auth',
};

/** Properties a Client may send once in `ctx` (5.0 Table 2-4; Subscription Identifiers only from the Server in PUBLISH, MQTT-3.3.4-6). */
export function nonRepeatableProperties(ctx: PropertyContext): PropertyDef[] {
  return PROPERTIES.filter((d) => d.contexts.includes(ctx) && !(d.repeatable ?? []).includes(ctx) && !(ctx === 'publish' && d.name === 'subscriptionIdentifiers'));
}

/** Wire bytes of one property with a small valid value (identifier + value). */
function propertyBytes(d: PropertyDef): { value: unknown; bytes: Buffer } {
  switch (d.type) {
    case 'byte': return { value: 1, bytes: Buffer.from([d.id, 1]) };
    case 'u16': return { value: 1, bytes: Buffer.from([d.id, 0, 1]) };
    case 'u32': return { value: 1, bytes: Buffer.from([d.id, 0, 0, 0, 1]) };
    case 'varint': return { value: [1], bytes: Buffer.from([d.id, 1]) };
    case 'utf8': return { value: 'd', bytes: Buffer.from([d.id, 0, 1, 0x64]) };
    case 'binary': return { value: Buffer.from([1]), bytes: Buffer.from([d.id, 0, 1, 1]) };
    case 'pair': return { value: [['d', 'd']], bytes: Buffer.from([d.id, 0, 1, 0x64, 0, 1, 0x64]) };
  }
}

/**
 * The packet with property `d` present, plus a marker User Property whose bytes are then
 * overwritten, in place, by a second copy of `d` followed by an empty User Property: no length
 * field changes, so only the duplicate is wrong.
 */
function duplicateProperty(p: Packet, pick: number): Buffer | undefined {
  const ctx = CONTEXT_OF[p.type];
  if (ctx === undefined) return undefined;
  const defs = nonRepeatableProperties(ctx);
  if (defs.length === 0) return undefined;
  const d = defs[pick % defs.length]!;
  const dup = propertyBytes(d);
  const existing = propertiesOf(p);
  const add: Record<string, unknown> = {};
  if (existing?.[d.name] === undefined) add[d.name] = dup.value;
  // Authentication Data needs a method (5.0 §3.1.2.11.10): keep the single copy legal.
  if (d.name === 'authenticationData' && existing?.authenticationMethod === undefined) add['authenticationMethod'] = 'm';
  const marker = String.fromCharCode(MARKER_CHAR).repeat(dup.bytes.length);
  add['userProperties'] = [...(existing?.userProperties ?? []), [marker, '']];
  const bytes = encodeLoose(withProperties(p, add as AllProperties), 5);
  // User Property entry: 0x26, name (length + bytes), value (length 0).
  const entry = Buffer.concat([Uint8Array.of(0x26, 0, marker.length), Buffer.from(marker), Uint8Array.of(0, 0)]);
  const at = bytes.lastIndexOf(entry);
  if (at < 0) return undefined;
  dup.bytes.copy(bytes, at);
  Buffer.from([0x26, 0, 0, 0, 0]).copy(bytes, at + dup.bytes.length);
  return bytes;
}

// ---------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------

function withRemainingLength(pkt: Buffer, rl: number, keepBody: number): Buffer {
  const { end } = remainingLengthEnd(pkt);
  return Buffer.concat([pkt.subarray(0, 1), encodeVarint(rl), pkt.subarray(end, end + keepBody)]);
}

/** PUBLISH padded (payload bytes 'x', which keep a UTF-8 payload UTF-8) to exactly `total` bytes when possible. */
function publishOfSize(p: Extract<Packet, { type: 'publish' }>, version: ProtocolVersion, total: number): Buffer | undefined {
  let payloadLength = p.payload.length;
  for (let i = 0; i < 4; i++) {
    const pad = Math.max(0, payloadLength - p.payload.length);
    const bytes = encodeLoose({ ...p, payload: Buffer.concat([p.payload, Buffer.alloc(pad, 0x78)]) }, version);
    if (bytes.length === total) return bytes;
    payloadLength += total - bytes.length;
    if (payloadLength < p.payload.length) return undefined;
  }
  return undefined;
}

/**
 * The bytes of `p` with mutation `m` applied. A mutation that does not fit the packet (no
 * string field, no properties, 3.1.1 for a 5.0-only rule, an unknown or very large limit)
 * leaves it unchanged: the result is then the packet's plain encoding.
 */
export function applyPacketMutation(p: Packet, version: ProtocolVersion, m: PacketMutation, limits: ReceiverLimits = {}): Buffer {
  try {
    return mutated(p, version, m, limits) ?? encodeLoose(p, version);
  } catch {
    // An encoder refusal (e.g. a field the mutation made too long) means: nothing to mutate.
    return encodeLoose(p, version);
  }
}

function mutated(p: Packet, version: ProtocolVersion, m: PacketMutation, limits: ReceiverLimits): Buffer | undefined {
  switch (m.kind) {
    case 'flags': {
      const bytes = encodeLoose(p, version);
      const type = PacketTypeCode[p.type];
      if (p.type === 'publish') {
        // QoS 3 [MQTT-3.3.1-4], or DUP on QoS 0 [MQTT-3.3.1-2] (only where the packet is QoS 0: other QoS change the layout).
        bytes[0] = (m.value & 1) === 1 && p.qos === 0 ? 0x38 | (bytes[0]! & 0x01) : bytes[0]! | 0x06;
      } else {
        const required = FIXED_FLAGS[type]!;
        bytes[0] = (type << 4) | (m.value === required ? m.value ^ 1 : m.value);
      }
      return bytes;
    }
    case 'bad-utf8': {
      const bad = BAD_UTF8[m.bad];
      const marked = withMarkedSlot(p, version, m.slot, bad.length + 4);
      if (!marked) return undefined;
      const offset = marked.at + 2 + (m.at % (bad.length + 5));
      Buffer.from(bad).copy(marked.bytes, offset);
      return marked.bytes;
    }
    case 'oversize-field': {
      const slots = slotsOf(p, version);
      if (slots.length === 0) return undefined;
      const s = slots[m.slot % slots.length]!;
      const existing = s.get(p);
      const pad = Math.max(0, Math.min(0xffff, m.length) - Buffer.byteLength(existing));
      return encodeLoose(s.set(p, 'x'.repeat(pad) + existing), version);
    }
    case 'string-overrun': {
      const marked = withMarkedSlot(p, version, m.slot, 4);
      if (!marked) return undefined;
      marked.bytes.writeUInt16BE(Math.min(0xffff, marked.length + m.extra), marked.at);
      return marked.bytes;
    }
    case 'oversize-packet': {
      const limit = limits.maxPacketSize ?? MAX_VARINT;
      // A Remaining Length of limit + over makes the whole packet larger than the limit (the receiver can tell from the fixed header).
      const rl = Math.min(MAX_VARINT, limit + m.over);
      const pkt = encodeLoose(p, version);
      const body = pkt.length - remainingLengthEnd(pkt).end;
      return withRemainingLength(pkt, rl, m.keep % (body + 1));
    }
    case 'payload-at-limit': {
      const limit = limits.maxPacketSize;
      if (p.type !== 'publish' || limit === undefined || limit > PAYLOAD_AT_LIMIT_CAP) return undefined;
      return publishOfSize(p, version, limit + m.delta);
    }
    case 'duplicate-property':
      return version === 5 ? duplicateProperty(p, m.pick) : undefined;
  }
}

export function describePacketMutation(m: PacketMutation, p?: Packet, version?: ProtocolVersion): string {
  const slot = (i: number): string => {
    if (p === undefined || version === undefined) return `string field #${i}`;
    const slots = slotsOf(p, version);
    return slots.length === 0 ? 'no string field (unchanged)' : slots[i % slots.length]!.name;
  };
  switch (m.kind) {
    case 'flags': return p?.type === 'publish' ? ((m.value & 1) === 1 && p.qos === 0 ? 'DUP 1 on QoS 0' : 'QoS 3') : `fixed-header flags 0x${m.value.toString(16)}`;
    case 'bad-utf8': return `${m.bad} UTF-8 (${BAD_UTF8[m.bad].map((b) => b.toString(16).padStart(2, '0')).join(' ')}) in ${slot(m.slot)}`;
    case 'oversize-field': return `${slot(m.slot)} padded to ${m.length} bytes`;
    case 'string-overrun': return `length of ${slot(m.slot)} overruns by ${m.extra}`;
    case 'oversize-packet': return `Remaining Length ${m.over} beyond the Maximum Packet Size, ${m.keep} body byte(s) sent`;
    case 'payload-at-limit': return `PUBLISH of Maximum Packet Size ${m.delta >= 0 ? '+' : ''}${m.delta} bytes`;
    case 'duplicate-property': {
      const ctx = p !== undefined ? CONTEXT_OF[p.type] : undefined;
      const defs = ctx !== undefined ? nonRepeatableProperties(ctx) : [];
      return defs.length > 0 ? `${defs[m.pick % defs.length]!.name} twice` : 'a property twice (none here: unchanged)';
    }
  }
}

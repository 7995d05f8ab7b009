/**
 * Round trip: for every valid packet in normal form, decode(encode(p)) equals p exactly
 * (toStrictEqual: no extra keys, no `undefined` members, Buffers as Buffers), and
 * re-encoding the decoded packet gives the same bytes (the encoding is canonical).
 * CONNECT is decoded without a version: the decoder learns it from the packet.
 *
 * FC_RUNS overrides the run count of every property; FC_SEED / FC_PATH replay a failure.
 */
import fc, { type Arbitrary } from 'fast-check';
import { describe, expect, test } from 'vitest';
import { arbitraryBinary, arbitraryPacket, arbitraryPacketOfType, arbitraryUtf8String, fcParameters, packetTypesFor, ROLES, VERSIONS } from './arbitraries.js';
import {
  decodePacket, encode, isMqttCodecError, MAX_VARINT, PROPERTIES,
  type AllProperties, type Packet, type PropertyContext, type PropertyDef, type ProtocolVersion, type Role,
} from './index.js';

function roundTrip(p: Packet, version: ProtocolVersion, role: Role): void {
  const bytes = encode(p, version, { validate: true });
  const decoded = decodePacket(bytes, p.type === 'connect' ? { role } : { version, role });
  expect(decoded).toStrictEqual(p);
  expect(encode(decoded, version, { validate: true })).toStrictEqual(bytes);
}

describe.each(VERSIONS)('protocol level %i', (version) => {
  describe.each(ROLES)('decoded by the %s', (role) => {
    test('any packet it may receive round-trips', () => {
      fc.assert(fc.property(arbitraryPacket(version, role), (p) => roundTrip(p, version, role)), fcParameters(600));
    });

    test.each(packetTypesFor(version, role))('%s round-trips', (type) => {
      fc.assert(fc.property(arbitraryPacketOfType(type, version, role), (p) => roundTrip(p, version, role)), fcParameters(150));
    });
  });

  test('packets of either direction round-trip without direction checks', () => {
    fc.assert(fc.property(arbitraryPacket(version), (p) => {
      const bytes = encode(p, version);
      expect(decodePacket(bytes, p.type === 'connect' ? {} : { version })).toStrictEqual(p);
    }), fcParameters(400));
  });
});

// ---------------------------------------------------------------------------
// Validation parity: what encode(validate) accepts, decode accepts unchanged.
// ---------------------------------------------------------------------------

/** One semantic rule bent on an otherwise valid packet (types and normal-form shape kept). */
type Tweak =
  | { kind: 'topic'; value: string }
  | { kind: 'filter'; index: number; value: string }
  | { kind: 'reasonCode'; value: number }
  | { kind: 'packetId'; value: number }
  | { kind: 'property'; onWill: boolean; pick: number; values: Record<PropertyDef['type'], unknown> }
  | { kind: 'flag'; flag: 'sessionPresent' | 'noLocal' | 'dup' | 'retainHandling3' | 'protocolVersion' };

const looseString = fc.oneof(
  fc.constantFrom('', '#', '+', 'a/#', 'a/#/b', 'a+', '+a/b', '$share/g/a', '$share//a', '$share/g/', '$share/g', '$share/+/a', 'a/b', '/', '\ud800'),
  arbitraryUtf8String(),
);

/** One loose value per property data type; the tweak picks the one its property needs. */
const looseValues: Arbitrary<Record<PropertyDef['type'], unknown>> = fc.record({
  byte: fc.integer({ min: 0, max: 0xff }),
  u16: fc.integer({ min: 0, max: 0xffff }),
  u32: fc.integer({ min: 0, max: 0xffffffff }),
  varint: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: MAX_VARINT })), { minLength: 1, maxLength: 3 }),
  utf8: looseString,
  binary: arbitraryBinary(8),
  pair: fc.array(fc.tuple(looseString, looseString), { minLength: 1, maxLength: 2 }),
}, { noNullPrototype: true });

const tweakArb: Arbitrary<Tweak> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('topic' as const), value: looseString }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('filter' as const), index: fc.nat(), value: looseString }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reasonCode' as const), value: fc.integer({ min: 0, max: 0xff }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('packetId' as const), value: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('property' as const), onWill: fc.boolean(), pick: fc.nat(), values: looseValues }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flag' as const), flag: fc.constantFrom('sessionPresent', 'noLocal', 'dup', 'retainHandling3', 'protocolVersion') }) },
);

/** Applies `t` to a copy of `p`; returns undefined when it does not apply to this packet type. */
function tweak(p: Packet, t: Tweak): Packet | undefined {
  const q = structuredClone(p) as Packet;
  // structuredClone turns Buffers into Uint8Arrays: restore them.
  const fixBuffers = (x: Packet): Packet => {
    if (x.type === 'publish') x.payload = Buffer.from(x.payload);
    if (x.type === 'connect') {
      if (x.will) x.will.payload = Buffer.from(x.will.payload);
      if (x.password) x.password = Buffer.from(x.password);
    }
    for (const props of [('properties' in x ? x.properties : undefined), (x.type === 'connect' ? x.will?.properties : undefined)] as (AllProperties | undefined)[]) {
      if (props?.correlationData) props.correlationData = Buffer.from(props.correlationData);
      if (props?.authenticationData) props.authenticationData = Buffer.from(props.authenticationData);
    }
    return x;
  };
  fixBuffers(q);
  switch (t.kind) {
    case 'topic':
      if (q.type === 'publish') q.topic = t.value;
      else if (q.type === 'connect' && q.will) q.will.topic = t.value;
      else return undefined;
      return q;
    case 'filter':
      if (q.type === 'subscribe') q.subscriptions[t.index % q.subscriptions.length]!.topicFilter = t.value;
      else if (q.type === 'unsubscribe') q.topicFilters[t.index % q.topicFilters.length] = t.value;
      else return undefined;
      return q;
    case 'reasonCode':
      if (q.type === 'suback' || (q.type === 'unsuback' && q.reasonCodes)) q.reasonCodes![0] = t.value;
      else if ('reasonCode' in q && q.reasonCode !== undefined) q.reasonCode = t.value;
      else return undefined;
      return q;
    case 'packetId':
      if (!('packetId' in q) || q.packetId === undefined) return undefined;
      q.packetId = t.value;
      return q;
    case 'property': {
      // A property the table allows in this packet (or its Will), with a loose value of its type.
      let holder: { properties?: Record<string, unknown> };
      let ctx: PropertyContext;
      if (t.onWill) {
        if (q.type !== 'connect' || !q.will) return undefined;
        holder = q.will as { properties?: Record<string, unknown> };
        ctx = 'will';
      } else {
        if (q.type === 'pingreq' || q.type === 'pingresp') return undefined;
        holder = q as { properties?: Record<string, unknown> };
        ctx = q.type;
      }
      const allowed = PROPERTIES.filter((d) => d.contexts.includes(ctx));
      const def = allowed[t.pick % allowed.length]!;
      (holder.properties ??= {})[def.name] = t.values[def.type];
      return q;
    }
    case 'flag':
      switch (t.flag) {
        case 'sessionPresent': if (q.type !== 'connack') return undefined; q.sessionPresent = !q.sessionPresent; return q;
        case 'dup': if (q.type !== 'publish') return undefined; q.dup = !q.dup; return q;
        case 'noLocal': if (q.type !== 'subscribe' || q.subscriptions[0]!.noLocal === undefined) return undefined; q.subscriptions[0]!.noLocal = !q.subscriptions[0]!.noLocal; return q;
        case 'retainHandling3': if (q.type !== 'subscribe' || q.subscriptions[0]!.retainHandling === undefined) return undefined; (q.subscriptions[0] as { retainHandling: number }).retainHandling = 3; return q;
        case 'protocolVersion': if (q.type !== 'connect') return undefined; q.protocolVersion = q.protocolVersion === 4 ? 5 : 4; return q;
      }
  }
}

describe.each(VERSIONS)('validation parity, protocol level %i', (version) => {
  test('whatever encode(validate) accepts, decode accepts unchanged', () => {
    fc.assert(fc.property(arbitraryPacket(version), tweakArb, (p, t) => {
      const q = tweak(p, t);
      if (q === undefined) return;
      let bytes: Buffer;
      try {
        bytes = encode(q, version, { validate: true });
      } catch (e) {
        if (isMqttCodecError(e)) return; // the encoder refuses: fine
        throw e;
      }
      let decoded: Packet;
      try {
        decoded = decodePacket(bytes, q.type === 'connect' ? {} : { version });
      } catch (e) {
        throw new Error(`encode(validate) produced a ${q.type.toUpperCase()} the decoder rejects: ${String(e)}`, { cause: e });
      }
      expect(decoded).toStrictEqual(q);
    }), fcParameters(4000));
  });
});

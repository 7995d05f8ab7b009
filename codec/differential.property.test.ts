/**
 * Differential tests against mqtt-packet (a dev dependency, used only here as a peer).
 *
 *  1. Our bytes, their parser: for every valid packet, mqtt-packet parses encode(p) to the same
 *     fields (after mapping its shapes to ours with the adapter below).
 *  2. Their bytes, our decoder: mqtt-packet's generate() of the same packet decodes to p.
 *  3. Near-valid bytes (one mutation): whatever our decoder accepts, mqtt-packet parses to the
 *     same fields — so ours is never laxer than the peer, and they agree where both accept.
 *
 * Where the two legitimately differ, KNOWN_DIFFERENCES says so explicitly — naming the spec
 * statement/section and which side follows it. A packet matched by a row's predicate must show
 * that difference (else the property fails: the row is stale), and every row has a witness test
 * asserting the difference still exists. Nothing is filtered out silently.
 *
 * FC_RUNS overrides the run count of every property; FC_SEED / FC_PATH replay a failure.
 */
import fc, { type Arbitrary } from 'fast-check';
import * as mqtt from 'mqtt-packet';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { arbitraryPacket, fcParameters, VERSIONS } from './arbitraries.js';
import {
  decodePacket, Decoder, encode, isMqttCodecError,
  type AllProperties, type CodecErrorCode, type Packet, type ProtocolVersion, type Subscription, type UserProperties, type Will,
} from './index.js';

// ---------------------------------------------------------------------------
// Adapter: mqtt-packet's shapes <-> ours
// ---------------------------------------------------------------------------

/** mqtt-packet spells two properties differently (and keeps a lone Subscription Identifier as a number). */
const FROM_MQTT_NAME: Readonly<Record<string, string>> = {
  subscriptionIdentifier: 'subscriptionIdentifiers',
  subscriptionIdentifiersAvailable: 'subscriptionIdentifierAvailable',
};
const TO_MQTT_NAME: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(FROM_MQTT_NAME).map(([k, v]) => [v, k]));

/** Byte properties mqtt-packet represents as booleans (its type 'byte'; Maximum QoS is its 'int8', a number). */
const MQTT_BOOLEAN_PROPERTIES: ReadonlySet<string> = new Set([
  'payloadFormatIndicator', 'requestProblemInformation', 'requestResponseInformation', 'retainAvailable',
  'wildcardSubscriptionAvailable', 'subscriptionIdentifierAvailable', 'sharedSubscriptionAvailable',
]);

type MqttUserProperties = mqtt.UserProperties;
type Props = Record<string, unknown>;

function newDict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Our ordered pairs as mqtt-packet's object: repeated names grouped into arrays. */
function userPropertiesToMqtt(pairs: UserProperties): MqttUserProperties {
  const grouped = newDict<string[]>();
  for (const [k, v] of pairs) (grouped[k] ??= []).push(v);
  const out = newDict<string | string[]>();
  for (const k of Object.getOwnPropertyNames(grouped)) {
    const vs = grouped[k]!;
    out[k] = vs.length === 1 ? vs[0]! : vs;
  }
  return out;
}

function userPropertiesFromMqtt(obj: MqttUserProperties): UserProperties {
  return Object.getOwnPropertyNames(obj).flatMap((k) => {
    const v = obj[k]!;
    return (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x]);
  });
}

function propsFromMqtt(p: object | undefined): AllProperties | undefined {
  if (p === undefined) return undefined;
  const out: Props = {};
  for (const [key, value] of Object.entries(p)) {
    const name = FROM_MQTT_NAME[key] ?? key;
    if (name === 'userProperties') out[name] = userPropertiesFromMqtt(value as MqttUserProperties);
    else if (name === 'subscriptionIdentifiers') out[name] = Array.isArray(value) ? value : [value];
    else if (typeof value === 'boolean') out[name] = value ? 1 : 0;
    else out[name] = value;
  }
  return Object.keys(out).length > 0 ? (out as AllProperties) : undefined;
}

function propsToMqtt(p: AllProperties | undefined): Props | undefined {
  if (p === undefined) return undefined;
  const out: Props = {};
  for (const [key, value] of Object.entries(p)) {
    const name = TO_MQTT_NAME[key] ?? key;
    if (key === 'userProperties') out[name] = userPropertiesToMqtt(value as UserProperties);
    else if (key === 'subscriptionIdentifiers') out[name] = (value as number[]).length === 1 ? (value as number[])[0] : value;
    else if (MQTT_BOOLEAN_PROPERTIES.has(key)) out[name] = value === 1;
    else out[name] = value;
  }
  return out;
}

/** Adds `properties` only when there are some (our normal form). */
function withProps<T extends object>(packet: T, props: AllProperties | undefined): T {
  return props === undefined ? packet : { ...packet, properties: props };
}

/** mqtt-packet's packet object -> ours, in normal form. */
function fromMqtt(mp: mqtt.Packet, version: ProtocolVersion): Packet {
  const props = propsFromMqtt('properties' in mp ? mp.properties : undefined);
  switch (mp.cmd) {
    case 'connect': {
      const level = mp.protocolVersion;
      if (level !== 4 && level !== 5) throw new Error(`unexpected protocol level ${String(level)}`);
      const p: Packet = { type: 'connect', protocolVersion: level, clean: mp.clean ?? false, keepAlive: mp.keepalive ?? 0, clientId: mp.clientId };
      if (mp.will) {
        const w = mp.will;
        const will: Will = { topic: w.topic, payload: Buffer.from(w.payload), qos: w.qos ?? 0, retain: w.retain ?? false };
        const wp = propsFromMqtt(w.properties);
        p.will = withProps(will, wp);
      }
      if (mp.username !== undefined) p.username = mp.username;
      if (mp.password !== undefined) p.password = mp.password;
      return withProps(p, props);
    }
    case 'connack':
      return withProps({ type: 'connack', sessionPresent: mp.sessionPresent, reasonCode: (version === 5 ? mp.reasonCode : mp.returnCode) ?? -1 }, props);
    case 'publish': {
      const p: Packet = { type: 'publish', topic: mp.topic, payload: Buffer.from(mp.payload), qos: mp.qos, retain: mp.retain, dup: mp.dup };
      if (mp.qos > 0) p.packetId = mp.messageId ?? -1;
      return withProps(p, props);
    }
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp':
      return version === 4
        ? { type: mp.cmd, packetId: mp.messageId ?? -1 }
        : withProps({ type: mp.cmd, packetId: mp.messageId ?? -1, reasonCode: mp.reasonCode ?? -1 }, props);
    case 'subscribe':
      return withProps({
        type: 'subscribe', packetId: mp.messageId ?? -1,
        subscriptions: mp.subscriptions.map((s): Subscription => version === 4
          ? { topicFilter: s.topic, qos: s.qos }
          : { topicFilter: s.topic, qos: s.qos, noLocal: s.nl ?? false, retainAsPublished: s.rap ?? false, retainHandling: (s.rh ?? 0) as 0 | 1 | 2 }),
      }, props);
    case 'suback':
      return withProps({ type: 'suback', packetId: mp.messageId ?? -1, reasonCodes: mp.granted as number[] }, props);
    case 'unsubscribe':
      return withProps({ type: 'unsubscribe', packetId: mp.messageId ?? -1, topicFilters: mp.unsubscriptions }, props);
    case 'unsuback':
      return version === 4
        ? { type: 'unsuback', packetId: mp.messageId ?? -1 }
        : withProps({ type: 'unsuback', packetId: mp.messageId ?? -1, reasonCodes: mp.granted }, props);
    case 'pingreq': case 'pingresp':
      return { type: mp.cmd };
    case 'disconnect':
      return version === 4 ? { type: 'disconnect' } : withProps({ type: 'disconnect', reasonCode: mp.reasonCode ?? -1 }, props);
    case 'auth':
      return withProps({ type: 'auth', reasonCode: mp.reasonCode }, props);
  }
}

/** Our packet -> mqtt-packet's object, for its generate(). */
function toMqtt(p: Packet, version: ProtocolVersion): mqtt.Packet {
  const properties = 'properties' in p ? propsToMqtt(p.properties) : undefined;
  const opt = <T extends object>(o: T): T => (properties === undefined ? o : { ...o, properties });
  switch (p.type) {
    case 'connect': {
      const c: mqtt.IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: p.clean, keepalive: p.keepAlive, clientId: p.clientId };
      if (p.will) {
        const wp = propsToMqtt(p.will.properties);
        c.will = { topic: p.will.topic, payload: p.will.payload, qos: p.will.qos, retain: p.will.retain, ...(wp === undefined ? {} : { properties: wp }) };
      }
      if (p.username !== undefined) c.username = p.username;
      if (p.password !== undefined) c.password = p.password;
      return opt(c);
    }
    case 'connack':
      return opt(version === 5 ? { cmd: 'connack', sessionPresent: p.sessionPresent, reasonCode: p.reasonCode } : { cmd: 'connack', sessionPresent: p.sessionPresent, returnCode: p.reasonCode });
    case 'publish':
      return opt({ cmd: 'publish', topic: p.topic, payload: p.payload, qos: p.qos, dup: p.dup, retain: p.retain, ...(p.packetId === undefined ? {} : { messageId: p.packetId }) });
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp':
      return opt({ cmd: p.type, messageId: p.packetId, ...(p.reasonCode === undefined ? {} : { reasonCode: p.reasonCode }) });
    case 'subscribe':
      return opt({ cmd: 'subscribe', messageId: p.packetId, subscriptions: p.subscriptions.map((s) => ({ topic: s.topicFilter, qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling })) });
    case 'suback':
      return opt({ cmd: 'suback', messageId: p.packetId, granted: p.reasonCodes });
    case 'unsubscribe':
      return opt({ cmd: 'unsubscribe', messageId: p.packetId, unsubscriptions: p.topicFilters });
    case 'unsuback':
      return opt({ cmd: 'unsuback', messageId: p.packetId, granted: p.reasonCodes ?? [] });
    case 'pingreq': case 'pingresp':
      return { cmd: p.type };
    case 'disconnect':
      return opt({ cmd: 'disconnect', ...(p.reasonCode === undefined ? {} : { reasonCode: p.reasonCode }) });
    case 'auth':
      return opt({ cmd: 'auth', reasonCode: p.reasonCode });
  }
}

/**
 * `p` as it survives mqtt-packet's object representation of User Properties: repeated names
 * grouped at the first one's place, integer-like names first (JS object key order). See the
 * 'user-properties-as-object' row.
 */
function regroupUserProperties(p: Packet): Packet {
  const fix = <T extends { properties?: AllProperties }>(x: T): T => {
    const up = x.properties?.userProperties;
    return up === undefined ? x : { ...x, properties: { ...x.properties, userProperties: userPropertiesFromMqtt(userPropertiesToMqtt(up)) } };
  };
  let q = 'properties' in p ? fix(p) : p;
  if (q.type === 'connect' && q.will !== undefined) q = { ...q, will: fix(q.will) };
  return q;
}

// ---------------------------------------------------------------------------
// Running mqtt-packet
// ---------------------------------------------------------------------------

interface MqttParse {
  packets: mqtt.Packet[];
  error: string | undefined;
}

/** Parses `bytes` with a fresh mqtt-packet parser (no version: it learns it from CONNECT, like ours). */
function mqttParse(bytes: Buffer, version?: ProtocolVersion): MqttParse {
  const parser = mqtt.parser(version === undefined ? {} : { protocolVersion: version });
  const out: MqttParse = { packets: [], error: undefined };
  parser.on('packet', (p) => out.packets.push(p));
  parser.on('error', (e: unknown) => { out.error ??= e instanceof Error ? e.message : String(e); });
  parser.parse(bytes);
  return out;
}

/** mqtt-packet's generate(); it throws (an unhandled 'error' event) when it refuses a packet. */
function mqttGenerate(p: mqtt.Packet, version: ProtocolVersion): Buffer {
  return mqtt.generate(p, { protocolVersion: version });
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function oursRejects(bytes: Buffer, version: ProtocolVersion | undefined, code: CodecErrorCode): void {
  let err: unknown;
  try {
    decodePacket(bytes, version === undefined ? {} : { version });
  } catch (e) {
    err = e;
  }
  expect(isMqttCodecError(err), `our decoder should reject ${bytes.toString('hex')}`).toBe(true);
  expect((err as { code: unknown }).code).toBe(code);
}

function theirsAccepts(bytes: Buffer, version: ProtocolVersion | undefined): mqtt.Packet {
  const r = mqttParse(bytes, version);
  expect(r.error, `mqtt-packet should accept ${bytes.toString('hex')}`).toBeUndefined();
  expect(r.packets).toHaveLength(1);
  return r.packets[0]!;
}

function theirsRejects(bytes: Buffer, version: ProtocolVersion | undefined): string {
  const r = mqttParse(bytes, version);
  expect(r.error, `mqtt-packet should reject ${bytes.toString('hex')}`).toBeDefined();
  return r.error!;
}

// ---------------------------------------------------------------------------
// Known differences
// ---------------------------------------------------------------------------

interface KnownDifference {
  id: string;
  /** Spec statement(s) or section(s) the difference is about. */
  spec: string;
  /** Which side follows the spec. */
  follows: 'ours' | 'mqtt-packet' | 'neither: the spec contradicts itself';
  summary: string;
  /** For a valid packet of ours: mqtt-packet's parser rejects or misreads encode(p). */
  parse?: (p: Packet, version: ProtocolVersion) => boolean;
  /** For a valid packet of ours: mqtt-packet's generate() refuses it. */
  generate?: (p: Packet, version: ProtocolVersion) => boolean;
  /** Asserts the difference still exists. */
  witness: () => void;
}

const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  // --- valid packets on which the two disagree --------------------------------------------
  {
    id: 'disconnect-reason-0x8c',
    spec: '5.0 Table 2-6 vs Table 3-10, MQTT-3.14.2-1',
    follows: 'neither: the spec contradicts itself',
    summary: 'Table 2-6 lists 0x8C (Bad authentication method) for CONNACK and DISCONNECT, but Table 3-10, the list MQTT-3.14.2-1 requires DISCONNECT to use, omits it. '
      + 'Ours (reason-codes.ts) follows Table 2-6 and accepts it; mqtt-packet follows Table 3-10 and rejects it.',
    parse: (p, v) => v === 5 && p.type === 'disconnect' && p.reasonCode === 0x8c,
    witness: () => {
      const bytes = hex('e0 01 8c');
      expect(decodePacket(bytes, { version: 5 })).toStrictEqual({ type: 'disconnect', reasonCode: 0x8c });
      expect(theirsRejects(bytes, 5)).toMatch(/disconnect reason code/);
    },
  },
  {
    id: 'auth-remaining-length-0',
    spec: '5.0 §3.15.2.1',
    follows: 'ours',
    summary: '"The Reason Code and Property Length can be omitted if the Reason Code is 0x00 (Success) and there are no Properties. In this case the AUTH has a Remaining Length of 0." '
      + 'mqtt-packet always reads a reason code and rejects F0 00. (Our arbitraries never produce it: an AUTH always carries an Authentication Method, §3.15.2.2.2.)',
    parse: (p, v) => v === 5 && p.type === 'auth' && p.reasonCode === 0 && p.properties === undefined,
    witness: () => {
      const bytes = hex('f0 00');
      expect(decodePacket(bytes, { version: 5 })).toStrictEqual({ type: 'auth', reasonCode: 0 });
      expect(encode({ type: 'auth', reasonCode: 0 }, 5)).toStrictEqual(bytes);
      expect(theirsRejects(bytes, 5)).toMatch(/auth reason code/);
    },
  },
  {
    id: 'disconnect-remaining-length-0-then-more',
    spec: '5.0 §3.14.2.1',
    follows: 'ours',
    summary: '"If the Remaining Length is less than 1 the value of 0x00 (Normal disconnection) is used." mqtt-packet reads a DISCONNECT reason code whenever *any* bytes are buffered, '
      + 'so a bare DISCONNECT followed by another packet in the same chunk takes that packet\'s first byte as its reason code. (The property tests parse one packet per parser, so this shows only here.)',
    witness: () => {
      const bytes = hex('e0 00 c0 00'); // DISCONNECT (Remaining Length 0), PINGREQ
      const d = new Decoder({ version: 5 });
      expect(d.decodeAll(bytes)).toStrictEqual([{ type: 'disconnect', reasonCode: 0 }, { type: 'pingreq' }]);
      expect(theirsRejects(bytes, 5)).toMatch(/disconnect reason code/);
    },
  },
  {
    id: 'user-properties-as-object',
    spec: '5.0 §3.3.2.3.7, MQTT-3.3.2-17, MQTT-3.3.2-18, MQTT-3.1.3-10',
    follows: 'ours',
    summary: 'User Properties are an ordered list in which a name may repeat, and a server MUST keep their order when forwarding. mqtt-packet represents them as an object: values of a repeated '
      + 'name are grouped at its first position and integer-like names move to the front, so interleaved order is lost. Comparisons go through regroupUserProperties().',
    witness: () => {
      const pairs: UserProperties = [['b', '1'], ['a', '2'], ['b', '3'], ['7', '4']];
      const p: Packet = { type: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { userProperties: pairs } };
      const theirs = fromMqtt(theirsAccepts(encode(p, 5), 5), 5);
      const got = theirs.type === 'publish' ? theirs.properties?.userProperties : undefined;
      expect(got).toStrictEqual([['7', '4'], ['b', '1'], ['b', '3'], ['a', '2']]);
      expect(got).not.toStrictEqual(pairs);
      expect(decodePacket(mqttGenerate(toMqtt(p, 5), 5), { version: 5 })).toStrictEqual(regroupUserProperties(p));
      expect(regroupUserProperties(p)).not.toStrictEqual(p);
    },
  },
  {
    id: 'user-property-repeated-after-empty-value',
    spec: '5.0 §1.5.7, §3.3.2.3.7, MQTT-3.3.2-17',
    follows: 'ours',
    summary: 'A User Property name may repeat and a value may be the empty string. mqtt-packet\'s parser tests the earlier value for truthiness, so when a name first appears '
      + 'with value "" and then again, the later value overwrites the "" (one property is lost).',
    parse: (p) => userPropertyLists(p).some(repeatsAfterEmptyValue),
    witness: () => {
      const p: Packet = { type: 'puback', packetId: 1, reasonCode: 0, properties: { userProperties: [['k', ''], ['k', 'x']] } };
      const bytes = encode(p, 5);
      expect(decodePacket(bytes, { version: 5 })).toStrictEqual(p);
      expect(theirsAccepts(bytes, 5)).toMatchObject({ properties: { userProperties: { k: 'x' } } });
    },
  },
  {
    id: 'v5-password-without-username',
    spec: '5.0 §3.1.2.9 (3.1.1: MQTT-3.1.2-22)',
    follows: 'ours',
    summary: '5.0 allows a Password without a User Name ("This version of the protocol allows the sending of a Password with no User Name, where MQTT v3.1.1 did not"). '
      + 'mqtt-packet\'s generate() refuses it in every version; its parser accepts it.',
    generate: (p, v) => v === 5 && p.type === 'connect' && p.password !== undefined && p.username === undefined,
    witness: () => {
      const p: Packet = { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 0, clientId: 'c', password: Buffer.from('pw') };
      expect(decodePacket(encode(p, 5))).toStrictEqual(p);
      expect(() => mqttGenerate(toMqtt(p, 5), 5)).toThrow(/Username is required/);
      expect(fromMqtt(theirsAccepts(encode(p, 5), undefined), 5)).toStrictEqual(p);
    },
  },
  {
    id: 'v5-empty-client-id-clean-start-0',
    spec: '5.0 §3.1.3.1, MQTT-3.1.3-6 (the 3.1.1 rule MQTT-3.1.3-7 is gone in 5.0)',
    follows: 'ours',
    summary: 'In 5.0 a Client may send a zero-length ClientID with Clean Start 0 (the Server assigns one). mqtt-packet\'s generate() still applies the 3.1.1 rule and refuses it.',
    generate: (p, v) => v === 5 && p.type === 'connect' && p.clientId === '' && !p.clean,
    witness: () => {
      const p: Packet = { type: 'connect', protocolVersion: 5, clean: false, keepAlive: 0, clientId: '' };
      expect(decodePacket(encode(p, 5))).toStrictEqual(p);
      expect(() => mqttGenerate(toMqtt(p, 5), 5)).toThrow(/clientId must be given/);
    },
  },
  // --- mqtt-packet accepts what the spec forbids (it is not a rejection oracle) ---------------
  {
    id: 'lax-wildcard-in-topic-name',
    spec: 'MQTT-3.3.2-2',
    follows: 'ours',
    summary: 'A Topic Name in PUBLISH MUST NOT contain wildcards; mqtt-packet accepts "a/#".',
    witness: () => {
      const bytes = encode({ type: 'publish', topic: 'a/#', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 4, { validate: false });
      oursRejects(bytes, 4, 'TOPIC_NAME_WILDCARD');
      theirsAccepts(bytes, 4);
    },
  },
  {
    id: 'lax-packet-id-zero',
    spec: '3.1.1 MQTT-2.3.1-1, 5.0 MQTT-2.2.1-3',
    follows: 'ours',
    summary: 'A QoS > 0 PUBLISH (and SUBSCRIBE, UNSUBSCRIBE, acks) needs a non-zero Packet Identifier; mqtt-packet accepts 0.',
    witness: () => {
      const bytes = encode({ type: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 1, retain: false, dup: false, packetId: 0 }, 4, { validate: false });
      oursRejects(bytes, 4, 'PACKET_ID_ZERO');
      expect(theirsAccepts(bytes, 4).messageId).toBe(0);
    },
  },
  {
    id: 'lax-ill-formed-utf8',
    spec: '3.1.1 MQTT-1.5.3-1, 5.0 MQTT-1.5.4-1',
    follows: 'ours',
    summary: 'Ill-formed UTF-8 is a Malformed Packet; mqtt-packet decodes it leniently (U+FFFD).',
    witness: () => {
      const bytes = hex('30 03 00 01 ff');
      oursRejects(bytes, 4, 'INVALID_UTF8');
      expect(theirsAccepts(bytes, 4)).toMatchObject({ topic: '\ufffd' });
    },
  },
  {
    id: 'lax-null-character',
    spec: '3.1.1 MQTT-1.5.3-2, 5.0 MQTT-1.5.4-2',
    follows: 'ours',
    summary: 'A UTF-8 string MUST NOT contain U+0000; mqtt-packet accepts it.',
    witness: () => {
      const bytes = hex('30 03 00 01 00');
      oursRejects(bytes, 4, 'UTF8_NULL_CHAR');
      expect(theirsAccepts(bytes, 4)).toMatchObject({ topic: '\u0000' });
    },
  },
  {
    id: 'lax-duplicate-property',
    spec: '5.0 §2.2.2.2, §3.3.2.3.9 ("It is a Protocol Error to include the Content Type more than once")',
    follows: 'ours',
    summary: 'A non-repeatable property twice is a Protocol Error; mqtt-packet turns the values into an array.',
    witness: () => {
      const bytes = hex('30 0c 0001 61 08 03 0001 61 03 0001 62'); // PUBLISH 'a', Content Type 'a' and 'b'
      oursRejects(bytes, 5, 'DUPLICATE_PROPERTY');
      expect(theirsAccepts(bytes, 5)).toMatchObject({ properties: { contentType: ['a', 'b'] } });
    },
  },
  {
    id: 'lax-property-in-wrong-packet',
    spec: '5.0 §2.2.2.2 (Table 2-4)',
    follows: 'ours',
    summary: 'A property outside the packets Table 2-4 lists for it is malformed; mqtt-packet accepts e.g. a Topic Alias in PUBACK.',
    witness: () => {
      const bytes = hex('40 07 0001 00 03 23 0001'); // PUBACK id 1, reason 0, Topic Alias 1
      oursRejects(bytes, 5, 'PROPERTY_NOT_ALLOWED');
      expect(theirsAccepts(bytes, 5)).toMatchObject({ properties: { topicAlias: 1 } });
    },
  },
  {
    id: 'lax-session-present-with-error',
    spec: '3.1.1 MQTT-3.2.2-4, 5.0 MQTT-3.2.2-6',
    follows: 'ours',
    summary: 'A CONNACK with a non-zero code MUST have Session Present 0; mqtt-packet accepts Session Present 1.',
    witness: () => {
      const bytes = hex('20 02 01 05');
      oursRejects(bytes, 4, 'SESSION_PRESENT_WITH_ERROR');
      expect(theirsAccepts(bytes, 4)).toMatchObject({ sessionPresent: true, returnCode: 5 });
    },
  },
  {
    id: 'lax-invalid-topic-filter',
    spec: '3.1.1 MQTT-4.7.1-2, 5.0 MQTT-4.7.1-1',
    follows: 'ours',
    summary: "'#' MUST be the last level of a Topic Filter; mqtt-packet accepts 'a/#/b' in SUBSCRIBE (it does not check filters at all).",
    witness: () => {
      const bytes = encode({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a/#/b', qos: 0 }] }, 4, { validate: false });
      oursRejects(bytes, 4, 'TOPIC_FILTER_INVALID');
      theirsAccepts(bytes, 4);
    },
  },
  {
    id: 'lax-empty-subscribe',
    spec: '3.1.1 MQTT-3.8.3-3, 5.0 MQTT-3.8.3-2',
    follows: 'ours',
    summary: 'A SUBSCRIBE MUST carry at least one Topic Filter; mqtt-packet accepts one with none.',
    witness: () => {
      const bytes = encode({ type: 'subscribe', packetId: 1, subscriptions: [] }, 4, { validate: false });
      oursRejects(bytes, 4, 'EMPTY_SUBSCRIBE');
      expect(theirsAccepts(bytes, 4)).toMatchObject({ subscriptions: [] });
    },
  },
  {
    id: 'lax-non-minimal-varint',
    spec: '5.0 MQTT-1.5.5-1',
    follows: 'ours',
    summary: 'A Variable Byte Integer MUST use the fewest bytes; mqtt-packet accepts C0 80 00 (PINGREQ, Remaining Length 0 in two bytes).',
    witness: () => {
      const bytes = hex('c0 80 00');
      oursRejects(bytes, 5, 'VARINT_NOT_MINIMAL');
      expect(theirsAccepts(bytes, 5)).toMatchObject({ cmd: 'pingreq' });
    },
  },
];

/** Every User Property list in `p` (packet properties and Will properties). */
function userPropertyLists(p: Packet): UserProperties[] {
  const lists: UserProperties[] = [];
  if ('properties' in p && p.properties?.userProperties !== undefined) lists.push(p.properties.userProperties);
  if (p.type === 'connect' && p.will?.properties?.userProperties !== undefined) lists.push(p.will.properties.userProperties);
  return lists;
}

/** Whether some name occurs again after first occurring with the empty value. */
function repeatsAfterEmptyValue(pairs: UserProperties): boolean {
  const first = new Map<string, string>();
  for (const [k, v] of pairs) {
    if (first.get(k) === '') return true;
    if (!first.has(k)) first.set(k, v);
  }
  return false;
}

function knownParseDifference(p: Packet, v: ProtocolVersion): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((d) => d.parse?.(p, v) ?? false);
}

function knownGenerateDifference(p: Packet, v: ProtocolVersion): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((d) => d.generate?.(p, v) ?? false);
}

/** Checks mqtt-packet's reading of `bytes` (which ours decodes to `ours`) against the table. */
function expectSameReading(bytes: Buffer, ours: Packet, v: ProtocolVersion): void {
  const r = mqttParse(bytes, ours.type === 'connect' ? undefined : v);
  const known = knownParseDifference(ours, v);
  if (known !== undefined) {
    const same = r.error === undefined && r.packets.length === 1 && isDeepStrictEqual(fromMqtt(r.packets[0]!, v), regroupUserProperties(ours));
    expect(same, `known difference '${known.id}' no longer shows on ${bytes.toString('hex')}: update KNOWN_DIFFERENCES`).toBe(false);
    return;
  }
  expect(r.error, `mqtt-packet rejects ${ours.type.toUpperCase()} ${bytes.toString('hex')} that ours accepts`).toBeUndefined();
  expect(r.packets).toHaveLength(1);
  expect(fromMqtt(r.packets[0]!, v)).toStrictEqual(regroupUserProperties(ours));
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe.each(VERSIONS)('protocol level %i', (v) => {
  const packets: Arbitrary<Packet> = arbitraryPacket(v);

  test('mqtt-packet parses our encoding of any valid packet to the same fields', () => {
    fc.assert(fc.property(packets, (p) => expectSameReading(encode(p, v), p, v)), fcParameters(1000));
  });

  test("our decoder reads mqtt-packet's encoding of any valid packet back to the same packet", () => {
    fc.assert(fc.property(packets, (p) => {
      const mp = toMqtt(p, v);
      const known = knownGenerateDifference(p, v);
      if (known !== undefined) {
        expect(() => mqttGenerate(mp, v), `known difference '${known.id}' no longer shows: update KNOWN_DIFFERENCES`).toThrow();
        return;
      }
      const bytes = mqttGenerate(mp, v);
      expect(decodePacket(bytes, p.type === 'connect' ? {} : { version: v })).toStrictEqual(regroupUserProperties(p));
    }), fcParameters(1000));
  });

  test('on near-valid bytes, whatever ours accepts mqtt-packet reads the same way', () => {
    const mutation = fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'set', 'drop'), bit: fc.integer({ min: 0, max: 7 }), value: fc.integer({ min: 0, max: 255 }) });
    fc.assert(fc.property(packets, mutation, (p, m) => {
      const b = Buffer.from(encode(p, v));
      const i = m.at % b.length;
      const bytes = m.kind === 'drop' ? Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]) : b;
      if (m.kind === 'flip') bytes[i] = bytes[i]! ^ (1 << m.bit);
      if (m.kind === 'set') bytes[i] = m.value;
      let ours: Packet;
      try {
        ours = decodePacket(bytes, (bytes[0] ?? 0) >> 4 === 1 ? {} : { version: v });
      } catch (e) {
        if (isMqttCodecError(e)) return; // ours rejects: mqtt-packet may well accept (see the lax-* rows)
        throw e;
      }
      const level = ours.type === 'connect' ? ours.protocolVersion : v;
      expectSameReading(bytes, ours, level);
    }), fcParameters(3000));
  });
});

describe('known differences from mqtt-packet', () => {
  test.each(KNOWN_DIFFERENCES.map((d) => [d.id, d] as const))('%s still exists', (_id, d) => {
    d.witness();
  });

  test('every row names a spec reference, a side and a witness', () => {
    const ids = new Set<string>();
    for (const d of KNOWN_DIFFERENCES) {
      expect(d.spec).toMatch(/MQTT-|§|Table/);
      expect(d.summary.length).toBeGreaterThan(20);
      expect(ids.has(d.id)).toBe(false);
      ids.add(d.id);
    }
  });
});

/**
 * MQTT 5.0 properties (§2.2.2): one table gives each property's identifier,
 * data type, the packets it may appear in, whether it may repeat there, and
 * its value rule. Decoding and encoding both read the table.
 */
import { MAX_VARINT } from './constants.js';
import { MALFORMED_PACKET, PROTOCOL_ERROR } from './errors.js';
import type { Reader } from './reader.js';
import type { AllProperties, PropertyName } from './types.js';
import { varintSize, writeVarint } from './varint.js';
import { type EncodeCtx, writeBin, writeStr } from './wire.js';

export type PropertyContext =
  | 'connect' | 'will' | 'connack' | 'publish' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'
  | 'subscribe' | 'suback' | 'unsubscribe' | 'unsuback' | 'disconnect' | 'auth';

export type PropertyType = 'byte' | 'u16' | 'u32' | 'varint' | 'utf8' | 'binary' | 'pair';

export interface PropertyDef {
  readonly id: number;
  readonly name: PropertyName;
  readonly type: PropertyType;
  readonly contexts: readonly PropertyContext[];
  /** Contexts where the property may appear more than once. */
  readonly repeatable?: readonly PropertyContext[];
  /** Value rule; returns what is wrong, or undefined. */
  readonly check?: (v: number) => string | undefined;
  /** Spec section defining the property in its main packet. */
  readonly section: string;
  /** Numbered statement broken when `check` fails, if the spec numbers one. */
  readonly statement?: string;
  /** 5.0 reason code for a failed `check` (default 0x82 Protocol Error). */
  readonly failReason?: number;
}

const acks: PropertyContext[] = ['puback', 'pubrec', 'pubrel', 'pubcomp'];
const everywhere: PropertyContext[] = [
  'connect', 'will', 'connack', 'publish', ...acks, 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'disconnect', 'auth',
];
const zeroOrOne = (v: number): string | undefined => (v > 1 ? `must be 0 or 1, got ${v}` : undefined);
const nonZero = (v: number): string | undefined => (v === 0 ? 'must not be 0' : undefined);

/** 5.0 Table 2-4 Properties. */
export const PROPERTIES: readonly PropertyDef[] = [
  { id: 0x01, name: 'payloadFormatIndicator', type: 'byte', contexts: ['publish', 'will'], check: zeroOrOne, section: '3.3.2.3.2' },
  { id: 0x02, name: 'messageExpiryInterval', type: 'u32', contexts: ['publish', 'will'], section: '3.3.2.3.3' },
  { id: 0x03, name: 'contentType', type: 'utf8', contexts: ['publish', 'will'], section: '3.3.2.3.9' },
  { id: 0x08, name: 'responseTopic', type: 'utf8', contexts: ['publish', 'will'], section: '3.3.2.3.5' },
  { id: 0x09, name: 'correlationData', type: 'binary', contexts: ['publish', 'will'], section: '3.3.2.3.6' },
  { id: 0x0b, name: 'subscriptionIdentifiers', type: 'varint', contexts: ['publish', 'subscribe'], repeatable: ['publish'], check: nonZero, section: '3.8.2.1.2' },
  { id: 0x11, name: 'sessionExpiryInterval', type: 'u32', contexts: ['connect', 'connack', 'disconnect'], section: '3.1.2.11.2' },
  { id: 0x12, name: 'assignedClientIdentifier', type: 'utf8', contexts: ['connack'], section: '3.2.2.3.7' },
  { id: 0x13, name: 'serverKeepAlive', type: 'u16', contexts: ['connack'], section: '3.2.2.3.14' },
  { id: 0x15, name: 'authenticationMethod', type: 'utf8', contexts: ['connect', 'connack', 'auth'], section: '3.1.2.11.9' },
  { id: 0x16, name: 'authenticationData', type: 'binary', contexts: ['connect', 'connack', 'auth'], section: '3.1.2.11.10' },
  { id: 0x17, name: 'requestProblemInformation', type: 'byte', contexts: ['connect'], check: zeroOrOne, section: '3.1.2.11.7' },
  { id: 0x18, name: 'willDelayInterval', type: 'u32', contexts: ['will'], section: '3.1.3.2.2' },
  { id: 0x19, name: 'requestResponseInformation', type: 'byte', contexts: ['connect'], check: zeroOrOne, section: '3.1.2.11.6' },
  { id: 0x1a, name: 'responseInformation', type: 'utf8', contexts: ['connack'], section: '3.2.2.3.15' },
  { id: 0x1c, name: 'serverReference', type: 'utf8', contexts: ['connack', 'disconnect'], section: '3.2.2.3.16' },
  { id: 0x1f, name: 'reasonString', type: 'utf8', contexts: ['connack', ...acks, 'suback', 'unsuback', 'disconnect', 'auth'], section: '3.2.2.3.9' },
  { id: 0x21, name: 'receiveMaximum', type: 'u16', contexts: ['connect', 'connack'], check: nonZero, section: '3.1.2.11.3' },
  { id: 0x22, name: 'topicAliasMaximum', type: 'u16', contexts: ['connect', 'connack'], section: '3.1.2.11.5' },
  { id: 0x23, name: 'topicAlias', type: 'u16', contexts: ['publish'], check: nonZero, section: '3.3.2.3.4', statement: 'MQTT-3.3.2-8', failReason: 0x94 },
  { id: 0x24, name: 'maximumQoS', type: 'byte', contexts: ['connack'], check: zeroOrOne, section: '3.2.2.3.4' },
  { id: 0x25, name: 'retainAvailable', type: 'byte', contexts: ['connack'], check: zeroOrOne, section: '3.2.2.3.5' },
  { id: 0x26, name: 'userProperties', type: 'pair', contexts: everywhere, repeatable: everywhere, section: '3.1.2.11.8' },
  { id: 0x27, name: 'maximumPacketSize', type: 'u32', contexts: ['connect', 'connack'], check: nonZero, section: '3.1.2.11.4' },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', type: 'byte', contexts: ['connack'], check: zeroOrOne, section: '3.2.2.3.11' },
  { id: 0x29, name: 'subscriptionIdentifierAvailable', type: 'byte', contexts: ['connack'], check: zeroOrOne, section: '3.2.2.3.12' },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', type: 'byte', contexts: ['connack'], check: zeroOrOne, section: '3.2.2.3.13' },
];

const CONTEXTS: readonly PropertyContext[] = [
  'connect', 'will', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'disconnect', 'auth',
];
const CONTEXT_BIT = Object.fromEntries(CONTEXTS.map((c, i) => [c, 1 << i])) as Record<PropertyContext, number>;
const bits = (cs: readonly PropertyContext[] | undefined): number => (cs ?? []).reduce((m, c) => m | CONTEXT_BIT[c], 0);

/** Decoder's view of a property: placement as bit masks and field names built once (they name errors). */
interface Compiled {
  def: PropertyDef;
  allowed: number;
  repeatable: number;
  field: string;
  nameField: string;
  valueField: string;
}
const COMPILED: (Compiled | undefined)[] = [];

const BY_ID: (PropertyDef | undefined)[] = [];
const BY_NAME = new Map<string, PropertyDef>();
const ALLOWED = new Map<PropertyDef, Set<PropertyContext>>();
const REPEATABLE = new Map<PropertyDef, Set<PropertyContext>>();
for (const d of PROPERTIES) {
  BY_ID[d.id] = d;
  BY_NAME.set(d.name, d);
  ALLOWED.set(d, new Set(d.contexts));
  REPEATABLE.set(d, new Set(d.repeatable ?? []));
  const field = `properties.${d.name}`;
  COMPILED[d.id] = { def: d, allowed: bits(d.contexts), repeatable: bits(d.repeatable), field, nameField: `${field}.name`, valueField: `${field}.value` };
}

export function propertyById(id: number): PropertyDef | undefined {
  return BY_ID[id];
}
export function propertyByName(name: string): PropertyDef | undefined {
  return BY_NAME.get(name);
}
export function isPropertyAllowed(name: PropertyName, ctx: PropertyContext): boolean {
  const d = BY_NAME.get(name);
  return d !== undefined && ALLOWED.get(d)!.has(ctx);
}

type Mutable = Record<string, unknown>;

/**
 * Reads a Property Length and the properties after it. Returns undefined when
 * the length is 0, so decoded packets carry `properties` only when some were sent.
 */
export function readProperties(r: Reader, ctx: PropertyContext): AllProperties | undefined {
  const len = r.varint('properties.length');
  if (len === 0) return undefined;
  const end = r.pos + len;
  if (end > r.end) throw r.truncated('properties', `property length ${len} runs past the end of the packet`);
  const outerEnd = r.end;
  r.end = end;
  const props: Mutable = {};
  const ctxBit = CONTEXT_BIT[ctx];
  while (r.pos < end) {
    const id = r.varint('properties.identifier');
    const c = COMPILED[id];
    if (!c) {
      throw r.error('UNKNOWN_PROPERTY', `unknown property identifier 0x${id.toString(16)}`, 'properties', { section: '2.2.2.2', reasonCode: MALFORMED_PACKET });
    }
    const def = c.def;
    const field = c.field;
    if ((c.allowed & ctxBit) === 0) {
      throw r.error('PROPERTY_NOT_ALLOWED', `${def.name} (0x${id.toString(16)}) may not appear in ${ctx}`, field, { section: '2.2.2.2', reasonCode: MALFORMED_PACKET });
    }
    let value: unknown;
    switch (def.type) {
      case 'byte': value = r.u8(field); break;
      case 'u16': value = r.u16(field); break;
      case 'u32': value = r.u32(field); break;
      case 'varint': value = r.varint(field); break;
      case 'utf8': value = r.utf8(field); break;
      case 'binary': value = r.binary(field); break;
      case 'pair': value = [r.utf8(c.nameField), r.utf8(c.valueField)]; break;
    }
    if (def.check && typeof value === 'number') {
      const bad = def.check(value);
      if (bad) throw r.error(def.name === 'topicAlias' ? 'TOPIC_ALIAS_ZERO' : 'INVALID_PROPERTY_VALUE', `${def.name} ${bad}`, field, { statement: def.statement, section: def.section, reasonCode: def.failReason ?? PROTOCOL_ERROR });
    }
    const key = def.name;
    if (def.type === 'pair' || def.name === 'subscriptionIdentifiers') {
      const list = props[key] as unknown[] | undefined;
      if (list === undefined) props[key] = [value];
      else if ((c.repeatable & ctxBit) !== 0) list.push(value);
      else throw r.error('DUPLICATE_PROPERTY', `${def.name} appears more than once`, field, { section: def.section, reasonCode: PROTOCOL_ERROR });
    } else if (props[key] !== undefined) {
      throw r.error('DUPLICATE_PROPERTY', `${def.name} appears more than once`, field, { section: def.section, reasonCode: PROTOCOL_ERROR });
    } else {
      props[key] = value;
    }
  }
  r.end = outerEnd;
  if (ctx !== 'will' && props['authenticationData'] !== undefined && props['authenticationMethod'] === undefined) {
    throw r.error('AUTH_DATA_WITHOUT_METHOD', 'Authentication Data without Authentication Method', 'properties.authenticationData', { section: '3.1.2.11.10', reasonCode: PROTOCOL_ERROR });
  }
  return props as AllProperties;
}

/** Length of the properties' content for a packet being encoded; in 3.1.1 there are none (and none may be given). */
export function propertiesLength(props: AllProperties | undefined, pctx: PropertyContext, ctx: EncodeCtx): number {
  if (ctx.version === 4) {
    ctx.noV5(pctx === 'will' ? 'will.properties' : 'properties', props);
    return 0;
  }
  return propertiesSize(props, pctx, ctx);
}

/** Bytes taken by Property Length plus properties of content length `len`: nothing in 3.1.1. */
export function propertiesBlockSize(len: number, version: 4 | 5): number {
  return version === 5 ? varintSize(len) + len : 0;
}

const MAX_BY_TYPE: Record<'byte' | 'u16' | 'u32' | 'varint', number> = { byte: 0xff, u16: 0xffff, u32: 0xffffffff, varint: MAX_VARINT };
const FIXED_SIZE: Record<'byte' | 'u16' | 'u32', number> = { byte: 1, u16: 2, u32: 4 };

/** Size in bytes of the properties' content (without the Property Length varint). Validates as it goes. */
export function propertiesSize(props: AllProperties | undefined, pctx: PropertyContext, ctx: EncodeCtx): number {
  if (props === undefined) return 0;
  let size = 0;
  const p = props as Mutable;
  for (const key in p) {
    const v = p[key];
    if (v === undefined) continue;
    const def = BY_NAME.get(key);
    const field = `properties.${key}`;
    if (!def) throw ctx.error('PROPERTY_NOT_ALLOWED', field, `unknown property ${key}`, undefined, '2.2.2.2');
    if (ctx.validate && !ALLOWED.get(def)!.has(pctx)) throw ctx.error('PROPERTY_NOT_ALLOWED', field, `${key} may not appear in ${pctx}`, undefined, '2.2.2.2');
    switch (def.type) {
      case 'byte': case 'u16': case 'u32': {
        const n = ctx.int(field, v, 0, MAX_BY_TYPE[def.type]);
        if (ctx.validate && def.check?.(n)) throw ctx.error('INVALID_PROPERTY_VALUE', field, `${key} ${def.check(n)!}`, undefined, def.section);
        size += 1 + FIXED_SIZE[def.type];
        break;
      }
      case 'varint': {
        if (!Array.isArray(v)) throw ctx.error('VALUE_OUT_OF_RANGE', field, 'must be an array of integers');
        if (ctx.validate && v.length > 1 && !REPEATABLE.get(def)!.has(pctx)) throw ctx.error('INVALID_PROPERTY_VALUE', field, `only one ${key} allowed in ${pctx}`, undefined, def.section);
        for (const x of v) {
          const n = ctx.int(field, x, 0, MAX_VARINT);
          if (ctx.validate && def.check?.(n)) throw ctx.error('INVALID_PROPERTY_VALUE', field, `${key} ${def.check(n)!}`, undefined, def.section);
          size += 1 + varintSize(n);
        }
        break;
      }
      case 'utf8': size += 3 + ctx.str(field, v); break;
      case 'binary': size += 3 + ctx.bin(field, v); break;
      case 'pair': {
        if (!Array.isArray(v)) throw ctx.error('VALUE_OUT_OF_RANGE', field, 'must be an array of [name, value] pairs');
        for (const pair of v as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) throw ctx.error('VALUE_OUT_OF_RANGE', field, 'each entry must be [name, value]');
          size += 5 + ctx.str(`${field}.name`, pair[0]) + ctx.str(`${field}.value`, pair[1]);
        }
        break;
      }
    }
  }
  // Mirror of readProperties' rule, so encode(validate) never produces what the decoder rejects.
  if (ctx.validate && pctx !== 'will' && p['authenticationData'] !== undefined && p['authenticationMethod'] === undefined) {
    throw ctx.error('AUTH_DATA_WITHOUT_METHOD', 'properties.authenticationData', 'Authentication Data without Authentication Method', undefined, '3.1.2.11.10');
  }
  return size;
}

/** Writes Property Length (`size`, from propertiesSize) and the properties; returns the new offset. */
export function writeProperties(buf: Buffer, o: number, props: AllProperties | undefined, size: number): number {
  o = writeVarint(buf, o, size);
  if (props === undefined || size === 0) return o;
  const p = props as Mutable;
  for (const key in p) {
    const v = p[key];
    if (v === undefined) continue;
    const def = BY_NAME.get(key)!;
    switch (def.type) {
      case 'byte': buf[o++] = def.id; buf[o++] = v as number; break;
      case 'u16': buf[o++] = def.id; o = buf.writeUInt16BE(v as number, o); break;
      case 'u32': buf[o++] = def.id; o = buf.writeUInt32BE(v as number, o); break;
      case 'varint':
        for (const x of v as number[]) { buf[o++] = def.id; o = writeVarint(buf, o, x); }
        break;
      case 'utf8': buf[o++] = def.id; o = writeStr(buf, o, v as string, Buffer.byteLength(v as string)); break;
      case 'binary': {
        const b = v as Uint8Array;
        buf[o++] = def.id;
        o = writeBin(buf, o, b);
        break;
      }
      case 'pair':
        for (const [name, value] of v as [string, string][]) {
          buf[o++] = def.id;
          o = writeStr(buf, o, name, Buffer.byteLength(name));
          o = writeStr(buf, o, value, Buffer.byteLength(value));
        }
        break;
    }
  }
  return o;
}

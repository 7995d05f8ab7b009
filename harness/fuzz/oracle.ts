/**
 * The fuzz oracle: what a correct Server must do with the bytes one client
 * connection sends. The codec decodes them as the Server would (role
 * 'server', the server's Maximum Packet Size); the first packet that is
 * malformed or breaks a rule decides the verdict, with the MqttCodecError's
 * 5.0 reason code and statement. Packets that decode are run through the
 * connection-level rules the codec cannot see (CONNECT first and once,
 * Topic Aliases, limits the server announced, AUTH with no exchange, ...).
 *
 * Where the spec lets a server choose (validate a Payload Format Indicator or
 * not, refuse a CONNECT with a CONNACK or just close) every allowed answer is
 * listed, so a verdict is right for any conforming server.
 */
import { isUtf8 } from 'node:buffer';
import {
  Decoder, isMqttCodecError, isReasonCodeAllowed, isSharedFilter, PROTOCOL_ERROR,
  type ConnectPacket, type MqttCodecError, type Packet, type ProtocolVersion,
} from '../../codec/index.js';
import { isDiscouragedCodePoint } from '../../codec/arbitraries.js';
import type { ServerModel } from './server-model.js';

/** What a server sends before closing a connection it must close. */
export type Answer =
  /** CONNACK with one of `codes` (3.1.1 return codes, 5.0 reason codes); `required`: closing without it is wrong. */
  | { via: 'connack'; codes: readonly number[]; required: boolean }
  /** 5.0: DISCONNECT with one of `codes` after a successful CONNACK ("SHOULD", 5.0 §4.13.1). */
  | { via: 'disconnect'; codes: readonly number[] }
  /** Nothing: 3.1.1 protocol errors, and anything before the protocol version is known. */
  | { via: 'none' };

/** Another way a server MAY end the connection here, with the reason it may. */
export interface Alternative {
  via: 'connack' | 'disconnect' | 'silent';
  codes: readonly number[];
  why: string;
  /** A CONNACK alternative: closing without any CONNACK is allowed too (the CONNECT itself is at fault). */
  silentToo?: boolean;
}

interface VerdictBase {
  /** Protocol version of the CONNECT, when one decoded. */
  version: ProtocolVersion | undefined;
  /** A CONNECT was accepted: a CONNACK with code 0 is due. */
  connected: boolean;
  connect: ConnectPacket | undefined;
  /** PINGREQs the server must answer before the verdict point. */
  pingreqs: number;
  /** Packets decoded before the verdict point (the deciding one included). */
  packets: number;
  alternatives: Alternative[];
}

export type Verdict = VerdictBase & (
  /** Every packet is acceptable: the connection stays open and is served. */
  | { kind: 'accept' }
  /** The bytes stop inside a packet (or before any): a server waits for the rest. */
  | { kind: 'incomplete' }
  /** The client sent DISCONNECT: the server closes, sending nothing. */
  | { kind: 'client-disconnect' }
  /** The server must close; `answer` says what it may or must send first. `mayStayOpen`: the codec is stricter than the spec here (why). */
  | { kind: 'close'; answer: Answer; rule: string; why: string; statement: string | undefined; section: string | undefined; mayStayOpen?: string }
);

export type CloseVerdict = Extract<Verdict, { kind: 'close' }>;

/** The decoder threw something other than an MqttCodecError: a codec bug, found in-process. */
export class CodecCrash extends Error {
  override readonly name = 'CodecCrash';
  readonly code = 'FUZZ_CODEC_CRASH';
  constructor(override readonly cause: unknown) {
    super(`the decoder threw a non-codec exception: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
  }
}

/** CONNACK codes a server may refuse any CONNECT with for its own reasons (identity, authorization, load): tolerated on non-exact targets. */
const OWN_REASONS_V5 = [0x80, 0x83, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9f];
const OWN_REASONS_V4 = [0x02, 0x03, 0x04, 0x05];
/**
 * A client Maximum Packet Size below this may leave no room for the server's CONNACK (MQTT-3.1.2-24): the
 * reference broker's largest (assigned ClientId, Session Expiry, Maximum Packet Size, Topic Alias Maximum) is
 * under 50 bytes; another server's CONNACK may carry more.
 */
const TINY_CLIENT_PACKET_SIZE = { exact: 64, other: 512 };
/** A server whose Maximum Packet Size is not known (3.1.1 states none) may refuse packets larger than this. */
const UNKNOWN_LIMIT_FLOOR = 64 * 1024;

/** The largest whole-packet size the fixed headers in `stream` declare, walking header to header. */
function largestDeclared(stream: Buffer): number {
  let max = 0;
  let off = 0;
  while (off + 1 < stream.length) {
    let rl = 0;
    let mult = 1;
    let i = off + 1;
    for (; i < off + 5 && i < stream.length; i++) {
      rl += (stream[i]! & 0x7f) * mult;
      mult *= 128;
      if ((stream[i]! & 0x80) === 0) break;
    }
    const total = i + 1 - off + rl;
    max = Math.max(max, total);
    off += total;
  }
  return max;
}

/** A code point a UTF-8 string SHOULD NOT contain, anywhere in the packet's strings, or undefined. */
function discouragedIn(v: unknown): number | undefined {
  if (typeof v === 'string') {
    for (const ch of v) {
      const cp = ch.codePointAt(0)!;
      if (isDiscouragedCodePoint(cp)) return cp;
    }
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Buffer.isBuffer(v)) return undefined;
  for (const x of Array.isArray(v) ? v : Object.values(v)) {
    const cp = discouragedIn(x);
    if (cp !== undefined) return cp;
  }
  return undefined;
}

/**
 * Control characters and non-characters in a string: a receiver MAY treat the packet as
 * malformed (3.1.1 §1.5.3, 5.0 §1.5.4), so closing is allowed (0x81 in 5.0).
 */
function allowDiscouraged(s: State, p: Packet): void {
  const cp = discouragedIn(p);
  if (cp === undefined) return;
  const why = `${p.type.toUpperCase()} has U+${cp.toString(16).toUpperCase().padStart(4, '0')} in a string: a receiver MAY treat it as malformed (5.0 §1.5.4, 3.1.1 §1.5.3)`;
  if (s.version !== 5) s.alternatives.push({ via: 'silent', codes: [], why });
  else s.alternatives.push({ via: p.type === 'connect' ? 'connack' : 'disconnect', codes: [0x81], why, silentToo: p.type === 'connect' });
}

/** Stops decoding once the verdict is decided (thrown through Decoder.feed from the sink). */
class Decided {
  constructor(readonly verdict: Verdict) {}
}

interface State {
  version: ProtocolVersion | undefined;
  connect: ConnectPacket | undefined;
  connected: boolean;
  pingreqs: number;
  packets: number;
  aliases: Set<number>;
  qos2: Set<number>;
  alternatives: Alternative[];
}

function base(s: State): VerdictBase {
  return { version: s.version, connected: s.connected, connect: s.connect, pingreqs: s.pingreqs, packets: s.packets, alternatives: s.alternatives };
}

function closing(s: State, answer: Answer, rule: string, why: string, statement?: string, section?: string): Decided {
  return new Decided({ ...base(s), kind: 'close', answer, rule, why, statement, section });
}

/** After a successful CONNECT: 5.0 says why with DISCONNECT, 3.1.1 just closes. */
function protocolClose(s: State, codes: readonly number[], rule: string, why: string, statement?: string, section?: string): Decided {
  return closing(s, s.version === 5 ? { via: 'disconnect', codes } : { via: 'none' }, rule, why, statement, section);
}

/** Verdict for a CONNECT that decoded: refusals the model requires, alternatives it allows, or acceptance. */
function onConnect(s: State, p: ConnectPacket, model: ServerModel): void {
  const v5 = p.protocolVersion === 5;
  s.version = p.protocolVersion;
  s.connect = p;
  const refuse = (codes: number[], required: boolean, rule: string, why: string, statement?: string): never => {
    throw closing(s, { via: 'connack', codes, required }, rule, why, statement);
  };
  if (!model.versions.includes(p.protocolVersion)) {
    // 3.1.1 return code 0x01 or the 5.0 reason code 0x84 [3.1.1 MQTT-3.1.2-2, 5.0 MQTT-3.1.2-2].
    refuse([0x01, 0x84], false, 'unsupported-version', `the server does not speak protocol level ${p.protocolVersion}`, 'MQTT-3.1.2-2');
  }
  if (p.clientId === '' && !v5 && !p.clean) {
    refuse([0x02], true, 'empty-client-id-persistent', 'zero-length ClientId with Clean Session 0', 'MQTT-3.1.3-8');
  }
  if (p.clientId === '' && !model.allowZeroLengthClientId) {
    refuse([v5 ? 0x85 : 0x02], !v5, 'empty-client-id', 'the server does not assign ClientIds', v5 ? 'MQTT-3.1.3-8' : 'MQTT-3.1.3-9');
  }
  if (v5 && p.properties?.authenticationMethod !== undefined) {
    // No enhanced authentication here: 0x8C (Bad authentication method) or 0x87 (Not authorized) [MQTT-4.12.0-1].
    refuse([0x8c, 0x87], false, 'authentication-method', `authentication method '${p.properties.authenticationMethod}' not supported`, 'MQTT-4.12.0-1');
  }
  if (v5 && p.will && p.will.qos > model.maxQoS) refuse([0x9b], false, 'will-qos', `Will QoS ${p.will.qos} above Maximum QoS ${model.maxQoS}`, 'MQTT-3.2.2-12');
  if (v5 && p.will?.retain && !model.retainAvailable) refuse([0x9a], false, 'will-retain', 'retained Will without Retain Available', 'MQTT-3.2.2-13');
  if (!model.anonymous && p.username === undefined) refuse([v5 ? 0x87 : 0x05], false, 'anonymous', 'no user name and no anonymous access', undefined);

  if (v5 && p.will?.properties?.payloadFormatIndicator === 1 && !isUtf8(p.will.payload)) {
    s.alternatives.push({ via: 'connack', codes: [0x99], silentToo: true, why: 'Will payload is not UTF-8 although its Payload Format Indicator is 1 (5.0 §3.1.3.2.3: the server MAY check)' });
  }
  const clientMax = v5 ? p.properties?.maximumPacketSize : undefined;
  if (clientMax !== undefined && clientMax < TINY_CLIENT_PACKET_SIZE[model.exact ? 'exact' : 'other']) {
    s.alternatives.push({ via: 'silent', codes: [], why: `client Maximum Packet Size ${clientMax} may not hold the CONNACK or replies [MQTT-3.1.2-24]` });
  }
  if (!model.exact) {
    s.alternatives.push({ via: 'connack', codes: v5 ? OWN_REASONS_V5 : OWN_REASONS_V4, why: 'a server may refuse a CONNECT for its own reasons (identity, authorization, load)' });
  }
  s.connected = true;
}

/** Connection-level rules for a packet after a successful CONNECT. */
function onPacket(s: State, p: Packet, model: ServerModel): void {
  const v5 = s.version === 5;
  switch (p.type) {
    case 'connect':
      throw protocolClose(s, [PROTOCOL_ERROR], 'second-connect', 'a second CONNECT', 'MQTT-3.1.0-2');
    case 'publish': {
      if (v5) {
        const codes: number[] = [];
        const whys: string[] = [];
        const alias = p.properties?.topicAlias;
        if (alias !== undefined && alias > model.topicAliasMaximum) {
          codes.push(0x94);
          whys.push(`Topic Alias ${alias} above the Topic Alias Maximum ${model.topicAliasMaximum} (5.0 §3.3.2.3.4; the client broke MQTT-3.3.2-9)`);
        } else if (alias !== undefined && p.topic === '' && !s.aliases.has(alias)) {
          codes.push(PROTOCOL_ERROR);
          whys.push(`Topic Alias ${alias} was never mapped on this connection (5.0 §3.3.2.3.4)`);
        }
        if (p.qos > model.maxQoS) { codes.push(0x9b); whys.push(`QoS ${p.qos} above Maximum QoS ${model.maxQoS} (5.0 §3.2.2.3.4; the client broke MQTT-3.2.2-11)`); }
        if (p.retain && !model.retainAvailable) { codes.push(0x9a); whys.push('RETAIN without Retain Available (5.0 §3.2.2.3.5; the client broke MQTT-3.2.2-14)'); }
        if (p.qos === 2 && !s.qos2.has(p.packetId!) && s.qos2.size >= model.receiveMaximum) {
          codes.push(0x93);
          whys.push(`more than Receive Maximum ${model.receiveMaximum} QoS 2 PUBLISHes unacknowledged (5.0 §3.3.4)`);
        }
        if (codes.length > 0) throw protocolClose(s, codes, 'publish-limits', whys.join('; '));
        if (alias !== undefined && p.topic !== '') s.aliases.add(alias);
        if (p.properties?.payloadFormatIndicator === 1 && !isUtf8(p.payload)) {
          // A receiver MAY validate the payload (5.0 §3.3.2.3.2) and then answers 0x99 (an ack for QoS > 0, or DISCONNECT).
          s.alternatives.push({ via: 'disconnect', codes: [0x99], why: 'payload is not UTF-8 although its Payload Format Indicator is 1 (5.0 §3.3.2.3.2: the server MAY check)' });
          return;
        }
      }
      if (p.qos === 2) s.qos2.add(p.packetId!);
      return;
    }
    case 'pubrel':
      s.qos2.delete(p.packetId);
      return;
    case 'subscribe': {
      if (!v5) return;
      if (p.properties?.subscriptionIdentifiers !== undefined && !model.subscriptionIdentifiers) {
        throw protocolClose(s, [0xa1], 'subscription-identifiers', 'Subscription Identifier without Subscription Identifiers Available', undefined, '3.8.2.1.2');
      }
      if (!model.sharedSubscriptions && p.subscriptions.some((x) => isSharedFilter(x.topicFilter))) {
        s.alternatives.push({ via: 'disconnect', codes: [0x9e], why: 'shared subscription without Shared Subscriptions Available (5.0 §3.8.3.1)' });
      }
      if (!model.wildcardSubscriptions && p.subscriptions.some((x) => /[+#]/.test(x.topicFilter))) {
        s.alternatives.push({ via: 'disconnect', codes: [0xa2], why: 'wildcard subscription without Wildcard Subscription Available (5.0 §3.8.3.1)' });
      }
      return;
    }
    case 'pingreq':
      s.pingreqs++;
      return;
    case 'disconnect': {
      const requested = p.properties?.sessionExpiryInterval;
      const atConnect = s.connect?.properties?.sessionExpiryInterval ?? 0;
      if (v5 && requested !== undefined && requested !== 0 && atConnect === 0) {
        throw protocolClose(s, [PROTOCOL_ERROR], 'session-expiry-raised', 'Session Expiry Interval set in DISCONNECT after 0 in CONNECT', undefined, '3.14.2.2.2');
      }
      throw new Decided({ ...base(s), kind: 'client-disconnect' });
    }
    case 'auth':
      // The CONNECT named no Authentication Method (else it was refused): no exchange to continue (5.0 §4.12).
      throw protocolClose(s, [PROTOCOL_ERROR], 'auth-without-exchange', 'AUTH with no authentication exchange in progress', undefined, '4.12');
    default:
      return; // PUBACK, PUBREC, PUBCOMP (of nothing: ignored or answered), UNSUBSCRIBE
  }
}

/** Verdict for a codec error at the current position. */
function onCodecError(s: State, e: MqttCodecError): Verdict {
  const v = decideCodecError(s, e);
  // 3.1.1 states no rule against a longer Remaining Length than needed (5.0 does: MQTT-1.5.5-1); the codec refuses it anyway.
  if (v.kind === 'close' && e.code === 'VARINT_NOT_MINIMAL' && s.version !== 5) return { ...v, mayStayOpen: '3.1.1 does not require the shortest Remaining Length encoding' };
  return v;
}

function decideCodecError(s: State, e: MqttCodecError): Verdict {
  const rule = `codec:${e.code}`;
  if (!s.connected) {
    if (s.connect === undefined && e.code === 'VERSION_UNKNOWN') {
      // First packet is not CONNECT: close, nothing to say in an unknown version [MQTT-3.1.0-1].
      return { ...base(s), kind: 'close', answer: { via: 'none' }, rule, why: e.message, statement: e.statement, section: e.section };
    }
    if (e.code === 'UNSUPPORTED_PROTOCOL_LEVEL' || e.code === 'PROTOCOL_NAME') {
      // 3.1.1: CONNACK 0x01 [MQTT-3.1.2-2]; 5.0: MAY CONNACK 0x84 [MQTT-3.1.2-2]; either form, or just close.
      return { ...base(s), kind: 'close', answer: { via: 'connack', codes: [0x01, 0x84], required: false }, rule, why: e.message, statement: e.statement, section: e.section };
    }
    // A bad CONNECT: 5.0 MAY answer with a CONNACK carrying the reason code (5.0 §4.13.1); 3.1.1 just closes.
    const answer: Answer = e.version === 5 ? { via: 'connack', codes: [e.reasonCode], required: false } : { via: 'none' };
    return { ...base(s), kind: 'close', answer, rule, why: e.message, statement: e.statement, section: e.section };
  }
  // A bad second CONNECT: the codec's code may be a CONNACK-only one (0x84), which no DISCONNECT carries (5.0
  // §3.14.2.1); a second CONNECT is a Protocol Error whatever it holds [MQTT-3.1.0-2], so 0x82 is right too.
  const codes = [...new Set([
    ...(isReasonCodeAllowed('disconnect', e.reasonCode) ? [e.reasonCode] : []),
    ...(e.packetType === 'connect' ? [PROTOCOL_ERROR] : []),
  ])];
  return { ...base(s), kind: 'close', answer: s.version === 5 ? { via: 'disconnect', codes: codes.length > 0 ? codes : [PROTOCOL_ERROR] } : { via: 'none' }, rule, why: e.message, statement: e.statement, section: e.section };
}

/**
 * Judges the bytes of one connection, fed in `chunks` (one chunk when omitted: any chunking
 * must give the same verdict). Throws CodecCrash when the decoder fails with anything but an
 * MqttCodecError.
 */
export function judge(stream: Buffer, model: ServerModel, chunks: readonly Buffer[] = [stream]): Verdict {
  const s: State = { version: undefined, connect: undefined, connected: false, pingreqs: 0, packets: 0, aliases: new Set(), qos2: new Set(), alternatives: [] };
  const decoder = new Decoder({ role: 'server', maxPacketSize: model.maxPacketSize });
  const sink = (p: Packet): void => {
    s.packets++;
    if (!s.connected) {
      onConnect(s, p as ConnectPacket, model); // the decoder yields nothing but CONNECT before the version is known
      allowDiscouraged(s, p);
    } else {
      allowDiscouraged(s, p);
      onPacket(s, p, model);
    }
  };
  try {
    for (const c of chunks) decoder.feed(c, sink);
  } catch (e) {
    if (e instanceof Decided) return e.verdict;
    if (isMqttCodecError(e)) return onCodecError(s, e);
    throw new CodecCrash(e);
  }
  if (!model.maxPacketSizeKnown) {
    const declared = largestDeclared(stream);
    if (declared > UNKNOWN_LIMIT_FLOOR) {
      const why = `a ${declared}-byte packet may exceed the server's Maximum Packet Size, which it does not state`;
      s.alternatives.push(s.connected && s.version === 5 ? { via: 'disconnect', codes: [0x95], why } : { via: 'silent', codes: [], why });
    }
  }
  if (decoder.buffered > 0 || !s.connected) return { ...base(s), kind: 'incomplete' };
  return { ...base(s), kind: 'accept' };
}

/** One line: what the server must do. */
export function describeVerdict(v: Verdict): string {
  const codes = (cs: readonly number[]): string => cs.map((c) => `0x${c.toString(16).padStart(2, '0')}`).join(' or ');
  switch (v.kind) {
    case 'accept': return `accept and keep serving (${v.packets} packet(s))`;
    case 'incomplete': return 'wait for the rest of the packet';
    case 'client-disconnect': return 'close after the client\'s DISCONNECT';
    case 'close': {
      const a = v.answer;
      const how = a.via === 'connack' ? `CONNACK ${codes(a.codes)}${a.required ? '' : ' (or just close)'}` : a.via === 'disconnect' ? `DISCONNECT ${codes(a.codes)}` : 'nothing';
      return `close after packet ${v.packets} (${v.rule}${v.statement ? ` ${v.statement}` : ''}: ${v.why}), sending ${how}`;
    }
  }
}

/**
 * Table-driven test vectors for the codec (see vectors.test.ts).
 *
 * Every expected byte sequence here was laid out by hand from the packet
 * layouts of the OASIS specs (MQTT 3.1.1 §2–3, MQTT 5.0 §1.5, §2–3); none was
 * produced by our encoder. Hex is written in a small notation read by `hx`:
 *   - hex digits, spaces and newlines anywhere (`10 0d`, `ffff`),
 *   - `"text"`: the bytes of printable ASCII text (for readability only;
 *     every length prefix in front of it is still written out by hand),
 *   - `# comment` up to the end of the line.
 * The only bytes built programmatically are the large filler payloads of the
 * Remaining Length boundary vectors; their fixed headers are spelled out.
 */
import type { CodecErrorCode, Packet, ProtocolVersion, PublishPacket } from './index.js';
import type { Role } from './index.js';

/** Parses the hex notation described above. Throws on anything else, so typos cannot pass silently. */
export function hx(src: string): Buffer {
  const out: number[] = [];
  for (const rawLine of src.split('\n')) {
    let line = rawLine;
    let i = 0;
    let digits = '';
    const flush = (): void => {
      if (digits.length % 2 !== 0) throw new Error(`hx: odd number of hex digits in '${digits}' (line: ${rawLine.trim()})`);
      for (let k = 0; k < digits.length; k += 2) out.push(parseInt(digits.slice(k, k + 2), 16));
      digits = '';
    };
    while (i < line.length) {
      const c = line[i]!;
      if (c === '#') { line = line.slice(0, i); break; }
      if (c === '"') {
        flush();
        const end = line.indexOf('"', i + 1);
        if (end < 0) throw new Error(`hx: unterminated string in line: ${rawLine.trim()}`);
        for (let k = i + 1; k < end; k++) {
          const code = line.charCodeAt(k);
          if (code < 0x20 || code > 0x7e) throw new Error(`hx: only printable ASCII inside "..." (line: ${rawLine.trim()})`);
          out.push(code);
        }
        i = end + 1;
        continue;
      }
      if (c === ' ' || c === '\t' || c === '\r') { flush(); i++; continue; }
      if (!/[0-9a-fA-F]/.test(c)) throw new Error(`hx: unexpected character '${c}' in line: ${rawLine.trim()}`);
      digits += c;
      i++;
    }
    flush();
  }
  return Buffer.from(out);
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const bytes = (...n: number[]): Buffer => Buffer.from(n);

/** A packet and its wire form. */
export interface ValidVector {
  name: string;
  version: ProtocolVersion;
  /** The decoding side, where direction rules matter ('server' reads client packets). */
  role?: Role;
  /** The packet in normal form (what the decoder returns). */
  packet: Packet;
  /** The bytes on the wire (hx notation). */
  hex: string;
  /**
   * When `hex` is valid but not what the encoder writes (the encoder always
   * writes the shortest form), the bytes `encode(packet)` must produce.
   */
  canonicalHex?: string;
}

/** Bytes a decoder must reject. */
export interface ErrorVector {
  name: string;
  /** Protocol version of the bytes; the decoder is told it unless `unknownVersion`. */
  version: ProtocolVersion;
  role?: Role;
  /** Decode as a server that has not seen CONNECT yet (no version option). */
  unknownVersion?: true;
  maxPacketSize?: number;
  hex: string;
  code: CodecErrorCode;
  /** The statement the codec names; absent = the codec names none (checked as undefined). */
  statement?: string;
  field?: string;
  /** 5.0 reason code the error carries, when worth pinning. */
  reasonCode?: number;
}

/** A packet the encoder must refuse. */
export interface EncoderErrorVector {
  name: string;
  version: ProtocolVersion;
  packet: Packet;
  code: CodecErrorCode;
  statement?: string;
  field?: string;
  /**
   * For forbidden-but-well-formed packets: the bytes `encode(packet, version,
   * { validate: false })` writes. Absent = refused even without validation.
   */
  unvalidatedHex?: string;
  /** The error the decoder raises on `unvalidatedHex` (the receiving side of the same rule). */
  decodeCode?: CodecErrorCode;
  /** Decoder role for the cross-check. */
  role?: Role;
}

// ---------------------------------------------------------------------------
// Valid packets
// ---------------------------------------------------------------------------

const connect: ValidVector[] = [
  // 3.1.1 §3.1: variable header = protocol name (00 04 "MQTT"), level, flags, keep alive = 10 bytes.
  {
    name: '3.1.1 CONNECT: clean session, keep alive 60, client id "a"',
    version: 4, role: 'server',
    packet: { type: 'connect', protocolVersion: 4, clean: true, keepAlive: 60, clientId: 'a' },
    hex: `10 0d            # CONNECT, remaining length 13
          00 04 "MQTT" 04  # protocol name, level 4
          02               # flags: clean session
          00 3c            # keep alive 60
          00 01 "a"        # client id`,
  },
  {
    name: '3.1.1 CONNECT: zero-length client id, keep alive 0',
    version: 4, role: 'server',
    packet: { type: 'connect', protocolVersion: 4, clean: true, keepAlive: 0, clientId: '' },
    hex: `10 0c 00 04 "MQTT" 04 02 00 00
          00 00            # empty client id`,
  },
  {
    name: '3.1.1 CONNECT: persistent session (clean 0), keep alive 65535',
    version: 4, role: 'server',
    packet: { type: 'connect', protocolVersion: 4, clean: false, keepAlive: 65535, clientId: 'cid' },
    hex: `10 0f 00 04 "MQTT" 04 00 ff ff 00 03 "cid"`,
  },
  {
    name: '3.1.1 CONNECT: will QoS 1 retained, user name and password',
    version: 4, role: 'server',
    packet: {
      type: 'connect', protocolVersion: 4, clean: true, keepAlive: 10, clientId: 'c1',
      will: { topic: 'w/t', payload: b('bye'), qos: 1, retain: true },
      username: 'u', password: bytes(1, 2, 3),
    },
    hex: `10 20            # remaining length 32 = 10 + 22
          00 04 "MQTT" 04
          ee               # user name 80 | password 40 | will retain 20 | will QoS 1 08 | will 04 | clean 02
          00 0a
          00 02 "c1"       # client id
          00 03 "w/t"      # will topic
          00 03 "bye"      # will message
          00 01 "u"        # user name
          00 03 01 02 03   # password`,
  },
  {
    name: '3.1.1 CONNECT: will QoS 2 with empty message, user name only, clean 0',
    version: 4, role: 'server',
    packet: {
      type: 'connect', protocolVersion: 4, clean: false, keepAlive: 0, clientId: 'x',
      will: { topic: 't', payload: Buffer.alloc(0), qos: 2, retain: false },
      username: 'user',
    },
    hex: `10 18 00 04 "MQTT" 04
          94               # user name 80 | will QoS 2 10 | will 04
          00 00 00 01 "x" 00 01 "t"
          00 00            # empty will message
          00 04 "user"`,
  },
  {
    name: '3.1.1 CONNECT: empty password',
    version: 4, role: 'server',
    packet: { type: 'connect', protocolVersion: 4, clean: true, keepAlive: 60, clientId: 'p', username: 'u', password: Buffer.alloc(0) },
    hex: `10 12 00 04 "MQTT" 04 c2 00 3c 00 01 "p" 00 01 "u" 00 00`,
  },
  // 5.0 §3.1.2: the variable header adds a Property Length (and properties) after keep alive.
  {
    name: '5.0 CONNECT: minimal, no properties',
    version: 5, role: 'server',
    packet: { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 60, clientId: 'a' },
    hex: `10 0e 00 04 "MQTT" 05 02 00 3c
          00               # property length 0
          00 01 "a"`,
  },
  {
    name: '5.0 CONNECT: zero-length client id, clean start 0, session expiry 0xFFFFFFFF',
    version: 5, role: 'server',
    packet: { type: 'connect', protocolVersion: 5, clean: false, keepAlive: 0, clientId: '', properties: { sessionExpiryInterval: 0xffffffff } },
    hex: `10 12 00 04 "MQTT" 05 00 00 00
          05 11 ff ff ff ff  # session expiry interval
          00 00`,
  },
  {
    name: '5.0 CONNECT: password without user name (allowed in 5.0, §3.1.2.9)',
    version: 5, role: 'server',
    packet: { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 0, clientId: 'a', password: bytes(0xff) },
    hex: `10 11 00 04 "MQTT" 05 42 00 00 00 00 01 "a" 00 01 ff`,
  },
  {
    name: '5.0 CONNECT: retained will QoS 0 without will properties',
    version: 5, role: 'server',
    packet: { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 60, clientId: 'a', will: { topic: 't', payload: b('x'), qos: 0, retain: true } },
    hex: `10 15 00 04 "MQTT" 05
          26               # will retain 20 | will 04 | clean 02
          00 3c 00 00 01 "a"
          00               # will property length 0
          00 01 "t" 00 01 "x"`,
  },
  {
    name: '5.0 CONNECT: maximal properties (all 9 CONNECT properties, all 7 will properties), will QoS 2, user name, password',
    version: 5, role: 'server',
    packet: {
      type: 'connect', protocolVersion: 5, clean: true, keepAlive: 30, clientId: 'client',
      properties: {
        sessionExpiryInterval: 120, receiveMaximum: 20, maximumPacketSize: 4096, topicAliasMaximum: 10,
        requestResponseInformation: 1, requestProblemInformation: 0, userProperties: [['k', 'v'], ['k', 'v2']],
        authenticationMethod: 'SCRAM', authenticationData: bytes(0xde, 0xad),
      },
      will: {
        topic: 'will/t', payload: b('gone'), qos: 2, retain: false,
        properties: {
          willDelayInterval: 5, payloadFormatIndicator: 1, messageExpiryInterval: 3600, contentType: 'text/plain',
          responseTopic: 'reply', correlationData: bytes(1, 2, 3), userProperties: [['a', 'b']],
        },
      },
      username: 'user', password: b('pw'),
    },
    hex: `10 8a 01           # remaining length 138 = 59 variable header + 79 payload
          00 04 "MQTT" 05
          d6                 # user name 80 | password 40 | will QoS 2 10 | will 04 | clean 02
          00 1e              # keep alive 30
          30                 # property length 48
            11 00 00 00 78   # session expiry interval 120
            21 00 14         # receive maximum 20
            27 00 00 10 00   # maximum packet size 4096
            22 00 0a         # topic alias maximum 10
            19 01            # request response information
            17 00            # request problem information
            26 00 01 "k" 00 01 "v"    # user property
            26 00 01 "k" 00 02 "v2"   # user property, same name again
            15 00 05 "SCRAM" # authentication method
            16 00 02 de ad   # authentication data
          00 06 "client"     # client id
          2e                 # will property length 46
            18 00 00 00 05   # will delay interval 5
            01 01            # payload format indicator: UTF-8
            02 00 00 0e 10   # message expiry interval 3600
            03 00 0a "text/plain"     # content type
            08 00 05 "reply" # response topic
            09 00 03 01 02 03         # correlation data
            26 00 01 "a" 00 01 "b"    # user property
          00 06 "will/t"     # will topic
          00 04 "gone"       # will payload
          00 04 "user"       # user name
          00 02 "pw"         # password`,
  },
];

const connack: ValidVector[] = [
  { name: '3.1.1 CONNACK: accepted', version: 4, role: 'client', packet: { type: 'connack', sessionPresent: false, reasonCode: 0 }, hex: '20 02 00 00' },
  { name: '3.1.1 CONNACK: accepted, session present', version: 4, role: 'client', packet: { type: 'connack', sessionPresent: true, reasonCode: 0 }, hex: '20 02 01 00' },
  ...[1, 2, 3, 4, 5].map((rc): ValidVector => ({
    name: `3.1.1 CONNACK: return code ${rc}`, version: 4, role: 'client',
    packet: { type: 'connack', sessionPresent: false, reasonCode: rc }, hex: `20 02 00 0${rc}`,
  })),
  { name: '5.0 CONNACK: success, no properties', version: 5, role: 'client', packet: { type: 'connack', sessionPresent: false, reasonCode: 0 }, hex: '20 03 00 00 00' },
  { name: '5.0 CONNACK: success, session present', version: 5, role: 'client', packet: { type: 'connack', sessionPresent: true, reasonCode: 0 }, hex: '20 03 01 00 00' },
  ...[0x80, 0x81, 0x82, 0x84, 0x85, 0x86, 0x87, 0x8a, 0x95, 0x9f].map((rc): ValidVector => ({
    name: `5.0 CONNACK: reason code 0x${rc.toString(16)}`, version: 5, role: 'client',
    packet: { type: 'connack', sessionPresent: false, reasonCode: rc }, hex: `20 03 00 ${rc.toString(16)} 00`,
  })),
  {
    name: '5.0 CONNACK: 0x9C Use another server with a Server Reference',
    version: 5, role: 'client',
    packet: { type: 'connack', sessionPresent: false, reasonCode: 0x9c, properties: { serverReference: 'other' } },
    hex: `20 0b 00 9c 08 1c 00 05 "other"`,
  },
  {
    name: '5.0 CONNACK: maximal properties (all 17 CONNACK properties)',
    version: 5, role: 'client',
    packet: {
      type: 'connack', sessionPresent: false, reasonCode: 0,
      properties: {
        sessionExpiryInterval: 300, receiveMaximum: 10, maximumQoS: 1, retainAvailable: 0, maximumPacketSize: 65536,
        assignedClientIdentifier: 'auto', topicAliasMaximum: 5, reasonString: 'ok', userProperties: [['s', '1']],
        wildcardSubscriptionAvailable: 0, subscriptionIdentifierAvailable: 1, sharedSubscriptionAvailable: 0,
        serverKeepAlive: 120, responseInformation: 'resp', serverReference: 'srv', authenticationMethod: 'SCRAM',
        authenticationData: bytes(0),
      },
    },
    hex: `20 4c              # remaining length 76 = 2 + 1 + 73
          00 00              # flags, reason code Success
          49                 # property length 73
            11 00 00 01 2c   # session expiry interval 300
            21 00 0a         # receive maximum 10
            24 01            # maximum QoS 1
            25 00            # retain available 0
            27 00 01 00 00   # maximum packet size 65536
            12 00 04 "auto"  # assigned client identifier
            22 00 05         # topic alias maximum 5
            1f 00 02 "ok"    # reason string
            26 00 01 "s" 00 01 "1"  # user property
            28 00            # wildcard subscription available 0
            29 01            # subscription identifiers available 1
            2a 00            # shared subscription available 0
            13 00 78         # server keep alive 120
            1a 00 04 "resp"  # response information
            1c 00 03 "srv"   # server reference
            15 00 05 "SCRAM" # authentication method
            16 00 01 00      # authentication data`,
  },
];

const publish: ValidVector[] = [
  { name: '3.1.1 PUBLISH QoS 0', version: 4, packet: { type: 'publish', topic: 'a/b', payload: b('hi'), qos: 0, retain: false, dup: false }, hex: `30 07 00 03 "a/b" "hi"` },
  { name: '3.1.1 PUBLISH QoS 0, empty payload', version: 4, packet: { type: 'publish', topic: 'a/b', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, hex: `30 05 00 03 "a/b"` },
  { name: '3.1.1 PUBLISH QoS 0 retained', version: 4, packet: { type: 'publish', topic: 'a/b', payload: b('hi'), qos: 0, retain: true, dup: false }, hex: `31 07 00 03 "a/b" "hi"` },
  { name: '3.1.1 PUBLISH QoS 1', version: 4, packet: { type: 'publish', topic: 'a/b', payload: b('hi'), qos: 1, retain: false, dup: false, packetId: 10 }, hex: `32 09 00 03 "a/b" 00 0a "hi"` },
  { name: '3.1.1 PUBLISH QoS 1 DUP', version: 4, packet: { type: 'publish', topic: 'a/b', payload: b('hi'), qos: 1, retain: false, dup: true, packetId: 10 }, hex: `3a 09 00 03 "a/b" 00 0a "hi"` },
  {
    name: '3.1.1 PUBLISH QoS 2, DUP, retain, packet id 65535', version: 4,
    packet: { type: 'publish', topic: 'a/b', payload: b('hi'), qos: 2, retain: true, dup: true, packetId: 0xffff },
    hex: `3d 09 00 03 "a/b" ff ff "hi"   # 30 | DUP 08 | QoS 2 04 | RETAIN 01`,
  },
  { name: '3.1.1 PUBLISH QoS 2, empty payload', version: 4, packet: { type: 'publish', topic: 'a/b', payload: Buffer.alloc(0), qos: 2, retain: false, dup: false, packetId: 1 }, hex: `34 07 00 03 "a/b" 00 01` },
  {
    name: '3.1.1 PUBLISH: binary payload with 00 and FF bytes', version: 4,
    packet: { type: 'publish', topic: 't', payload: bytes(0, 0xff, 0, 0x80), qos: 0, retain: false, dup: false },
    hex: `30 07 00 01 "t" 00 ff 00 80`,
  },
  { name: '3.1.1 PUBLISH: topic "/"', version: 4, packet: { type: 'publish', topic: '/', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, hex: `30 03 00 01 2f` },
  {
    name: '3.1.1 PUBLISH: multi-byte UTF-8 topic "é/😀" (2- and 4-byte sequences)', version: 4,
    packet: { type: 'publish', topic: 'é/\u{1F600}', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
    hex: `30 09 00 07 c3 a9 2f f0 9f 98 80`,
  },
  {
    name: '3.1.1 PUBLISH: BOM EF BB BF is kept as U+FEFF (MQTT-1.5.3-3)', version: 4,
    packet: { type: 'publish', topic: '\uFEFFa', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
    hex: `30 06 00 04 ef bb bf "a"`,
  },
  { name: '5.0 PUBLISH QoS 0, no properties', version: 5, packet: { type: 'publish', topic: 'a/b', payload: b('hi'), qos: 0, retain: false, dup: false }, hex: `30 08 00 03 "a/b" 00 "hi"` },
  { name: '5.0 PUBLISH QoS 1, no properties', version: 5, packet: { type: 'publish', topic: 'a/b', payload: b('hi'), qos: 1, retain: false, dup: false, packetId: 10 }, hex: `32 0a 00 03 "a/b" 00 0a 00 "hi"` },
  { name: '5.0 PUBLISH QoS 2 retained, empty payload', version: 5, packet: { type: 'publish', topic: 'a/b', payload: Buffer.alloc(0), qos: 2, retain: true, dup: false, packetId: 2 }, hex: `35 08 00 03 "a/b" 00 02 00` },
  {
    name: '5.0 PUBLISH: maximal properties (all 8 PUBLISH properties, three subscription identifiers), from the server',
    version: 5, role: 'client',
    packet: {
      type: 'publish', topic: 't/1', payload: b('{}'), qos: 1, retain: false, dup: false, packetId: 0x1234,
      properties: {
        payloadFormatIndicator: 1, messageExpiryInterval: 60, topicAlias: 1, responseTopic: 'r/e/s', correlationData: bytes(0xca, 0xfe),
        userProperties: [['k', '1'], ['k', '2']], subscriptionIdentifiers: [1, 128, 268435455], contentType: 'application/json',
      },
    },
    hex: `32 4c              # QoS 1, remaining length 76
          00 03 "t/1" 12 34  # topic, packet id
          42                 # property length 66
            01 01            # payload format indicator
            02 00 00 00 3c   # message expiry interval 60
            23 00 01         # topic alias 1
            08 00 05 "r/e/s" # response topic
            09 00 02 ca fe   # correlation data
            26 00 01 "k" 00 01 "1"  # user property
            26 00 01 "k" 00 01 "2"  # user property, same name
            0b 01            # subscription identifier 1
            0b 80 01         # subscription identifier 128
            0b ff ff ff 7f   # subscription identifier 268435455
            03 00 10 "application/json"  # content type
          7b 7d              # payload "{}"`,
  },
  {
    name: '5.0 PUBLISH: Topic Alias with zero-length topic',
    version: 5,
    packet: { type: 'publish', topic: '', payload: b('x'), qos: 0, retain: false, dup: false, properties: { topicAlias: 5 } },
    hex: `30 07 00 00 03 23 00 05 "x"`,
  },
  {
    name: '5.0 PUBLISH: two subscription identifiers, from the server',
    version: 5, role: 'client',
    packet: { type: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { subscriptionIdentifiers: [2, 3] } },
    hex: `30 08 00 01 "a" 04 0b 02 0b 03`,
  },
  {
    name: '5.0 PUBLISH: user properties with repeated names keep wire order',
    version: 5, role: 'server',
    packet: { type: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { userProperties: [['n', '1'], ['m', '2'], ['n', '3']] } },
    hex: `30 19 00 01 "a"
          15                       # property length 21
          26 00 01 "n" 00 01 "1"
          26 00 01 "m" 00 01 "2"
          26 00 01 "n" 00 01 "3"`,
  },
  {
    name: '5.0 PUBLISH: properties in non-table order are decoded in any order',
    version: 5,
    packet: { type: 'publish', topic: 'a', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { contentType: 'c', payloadFormatIndicator: 0 } },
    hex: `30 0a 00 01 "a" 06 03 00 01 "c" 01 00`,
  },
  {
    name: '5.0 PUBLISH: user properties interleaved with another property (encoder groups them, order kept)',
    version: 5,
    packet: { type: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { userProperties: [['a', '1'], ['a', '2']], contentType: 'c' } },
    hex: `30 16 00 01 "t" 12
          26 00 01 "a" 00 01 "1"
          03 00 01 "c"
          26 00 01 "a" 00 01 "2"`,
    canonicalHex: `30 16 00 01 "t" 12
          26 00 01 "a" 00 01 "1"
          26 00 01 "a" 00 01 "2"
          03 00 01 "c"`,
  },
];

const acks: ValidVector[] = [
  { name: '3.1.1 PUBACK', version: 4, packet: { type: 'puback', packetId: 1 }, hex: '40 02 00 01' },
  { name: '3.1.1 PUBREC', version: 4, packet: { type: 'pubrec', packetId: 2 }, hex: '50 02 00 02' },
  { name: '3.1.1 PUBREL (flags 0010)', version: 4, packet: { type: 'pubrel', packetId: 3 }, hex: '62 02 00 03' },
  { name: '3.1.1 PUBCOMP, packet id 65535', version: 4, packet: { type: 'pubcomp', packetId: 0xffff }, hex: '70 02 ff ff' },
  // 5.0 §3.4.2.1: Reason Code omitted when Remaining Length is 2 (means 0x00).
  { name: '5.0 PUBACK: reason code omitted', version: 5, packet: { type: 'puback', packetId: 1, reasonCode: 0 }, hex: '40 02 00 01' },
  { name: '5.0 PUBREC: reason code omitted', version: 5, packet: { type: 'pubrec', packetId: 1, reasonCode: 0 }, hex: '50 02 00 01' },
  { name: '5.0 PUBREL: reason code omitted', version: 5, packet: { type: 'pubrel', packetId: 1, reasonCode: 0 }, hex: '62 02 00 01' },
  { name: '5.0 PUBCOMP: reason code omitted', version: 5, packet: { type: 'pubcomp', packetId: 1, reasonCode: 0 }, hex: '70 02 00 01' },
  { name: '5.0 PUBACK: 0x10 No matching subscribers, no properties', version: 5, packet: { type: 'puback', packetId: 1, reasonCode: 0x10 }, hex: '40 03 00 01 10' },
  { name: '5.0 PUBREC: 0x80 Unspecified error', version: 5, packet: { type: 'pubrec', packetId: 2, reasonCode: 0x80 }, hex: '50 03 00 02 80' },
  { name: '5.0 PUBREL: 0x92 Packet Identifier not found', version: 5, packet: { type: 'pubrel', packetId: 3, reasonCode: 0x92 }, hex: '62 03 00 03 92' },
  { name: '5.0 PUBCOMP: 0x92 Packet Identifier not found', version: 5, packet: { type: 'pubcomp', packetId: 4, reasonCode: 0x92 }, hex: '70 03 00 04 92' },
  {
    name: '5.0 PUBACK: 0x87 Not authorized with Reason String', version: 5,
    packet: { type: 'puback', packetId: 5, reasonCode: 0x87, properties: { reasonString: 'no' } },
    hex: `40 09 00 05 87 05 1f 00 02 "no"`,
  },
  {
    name: '5.0 PUBREC: Success with a user property (code written because properties follow)', version: 5,
    packet: { type: 'pubrec', packetId: 6, reasonCode: 0, properties: { userProperties: [['k', 'v']] } },
    hex: `50 0b 00 06 00 07 26 00 01 "k" 00 01 "v"`,
  },
  {
    name: '5.0 PUBREL: 0x92 with Reason String', version: 5,
    packet: { type: 'pubrel', packetId: 7, reasonCode: 0x92, properties: { reasonString: 'gone' } },
    hex: `62 0b 00 07 92 07 1f 00 04 "gone"`,
  },
  {
    name: '5.0 PUBCOMP: user property with empty name and value', version: 5,
    packet: { type: 'pubcomp', packetId: 8, reasonCode: 0, properties: { userProperties: [['', '']] } },
    hex: `70 09 00 08 00 05 26 00 00 00 00`,
  },
  {
    name: '5.0 PUBACK: explicit 0x00 and Property Length 0 (non-canonical)', version: 5,
    packet: { type: 'puback', packetId: 1, reasonCode: 0 }, hex: '40 04 00 01 00 00', canonicalHex: '40 02 00 01',
  },
  {
    name: '5.0 PUBREC: explicit 0x00 without Property Length (non-canonical)', version: 5,
    packet: { type: 'pubrec', packetId: 1, reasonCode: 0 }, hex: '50 03 00 01 00', canonicalHex: '50 02 00 01',
  },
  {
    name: '5.0 PUBACK: 0x10 and Property Length 0 (non-canonical)', version: 5,
    packet: { type: 'puback', packetId: 1, reasonCode: 0x10 }, hex: '40 04 00 01 10 00', canonicalHex: '40 03 00 01 10',
  },
];

const subscribe: ValidVector[] = [
  {
    name: '3.1.1 SUBSCRIBE: one filter', version: 4, role: 'server',
    packet: { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a/b', qos: 1 }] },
    hex: `82 08 00 01 00 03 "a/b" 01`,
  },
  {
    name: '3.1.1 SUBSCRIBE: several filters with wildcards and every QoS', version: 4, role: 'server',
    packet: {
      type: 'subscribe', packetId: 0x0102,
      subscriptions: [{ topicFilter: 'a/+', qos: 0 }, { topicFilter: '#', qos: 1 }, { topicFilter: '$SYS/#', qos: 2 }, { topicFilter: '+', qos: 0 }],
    },
    hex: `82 19 01 02
          00 03 "a/+" 00
          00 01 "#" 01
          00 06 "$SYS/#" 02
          00 01 "+" 00`,
  },
  {
    name: '5.0 SUBSCRIBE: one filter, default options', version: 5, role: 'server',
    packet: { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a/b', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] },
    hex: `82 09 00 01 00 00 03 "a/b" 01`,
  },
  {
    name: '5.0 SUBSCRIBE: No Local, Retain As Published, Retain Handling 0/1/2, subscription identifier', version: 5, role: 'server',
    packet: {
      type: 'subscribe', packetId: 10, properties: { subscriptionIdentifiers: [5] },
      subscriptions: [
        { topicFilter: 'a', qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 0 },
        { topicFilter: 'b', qos: 0, noLocal: false, retainAsPublished: true, retainHandling: 0 },
        { topicFilter: 'c', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 1 },
        { topicFilter: 'd', qos: 0, noLocal: true, retainAsPublished: true, retainHandling: 2 },
        { topicFilter: 'e', qos: 2, noLocal: false, retainAsPublished: true, retainHandling: 2 },
      ],
    },
    hex: `82 19 00 0a
          02 0b 05           # property length 2: subscription identifier 5
          00 01 "a" 06       # QoS 2 | No Local 04
          00 01 "b" 08       # Retain As Published 08
          00 01 "c" 11       # QoS 1 | Retain Handling 1 (bits 5-4 = 01)
          00 01 "d" 2c       # Retain Handling 2 (20) | RAP 08 | No Local 04
          00 01 "e" 2a       # Retain Handling 2 | RAP | QoS 2`,
  },
  {
    name: '5.0 SUBSCRIBE: 3-byte subscription identifier and a user property', version: 5, role: 'server',
    packet: {
      type: 'subscribe', packetId: 3, properties: { subscriptionIdentifiers: [16384], userProperties: [['u', 'v']] },
      subscriptions: [{ topicFilter: 'x/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
    },
    hex: `82 14 00 03 0b 0b 80 80 01 26 00 01 "u" 00 01 "v" 00 03 "x/#" 01`,
  },
  {
    name: '5.0 SUBSCRIBE: shared subscription', version: 5, role: 'server',
    packet: { type: 'subscribe', packetId: 2, subscriptions: [{ topicFilter: '$share/g/a/+', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] },
    hex: `82 12 00 02 00 00 0c "$share/g/a/+" 01`,
  },
  {
    name: '3.1.1 SUBSCRIBE: "$share/g/a" is an ordinary filter in 3.1.1 (No Local does not exist there)', version: 4, role: 'server',
    packet: { type: 'subscribe', packetId: 2, subscriptions: [{ topicFilter: '$share/g/a', qos: 0 }] },
    hex: `82 0f 00 02 00 0a "$share/g/a" 00`,
  },
];

/**
 * Variable Byte Integer boundaries (5.0 §1.5.5 table: 1 byte up to 127, 2 up
 * to 16383, 3 up to 2097151, 4 up to 268435455) as Subscription Identifier
 * values, so each is checked in a property too.
 */
export const VARINT_BOUNDARIES: ReadonlyArray<readonly [value: number, hex: string]> = [
  [1, '01'],
  [127, '7f'],
  [128, '80 01'],
  [16383, 'ff 7f'],
  [16384, '80 80 01'],
  [2097151, 'ff ff 7f'],
  [2097152, '80 80 80 01'],
  [268435455, 'ff ff ff 7f'],
];

const subscriptionIdBoundaries: ValidVector[] = VARINT_BOUNDARIES.map(([value, vhex]): ValidVector => {
  const n = vhex.split(' ').length;
  const propLen = 1 + n; // identifier byte 0b + the varint
  const rl = 2 + 1 + propLen + 4; // packet id, property length, properties, 00 01 "a" + options
  return {
    name: `5.0 SUBSCRIBE: subscription identifier ${value} (${n}-byte varint)`, version: 5, role: 'server',
    packet: { type: 'subscribe', packetId: 1, properties: { subscriptionIdentifiers: [value] }, subscriptions: [{ topicFilter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] },
    hex: `82 ${rl.toString(16).padStart(2, '0')} 00 01 0${propLen} 0b ${vhex} 00 01 "a" 00`,
  };
});

const suback: ValidVector[] = [
  { name: '3.1.1 SUBACK: QoS 0 granted', version: 4, role: 'client', packet: { type: 'suback', packetId: 1, reasonCodes: [0] }, hex: '90 03 00 01 00' },
  { name: '3.1.1 SUBACK: QoS 0, 1, 2 and 0x80 failure', version: 4, role: 'client', packet: { type: 'suback', packetId: 2, reasonCodes: [0, 1, 2, 0x80] }, hex: '90 06 00 02 00 01 02 80' },
  { name: '5.0 SUBACK: Granted QoS 0', version: 5, role: 'client', packet: { type: 'suback', packetId: 1, reasonCodes: [0] }, hex: '90 04 00 01 00 00' },
  {
    name: '5.0 SUBACK: every SUBACK reason code', version: 5, role: 'client',
    packet: { type: 'suback', packetId: 3, reasonCodes: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2] },
    hex: '90 0f 00 03 00   00 01 02 80 83 87 8f 91 97 9e a1 a2',
  },
  {
    name: '5.0 SUBACK: Reason String', version: 5, role: 'client',
    packet: { type: 'suback', packetId: 4, reasonCodes: [0x80], properties: { reasonString: 'why' } },
    hex: `90 0a 00 04 06 1f 00 03 "why" 80`,
  },
];

const unsubscribe: ValidVector[] = [
  { name: '3.1.1 UNSUBSCRIBE: one filter', version: 4, role: 'server', packet: { type: 'unsubscribe', packetId: 1, topicFilters: ['a'] }, hex: `a2 05 00 01 00 01 "a"` },
  { name: '3.1.1 UNSUBSCRIBE: two filters', version: 4, role: 'server', packet: { type: 'unsubscribe', packetId: 2, topicFilters: ['a/b', '+/#'] }, hex: `a2 0c 00 02 00 03 "a/b" 00 03 "+/#"` },
  { name: '5.0 UNSUBSCRIBE: one filter', version: 5, role: 'server', packet: { type: 'unsubscribe', packetId: 1, topicFilters: ['a'] }, hex: `a2 06 00 01 00 00 01 "a"` },
  {
    name: '5.0 UNSUBSCRIBE: user property, shared filter', version: 5, role: 'server',
    packet: { type: 'unsubscribe', packetId: 3, topicFilters: ['a', '$share/g/#'], properties: { userProperties: [['k', 'v']] } },
    hex: `a2 19 00 03 07 26 00 01 "k" 00 01 "v" 00 01 "a" 00 0a "$share/g/#"`,
  },
];

const unsuback: ValidVector[] = [
  { name: '3.1.1 UNSUBACK (no payload)', version: 4, role: 'client', packet: { type: 'unsuback', packetId: 1 }, hex: 'b0 02 00 01' },
  { name: '5.0 UNSUBACK: Success', version: 5, role: 'client', packet: { type: 'unsuback', packetId: 1, reasonCodes: [0] }, hex: 'b0 04 00 01 00 00' },
  {
    name: '5.0 UNSUBACK: every UNSUBACK reason code', version: 5, role: 'client',
    packet: { type: 'unsuback', packetId: 2, reasonCodes: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91] },
    hex: 'b0 0a 00 02 00 00 11 80 83 87 8f 91',
  },
  {
    name: '5.0 UNSUBACK: Reason String', version: 5, role: 'client',
    packet: { type: 'unsuback', packetId: 3, reasonCodes: [0x11], properties: { reasonString: 'abc' } },
    hex: `b0 0a 00 03 06 1f 00 03 "abc" 11`,
  },
];

const ping: ValidVector[] = [
  { name: '3.1.1 PINGREQ', version: 4, role: 'server', packet: { type: 'pingreq' }, hex: 'c0 00' },
  { name: '3.1.1 PINGRESP', version: 4, role: 'client', packet: { type: 'pingresp' }, hex: 'd0 00' },
  { name: '5.0 PINGREQ', version: 5, role: 'server', packet: { type: 'pingreq' }, hex: 'c0 00' },
  { name: '5.0 PINGRESP', version: 5, role: 'client', packet: { type: 'pingresp' }, hex: 'd0 00' },
];

const disconnect: ValidVector[] = [
  { name: '3.1.1 DISCONNECT', version: 4, role: 'server', packet: { type: 'disconnect' }, hex: 'e0 00' },
  // 5.0 §3.14.2.1: Remaining Length 0 means reason 0x00 and no properties.
  { name: '5.0 DISCONNECT: no reason code', version: 5, packet: { type: 'disconnect', reasonCode: 0 }, hex: 'e0 00' },
  { name: '5.0 DISCONNECT: 0x04 Disconnect with Will Message, from the client', version: 5, role: 'server', packet: { type: 'disconnect', reasonCode: 0x04 }, hex: 'e0 01 04' },
  { name: '5.0 DISCONNECT: 0x8E Session taken over, from the server', version: 5, role: 'client', packet: { type: 'disconnect', reasonCode: 0x8e }, hex: 'e0 01 8e' },
  {
    name: '5.0 DISCONNECT: 0x00 with Session Expiry Interval and Reason String, from the client', version: 5, role: 'server',
    packet: { type: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0, reasonString: 'bye' } },
    hex: `e0 0d 00 0b 11 00 00 00 00 1f 00 03 "bye"`,
  },
  {
    name: '5.0 DISCONNECT: 0x9C Use another server with Server Reference, from the server', version: 5, role: 'client',
    packet: { type: 'disconnect', reasonCode: 0x9c, properties: { serverReference: 'other' } },
    hex: `e0 0a 9c 08 1c 00 05 "other"`,
  },
  { name: '5.0 DISCONNECT: explicit 0x00 (non-canonical)', version: 5, packet: { type: 'disconnect', reasonCode: 0 }, hex: 'e0 01 00', canonicalHex: 'e0 00' },
  { name: '5.0 DISCONNECT: 0x00 and Property Length 0 (non-canonical)', version: 5, packet: { type: 'disconnect', reasonCode: 0 }, hex: 'e0 02 00 00', canonicalHex: 'e0 00' },
  { name: '5.0 DISCONNECT: 0x8E and Property Length 0 (non-canonical)', version: 5, role: 'client', packet: { type: 'disconnect', reasonCode: 0x8e }, hex: 'e0 02 8e 00', canonicalHex: 'e0 01 8e' },
];

const auth: ValidVector[] = [
  // 5.0 §3.15.2.1: code and Property Length may both be omitted when the code is 0x00.
  { name: '5.0 AUTH: reason code omitted', version: 5, packet: { type: 'auth', reasonCode: 0 }, hex: 'f0 00' },
  {
    name: '5.0 AUTH: 0x18 Continue authentication with method and data', version: 5,
    packet: { type: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM', authenticationData: bytes(1, 2, 3, 4) } },
    hex: `f0 11 18 0f 15 00 05 "SCRAM" 16 00 04 01 02 03 04`,
  },
  {
    name: '5.0 AUTH: 0x19 Re-authenticate with method and a reason string', version: 5,
    packet: { type: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM', reasonString: 'r' } },
    hex: `f0 0e 19 0c 15 00 05 "SCRAM" 1f 00 01 "r"`,
  },
  { name: '5.0 AUTH: 0x00 and Property Length 0 (non-canonical)', version: 5, packet: { type: 'auth', reasonCode: 0 }, hex: 'f0 02 00 00', canonicalHex: 'f0 00' },
];

export const VALID_VECTORS: readonly ValidVector[] = [
  ...connect, ...connack, ...publish, ...acks, ...subscribe, ...subscriptionIdBoundaries, ...suback,
  ...unsubscribe, ...unsuback, ...ping, ...disconnect, ...auth,
];

// ---------------------------------------------------------------------------
// Remaining Length boundaries (3.1.1 §2.2.3 Table 2.4, 5.0 §1.5.5)
// ---------------------------------------------------------------------------

export interface BoundaryVector {
  name: string;
  version: ProtocolVersion;
  remainingLength: number;
  /** The fixed header, spelled out: 30 then the Remaining Length bytes. */
  headerHex: string;
  /** Number of Remaining Length bytes. */
  lengthBytes: number;
}

/** The Remaining Length boundaries the spec names (127/128 … 2097151/2097152). */
const RL_BOUNDARIES = VARINT_BOUNDARIES.filter(([v]) => v >= 127 && v <= 2097152);

export const BOUNDARY_VECTORS: readonly BoundaryVector[] = RL_BOUNDARIES.flatMap(([rl, vhex]) =>
  ([4, 5] as const).map((version): BoundaryVector => ({
    name: `${version === 5 ? '5.0' : '3.1.1'} PUBLISH with Remaining Length ${rl}`,
    version, remainingLength: rl, headerHex: `30 ${vhex}`, lengthBytes: vhex.split(' ').length,
  })),
);

/**
 * The packet and bytes of a boundary vector: QoS 0 PUBLISH to topic "a"
 * (00 01 "a"; in 5.0 plus Property Length 00), payload filling the rest.
 */
export function buildBoundary(v: BoundaryVector): { packet: PublishPacket; bytes: Buffer } {
  const variableHeader = v.version === 5 ? hx(`00 01 "a" 00`) : hx(`00 01 "a"`);
  const payload = Buffer.alloc(v.remainingLength - variableHeader.length, 0x5a);
  return {
    packet: { type: 'publish', topic: 'a', payload, qos: 0, retain: false, dup: false },
    bytes: Buffer.concat([hx(v.headerHex), variableHeader, payload]),
  };
}

// ---------------------------------------------------------------------------
// Bytes the decoder must reject
// ---------------------------------------------------------------------------

/** SUBSCRIBE with one filter `f` (ASCII), options 00. */
function subscribeWith(version: ProtocolVersion, f: string): string {
  const rl = 2 + (version === 5 ? 1 : 0) + 2 + f.length + 1;
  return `82 ${rl.toString(16).padStart(2, '0')} 00 01 ${version === 5 ? '00 ' : ''}00 ${f.length.toString(16).padStart(2, '0')} "${f}" 00`;
}

const filterErrors: ErrorVector[] = ([4, 5] as const).flatMap((version): ErrorVector[] => {
  const hashRule = version === 5 ? 'MQTT-4.7.1-1' : 'MQTT-4.7.1-2';
  const plusRule = version === 5 ? 'MQTT-4.7.1-2' : 'MQTT-4.7.1-3';
  const v = version === 5 ? '5.0' : '3.1.1';
  return [
    { name: `${v} SUBSCRIBE filter "a/#/b" ('#' not last)`, version, hex: subscribeWith(version, 'a/#/b'), code: 'TOPIC_FILTER_INVALID', statement: hashRule, field: 'subscriptions[0].topicFilter', reasonCode: 0x8f },
    { name: `${v} SUBSCRIBE filter "a+" ('+' not a whole level)`, version, hex: subscribeWith(version, 'a+'), code: 'TOPIC_FILTER_INVALID', statement: plusRule },
    { name: `${v} SUBSCRIBE filter "+a"`, version, hex: subscribeWith(version, '+a'), code: 'TOPIC_FILTER_INVALID', statement: plusRule },
    { name: `${v} SUBSCRIBE filter "#/a"`, version, hex: subscribeWith(version, '#/a'), code: 'TOPIC_FILTER_INVALID', statement: hashRule },
    { name: `${v} SUBSCRIBE filter "a/b#" ('#' not after '/')`, version, hex: subscribeWith(version, 'a/b#'), code: 'TOPIC_FILTER_INVALID', statement: hashRule },
    { name: `${v} SUBSCRIBE empty filter`, version, hex: subscribeWith(version, ''), code: 'TOPIC_FILTER_EMPTY', statement: 'MQTT-4.7.3-1' },
  ];
});

export const ERROR_VECTORS: readonly ErrorVector[] = [
  // --- fixed header: type and reserved flags (3.1.1 §2.2.2 Table 2.2, 5.0 §2.1.3 Table 2-2)
  { name: '3.1.1 PUBREL with flags 0000 (0x60)', version: 4, hex: '60 02 00 01', code: 'RESERVED_FLAGS', statement: 'MQTT-3.6.1-1', field: 'flags' },
  { name: '5.0 PUBREL with flags 0000 (0x60)', version: 5, hex: '60 02 00 01', code: 'RESERVED_FLAGS', statement: 'MQTT-3.6.1-1', reasonCode: 0x81 },
  { name: '3.1.1 SUBSCRIBE with flags 0000 (0x80)', version: 4, role: 'server', hex: `80 08 00 01 00 03 "a/b" 01`, code: 'RESERVED_FLAGS', statement: 'MQTT-3.8.1-1' },
  { name: '5.0 UNSUBSCRIBE with flags 0000 (0xA0)', version: 5, role: 'server', hex: `a0 06 00 01 00 00 01 "a"`, code: 'RESERVED_FLAGS', statement: 'MQTT-3.10.1-1' },
  { name: '3.1.1 CONNECT with flags 0001 (0x11), before any CONNECT', version: 4, role: 'server', unknownVersion: true, hex: `11 0d 00 04 "MQTT" 04 02 00 3c 00 01 "a"`, code: 'RESERVED_FLAGS', statement: 'MQTT-2.2.2-1' },
  { name: '5.0 CONNECT with flags 0001 (0x11), decoder told 5.0', version: 5, role: 'server', hex: `11 0e 00 04 "MQTT" 05 02 00 3c 00 00 01 "a"`, code: 'RESERVED_FLAGS', statement: 'MQTT-2.1.3-1' },
  { name: '3.1.1 PUBACK with flags 0010 (0x42)', version: 4, hex: '42 02 00 01', code: 'RESERVED_FLAGS', statement: 'MQTT-2.2.2-1' },
  { name: '5.0 PINGREQ with flags 0001 (0xC1)', version: 5, hex: 'c1 00', code: 'RESERVED_FLAGS', statement: 'MQTT-2.1.3-1' },
  { name: '5.0 DISCONNECT with flags 1000 (0xE8)', version: 5, hex: 'e8 00', code: 'RESERVED_FLAGS', statement: 'MQTT-3.14.1-1' },
  { name: '5.0 AUTH with flags 0010 (0xF2)', version: 5, hex: 'f2 00', code: 'RESERVED_FLAGS', statement: 'MQTT-3.15.1-1' },
  { name: '3.1.1 packet type 0 (reserved)', version: 4, hex: '00 00', code: 'UNKNOWN_PACKET_TYPE' },
  { name: '5.0 packet type 0 (reserved)', version: 5, hex: '00 00', code: 'UNKNOWN_PACKET_TYPE' },
  { name: 'AUTH (type 15) in 3.1.1, where it is reserved', version: 4, hex: 'f0 00', code: 'UNKNOWN_PACKET_TYPE' },

  // --- Remaining Length / Variable Byte Integer
  { name: '3.1.1 Remaining Length of five bytes (FF FF FF FF 7F)', version: 4, hex: '30 ff ff ff ff 7f', code: 'VARINT_TOO_LONG', field: 'remainingLength' },
  { name: '5.0 Remaining Length of five bytes (80 80 80 80 01)', version: 5, hex: 'c0 80 80 80 80 01', code: 'VARINT_TOO_LONG' },
  { name: '5.0 Remaining Length 0 written as 80 00 (non-minimal)', version: 5, hex: 'c0 80 00', code: 'VARINT_NOT_MINIMAL', statement: 'MQTT-1.5.5-1' },
  { name: '5.0 Remaining Length 127 written as FF 80 00 (non-minimal)', version: 5, hex: '30 ff 80 00', code: 'VARINT_NOT_MINIMAL', statement: 'MQTT-1.5.5-1' },
  { name: '3.1.1 Remaining Length 2 written as 82 00 (non-minimal)', version: 4, hex: '40 82 00 00 01', code: 'VARINT_NOT_MINIMAL' },
  { name: '5.0 Property Length 0 written as 80 00 (non-minimal)', version: 5, hex: `30 05 00 01 "a" 80 00`, code: 'VARINT_NOT_MINIMAL', statement: 'MQTT-1.5.5-1', field: 'properties.length' },
  { name: '5.0 Subscription Identifier 1 written as 81 00 (non-minimal)', version: 5, role: 'server', hex: `82 0a 00 01 03 0b 81 00 00 01 "a" 00`, code: 'VARINT_NOT_MINIMAL', statement: 'MQTT-1.5.5-1', field: 'properties.subscriptionIdentifiers' },

  // --- UTF-8 Encoded Strings (3.1.1 §1.5.3, 5.0 §1.5.4)
  { name: '3.1.1 U+0000 in a PUBLISH topic', version: 4, hex: `30 04 00 02 "a" 00`, code: 'UTF8_NULL_CHAR', statement: 'MQTT-1.5.3-2', field: 'topic' },
  { name: '5.0 U+0000 in a CONNECT client id', version: 5, role: 'server', unknownVersion: true, hex: `10 0e 00 04 "MQTT" 05 02 00 3c 00 00 01 00`, code: 'UTF8_NULL_CHAR', statement: 'MQTT-1.5.4-2', field: 'clientId' },
  { name: '5.0 U+0000 after a non-ASCII character in a topic', version: 5, hex: `30 06 00 03 c3 a9 00 00`, code: 'UTF8_NULL_CHAR', statement: 'MQTT-1.5.4-2' },
  { name: '3.1.1 encoded surrogate ED A0 80 (U+D800) in a topic', version: 4, hex: `30 05 00 03 ed a0 80`, code: 'INVALID_UTF8', statement: 'MQTT-1.5.3-1', field: 'topic' },
  { name: '5.0 encoded surrogate ED B0 80 (U+DC00) in a user property value', version: 5, hex: `30 0d 00 01 "a" 09 26 00 01 "k" 00 03 ed b0 80`, code: 'INVALID_UTF8', statement: 'MQTT-1.5.4-1', field: 'properties.userProperties.value' },
  { name: '3.1.1 overlong C0 AF in a topic filter', version: 4, role: 'server', hex: `82 07 00 01 00 02 c0 af 00`, code: 'INVALID_UTF8', statement: 'MQTT-1.5.3-1', field: 'subscriptions[0].topicFilter' },
  { name: '5.0 overlong E0 80 AF in a topic', version: 5, hex: `30 06 00 03 e0 80 af 00`, code: 'INVALID_UTF8', statement: 'MQTT-1.5.4-1' },
  { name: '3.1.1 truncated multi-byte sequence E2 82 in a user name', version: 4, role: 'server', unknownVersion: true, hex: `10 11 00 04 "MQTT" 04 82 00 3c 00 01 "a" 00 02 e2 82`, code: 'INVALID_UTF8', statement: 'MQTT-1.5.3-1', field: 'username' },
  { name: '5.0 lone continuation byte 80 in a topic', version: 5, hex: `30 05 00 02 "a" 80 00`, code: 'INVALID_UTF8', statement: 'MQTT-1.5.4-1' },
  { name: '5.0 code point above U+10FFFF (F4 90 80 80)', version: 5, hex: `30 07 00 04 f4 90 80 80 00`, code: 'INVALID_UTF8', statement: 'MQTT-1.5.4-1' },

  // --- Topic Names
  { name: '3.1.1 wildcard "+" in a PUBLISH topic', version: 4, hex: `30 05 00 03 "a/+"`, code: 'TOPIC_NAME_WILDCARD', statement: 'MQTT-3.3.2-2', field: 'topic', reasonCode: 0x90 },
  { name: '5.0 wildcard "#" in a PUBLISH topic', version: 5, hex: `30 04 00 01 "#" 00`, code: 'TOPIC_NAME_WILDCARD', statement: 'MQTT-3.3.2-2' },
  { name: '3.1.1 empty PUBLISH topic', version: 4, hex: `30 02 00 00`, code: 'TOPIC_NAME_EMPTY', statement: 'MQTT-4.7.3-1' },
  { name: '5.0 empty PUBLISH topic without Topic Alias', version: 5, hex: `30 03 00 00 00`, code: 'TOPIC_NAME_EMPTY' },
  { name: '3.1.1 wildcard in a Will Topic', version: 4, role: 'server', unknownVersion: true, hex: `10 14 00 04 "MQTT" 04 06 00 3c 00 01 "a" 00 03 "a/#" 00 00`, code: 'TOPIC_NAME_WILDCARD', statement: 'MQTT-3.3.2-2', field: 'will.topic' },
  { name: '5.0 wildcard in a Response Topic', version: 5, hex: `30 0a 00 01 "a" 06 08 00 03 "r/+"`, code: 'TOPIC_NAME_WILDCARD', statement: 'MQTT-3.3.2-14', field: 'properties.responseTopic' },

  // --- Topic Filters
  ...filterErrors,
  { name: '3.1.1 UNSUBSCRIBE filter "a/#/b"', version: 4, role: 'server', hex: `a2 09 00 01 00 05 "a/#/b"`, code: 'TOPIC_FILTER_INVALID', statement: 'MQTT-4.7.1-2', field: 'topicFilters[0]' },
  { name: '5.0 UNSUBSCRIBE empty filter', version: 5, role: 'server', hex: `a2 05 00 01 00 00 00`, code: 'TOPIC_FILTER_EMPTY', statement: 'MQTT-4.7.3-1' },
  { name: '5.0 shared filter "$share/g" without a filter', version: 5, hex: subscribeWith(5, '$share/g'), code: 'SHARED_SUBSCRIPTION_INVALID', statement: 'MQTT-4.8.2-2' },
  { name: '5.0 shared filter "$share//a" with an empty ShareName', version: 5, hex: subscribeWith(5, '$share//a'), code: 'SHARED_SUBSCRIPTION_INVALID', statement: 'MQTT-4.8.2-1' },
  { name: '5.0 shared filter "$share/g+/a" with a wildcard in the ShareName', version: 5, hex: subscribeWith(5, '$share/g+/a'), code: 'SHARED_SUBSCRIPTION_INVALID', statement: 'MQTT-4.8.2-2' },
  { name: '5.0 shared filter "$share/g/a/#/b" with an invalid inner filter', version: 5, hex: subscribeWith(5, '$share/g/a/#/b'), code: 'TOPIC_FILTER_INVALID', statement: 'MQTT-4.7.1-1' },

  // --- QoS, DUP, Packet Identifier
  { name: '3.1.1 PUBLISH QoS 3', version: 4, hex: `36 07 00 03 "a/b" 00 01`, code: 'INVALID_QOS', statement: 'MQTT-3.3.1-4', field: 'qos' },
  { name: '5.0 PUBLISH QoS 3', version: 5, hex: `36 08 00 03 "a/b" 00 01 00`, code: 'INVALID_QOS', statement: 'MQTT-3.3.1-4' },
  { name: '3.1.1 SUBSCRIBE requested QoS 3', version: 4, role: 'server', hex: `82 08 00 01 00 03 "a/b" 03`, code: 'INVALID_QOS', statement: 'MQTT-3.8.3-4', field: 'subscriptions[0].qos' },
  { name: '5.0 SUBSCRIBE Maximum QoS 3', version: 5, role: 'server', hex: `82 09 00 01 00 00 03 "a/b" 03`, code: 'INVALID_QOS', reasonCode: 0x82 },
  { name: '3.1.1 SUBSCRIBE reserved bit 2 of the QoS byte', version: 4, role: 'server', hex: `82 08 00 01 00 03 "a/b" 04`, code: 'SUBSCRIPTION_OPTIONS_RESERVED', statement: 'MQTT-3.8.3-4' },
  { name: '5.0 SUBSCRIBE reserved bit 6 of the Subscription Options', version: 5, role: 'server', hex: `82 09 00 01 00 00 03 "a/b" 41`, code: 'SUBSCRIPTION_OPTIONS_RESERVED', statement: 'MQTT-3.8.3-5' },
  { name: '3.1.1 DUP on a QoS 0 PUBLISH', version: 4, hex: `38 05 00 03 "a/b"`, code: 'DUP_WITH_QOS0', statement: 'MQTT-3.3.1-2', field: 'dup' },
  { name: '5.0 DUP on a QoS 0 PUBLISH', version: 5, hex: `38 06 00 03 "a/b" 00`, code: 'DUP_WITH_QOS0', statement: 'MQTT-3.3.1-2' },
  { name: '3.1.1 PUBLISH QoS 1 with packet id 0', version: 4, hex: `32 07 00 03 "a/b" 00 00`, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.3.1-1', field: 'packetId' },
  { name: '5.0 PUBLISH QoS 2 with packet id 0, from a client', version: 5, role: 'server', hex: `34 08 00 03 "a/b" 00 00 00`, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.2.1-3' },
  { name: '5.0 PUBLISH QoS 1 with packet id 0, from the server', version: 5, role: 'client', hex: `32 08 00 03 "a/b" 00 00 00`, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.2.1-4' },
  { name: '3.1.1 SUBSCRIBE with packet id 0', version: 4, role: 'server', hex: `82 08 00 00 00 03 "a/b" 00`, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.3.1-1' },
  { name: '5.0 SUBSCRIBE with packet id 0', version: 5, role: 'server', hex: `82 09 00 00 00 00 03 "a/b" 00`, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.2.1-3' },
  { name: '3.1.1 UNSUBSCRIBE with packet id 0', version: 4, role: 'server', hex: `a2 07 00 00 00 03 "a/b"`, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.3.1-1' },
  { name: '5.0 UNSUBSCRIBE with packet id 0', version: 5, role: 'server', hex: `a2 08 00 00 00 00 03 "a/b"`, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.2.1-3' },
  { name: '5.0 PUBACK with packet id 0', version: 5, hex: '40 02 00 00', code: 'PACKET_ID_ZERO' },

  // --- 5.0 properties (§2.2.2)
  { name: '5.0 two Session Expiry Intervals in CONNECT', version: 5, role: 'server', unknownVersion: true, hex: `10 18 00 04 "MQTT" 05 02 00 3c 0a 11 00 00 00 01 11 00 00 00 02 00 01 "a"`, code: 'DUPLICATE_PROPERTY', field: 'properties.sessionExpiryInterval', reasonCode: 0x82 },
  { name: '5.0 two Subscription Identifiers in SUBSCRIBE', version: 5, role: 'server', hex: `82 0b 00 01 04 0b 01 0b 02 00 01 "a" 00`, code: 'DUPLICATE_PROPERTY', field: 'properties.subscriptionIdentifiers' },
  { name: '5.0 two Topic Aliases in PUBLISH', version: 5, hex: `30 0a 00 01 "a" 06 23 00 01 23 00 02`, code: 'DUPLICATE_PROPERTY', field: 'properties.topicAlias' },
  { name: '5.0 two Reason Strings in PUBACK', version: 5, hex: `40 0c 00 01 00 08 1f 00 01 "x" 1f 00 01 "y"`, code: 'DUPLICATE_PROPERTY' },
  { name: '5.0 Topic Alias in CONNECT', version: 5, role: 'server', unknownVersion: true, hex: `10 11 00 04 "MQTT" 05 02 00 3c 03 23 00 01 00 01 "a"`, code: 'PROPERTY_NOT_ALLOWED', field: 'properties.topicAlias' },
  { name: '5.0 Will Delay Interval among the CONNECT properties', version: 5, role: 'server', unknownVersion: true, hex: `10 13 00 04 "MQTT" 05 02 00 3c 05 18 00 00 00 01 00 01 "a"`, code: 'PROPERTY_NOT_ALLOWED', field: 'properties.willDelayInterval' },
  { name: '5.0 Session Expiry Interval among the Will properties', version: 5, role: 'server', unknownVersion: true, hex: `10 19 00 04 "MQTT" 05 06 00 3c 00 00 01 "a" 05 11 00 00 00 01 00 01 "t" 00 00`, code: 'PROPERTY_NOT_ALLOWED', field: 'properties.sessionExpiryInterval' },
  { name: '5.0 Reason String in PUBLISH', version: 5, hex: `30 08 00 01 "a" 04 1f 00 01 "x"`, code: 'PROPERTY_NOT_ALLOWED' },
  { name: '5.0 Subscription Identifier in UNSUBSCRIBE', version: 5, role: 'server', hex: `a2 08 00 01 02 0b 01 00 01 "a"`, code: 'PROPERTY_NOT_ALLOWED' },
  { name: '5.0 unknown property identifier 0x04', version: 5, hex: `30 06 00 01 "a" 02 04 00`, code: 'UNKNOWN_PROPERTY', reasonCode: 0x81 },
  { name: '5.0 unknown property identifier 0x00 in DISCONNECT', version: 5, hex: 'e0 03 00 01 00', code: 'UNKNOWN_PROPERTY' },
  { name: '5.0 unknown property identifier 0x2B in CONNACK', version: 5, role: 'client', hex: '20 05 00 00 02 2b 00', code: 'UNKNOWN_PROPERTY' },
  { name: '5.0 Topic Alias 0', version: 5, hex: `30 07 00 01 "a" 03 23 00 00`, code: 'TOPIC_ALIAS_ZERO', statement: 'MQTT-3.3.2-8' },
  { name: '5.0 Subscription Identifier 0 in SUBSCRIBE', version: 5, role: 'server', hex: `82 09 00 01 02 0b 00 00 01 "a" 00`, code: 'INVALID_PROPERTY_VALUE' },
  { name: '5.0 Receive Maximum 0 in CONNACK', version: 5, role: 'client', hex: '20 06 00 00 03 21 00 00', code: 'INVALID_PROPERTY_VALUE' },
  { name: '5.0 Maximum QoS 2 in CONNACK', version: 5, role: 'client', hex: '20 05 00 00 02 24 02', code: 'INVALID_PROPERTY_VALUE' },
  { name: '5.0 Payload Format Indicator 2', version: 5, hex: `30 06 00 01 "a" 02 01 02`, code: 'INVALID_PROPERTY_VALUE' },
  { name: '5.0 Subscription Identifier in a PUBLISH from a client', version: 5, role: 'server', hex: `30 06 00 01 "a" 02 0b 01`, code: 'PROPERTY_NOT_ALLOWED', statement: 'MQTT-3.3.4-6' },
  { name: '5.0 Authentication Data without Authentication Method in CONNECT', version: 5, role: 'server', unknownVersion: true, hex: `10 12 00 04 "MQTT" 05 02 00 3c 04 16 00 01 00 00 01 "a"`, code: 'AUTH_DATA_WITHOUT_METHOD' },
  { name: '5.0 property value runs past the Property Length', version: 5, hex: `30 08 00 01 "a" 02 02 00 00 00`, code: 'TRUNCATED', field: 'properties.messageExpiryInterval' },

  // --- CONNECT (§3.1)
  { name: 'CONNECT protocol name "MQTX"', version: 4, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTX" 04 02 00 3c 00 01 "a"`, code: 'PROTOCOL_NAME', statement: 'MQTT-3.1.2-1', reasonCode: 0x84 },
  { name: 'CONNECT protocol level 3', version: 4, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTT" 03 02 00 3c 00 01 "a"`, code: 'UNSUPPORTED_PROTOCOL_LEVEL', statement: 'MQTT-3.1.2-2', reasonCode: 0x84 },
  { name: 'CONNECT protocol level 6', version: 5, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTT" 06 02 00 3c 00 01 "a"`, code: 'UNSUPPORTED_PROTOCOL_LEVEL', statement: 'MQTT-3.1.2-2' },
  { name: 'CONNECT MQTT 3.1 ("MQIsdp", level 3)', version: 4, role: 'server', unknownVersion: true, hex: `10 0f 00 06 "MQIsdp" 03 02 00 3c 00 01 "a"`, code: 'UNSUPPORTED_PROTOCOL_LEVEL', statement: 'MQTT-3.1.2-2' },
  { name: '3.1.1 CONNECT reserved flag set', version: 4, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTT" 04 03 00 3c 00 01 "a"`, code: 'CONNECT_RESERVED_FLAG', statement: 'MQTT-3.1.2-3' },
  { name: '5.0 CONNECT reserved flag set', version: 5, role: 'server', unknownVersion: true, hex: `10 0e 00 04 "MQTT" 05 01 00 3c 00 00 01 "a"`, code: 'CONNECT_RESERVED_FLAG', statement: 'MQTT-3.1.2-3' },
  { name: '3.1.1 Will QoS 1 without Will Flag', version: 4, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTT" 04 0a 00 3c 00 01 "a"`, code: 'WILL_FLAGS', statement: 'MQTT-3.1.2-13', field: 'connectFlags.willQos' },
  { name: '5.0 Will QoS 1 without Will Flag', version: 5, role: 'server', unknownVersion: true, hex: `10 0e 00 04 "MQTT" 05 0a 00 3c 00 00 01 "a"`, code: 'WILL_FLAGS', statement: 'MQTT-3.1.2-11' },
  { name: '3.1.1 Will Retain without Will Flag', version: 4, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTT" 04 22 00 3c 00 01 "a"`, code: 'WILL_FLAGS', statement: 'MQTT-3.1.2-15', field: 'connectFlags.willRetain' },
  { name: '5.0 Will Retain without Will Flag', version: 5, role: 'server', unknownVersion: true, hex: `10 0e 00 04 "MQTT" 05 22 00 3c 00 00 01 "a"`, code: 'WILL_FLAGS', statement: 'MQTT-3.1.2-13' },
  { name: '3.1.1 Will QoS 3', version: 4, role: 'server', unknownVersion: true, hex: `10 12 00 04 "MQTT" 04 1e 00 3c 00 01 "a" 00 01 "t" 00 00`, code: 'INVALID_QOS', statement: 'MQTT-3.1.2-14' },
  { name: '5.0 Will QoS 3', version: 5, role: 'server', unknownVersion: true, hex: `10 14 00 04 "MQTT" 05 1e 00 3c 00 00 01 "a" 00 00 01 "t" 00 00`, code: 'INVALID_QOS', statement: 'MQTT-3.1.2-12' },
  { name: '3.1.1 password without user name', version: 4, role: 'server', unknownVersion: true, hex: `10 10 00 04 "MQTT" 04 42 00 3c 00 01 "a" 00 01 ff`, code: 'PASSWORD_WITHOUT_USERNAME', statement: 'MQTT-3.1.2-22' },
  { name: '3.1.1 User Name Flag set but no user name', version: 4, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTT" 04 82 00 3c 00 01 "a"`, code: 'TRUNCATED', field: 'username' },
  { name: '3.1.1 CONNECT with a byte after the last field', version: 4, role: 'server', unknownVersion: true, hex: `10 0e 00 04 "MQTT" 04 02 00 3c 00 01 "a" ff`, code: 'TRAILING_BYTES' },
  { name: '3.1.1 client id length runs past the packet', version: 4, role: 'server', unknownVersion: true, hex: `10 0d 00 04 "MQTT" 04 02 00 3c 00 05 "a"`, code: 'TRUNCATED', field: 'clientId' },

  // --- CONNACK (§3.2)
  { name: '3.1.1 CONNACK reserved acknowledge flag bit 1', version: 4, role: 'client', hex: '20 02 02 00', code: 'CONNACK_RESERVED_FLAGS' },
  { name: '5.0 CONNACK reserved acknowledge flag bit 1', version: 5, role: 'client', hex: '20 03 02 00 00', code: 'CONNACK_RESERVED_FLAGS', statement: 'MQTT-3.2.2-1' },
  { name: '3.1.1 CONNACK session present with return code 5', version: 4, role: 'client', hex: '20 02 01 05', code: 'SESSION_PRESENT_WITH_ERROR', statement: 'MQTT-3.2.2-4' },
  { name: '5.0 CONNACK session present with reason code 0x87', version: 5, role: 'client', hex: '20 03 01 87 00', code: 'SESSION_PRESENT_WITH_ERROR', statement: 'MQTT-3.2.2-6' },
  { name: '3.1.1 CONNACK return code 6', version: 4, role: 'client', hex: '20 02 00 06', code: 'INVALID_REASON_CODE' },
  { name: '5.0 CONNACK reason code 0x04', version: 5, role: 'client', hex: '20 03 00 04 00', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.2.2-8' },
  { name: '5.0 CONNACK without Property Length', version: 5, role: 'client', hex: '20 02 00 00', code: 'TRUNCATED', field: 'properties.length' },
  { name: '3.1.1 CONNACK with a byte too many', version: 4, role: 'client', hex: '20 03 00 00 00', code: 'TRAILING_BYTES' },

  // --- PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-3.7)
  { name: '3.1.1 PUBACK with a byte too many', version: 4, hex: '40 03 00 01 00', code: 'TRAILING_BYTES' },
  { name: '3.1.1 PUBACK cut inside the packet id', version: 4, hex: '40 01 00', code: 'TRUNCATED', field: 'packetId' },
  { name: '5.0 PUBACK reason code 0x92 (PUBREL/PUBCOMP only)', version: 5, hex: '40 03 00 01 92', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.4.2-1' },
  { name: '5.0 PUBREL reason code 0x10 (PUBACK/PUBREC only)', version: 5, hex: '62 03 00 01 10', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.6.2-1' },

  // --- SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (§3.8-3.11)
  { name: '3.1.1 empty SUBSCRIBE', version: 4, role: 'server', hex: '82 02 00 01', code: 'EMPTY_SUBSCRIBE', statement: 'MQTT-3.8.3-3' },
  { name: '5.0 empty SUBSCRIBE', version: 5, role: 'server', hex: '82 03 00 01 00', code: 'EMPTY_SUBSCRIBE', statement: 'MQTT-3.8.3-2' },
  { name: '3.1.1 empty UNSUBSCRIBE', version: 4, role: 'server', hex: 'a2 02 00 01', code: 'EMPTY_UNSUBSCRIBE', statement: 'MQTT-3.10.3-2' },
  { name: '5.0 empty UNSUBSCRIBE', version: 5, role: 'server', hex: 'a2 03 00 01 00', code: 'EMPTY_UNSUBSCRIBE', statement: 'MQTT-3.10.3-2' },
  { name: '5.0 SUBSCRIBE Retain Handling 3', version: 5, role: 'server', hex: `82 09 00 01 00 00 03 "a/b" 30`, code: 'RETAIN_HANDLING_INVALID', field: 'subscriptions[0].retainHandling' },
  { name: '5.0 SUBSCRIBE No Local on a shared subscription', version: 5, role: 'server', hex: `82 10 00 01 00 00 0a "$share/g/a" 04`, code: 'NO_LOCAL_ON_SHARED', statement: 'MQTT-3.8.3-4' },
  { name: '3.1.1 SUBSCRIBE filter without its QoS byte', version: 4, role: 'server', hex: `82 07 00 01 00 03 "a/b"`, code: 'TRUNCATED' },
  { name: '3.1.1 SUBACK return code 0x03', version: 4, role: 'client', hex: '90 03 00 01 03', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.9.3-2' },
  { name: '5.0 SUBACK reason code 0x11 (UNSUBACK only)', version: 5, role: 'client', hex: '90 04 00 01 00 11', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.9.3-2' },
  { name: '3.1.1 SUBACK without return codes', version: 4, role: 'client', hex: '90 02 00 01', code: 'EMPTY_SUBACK' },
  { name: '3.1.1 UNSUBACK with a payload', version: 4, role: 'client', hex: 'b0 03 00 01 00', code: 'TRAILING_BYTES' },
  { name: '5.0 UNSUBACK reason code 0x01', version: 5, role: 'client', hex: 'b0 04 00 01 00 01', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.11.3-2' },

  // --- PINGREQ, DISCONNECT, AUTH (§3.12-3.15)
  { name: '3.1.1 PINGREQ with a body', version: 4, hex: 'c0 01 00', code: 'TRAILING_BYTES' },
  { name: '3.1.1 DISCONNECT with a body', version: 4, hex: 'e0 01 00', code: 'TRAILING_BYTES' },
  { name: '5.0 DISCONNECT reason code 0x01', version: 5, hex: 'e0 01 01', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.14.2-1' },
  { name: '5.0 DISCONNECT 0x8E (server only) from a client', version: 5, role: 'server', hex: 'e0 01 8e', code: 'INVALID_REASON_CODE' },
  { name: '5.0 DISCONNECT 0x04 (client only) from the server', version: 5, role: 'client', hex: 'e0 01 04', code: 'INVALID_REASON_CODE' },
  { name: '5.0 DISCONNECT with Session Expiry Interval from the server', version: 5, role: 'client', hex: 'e0 07 00 05 11 00 00 00 0a', code: 'PROPERTY_NOT_ALLOWED', statement: 'MQTT-3.14.2-2' },
  { name: '5.0 AUTH reason code 0x01', version: 5, hex: 'f0 02 01 00', code: 'INVALID_REASON_CODE', statement: 'MQTT-3.15.2-1' },
  { name: '5.0 AUTH with Authentication Data but no Method', version: 5, hex: 'f0 07 18 05 16 00 02 01 02', code: 'AUTH_DATA_WITHOUT_METHOD' },

  // --- framing, size, direction, version
  { name: 'two packets where one is expected', version: 4, hex: 'c0 00 c0 00', code: 'TRAILING_BYTES' },
  { name: 'body shorter than the Remaining Length', version: 4, hex: `32 09 00 03 "a/b" 00`, code: 'TRUNCATED' },
  { name: 'only the first byte of a fixed header', version: 4, hex: '30', code: 'TRUNCATED' },
  { name: 'Remaining Length cut after a continuation byte', version: 5, hex: '30 80', code: 'TRUNCATED' },
  { name: '5.0 packet over maxPacketSize, from a client (fixed header only)', version: 5, role: 'server', maxPacketSize: 1024, hex: '30 80 80 80 01', code: 'PACKET_TOO_LARGE', statement: 'MQTT-3.2.2-15', reasonCode: 0x95 },
  { name: '5.0 packet over maxPacketSize, from the server (fixed header only)', version: 5, role: 'client', maxPacketSize: 1024, hex: '30 80 80 80 01', code: 'PACKET_TOO_LARGE', statement: 'MQTT-3.1.2-24' },
  { name: '3.1.1 packet over maxPacketSize (131 > 130, fixed header only)', version: 4, maxPacketSize: 130, hex: '30 80 01', code: 'PACKET_TOO_LARGE' },
  { name: 'PINGREQ to a server before CONNECT', version: 4, role: 'server', unknownVersion: true, hex: 'c0 00', code: 'VERSION_UNKNOWN', statement: 'MQTT-3.1.0-1', reasonCode: 0x82 },
  { name: 'PUBLISH to a server before CONNECT', version: 5, role: 'server', unknownVersion: true, hex: `30 06 00 03 "a/b" 00`, code: 'VERSION_UNKNOWN', statement: 'MQTT-3.1.0-1' },
  { name: 'CONNACK to a server', version: 5, role: 'server', hex: '20 03 00 00 00', code: 'WRONG_DIRECTION' },
  { name: 'SUBACK to a server', version: 4, role: 'server', hex: '90 03 00 01 00', code: 'WRONG_DIRECTION' },
  { name: 'PINGRESP to a server', version: 4, role: 'server', hex: 'd0 00', code: 'WRONG_DIRECTION' },
  { name: 'SUBSCRIBE to a client', version: 5, role: 'client', hex: `82 09 00 01 00 00 03 "a/b" 00`, code: 'WRONG_DIRECTION' },
  { name: 'CONNECT to a client', version: 4, role: 'client', hex: `10 0d 00 04 "MQTT" 04 02 00 3c 00 01 "a"`, code: 'WRONG_DIRECTION' },
  { name: 'PINGREQ to a client', version: 5, role: 'client', hex: 'c0 00', code: 'WRONG_DIRECTION' },
];

// ---------------------------------------------------------------------------
// Packets the encoder must refuse
// ---------------------------------------------------------------------------

const pub = (p: Partial<PublishPacket>): PublishPacket => ({ type: 'publish', topic: 'a/b', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, ...p });

export const ENCODER_ERROR_VECTORS: readonly EncoderErrorVector[] = [
  { name: '3.1.1 topic with "+"', version: 4, packet: pub({ topic: 'a/+' }), code: 'TOPIC_NAME_WILDCARD', statement: 'MQTT-3.3.2-2', field: 'topic', unvalidatedHex: `30 05 00 03 "a/+"`, decodeCode: 'TOPIC_NAME_WILDCARD' },
  { name: '5.0 topic with "#"', version: 5, packet: pub({ topic: 'a/#' }), code: 'TOPIC_NAME_WILDCARD', statement: 'MQTT-3.3.2-2', unvalidatedHex: `30 06 00 03 "a/#" 00`, decodeCode: 'TOPIC_NAME_WILDCARD' },
  { name: '3.1.1 empty topic', version: 4, packet: pub({ topic: '' }), code: 'TOPIC_NAME_EMPTY', statement: 'MQTT-4.7.3-1', unvalidatedHex: '30 02 00 00', decodeCode: 'TOPIC_NAME_EMPTY' },
  { name: '3.1.1 QoS 1 with packet id 0', version: 4, packet: pub({ qos: 1, packetId: 0 }), code: 'PACKET_ID_ZERO', statement: 'MQTT-2.3.1-1', field: 'packetId', unvalidatedHex: `32 07 00 03 "a/b" 00 00`, decodeCode: 'PACKET_ID_ZERO' },
  { name: '5.0 QoS 1 without packet id', version: 5, packet: pub({ qos: 1 }), code: 'VALUE_OUT_OF_RANGE', field: 'packetId' },
  { name: '5.0 SUBSCRIBE with packet id 0', version: 5, role: 'server', packet: { type: 'subscribe', packetId: 0, subscriptions: [{ topicFilter: 'a/b', qos: 0 }] }, code: 'PACKET_ID_ZERO', statement: 'MQTT-2.2.1-3', field: 'packetId', unvalidatedHex: `82 09 00 00 00 00 03 "a/b" 00`, decodeCode: 'PACKET_ID_ZERO' },
  { name: '3.1.1 DUP on QoS 0', version: 4, packet: pub({ dup: true }), code: 'DUP_WITH_QOS0', statement: 'MQTT-3.3.1-2', unvalidatedHex: `38 05 00 03 "a/b"`, decodeCode: 'DUP_WITH_QOS0' },
  { name: 'QoS 3', version: 4, packet: pub({ qos: 3 as 0 }), code: 'VALUE_OUT_OF_RANGE', field: 'qos' },
  { name: '3.1.1 U+0000 in a topic', version: 4, packet: pub({ topic: 'a\u0000' }), code: 'UTF8_NULL_CHAR', statement: 'MQTT-1.5.3-2', unvalidatedHex: `30 04 00 02 "a" 00`, decodeCode: 'UTF8_NULL_CHAR' },
  { name: 'string of 65536 bytes (ASCII)', version: 4, packet: { type: 'connect', protocolVersion: 4, clean: true, keepAlive: 0, clientId: 'x'.repeat(65536) }, code: 'STRING_TOO_LONG', field: 'clientId' },
  { name: 'string of 65536 bytes (32768 × U+00E9)', version: 5, packet: pub({ topic: '\u00e9'.repeat(32768) }), code: 'STRING_TOO_LONG', field: 'topic' },
  { name: 'binary data of 65536 bytes', version: 5, packet: { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 0, clientId: 'a', password: Buffer.alloc(65536) }, code: 'BINARY_TOO_LONG', field: 'password' },
  { name: '3.1.1 lone high surrogate in a topic', version: 4, packet: pub({ topic: 'a\uD800' }), code: 'INVALID_UTF8', statement: 'MQTT-1.5.3-1', field: 'topic' },
  { name: '5.0 lone low surrogate in a user property', version: 5, packet: pub({ properties: { userProperties: [['k', '\uDC00']] } }), code: 'INVALID_UTF8', statement: 'MQTT-1.5.4-1', field: 'properties.userProperties.value' },
  { name: '5.0 surrogates in the wrong order', version: 5, packet: pub({ topic: '\uDC00\uD800' }), code: 'INVALID_UTF8', statement: 'MQTT-1.5.4-1' },
  { name: '3.1.1 PUBLISH with 5.0 properties', version: 4, packet: pub({ properties: { contentType: 'x' } }), code: 'VALUE_OUT_OF_RANGE', field: 'properties' },
  { name: '3.1.1 PUBACK with a reason code', version: 4, packet: { type: 'puback', packetId: 1, reasonCode: 0x10 }, code: 'VALUE_OUT_OF_RANGE', field: 'reasonCode' },
  { name: '3.1.1 SUBSCRIBE with No Local', version: 4, packet: { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a', qos: 0, noLocal: true }] }, code: 'VALUE_OUT_OF_RANGE', field: 'subscriptions[0].noLocal' },
  { name: '3.1.1 UNSUBACK with reason codes', version: 4, packet: { type: 'unsuback', packetId: 1, reasonCodes: [0] }, code: 'VALUE_OUT_OF_RANGE', field: 'reasonCodes' },
  { name: '3.1.1 CONNECT with will properties', version: 4, packet: { type: 'connect', protocolVersion: 4, clean: true, keepAlive: 0, clientId: 'a', will: { topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, properties: { willDelayInterval: 1 } } }, code: 'VALUE_OUT_OF_RANGE', field: 'will.properties' },
  { name: '3.1.1 DISCONNECT with a reason code', version: 4, packet: { type: 'disconnect', reasonCode: 0 }, code: 'VALUE_OUT_OF_RANGE', field: 'reasonCode' },
  { name: 'AUTH as 3.1.1', version: 4, packet: { type: 'auth', reasonCode: 0 }, code: 'UNKNOWN_PACKET_TYPE' },
  { name: '3.1.1 SUBSCRIBE filter "a/#/b"', version: 4, role: 'server', packet: { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a/#/b', qos: 0 }] }, code: 'TOPIC_FILTER_INVALID', statement: 'MQTT-4.7.1-2', unvalidatedHex: `82 0a 00 01 00 05 "a/#/b" 00`, decodeCode: 'TOPIC_FILTER_INVALID' },
  { name: '5.0 empty SUBSCRIBE', version: 5, role: 'server', packet: { type: 'subscribe', packetId: 1, subscriptions: [] }, code: 'EMPTY_SUBSCRIBE', statement: 'MQTT-3.8.3-2', unvalidatedHex: '82 03 00 01 00', decodeCode: 'EMPTY_SUBSCRIBE' },
  { name: '3.1.1 empty UNSUBSCRIBE', version: 4, role: 'server', packet: { type: 'unsubscribe', packetId: 1, topicFilters: [] }, code: 'EMPTY_UNSUBSCRIBE', statement: 'MQTT-3.10.3-2', unvalidatedHex: 'a2 02 00 01', decodeCode: 'EMPTY_UNSUBSCRIBE' },
  { name: '5.0 Retain Handling 3', version: 5, role: 'server', packet: { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'a/b', qos: 0, retainHandling: 3 as 0 }] }, code: 'VALUE_OUT_OF_RANGE', field: 'subscriptions[0].retainHandling', unvalidatedHex: `82 09 00 01 00 00 03 "a/b" 30`, decodeCode: 'RETAIN_HANDLING_INVALID' },
  { name: '5.0 No Local on a shared subscription', version: 5, role: 'server', packet: { type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: '$share/g/a', qos: 0, noLocal: true }] }, code: 'NO_LOCAL_ON_SHARED', statement: 'MQTT-3.8.3-4', unvalidatedHex: `82 10 00 01 00 00 0a "$share/g/a" 04`, decodeCode: 'NO_LOCAL_ON_SHARED' },
  { name: '5.0 Topic Alias in CONNECT', version: 5, role: 'server', packet: { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 60, clientId: 'a', properties: { topicAlias: 1 } as never }, code: 'PROPERTY_NOT_ALLOWED', field: 'properties.topicAlias', unvalidatedHex: `10 11 00 04 "MQTT" 05 02 00 3c 03 23 00 01 00 01 "a"`, decodeCode: 'PROPERTY_NOT_ALLOWED' },
  { name: '5.0 Topic Alias 0', version: 5, packet: pub({ topic: 'a', properties: { topicAlias: 0 } }), code: 'INVALID_PROPERTY_VALUE', field: 'properties.topicAlias', unvalidatedHex: `30 07 00 01 "a" 03 23 00 00`, decodeCode: 'TOPIC_ALIAS_ZERO' },
  { name: '5.0 two Subscription Identifiers in SUBSCRIBE', version: 5, role: 'server', packet: { type: 'subscribe', packetId: 1, properties: { subscriptionIdentifiers: [1, 2] }, subscriptions: [{ topicFilter: 'a', qos: 0 }] }, code: 'INVALID_PROPERTY_VALUE', unvalidatedHex: `82 0b 00 01 04 0b 01 0b 02 00 01 "a" 00`, decodeCode: 'DUPLICATE_PROPERTY' },
  { name: '5.0 PUBACK reason code 0x92', version: 5, packet: { type: 'puback', packetId: 1, reasonCode: 0x92 }, code: 'INVALID_REASON_CODE', statement: 'MQTT-3.4.2-1', unvalidatedHex: '40 03 00 01 92', decodeCode: 'INVALID_REASON_CODE' },
  { name: '3.1.1 CONNACK session present with return code 5', version: 4, role: 'client', packet: { type: 'connack', sessionPresent: true, reasonCode: 5 }, code: 'SESSION_PRESENT_WITH_ERROR', statement: 'MQTT-3.2.2-4', unvalidatedHex: '20 02 01 05', decodeCode: 'SESSION_PRESENT_WITH_ERROR' },
  { name: '3.1.1 password without user name', version: 4, role: 'server', packet: { type: 'connect', protocolVersion: 4, clean: true, keepAlive: 60, clientId: 'a', password: bytes(0xff) }, code: 'PASSWORD_WITHOUT_USERNAME', statement: 'MQTT-3.1.2-22', unvalidatedHex: `10 10 00 04 "MQTT" 04 42 00 3c 00 01 "a" 00 01 ff`, decodeCode: 'PASSWORD_WITHOUT_USERNAME' },
];

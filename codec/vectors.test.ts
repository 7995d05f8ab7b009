/**
 * Runs the hand-derived vectors of vectors.ts against the codec:
 * decode(bytes) = packet, encode(packet) = bytes (or the canonical bytes),
 * decode(encode(packet)) = packet, byte-at-a-time streaming, and the error
 * tables (decoder and encoder) with their error codes and spec statements.
 */
import { describe, expect, test } from 'vitest';
import { findStatement } from '../spec/catalogue.js';
import {
  decodePacket, Decoder, encode, isMqttCodecError, MAX_PACKET_SIZE, MqttCodecError, varintSize,
  type DecoderOptions, type Packet,
} from './index.js';
import {
  BOUNDARY_VECTORS, buildBoundary, ENCODER_ERROR_VECTORS, ERROR_VECTORS, hx, VALID_VECTORS, VARINT_BOUNDARIES,
  type ValidVector,
} from './vectors.js';

function catchError(fn: () => unknown): MqttCodecError {
  try {
    fn();
  } catch (e) {
    if (isMqttCodecError(e)) return e;
    throw new Error(`expected an MqttCodecError, got ${String(e)}`);
  }
  throw new Error('expected an MqttCodecError, but nothing was thrown');
}

const hexOf = (buf: Buffer): string => buf.toString('hex');
const decodeOpts = (v: ValidVector): DecoderOptions => ({ version: v.version, ...(v.role ? { role: v.role } : {}) });

/** Feeds `bytes` one byte at a time and returns what the decoder produced. */
function streamBytewise(bytes: Buffer, opts: DecoderOptions): Packet[] {
  const d = new Decoder(opts);
  const out: Packet[] = [];
  for (let i = 0; i < bytes.length; i++) d.feed(bytes.subarray(i, i + 1), (p) => out.push(p));
  expect(d.buffered).toBe(0);
  return out;
}

describe('hx notation', () => {
  test('reads hex, quoted ASCII and comments, and rejects junk', () => {
    expect(hexOf(hx('10 0d # comment "x"\n 00 04 "MQTT"'))).toBe('100d00044d515454');
    expect(() => hx('1')).toThrow();
    expect(() => hx('zz')).toThrow();
    expect(() => hx('"unterminated')).toThrow();
    expect(() => hx('"é"')).toThrow();
  });
});

describe('valid vectors', () => {
  test('names are unique', () => {
    const names = VALID_VECTORS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });

  test('every packet type is covered in each version it exists in', () => {
    const seen = new Set(VALID_VECTORS.map((v) => `${v.version}:${v.packet.type}`));
    const types: Packet['type'][] = ['connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth'];
    const missing = types.flatMap((t) => ([4, 5] as const).filter((ver) => !(t === 'auth' && ver === 4) && !seen.has(`${ver}:${t}`)).map((ver) => `${ver}:${t}`));
    expect(missing).toEqual([]);
  });

  describe.each(VALID_VECTORS.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const bytes = hx(v.hex);
    const canonical = v.canonicalHex !== undefined ? hx(v.canonicalHex) : bytes;

    test('decode(bytes) equals the packet', () => {
      expect(decodePacket(bytes, decodeOpts(v))).toEqual(v.packet);
    });

    test('encode(packet) equals the (canonical) bytes', () => {
      expect(hexOf(encode(v.packet, v.version))).toBe(hexOf(canonical));
    });

    test('round trip decode(encode(packet)) equals the packet', () => {
      expect(decodePacket(encode(v.packet, v.version), decodeOpts(v))).toEqual(v.packet);
    });

    test('byte-at-a-time streaming yields the same packet', () => {
      expect(streamBytewise(bytes, decodeOpts(v))).toEqual([v.packet]);
    });

    if (v.canonicalHex !== undefined) {
      test('the canonical bytes differ, are no longer, and decode to the same packet', () => {
        expect(hexOf(canonical)).not.toBe(hexOf(bytes));
        expect(canonical.length).toBeLessThanOrEqual(bytes.length);
        expect(decodePacket(canonical, decodeOpts(v))).toEqual(v.packet);
      });
    }

    if (v.packet.type === 'connect') {
      test('a server that has not seen CONNECT learns the version from it', () => {
        const d = new Decoder({ role: 'server' });
        expect(d.decodeAll(bytes)).toEqual([v.packet]);
        expect(d.version).toBe(v.version);
      });
    }
  });

  test.each([4, 5] as const)('all %s vectors concatenated decode in order, in any chunking', (version) => {
    // One direction at a time, so direction rules stay on.
    for (const role of ['server', 'client'] as const) {
      const vs = VALID_VECTORS.filter((v) => v.version === version && v.packet.type !== 'connect' && (v.role === undefined || v.role === role));
      const stream = Buffer.concat(vs.map((v) => hx(v.hex)));
      const expected = vs.map((v) => v.packet);
      for (const chunk of [1, 2, 3, 7, 64, stream.length]) {
        const d = new Decoder({ version, role });
        const out: Packet[] = [];
        for (let i = 0; i < stream.length; i += chunk) d.feed(stream.subarray(i, i + chunk), (p) => out.push(p));
        expect(out).toEqual(expected);
        expect(d.buffered).toBe(0);
      }
    }
  });
});

describe('Remaining Length boundaries', () => {
  test('varintSize at the boundaries', () => {
    for (const [value, vhex] of VARINT_BOUNDARIES) expect([value, varintSize(value)]).toEqual([value, vhex.split(' ').length]);
    expect(varintSize(0)).toBe(1);
  });

  test.each(BOUNDARY_VECTORS.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const { packet, bytes } = buildBoundary(v);
    const header = hx(v.headerHex);
    expect(header.length).toBe(1 + v.lengthBytes);
    expect(bytes.length).toBe(1 + v.lengthBytes + v.remainingLength);

    const encoded = encode(packet, v.version);
    expect(hexOf(encoded.subarray(0, header.length))).toBe(hexOf(header));
    expect(encoded.equals(bytes)).toBe(true);

    const decoded = decodePacket(bytes, { version: v.version });
    if (decoded.type !== 'publish') throw new Error('not a publish');
    expect({ ...decoded, payload: decoded.payload.length }).toEqual({ ...packet, payload: packet.payload.length });
    expect(decoded.payload.equals(packet.payload)).toBe(true);

    // Streamed in uneven chunks, with the fixed header split across the first two.
    const d = new Decoder({ version: v.version });
    const out: Packet[] = [];
    d.feed(bytes.subarray(0, 2), (p) => out.push(p));
    for (let i = 2; i < bytes.length; i += 65_537) d.feed(bytes.subarray(i, i + 65_537), (p) => out.push(p));
    expect(out.length).toBe(1);
    expect((out[0] as typeof packet).payload.equals(packet.payload)).toBe(true);
  });

  test('the largest Remaining Length (FF FF FF 7F) passes the header check and waits for the body', () => {
    const d = new Decoder({ version: 5 });
    d.feed(hx('30 ff ff ff 7f'), () => { throw new Error('no packet expected'); });
    expect(d.buffered).toBe(5);
    expect(MAX_PACKET_SIZE).toBe(1 + 4 + 268_435_455);
  });

  test('maxPacketSize counts the whole packet: exactly at the limit passes, one over fails', () => {
    // 127-byte Remaining Length: 1 + 1 + 127 = 129 bytes in all.
    const { bytes } = buildBoundary(BOUNDARY_VECTORS.find((v) => v.remainingLength === 127 && v.version === 5)!);
    expect(bytes.length).toBe(129);
    expect(new Decoder({ version: 5, maxPacketSize: 129 }).decodeAll(bytes)).toHaveLength(1);
    const e = catchError(() => new Decoder({ version: 5, maxPacketSize: 128 }).decodeAll(bytes));
    expect(e.code).toBe('PACKET_TOO_LARGE');
  });

  test('an over-size packet fails from its first 5 bytes, before the body arrives', () => {
    const big = buildBoundary(BOUNDARY_VECTORS.find((v) => v.remainingLength === 2097152 && v.version === 5)!).bytes;
    const d = new Decoder({ version: 5, role: 'server', maxPacketSize: 65_536 });
    const e = catchError(() => d.feed(big.subarray(0, 5), () => { throw new Error('no packet expected'); }));
    expect(e.code).toBe('PACKET_TOO_LARGE');
    expect(e.statement).toBe('MQTT-3.2.2-15');
    expect(e.reasonCode).toBe(0x95);
    // The decoder stays failed.
    expect(catchError(() => d.feed(big.subarray(5), () => undefined))).toBe(e);
  });

  test('a fixed header split across feeds is checked as soon as it is complete', () => {
    const d = new Decoder({ version: 4, maxPacketSize: 1000 });
    d.feed(hx('30 80'), () => undefined);
    d.feed(hx('80'), () => undefined);
    expect(d.buffered).toBe(3);
    const e = catchError(() => d.feed(hx('01'), () => undefined));
    expect(e.code).toBe('PACKET_TOO_LARGE');
  });
});

describe('error vectors (decoder)', () => {
  test('names are unique', () => {
    const names = ERROR_VECTORS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });

  test.each(ERROR_VECTORS.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const opts: DecoderOptions = {
      ...(v.unknownVersion ? {} : { version: v.version }),
      ...(v.role ? { role: v.role } : {}),
      ...(v.maxPacketSize !== undefined ? { maxPacketSize: v.maxPacketSize } : {}),
    };
    const bytes = hx(v.hex);
    const e = catchError(() => decodePacket(bytes, opts));
    expect(e).toBeInstanceOf(MqttCodecError);
    expect({ code: e.code, statement: e.statement }).toEqual({ code: v.code, statement: v.statement });
    if (v.field !== undefined) expect(e.field).toBe(v.field);
    if (v.reasonCode !== undefined) expect(e.reasonCode).toBe(v.reasonCode);
    if (v.statement !== undefined) {
      expect(findStatement(v.statement, v.version === 5 ? '5.0' : '3.1.1'), `${v.statement} in the catalogue`).toBeDefined();
    }
    // Streaming byte by byte fails with the same code, except for the errors only
    // decodePacket can see at the end of its input (input cut short, more than one packet).
    const d = new Decoder(opts);
    const got: Packet[] = [];
    let streamed: unknown;
    try {
      for (let i = 0; i < bytes.length; i++) d.feed(bytes.subarray(i, i + 1), (p) => got.push(p));
    } catch (err) {
      streamed = err;
    }
    if (streamed !== undefined) {
      expect(isMqttCodecError(streamed) && streamed.code).toBe(v.code);
    } else if (v.code === 'TRUNCATED') {
      expect(d.buffered).toBeGreaterThan(0);
    } else {
      expect(v.code).toBe('TRAILING_BYTES');
      expect(got.length).toBeGreaterThan(1);
    }
  });
});

describe('error vectors (encoder)', () => {
  test.each(ENCODER_ERROR_VECTORS.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const e = catchError(() => encode(v.packet, v.version));
    expect({ code: e.code, statement: e.statement }).toEqual({ code: v.code, statement: v.statement });
    if (v.field !== undefined) expect(e.field).toBe(v.field);
    if (v.statement !== undefined) {
      expect(findStatement(v.statement, v.version === 5 ? '5.0' : '3.1.1'), `${v.statement} in the catalogue`).toBeDefined();
    }
    if (v.unvalidatedHex !== undefined) {
      const raw = encode(v.packet, v.version, { validate: false });
      expect(hexOf(raw)).toBe(hexOf(hx(v.unvalidatedHex)));
      const de = catchError(() => decodePacket(raw, { version: v.version, ...(v.role ? { role: v.role } : {}) }));
      expect(de.code).toBe(v.decodeCode);
    } else {
      // Ranges and well-formedness hold even without validation.
      const e2 = catchError(() => encode(v.packet, v.version, { validate: false }));
      expect(e2.code).toBe(v.code);
    }
  });

  test('a string of exactly 65535 bytes is accepted (multi-byte characters counted in bytes)', () => {
    const topic = '\u00e9'.repeat(32767) + 'a';
    const p: Packet = { type: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: false, dup: false };
    const bytes = encode(p, 4);
    // 30, Remaining Length 65537 = 81 80 04, length prefix ff ff.
    expect(hexOf(bytes.subarray(0, 6))).toBe('30818004ffff');
    expect(decodePacket(bytes, { version: 4 })).toEqual(p);
  });

  test('encode refuses a protocol level other than 4 or 5', () => {
    expect(catchError(() => encode({ type: 'pingreq' }, 3 as 4)).code).toBe('UNSUPPORTED_PROTOCOL_LEVEL');
  });
});

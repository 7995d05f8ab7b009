/**
 * Robustness: bytes that are *almost* valid (valid packet streams with bit flips, byte
 * replacements, truncation, insertion, deletion, duplicated slices, corrupted Remaining
 * Lengths, other packets spliced in) and plain random bytes, fed to a Decoder in arbitrary
 * chunks with every role/version setting, with and without a small maxPacketSize. The
 * mutation model lives in mutations.ts (shared with the broker fuzzer, harness/fuzz/).
 *
 * Properties:
 *  - feeding terminates and either yields packets or throws an MqttCodecError — never any
 *    other exception; after an error the decoder stays failed with that same error;
 *  - every packet the decoder yields is valid for the encoder: encode(p, v, { validate: true })
 *    does not throw, and decoding that encoding gives p back (so the decoder never accepts
 *    anything the encoder would refuse to produce, and its output is in normal form).
 *
 * FC_RUNS overrides the run count of every property; FC_SEED / FC_PATH replay a failure.
 */
import fc, { type Arbitrary } from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  arbitraryChunkPlan, arbitraryPacketSequence, fcParameters, splitByPlan, VERSIONS, type ChunkPlan,
} from './arbitraries.js';
import {
  decodePacket, Decoder, encode, FIXED_FLAGS, isMqttCodecError, MAX_VARINT, varintSize,
  type DecoderOptions, type Packet, type ProtocolVersion, type Role,
} from './index.js';
import { applyByteMutation, arbitraryByteMutation, arbitraryLengthCorruption, corruptLength, encodeVarint } from './mutations.js';

// ---------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------

interface Config {
  version: ProtocolVersion;
  role: Role | undefined;
  versionKnown: boolean;
}

const CONFIGS: Config[] = VERSIONS.flatMap((version) => [
  { version, role: 'server', versionKnown: false },
  { version, role: 'server', versionKnown: true },
  { version, role: 'client', versionKnown: true },
  { version, role: undefined, versionKnown: true },
] satisfies Config[]);

const maxPacketSizeArb: Arbitrary<number | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 64 }) },
);

/**
 * Feeds `bytes` cut by `plan` to a fresh decoder; checks the decoder's only failure mode is an
 * MqttCodecError and that everything it yielded re-encodes (validated) and decodes back unchanged.
 */
function feedAndCheck(bytes: Buffer, plan: ChunkPlan, cfg: Config, maxPacketSize: number | undefined): void {
  const opts: DecoderOptions = { role: cfg.role, maxPacketSize };
  if (cfg.versionKnown) opts.version = cfg.version;
  const d = new Decoder(opts);
  const yielded: Array<{ packet: Packet; version: ProtocolVersion }> = [];
  let failure: unknown;
  try {
    // The sink only records: checks run afterwards, so a failing check cannot be mistaken for a decoder error.
    for (const c of splitByPlan(bytes, plan)) d.feed(c, (packet) => yielded.push({ packet, version: packet.type === 'connect' ? packet.protocolVersion : d.version! }));
  } catch (e) {
    failure = e;
  }
  if (failure !== undefined) {
    if (!isMqttCodecError(failure)) throw new Error(`decoder threw a non-codec exception: ${String(failure)}`, { cause: failure });
    let again: unknown;
    try {
      d.feed(Buffer.alloc(1), () => { throw new Error('a failed decoder yielded a packet'); });
    } catch (e) {
      again = e;
    }
    expect(again).toBe(failure);
  }
  for (const { packet, version } of yielded) {
    let re: Buffer;
    try {
      re = encode(packet, version, { validate: true });
    } catch (e) {
      throw new Error(`decoder accepted a ${packet.type.toUpperCase()} (level ${version}) that encode(validate) rejects: ${String(e)}`, { cause: e });
    }
    expect(decodePacket(re, packet.type === 'connect' ? { role: cfg.role } : { version, role: cfg.role })).toStrictEqual(packet);
  }
}

const label = (c: Config): string => `level ${c.version}, role ${c.role ?? 'none'}, version ${c.versionKnown ? 'known' : 'learned'}`;

describe.each(CONFIGS.map((c) => [label(c), c] as const))('%s', (_name, cfg) => {
  const stream = arbitraryPacketSequence(cfg.version, cfg.role, { handshake: !cfg.versionKnown, minPackets: 1, maxPackets: 4 });

  test('mutated valid streams: packets or MqttCodecError, and accepted packets re-encode', () => {
    const arb = fc.tuple(stream, fc.option(arbitraryLengthCorruption, { nil: undefined }), fc.array(arbitraryByteMutation, { minLength: 1, maxLength: 4 }), arbitraryChunkPlan(), maxPacketSizeArb);
    fc.assert(fc.property(arb, ([packets, rl, mutations, plan, max]) => {
      let parts = packets.map((p) => encode(p, cfg.version));
      if (rl !== undefined) parts = corruptLength(parts, rl);
      const bytes = mutations.reduce(applyByteMutation, Buffer.concat(parts));
      feedAndCheck(bytes, plan, cfg, max);
    }), fcParameters(600));
  });

  test('random bytes: packets or MqttCodecError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), arbitraryChunkPlan(), maxPacketSizeArb, (bytes, plan, max) => {
      feedAndCheck(Buffer.from(bytes), plan, cfg, max);
    }), fcParameters(400));
  });

  test('random bodies behind well-formed fixed headers: packets or MqttCodecError', () => {
    // First bytes with the required flags (any flags for PUBLISH), exact Remaining Lengths, random bodies:
    // gets past framing into every body decoder.
    const firstBytes = FIXED_FLAGS.flatMap((flags, type) => type === 0 ? [] : type === 3 ? Array.from({ length: 16 }, (_, f) => 0x30 | f) : [(type << 4) | flags]);
    const packet = fc.tuple(fc.constantFrom(...firstBytes), fc.uint8Array({ maxLength: 48 }))
      .map(([b1, body]) => Buffer.concat([Uint8Array.of(b1), encodeVarint(body.length), body]));
    const prefix = cfg.versionKnown ? fc.constant(Buffer.alloc(0)) : arbitraryPacketSequence(cfg.version, 'server', { handshake: true, maxPackets: 1 }).map((ps) => encode(ps[0]!, cfg.version));
    fc.assert(fc.property(prefix, fc.array(packet, { minLength: 1, maxLength: 3 }), arbitraryChunkPlan(), maxPacketSizeArb, (head, ps, plan, max) => {
      feedAndCheck(Buffer.concat([head, ...ps]), plan, cfg, max);
    }), fcParameters(600));
  });
});

test('sanity: varintSize agrees with the varint writer used here', () => {
  for (const n of [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MAX_VARINT]) expect(encodeVarint(n).length).toBe(varintSize(n));
});

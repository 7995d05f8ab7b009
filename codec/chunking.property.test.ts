/**
 * Chunking: a stream of valid packets (one version, one direction), concatenated and cut at
 * arbitrary points, decodes to exactly the same packets in order whatever the cuts — random
 * cuts, empty chunks, one byte at a time, everything at once — and leaves nothing buffered.
 * A server-side decoder that is not told the version learns it from the leading CONNECT.
 *
 * FC_RUNS overrides the run count of every property; FC_SEED / FC_PATH replay a failure.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  arbitraryChunkPlan, arbitraryPacketSequence, BYTE_BY_BYTE, fcParameters, splitByPlan, VERSIONS, WHOLE, type ChunkPlan,
} from './arbitraries.js';
import { Decoder, encode, type DecoderOptions, type Packet, type ProtocolVersion, type Role } from './index.js';

interface Scenario {
  name: string;
  role: Role | undefined;
  /** Whether the decoder is told the version up front (a server learns it from CONNECT otherwise). */
  versionKnown: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'server learning the version from CONNECT', role: 'server', versionKnown: false },
  { name: 'server told the version', role: 'server', versionKnown: true },
  { name: 'client', role: 'client', versionKnown: true },
  { name: 'decoder without a role', role: undefined, versionKnown: true },
];

function decodeChunks(chunks: readonly Buffer[], opts: DecoderOptions): { packets: Packet[]; decoder: Decoder } {
  const decoder = new Decoder(opts);
  const packets: Packet[] = [];
  for (const c of chunks) decoder.feed(c, (p) => packets.push(p));
  return { packets, decoder };
}

function check(packets: Packet[], version: ProtocolVersion, s: Scenario, plan: ChunkPlan): void {
  const bytes = Buffer.concat(packets.map((p) => encode(p, version)));
  const opts: DecoderOptions = s.versionKnown ? { version, role: s.role } : { role: s.role };
  for (const p of [plan, WHOLE, BYTE_BY_BYTE]) {
    const chunks = splitByPlan(bytes, p);
    expect(Buffer.concat(chunks)).toStrictEqual(bytes);
    const { packets: got, decoder } = decodeChunks(chunks, opts);
    expect(got).toStrictEqual(packets);
    expect(decoder.buffered).toBe(0);
    expect(decoder.version).toBe(version);
  }
}

describe.each(VERSIONS)('protocol level %i', (version) => {
  test.each(SCENARIOS)('$name: any chunking yields the same packets', (s) => {
    const packets = arbitraryPacketSequence(version, s.role, { handshake: !s.versionKnown, minPackets: 1, maxPackets: 8 });
    fc.assert(fc.property(packets, arbitraryChunkPlan(), (ps, plan) => check(ps, version, s, plan)), fcParameters(200));
  });

  test('a packet cut mid-way stays buffered until its last byte arrives', () => {
    const packets = arbitraryPacketSequence(version, 'client', { minPackets: 1, maxPackets: 3 });
    fc.assert(fc.property(packets, fc.nat(), (ps, at) => {
      const bytes = Buffer.concat(ps.map((p) => encode(p, version)));
      const cut = at % bytes.length;
      const d = new Decoder({ version, role: 'client' });
      const got: Packet[] = [];
      d.feed(bytes.subarray(0, cut), (p) => got.push(p));
      expect(d.buffered + got.reduce((n, p) => n + encode(p, version).length, 0)).toBe(cut);
      d.feed(bytes.subarray(cut), (p) => got.push(p));
      expect(got).toStrictEqual(ps);
      expect(d.buffered).toBe(0);
    }), fcParameters(200));
  });
});

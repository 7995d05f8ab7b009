/**
 * Byte-level mutations of a valid packet stream: bit flips, byte
 * replacements, truncation, insertion, deletion, duplicated slices, other
 * packets spliced in or appended, and corrupted Remaining Lengths. They know
 * nothing of packet structure (see packet-mutations.ts for field-aware ones
 * and session-mutations.ts for packets out of order).
 *
 * Positions are taken modulo the current length, so every mutation applies to
 * any input and shrinks towards position 0.
 *
 * Used by the codec's robustness property (mutation.property.test.ts) and by
 * the broker fuzzer (harness/fuzz/). Depends on fast-check (a tool-only module
 * like arbitraries.ts): never import it from runtime code; it is not
 * re-exported from codec/index.ts.
 */
import fc, { type Arbitrary } from 'fast-check';
import { arbitraryPacket } from './arbitraries.js';
import { encode, MAX_VARINT } from './index.js';

export type ByteMutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'duplicate'; at: number; count: number }
  | { kind: 'splice'; at: number; bytes: Uint8Array }
  | { kind: 'append'; bytes: Uint8Array };

/** Corruption of one packet's Remaining Length (packet index modulo the packet count). */
export type LengthCorruption =
  | { kind: 'shift'; packet: number; delta: number }
  | { kind: 'value'; packet: number; value: number }
  | { kind: 'raw'; packet: number; bytes: Uint8Array };

/** Bytes of any valid packet, of either version and either direction (for splicing). */
export const validPacketBytes: Arbitrary<Uint8Array> = fc.oneof(
  arbitraryPacket(4).map((p) => encode(p, 4)),
  arbitraryPacket(5).map((p) => encode(p, 5)),
);

export const arbitraryByteMutation: Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0x00, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), bytes: validPacketBytes }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.oneof(validPacketBytes, fc.uint8Array({ minLength: 1, maxLength: 16 })) }),
);

export const arbitraryLengthCorruption: Arbitrary<LengthCorruption> = fc.oneof(
  fc.record({ kind: fc.constant('shift' as const), packet: fc.nat(), delta: fc.integer({ min: -4, max: 4 }).filter((d) => d !== 0) }),
  fc.record({ kind: fc.constant('value' as const), packet: fc.nat(), value: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MAX_VARINT)) }),
  // Non-minimal, over-long and arbitrary varint bytes.
  fc.record({ kind: fc.constant('raw' as const), packet: fc.nat(), bytes: fc.oneof(
    fc.constantFrom(Uint8Array.of(0x80, 0x00), Uint8Array.of(0x81, 0x00), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f), Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x01), Uint8Array.of(0xff, 0xff, 0xff, 0x7f)),
    fc.uint8Array({ minLength: 1, maxLength: 5 }),
  ) }),
);

/** Variable Byte Integer bytes of `n` (0 ≤ n ≤ MAX_VARINT); tools write wrong lengths with it. */
export function encodeVarint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

/** Offset just past the Remaining Length of the packet starting at `pkt[0]`, and its value. */
export function remainingLengthEnd(pkt: Uint8Array): { end: number; value: number } {
  let value = 0;
  let mult = 1;
  let n = 1;
  for (;;) {
    const b = pkt[n++];
    if (b === undefined) return { end: n - 1, value };
    value += (b & 0x7f) * mult;
    mult *= 128;
    if ((b & 0x80) === 0 || n > 4) return { end: n, value };
  }
}

/** Rewrites the Remaining Length of one packet of a well-formed stream (one Buffer per packet). */
export function corruptLength(packets: readonly Buffer[], c: LengthCorruption): Buffer[] {
  if (packets.length === 0) return [];
  const i = c.packet % packets.length;
  const pkt = packets[i]!;
  const { end, value } = remainingLengthEnd(pkt);
  const bytes = c.kind === 'raw' ? c.bytes : encodeVarint(Math.min(MAX_VARINT, Math.max(0, c.kind === 'shift' ? value + c.delta : c.value)));
  const out = [...packets];
  out[i] = Buffer.concat([pkt.subarray(0, 1), bytes, pkt.subarray(end)]);
  return out;
}

export function applyByteMutation(input: Buffer, m: ByteMutation): Buffer {
  const len = input.length;
  const at = len === 0 ? 0 : 'at' in m ? m.at % (len + 1) : len;
  switch (m.kind) {
    case 'flip': {
      if (len === 0) return input;
      const b = Buffer.from(input);
      b[at % len] = b[at % len]! ^ (1 << m.bit);
      return b;
    }
    case 'set': {
      if (len === 0) return input;
      const b = Buffer.from(input);
      b[at % len] = m.value;
      return b;
    }
    case 'truncate': return input.subarray(0, at);
    case 'insert': case 'splice': return Buffer.concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    case 'delete': return Buffer.concat([input.subarray(0, at), input.subarray(at + m.count)]);
    case 'duplicate': return Buffer.concat([input.subarray(0, at + m.count), input.subarray(at)]);
    case 'append': return Buffer.concat([input, m.bytes]);
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Where a position lands in an input of `length` bytes (positions are taken modulo length + 1). */
function effective(at: number, length: number | undefined): number {
  return length === undefined || length === 0 ? at : at % (length + 1);
}

/** One line for reports, e.g. `flip bit 3 at byte 17`; give the input's length to show the position the mutation really hits. */
export function describeByteMutation(m: ByteMutation, inputLength?: number): string {
  const at = 'at' in m ? effective(m.at, inputLength) : 0;
  switch (m.kind) {
    case 'flip': return `flip bit ${m.bit} at byte ${at}`;
    case 'set': return `set byte ${at} to 0x${m.value.toString(16).padStart(2, '0')}`;
    case 'truncate': return `truncate at byte ${at}`;
    case 'insert': return `insert ${hex(m.bytes)} at byte ${at}`;
    case 'delete': return `delete ${m.count} byte(s) at byte ${at}`;
    case 'duplicate': return `duplicate ${m.count} byte(s) at byte ${at}`;
    case 'splice': return `splice a packet (${m.bytes.length} bytes: ${hex(m.bytes).slice(0, 32)}) in at byte ${at}`;
    case 'append': return `append ${m.bytes.length} byte(s): ${hex(m.bytes).slice(0, 48)}`;
  }
}

/** One line for reports; give the number of packets to show the packet the corruption really hits. */
export function describeLengthCorruption(c: LengthCorruption, packets?: number): string {
  const i = packets === undefined || packets === 0 ? c.packet : c.packet % packets;
  switch (c.kind) {
    case 'shift': return `Remaining Length of packet ${i} ${c.delta > 0 ? '+' : ''}${c.delta}`;
    case 'value': return `Remaining Length of packet ${i} set to ${c.value}`;
    case 'raw': return `Remaining Length of packet ${i} replaced by bytes ${hex(c.bytes)}`;
  }
}

/**
 * What every measured message carries: device id, sequence number, the
 * intended send time and how late the actual send was, so the receiving
 * process (another process, maybe in another network namespace: both read
 * CLOCK_MONOTONIC through process.hrtime.bigint) computes latency from the
 * intended time (corrected) and from the actual send (uncorrected).
 *
 * Times travel as microseconds since the run's t0 (a monotonic instant the
 * runner picks and gives to every process), so a stamp fits 14 bytes:
 *
 *   binary (big-endian): u16 device | u32 seq | u32 intended µs | u32 lag µs | filler up to the payload size
 *   json:                {"d":<device>,"s":<seq>,"t":<intended µs>,"l":<lag µs>,"v":"<filler>"} padded to the payload size
 *
 * The payload has exactly the configured size either way, so bytes per
 * message do not depend on the numbers in it.
 */

export type PayloadFormat = 'binary' | 'json';

export interface Stamp {
  device: number;
  seq: number;
  /** Intended send time, µs after t0. */
  intendedUs: number;
  /** Actual send − intended, µs (never negative). */
  lagUs: number;
}

export const BINARY_STAMP_BYTES = 14;
const U32 = 0xffff_ffff;
const MAX_JSON_LAG = 999_999_999;

const digits = (n: number): number => String(Math.max(0, Math.floor(n))).length;

/** Smallest payload that can carry a stamp for a run with these bounds. */
export function minPayloadBytes(format: PayloadFormat, b: { devices: number; maxSeq: number; spanUs: number }): number {
  if (format === 'binary') return BINARY_STAMP_BYTES;
  // {"d":,"s":,"t":,"l":,"v":""} is 28 characters around the numbers.
  return 28 + digits(b.devices) + digits(b.maxSeq) + digits(b.spanUs) + digits(MAX_JSON_LAG);
}

/** Encodes a stamp into a payload of exactly `bytes` bytes (throws if it cannot fit). */
export function encodeStamp(s: Stamp, bytes: number, format: PayloadFormat): Buffer {
  if (format === 'binary') {
    if (bytes < BINARY_STAMP_BYTES) throw new RangeError(`a binary stamp needs ${BINARY_STAMP_BYTES} bytes, the payload has ${bytes}`);
    const b = Buffer.allocUnsafe(bytes);
    b.writeUInt16BE(s.device & 0xffff, 0);
    b.writeUInt32BE(s.seq >>> 0, 2);
    b.writeUInt32BE(Math.min(U32, Math.max(0, Math.round(s.intendedUs))), 6);
    b.writeUInt32BE(Math.min(U32, Math.max(0, Math.round(s.lagUs))), 10);
    // A reading-like filler (not zeros, so nothing on the way can compress it away).
    for (let i = BINARY_STAMP_BYTES; i < bytes; i++) b[i] = (i * 37 + s.seq) & 0xff;
    return b;
  }
  const head = `{"d":${s.device},"s":${s.seq},"t":${Math.max(0, Math.round(s.intendedUs))},"l":${Math.min(MAX_JSON_LAG, Math.max(0, Math.round(s.lagUs)))},"v":"`;
  const fill = bytes - head.length - 2;
  if (fill < 0) throw new RangeError(`a JSON stamp needs ${head.length + 2} bytes here, the payload has ${bytes}`);
  return Buffer.from(`${head}${'x'.repeat(fill)}"}`, 'latin1');
}

/** Reads a stamp back; undefined for a payload that is not one. */
export function decodeStamp(b: Uint8Array, format: PayloadFormat): Stamp | undefined {
  if (format === 'binary') {
    if (b.length < BINARY_STAMP_BYTES) return undefined;
    const v = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    return { device: v.readUInt16BE(0), seq: v.readUInt32BE(2), intendedUs: v.readUInt32BE(6), lagUs: v.readUInt32BE(10) };
  }
  try {
    const o = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')) as Record<string, unknown>;
    const { d, s, t, l } = o;
    if (typeof d !== 'number' || typeof s !== 'number' || typeof t !== 'number' || typeof l !== 'number') return undefined;
    return { device: d, seq: s, intendedUs: t, lagUs: l };
  } catch {
    return undefined;
  }
}

/** A Home Assistant MQTT discovery config for device `id`, padded to `bytes` (at least the JSON's natural size). */
export function discoveryConfig(id: number, component: string, stateTopic: string, bytes: number): Buffer {
  const base = {
    name: `Testbed ${component} ${id}`,
    unique_id: `mqtt-testbed-${id}`,
    state_topic: stateTopic,
    device_class: 'temperature',
    unit_of_measurement: 'C',
    device: { identifiers: [`mqtt-testbed-${id}`], name: `Testbed device ${id}` },
    pad: '',
  };
  const natural = Buffer.byteLength(JSON.stringify(base));
  base.pad = 'x'.repeat(Math.max(0, bytes - natural));
  return Buffer.from(JSON.stringify(base));
}

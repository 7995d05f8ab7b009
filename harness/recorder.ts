/**
 * A packet trace per test: every packet sent and received by the test's
 * clients, with direction, client label and time, plus connection events.
 * It becomes the evidence of a failure or finding in the results.
 */
import type { Packet } from '../codec/index.js';

export type TraceDirection = 'out' | 'in' | 'event';

export interface TraceEntry {
  /** Milliseconds since the recorder started. */
  t: number;
  dir: TraceDirection;
  /** Label of the client connection (e.g. "pub", "sub#2"). */
  conn: string;
  /** Packet type for packets; event name for events ('open', 'close', 'error', 'timeout', 'raw'). */
  what: string;
  /** The packet, made JSON-safe (Buffers as hex or text). */
  packet?: unknown;
  /** Raw bytes in hex, for raw sends and undecodable input. */
  hex?: string;
  detail?: string;
}

const MAX_ENTRIES = 2000;
const MAX_HEX = 512;

/** Makes a packet printable: Buffers become { hex, text? } with long ones cut. */
export function jsonSafe(value: unknown): unknown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const b = Buffer.from(value);
    const hex = b.subarray(0, MAX_HEX).toString('hex') + (b.length > MAX_HEX ? `…(+${b.length - MAX_HEX} bytes)` : '');
    const text = b.length <= MAX_HEX && isPrintable(b) ? b.toString('utf8') : undefined;
    return text !== undefined ? { bytes: b.length, hex, text } : { bytes: b.length, hex };
  }
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}

/** Traces end up in reports: passwords never do. */
function redact(p: Packet): Packet {
  if (p.type !== 'connect' || p.password === undefined) return p;
  return { ...p, password: Buffer.from(`<redacted ${p.password.length} bytes>`) };
}

function isPrintable(b: Buffer): boolean {
  for (const c of b) if ((c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) || c === 0x7f) return false;
  return true;
}

export class Recorder {
  readonly entries: TraceEntry[] = [];
  private readonly start = performance.now();
  private dropped = 0;

  private push(e: Omit<TraceEntry, 't'>): void {
    if (this.entries.length >= MAX_ENTRIES) {
      this.dropped++;
      return;
    }
    this.entries.push({ t: Math.round((performance.now() - this.start) * 1000) / 1000, ...e });
  }

  packet(dir: 'out' | 'in', conn: string, p: Packet): void {
    this.push({ dir, conn, what: p.type, packet: jsonSafe(redact(p)) });
  }

  raw(dir: 'out' | 'in', conn: string, bytes: Buffer, detail?: string): void {
    this.push({ dir, conn, what: 'raw', hex: bytes.subarray(0, MAX_HEX).toString('hex'), detail });
  }

  event(conn: string, what: string, detail?: string): void {
    this.push({ dir: 'event', conn, what, detail });
  }

  /** The trace, with a note when it was cut. */
  trace(): TraceEntry[] {
    return this.dropped > 0 ? [...this.entries, { t: -1, dir: 'event', conn: '-', what: 'truncated', detail: `${this.dropped} more entries not kept` }] : this.entries;
  }

  /** One line per entry, for failure messages. */
  format(last = 40): string {
    return this.entries.slice(-last).map((e) => {
      const arrow = e.dir === 'out' ? '→' : e.dir === 'in' ? '←' : '•';
      const body = e.packet !== undefined ? JSON.stringify(e.packet) : e.hex !== undefined ? `0x${e.hex}` : '';
      return `${e.t.toFixed(1).padStart(8)}ms ${e.conn.padEnd(8)} ${arrow} ${e.what} ${body}${e.detail ? ` (${e.detail})` : ''}`;
    }).join('\n');
  }
}

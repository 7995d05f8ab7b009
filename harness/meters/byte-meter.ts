/**
 * Application-layer byte meters: bytes on the wire of every TCP socket and
 * UDP datagram a set of clients uses, and the same bytes sorted into
 * categories by a protocol classifier that reads the plaintext stream.
 *
 * - Wire bytes of a TCP connection are the raw `net.Socket`'s bytesRead +
 *   bytesWritten (TCP payload: TLS records, WebSocket frames and HTTP
 *   upgrade included; TCP/IP headers not — that is the IP layer's count).
 *   Node keeps these counts on the raw socket even when TLS wraps it.
 * - Plaintext (what the protocol library writes and reads: MQTT packets,
 *   HTTP messages) is tapped on the stream the library uses, by wrapping
 *   its write() and listening to 'data', and fed to a classifier.
 * - UDP: each datagram is counted and classified whole.
 *
 * Wire minus classified plaintext is the transport's own overhead (TLS
 * handshakes and record headers, WebSocket framing).
 */
import type { Socket as DgramSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** What a protocol classifier sorts bytes into. */
export const BYTE_CATEGORIES = ['setup', 'message', 'ack', 'control'] as const;
export type ByteCategory = (typeof BYTE_CATEGORIES)[number];

export interface ByteCounts {
  /** Wire bytes, both directions (TCP payload or UDP datagrams). */
  wire: number;
  wireOut: number;
  wireIn: number;
  /** Classified plaintext, both directions. */
  setup: number;
  message: number;
  ack: number;
  control: number;
  /** TCP connections opened / UDP datagrams sent and received. */
  connections: number;
  datagrams: number;
}

export const zeroCounts = (): ByteCounts => ({ wire: 0, wireOut: 0, wireIn: 0, setup: 0, message: 0, ack: 0, control: 0, connections: 0, datagrams: 0 });

export function diffCounts(after: ByteCounts, before: ByteCounts): ByteCounts {
  const out = zeroCounts();
  for (const k of Object.keys(out) as (keyof ByteCounts)[]) out[k] = after[k] - before[k];
  return out;
}

export function addCounts(a: ByteCounts, b: ByteCounts): ByteCounts {
  const out = zeroCounts();
  for (const k of Object.keys(out) as (keyof ByteCounts)[]) out[k] = a[k] + b[k];
  return out;
}

/** A classifier of one direction of one connection's plaintext: called with each chunk in order. */
export type Classifier = (chunk: Uint8Array, count: (category: ByteCategory, bytes: number) => void) => void;

export class ByteMeter {
  private readonly live = new Set<Socket>();
  private closedOut = 0;
  private closedIn = 0;
  private udpOut = 0;
  private udpIn = 0;
  private readonly cats: Record<ByteCategory, number> = { setup: 0, message: 0, ack: 0, control: 0 };
  private connections = 0;
  private datagrams = 0;

  readonly count = (category: ByteCategory, bytes: number): void => {
    this.cats[category] += bytes;
  };

  /** Counts the wire bytes of a raw TCP socket (the one under TLS or WebSocket, if any) until it closes. */
  addSocket(raw: Socket): void {
    if (this.live.has(raw)) return;
    this.live.add(raw);
    this.connections++;
    raw.once('close', () => {
      if (!this.live.delete(raw)) return;
      this.closedOut += raw.bytesWritten;
      this.closedIn += raw.bytesRead;
    });
  }

  /**
   * Taps the plaintext of `stream` (a socket, a TLS socket, a WebSocket
   * stream): outgoing chunks through `out`, incoming through `inn`.
   * Call it before anything is written or read.
   */
  tapStream(stream: Duplex, out: Classifier, inn: Classifier): void {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    const count = this.count;
    (stream as { write: (...args: unknown[]) => boolean }).write = (chunk: unknown, ...rest: unknown[]): boolean => {
      const enc = typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8';
      const b = typeof chunk === 'string' ? Buffer.from(chunk, enc) : (chunk as Uint8Array);
      out(b, count);
      return write(chunk, ...rest);
    };
    stream.on('data', (chunk: Buffer | string) => inn(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, count));
  }

  /** Counts and classifies every datagram a UDP socket sends and receives. */
  addDatagramSocket(sock: DgramSocket, classify: (datagram: Uint8Array, dir: 'out' | 'in') => ByteCategory): void {
    const send = sock.send.bind(sock) as (...args: unknown[]) => void;
    (sock as { send: (...args: unknown[]) => void }).send = (msg: unknown, ...rest: unknown[]): void => {
      // coap and most callers pass one Buffer (with offset/length only when given as numbers next).
      let b: Uint8Array | undefined;
      if (msg instanceof Uint8Array) {
        const off = typeof rest[0] === 'number' && typeof rest[1] === 'number' ? rest[0] : 0;
        const len = typeof rest[0] === 'number' && typeof rest[1] === 'number' ? rest[1] : msg.length - off;
        b = msg.subarray(off, off + len);
      } else if (typeof msg === 'string') {
        b = Buffer.from(msg);
      } else if (Array.isArray(msg)) {
        b = Buffer.concat(msg.map((m) => (typeof m === 'string' ? Buffer.from(m) : (m as Uint8Array))));
      }
      // An unbound socket binds first and calls send() again once bound (Node's dgram queues the
      // call): count only the call made on a bound socket, so nothing is counted twice.
      if (b && isBound(sock)) this.datagram(b, 'out', classify);
      send(msg, ...rest);
    };
    sock.on('message', (msg: Buffer) => this.datagram(msg, 'in', classify));
  }

  private datagram(b: Uint8Array, dir: 'out' | 'in', classify: (datagram: Uint8Array, dir: 'out' | 'in') => ByteCategory): void {
    if (dir === 'out') this.udpOut += b.length;
    else this.udpIn += b.length;
    this.datagrams++;
    this.cats[classify(b, dir)] += b.length;
  }

  snapshot(): ByteCounts {
    let out = this.closedOut + this.udpOut;
    let inn = this.closedIn + this.udpIn;
    for (const s of this.live) {
      out += s.bytesWritten;
      inn += s.bytesRead;
    }
    return { wire: out + inn, wireOut: out, wireIn: inn, ...this.cats, connections: this.connections, datagrams: this.datagrams };
  }
}

function isBound(sock: DgramSocket): boolean {
  try {
    sock.address();
    return true;
  } catch {
    return false;
  }
}

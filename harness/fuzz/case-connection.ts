/**
 * One fuzz case on one connection: open it, write the case's chunks (and a
 * PINGREQ probe when the bytes end on a packet boundary), and observe what
 * the broker does — CONNACK and its code, DISCONNECT and its code, PINGRESPs,
 * the close — until the connection closes, the probe is answered, or a time
 * bound passes. Judging the observation is classify.ts's job.
 *
 * What the broker sends is split into packets by their fixed headers (this
 * works whatever the version, even for a CONNACK to a CONNECT the broker could
 * not read) and, once the case's CONNECT was valid, also decoded by the codec
 * as a client would: bytes a client cannot decode are reported.
 */
import {
  Decoder, decodePacket, isMqttCodecError, type ConnackPacket, type ProtocolVersion,
} from '../../codec/index.js';
import { openStream, type BrokerAddress, type Stream, type TlsClientOptions } from '../transport.js';
import type { MaterializedCase } from './case.js';

export interface Observation {
  /** The connection could not be opened (the broker's listener, not the case, is at fault). */
  openError: string | undefined;
  /** The first CONNACK: its code (3.1.1 return code or 5.0 reason code) and, for 5.0, the packet. */
  connack: { code: number; packet: ConnackPacket | undefined } | undefined;
  /** The first DISCONNECT (5.0) and its reason code. */
  disconnect: { code: number } | undefined;
  /** A DISCONNECT came before any CONNACK. */
  disconnectBeforeConnack: boolean;
  pingresps: number;
  /** The broker closed the connection (or it failed) while we watched. */
  closed: boolean;
  /** ms from the last write to the close, when it closed. */
  closedAfterMs: number | undefined;
  /** The broker sent bytes a client's decoder rejects. */
  badBytes: string | undefined;
  /** Largest packet received, bytes. */
  largestPacket: number;
}

export interface ObserveParams {
  /** Append a PINGREQ and wait for PINGRESP number `pingrespsDue + 1`. */
  probe: boolean;
  pingrespsDue: number;
  /** The PINGRESPs due once the CONNACK is known (a 5.0 server's limits can move the verdict, and with it the PINGREQs before it). */
  dueAfterConnack?: ((connack: ConnackPacket | undefined) => number) | undefined;
  /** Decode what the broker sends as this version (once the case's CONNECT was valid). */
  decodeAs: ProtocolVersion | undefined;
  /** End our side after writing (the case sent DISCONNECT). */
  endAfterWrite: boolean;
  /** Longest wait for the close or the probe's answer, ms. */
  timeoutMs: number;
  /** Longest wait for the connection to open, ms. */
  openTimeoutMs: number;
  tls?: TlsClientOptions | undefined;
  /** Called when the connection is open and the first bytes are about to be written. */
  onOpen?: (() => void) | undefined;
}

const PINGREQ = Buffer.from([0xc0, 0x00]);
/** What the broker sends is decoded (checked) up to this many bytes per connection: a case subscribed to '#' can receive megabytes of others' PUBLISHes. */
const CHECKED_BYTES = 64 * 1024;

/** Splits a byte stream into whole packets by their fixed headers. */
class FrameSplitter {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) break;
      let rl = 0;
      let mult = 1;
      let i = 1;
      let complete = false;
      for (; i < 5 && i < buf.length; i++) {
        rl += (buf[i]! & 0x7f) * mult;
        mult *= 128;
        if ((buf[i]! & 0x80) === 0) { complete = true; i++; break; }
      }
      if (!complete) break;
      const total = i + rl;
      if (buf.length < total) break;
      onFrame(buf.subarray(0, total));
      buf = buf.subarray(total);
    }
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }
}

/** Runs one materialized case against `addr`; never rejects (failures to connect are in `openError`). */
export function observeCase(addr: BrokerAddress, m: MaterializedCase, p: ObserveParams): Promise<Observation> {
  const obs: Observation = {
    openError: undefined, connack: undefined, disconnect: undefined, disconnectBeforeConnack: false, pingresps: 0,
    closed: false, closedAfterMs: undefined, badBytes: undefined, largestPacket: 0,
  };
  return new Promise((resolve) => {
    let stream: Stream | undefined;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let lastWrite = 0;
    let due = p.pingrespsDue;
    const splitter = new FrameSplitter();
    const decoder = p.decodeAs !== undefined ? new Decoder({ version: p.decodeAs, role: 'client' }) : undefined;
    let checked = 0;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (stream && !obs.closed) stream.destroy();
      resolve(obs);
    };
    const onFrame = (f: Buffer): void => {
      obs.largestPacket = Math.max(obs.largestPacket, f.length);
      const type = f[0]! >> 4;
      const body = f.subarray(f.length - bodyLength(f));
      if (type === 2 && obs.connack === undefined) {
        const code = body[1] ?? -1;
        let packet: ConnackPacket | undefined;
        if (p.decodeAs === 5) {
          try { packet = decodePacket(f, { version: 5, role: 'client' }) as ConnackPacket; } catch { /* the decoder below reports it */ }
        }
        obs.connack = { code, packet };
        if (p.dueAfterConnack) due = p.dueAfterConnack(packet);
      } else if (type === 14 && obs.disconnect === undefined) {
        obs.disconnect = { code: body.length > 0 ? body[0]! : 0 };
        if (obs.connack === undefined) obs.disconnectBeforeConnack = true;
      } else if (type === 13) {
        obs.pingresps++;
        if (p.probe && obs.pingresps > due) finish();
      }
    };
    openStream(addr, { tls: p.tls, timeoutMs: p.openTimeoutMs }).then((s) => {
      stream = s;
      s.onData((chunk) => {
        if (decoder && obs.badBytes === undefined && checked < CHECKED_BYTES) {
          checked += chunk.length;
          try {
            decoder.feed(chunk, () => {});
          } catch (e) {
            obs.badBytes = isMqttCodecError(e) ? e.message : String(e);
          }
        }
        splitter.push(chunk, onFrame);
      });
      s.onClose(() => {
        obs.closed = true;
        obs.closedAfterMs = performance.now() - lastWrite;
        finish();
      });
      p.onOpen?.();
      for (const c of m.chunks) s.write(c);
      if (p.probe) s.write(PINGREQ);
      lastWrite = performance.now();
      if (p.endAfterWrite) s.end();
      timer = setTimeout(finish, p.timeoutMs);
    }, (e: unknown) => {
      obs.openError = e instanceof Error ? e.message : String(e);
      finish();
    });
  });
}

/** Remaining Length of a whole frame (its body is the last that many bytes). */
function bodyLength(f: Buffer): number {
  let rl = 0;
  let mult = 1;
  for (let i = 1; i < 5 && i < f.length; i++) {
    rl += (f[i]! & 0x7f) * mult;
    mult *= 128;
    if ((f[i]! & 0x80) === 0) break;
  }
  return rl;
}

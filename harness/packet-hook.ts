/**
 * MQTT-aware mode of the fault proxy: each direction of a connection is cut
 * into whole packets (mqtt-framer.ts), decoded with the codec's streaming
 * Decoder, and handed to one hook that decides what goes on instead. This is
 * how tests simulate a broken broker or a broken network stack at packet
 * level (drop, duplicate, delay, reorder, rewrite, inject).
 *
 * The hook API, all of it:
 *
 * ```ts
 * const hook: PacketHook = (p, ctx) => {
 *   if (ctx.direction !== 'toClient' || p.type !== 'publish') return;    // pass: the original bytes go on
 *   if (p.qos === 1) {
 *     ctx.send('toBroker', [{ type: 'puback', packetId: p.packetId! }]); // fake the client's PUBACK
 *     return 'drop';                                                     // the client never sees it
 *   }
 *   return [p, { ...p, packetId: 60_000 }];                              // duplicate with a new id
 * };
 * ```
 *
 * - return nothing or 'pass': forwarded byte for byte;
 * - 'drop' or []: swallowed;
 * - Packet[]: these are encoded (`encode(p, version, { validate: false })`, so broken packets are
 *   possible) and forwarded in order: duplicate = [p, p], rewrite = [changed];
 * - `ctx.send(direction, packets)`: inject packets now, in either direction;
 * - `ctx.later(ms, packets)`: forward packets in this direction after `ms`; later packets are not
 *   held back, so this delays *and* reorders (return 'drop' for the original);
 * - reordering in general: keep a packet in the hook's own state, return 'drop', and return it
 *   later together with another packet.
 *
 * The hook runs after the plan's cut / black-hole triggers (which count the
 * bytes read) and before coalesce, delay and split. Bytes that do not decode
 * (or arrive before the CONNECT that gives the version) switch that direction
 * to raw pass-through for the rest of the connection, recorded as a
 * 'decode-error' event. A hook that throws is recorded ('hook-error') and the
 * packet passes unchanged: the proxy never throws into the socket handlers.
 */
import { Decoder, encode, type Packet, type ProtocolVersion } from '../codec/index.js';
import type { Direction } from './fault-plan.js';
import { MqttFramer } from './mqtt-framer.js';

export type PacketVerdict = void | 'pass' | 'drop' | readonly Packet[];

export interface PacketContext {
  /** Index of the proxied connection (0, 1, … in accept order). */
  readonly connection: number;
  readonly direction: Direction;
  /** Protocol level from the client's CONNECT. */
  readonly version: ProtocolVersion;
  /** Packets of this direction seen before this one. */
  readonly index: number;
  /** Injects packets now in `direction` (after what is already queued there). */
  send(direction: Direction, packets: readonly Packet[]): void;
  /** Forwards packets in this direction after `ms`; later packets are not held back. */
  later(ms: number, packets: readonly Packet[]): void;
}

export type PacketHook = (packet: Packet, ctx: PacketContext) => PacketVerdict;

export interface PacketStats {
  seen: number;
  dropped: number;
  replaced: number;
  injected: number;
}

export type PacketEventKind = 'decode-error' | 'hook-error';

interface DirectionState {
  framer: MqttFramer;
  decoder: Decoder;
  raw: boolean;
  index: number;
}

/** The per-connection packet stage: input bytes of a direction in, bytes for the next stage out. */
export class PacketStage {
  readonly stats: PacketStats = { seen: 0, dropped: 0, replaced: 0, injected: 0 };
  private readonly dirs: Record<Direction, DirectionState>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly hook: PacketHook,
    private readonly connection: number,
    private readonly emit: (d: Direction, bytes: Buffer) => void,
    private readonly onEvent: (kind: PacketEventKind, d: Direction, detail: string) => void,
  ) {
    this.dirs = {
      toBroker: { framer: new MqttFramer(), decoder: new Decoder({ role: 'server' }), raw: false, index: 0 },
      toClient: { framer: new MqttFramer(), decoder: new Decoder({ role: 'client' }), raw: false, index: 0 },
    };
  }

  /** The version from CONNECT, once seen. */
  get version(): ProtocolVersion | undefined {
    return this.dirs.toBroker.decoder.version;
  }

  input(d: Direction, chunk: Buffer): void {
    const s = this.dirs[d];
    if (s.raw) return this.emit(d, chunk);
    try {
      s.framer.push(chunk, (frame) => this.frame(d, s, frame));
    } catch (e) {
      // Not MQTT framing: the rest goes through untouched.
      s.raw = true;
      this.onEvent('decode-error', d, `${d}: ${(e as Error).message}`);
    }
    if (s.raw) {
      const rest = s.framer.drain();
      if (rest.length) this.emit(d, rest);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** From this frame on, the direction passes raw bytes (the frame itself included). */
  private goRaw(d: Direction, s: DirectionState, why: string, frame: Buffer): void {
    s.raw = true;
    this.onEvent('decode-error', d, why);
    this.emit(d, frame);
  }

  private frame(d: Direction, s: DirectionState, frame: Buffer): void {
    if (s.raw) return this.emit(d, frame);
    if (d === 'toClient' && s.decoder.version === undefined) s.decoder.version = this.version;
    let packet: Packet | undefined;
    try {
      s.decoder.feed(frame, (p) => { packet = p; });
    } catch (e) {
      return this.goRaw(d, s, `${d}: ${(e as Error).message}`, frame);
    }
    if (!packet) return this.goRaw(d, s, `${d}: a frame gave no packet`, frame);
    const version = s.decoder.version ?? this.version;
    if (version === undefined) return this.goRaw(d, s, `${d}: protocol version unknown`, frame);
    this.stats.seen++;
    const ctx: PacketContext = {
      connection: this.connection, direction: d, version, index: s.index++,
      send: (to, packets) => this.inject(to, packets),
      later: (ms, packets) => {
        if (this.closed) return;
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.closed) this.write(d, packets);
        }, ms);
        this.timers.add(t);
      },
    };
    let verdict: PacketVerdict;
    try {
      verdict = this.hook(packet, ctx);
    } catch (e) {
      this.onEvent('hook-error', d, (e as Error).stack ?? String(e));
      verdict = 'pass';
    }
    if (verdict === undefined || verdict === 'pass') return this.emit(d, frame);
    if (verdict === 'drop' || verdict.length === 0) {
      this.stats.dropped++;
      return;
    }
    this.stats.replaced++;
    this.write(d, verdict);
  }

  private inject(d: Direction, packets: readonly Packet[]): void {
    if (this.closed) return;
    this.stats.injected += packets.length;
    this.write(d, packets);
  }

  private write(d: Direction, packets: readonly Packet[]): void {
    const v = this.version;
    if (v === undefined) {
      this.onEvent('hook-error', d, 'packets sent before the CONNECT gave the protocol version');
      return;
    }
    for (const p of packets) this.emit(d, encode(p, v, { validate: false }));
  }
}

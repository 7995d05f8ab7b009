/**
 * One direction of one proxied connection, after the triggers and the packet
 * hook: coalesce (hold bytes), delay (fixed + jitter, order kept), split
 * (small pieces with gaps), then the socket write. Markers ('end', 'cut')
 * travel in the same queue, so a FIN or a cut happens after the bytes before
 * it have gone out, delay included.
 */
import type { Socket } from 'node:net';
import { pickAmount, type Amount, type CoalesceFault } from './fault-plan.js';
import type { Rng } from './seeded-random.js';

export interface PipeConfig {
  delay?: { ms: number; jitterMs: number } | undefined;
  split?: { maxChunk: Amount; gapMs: number } | undefined;
  coalesce?: CoalesceFault | undefined;
}

export type Marker = 'end' | 'cut';

type Item = { buf: Buffer; releaseAt: number } | { marker: Marker };

/** Bytes queued in a pipe above which its source is paused (back-pressure through the proxy). */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;

export interface PipeEvents {
  /** The pipe wants its source paused (true) or may resume it (false). */
  backpressure(on: boolean): void;
  written(n: number): void;
  marker(m: Marker): void;
}

export class FaultPipe {
  private readonly queue: Item[] = [];
  private queued = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  /** Cancels the pending timer or setImmediate after which pump() runs again. */
  private waiting: (() => void) | undefined;
  private waitingForDrain = false;
  private lastRelease = 0;
  private throttled = false;
  private closed = false;

  constructor(
    private readonly dst: Socket,
    private cfg: PipeConfig,
    private readonly rng: Rng,
    private readonly events: PipeEvents,
  ) {}

  setConfig(cfg: PipeConfig): void {
    if (this.cfg.coalesce && !cfg.coalesce) this.flushHeld();
    this.cfg = cfg;
  }

  /** Nothing held, queued or pending. */
  get idle(): boolean {
    return this.queue.length === 0 && this.heldBytes === 0 && this.waiting === undefined;
  }

  push(buf: Buffer): void {
    if (this.closed || buf.length === 0) return;
    const co = this.cfg.coalesce;
    if (co) {
      this.held.push(buf);
      this.heldBytes += buf.length;
      if (this.heldBytes >= co.maxBytes) this.flushHeld();
      else this.holdTimer ??= setTimeout(() => this.flushHeld(), co.holdMs);
      return;
    }
    this.enqueue(buf);
  }

  /** Queues a marker behind everything pushed so far (held bytes included). */
  mark(m: Marker): void {
    if (this.closed) return;
    this.flushHeld();
    this.queue.push({ marker: m });
    this.pump();
  }

  /** Drops everything and stops all timers. */
  close(): void {
    this.closed = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.clearWaiting();
    this.queue.length = 0;
    this.held = [];
    this.heldBytes = 0;
    this.queued = 0;
  }

  private clearWaiting(): void {
    this.waiting?.();
    this.waiting = undefined;
  }

  private resumeAfter(ms: number): void {
    const go = (): void => { this.waiting = undefined; this.pump(); };
    if (ms > 0) {
      const t = setTimeout(go, ms);
      this.waiting = () => clearTimeout(t);
    } else {
      const i = setImmediate(go);
      this.waiting = () => clearImmediate(i);
    }
  }

  private flushHeld(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (this.heldBytes === 0) return;
    const b = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    this.enqueue(b);
  }

  private enqueue(buf: Buffer): void {
    if (this.closed) return;
    let releaseAt = 0;
    const d = this.cfg.delay;
    if (d) {
      releaseAt = Math.max(this.lastRelease, performance.now() + d.ms + (d.jitterMs > 0 ? this.rng.next() * d.jitterMs : 0));
      this.lastRelease = releaseAt;
    }
    if (this.queue.length === 0 && this.waiting === undefined && !this.waitingForDrain && releaseAt === 0 && !this.cfg.split) {
      this.write(buf);
      return;
    }
    this.queue.push({ buf, releaseAt });
    this.queued += buf.length;
    if (!this.throttled && this.queued > HIGH_WATER) {
      this.throttled = true;
      this.events.backpressure(true);
    }
    this.pump();
  }

  private write(buf: Buffer): void {
    if (this.dst.destroyed || this.dst.writableEnded) return;
    this.events.written(buf.length);
    if (!this.dst.write(buf)) {
      this.waitingForDrain = true;
      this.events.backpressure(true);
      this.dst.once('drain', () => {
        this.waitingForDrain = false;
        if (!this.throttled) this.events.backpressure(false);
        this.pump();
      });
    }
  }

  private pump(): void {
    while (!this.closed && this.waiting === undefined && !this.waitingForDrain) {
      const head = this.queue[0];
      if (!head) break;
      if ('marker' in head) {
        this.queue.shift();
        this.events.marker(head.marker);
        continue;
      }
      const wait = head.releaseAt - performance.now();
      if (wait > 0) {
        this.resumeAfter(Math.ceil(wait));
        break;
      }
      const split = this.cfg.split;
      let piece = head.buf;
      if (split) {
        const n = Math.max(1, pickAmount(split.maxChunk, this.rng));
        if (n < head.buf.length) {
          piece = head.buf.subarray(0, n);
          head.buf = head.buf.subarray(n);
        } else this.queue.shift();
      } else this.queue.shift();
      this.queued -= piece.length;
      this.write(piece);
      if (split && this.queue.length > 0) {
        // A pause after each piece: without it the kernel merges the pieces again.
        this.resumeAfter(split.gapMs);
        break;
      }
    }
    if (this.throttled && this.queued < LOW_WATER) {
      this.throttled = false;
      if (!this.waitingForDrain) this.events.backpressure(false);
    }
  }
}

/**
 * The receiving side every test client shares: decodes what the broker sends,
 * records it, and lets tests wait for a packet, for silence or for the close,
 * always event-driven with a timeout that names what was awaited.
 */
import { Decoder, isMqttCodecError, type MqttCodecError, type Packet, type ProtocolVersion } from '../codec/index.js';
import type { Recorder } from './recorder.js';

export type WaitFailure = 'timeout' | 'closed' | 'bad-bytes' | 'unexpected';

/** A wait that did not end as hoped. Suites turn these into failures or findings. */
export class WaitError extends Error {
  override readonly name = 'WaitError';
  constructor(
    readonly failure: WaitFailure,
    readonly awaited: string,
    message: string,
    readonly client: string,
  ) {
    super(`${client}: waiting for ${awaited}: ${message}`);
  }
}

interface Waiter {
  match: (p: Packet) => boolean;
  resolve: (p: Packet) => void;
  reject: (e: WaitError) => void;
  awaited: string;
  timer: NodeJS.Timeout;
}

export interface InboxOptions {
  label: string;
  version: ProtocolVersion;
  recorder?: Recorder | undefined;
  /** Largest packet accepted from the broker. */
  maxPacketSize?: number | undefined;
  /** Default timeout of waits, ms. */
  timeoutMs: number;
  /** Push mode: packets no waiter takes go here instead of staying for later take()s. */
  unmatched?: ((p: Packet) => void) | undefined;
}

export class PacketInbox<Close> {
  /** Every packet received, in order. */
  readonly received: Packet[] = [];
  /** Received packets not yet taken. */
  private readonly pending: Packet[] = [];
  private waiters: Waiter[] = [];
  private closeWaiters: ((info: Close) => void)[] = [];
  private closeInfo: Close | undefined;
  private closeWhy = 'connection closed';
  /** The broker sent bytes our codec rejects (a finding in itself). */
  badBytes: MqttCodecError | undefined;
  private readonly decoder: Decoder;

  constructor(public opts: InboxOptions, private readonly onPacket?: (p: Packet) => void) {
    this.decoder = new Decoder({ version: opts.version, role: 'client', maxPacketSize: opts.maxPacketSize });
  }

  get label(): string {
    return this.opts.label;
  }

  get closed(): Close | undefined {
    return this.closeInfo;
  }

  /** Bytes from the broker. */
  feed(chunk: Buffer): void {
    if (this.badBytes) return;
    try {
      this.decoder.feed(chunk, (p) => this.deliver(p));
    } catch (e) {
      if (!isMqttCodecError(e)) throw e;
      this.badBytes = e;
      this.opts.recorder?.raw('in', this.label, chunk, `undecodable: ${e.message}`);
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new WaitError('bad-bytes', w.awaited, e.message, this.label));
      }
    }
  }

  /** The connection closed: pending waits fail with `why`; close waits resolve with `info`. */
  close(info: Close, why: string): void {
    if (this.closeInfo !== undefined) return;
    this.closeInfo = info;
    this.closeWhy = why;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new WaitError('closed', w.awaited, why, this.label));
    }
    for (const f of this.closeWaiters.splice(0)) f(info);
  }

  /** First not-yet-taken packet matching `match` (others stay for later). */
  take(match: (p: Packet) => boolean, awaited: string, timeoutMs = this.opts.timeoutMs): Promise<Packet> {
    const i = this.pending.findIndex(match);
    if (i >= 0) return Promise.resolve(this.pending.splice(i, 1)[0]!);
    if (this.badBytes) return Promise.reject(new WaitError('bad-bytes', awaited, this.badBytes.message, this.label));
    if (this.closeInfo !== undefined) return Promise.reject(new WaitError('closed', awaited, this.closeWhy, this.label));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.opts.recorder?.event(this.label, 'timeout', `no ${awaited} within ${timeoutMs} ms`);
        const left = this.pending.length ? `; unconsumed: ${this.pending.map((p) => p.type.toUpperCase()).join(', ')}` : '';
        reject(new WaitError('timeout', awaited, `nothing within ${timeoutMs} ms${left}`, this.label));
      }, timeoutMs);
      const waiter: Waiter = { match, resolve, reject, awaited, timer };
      this.waiters.push(waiter);
    });
  }

  /**
   * Resolves if no packet (matching `match`) arrives within `ms`; rejects with
   * 'unexpected' and the packet otherwise. Packets that arrive stay untaken.
   */
  async nothing(ms: number, match: (p: Packet) => boolean, what: string, describe: (p: Packet) => string): Promise<void> {
    const already = this.pending.find(match);
    if (already) throw new WaitError('unexpected', what, `got ${describe(already)}`, this.label);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, ms);
      const waiter: Waiter = {
        match, awaited: what, timer,
        resolve: (p) => {
          this.pending.unshift(p); // leave it for later inspection
          reject(new WaitError('unexpected', what, `got ${describe(p)}`, this.label));
        },
        reject: (e) => (e.failure === 'closed' ? resolve() : reject(e)),
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for the close; rejects with a 'timeout' WaitError if the connection is still open after `timeoutMs`. */
  closeWait(timeoutMs = this.opts.timeoutMs): Promise<Close> {
    if (this.closeInfo !== undefined) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.closeWaiters = this.closeWaiters.filter((f) => f !== done);
        this.opts.recorder?.event(this.label, 'timeout', `connection still open after ${timeoutMs} ms`);
        reject(new WaitError('timeout', 'the broker to close the connection', `still open after ${timeoutMs} ms`, this.label));
      }, timeoutMs);
      const done = (info: Close): void => {
        clearTimeout(timer);
        resolve(info);
      };
      this.closeWaiters.push(done);
    });
  }

  private deliver(p: Packet): void {
    this.opts.recorder?.packet('in', this.label, p);
    this.received.push(p);
    this.onPacket?.(p);
    const i = this.waiters.findIndex((w) => w.match(p));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(p);
      return;
    }
    if (this.opts.unmatched) this.opts.unmatched(p);
    else this.pending.push(p);
  }
}

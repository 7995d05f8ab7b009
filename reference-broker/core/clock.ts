/**
 * Time for the broker core. The core never reads the wall clock or calls
 * setTimeout itself, so tests drive it with a FakeClock and exact times.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds unless cancelled. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /**
   * Wall-clock milliseconds since the epoch, for what must outlive the process (persisted expiry
   * times). Default Date.now().
   */
  wallNow?(): number;
}

/** The wall clock of `clock` (Date.now() unless it has its own). */
export function wallNow(clock: Clock): number {
  return clock.wallNow ? clock.wallNow() : Date.now();
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer(ms, fn) {
    // setTimeout fires at once above 2^31-1 ms (24.8 days); a long session expiry is chained in steps.
    const MAX = 2 ** 31 - 1;
    let t: NodeJS.Timeout;
    const arm = (left: number): void => {
      t = setTimeout(left > MAX ? () => arm(left - MAX) : fn, Math.min(left, MAX));
      t.unref?.();
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to; timers fire in time order during advance(). */
export class FakeClock implements Clock {
  private t = 0;
  /** Wall time at now() = 0; `wallNow()` moves with advance(). */
  private readonly wallStart: number;

  constructor(o: { wallStart?: number } = {}) {
    this.wallStart = o.wallStart ?? Date.UTC(2025, 0, 1);
  }
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.wallStart + this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => { timer.live = false; } };
  }

  /** Moves time forward by `ms`, firing due timers (including ones they schedule) in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => x.live);
      let next: (typeof this.timers)[number] | undefined;
      for (const x of this.timers) if (x.at <= target && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      if (!next) break;
      this.t = next.at;
      next.live = false;
      next.fn();
    }
    this.t = target;
  }

  /** Number of timers still pending. */
  pending(): number {
    return this.timers.filter((x) => x.live).length;
  }
}

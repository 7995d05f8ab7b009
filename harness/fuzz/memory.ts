/**
 * The broker's resident memory during a fuzz run, read from /proc, and the
 * judgement "memory stays flat".
 *
 * Under load the RSS is mostly what the broker legitimately holds for the
 * traffic (messages queued for fuzz subscribers, sessions within their 2 s
 * expiry, encodings) and what V8 keeps for it: it swings by 100–200 MiB
 * (measured, harness/README.md). So the judgement compares *idle floors*:
 * after the warm-up and again at the end the fuzzer stops sending, clears the
 * retained messages the cases left (retained-cleanup.ts), and waits until V8's
 * memory reducer has shrunk the idle broker's heap (about 20 s); the floor is
 * the lowest RSS of that wait. Memory is flat when the end floor is at most
 * `thresholdBytes` above the first. The samples under load, their maximum and
 * the kernel's high-water mark are reported too.
 */
import { peakRssBytes, rssBytes } from '../meters/procfs.js';

export interface MemorySample {
  /** Seconds since the run started. */
  t: number;
  rssBytes: number;
  /** Taken while the fuzzer was idle, waiting for a floor. */
  quiet?: true;
}

export interface MemoryReport {
  measurable: boolean;
  /** Why not, when not measurable. */
  reason?: string;
  pid?: number;
  samples: MemorySample[];
  maxBytes?: number;
  /** The kernel's high-water mark (VmHWM) at the end. */
  peakBytes?: number;
  /** Medians under load: the 10 s after the warm-up floor (or the first 10 s) and the last 10 s of sending. */
  underLoad?: { startBytes?: number; endBytes?: number };
  /** Idle floors after the warm-up and at the end, and the retained messages cleared before each. */
  floors?: { afterWarmupBytes: number; endBytes: number; clearedRetained: number[] };
  growthBytes?: number;
  thresholdBytes: number;
  judged: boolean;
  /** How it was judged, or why it was not. */
  how: string;
  /** Judged and within the threshold (true when not judged). */
  ok: boolean;
}

/**
 * 32 MiB: the floors of the reference broker repeat within a few MiB (harness/README.md), and a leak
 * of 4 bytes per packet, or 40 per case, over a 10-million-packet run is above it.
 */
export const DEFAULT_MEMORY_THRESHOLD = 32 * 1024 * 1024;

const WINDOW_S = 10;

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class MemorySampler {
  readonly samples: MemorySample[] = [];
  readonly floors: Array<{ bytes: number; at: number; clearedRetained: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();
  private pidNow: number | undefined;
  private quiet = false;

  /** `pid` is read at each sample: a restarted broker is followed. */
  constructor(private readonly pid: () => number | undefined, private readonly everyMs = 1000) {}

  get measurable(): boolean {
    return this.pid() !== undefined;
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  /** Latest RSS, bytes. */
  get last(): number | undefined {
    return this.samples.at(-1)?.rssBytes;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }

  /**
   * The idle floor: samples twice a second until the RSS has fallen by a fifth from where the wait
   * began and stayed down for 2 s (V8's memory reducer ran), or `maxMs` passed; the lowest sample.
   */
  async floor(clearedRetained: number, maxMs = 90_000): Promise<number | undefined> {
    if (this.pid() === undefined) return undefined;
    this.quiet = true;
    try {
      const start = this.sample();
      let low = start ?? Infinity;
      let settledAt: number | undefined;
      const end = performance.now() + maxMs;
      while (performance.now() < end) {
        await sleep(500);
        const now = this.sample();
        if (now === undefined) break;
        low = Math.min(low, now);
        if (start !== undefined && settledAt === undefined && now < start * 0.8) settledAt = performance.now();
        if (settledAt !== undefined && performance.now() - settledAt >= 2000) break;
      }
      if (!Number.isFinite(low)) return undefined;
      this.floors.push({ bytes: low, at: (performance.now() - this.t0) / 1000, clearedRetained });
      return low;
    } finally {
      this.quiet = false;
    }
  }

  private sample(): number | undefined {
    const pid = this.pid();
    this.pidNow = pid;
    if (pid === undefined) return undefined;
    const rss = rssBytes(pid);
    if (rss !== undefined) this.samples.push({ t: (performance.now() - this.t0) / 1000, rssBytes: rss, ...(this.quiet ? { quiet: true as const } : {}) });
    return rss;
  }

  /** `loadEndS`: when the sending ended (seconds from the start), for the under-load figures. */
  report(thresholdBytes = DEFAULT_MEMORY_THRESHOLD, loadEndS = Infinity, notJudged = 'no idle floors were taken'): MemoryReport {
    const pid = this.pidNow;
    if (pid === undefined || this.samples.length === 0) {
      return { measurable: false, reason: 'no broker process of ours to read /proc from (give --pid for a broker at a URL)', samples: [], thresholdBytes, judged: false, how: 'not measurable', ok: true };
    }
    const loaded = this.samples.filter((s) => !s.quiet && s.t <= loadEndS);
    const startT = (this.floors[0]?.at ?? loaded[0]?.t ?? 0);
    const endT = loaded.at(-1)?.t ?? 0;
    const underLoad = {
      startBytes: median(loaded.filter((s) => s.t >= startT && s.t < startT + WINDOW_S).map((s) => s.rssBytes)),
      endBytes: median(loaded.filter((s) => s.t > endT - WINDOW_S).map((s) => s.rssBytes)),
    };
    const base = {
      measurable: true, pid, samples: this.samples, maxBytes: Math.max(...this.samples.map((s) => s.rssBytes)), peakBytes: peakRssBytes(pid), underLoad, thresholdBytes,
    };
    const [first, last] = [this.floors[0], this.floors.at(-1)];
    if (first === undefined || last === undefined || first === last) return { ...base, judged: false, how: notJudged, ok: true };
    const growthBytes = last.bytes - first.bytes;
    return {
      ...base, floors: { afterWarmupBytes: first.bytes, endBytes: last.bytes, clearedRetained: this.floors.map((f) => f.clearedRetained) },
      growthBytes, judged: true, how: 'idle floors (retained messages cleared, broker idle until its heap shrank): end minus after warm-up', ok: growthBytes <= thresholdBytes,
    };
  }
}

/**
 * The broker's resident memory during a fuzz run, sampled from /proc once a
 * second, and the judgement "memory stays flat".
 *
 * Flat means: the median of the last 10 s of samples is at most
 * `thresholdBytes` above the median of the 10 s right after the warm-up.
 * Medians, because V8 grows and trims its heap in steps (a young-generation
 * resize or a major GC moves RSS by tens of MiB either way); a leak shows as a
 * steady climb that outlasts them. The default threshold, 64 MiB, is above the
 * fluctuation measured on the reference broker under fuzzing (see
 * harness/README.md) and below what a leak of ~50 bytes per case adds over a
 * 10-million-packet run. Runs too short to hold both windows apart by at
 * least `minJudgedS` are reported, not judged.
 */
import { peakRssBytes, rssBytes } from '../meters/procfs.js';

export interface MemorySample {
  /** Seconds since the run started. */
  t: number;
  rssBytes: number;
}

export interface MemoryReport {
  measurable: boolean;
  /** Why not, when not measurable. */
  reason?: string;
  pid?: number;
  samples: MemorySample[];
  warmupS: number;
  /** Median RSS of the 10 s after the warm-up. */
  baselineBytes?: number;
  /** Median RSS of the last 10 s. */
  endBytes?: number;
  maxBytes?: number;
  /** The kernel's high-water mark (VmHWM) at the end. */
  peakBytes?: number;
  growthBytes?: number;
  thresholdBytes: number;
  /** Whether the run was long enough to judge. */
  judged: boolean;
  /** Judged and within the threshold (true when not judged). */
  ok: boolean;
}

export interface MemoryOptions {
  /** Default: 10 % of the run, between 5 and 60 s. */
  warmupS?: number;
  /** Default 64 MiB. */
  thresholdBytes?: number;
  /** Default 30 s between the end of the baseline window and the start of the end window. */
  minJudgedS?: number;
}

const WINDOW_S = 10;
export const DEFAULT_MEMORY_THRESHOLD = 64 * 1024 * 1024;

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export class MemorySampler {
  readonly samples: MemorySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();
  private pidNow: number | undefined;

  /** `pid` is read at each sample: a restarted broker is followed. */
  constructor(private readonly pid: () => number | undefined, private readonly everyMs = 1000) {}

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

  private sample(): void {
    const pid = this.pid();
    this.pidNow = pid;
    if (pid === undefined) return;
    const rss = rssBytes(pid);
    if (rss !== undefined) this.samples.push({ t: (performance.now() - this.t0) / 1000, rssBytes: rss });
  }

  report(o: MemoryOptions = {}): MemoryReport {
    const thresholdBytes = o.thresholdBytes ?? DEFAULT_MEMORY_THRESHOLD;
    const pid = this.pidNow;
    if (pid === undefined || this.samples.length === 0) {
      return { measurable: false, reason: 'no broker process of ours to read /proc from', samples: [], warmupS: 0, thresholdBytes, judged: false, ok: true };
    }
    const end = this.samples.at(-1)!.t;
    const warmupS = o.warmupS ?? Math.min(60, Math.max(5, end * 0.1));
    const base = this.samples.filter((s) => s.t >= warmupS && s.t < warmupS + WINDOW_S).map((s) => s.rssBytes);
    const last = this.samples.filter((s) => s.t > end - WINDOW_S).map((s) => s.rssBytes);
    const baselineBytes = median(base);
    const endBytes = median(last);
    const maxBytes = Math.max(...this.samples.map((s) => s.rssBytes));
    const judged = baselineBytes !== undefined && endBytes !== undefined && end - WINDOW_S - (warmupS + WINDOW_S) >= (o.minJudgedS ?? 30);
    const growthBytes = baselineBytes !== undefined && endBytes !== undefined ? endBytes - baselineBytes : undefined;
    return {
      measurable: true, pid, samples: this.samples, warmupS, baselineBytes, endBytes, maxBytes, peakBytes: peakRssBytes(pid),
      growthBytes, thresholdBytes, judged, ok: !judged || (growthBytes ?? 0) <= thresholdBytes,
    };
  }
}

/**
 * The open-loop scheduler: every send time is fixed in advance, whatever
 * the server does. Sender i sends message k at
 *
 *     t0 + phase_i + k / rate            (phase_i seeded, in [0, 1/rate))
 *
 * A sender that falls behind (a stalled event loop, a slow client library)
 * sends late, never skips, so a stalled server shows up as latency (from the
 * intended time: coordinated-omission corrected) and not as a lower offered
 * rate. How late each send was (actual − intended, the schedule error) is
 * measured into its own histogram and reported next to the latencies.
 *
 * Waiting (precise mode, the default): a worker thread sleeps on a futex
 * until the due time and wakes the event loop with a message (ticker.ts),
 * so the wake-up is tens of µs late rather than a timer's ~1 ms, and the
 * event loop stays free to read sockets meanwhile. Coarse mode: timers
 * only. Overdue messages go out back to back, yielding to the event loop
 * every 256 sends. Bounded by count (maxMessages) and time: nothing is
 * sent after the send deadline (end of the window + drain); what was still
 * due then is counted as not sent.
 */
import { encodeHistogram, newHistogram, recordNs, type Histogram } from '../../harness/meters/histogram.js';
import { Ticker } from './ticker.js';

/** The instants of one run, CLOCK_MONOTONIC nanoseconds (process.hrtime.bigint), the same in every process on the host. */
export interface RunClock {
  /** First intended send time (start of the warm-up). */
  t0Ns: bigint;
  /** Start of the measured window (end of the warm-up). */
  windowStartNs: bigint;
  /** End of the measured window: nothing is scheduled at or after it. */
  windowEndNs: bigint;
  /** Late sends stop here (window end + drain); receivers stop counting too. */
  deadlineNs: bigint;
}

export function runClock(t0Ns: bigint, warmupS: number, durationS: number, drainS: number): RunClock {
  const s = (x: number): bigint => BigInt(Math.round(x * 1e9));
  return { t0Ns, windowStartNs: t0Ns + s(warmupS), windowEndNs: t0Ns + s(warmupS + durationS), deadlineNs: t0Ns + s(warmupS + durationS + drainS) };
}

export const inWindow = (c: RunClock, intendedNs: bigint): boolean => intendedNs >= c.windowStartNs && intendedNs < c.windowEndNs;

/** A clock as JSON (bigints as decimal strings) for the processes of a run. */
export const clockToJson = (c: RunClock): Record<keyof RunClock, string> =>
  ({ t0Ns: String(c.t0Ns), windowStartNs: String(c.windowStartNs), windowEndNs: String(c.windowEndNs), deadlineNs: String(c.deadlineNs) });
export const clockFromJson = (j: Record<keyof RunClock, string>): RunClock =>
  ({ t0Ns: BigInt(j.t0Ns), windowStartNs: BigInt(j.windowStartNs), windowEndNs: BigInt(j.windowEndNs), deadlineNs: BigInt(j.deadlineNs) });

export interface OpenLoopOptions {
  senders: number;
  /** Messages per second per sender. */
  ratePerSender: number;
  clock: RunClock;
  /** Seeds the phase offsets. */
  seed: number;
  /** Bound besides time: no more than this many sends in all. */
  maxMessages: number;
  /** Wake-ups from a futex-waiting worker thread (default true); false = timers only (~1 ms late typically). */
  precise?: boolean;
  /** The clock to read (tests); default process.hrtime.bigint. */
  now?: () => bigint;
}

/** What the sender did, counted over the measured window (intended time inside it) and over the whole run. */
export interface ScheduleStats {
  /** Messages whose intended time is in the window. */
  intended: number;
  /** Of those, sent (late or not). */
  sent: number;
  /** Over the whole run (warm-up and window). */
  intendedAll: number;
  sentAll: number;
  /** Due but not sent by the deadline (the sender fell too far behind), or cut by maxMessages. */
  notSent: number;
  /** Offered rate in the window: intended / window length. */
  offeredPerS: number;
  /** Schedule error (actual − intended send time) of the window's sends, µs, compressed HdrHistogram. */
  scheduleErrorHdr: string;
  scheduleError: { p50Us: number; p99Us: number; maxUs: number };
  precise: boolean;
}

/** mulberry32: a small seeded PRNG (phases must be reproducible from the seed). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export type SendFn = (sender: number, seq: number, intendedNs: bigint, actualNs: bigint) => void;

const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class OpenLoopSchedule {
  readonly intervalNs: number;
  /** Phase offset of each sender, ns in [0, interval). */
  readonly phasesNs: readonly number[];
  /** Senders in the order their phases come round. */
  private readonly order: number[];
  private readonly total: number;
  private stopped = false;
  private readonly now: () => bigint;
  readonly precise: boolean;
  private readonly errors: Histogram = newHistogram();
  private ticker: Ticker | undefined;

  constructor(private readonly o: OpenLoopOptions) {
    if (!(o.senders >= 1) || !(o.ratePerSender > 0)) throw new RangeError('an open-loop schedule needs ≥ 1 sender and a rate above 0');
    this.intervalNs = 1e9 / o.ratePerSender;
    const rnd = seededRandom(o.seed);
    this.phasesNs = Array.from({ length: o.senders }, () => Math.floor(rnd() * this.intervalNs));
    this.order = [...this.phasesNs.keys()].sort((a, b) => this.phasesNs[a]! - this.phasesNs[b]! || a - b);
    // Messages with an intended time before the window end, in all.
    const spanNs = Number(o.clock.windowEndNs - o.clock.t0Ns);
    let total = 0;
    for (const p of this.phasesNs) total += p < spanNs ? Math.ceil((spanNs - p) / this.intervalNs) : 0;
    this.total = Math.min(total, o.maxMessages);
    this.now = o.now ?? process.hrtime.bigint;
    this.precise = o.precise ?? true;
  }

  /** Intended send time of message `seq` of `sender`. */
  intendedNs(sender: number, seq: number): bigint {
    return this.o.clock.t0Ns + BigInt(Math.round(this.phasesNs[sender]! + seq * this.intervalNs));
  }

  /** The m-th message of the merged schedule (ascending intended times). */
  private at(m: number): { sender: number; seq: number; t: bigint } {
    const n = this.order.length;
    const sender = this.order[m % n]!;
    const seq = Math.floor(m / n);
    return { sender, seq, t: this.intendedNs(sender, seq) };
  }

  /** Stops sending (what is left counts as not sent). */
  stop(): void {
    this.stopped = true;
    this.ticker?.close();
  }

  private async waitUntil(t: bigint): Promise<void> {
    for (;;) {
      const remNs = Number(t - this.now());
      if (remNs <= 0 || this.stopped) return;
      if (this.ticker) {
        await this.ticker.wakeAt(t);
        return;
      }
      await sleepMs(remNs > 1_000_000 ? Math.floor(remNs / 1e6) : 0);
    }
  }

  /** Runs the schedule to the end (or stop()), calling `send` for each message at (or after) its intended time. */
  async run(send: SendFn): Promise<ScheduleStats> {
    const c = this.o.clock;
    let intended = 0;
    let sent = 0;
    let sentAll = 0;
    // Messages that fall in the window, by the schedule (whether or not they get sent).
    if (this.total < this.o.maxMessages) {
      const before = (x: bigint): number => {
        const span = Number(x - c.t0Ns);
        let n = 0;
        for (const p of this.phasesNs) n += p < span ? Math.ceil((span - p) / this.intervalNs) : 0;
        return n;
      };
      intended = before(c.windowEndNs) - before(c.windowStartNs);
    } else {
      for (let i = 0; i < this.total; i++) if (inWindow(c, this.at(i).t)) intended++;
    }
    let m = 0;
    if (this.precise) this.ticker = new Ticker();
    while (m < this.total && !this.stopped) {
      await this.waitUntil(this.at(m).t);
      let burst = 0;
      for (;;) {
        if (m >= this.total || this.stopped) break;
        const { sender, seq, t } = this.at(m);
        const now = this.now();
        if (t > now) break;
        if (now >= c.deadlineNs) {
          this.stopped = true;
          break;
        }
        send(sender, seq, t, now);
        sentAll++;
        if (inWindow(c, t)) {
          sent++;
          recordNs(this.errors, Number(now - t));
        }
        m++;
        if (++burst >= 256) {
          burst = 0;
          await new Promise<void>((r) => setImmediate(r));
        }
      }
    }
    this.ticker?.close();
    const windowS = Number(c.windowEndNs - c.windowStartNs) / 1e9;
    const e = this.errors;
    return {
      intended, sent, intendedAll: this.total, sentAll, notSent: this.total - sentAll,
      offeredPerS: windowS > 0 ? intended / windowS : 0,
      scheduleErrorHdr: encodeHistogram(e),
      scheduleError: { p50Us: e.getValueAtPercentile(50), p99Us: e.getValueAtPercentile(99), maxUs: e.maxValue },
      precise: this.precise,
    };
  }
}

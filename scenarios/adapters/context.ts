/**
 * What a side (server or devices) shares during one run: the clock, the
 * latency recorder, error and timeout counts (never hidden: each kind is
 * counted and its first messages kept), the open-loop schedule, and — on the
 * device side — the application messages and payload bytes that crossed the
 * device link inside the measured window (the denominators of bytes per
 * message).
 */
import type { ScheduleStats } from '../schedule/open-loop.js';
import { OpenLoopSchedule, type RunClock, type SendFn } from '../schedule/open-loop.js';
import { LatencyRecorder } from '../schedule/latency.js';
import { encodeStamp, type Stamp } from '../stamp.js';
import type { Workload } from '../workload.js';
import type { CatchUp } from './types.js';

export class SideRun {
  readonly recorder: LatencyRecorder;
  errors = 0;
  timeouts = 0;
  /** Error kinds → count, with the first message of each. */
  readonly errorKinds = new Map<string, { count: number; first: string }>();
  /**
   * Device link: application messages and their payload bytes so far. The
   * side snapshots these together with the byte meter at the window's edges,
   * so messages and bytes cover exactly the same span even when a timer fires late.
   */
  linkMessages = 0;
  linkPayload = 0;
  /** Messages handed to the protocol library (whole run). */
  sentAll = 0;
  /** Acknowledged / answered sends (whole run), where the protocol acknowledges. */
  acked = 0;
  private schedule: OpenLoopSchedule | undefined;
  private schedulePromise: Promise<ScheduleStats> | undefined;

  constructor(readonly clock: RunClock, readonly workload: Workload, private readonly precise = true) {
    this.recorder = new LatencyRecorder(clock);
  }

  now(): bigint {
    return process.hrtime.bigint();
  }

  /** Counts an error of `kind` (e.g. 'publish', 'http 503', 'coap request'). */
  error(kind: string, e?: unknown): void {
    this.errors++;
    this.noteKind(kind, e);
  }

  timeout(kind: string, n = 1): void {
    this.timeouts += n;
    this.noteKind(`timeout: ${kind}`, undefined, n);
  }

  private noteKind(kind: string, e: unknown, n = 1): void {
    const k = this.errorKinds.get(kind);
    if (k) k.count += n;
    else this.errorKinds.set(kind, { count: n, first: e === undefined ? '' : e instanceof Error ? e.message : String(e) });
  }

  /** An application message (payload `bytes`) crossed the device link just now. */
  crossed(bytes: number): void {
    this.linkMessages++;
    this.linkPayload += bytes;
  }

  /** The stamp of a scheduled message. */
  stamp(device: number, seq: number, intendedNs: bigint, actualNs: bigint): Stamp {
    return {
      device, seq,
      intendedUs: Number(intendedNs - this.clock.t0Ns) / 1000,
      lagUs: Math.max(0, Number(actualNs - intendedNs) / 1000),
    };
  }

  /** A payload of the workload's size and format carrying `stamp`. */
  payload(stamp: Stamp): Buffer {
    return encodeStamp(stamp, this.workload.payload.bytes, this.workload.payload.format);
  }

  /** Starts the open-loop schedule: `senders` senders at `ratePerSender` each. */
  startSchedule(senders: number, ratePerSender: number, send: SendFn): void {
    this.schedule = new OpenLoopSchedule({
      senders, ratePerSender, clock: this.clock, seed: this.workload.seed, maxMessages: this.workload.maxMessages, precise: this.precise,
    });
    this.schedulePromise = this.schedule.run((sender, seq, intendedNs, actualNs) => {
      this.sentAll++;
      send(sender, seq, intendedNs, actualNs);
    });
  }

  stopSchedule(): void {
    this.schedule?.stop();
  }

  /** The schedule's statistics once it has ended (undefined when this side has no schedule). */
  async scheduleStats(): Promise<ScheduleStats | undefined> {
    return this.schedulePromise;
  }

  errorNotes(): string[] {
    return [...this.errorKinds].map(([k, v]) => `${k}: ${v.count}${v.first ? ` (first: ${v.first.slice(0, 160)})` : ''}`);
  }
}

/** Calls `fn` at monotonic instant `at` (or now, if past); returns a cancel function. */
export function atInstant(at: bigint, fn: () => void): () => void {
  const ms = Math.max(0, Number(at - process.hrtime.bigint()) / 1e6);
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
}

/**
 * retained-state: starts the late subscriber at its instant in the measured window and keeps
 * its catch-up result; result() waits (bounded) for it at the end of the run.
 */
export class LateSubscriber {
  private value: CatchUp | undefined;
  private readonly cancel: () => void;

  constructor(r: SideRun, w: Workload, start: () => Promise<CatchUp>) {
    this.cancel = atInstant(r.clock.windowStartNs + BigInt(Math.round(w.retained!.lateSubscriberAtS * 1e9)), () => {
      void start().then((c) => { this.value = c; }, (e: unknown) => r.error('late subscriber', e));
    });
  }

  async result(timeoutMs: number): Promise<CatchUp | undefined> {
    this.cancel();
    if (!this.value) await waitFor(() => this.value !== undefined, timeoutMs);
    return this.value;
  }
}

/** A bounded wait for a condition to become true, polling every `everyMs`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

/** Runs `fn` for 0..n-1 with at most `limit` in flight. */
export async function forEachLimit(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/**
 * The receiving side's latency record: for each stamped message that
 * arrives, latency from the intended send time (corrected for coordinated
 * omission) and from the actual send (uncorrected), into HdrHistograms in
 * µs. Only messages whose intended time falls in the measured window count;
 * warm-up messages and anything after the deadline are seen but not counted.
 */
import { encodeHistogram, newHistogram, recordNs, type Histogram } from '../../harness/meters/histogram.js';
import type { Stamp } from '../stamp.js';
import { inWindow, type RunClock } from './open-loop.js';

export interface LatencyReport {
  /** Messages received whose intended time is in the window. */
  received: number;
  /** Received at all (warm-up, window, late). */
  receivedAll: number;
  /** Arrived after the deadline (counted lost, not in the histograms). */
  late: number;
  /** Payloads that were not a stamp. */
  undecodable: number;
  correctedHdr: string;
  uncorrectedHdr: string;
}

export class LatencyRecorder {
  readonly corrected: Histogram = newHistogram();
  readonly uncorrected: Histogram = newHistogram();
  received = 0;
  receivedAll = 0;
  late = 0;
  undecodable = 0;

  constructor(private readonly clock: RunClock, private readonly now: () => bigint = process.hrtime.bigint) {}

  /** Records one arrival; `recvNs` defaults to now. */
  record(stamp: Stamp | undefined, recvNs: bigint = this.now()): void {
    if (stamp === undefined) {
      this.undecodable++;
      return;
    }
    this.receivedAll++;
    const intendedNs = this.clock.t0Ns + BigInt(Math.round(stamp.intendedUs * 1000));
    if (!inWindow(this.clock, intendedNs)) return;
    if (recvNs >= this.clock.deadlineNs) {
      this.late++;
      return;
    }
    this.received++;
    const corrected = Number(recvNs - intendedNs);
    recordNs(this.corrected, corrected);
    recordNs(this.uncorrected, corrected - stamp.lagUs * 1000);
  }

  report(): LatencyReport {
    return {
      received: this.received, receivedAll: this.receivedAll, late: this.late, undecodable: this.undecodable,
      correctedHdr: encodeHistogram(this.corrected), uncorrectedHdr: encodeHistogram(this.uncorrected),
    };
  }
}

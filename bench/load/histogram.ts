/** Latency histograms (HdrHistogram, microseconds, 3 significant digits) and their summaries. */
import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './protocol.js';

export type Histogram = hdr.Histogram;

/** 1 µs … 10 min at 3 significant digits; values above are clamped to the top. */
const HIGHEST_US = 600_000_000;

export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

/** Records a latency in nanoseconds as whole microseconds. */
export function recordNs(h: Histogram, ns: number): void {
  let us = Math.round(ns / 1000);
  if (us < 0) us = 0;
  else if (us > HIGHEST_US) us = HIGHEST_US;
  h.recordValue(us);
}

export function summarize(h: Histogram): LatencySummary {
  const empty = h.totalCount === 0;
  return {
    count: h.totalCount,
    min: empty ? 0 : h.minNonZeroValue,
    mean: empty ? 0 : Math.round(h.mean * 10) / 10,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    hdr: hdr.encodeIntoCompressedBase64(h),
  };
}

/** Adds up encoded histograms (encodeIntoCompressedBase64) into one, encoded the same way. */
export function mergeHistograms(encoded: string[]): string {
  const all = newHistogram();
  for (const e of encoded) if (e.length > 0) all.add(hdr.decodeFromCompressedBase64(e));
  return hdr.encodeIntoCompressedBase64(all);
}

/**
 * Latency histograms (HdrHistogram, microseconds, 3 significant digits) and
 * their summaries, shared by the broker benchmark (bench/load) and the
 * scenario runner (scenarios/). Histograms cross process boundaries as
 * compressed base64 (encodeHistogram / decodeHistogram) and are added up there.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** Latency percentiles, microseconds. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** The whole HdrHistogram, compressed (hdr-histogram-js encodeIntoCompressedBase64). */
  hdr: string;
}

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

/** A histogram as compressed base64 (empty string for an empty histogram). */
export function encodeHistogram(h: Histogram): string {
  return h.totalCount === 0 ? '' : hdr.encodeIntoCompressedBase64(h);
}

/** Reads a histogram written by encodeHistogram (an empty string gives an empty histogram). */
export function decodeHistogram(encoded: string): Histogram {
  const h = newHistogram();
  if (encoded.length > 0) h.add(hdr.decodeFromCompressedBase64(encoded));
  return h;
}

/** Percentiles at which distribution points are taken: 0, 50, 75, 87.5, ... (halving the rest), up to 99.999, then 100. */
export const DISTRIBUTION_PERCENTILES: readonly number[] = (() => {
  const out = [0];
  for (let rest = 50; rest >= 0.001; rest /= 2) out.push(Math.round((100 - rest) * 1000) / 1000);
  out.push(100);
  return out;
})();

/** [percentile, value µs] points of the histogram for a percentile curve, ascending. */
export function distributionPoints(h: Histogram): Array<[number, number]> {
  if (h.totalCount === 0) return [];
  return DISTRIBUTION_PERCENTILES.map((p): [number, number] => [p, p === 0 ? h.minNonZeroValue : p === 100 ? h.maxValue : h.getValueAtPercentile(p)]);
}

/**
 * The fuzz run's results: written as JSON (out/fuzz/fuzz-<time>.json) and
 * summarised in a few lines for the terminal.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MemoryReport } from './memory.js';

/** A case as it appears in a report: how to replay it, its bytes and what it is. */
export interface ReportedCase {
  /** fast-check seed and path: `npm run fuzz -- --replay <seed>:<path>`. */
  seed: number;
  path: string;
  replay: string;
  hex: string;
  bytes: number;
  packets: number;
  /** The writes, in bytes (the chunking). */
  writes: number[];
  description: string[];
  /** What a correct server must do (the oracle). */
  verdict: string;
  /** What the broker did. */
  outcome: string;
}

export interface MismatchExample extends ReportedCase {
  kind: string;
  detail: string;
}

export interface Finding {
  kind: string;
  detail: string;
  count: number;
  example?: ReportedCase;
}

export type FailureKind =
  | 'crash' | 'control-connect' | 'control-timeout' | 'control-closed' | 'sentinel-closed' | 'sentinel-timeout'
  | 'other-client-closed' | 'case-hang' | 'mismatch' | 'codec-crash' | 'codec-chunking' | 'broker-error'
  | 'memory-growth' | 'listener-unreachable';

export interface FailureReport {
  kind: FailureKind;
  detail: string;
  /** A case (or, when several cases together are needed, the minimal set) that reproduces it, shrunk. */
  shrunk?: ReportedCase[];
  /** The failing case(s) before shrinking. */
  original?: ReportedCase[];
  /** How shrinking went: attempts, time, whether it reproduced at all. */
  shrinking?: { reproduced: boolean; attempts: number; seconds: number; note?: string };
}

export interface FuzzReport {
  kind: 'fuzz';
  schemaVersion: 1;
  startedAt: string;
  durationS: number;
  commandLine?: string;
  target: { label: string; url: string; exact: boolean };
  seed: number;
  versions: number[];
  concurrency: number;
  packetsGoal: number;
  stoppedBecause: 'packets' | 'time' | 'failure';
  packetsSent: number;
  cases: number;
  /** Seconds the broker sat idle for memory floors (not counted in the rates). */
  idleS: number;
  /** Packets per second over the sending phase. */
  ratePerS: number;
  casesPerS: number;
  /** `status kind` → count (status ok, mismatch or hang). */
  outcomes: Record<string, number>;
  /** What the oracle expected: verdict (and rule for closes) → count. */
  verdicts: Record<string, number>;
  mismatches: { count: number; byKind: Record<string, number>; examples: MismatchExample[] };
  control: { roundTrips: number; boundMs: number; p50Ms?: number; p99Ms?: number; maxMs?: number };
  memory: MemoryReport;
  findings: Finding[];
  failures: FailureReport[];
  passed: boolean;
}

export function writeReport(path: string, r: FuzzReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
}

const mib = (b: number | undefined): string => (b === undefined ? '?' : `${(b / 1024 / 1024).toFixed(1)} MiB`);

function memoryLine(m: MemoryReport): string {
  if (!m.measurable) return `broker memory: not measurable (${m.reason ?? '?'})`;
  const load = `under load ${mib(m.underLoad?.startBytes)} → ${mib(m.underLoad?.endBytes)} (max ${mib(m.maxBytes)})`;
  if (!m.judged || m.floors === undefined) return `broker memory: ${load}; not judged: ${m.how}`;
  return `broker memory: idle floor ${mib(m.floors.afterWarmupBytes)} after warm-up → ${mib(m.floors.endBytes)} at the end (growth ${mib(m.growthBytes)}, threshold ${mib(m.thresholdBytes)}, ${m.ok ? 'flat' : 'GROWN'}); ${load}`;
}

/** A few lines for the terminal. */
export function summarize(r: FuzzReport): string {
  const lines = [
    `${r.passed ? 'PASS' : 'FAIL'}: ${r.packetsSent.toLocaleString('en-US')} packets in ${r.cases.toLocaleString('en-US')} cases to ${r.target.label} (${r.target.url}) in ${r.durationS.toFixed(1)} s: ${Math.round(r.ratePerS).toLocaleString('en-US')} packets/s; seed ${r.seed}; stopped: ${r.stoppedBecause}`,
    `control client: ${r.control.roundTrips} round trips, p50 ${r.control.p50Ms?.toFixed(1) ?? '?'} ms, p99 ${r.control.p99Ms?.toFixed(1) ?? '?'} ms, max ${r.control.maxMs?.toFixed(1) ?? '?'} ms (bound ${r.control.boundMs} ms)`,
    memoryLine(r.memory),
    `outcomes: ${Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`,
  ];
  if (r.mismatches.count > 0) lines.push(`mismatches: ${r.mismatches.count} (${Object.entries(r.mismatches.byKind).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  for (const f of r.findings) lines.push(`finding: ${f.kind} ×${f.count}: ${f.detail}`);
  for (const f of r.failures) {
    lines.push(`FAILURE ${f.kind}: ${f.detail}`);
    if (f.shrinking) lines.push(`  shrinking: ${f.shrinking.reproduced ? 'reproduced' : 'not reproduced'}, ${f.shrinking.attempts} attempt(s), ${f.shrinking.seconds.toFixed(1)} s${f.shrinking.note ? ` (${f.shrinking.note})` : ''}`);
    for (const c of f.shrunk ?? f.original ?? []) {
      lines.push(`  case seed ${c.seed} path ${c.path} (replay: ${c.replay})`);
      for (const d of c.description) lines.push(`    ${d}`);
      lines.push(`    hex: ${c.hex.length > 400 ? `${c.hex.slice(0, 400)}… (${c.bytes} bytes)` : c.hex}`);
      if (c.verdict) lines.push(`    expected: ${c.verdict}`);
      if (c.outcome) lines.push(`    got: ${c.outcome}`);
    }
  }
  return lines.join('\n');
}

/**
 * Comparing two sets of results (baseline and current; each one or more
 * files, repeats allowed): which tests changed status, which benchmark
 * metrics moved, and whether a move is beyond the run-to-run noise.
 * Pure functions; the gate (gate.ts) and the HTML comparison view use them.
 */
import type { ProtocolRun, ResultsFile, SpecVersionName, TestResult, TestStatus } from '../results/types.js';

/** A results file and where it came from (shown in reports and messages). */
export interface LoadedResults {
  source: string;
  results: ResultsFile;
}

// ---------------------------------------------------------------------------
// Conformance

/** A test's status over the repeats of one side. `flaky`: failed in some repeats, passed in others. */
export type MergedStatus = TestStatus | 'flaky' | 'absent';

export type ChangeKind =
  | 'regression' // passed (or finding) in the baseline, fails now
  | 'new-failure' // not run or skipped in the baseline, fails now
  | 'flaky-baseline' // failed in some baseline repeats, fails now
  | 'still-failing' // failed in the baseline, fails now
  | 'fixed' // failed in the baseline, passes (or finding) now
  | 'no-longer-runs' // passed in the baseline, skipped or absent now
  | 'newly-passing' // skipped or absent in the baseline, passes now
  | 'finding-changed' // pass <-> finding
  | 'unchanged';

export interface TestChange {
  testId: string;
  area: string;
  title: string;
  specVersion: SpecVersionName;
  statements: string[];
  before: MergedStatus;
  after: MergedStatus;
  kind: ChangeKind;
  /** The current result (reason, trace) where there is one; a failing repeat first. */
  current?: TestResult;
  baseline?: TestResult;
}

export interface ConformanceComparison {
  /** Current target name (or the baseline's when absent now). */
  target: string;
  baselineTarget: string | undefined;
  baselineSources: string[];
  currentSources: string[];
  /** Every test of either side, in current order then baseline-only tests. */
  tests: TestChange[];
  /** Why targets with different names were paired, if they were. */
  note?: string;
}

interface SideTest {
  statuses: TestStatus[];
  /** Preferred representative: the first failing repeat, else the first. */
  result: TestResult;
}

function mergeSide(files: LoadedResults[]): Map<string, SideTest> {
  const out = new Map<string, SideTest>();
  for (const f of files) {
    for (const t of f.results.conformance?.tests ?? []) {
      const cur = out.get(t.id);
      if (!cur) out.set(t.id, { statuses: [t.status], result: t });
      else {
        cur.statuses.push(t.status);
        if (t.status === 'fail' && cur.result.status !== 'fail') cur.result = t;
      }
    }
  }
  return out;
}

/**
 * One status over repeats. Current side: a failure in any repeat is a
 * failure (conformance tests are meant to be deterministic; an intermittent
 * failure is a real problem). Baseline side: failing in some repeats and
 * passing in others is `flaky`, which never counts as a regression.
 */
export function mergedStatus(statuses: readonly TestStatus[], side: 'baseline' | 'current'): MergedStatus {
  if (statuses.length === 0) return 'absent';
  const has = (s: TestStatus): boolean => statuses.includes(s);
  if (has('fail')) return side === 'baseline' && (has('pass') || has('finding')) ? 'flaky' : 'fail';
  if (has('finding')) return 'finding';
  if (has('pass')) return 'pass';
  return 'skip';
}

const passing = (s: MergedStatus): boolean => s === 'pass' || s === 'finding';

export function classify(before: MergedStatus, after: MergedStatus): ChangeKind {
  if (after === 'fail') {
    if (passing(before)) return 'regression';
    if (before === 'fail') return 'still-failing';
    if (before === 'flaky') return 'flaky-baseline';
    return 'new-failure';
  }
  if (before === 'fail' || before === 'flaky') return passing(after) ? 'fixed' : 'unchanged';
  if (passing(before) && (after === 'skip' || after === 'absent')) return 'no-longer-runs';
  if ((before === 'skip' || before === 'absent') && passing(after)) return 'newly-passing';
  if (passing(before) && passing(after) && before !== after) return 'finding-changed';
  return 'unchanged';
}

const targetName = (f: LoadedResults): string => f.results.target?.name ?? 'target';

function groupByTarget(files: LoadedResults[]): Map<string, LoadedResults[]> {
  const m = new Map<string, LoadedResults[]>();
  for (const f of files) {
    if (!f.results.conformance) continue;
    const k = targetName(f);
    const list = m.get(k);
    if (list) list.push(f);
    else m.set(k, [f]);
  }
  return m;
}

/**
 * Pairs conformance results by target name. When each side holds exactly one
 * target, they are paired whatever their names (a broker's name often comes
 * from its URL, which changes between runs).
 */
export function compareConformance(baseline: LoadedResults[], current: LoadedResults[]): ConformanceComparison[] {
  const b = groupByTarget(baseline);
  const c = groupByTarget(current);
  const pairs: Array<{ target: string; baselineTarget: string | undefined; bf: LoadedResults[]; cf: LoadedResults[]; note?: string }> = [];
  if (b.size === 1 && c.size === 1) {
    const [bt, bf] = [...b][0]!;
    const [ct, cf] = [...c][0]!;
    pairs.push({ target: ct, baselineTarget: bt, bf, cf, ...(bt !== ct ? { note: `paired baseline target '${bt}' with current target '${ct}' (the only one on each side)` } : {}) });
  } else {
    for (const [ct, cf] of c) pairs.push({ target: ct, baselineTarget: b.has(ct) ? ct : undefined, bf: b.get(ct) ?? [], cf });
    for (const [bt, bf] of b) if (!c.has(bt)) pairs.push({ target: bt, baselineTarget: bt, bf, cf: [] });
  }
  return pairs.map((p) => {
    const bm = mergeSide(p.bf);
    const cm = mergeSide(p.cf);
    const tests: TestChange[] = [];
    const add = (id: string, bs: SideTest | undefined, cs: SideTest | undefined): void => {
      const rep = (cs ?? bs)!.result;
      const before = mergedStatus(bs?.statuses ?? [], 'baseline');
      const after = mergedStatus(cs?.statuses ?? [], 'current');
      tests.push({
        testId: id, area: rep.area, title: rep.title, specVersion: rep.specVersion, statements: rep.statements,
        before, after, kind: classify(before, after),
        ...(cs ? { current: cs.result } : {}), ...(bs ? { baseline: bs.result } : {}),
      });
    };
    for (const [id, cs] of cm) add(id, bm.get(id), cs);
    for (const [id, bs] of bm) if (!cm.has(id)) add(id, bs, undefined);
    return {
      target: p.target, baselineTarget: p.baselineTarget,
      baselineSources: p.bf.map((f) => f.source), currentSources: p.cf.map((f) => f.source),
      tests, ...(p.note ? { note: p.note } : {}),
    };
  });
}

// ---------------------------------------------------------------------------
// Benchmarks

export type MetricName = 'throughput' | 'p50' | 'p99' | 'bytesPerMessage' | 'lossRate';

export interface MetricDef {
  name: MetricName;
  label: string;
  unit: 'msg/s' | 'µs' | 'B' | 'fraction';
  better: 'higher' | 'lower';
  /** 'relative': threshold is a fraction of the baseline median; 'absolute': in the metric's own unit. */
  thresholdKind: 'relative' | 'absolute';
  get: (run: ProtocolRun) => number | undefined;
}

export const METRICS: readonly MetricDef[] = [
  { name: 'throughput', label: 'throughput (achieved)', unit: 'msg/s', better: 'higher', thresholdKind: 'relative', get: (r) => r.achievedRate },
  { name: 'p50', label: 'latency p50 (corrected)', unit: 'µs', better: 'lower', thresholdKind: 'relative', get: (r) => r.latencyUs.corrected.p50 },
  { name: 'p99', label: 'latency p99 (corrected)', unit: 'µs', better: 'lower', thresholdKind: 'relative', get: (r) => r.latencyUs.corrected.p99 },
  { name: 'bytesPerMessage', label: 'bytes per message (app)', unit: 'B', better: 'lower', thresholdKind: 'relative', get: (r) => r.bytes.app.perMessage },
  { name: 'lossRate', label: 'lost + errors + timeouts per intended message', unit: 'fraction', better: 'lower', thresholdKind: 'absolute', get: (r) => (r.messages.intended > 0 ? (r.messages.lost + r.messages.errors + r.messages.timeouts) / r.messages.intended : undefined) },
];

/** Defaults: throughput 10 %, p50 and p99 20 %, bytes per message 5 %, loss 1 percentage point. */
export const DEFAULT_THRESHOLDS: Readonly<Record<MetricName, number>> = {
  throughput: 0.10, p50: 0.20, p99: 0.20, bytesPerMessage: 0.05, lossRate: 0.01,
};

export type MetricVerdict = 'regression' | 'improvement' | 'within-threshold' | 'within-noise' | 'not-compared';

export interface MetricComparison {
  /** scenario / device profile / protocol / variant */
  key: string;
  scenario: string;
  deviceProfile: string;
  protocol: ProtocolRun['protocol'];
  variant: string;
  metric: MetricDef;
  threshold: number;
  baseline: number[];
  current: number[];
  baselineMedian: number;
  currentMedian: number;
  /** (current − baseline) / baseline of the medians; for absolute metrics the plain difference. */
  change: number;
  verdict: MetricVerdict;
  /** One line: why this verdict. */
  why: string;
}

export interface BenchmarkComparison {
  metrics: MetricComparison[];
  /** Runs present on one side only, and other things not compared. */
  notes: string[];
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export function runKey(scenario: string, deviceProfile: string, run: Pick<ProtocolRun, 'protocol' | 'variant'>): string {
  return `${scenario} / ${deviceProfile} / ${run.protocol} / ${run.variant}`;
}

interface RunGroup { scenario: string; deviceProfile: string; runs: ProtocolRun[] }

/** Runs grouped by scenario, device profile, protocol and variant: files and runs within a file with the same key are repeats. */
export function groupRuns(files: LoadedResults[]): Map<string, RunGroup> {
  const m = new Map<string, RunGroup>();
  for (const f of files) {
    const b = f.results.benchmark;
    if (!b) continue;
    for (const run of b.runs) {
      const key = runKey(b.scenario, b.deviceProfile.name, run);
      const g = m.get(key);
      if (g) g.runs.push(run);
      else m.set(key, { scenario: b.scenario, deviceProfile: b.deviceProfile.name, runs: [run] });
    }
  }
  return m;
}

function fmt(v: number, unit: MetricDef['unit']): string {
  if (unit === 'fraction') return `${(v * 100).toFixed(2)} %`;
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${unit}`;
}

export function formatMetric(v: number, def: MetricDef): string {
  return fmt(v, def.unit);
}

export function formatChange(c: MetricComparison): string {
  if (c.metric.thresholdKind === 'absolute') return `${c.change >= 0 ? '+' : '−'}${c.metric.unit === 'fraction' ? `${(Math.abs(c.change) * 100).toFixed(2)} pp` : fmt(Math.abs(c.change), c.metric.unit)}`;
  if (!Number.isFinite(c.change)) return c.change > 0 ? '+∞ %' : '−∞ %';
  return `${c.change >= 0 ? '+' : '−'}${Math.abs(c.change * 100).toFixed(1)} %`;
}

/**
 * The noise rule. For each metric of each run key present on both sides:
 * compare the medians of the repeats; call it a regression only when
 *  (1) the median moved in the worse direction by more than the threshold
 *      (relative to the baseline median; loss rate: absolute), and
 *  (2) every current repeat is worse than every baseline repeat: the min–max
 *      ranges of the two sides do not overlap. With one run on each side (2)
 *      is implied by (1), so only the threshold guards against noise; the
 *      verdict says so. With three repeats each, non-overlapping ranges happen
 *      by chance with probability 1/20 when nothing changed.
 * The same rule in the better direction is an improvement (never fails).
 */
export function compareMetric(def: MetricDef, threshold: number, baseline: number[], current: number[]): Pick<MetricComparison, 'baselineMedian' | 'currentMedian' | 'change' | 'verdict' | 'why'> {
  const bMed = median(baseline);
  const cMed = median(current);
  const delta = cMed - bMed;
  const change = def.thresholdKind === 'absolute' ? delta : bMed === 0 ? (delta === 0 ? 0 : delta > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY) : delta / bMed;
  const worse = def.better === 'lower' ? delta > 0 : delta < 0;
  const beyond = Math.abs(change) > threshold;
  const bMin = Math.min(...baseline);
  const bMax = Math.max(...baseline);
  const cMin = Math.min(...current);
  const cMax = Math.max(...current);
  // "worse than every baseline repeat" in the metric's bad direction, and the mirror for better
  const separatedWorse = def.better === 'lower' ? cMin > bMax : cMax < bMin;
  const separatedBetter = def.better === 'lower' ? cMax < bMin : cMin > bMax;
  const n = `n=${baseline.length}/${current.length}`;
  const thr = def.thresholdKind === 'absolute' ? (def.unit === 'fraction' ? `${(threshold * 100).toFixed(2)} percentage points` : fmt(threshold, def.unit)) : `${(threshold * 100).toFixed(0)} %`;
  const range = (a: number, b: number): string => (a === b ? fmt(a, def.unit) : `${fmt(a, def.unit)}–${fmt(b, def.unit)}`);
  const ranges = `baseline ${range(bMin, bMax)}, current ${range(cMin, cMax)}`;
  if (!beyond) return { baselineMedian: bMed, currentMedian: cMed, change, verdict: 'within-threshold', why: `change within ${thr} (${n})` };
  const single = baseline.length === 1 && current.length === 1 ? '; single runs: noise not measured' : '';
  if (worse) {
    if (separatedWorse) return { baselineMedian: bMed, currentMedian: cMed, change, verdict: 'regression', why: `worse by more than ${thr} and outside the baseline's range (${ranges}; ${n}${single})` };
    return { baselineMedian: bMed, currentMedian: cMed, change, verdict: 'within-noise', why: `worse by more than ${thr} but the repeats overlap (${ranges}; ${n})` };
  }
  if (separatedBetter) return { baselineMedian: bMed, currentMedian: cMed, change, verdict: 'improvement', why: `better by more than ${thr} (${ranges}; ${n}${single})` };
  return { baselineMedian: bMed, currentMedian: cMed, change, verdict: 'within-noise', why: `better by more than ${thr} but the repeats overlap (${ranges}; ${n})` };
}

export function compareBenchmarks(baseline: LoadedResults[], current: LoadedResults[], thresholds: Partial<Record<MetricName, number>> = {}): BenchmarkComparison {
  const b = groupRuns(baseline);
  const c = groupRuns(current);
  const metrics: MetricComparison[] = [];
  const notes: string[] = [];
  for (const [key, cg] of c) {
    const bg = b.get(key);
    if (!bg) {
      notes.push(`${key}: no baseline run to compare with`);
      continue;
    }
    const offeredB = median(bg.runs.map((r) => r.offeredRate));
    const offeredC = median(cg.runs.map((r) => r.offeredRate));
    const offeredDiffers = offeredB > 0 && Math.abs(offeredC - offeredB) / offeredB > 0.01;
    if (offeredDiffers) notes.push(`${key}: offered rate differs (baseline ${offeredB}, current ${offeredC} msg/s): throughput not compared`);
    const run0 = cg.runs[0]!;
    for (const def of METRICS) {
      const threshold = thresholds[def.name] ?? DEFAULT_THRESHOLDS[def.name];
      const bv = bg.runs.map(def.get).filter((v): v is number => v !== undefined && Number.isFinite(v));
      const cv = cg.runs.map(def.get).filter((v): v is number => v !== undefined && Number.isFinite(v));
      const base = { key, scenario: cg.scenario, deviceProfile: cg.deviceProfile, protocol: run0.protocol, variant: run0.variant, metric: def, threshold, baseline: bv, current: cv };
      if (bv.length === 0 || cv.length === 0 || (def.name === 'throughput' && offeredDiffers)) {
        metrics.push({ ...base, baselineMedian: median(bv), currentMedian: median(cv), change: Number.NaN, verdict: 'not-compared', why: bv.length === 0 || cv.length === 0 ? 'not measured on both sides' : 'offered rate differs' });
        continue;
      }
      metrics.push({ ...base, ...compareMetric(def, threshold, bv, cv) });
    }
  }
  for (const key of b.keys()) if (!c.has(key)) notes.push(`${key}: in the baseline, not in the current results`);
  return { metrics, notes };
}

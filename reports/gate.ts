/**
 * The CI gate: compares current results with a baseline (and an optional
 * expectations file) and decides pass or fail. See reports/README.md, "How
 * the gate decides", for the rules in prose; this file is their definition.
 */
import {
  compareBenchmarks, compareConformance, formatChange, formatMetric,
  type BenchmarkComparison, type ConformanceComparison, type LoadedResults, type MetricName, type TestChange,
} from './compare.js';
import { covers, describeKnownFailure, type Expectations, type KnownFailure } from './expectations.js';

export type ProblemKind = 'regression' | 'new-failure' | 'unexpected-pass' | 'benchmark-regression' | 'missing-results';

export interface GateProblem {
  kind: ProblemKind;
  target?: string;
  message: string;
}

export interface ExpectedFailure {
  target: string;
  testId: string;
  knownFailure: KnownFailure;
}

export interface GateOptions {
  thresholds?: Partial<Record<MetricName, number>>;
  expectations?: Expectations;
}

export interface GateResult {
  ok: boolean;
  problems: GateProblem[];
  notices: string[];
  conformance: ConformanceComparison[];
  benchmark: BenchmarkComparison;
  expectedFailures: ExpectedFailure[];
  /** Tests that fail as they did in the baseline (not listed in the expectations). */
  carriedFailures: Array<{ target: string; testId: string }>;
}

const firstLine = (s: string | undefined): string => (s ?? '').split('\n')[0]!.slice(0, 200);
const stmts = (t: TestChange): string => (t.statements.length ? ` [${t.statements.join(', ')}]` : '');

export function runGate(baseline: LoadedResults[], current: LoadedResults[], opts: GateOptions = {}): GateResult {
  const problems: GateProblem[] = [];
  const notices: string[] = [];
  const expectedFailures: ExpectedFailure[] = [];
  const carriedFailures: Array<{ target: string; testId: string }> = [];
  const known = opts.expectations?.knownFailures ?? [];
  const conformance = compareConformance(baseline, current);

  for (const cmp of conformance) {
    const target = cmp.target;
    if (cmp.note) notices.push(`${target}: ${cmp.note}`);
    if (cmp.currentSources.length === 0) {
      problems.push({ kind: 'missing-results', target, message: `${target}: the baseline has conformance results for this target, the current results have none` });
      continue;
    }
    if (cmp.baselineSources.length === 0) notices.push(`${target}: no baseline for this target: every failure counts as new unless the expectations list it`);
    const noLongerRuns: TestChange[] = [];
    for (const t of cmp.tests) {
      if (t.kind === 'no-longer-runs') noLongerRuns.push(t);
      if (t.after !== 'fail') continue;
      const k = t.current ? known.find((e) => covers(e, t.current!, target)) : undefined;
      if (k) {
        expectedFailures.push({ target, testId: t.testId, knownFailure: k });
        continue;
      }
      if (t.kind === 'regression') {
        problems.push({ kind: 'regression', target, message: `${target}: ${t.testId}${stmts(t)}: ${t.before} → fail: ${firstLine(t.current?.reason)}` });
      } else if (t.kind === 'new-failure') {
        problems.push({ kind: 'new-failure', target, message: `${target}: ${t.testId}${stmts(t)}: ${t.before === 'absent' ? 'new test' : t.before} → fail, not in the expectations: ${firstLine(t.current?.reason)}` });
      } else {
        carriedFailures.push({ target, testId: t.testId });
        if (opts.expectations) notices.push(`${target}: ${t.testId} fails ${t.kind === 'flaky-baseline' ? '(flaky in the baseline)' : 'as in the baseline'} and is not listed in ${opts.expectations.source}`);
      }
    }
    if (noLongerRuns.length > 0) {
      notices.push(`${target}: ${noLongerRuns.length} test(s) passed in the baseline and were skipped or absent now, e.g. ${noLongerRuns.slice(0, 3).map((t) => `${t.testId} (${t.after}${t.current?.reason ? `: ${firstLine(t.current.reason)}` : ''})`).join('; ')}`);
    }
    // Unexpected passes: a listed failure whose tests all ran and none failed.
    for (const k of known) {
      if (k.target !== undefined && k.target !== target) continue;
      const ran = cmp.tests.filter((t) => t.current && t.after !== 'absent' && t.after !== 'skip' && covers(k, t.current, target));
      if (ran.length === 0) {
        const anyTest = cmp.tests.some((t) => t.current && covers(k, t.current, target));
        notices.push(`${target}: expected failure ${describeKnownFailure(k)} was not checked (${anyTest ? 'its tests were skipped' : 'no test names it'}): is the entry stale?`);
        continue;
      }
      if (ran.some((t) => t.after === 'fail')) continue;
      problems.push({ kind: 'unexpected-pass', target, message: `${target}: ${describeKnownFailure(k)} is listed as a known failure ("${firstLine(k.reason)}") but now passes (${ran.length} test(s): ${ran.slice(0, 2).map((t) => t.testId).join('; ')}${ran.length > 2 ? '; …' : ''}): remove it from ${opts.expectations?.source ?? 'the expectations'}` });
    }
  }

  const benchmark = compareBenchmarks(baseline, current, opts.thresholds);
  for (const m of benchmark.metrics) {
    if (m.verdict !== 'regression') continue;
    problems.push({ kind: 'benchmark-regression', message: `${m.key}: ${m.metric.label} ${formatMetric(m.baselineMedian, m.metric)} → ${formatMetric(m.currentMedian, m.metric)} (${formatChange(m)}): ${m.why}` });
  }
  notices.push(...benchmark.notes);
  const single = benchmark.metrics.filter((m) => m.verdict !== 'not-compared' && (m.baseline.length < 2 || m.current.length < 2));
  if (single.length > 0) notices.push(`${new Set(single.map((m) => m.key)).size} benchmark run(s) have a single repeat on one side: only the thresholds guard against noise (pass several files or repeat the runs)`);

  const hasAnything = current.some((f) => f.results.conformance || f.results.benchmark);
  if (!hasAnything) problems.push({ kind: 'missing-results', message: 'the current results hold neither conformance nor benchmark data' });

  return { ok: problems.length === 0, problems, notices, conformance, benchmark, expectedFailures, carriedFailures };
}

const LIMIT = 15;

/** A concise summary for a CI log. */
export function formatGate(r: GateResult, reportPath?: string): string {
  const lines: string[] = [];
  lines.push(`mqtt-testbed gate: ${r.ok ? 'PASS' : `FAIL (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'})`}`);
  for (const c of r.conformance) {
    const n = (k: TestChange['kind']): number => c.tests.filter((t) => t.kind === k).length;
    const expected = r.expectedFailures.filter((e) => e.target === c.target).length;
    const unexpected = r.problems.filter((p) => p.kind === 'unexpected-pass' && p.target === c.target).length;
    const cur = c.tests.filter((t) => t.after !== 'absent');
    const count = (s: string): number => cur.filter((t) => t.after === s).length;
    lines.push(`conformance ${c.target}${c.baselineTarget && c.baselineTarget !== c.target ? ` (baseline: ${c.baselineTarget})` : ''}: ${cur.length} tests (${count('pass')} pass, ${count('fail')} fail, ${count('finding')} finding, ${count('skip')} skip); `
      + `${n('regression')} regression(s), ${n('new-failure')} new failure(s), ${unexpected} unexpected pass(es), ${expected} expected failure(s), ${n('still-failing') + n('flaky-baseline')} failing as before, ${n('fixed')} fixed, ${n('no-longer-runs')} no longer run`);
  }
  const compared = r.benchmark.metrics.filter((m) => m.verdict !== 'not-compared');
  if (r.benchmark.metrics.length > 0) {
    const v = (k: string): number => compared.filter((m) => m.verdict === k).length;
    lines.push(`benchmark: ${new Set(r.benchmark.metrics.map((m) => m.key)).size} run(s), ${compared.length} metric comparisons: ${v('regression')} regression(s), ${v('improvement')} improvement(s), ${v('within-noise')} beyond the threshold but within noise, ${v('within-threshold')} within the threshold`);
  }
  const byKind = new Map<ProblemKind, GateProblem[]>();
  for (const p of r.problems) byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), p]);
  const LABEL: Record<ProblemKind, string> = {
    regression: 'REGRESSION', 'new-failure': 'NEW FAILURE', 'unexpected-pass': 'UNEXPECTED PASS',
    'benchmark-regression': 'BENCHMARK REGRESSION', 'missing-results': 'MISSING RESULTS',
  };
  for (const [kind, list] of byKind) {
    for (const p of list.slice(0, LIMIT)) lines.push(`  ✗ ${LABEL[kind]}: ${p.message}`);
    if (list.length > LIMIT) lines.push(`  … and ${list.length - LIMIT} more ${LABEL[kind].toLowerCase()}(s) (see the report)`);
  }
  for (const m of r.benchmark.metrics.filter((x) => x.verdict === 'within-noise').slice(0, 5)) {
    lines.push(`  ~ within noise: ${m.key}: ${m.metric.label} ${formatChange(m)}: ${m.why}`);
  }
  if (r.notices.length > 0) {
    lines.push('notes:');
    for (const n of r.notices.slice(0, LIMIT)) lines.push(`  - ${n}`);
    if (r.notices.length > LIMIT) lines.push(`  - … and ${r.notices.length - LIMIT} more (see the report)`);
  }
  if (reportPath) lines.push(`comparison report: ${reportPath}`);
  return `${lines.join('\n')}\n`;
}

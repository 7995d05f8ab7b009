/**
 * The pieces of the suite self-check (cli/selftest-command.ts): one run of
 * the suites against the in-process reference broker with some faults on
 * (REFERENCE_FAULTS), and the verdicts drawn from its results — for the
 * correct broker (no failure may remain after one re-run of the failing
 * files) and for each fault (caught when a test fails against it; few
 * failing tests are confirmed by re-running their files once).
 */
import { existsSync, rmSync } from 'node:fs';
import type { FaultInfo, FaultName } from '../reference-broker/index.js';
import type { ResultsFile, SelftestBaseline, SelftestFaultResult, SelftestTestRef, SpecVersionName, TestResult } from '../results/types.js';
import { readResultsFile, ResultsFileError } from '../results/validate.js';
import { runVitestChild } from './vitest-child.js';

/** A fault caught by at most this many tests is confirmed: their files run again and only tests failing twice count. */
export const CONFIRM_AT_MOST = 3;
/** Test references kept per fault in selftest.json (the count says how many failed in all). */
export const KEEP_TESTS = 8;

export interface SuiteRunOptions {
  root: string;
  /** Suite files or folders, relative to the root. */
  files: readonly string[];
  faults: readonly FaultName[];
  resultsFile: string;
  logFile: string;
  timeoutMs: number;
  track?: (stop: () => void) => void;
}

export interface SuiteRun {
  /** ok: results were written and are usable; timeout / crashed: no verdict can be drawn from this run alone. */
  status: 'ok' | 'timeout' | 'crashed';
  reason?: string;
  results?: ResultsFile;
  resultsFile: string;
  durationMs: number;
}

/** The environment of a suite run: only the in-process reference broker, with `faults`, results where we say. */
export function suiteEnv(base: NodeJS.ProcessEnv, faults: readonly FaultName[], resultsFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, RESULTS_FILE: resultsFile, JUNIT_FILE: resultsFile.replace(/\.json$/, '.junit.xml'), NO_COLOR: '1', FORCE_COLOR: '0' };
  for (const k of ['BROKER_URL', 'BROKER_PROFILE', 'REFERENCE_VARIANT', 'REFERENCE_FAULTS']) delete env[k];
  // A self-check started from inside a vitest worker (its own e2e test) must not look like one to the child.
  for (const k of Object.keys(env)) if (k.startsWith('VITEST')) delete env[k];
  if (faults.length > 0) env['REFERENCE_FAULTS'] = faults.join(',');
  return env;
}

/** Runs `vitest run <files>` with the faults on and reads its results. Never throws. */
export async function runSuites(o: SuiteRunOptions): Promise<SuiteRun> {
  const started = Date.now();
  for (const f of [o.resultsFile, o.resultsFile.replace(/\.json$/, '.junit.xml'), o.logFile]) rmSync(f, { force: true });
  const outcome = await runVitestChild({ root: o.root, args: o.files, env: suiteEnv(process.env, o.faults, o.resultsFile), logFile: o.logFile, timeoutMs: o.timeoutMs, track: o.track });
  const run: SuiteRun = { status: 'ok', resultsFile: o.resultsFile, durationMs: Date.now() - started };
  const last = (): string => outcome.tail.slice(-10).map((l) => `      ${l}`).join('\n');
  if (outcome.timedOut) return { ...run, status: 'timeout', reason: `no result within ${Math.round(o.timeoutMs / 1000)} s (vitest and its workers were killed; log: ${o.logFile})` };
  if (!existsSync(o.resultsFile)) return { ...run, status: 'crashed', reason: `vitest exited with code ${String(outcome.exitCode)} and wrote no results; last lines:\n${last()}` };
  try {
    run.results = readResultsFile(o.resultsFile);
  } catch (e) {
    if (!(e instanceof ResultsFileError)) throw e;
    return { ...run, status: 'crashed', reason: e.message };
  }
  const fail = run.results.conformance?.summary.fail ?? 0;
  if (fail === 0 && outcome.unhandled > 0) return { ...run, status: 'crashed', reason: `vitest caught ${outcome.unhandled} unhandled error(s) outside the tests (log: ${o.logFile})` };
  if (fail === 0 && outcome.exitCode !== 0) return { ...run, status: 'crashed', reason: `vitest exited with code ${String(outcome.exitCode)} without a failing test: a suite file failed to load or a hook failed (log: ${o.logFile})` };
  if (outcome.unhandled > 0) run.reason = `vitest also caught ${outcome.unhandled} unhandled error(s) outside the tests`;
  return run;
}

export function failedTests(r: ResultsFile | undefined): TestResult[] {
  return r?.conformance?.tests.filter((t) => t.status === 'fail') ?? [];
}

/** The suite file a test's area comes from (the reporter names areas after their files). */
export function fileOfArea(area: string): string {
  return `suites/${area}.test.ts`;
}

/** The files holding `tests`, sorted, each once. */
export function filesOf(tests: readonly TestResult[]): string[] {
  return [...new Set(tests.map((t) => fileOfArea(t.area)))].sort();
}

export function testRef(t: TestResult): SelftestTestRef {
  const ref: SelftestTestRef = { id: t.id, statements: [...t.statements] };
  const line = t.reason?.split('\n')[0]?.trim();
  if (line) ref.reason = line.length > 300 ? `${line.slice(0, 299)}…` : line;
  return ref;
}

/**
 * Quick mode: the suite files with a test (that ran against the correct
 * broker) naming one of the fault's statements in the same spec version.
 * A fault no such test names is run against every file.
 */
export function quickFiles(info: FaultInfo, baseline: ResultsFile | undefined, all: readonly string[]): { files: string[]; note?: string } {
  const wanted = info.statements as Partial<Record<SpecVersionName, readonly string[]>>;
  const hits = (baseline?.conformance?.tests ?? []).filter((t) => t.status !== 'skip' && t.statements.some((s) => wanted[t.specVersion]?.includes(s)));
  if (hits.length === 0) return { files: [...all], note: 'no test names the statements it breaks: every file was run' };
  return { files: filesOf(hits) };
}

/** The correct broker's verdict: failures that fail again when their files are re-run are real; the rest were timing. */
export function baselineVerdict(target: string, first: SuiteRun, retry: SuiteRun | undefined): SelftestBaseline {
  const b: SelftestBaseline = { target, verdict: 'pass', failures: [], flaky: [], durationMs: first.durationMs + (retry?.durationMs ?? 0), resultsFile: first.resultsFile };
  if (first.results?.conformance) b.summary = { ...first.results.conformance.summary };
  if (first.status !== 'ok') return { ...b, verdict: 'error', note: first.reason ?? first.status };
  const failed = failedTests(first.results);
  if (failed.length === 0) return b;
  if (!retry || retry.status !== 'ok') {
    // Without a usable re-run nothing can be called a timing accident.
    return { ...b, verdict: 'fail', failures: failed.map(testRef), note: `the re-run of the failing files ${retry ? `was broken: ${retry.reason ?? retry.status}` : 'did not happen'}` };
  }
  const again = new Map((retry.results?.conformance?.tests ?? []).map((t) => [t.id, t]));
  for (const t of failed) {
    const r = again.get(t.id);
    if (r !== undefined && r.status !== 'fail') b.flaky.push(testRef(t));
    else b.failures.push(testRef(r ?? t));
  }
  b.verdict = b.failures.length > 0 ? 'fail' : 'pass';
  b.note = `${failed.length} test(s) failed in the first run; their file(s) were run once more: ${b.flaky.length} passed then (not counted), ${b.failures.length} failed again`;
  return b;
}

export interface FaultRuns {
  /** The run with the fault on. */
  run: SuiteRun;
  /** The re-run of the files of the few failing tests, if one was made. */
  confirm?: SuiteRun;
}

/**
 * A fault's verdict. Tests that also fail against the correct broker say
 * nothing about the fault and are left out; when at most CONFIRM_AT_MOST
 * tests failed, only those failing in the confirmation run too count.
 */
export function faultVerdict(name: FaultName, info: FaultInfo, files: readonly string[], runs: FaultRuns, baselineFailures: ReadonlySet<string>, note?: string): SelftestFaultResult {
  const { run, confirm } = runs;
  const r: SelftestFaultResult = {
    name, description: info.description, statements: Object.fromEntries(Object.entries(info.statements).map(([v, ids]) => [v, [...ids]])),
    verdict: 'missed', caughtBy: 0, tests: [], files: [...files], durationMs: run.durationMs + (confirm?.durationMs ?? 0), resultsFile: run.resultsFile,
  };
  if ('section' in info && info.section !== undefined) r.section = info.section;
  if (run.results?.conformance) r.summary = { ...run.results.conformance.summary };
  const notes: string[] = note ? [note] : [];
  const failed = failedTests(run.results).filter((t) => !baselineFailures.has(t.id));
  const ignored = failedTests(run.results).length - failed.length;
  if (ignored > 0) notes.push(`${ignored} failing test(s) left out: they fail against the correct broker too`);
  let catching = failed;
  if (confirm) {
    const again = new Set(failedTests(confirm.results).map((t) => t.id));
    catching = confirm.status === 'ok' ? failed.filter((t) => again.has(t.id)) : failed;
    const dropped = failed.length - catching.length;
    notes.push(confirm.status !== 'ok'
      ? `confirmation run broken (${confirm.reason ?? confirm.status}): first run counted`
      : dropped > 0 ? `confirmation: ${dropped} of ${failed.length} test(s) passed when re-run and are not counted` : `confirmed: ${failed.length === 1 ? 'the test' : `all ${failed.length} tests`} failed again when re-run`);
  }
  if (catching.length > 0) {
    r.verdict = 'caught';
    if (run.reason) notes.push(run.reason);
  } else if (run.status !== 'ok') {
    r.verdict = 'error';
    notes.push(run.reason ?? run.status);
  }
  r.caughtBy = catching.length;
  const named = (x: TestResult): boolean => x.statements.some((s) => (info.statements as Partial<Record<SpecVersionName, readonly string[]>>)[x.specVersion]?.includes(s));
  r.naming = catching.filter(named).length;
  // Tests naming a statement the fault breaks first: they are the ones that explain the catch.
  r.tests = [...catching.filter(named), ...catching.filter((x) => !named(x))].slice(0, KEEP_TESTS).map(testRef);
  if (notes.length > 0) r.note = notes.join('; ');
  return r;
}

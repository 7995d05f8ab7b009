/**
 * `mqtt-testbed selftest` (npm run selftest): do the conformance suites
 * notice a broken broker? Runs the suites against the correct reference
 * broker, then against it with one deliberate fault at a time
 * (reference-broker/core/faults.ts, REFERENCE_FAULTS), each run a vitest
 * child process with a hard time limit, and reports per fault whether it
 * was caught and by which tests. Writes out/selftest/selftest.json (results
 * kind 'selftest', shown by `mqtt-testbed report`).
 *
 * Exit 0: every fault caught and no failure against the correct broker;
 * 1: a fault missed, a run broken, or a failure against the correct broker;
 * 2: bad options; 130: interrupted.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { projectRoot } from '../harness/launchers/child-process.js';
import { FAULT_NAMES, FAULTS, parseFaults, UnknownFaultError, type FaultName } from '../reference-broker/index.js';
import { newResults, writeResults } from '../results/io.js';
import type { SelftestFaultResult, SelftestResults } from '../results/types.js';
import { integerOption, parseCommandArgs, UsageError, type CliIo } from './io.js';
import {
  baselineVerdict, CONFIRM_AT_MOST, failedTests, faultVerdict, filesOf, quickFiles, runSuites, type FaultRuns, type SuiteRun,
} from './selftest-run.js';

export const SELFTEST_USAGE = `mqtt-testbed selftest [options]   (npm run selftest -- [options])

Runs the conformance suites against the correct reference broker, then against
it with one deliberate fault at a time, and reports which faults the suites
catch (and by which tests). Writes out/selftest/selftest.json for the report.

  --faults LIST      comma-separated faults to try (default: all ${FAULT_NAMES.length})
  --files LIST       suite files or folders to run (default: suites)
  --quick            per fault, only the suite files whose tests name the statements
                     it breaks (the correct broker still runs every file)
  --out DIR          results, JUnit and logs (default out/selftest)
  --timeout-ms N     hard time limit per suite run (default 300000, or SELFTEST_TIMEOUT_MS)
  --list             print the faults and what each breaks, then exit
A failure against the correct broker is re-run once (only its file) before it
counts; a fault caught by at most ${CONFIRM_AT_MOST} tests is confirmed the same way.
Exit 1 when a fault is not caught, a run is broken, or the correct broker fails.`;

export interface SelftestOptions {
  faults: FaultName[];
  files: string[];
  quick: boolean;
  outDir: string;
  timeoutMs: number;
  root: string;
}

export function parseSelftestArgs(argv: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SelftestOptions | 'help' | 'list' {
  const { values } = parseCommandArgs({
    args: argv, allowPositionals: false, strict: true,
    options: {
      faults: { type: 'string' }, files: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' },
      'timeout-ms': { type: 'string' }, list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values.list) return 'list';
  let faults: FaultName[];
  try {
    faults = values.faults === undefined ? [...FAULT_NAMES] : parseFaults(values.faults);
  } catch (e) {
    if (e instanceof UnknownFaultError) throw new UsageError(`--faults: ${e.message}`);
    throw e;
  }
  if (faults.length === 0) throw new UsageError('--faults: no fault named');
  const root = projectRoot();
  const files = (values.files ?? 'suites').split(',').map((f) => f.trim()).filter(Boolean).map((f) => {
    const abs = resolve(cwd, f);
    if (!existsSync(abs)) throw new UsageError(`--files: ${f} does not exist`);
    const rel = relative(root, abs);
    if (rel.startsWith('..') || !rel.startsWith('suites')) throw new UsageError(`--files: ${f} is not in the project's suites/ folder`);
    return rel;
  });
  if (files.length === 0) throw new UsageError('--files: no file named');
  const rawTimeout = values['timeout-ms'] ?? env['SELFTEST_TIMEOUT_MS'] ?? '300000';
  const timeoutMs = integerOption(rawTimeout, '--timeout-ms', 1000, 24 * 3_600_000, 0);
  return { faults, files, quick: values.quick === true, outDir: resolve(cwd, values.out ?? join(root, 'out', 'selftest')), timeoutMs, root };
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/** The faults and what each breaks (--list). */
export function formatFaultList(): string {
  return `${FAULT_NAMES.map((n) => {
    const f: (typeof FAULTS)[FaultName] = FAULTS[n];
    const st = Object.entries(f.statements).map(([v, ids]) => `${v} ${ids.join(' ')}`).join('; ') || ('section' in f ? `§${f.section}` : '');
    return `${pad(n, 28)} ${f.description}\n${' '.repeat(29)}breaks: ${st}`;
  }).join('\n')}\n`;
}

/** One line per fault while the runs go on. */
export function faultLine(i: number, n: number, f: SelftestFaultResult): string {
  const what = f.verdict === 'caught'
    ? `caught by ${f.caughtBy} test${f.caughtBy === 1 ? '' : 's'} (${f.tests[0]?.id ?? ''}${f.caughtBy > 1 ? ', …' : ''})`
    : f.verdict === 'missed' ? 'NOT CAUGHT: every test passed' : `NO VERDICT: ${(f.note ?? '').split('\n')[0]}`;
  return `[${lpad(String(i), String(n).length)}/${n}] ${pad(f.name, 28)} ${what}, ${secs(f.durationMs)}${f.files.length === 1 && f.files[0] === 'suites' ? '' : ` [${f.files.length} file(s)]`}\n`;
}

/** The final summary: a table, the correct broker, the score, what was not caught and why. */
export function formatSelftest(s: SelftestResults, resultsFile: string): string {
  const rows = s.faults.map((f) => `${pad(f.name, 28)}${pad(f.verdict, 8)}${lpad(String(f.caughtBy), 6)}${lpad(secs(f.durationMs), 9)}  ${f.tests[0]?.id ?? ''}`);
  const b = s.baseline;
  const base = b.verdict === 'pass' ? 'no failures' : b.verdict === 'fail' ? `${b.failures.length} FAILURE(S): ${b.failures.map((t) => t.id).join('; ')}` : `RUN BROKEN: ${b.note ?? ''}`;
  const lines = [
    `${pad('fault', 28)}${pad('verdict', 8)}${lpad('tests', 6)}${lpad('time', 9)}  first test that caught it`,
    ...rows,
    '',
    `correct broker (${b.target}): ${base}${b.summary ? ` — ${b.summary.pass} pass, ${b.summary.fail} fail, ${b.summary.skip} skip` : ''}, ${secs(b.durationMs)}`,
  ];
  if (b.flaky.length > 0) lines.push(`  re-run once and passed (not counted): ${b.flaky.map((t) => t.id).join('; ')}`);
  for (const f of s.faults.filter((x) => x.verdict !== 'caught')) lines.push(`not caught: ${f.name} — ${f.description}${f.note ? ` (${f.note.split('\n')[0]})` : ''}`);
  lines.push(`score: ${s.score.caught} of ${s.score.faults} faults caught (${s.mode} mode, ${secs(s.durationMs)} in all)`, `results: ${resultsFile}`);
  return `${lines.join('\n')}\n`;
}

export function selftestExitCode(s: SelftestResults): number {
  return s.baseline.verdict === 'pass' && s.score.caught === s.score.faults ? 0 : 1;
}

export async function selftestCommand(argv: string[], io: CliIo): Promise<number> {
  const o = parseSelftestArgs(argv, io.cwd);
  if (o === 'help') {
    io.stdout.write(`${SELFTEST_USAGE}\n`);
    return 0;
  }
  if (o === 'list') {
    io.stdout.write(formatFaultList());
    return 0;
  }
  mkdirSync(o.outDir, { recursive: true });
  const started = Date.now();
  const shown = (p: string): string => relative(io.cwd, p) || p;
  io.stdout.write(`suite self-check: ${o.faults.length} fault(s), ${o.quick ? 'quick' : 'full'} mode, files: ${o.files.join(', ')}; limit ${Math.round(o.timeoutMs / 1000)} s per run; logs in ${shown(o.outDir)}\n`);
  const stops = new Set<() => void>();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    io.stderr.write(`\nselftest: ${sig}: stopping the current run\n`);
    interrupted = true;
    for (const s of stops) s();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const run = async (name: string, files: readonly string[], faults: readonly FaultName[]): Promise<SuiteRun> => {
    const r = await runSuites({ root: o.root, files, faults, resultsFile: join(o.outDir, `${name}.json`), logFile: join(o.outDir, `${name}.log`), timeoutMs: o.timeoutMs, track: (s) => stops.add(s) });
    stops.clear();
    return r;
  };
  try {
    io.stdout.write('▶ correct broker (reference) …\n');
    const first = await run('reference', o.files, []);
    const firstFailed = failedTests(first.results);
    let retry: SuiteRun | undefined;
    if (first.status === 'ok' && firstFailed.length > 0 && !interrupted) {
      const files = filesOf(firstFailed);
      io.stdout.write(`  ${firstFailed.length} test(s) failed; re-running ${files.join(', ')} once to tell a real failure from timing on a loaded machine\n`);
      retry = await run('reference.retry', files, []);
    }
    const baseline = baselineVerdict(first.results?.target?.name ?? 'reference', first, retry);
    io.stdout.write(`  correct broker: ${baseline.verdict === 'pass' ? 'no failures' : baseline.verdict === 'fail' ? `${baseline.failures.length} failure(s)` : `run broken: ${baseline.note ?? ''}`}${baseline.flaky.length ? ` (${baseline.flaky.length} passed when re-run: not counted)` : ''}, ${secs(baseline.durationMs)}\n`);
    const persisting = new Set(baseline.failures.map((t) => t.id));
    const results: SelftestFaultResult[] = [];
    for (const [i, name] of o.faults.entries()) {
      if (interrupted) break;
      const info = FAULTS[name];
      if (baseline.verdict === 'error') {
        results.push(faultVerdict(name, info, [], { run: { status: 'crashed', resultsFile: '', durationMs: 0, reason: 'not run: the run against the correct broker is broken' } }, persisting));
        continue;
      }
      const { files, note } = o.quick ? quickFiles(info, first.results, o.files) : { files: o.files, note: undefined };
      const runs: FaultRuns = { run: await run(`fault-${name}`, files, [name]) };
      const failed = failedTests(runs.run.results).filter((t) => !persisting.has(t.id));
      if (failed.length > 0 && failed.length <= CONFIRM_AT_MOST && !interrupted) runs.confirm = await run(`fault-${name}.confirm`, filesOf(failed), [name]);
      const r = faultVerdict(name, info, files, runs, persisting, note);
      results.push(r);
      io.stdout.write(faultLine(i + 1, o.faults.length, r));
    }
    if (interrupted) {
      io.stdout.write('selftest: interrupted; no selftest.json written\n');
      return 130;
    }
    const selftest: SelftestResults = {
      mode: o.quick ? 'quick' : 'full', files: o.files,
      score: { caught: results.filter((r) => r.verdict === 'caught').length, faults: results.length },
      baseline, faults: results, durationMs: Date.now() - started,
    };
    const file = newResults('selftest');
    if (first.results?.target) file.target = first.results.target;
    file.selftest = selftest;
    file.manifest = { faults: o.faults, files: o.files, mode: selftest.mode, timeoutMsPerRun: o.timeoutMs, confirmAtMost: CONFIRM_AT_MOST };
    const out = join(o.outDir, 'selftest.json');
    writeResults(out, file);
    io.stdout.write(`\n${formatSelftest(selftest, shown(out))}`);
    const code = selftestExitCode(selftest);
    io.stdout.write(code === 0 ? 'selftest: ok\n' : 'selftest: FAILED (a fault was not caught, a run was broken, or the correct broker failed)\n');
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

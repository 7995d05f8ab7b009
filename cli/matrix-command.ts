#!/usr/bin/env node
/**
 * `npm run conformance:matrix` (node dist/cli/matrix-command.js [options]):
 * runs the conformance suites against the reference broker, Mosquitto
 * (plain and secure) and Aedes, one after the other, and writes one results
 * file per broker into out/conformance/matrix/<broker>.json.
 *
 * For each broker: launch it (the reference broker is launched by the suites
 * themselves, per test file, when BROKER_URL is unset), write its profile to
 * a temporary JSON file, run `vitest run suites` as a child process with
 * BROKER_URL / BROKER_PROFILE / RESULTS_FILE set and a hard time limit, then
 * tear everything down and read the results.
 *
 * Exit code: 1 when the reference broker has failures, or any run crashed,
 * timed out, or could not start; failures and findings of the other brokers
 * are results, not errors. 2 for bad options.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchAedes } from '../harness/launchers/aedes.js';
import { projectRoot } from '../harness/launchers/child-process.js';
import { launchMosquitto, MosquittoNotInstalled } from '../harness/launchers/mosquitto.js';
import type { LaunchedTarget } from '../harness/target.js';
import { writeFileAtomic } from '../results/io.js';
import type { ResultsFile, SpecVersionName, TestStatus } from '../results/types.js';
import { integerOption, processIo, parseCommandArgs, UsageError, type CliIo } from './io.js';
import { runVitestChild, type VitestOutcome } from './vitest-child.js';

export const MATRIX_BROKERS = ['reference', 'reference-limited', 'mosquitto-plain', 'mosquitto-secure', 'aedes'] as const;
export type MatrixBroker = (typeof MATRIX_BROKERS)[number];

export const MATRIX_USAGE = `mqtt-testbed matrix [options]   (npm run conformance:matrix -- [options])

Runs the conformance suites against the reference broker, Mosquitto (plain and
secure) and Aedes, one broker at a time, and writes one results file per broker.

  --brokers LIST     comma-separated subset of: ${MATRIX_BROKERS.join(', ')} (default: all)
  --out DIR          where results, JUnit and logs go (default out/conformance/matrix)
  --timeout-ms N     hard time limit per broker, launch to teardown (default 600000, or MATRIX_TIMEOUT_MS)
  --suites PATH      test files to run (default suites)
Exit 1 when the reference broker has failures or a run crashed or timed out.
Mosquitto missing: its runs are skipped (REQUIRE_EXTERNAL=1 makes that a failure).`;

export type RunStatus = 'ok' | 'crashed' | 'timeout' | 'launch-failed' | 'skipped';

export interface BrokerRun {
  broker: MatrixBroker;
  status: RunStatus;
  /** Why a run is not 'ok'. */
  reason?: string;
  resultsFile: string;
  logFile: string;
  durationMs: number;
  exitCode?: number | null;
  summary?: Record<TestStatus, number>;
  coverage?: Partial<Record<SpecVersionName, { covered: number; of: number }>>;
  probed?: Record<string, { value: unknown; how: string }>;
  target?: string;
}

export interface MatrixOptions {
  brokers: MatrixBroker[];
  outDir: string;
  timeoutMs: number;
  suites: string;
  root: string;
  requireExternal: boolean;
}

export function parseMatrixArgs(argv: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): MatrixOptions | 'help' {
  let values;
  values = parseCommandArgs({
      args: argv, allowPositionals: false, strict: true,
      options: { brokers: { type: 'string' }, out: { type: 'string' }, 'timeout-ms': { type: 'string' }, suites: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  if (values.help) return 'help';
  const brokers = (values.brokers ?? MATRIX_BROKERS.join(',')).split(',').map((b) => b.trim()).filter(Boolean);
  for (const b of brokers) {
    if (!(MATRIX_BROKERS as readonly string[]).includes(b)) throw new UsageError(`--brokers: '${b}' is not one of ${MATRIX_BROKERS.join(', ')}`);
  }
  const rawTimeout = values['timeout-ms'] ?? env['MATRIX_TIMEOUT_MS'] ?? '600000';
  const timeoutMs = integerOption(rawTimeout, '--timeout-ms', 1000, 24 * 3_600_000, 0);
  const root = projectRoot();
  return {
    brokers: brokers as MatrixBroker[],
    outDir: resolve(cwd, values.out ?? join(root, 'out', 'conformance', 'matrix')),
    timeoutMs,
    suites: values.suites ?? 'suites',
    root,
    requireExternal: env['REQUIRE_EXTERNAL'] === '1',
  };
}

async function launch(broker: MatrixBroker, logFile: string): Promise<LaunchedTarget | undefined> {
  switch (broker) {
    case 'reference': case 'reference-limited': return undefined; // the suites launch it in-process, per test file
    case 'mosquitto-plain': return launchMosquitto({ variant: 'plain', logFile });
    case 'mosquitto-secure': return launchMosquitto({ variant: 'secure', logFile });
    case 'aedes': return launchAedes({ logFile });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs vitest on the suites (cli/vitest-child.ts: its own process group, killed whole on timeout). */
function runVitest(o: MatrixOptions, env: NodeJS.ProcessEnv, logFile: string, timeoutMs: number, track: (stop: () => void) => void): Promise<VitestOutcome> {
  return runVitestChild({ root: o.root, args: [o.suites], env, logFile, timeoutMs, track });
}

/** Runs one broker: launch, suites, teardown. Never throws. */
export async function runBroker(broker: MatrixBroker, o: MatrixOptions, io: CliIo, track: (stop: () => void) => void): Promise<BrokerRun> {
  const started = Date.now();
  const resultsFile = join(o.outDir, `${broker}.json`);
  const logFile = join(o.outDir, `${broker}.log`);
  for (const f of [resultsFile, resultsFile.replace(/\.json$/, '.junit.xml'), logFile]) rmSync(f, { force: true });
  const run: BrokerRun = { broker, status: 'ok', resultsFile, logFile, durationMs: 0 };
  const deadline = started + o.timeoutMs;
  let launched: LaunchedTarget | undefined;
  const profileDir = mkdtempSync(join(tmpdir(), `mqtt-testbed-matrix-${broker}-`));
  try {
    try {
      launched = await withTimeout(launch(broker, join(o.outDir, `${broker}.broker.log`)), Math.min(60_000, o.timeoutMs), `launching ${broker}`);
    } catch (e) {
      if (e instanceof MosquittoNotInstalled && !o.requireExternal) {
        run.status = 'skipped';
        run.reason = e.message;
      } else {
        run.status = 'launch-failed';
        run.reason = `${(e as Error).message}${e instanceof MosquittoNotInstalled ? ' (REQUIRE_EXTERNAL=1 makes a missing broker a failure)' : ''}`;
      }
      return run;
    }
    const env: NodeJS.ProcessEnv = { ...process.env, RESULTS_FILE: resultsFile, JUNIT_FILE: resultsFile.replace(/\.json$/, '.junit.xml'), NO_COLOR: '1', FORCE_COLOR: '0' };
    delete env['BROKER_URL'];
    delete env['BROKER_PROFILE'];
    delete env['REFERENCE_VARIANT'];
    if (broker === 'reference-limited') env['REFERENCE_VARIANT'] = 'limited';
    if (launched) {
      const profileFile = join(profileDir, `${broker}.profile.json`);
      writeFileSync(profileFile, `${JSON.stringify(launched.target.profile, null, 2)}\n`, { mode: 0o600 });
      env['BROKER_URL'] = launched.target.url;
      env['BROKER_PROFILE'] = profileFile;
      run.target = launched.target.url;
    }
    io.stdout.write(`▶ ${broker}: ${launched ? `${launched.target.url}, ` : 'launched in-process by the suites, '}running vitest run ${o.suites} (log: ${relative(process.cwd(), logFile)})\n`);
    const outcome = await runVitest(o, env, logFile, Math.max(1000, deadline - Date.now()), track);
    run.exitCode = outcome.exitCode;
    if (outcome.timedOut) {
      run.status = 'timeout';
      run.reason = `no result within the limit of ${o.timeoutMs} ms (vitest and its workers were killed)`;
    }
    if (existsSync(resultsFile)) {
      try {
        const r = JSON.parse(readFileSync(resultsFile, 'utf8')) as ResultsFile;
        const c = r.conformance;
        if (c) {
          run.summary = c.summary;
          run.coverage = Object.fromEntries(Object.entries(c.coverage).map(([v, cov]) => [v, { covered: cov.overall.covered, of: cov.overall.observableServerStatements }]));
        }
        run.probed = r.target?.probed ?? {};
      } catch (e) {
        run.status = 'crashed';
        run.reason = `results file unreadable: ${(e as Error).message}`;
      }
    }
    if (run.status === 'ok') {
      if (!run.summary) {
        run.status = 'crashed';
        run.reason = `vitest exited with code ${String(outcome.exitCode)} and wrote no results (last lines:\n${outcome.tail.slice(-12).map((l) => `      ${l}`).join('\n')})`;
      } else if (outcome.unhandled > 0) {
        run.status = 'crashed';
        run.reason = `vitest caught ${outcome.unhandled} unhandled error(s) during the run (see the log)`;
      } else if (outcome.exitCode !== 0 && run.summary.fail === 0) {
        run.status = 'crashed';
        run.reason = `vitest exited with code ${String(outcome.exitCode)} without a failing conformance test: a suite file failed to load or a hook failed (see the log)`;
      }
    }
    return run;
  } finally {
    if (launched) {
      await withTimeout(launched.close(), 15_000, `stopping ${broker}`).catch((e: unknown) => {
        if (run.status === 'ok') { run.status = 'crashed'; run.reason = (e as Error).message; }
      });
    }
    rmSync(profileDir, { recursive: true, force: true });
    run.durationMs = Date.now() - started;
  }
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

export function formatMatrix(runs: BrokerRun[]): string {
  const head = `${pad('broker', 18)}${pad('run', 14)}${lpad('pass', 6)}${lpad('fail', 6)}${lpad('finding', 9)}${lpad('skip', 6)}  ${pad('3.1.1 covered', 15)}${pad('5.0 covered', 13)}${lpad('probed', 7)}${lpad('time', 9)}`;
  const rows = runs.map((r) => {
    const s = r.summary;
    const cov = (v: SpecVersionName): string => (r.coverage?.[v] ? `${r.coverage[v]!.covered}/${r.coverage[v]!.of}` : '-');
    const n = (k: TestStatus): string => (s ? String(s[k]) : '-');
    return `${pad(r.broker, 18)}${pad(r.status, 14)}${lpad(n('pass'), 6)}${lpad(n('fail'), 6)}${lpad(n('finding'), 9)}${lpad(n('skip'), 6)}  ${pad(cov('3.1.1'), 15)}${pad(cov('5.0'), 13)}${lpad(r.probed ? String(Object.keys(r.probed).length) : '-', 7)}${lpad(`${(r.durationMs / 1000).toFixed(1)}s`, 9)}`;
  });
  const notes: string[] = [];
  for (const r of runs) {
    if (r.reason) notes.push(`${r.broker}: ${r.status}: ${r.reason}`);
    const probed = Object.entries(r.probed ?? {});
    if (probed.length > 0) {
      notes.push(`${r.broker}: probed ${probed.map(([k, v]) => `${k}=${typeof v.value === 'string' ? v.value : JSON.stringify(v.value)}`).join(', ')}`);
    }
    if (r.summary || r.status !== 'skipped') notes.push(`${r.broker}: results ${relative(process.cwd(), r.resultsFile)}, log ${relative(process.cwd(), r.logFile)}`);
  }
  return `${head}\n${rows.join('\n')}\n${notes.length ? `\n${notes.join('\n')}\n` : ''}`;
}

/** Exit code: 1 when the reference broker failed tests, or any run crashed, timed out or could not start. */
export function matrixExitCode(runs: BrokerRun[]): number {
  const bad = runs.some((r) => r.status === 'crashed' || r.status === 'timeout' || r.status === 'launch-failed');
  return bad || runs.some((r) => isReference(r.broker) && (r.summary?.fail ?? 0) > 0) ? 1 : 0;
}

/** Our own broker's runs, which must pass. */
function isReference(b: MatrixBroker): boolean {
  return b === 'reference' || b === 'reference-limited';
}

export async function matrixCommand(argv: string[], io: CliIo): Promise<number> {
  const o = parseMatrixArgs(argv, io.cwd);
  if (o === 'help') {
    io.stdout.write(`${MATRIX_USAGE}\n`);
    return 0;
  }
  mkdirSync(o.outDir, { recursive: true });
  io.stdout.write(`conformance matrix: ${o.brokers.join(', ')}; suites: ${o.suites}; limit ${Math.round(o.timeoutMs / 1000)} s per broker\n`);
  const stops = new Set<() => void>();
  const onSignal = (sig: NodeJS.Signals): void => {
    io.stderr.write(`\nmatrix: ${sig}: stopping the current run\n`);
    for (const s of stops) s();
    process.exitCode = 130;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const runs: BrokerRun[] = [];
  try {
    for (const b of o.brokers) {
      if (process.exitCode === 130) break;
      const r = await runBroker(b, o, io, (stop) => stops.add(stop));
      stops.clear();
      runs.push(r);
      const s = r.summary;
      io.stdout.write(`  ${b}: ${r.status}${s ? ` — ${s.pass} pass, ${s.fail} fail, ${s.finding} finding, ${s.skip} skip` : ''}${r.reason ? ` — ${r.reason.split('\n')[0]}` : ''} (${(r.durationMs / 1000).toFixed(1)} s)\n`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  writeFileAtomic(join(o.outDir, 'summary.json'), `${JSON.stringify({ createdAt: new Date().toISOString(), runs }, null, 2)}\n`);
  io.stdout.write(`\n${formatMatrix(runs)}`);
  const code = process.exitCode === 130 ? 130 : matrixExitCode(runs);
  io.stdout.write(code === 0
    ? 'matrix: ok (failures and findings of other brokers are results, not errors)\n'
    : `matrix: FAILED (${[...runs.filter((r) => isReference(r.broker) && (r.summary?.fail ?? 0) > 0).map((r) => `${r.broker} has ${r.summary!.fail} failure(s)`), ...runs.filter((r) => ['crashed', 'timeout', 'launch-failed'].includes(r.status)).map((r) => `${r.broker} ${r.status}`)].filter(Boolean).join('; ')})\n`);
  return code;
}

// Run as a program (node dist/cli/matrix-command.js), not when imported (tests, cli/main.ts).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const io = processIo();
  matrixCommand(process.argv.slice(2), io).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        io.stderr.write(`matrix: ${e.message}\n\n${MATRIX_USAGE}\n`);
        process.exit(2);
      }
      io.stderr.write(`matrix: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

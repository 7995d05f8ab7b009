/**
 * The suite self-check: options, quick-mode file choice, verdicts (correct
 * broker with a re-run, faults with confirmation), the summary, exit codes;
 * and one real run on a small subset (vitest as a child process).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { FAULT_NAMES, FAULTS } from '../reference-broker/index.js';
import { newResults } from '../results/io.js';
import type { ResultsFile, TestResult } from '../results/types.js';
import { validateResults } from '../results/validate.js';
import { UsageError, type CliIo } from './io.js';
import { faultLine, formatSelftest, parseSelftestArgs, selftestCommand, selftestExitCode } from './selftest-command.js';
import { baselineVerdict, faultVerdict, quickFiles, suiteEnv, type SuiteRun } from './selftest-run.js';

const t = (area: string, title: string, status: TestResult['status'], statements: string[] = [], specVersion: TestResult['specVersion'] = '5.0'): TestResult =>
  ({ id: `${area}/[${specVersion}] ${title}`, area, title, specVersion, statements, status, durationMs: 1, ...(status === 'fail' ? { reason: `${title} broke\n  packet trace: …` } : {}) });

function results(tests: TestResult[]): ResultsFile {
  const r = newResults('conformance');
  const summary = { pass: 0, fail: 0, skip: 0, finding: 0 };
  for (const x of tests) summary[x.status]++;
  r.target = { name: 'reference', url: 'mqtt://127.0.0.1:1', profile: { name: 'reference', source: 'x' }, probed: {} };
  r.conformance = { specVersions: ['3.1.1', '5.0'], tests, coverage: {}, summary };
  return r;
}
const run = (tests: TestResult[], extra: Partial<SuiteRun> = {}): SuiteRun => ({ status: 'ok', results: results(tests), resultsFile: '/tmp/r.json', durationMs: 1000, ...extra });

describe('selftest options', () => {
  test('defaults, choices and bad input (exit 2 through UsageError)', () => {
    const o = parseSelftestArgs([], process.cwd(), {});
    expect(o).toMatchObject({ faults: [...FAULT_NAMES], files: ['suites'], quick: false, timeoutMs: 300_000 });
    expect(parseSelftestArgs(['--faults', 'suback-order, session-lost', '--files', 'suites/topics.test.ts,suites/will.test.ts', '--quick', '--timeout-ms', '60000'], process.cwd(), {}))
      .toMatchObject({ faults: ['suback-order', 'session-lost'], files: ['suites/topics.test.ts', 'suites/will.test.ts'], quick: true, timeoutMs: 60_000 });
    expect(parseSelftestArgs([], process.cwd(), { SELFTEST_TIMEOUT_MS: '90000' })).toMatchObject({ timeoutMs: 90_000 });
    expect(parseSelftestArgs(['--help'], process.cwd(), {})).toBe('help');
    expect(parseSelftestArgs(['--list'], process.cwd(), {})).toBe('list');
    expect(() => parseSelftestArgs(['--faults', 'qos3-duplicate'], process.cwd(), {})).toThrow(/--faults: unknown fault 'qos3-duplicate'; valid faults: plus-multilevel, /);
    expect(() => parseSelftestArgs(['--faults', ','], process.cwd(), {})).toThrow(UsageError);
    expect(() => parseSelftestArgs(['--files', 'suites/nope.test.ts'], process.cwd(), {})).toThrow(/does not exist/);
    expect(() => parseSelftestArgs(['--files', 'codec'], process.cwd(), {})).toThrow(/not in the project's suites/);
    expect(() => parseSelftestArgs(['--timeout-ms', 'soon'], process.cwd(), {})).toThrow(/--timeout-ms/);
    expect(() => parseSelftestArgs(['--bogus'], process.cwd(), {})).toThrow(UsageError);
  });

  test('the suite environment: only the in-process reference broker, with the faults, results where asked', () => {
    const env = suiteEnv({ PATH: '/bin', BROKER_URL: 'mqtt://x', BROKER_PROFILE: 'p.json', REFERENCE_VARIANT: 'limited', REFERENCE_FAULTS: 'x', VITEST_WORKER_ID: '3' }, ['suback-order', 'session-lost'], '/o/fault.json');
    expect(env).toEqual({ PATH: '/bin', REFERENCE_FAULTS: 'suback-order,session-lost', RESULTS_FILE: '/o/fault.json', JUNIT_FILE: '/o/fault.junit.xml', NO_COLOR: '1', FORCE_COLOR: '0' });
    expect(suiteEnv({}, [], '/o/r.json')['REFERENCE_FAULTS']).toBeUndefined();
  });
});

describe('quick mode picks the files whose tests name the statements a fault breaks', () => {
  const baseline = results([
    t('subscribe', 'order', 'pass', ['MQTT-3.9.3-1'], '3.1.1'),
    t('subscribe', 'order', 'pass', ['MQTT-3.9.3-1'], '5.0'),
    t('v5-subscription-options', 'codes', 'pass', ['MQTT-3.9.3-1']),
    t('malformed', 'skipped one', 'skip', ['MQTT-3.9.3-1']),
    t('topics', 'other', 'pass', ['MQTT-4.7.1-2'], '3.1.1'), // 4.7.1-2 is '#' in 3.1.1, '+' in 5.0
  ]);
  test('same statement id in the same spec version only; skipped tests do not count', () => {
    expect(quickFiles(FAULTS['suback-order'], baseline, ['suites'])).toEqual({ files: ['suites/subscribe.test.ts', 'suites/v5-subscription-options.test.ts'] });
    expect(quickFiles(FAULTS['plus-multilevel'], baseline, ['suites'])).toEqual({ files: ['suites'], note: 'no test names the statements it breaks: every file was run' });
    expect(quickFiles(FAULTS['hash-no-parent'], baseline, ['suites']).files).toEqual(['suites/topics.test.ts']);
    expect(quickFiles(FAULTS['acl-publish-ignored'], baseline, ['suites/a.test.ts']).files).toEqual(['suites/a.test.ts']);
  });
});

describe('verdicts', () => {
  test('correct broker: a failure that passes when its file is re-run is flaky, one that fails again is real', () => {
    const first = run([t('keep-alive', 'silent', 'fail'), t('ordering', 'queued', 'fail'), t('topics', 'x', 'pass')]);
    expect(baselineVerdict('reference', run([t('topics', 'x', 'pass')]), undefined)).toMatchObject({ verdict: 'pass', failures: [], flaky: [] });
    const b = baselineVerdict('reference', first, run([t('keep-alive', 'silent', 'pass'), t('ordering', 'queued', 'fail')]));
    expect(b.verdict).toBe('fail');
    expect(b.flaky.map((x) => x.id)).toEqual(['keep-alive/[5.0] silent']);
    expect(b.failures).toEqual([{ id: 'ordering/[5.0] queued', statements: [], reason: 'queued broke' }]);
    expect(b.note).toContain('1 passed then (not counted), 1 failed again');
    expect(baselineVerdict('reference', first, run([t('keep-alive', 'silent', 'pass'), t('ordering', 'queued', 'pass')])).verdict).toBe('pass');
    expect(baselineVerdict('reference', { status: 'timeout', resultsFile: 'r', durationMs: 5, reason: 'no result within 300 s' }, undefined)).toMatchObject({ verdict: 'error', note: 'no result within 300 s' });
    expect(baselineVerdict('reference', first, { status: 'crashed', resultsFile: 'r', durationMs: 5, reason: 'boom' })).toMatchObject({ verdict: 'fail', note: expect.stringContaining('boom') });
  });

  test('a fault is caught by the tests that fail against it, not by those failing against the correct broker too', () => {
    const info = FAULTS['suback-order'];
    const many = faultVerdict('suback-order', info, ['suites'], { run: run([t('a', '1', 'fail'), t('a', '2', 'fail'), t('b', '3', 'fail'), t('b', '4', 'fail'), t('c', 'known', 'fail'), t('c', 'ok', 'pass')]) }, new Set(['c/[5.0] known']));
    expect(many).toMatchObject({ verdict: 'caught', caughtBy: 4, naming: 0, statements: { '3.1.1': ['MQTT-3.9.3-1'], '5.0': ['MQTT-3.9.3-1'] }, summary: { fail: 5, pass: 1 } });
    expect(many.tests.map((x) => x.id)).toEqual(['a/[5.0] 1', 'a/[5.0] 2', 'b/[5.0] 3', 'b/[5.0] 4']);
    // tests naming a statement the fault breaks are listed first
    const named = faultVerdict('suback-order', info, ['suites'], { run: run([t('a', '1', 'fail'), t('b', '2', 'fail', ['MQTT-3.9.3-1'], '3.1.1'), t('c', '3', 'fail', ['MQTT-3.9.3-1'], '5.0'), t('d', '4', 'fail')]) }, new Set());
    expect(named).toMatchObject({ caughtBy: 4, naming: 2 });
    expect(named.tests.map((x) => x.id)).toEqual(['b/[3.1.1] 2', 'c/[5.0] 3', 'a/[5.0] 1', 'd/[5.0] 4']);
    expect(many.note).toContain('1 failing test(s) left out');
    const missed = faultVerdict('suback-order', info, ['suites'], { run: run([t('a', '1', 'pass')]) }, new Set());
    expect(missed).toMatchObject({ verdict: 'missed', caughtBy: 0, tests: [] });
    const broken = faultVerdict('suback-order', info, ['suites'], { run: { status: 'timeout', resultsFile: 'r', durationMs: 9, reason: 'no result within 300 s' } }, new Set());
    expect(broken).toMatchObject({ verdict: 'error', note: 'no result within 300 s' });
    expect(faultVerdict('acl-publish-ignored', FAULTS['acl-publish-ignored'], ['suites'], { run: run([]) }, new Set())).toMatchObject({ section: '5.4.2', statements: {} });
  });

  test('few catching tests are confirmed: only those failing again count', () => {
    const info = FAULTS['keep-alive-ignored'];
    const first = run([t('keep-alive', 'silent', 'fail'), t('will', 'keep alive', 'fail')]);
    const both = faultVerdict('keep-alive-ignored', info, ['suites'], { run: first, confirm: run([t('keep-alive', 'silent', 'fail'), t('will', 'keep alive', 'fail')]) }, new Set());
    expect(both).toMatchObject({ verdict: 'caught', caughtBy: 2, note: 'confirmed: all 2 tests failed again when re-run', durationMs: 2000 });
    const one = faultVerdict('keep-alive-ignored', info, ['suites'], { run: first, confirm: run([t('keep-alive', 'silent', 'fail'), t('will', 'keep alive', 'pass')]) }, new Set());
    expect(one).toMatchObject({ verdict: 'caught', caughtBy: 1, note: 'confirmation: 1 of 2 test(s) passed when re-run and are not counted' });
    const none = faultVerdict('keep-alive-ignored', info, ['suites'], { run: first, confirm: run([t('keep-alive', 'silent', 'pass'), t('will', 'keep alive', 'pass')]) }, new Set());
    expect(none).toMatchObject({ verdict: 'missed', caughtBy: 0 });
  });

  test('summary lines, table and exit code', () => {
    const caught = faultVerdict('suback-order', FAULTS['suback-order'], ['suites'], { run: run([t('subscribe', 'order', 'fail')]) }, new Set());
    const missed = faultVerdict('will-qos0', FAULTS['will-qos0'], ['suites/will.test.ts'], { run: run([t('will', 'x', 'pass')]) }, new Set());
    expect(faultLine(3, 29, caught)).toBe('[ 3/29] suback-order                 caught by 1 test (subscribe/[5.0] order), 1.0s\n');
    expect(faultLine(12, 29, missed)).toContain('will-qos0                    NOT CAUGHT: every test passed, 1.0s [1 file(s)]');
    const baseline = baselineVerdict('reference', run([t('a', '1', 'pass')]), undefined);
    const s = { mode: 'full' as const, files: ['suites'], score: { caught: 1, faults: 2 }, baseline, faults: [caught, missed], durationMs: 61_000 };
    const text = formatSelftest(s, 'out/selftest/selftest.json');
    expect(text).toMatch(/^fault +verdict +tests +time +first test that caught it\nsuback-order +caught +1 +1\.0s +subscribe\/\[5\.0\] order\nwill-qos0 +missed +0 +1\.0s/);
    expect(text).toContain('correct broker (reference): no failures — 1 pass, 0 fail, 0 skip');
    expect(text).toContain(`not caught: will-qos0 — ${FAULTS['will-qos0'].description}`);
    expect(text).toContain('score: 1 of 2 faults caught (full mode, 61.0s in all)');
    expect(selftestExitCode(s)).toBe(1);
    expect(selftestExitCode({ ...s, score: { caught: 2, faults: 2 } })).toBe(0);
    expect(selftestExitCode({ ...s, score: { caught: 2, faults: 2 }, baseline: { ...baseline, verdict: 'fail' } })).toBe(1);
  });
});

describe('a real self-check on one suite file', () => {
  test('suback-order is caught by the subscribe suite, will-qos0 is not; selftest.json validates; exit 1', async () => {
    const out = mkdtempSync(join(tmpdir(), 'selftest-'));
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (d: Buffer) => { text += d.toString(); });
    const io: CliIo = { stdout, stderr: new PassThrough(), stdin: new PassThrough(), cwd: process.cwd() };
    const code = await selftestCommand(['--faults', 'suback-order,will-qos0', '--files', 'suites/subscribe.test.ts', '--out', out, '--timeout-ms', '120000'], io);
    expect(code, text).toBe(1);
    const r = validateResults(JSON.parse(readFileSync(join(out, 'selftest.json'), 'utf8')), 'selftest.json');
    expect(r.kind).toBe('selftest');
    expect(r.target?.name).toBe('reference');
    expect(r.selftest?.baseline).toMatchObject({ target: 'reference', verdict: 'pass' });
    expect(r.selftest?.score).toEqual({ caught: 1, faults: 2 });
    const [suback, will] = r.selftest!.faults;
    expect(suback).toMatchObject({ name: 'suback-order', verdict: 'caught', files: ['suites/subscribe.test.ts'] });
    expect(suback!.tests.map((x) => x.id)).toContain('subscribe/[5.0] a SUBSCRIBE with several filters gets one SUBACK granting each filter, in order');
    expect(will).toMatchObject({ name: 'will-qos0', verdict: 'missed', caughtBy: 0 });
    const faulty = JSON.parse(readFileSync(join(out, 'fault-suback-order.json'), 'utf8')) as ResultsFile;
    expect(faulty.target?.name).toBe('reference+fault:suback-order');
    expect(text).toContain('score: 1 of 2 faults caught');
  }, 240_000);
});

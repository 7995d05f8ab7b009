import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { readResultsFile, validateResults } from '../results/validate.js';
import { classify, compareMetric, mergedStatus, METRICS, type LoadedResults } from './compare.js';
import { ExpectationsError, parseExpectations } from './expectations.js';
import { sampleBenchmark, sampleConformance } from './fixtures.js';
import { formatGate, runGate } from './gate.js';

const load = (source: string, r: unknown): LoadedResults => ({ source, results: validateResults(JSON.parse(JSON.stringify(r)), source) });
const FAILING = 'connect/zero-length client id with clean start 0 is refused';
const RETAINED = 'publish/retained message replaced';
const expectations = (knownFailures: unknown[]) => parseExpectations({ schema: 'mqtt-testbed/expectations', version: 1, knownFailures }, 'expectations.json');

describe('gate: conformance', () => {
  test('identical runs pass (the known failure is in the baseline too)', () => {
    const r = runGate([load('b.json', sampleConformance())], [load('c.json', sampleConformance())]);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.carriedFailures).toHaveLength(1);
    expect(formatGate(r)).toMatch(/^mqtt-testbed gate: PASS/);
  });

  test('a statement that passed now fails: seeded regression fails the gate and names test and statement', () => {
    const current = sampleConformance('broker-a', { [RETAINED]: 'fail' });
    current.conformance!.tests.find((t) => t.title === RETAINED.split('/')[1])!.reason = '[MQTT-3.3.1-5] the retained message was not replaced';
    const r = runGate([load('b.json', sampleConformance())], [load('c.json', current)]);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.kind).toBe('regression');
    expect(r.problems[0]!.message).toContain('MQTT-3.3.1-5');
    expect(r.problems[0]!.message).toContain('pass → fail');
    const text = formatGate(r, 'out/comparison.html');
    expect(text).toMatch(/^mqtt-testbed gate: FAIL \(1 problem\)/);
    expect(text).toContain('✗ REGRESSION: broker-a: publish/[5.0] retained message replaced [MQTT-3.3.1-5]: pass → fail: [MQTT-3.3.1-5] the retained message was not replaced');
    expect(text).toContain('comparison report: out/comparison.html');
    expect(text.split('\n').length).toBeLessThan(15); // concise
  });

  test('a listed failure is accepted; a listed failure that passes fails the gate (unexpected pass)', () => {
    const exp = expectations([{ statement: 'MQTT-3.1.3-8', version: '3.1.1', reason: 'empty client ids accepted, issue #12' }]);
    const ok = runGate([load('b.json', sampleConformance())], [load('c.json', sampleConformance())], { expectations: exp });
    expect(ok.ok).toBe(true);
    expect(ok.expectedFailures).toHaveLength(1);
    const fixed = runGate([load('b.json', sampleConformance())], [load('c.json', sampleConformance('broker-a', { [FAILING]: 'pass' }))], { expectations: exp });
    expect(fixed.ok).toBe(false);
    expect(fixed.problems.map((p) => p.kind)).toEqual(['unexpected-pass']);
    expect(fixed.problems[0]!.message).toMatch(/MQTT-3\.1\.3-8 \[3\.1\.1\] is listed as a known failure .* but now passes .*remove it from expectations\.json/);
    // the version matters: the same id listed for 5.0 does not cover the 3.1.1 test
    const wrongVersion = runGate([load('b.json', sampleConformance('broker-a', { [FAILING]: 'pass' }))], [load('c.json', sampleConformance())], { expectations: expectations([{ statement: 'MQTT-3.1.3-8', version: '5.0', reason: 'x' }]) });
    expect(wrongVersion.problems.map((p) => p.kind)).toEqual(['regression']);
  });

  test('a new failure not listed fails the gate; listed by test id it passes', () => {
    // (a test the baseline did not have)
    const baseline = sampleConformance();
    baseline.conformance!.tests = baseline.conformance!.tests.filter((t) => t.title !== RETAINED.split('/')[1]);
    const current = sampleConformance('broker-a', { [RETAINED]: 'fail' });
    const r = runGate([load('b.json', baseline)], [load('c.json', current)]);
    expect(r.problems.map((p) => p.kind)).toEqual(['new-failure']);
    const listed = runGate([load('b.json', baseline)], [load('c.json', current)], { expectations: expectations([{ test: `publish/[5.0] ${RETAINED.split("/")[1]!}`, version: '5.0', reason: 'known' }]) });
    expect(listed.problems).toEqual([]);
  });

  test('repeats: a failure in any current repeat counts; a baseline that was flaky is not a regression', () => {
    expect(mergedStatus(['pass', 'fail'], 'current')).toBe('fail');
    expect(mergedStatus(['pass', 'fail'], 'baseline')).toBe('flaky');
    expect(classify('flaky', 'fail')).toBe('flaky-baseline');
    expect(classify('pass', 'skip')).toBe('no-longer-runs');
    const flakyBaseline = [load('b1.json', sampleConformance()), load('b2.json', sampleConformance('broker-a', { [RETAINED]: 'fail' }))];
    const r = runGate(flakyBaseline, [load('c.json', sampleConformance('broker-a', { [RETAINED]: 'fail' }))]);
    expect(r.ok).toBe(true);
    const r2 = runGate([load('b.json', sampleConformance())], [load('c1.json', sampleConformance()), load('c2.json', sampleConformance('broker-a', { [RETAINED]: 'fail' }))]);
    expect(r2.problems.map((p) => p.kind)).toEqual(['regression']);
  });

  test('a baseline target with no current results fails; targets are paired by name', () => {
    const r = runGate([load('a.json', sampleConformance('a')), load('b.json', sampleConformance('b'))], [load('a2.json', sampleConformance('a'))]);
    expect(r.problems.map((p) => p.kind)).toEqual(['missing-results']);
    const renamed = runGate([load('a.json', sampleConformance('mqtt-127.0.0.1-1883'))], [load('a2.json', sampleConformance('mqtt-127.0.0.1-41999'))]);
    expect(renamed.ok).toBe(true);
    expect(renamed.notices.join('\n')).toContain('paired baseline target');
  });

  const matrixRef = join(fileURLToPath(new URL('..', import.meta.url)), 'out', 'conformance', 'matrix', 'reference.json');
  test.skipIf(!existsSync(matrixRef))('the real reference matrix results pass against themselves and fail with one seeded regression', () => {
    const real = readResultsFile(matrixRef);
    expect(runGate([{ source: 'b', results: real }], [{ source: 'c', results: real }]).ok).toBe(true);
    const seeded = JSON.parse(JSON.stringify(real)) as typeof real;
    const victim = seeded.conformance!.tests.find((t) => t.status === 'pass' && t.statements.length > 0)!;
    victim.status = 'fail';
    victim.reason = 'seeded';
    const r = runGate([{ source: 'b', results: real }], [{ source: 'c', results: seeded }]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.message).toContain(victim.statements[0]!);
  });
});

describe('gate: benchmarks', () => {
  const repeats = (o: Parameters<typeof sampleBenchmark>[0], seeds: number[]): LoadedResults[] => seeds.map((seed) => load(`bench-${seed}.json`, sampleBenchmark({ ...o, seed })));

  test('identical runs pass', () => {
    const r = runGate(repeats({ noise: 0.02 }, [1, 2, 3]), repeats({ noise: 0.02 }, [1, 2, 3]));
    expect(r.ok).toBe(true);
    expect(r.benchmark.metrics.filter((m) => m.verdict === 'regression')).toEqual([]);
  });

  test('a regression beyond the threshold and outside the noise fails, naming run and metric', () => {
    const r = runGate(repeats({ noise: 0.02 }, [1, 2, 3]), repeats({ noise: 0.02, slowdown: 1.5 }, [4, 5, 6]));
    expect(r.ok).toBe(false);
    const kinds = r.problems.map((p) => p.message);
    expect(kinds.some((m) => m.includes('MQTT QoS 1 over TCP') && m.includes('throughput'))).toBe(true);
    expect(kinds.some((m) => m.includes('MQTT QoS 1 over TCP') && m.includes('latency p99'))).toBe(true);
    expect(kinds.every((m) => m.includes('MQTT QoS 1 over TCP'))).toBe(true); // nothing else moved
  });

  test('the same change within the run-to-run noise does not fail', () => {
    // noisy repeats (±40 %): a 15 % slowdown is beyond the threshold but the repeats overlap
    const r = runGate(repeats({ noise: 0.4 }, [1, 2, 3, 4, 5]), repeats({ noise: 0.4, slowdown: 1.15 }, [6, 7, 8, 9, 10]));
    expect(r.problems.filter((p) => p.kind === 'benchmark-regression')).toEqual([]);
    expect(r.benchmark.metrics.some((m) => m.verdict === 'within-noise')).toBe(true);
  });

  test('the rule: beyond the threshold AND every current repeat worse than every baseline repeat', () => {
    const throughput = METRICS.find((m) => m.name === 'throughput')!;
    const p99 = METRICS.find((m) => m.name === 'p99')!;
    expect(compareMetric(throughput, 0.1, [1000, 1010, 990], [800, 810, 790]).verdict).toBe('regression');
    expect(compareMetric(throughput, 0.1, [1000, 700, 1300], [850, 860, 840]).verdict).toBe('within-noise');
    expect(compareMetric(throughput, 0.1, [1000, 1010, 990], [950, 960, 940]).verdict).toBe('within-threshold');
    expect(compareMetric(throughput, 0.1, [1000, 1010, 990], [1300, 1310, 1290]).verdict).toBe('improvement');
    expect(compareMetric(p99, 0.2, [5000], [6500]).verdict).toBe('regression'); // single runs: threshold only
    expect(compareMetric(p99, 0.2, [5000], [6500]).why).toContain('single runs');
    expect(compareMetric(p99, 0.2, [5000, 5100, 4900], [6500, 5000, 6600]).verdict).toBe('within-noise'); // one current repeat overlaps
  });

  test('thresholds can be changed per metric', () => {
    const r = runGate(repeats({ noise: 0.01 }, [1, 2, 3]), repeats({ noise: 0.01, slowdown: 1.5 }, [4, 5, 6]), { thresholds: { throughput: 0.6, p50: 0.6, p99: 0.6, lossRate: 0.5 } });
    expect(r.ok).toBe(true);
  });
});

describe('expectations file', () => {
  test('clear errors for malformed and foreign files', () => {
    expect(() => parseExpectations({ name: 'x' }, 'e.json')).toThrow(/not an expectations file/);
    expect(() => parseExpectations({ schema: 'mqtt-testbed/expectations', version: 2, knownFailures: [] }, 'e.json')).toThrow(/version 2 is not supported/);
    try {
      parseExpectations({ schema: 'mqtt-testbed/expectations', version: 1, knownFailures: [{ statement: 'MQTT-1.2.3-4', version: '4.0', reason: '', extra: 1 }, { version: '5.0', reason: 'r' }] }, 'e.json');
      expect.fail('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ExpectationsError);
      const msg = (e as Error).message;
      expect(msg).toContain('e.json');
      expect(msg).toContain("/knownFailures/0: unknown field 'extra'");
      expect(msg).toContain('/knownFailures/0/version: must be one of ["3.1.1","5.0"]');
      expect(msg).toContain("/knownFailures/1: needs 'statement' or 'test'");
    }
  });

  test("a broker profile's knownFailures work as expectations for its protocol versions", () => {
    const e = parseExpectations({ name: 'aedes', protocolVersions: ['3.1.1'], knownFailures: { 'MQTT-3.1.3-8': 'accepts empty ids' } }, 'aedes.json');
    expect(e.knownFailures).toEqual([{ statement: 'MQTT-3.1.3-8', version: '3.1.1', reason: 'accepts empty ids' }]);
  });
});

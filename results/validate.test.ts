import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { newResults } from './io.js';
import { readResultsFile, ResultsFileError, validateResults } from './validate.js';

const sample = () => {
  const r = newResults('conformance');
  r.target = { name: 'x', url: 'mqtt://127.0.0.1:1883', profile: { name: 'x', source: 'test' }, probed: {} };
  r.conformance = {
    specVersions: ['5.0'],
    tests: [{ id: 'a/[5.0] t', area: 'a', title: 't', specVersion: '5.0', statements: ['MQTT-3.3.1-5'], status: 'pass', durationMs: 3 }],
    coverage: {}, summary: { pass: 1, fail: 0, skip: 0, finding: 0 },
  };
  return r;
};

const sampleSelftest = () => {
  const r = newResults('selftest');
  const ref = { id: 'retained/[5.0] t', statements: ['MQTT-3.3.1-5'], reason: 'got nothing' };
  r.selftest = {
    mode: 'quick', files: ['suites/retained.test.ts'], score: { caught: 2, faults: 3 },
    baseline: { target: 'reference', verdict: 'pass', summary: { pass: 1, fail: 0, skip: 0, finding: 0 }, failures: [], flaky: [ref], durationMs: 10 },
    faults: [
      { name: 'retain-not-stored', description: 'd', statements: { '5.0': ['MQTT-3.3.1-5'] }, verdict: 'caught', caughtBy: 1, tests: [ref], files: ['suites/retained.test.ts'], durationMs: 5 },
      { name: 'qos2-duplicate', description: 'd', statements: {}, verdict: 'caught', caughtBy: 1, tests: [ref], files: [], durationMs: 5 },
      { name: 'acl-publish-ignored', description: 'd', statements: {}, section: '5.4.2', verdict: 'missed', caughtBy: 0, tests: [], files: ['suites'], durationMs: 5, note: 'n' },
    ],
    durationMs: 20,
  };
  return r;
};

describe('results validation', () => {
  test('accepts what the writer produces', () => {
    expect(validateResults(JSON.parse(JSON.stringify(sample())))).toBeTruthy();
  });
  test('names a foreign file as such', () => {
    expect(() => validateResults({ name: 'package', version: '1.0.0' }, 'package.json')).toThrow(/not an mqtt-testbed results file/);
  });
  test('refuses a newer schema version with a clear message', () => {
    expect(() => validateResults({ ...sample(), version: 2 }, 'r.json')).toThrow(/schema version 2 is not supported/);
  });
  test('says which field is wrong', () => {
    const bad = JSON.parse(JSON.stringify(sample()));
    bad.conformance.tests[0].status = 'great';
    delete bad.conformance.tests[0].durationMs;
    try {
      validateResults(bad, 'bad.json');
      expect.fail('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ResultsFileError);
      const msg = (e as Error).message;
      expect(msg).toContain('bad.json');
      expect(msg).toContain('/conformance/tests/0/status');
      expect(msg).toContain("missing field 'durationMs'");
    }
  });
  test('reports unreadable and non-JSON files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'res-'));
    writeFileSync(join(dir, 'x.json'), '{ nope');
    expect(() => readResultsFile(join(dir, 'x.json'))).toThrow(/not JSON/);
    expect(() => readResultsFile(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
  test('a selftest results file (kind added to version 1) validates; conformance and benchmark files are unchanged', () => {
    const ok = validateResults(JSON.parse(JSON.stringify(sampleSelftest())), 'selftest.json');
    expect(ok.selftest?.score).toEqual({ caught: 2, faults: 3 });
    expect(validateResults(JSON.parse(JSON.stringify(sample())))).toBeTruthy();
  });
  test('a selftest file without its selftest part, or with a broken fault entry, names the field', () => {
    const { selftest: _s, ...noPart } = JSON.parse(JSON.stringify(sampleSelftest())) as Record<string, unknown>;
    expect(() => validateResults(noPart, 'st.json')).toThrow(/missing field 'selftest'/);
    const bad = JSON.parse(JSON.stringify(sampleSelftest()));
    bad.selftest.faults[1].verdict = 'maybe';
    delete bad.selftest.baseline.flaky;
    bad.selftest.faults[0].statements['4.0'] = ['MQTT-1.1.1-1'];
    try {
      validateResults(bad, 'st.json');
      expect.fail('accepted');
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain('/selftest/faults/1/verdict');
      expect(msg).toContain("/selftest/baseline: missing field 'flaky'");
      expect(msg).toContain('/selftest/faults/0/statements');
    }
  });
});

/** `mqtt-testbed report` and `mqtt-testbed gate`, run in-process: files written, exit codes, messages for bad input. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { beforeEach, describe, expect, test } from 'vitest';
import { sampleBenchmark, sampleConformance } from '../reports/fixtures.js';
import { gateCommand, parseThresholds } from './gate-command.js';
import { UsageError, type CliIo } from './io.js';
import { reportCommand } from './report-command.js';

function fakeIo(cwd: string): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void): Writable => new Writable({ write(chunk, _enc, cb) { add(String(chunk)); cb(); } });
  return {
    stdout: sink((s) => { out += s; }), stderr: sink((s) => { err += s; }), stdin: new PassThrough(), cwd,
    out: () => out, err: () => err,
  };
}

let dir: string;
const write = (name: string, value: unknown): string => {
  writeFileSync(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
  return name;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mqtt-testbed-report-'));
});

describe('mqtt-testbed report', () => {
  test('writes one self-contained HTML file from conformance and benchmark results', async () => {
    write('a.json', sampleConformance('broker-a'));
    write('bench.json', sampleBenchmark());
    const io = fakeIo(dir);
    expect(await reportCommand(['a.json', 'bench.json', '-o', 'out/r.html'], io)).toBe(0);
    const page = readFileSync(join(dir, 'out/r.html'), 'utf8');
    expect(page).toContain('<table class="matrix" id="matrix">');
    expect(page).toContain('svg class="chart percentile"');
    expect(io.out()).toMatch(/^report: out\/r\.html \(1 conformance, 1 benchmark file\(s\); \d+ KiB\)/);
  });

  test('--compare adds the comparison view', async () => {
    write('before.json', sampleConformance('broker-a', { 'publish/retained message replaced': 'fail' }));
    write('after.json', sampleConformance('broker-a'));
    const io = fakeIo(dir);
    expect(await reportCommand(['after.json', '--compare', 'before.json'], io)).toBe(0);
    const page = readFileSync(join(dir, 'out/report/report.html'), 'utf8');
    expect(page).toContain('Comparison with the baseline');
    expect(page).toMatch(/class="ch-fixed"/);
  });

  test('exit 2 with a clear message for a foreign file, a malformed file and a missing file', async () => {
    write('package.json', { name: 'x', version: '1.0.0' });
    const bad = sampleConformance();
    (bad.conformance!.tests[0] as unknown as Record<string, unknown>)['status'] = 'great';
    write('bad.json', bad);
    let io = fakeIo(dir);
    expect(await reportCommand(['package.json'], io)).toBe(2);
    expect(io.err()).toContain("package.json: not a usable mqtt-testbed results file");
    expect(io.err()).toContain('not an mqtt-testbed results file');
    io = fakeIo(dir);
    expect(await reportCommand(['bad.json'], io)).toBe(2);
    expect(io.err()).toContain('/conformance/tests/0/status');
    io = fakeIo(dir);
    expect(await reportCommand(['nope.json'], io)).toBe(2);
    expect(io.err()).toContain('cannot read');
    expect(existsSync(join(dir, 'out/report/report.html'))).toBe(false);
  });

  test('--skip-foreign skips files of other tools (a glob catching summary.json) but not malformed results', async () => {
    write('a.json', sampleConformance('broker-a'));
    write('summary.json', { createdAt: 'x', runs: [] });
    const io = fakeIo(dir);
    expect(await reportCommand(['a.json', 'summary.json', '--skip-foreign'], io)).toBe(0);
    expect(io.err()).toContain('skipping summary.json');
  });

  test('usage errors', async () => {
    await expect(reportCommand([], fakeIo(dir))).rejects.toThrow(UsageError);
    await expect(reportCommand(['--bogus'], fakeIo(dir))).rejects.toThrow(UsageError);
  });
});

describe('mqtt-testbed gate', () => {
  test('identical runs: exit 0, a PASS summary, the comparison report next to the current results', async () => {
    write('base.json', sampleConformance());
    write('cur.json', sampleConformance());
    const io = fakeIo(dir);
    expect(await gateCommand(['--baseline', 'base.json', '--current', 'cur.json'], io)).toBe(0);
    expect(io.out()).toMatch(/^mqtt-testbed gate: PASS/);
    expect(io.out()).toContain('comparison report: comparison.html');
    expect(readFileSync(join(dir, 'comparison.html'), 'utf8')).toContain('gate: PASS');
  });

  test('a seeded regression: exit 1, the summary names it, the report highlights it', async () => {
    write('base.json', sampleConformance());
    write('cur.json', sampleConformance('broker-a', { 'publish/retained message replaced': 'fail' }));
    const io = fakeIo(dir);
    expect(await gateCommand(['--baseline', 'base.json', '--current', 'cur.json', '--report', 'gate.html'], io)).toBe(1);
    expect(io.out()).toContain('✗ REGRESSION: broker-a: publish/[5.0] retained message replaced [MQTT-3.3.1-5]: pass → fail');
    const page = readFileSync(join(dir, 'gate.html'), 'utf8');
    expect(page).toContain('gate: FAIL (1 problem)');
    expect(page).toMatch(/<tr class="ch-regression">/);
  });

  test('expectations: an unexpected pass fails; repeated files and positional current files', async () => {
    write('base.json', sampleConformance());
    write('cur1.json', sampleConformance('broker-a', { 'connect/zero-length client id with clean start 0 is refused': 'pass' }));
    write('cur2.json', sampleConformance('broker-a', { 'connect/zero-length client id with clean start 0 is refused': 'pass' }));
    write('exp.json', { schema: 'mqtt-testbed/expectations', version: 1, knownFailures: [{ statement: 'MQTT-3.1.3-8', version: '3.1.1', reason: 'known' }] });
    const io = fakeIo(dir);
    expect(await gateCommand(['--baseline', 'base.json', '--expectations', 'exp.json', '--no-report', '--current', 'cur1.json', 'cur2.json'], io)).toBe(1);
    expect(io.out()).toContain('UNEXPECTED PASS');
    expect(io.out()).toContain('remove it from exp.json');
    expect(existsSync(join(dir, 'comparison.html'))).toBe(false);
  });

  test('benchmarks: repeats on both sides, regression beyond noise fails', async () => {
    const base = [1, 2, 3].map((s) => write(`b${s}.json`, sampleBenchmark({ seed: s, noise: 0.02 })));
    const cur = [4, 5, 6].map((s) => write(`c${s}.json`, sampleBenchmark({ seed: s, noise: 0.02, slowdown: 1.5 })));
    const io = fakeIo(dir);
    expect(await gateCommand([...base.flatMap((b) => ['--baseline', b]), '--current', ...cur, '--no-report'], io)).toBe(1);
    expect(io.out()).toContain('BENCHMARK REGRESSION');
    expect(io.out()).toMatch(/MQTT QoS 1 over TCP: throughput \(achieved\) .* → .* \(−3\d\.\d %\)/);
  });

  test('exit 2 for unusable input, usage errors for missing flags and bad thresholds', async () => {
    write('cur.json', sampleConformance());
    write('exp.json', { schema: 'mqtt-testbed/expectations', version: 1, knownFailures: [{ version: '5.0', reason: 'x' }] });
    let io = fakeIo(dir);
    expect(await gateCommand(['--baseline', 'missing.json', '--current', 'cur.json'], io)).toBe(2);
    expect(io.err()).toContain('missing.json');
    io = fakeIo(dir);
    expect(await gateCommand(['--baseline', 'cur.json', '--current', 'cur.json', '--expectations', 'exp.json'], io)).toBe(2);
    expect(io.err()).toContain("needs 'statement' or 'test'");
    await expect(gateCommand(['--current', 'cur.json'], fakeIo(dir))).rejects.toThrow(/--baseline/);
    expect(() => parseThresholds(['p99=x'])).toThrow(/METRIC=PERCENT/);
    expect(() => parseThresholds(['p95=10'])).toThrow(/unknown metric 'p95'/);
    expect(parseThresholds(['p99=25', 'throughput=5%'])).toEqual({ p99: 0.25, throughput: 0.05 });
  });
});

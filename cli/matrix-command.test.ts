import { describe, expect, test } from 'vitest';
import { formatMatrix, matrixExitCode, parseMatrixArgs, type BrokerRun } from './matrix-command.js';
import { UsageError } from './io.js';

const run = (broker: BrokerRun['broker'], status: BrokerRun['status'], fail = 0): BrokerRun => ({
  broker, status, resultsFile: `/tmp/${broker}.json`, logFile: `/tmp/${broker}.log`, durationMs: 1234,
  ...(status === 'ok' ? { summary: { pass: 10, fail, skip: 1, finding: 2 }, coverage: { '3.1.1': { covered: 5, of: 9 } }, probed: { maxQoS: { value: 2, how: 'x' } } } : {}),
});

describe('matrix', () => {
  test('options', () => {
    const o = parseMatrixArgs(['--brokers', 'aedes,reference', '--timeout-ms', '5000'], '/x', {});
    expect(o).toMatchObject({ brokers: ['aedes', 'reference'], timeoutMs: 5000, suites: 'suites', requireExternal: false });
    expect(parseMatrixArgs(['--help'], '/x', {})).toBe('help');
    expect(() => parseMatrixArgs(['--brokers', 'hivemq'], '/x', {})).toThrow(UsageError);
    expect(() => parseMatrixArgs(['--timeout-ms', 'soon'], '/x', {})).toThrow(/--timeout-ms/);
    expect(parseMatrixArgs([], '/x', { MATRIX_TIMEOUT_MS: '90000', REQUIRE_EXTERNAL: '1' })).toMatchObject({ timeoutMs: 90000, requireExternal: true });
  });

  test('exit code: reference failures and broken runs are errors, other brokers\' failures are results', () => {
    expect(matrixExitCode([run('reference', 'ok'), run('mosquitto-plain', 'ok', 7), run('aedes', 'ok', 30)])).toBe(0);
    expect(matrixExitCode([run('reference', 'ok', 1)])).toBe(1);
    expect(matrixExitCode([run('reference', 'ok'), run('aedes', 'timeout')])).toBe(1);
    expect(matrixExitCode([run('reference', 'ok'), run('aedes', 'crashed')])).toBe(1);
    expect(matrixExitCode([run('reference', 'ok'), run('mosquitto-secure', 'launch-failed')])).toBe(1);
    expect(matrixExitCode([run('reference', 'ok'), run('mosquitto-secure', 'skipped')])).toBe(0);
  });

  test('summary table', () => {
    const text = formatMatrix([run('reference', 'ok'), { ...run('aedes', 'crashed'), reason: 'vitest exited with code 1' }]);
    expect(text).toMatch(/^broker +run +pass +fail +finding +skip +3\.1\.1 covered +5\.0 covered +probed +time\n/);
    expect(text).toMatch(/reference +ok +10 +0 +2 +1 +5\/9 +- +1 +1\.2s/);
    expect(text).toMatch(/aedes +crashed +- +- +- +-/);
    expect(text).toContain('aedes: crashed: vitest exited with code 1');
    expect(text).toContain('reference: probed maxQoS=2');
  });
});

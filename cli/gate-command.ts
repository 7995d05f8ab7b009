/**
 * `mqtt-testbed gate --baseline FILE... --current FILE... [--expectations FILE]`:
 * exit 1 when the current results regress against the baseline (reports/gate.ts
 * has the rules, reports/README.md explains them), 0 when they do not, 2 for
 * unusable input. Prints a summary for the CI log and writes the comparison
 * report (HTML) next to the current results.
 */
import { appendFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { LoadedResults, MetricName } from '../reports/compare.js';
import { DEFAULT_THRESHOLDS } from '../reports/compare.js';
import { ExpectationsError, readExpectationsFile, type Expectations } from '../reports/expectations.js';
import { formatGate, runGate } from '../reports/gate.js';
import { renderReport } from '../reports/html/report.js';
import { writeFileAtomic } from '../results/io.js';
import { ResultsFileError } from '../results/validate.js';
import { parseCommandArgs, UsageError, type CliIo } from './io.js';
import { loadResults } from './report-command.js';

export const GATE_USAGE = `mqtt-testbed gate --baseline FILE [--baseline FILE ...] --current FILE [FILE ...] [options]

  Fails (exit 1) when, compared with the baseline:
   - a test that passed now fails (a regression), or fails and is new or was skipped,
     unless the expectations list it;
   - a failure listed in the expectations now passes (keep the list honest);
   - a benchmark metric is worse by more than its threshold AND every current repeat
     is worse than every baseline repeat (give several files, or runs repeated in one
     file, to measure the noise).
  --expectations FILE   known failures (reports/expectations.schema.json), or a broker
                        profile with "knownFailures"
  --threshold M=PCT     per metric: throughput (default 10), p50 (20), p99 (20),
                        bytesPerMessage (5) in %; lossRate (1) in percentage points
  --report FILE         comparison report (default: comparison.html next to the first
                        current file); --no-report to skip it
  Exit 0 pass, 1 fail, 2 unusable input.`;

const METRIC_NAMES = Object.keys(DEFAULT_THRESHOLDS) as MetricName[];

export function parseThresholds(list: string[] = []): Partial<Record<MetricName, number>> {
  const out: Partial<Record<MetricName, number>> = {};
  for (const item of list) {
    const m = /^([A-Za-z0-9]+)=([0-9]+(?:\.[0-9]+)?)%?$/.exec(item.trim());
    if (!m) throw new UsageError(`--threshold: expected METRIC=PERCENT (e.g. p99=25), got '${item}'`);
    const name = m[1] as MetricName;
    if (!METRIC_NAMES.includes(name)) throw new UsageError(`--threshold: unknown metric '${m[1]}' (known: ${METRIC_NAMES.join(', ')})`);
    out[name] = Number(m[2]) / 100;
  }
  return out;
}

export async function gateCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  parsed = parseCommandArgs({
      args: argv,
      options: {
        baseline: { type: 'string', multiple: true },
        current: { type: 'string', multiple: true },
        expectations: { type: 'string' },
        threshold: { type: 'string', multiple: true },
        report: { type: 'string' },
        'no-report': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(`${GATE_USAGE}\n`);
    return 0;
  }
  const currentFiles = [...(v.current ?? []), ...parsed.positionals];
  if (!v.baseline?.length) throw new UsageError('gate needs --baseline FILE');
  if (currentFiles.length === 0) throw new UsageError('gate needs --current FILE');
  const thresholds = parseThresholds(v.threshold);
  let baseline: LoadedResults[];
  let current: LoadedResults[];
  let expectations: Expectations | undefined;
  try {
    baseline = loadResults(v.baseline, io);
    current = loadResults(currentFiles, io);
    if (v.expectations) expectations = readExpectationsFile(resolve(io.cwd, v.expectations));
  } catch (e) {
    if (e instanceof ResultsFileError || e instanceof ExpectationsError) {
      io.stderr.write(`mqtt-testbed gate: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (expectations) expectations.source = v.expectations!;
  const result = runGate(baseline, current, { thresholds, ...(expectations ? { expectations } : {}) });
  let reportPath: string | undefined;
  if (!v['no-report']) {
    reportPath = resolve(io.cwd, v.report ?? join(dirname(resolve(io.cwd, currentFiles[0]!)), 'comparison.html'));
    writeFileAtomic(reportPath, renderReport({ current, baseline, gate: result, title: `mqtt-testbed gate: ${result.ok ? 'PASS' : 'FAIL'}` }));
  }
  const shown = reportPath ? relative(io.cwd, reportPath) : undefined;
  const summary = formatGate(result, reportPath ? (shown && !shown.startsWith('..') ? shown : reportPath) : undefined);
  io.stdout.write(summary);
  if (process.env['GITHUB_ACTIONS'] === 'true') {
    // Annotations on the workflow run, and the summary on its page.
    for (const p of result.problems.slice(0, 10)) io.stdout.write(`::error title=mqtt-testbed gate (${p.kind})::${p.message.replace(/\r?\n/g, ' ')}\n`);
    const stepSummary = process.env['GITHUB_STEP_SUMMARY'];
    if (stepSummary) {
      try {
        appendFileSync(stepSummary, `### mqtt-testbed gate: ${result.ok ? 'PASS' : 'FAIL'}\n\n\`\`\`\n${summary}\`\`\`\n`);
      } catch { /* the summary is a nicety */ }
    }
  }
  return result.ok ? 0 : 1;
}

/**
 * `mqtt-testbed report <results.json ...> [-o out/report/report.html] [--compare baseline.json ...]`:
 * one self-contained HTML report (reports/html) from results files, each
 * validated on read (results/validate.ts). Unusable files: exit 2.
 */
import { statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { LoadedResults } from '../reports/compare.js';
import { renderReport } from '../reports/html/report.js';
import { writeFileAtomic } from '../results/io.js';
import { readResultsFile, ResultsFileError } from '../results/validate.js';
import { parseCommandArgs, UsageError, type CliIo } from './io.js';

export const REPORT_USAGE = `mqtt-testbed report <results.json ...> [-o FILE] [--compare BASELINE.json ...] [--title TEXT] [--skip-foreign]

  One self-contained HTML file (no network needed to view it) from conformance,
  benchmark and self-check results files: conformance matrix, coverage, evidence
  with packet traces, benchmark charts, claims, the suite self-check score, manifest. With --compare, also what changed
  since the baseline (statements that changed status, metrics that moved).
  -o, --out FILE      where to write it (default out/report/report.html)
  --compare FILE      baseline results to compare with (repeatable)
  --title TEXT        page title
  --skip-foreign      skip JSON files that are not mqtt-testbed results (e.g. a
                      summary.json caught by a glob) with a warning instead of failing
  Exit 2 when a file is unreadable or not valid results (the message says which field).`;

/** Loads results files; a file that is not usable throws ResultsFileError (or is skipped with skipForeign). */
export function loadResults(files: string[], io: CliIo, skipForeign = false): LoadedResults[] {
  const out: LoadedResults[] = [];
  for (const f of files) {
    const path = resolve(io.cwd, f);
    try {
      out.push({ source: f, results: readResultsFile(path) });
    } catch (e) {
      if (!(e instanceof ResultsFileError)) throw e;
      if (skipForeign && e.problems.some((p) => p.includes('not an mqtt-testbed results file'))) {
        io.stderr.write(`skipping ${f}: not an mqtt-testbed results file\n`);
        continue;
      }
      throw new ResultsFileError(f, e.problems); // named as the user wrote it
    }
  }
  return out;
}

export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  parsed = parseCommandArgs({
      args: argv,
      options: {
        out: { type: 'string', short: 'o' },
        compare: { type: 'string', multiple: true },
        title: { type: 'string' },
        'skip-foreign': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(`${REPORT_USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length === 0) throw new UsageError('report needs at least one results file');
  let current: LoadedResults[];
  let baseline: LoadedResults[] | undefined;
  try {
    current = loadResults(parsed.positionals, io, v['skip-foreign'] === true);
    baseline = v.compare ? loadResults(v.compare, io) : undefined;
  } catch (e) {
    if (e instanceof ResultsFileError) {
      io.stderr.write(`mqtt-testbed report: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (current.length === 0) {
    io.stderr.write('mqtt-testbed report: no results files left to report on\n');
    return 2;
  }
  const out = resolve(io.cwd, v.out ?? 'out/report/report.html');
  const page = renderReport({ current, ...(baseline ? { baseline } : {}), ...(v.title ? { title: v.title } : {}) });
  writeFileAtomic(out, page);
  const conf = current.filter((f) => f.results.conformance).length;
  const bench = current.filter((f) => f.results.benchmark).length;
  const selftest = current.filter((f) => f.results.selftest).length;
  const shown = relative(io.cwd, out);
  io.stdout.write(`report: ${shown && !shown.startsWith('..') ? shown : out} (${conf} conformance, ${bench} benchmark${selftest ? `, ${selftest} self-check` : ''} file(s)${baseline ? `, compared with ${baseline.length} baseline file(s)` : ''}; ${Math.round(statSync(out).size / 1024)} KiB)\n`);
  return 0;
}

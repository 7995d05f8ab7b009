/**
 * vitest reporter: collects every conformance test's meta (statements,
 * status, reason, trace) and writes one results JSON and one JUnit XML per
 * run into out/conformance/ (or RESULTS_FILE / JUNIT_FILE). Silent when a
 * run has no conformance tests.
 */
import { join } from 'node:path';
import type { Reporter, TestCase, TestModule } from 'vitest/node';
import { toJUnit } from '../reports/junit.js';
import { newResults, slug, writeFileAtomic, writeResults } from '../results/io.js';
import type { CoverageJson, SpecVersionName, TestResult, TestStatus } from '../results/types.js';
import { coverage } from '../spec/catalogue.js';
import type { ConformanceMeta } from '../suites/support/meta.js';
import '../suites/support/meta.js';
import uncovered from '../suites/uncovered.json' with { type: 'json' };

/** Reasons for the statements no test covers, per version (the "$comment" entry is not a version). */
const UNCOVERED = uncovered as unknown as Partial<Record<SpecVersionName, Record<string, string>>>;

function collect(modules: ReadonlyArray<TestModule>): { tests: TestResult[]; target: ConformanceMeta['target'] } {
  const tests: TestResult[] = [];
  let target: ConformanceMeta['target'];
  for (const m of modules) {
    for (const tc of m.children.allTests()) {
      const meta = (tc as TestCase).meta().conformance;
      if (!meta) continue;
      target ??= meta.target;
      const r = tc.result();
      const d = tc.diagnostic();
      let status: TestStatus;
      let reason = meta.reason;
      if (r.state === 'failed') {
        status = 'fail';
        reason = r.errors?.map((e) => e.message).join('\n') ?? 'failed';
      } else if (r.state === 'skipped' || meta.status === 'skip') {
        status = 'skip';
        reason ??= r.state === 'skipped' ? (r.note ?? 'skipped') : undefined;
      } else if (meta.status === 'finding') {
        status = 'finding';
      } else if (r.state === 'passed') {
        status = 'pass';
      } else {
        continue; // pending: the run was interrupted
      }
      const t: TestResult = {
        id: `${meta.area}/[${meta.specVersion}] ${meta.title}`,
        area: meta.area, title: meta.title, specVersion: meta.specVersion, statements: meta.statements,
        status, durationMs: Math.round(d?.duration ?? 0),
      };
      if (reason !== undefined) t.reason = reason;
      if (meta.trace && (status === 'fail' || status === 'finding')) t.trace = meta.trace;
      if (meta.seed !== undefined) t.seed = meta.seed;
      if (meta.counterexample !== undefined) t.counterexample = meta.counterexample;
      tests.push(t);
    }
  }
  return { tests, target };
}

export default class ConformanceReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const { tests, target } = collect(modules);
    if (tests.length === 0) return;
    const specVersions = (['3.1.1', '5.0'] as const).filter((v) => tests.some((t) => t.specVersion === v));
    const summary: Record<TestStatus, number> = { pass: 0, fail: 0, skip: 0, finding: 0 };
    for (const t of tests) summary[t.status]++;
    const cov: Partial<Record<SpecVersionName, CoverageJson>> = {};
    for (const v of specVersions) {
      const ran = tests.filter((t) => t.specVersion === v && t.status !== 'skip').flatMap((t) => t.statements.map((id) => ({ id, version: v })));
      const c = coverage(ran, v);
      const reasons = Object.fromEntries(Object.entries(UNCOVERED[v] ?? {}).filter(([id]) => c.overall.uncovered.includes(id)));
      cov[v] = { ...c, uncoveredReasons: reasons };
    }
    const results = newResults('conformance');
    const name = target?.name ?? 'target';
    results.target = { name, url: target?.url ?? '', profile: { name, source: target?.profile ?? '' }, probed: target?.probed ?? {} };
    results.conformance = { specVersions: [...specVersions], tests, coverage: cov, summary };
    const stamp = results.createdAt.replace(/[:.]/g, '-');
    const file = process.env['RESULTS_FILE'] ?? join('out', 'conformance', `${slug(name)}-${stamp}.json`);
    const junit = process.env['JUNIT_FILE'] ?? file.replace(/\.json$/, '.junit.xml');
    writeResults(file, results);
    writeFileAtomic(junit, toJUnit(results));
    const line = (v: SpecVersionName) => {
      const c = cov[v]!.overall;
      return `${v}: ${c.covered}/${c.observableServerStatements} observable server statements covered`;
    };
    process.stdout.write(`\nconformance (${name}): ${summary.pass} pass, ${summary.fail} fail, ${summary.finding} finding, ${summary.skip} skip; ${specVersions.map(line).join('; ')}\n  results: ${file}\n  junit:   ${junit}\n`);
  }
}

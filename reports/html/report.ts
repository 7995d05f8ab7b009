/**
 * The whole report: one self-contained HTML file (inline CSS, JS, SVG; no
 * URL to anything outside the file). A Content-Security-Policy allows only
 * the page's own style and script (by hash) and no network at all.
 */
import { createHash } from 'node:crypto';
import type { LoadedResults } from '../compare.js';
import { compareBenchmarks, compareConformance, type BenchmarkComparison, type ConformanceComparison, type MergedStatus } from '../compare.js';
import type { GateResult } from '../gate.js';
import { benchmarkBlockId, renderBenchmark, VERDICT_CLASS } from './benchmark.js';
import { renderComparison } from './compare-view.js';
import { buildMatrix, panelData, renderEvidence, renderMatrix, renderSkips, type Column, type MatrixModel } from './conformance.js';
import { renderCoverage } from './coverage.js';
import { CSS } from './css.js';
import { html, jsonForScript, raw, type Raw } from './escape.js';
import { renderManifest } from './manifest.js';
import { SCRIPT } from './script.js';
import { renderSelftest, selftestCard } from './selftest.js';

export interface ReportInput {
  /** The results to show (conformance and/or benchmark files). */
  current: LoadedResults[];
  /** A baseline to compare with (the comparison view and changed cells). */
  baseline?: LoadedResults[];
  /** The gate's verdict, when the gate writes the report. */
  gate?: GateResult;
  title?: string;
  /** Fixed timestamp (tests); default now. */
  generatedAt?: string;
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

/** Unique column labels: the target name, numbered when it repeats. */
export function columnsFor(files: LoadedResults[]): Column[] {
  const seen = new Map<string, number>();
  return files.filter((f) => f.results.conformance).map((f, index) => {
    const name = f.results.target?.name ?? f.source;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return { index, label: n > 1 ? `${name} (${n})` : name, source: f.source, results: f.results };
  });
}

/** ", repeat 2 of 3" when several files hold the same scenario on the same device profile. */
export function repeatLabel(bench: LoadedResults[], i: number): string {
  const key = (f: LoadedResults): string => `${f.results.benchmark!.scenario}\u0000${f.results.benchmark!.deviceProfile.name}`;
  const same = bench.map((f, j) => [key(f), j] as const).filter(([k]) => k === key(bench[i]!)).map(([, j]) => j);
  return same.length > 1 ? `, repeat ${same.indexOf(i) + 1} of ${same.length}` : '';
}

function overview(m: MatrixModel, bench: LoadedResults[], selftest: LoadedResults[]): Raw {
  const cards = m.columns.map((c) => {
    const s = c.results.conformance!.summary;
    const cov = Object.entries(c.results.conformance!.coverage).map(([v, cv]) => html`<div class="small">${v}: ${cv!.overall.covered}/${cv!.overall.observableServerStatements} observable statements covered</div>`);
    return html`<div class="card"><h3>${c.label}</h3><div class="small muted">${c.results.target?.url ?? ''}</div>
<div><span class="badge s-pass">${s.pass} pass</span> <span class="badge s-fail">${s.fail} fail</span> <span class="badge s-finding">${s.finding} finding</span> <span class="badge s-skip">${s.skip} skip</span></div>${cov}</div>`;
  });
  const bcards = bench.map((f, i) => {
    const b = f.results.benchmark!;
    const rep = repeatLabel(bench, i);
    const verdicts = (['holds', 'does not hold', 'not measured'] as const).map((v) => [v, b.claims.filter((c) => c.verdict === v).length] as const).filter(([, n]) => n > 0);
    return html`<div class="card"><h3><a href="#${benchmarkBlockId(i, b)}">${b.scenario}</a></h3><div class="small muted">on ${b.deviceProfile.name}${rep}</div><div class="small">${b.runs.map((r) => r.variant).join(' · ')}</div><div>${verdicts.map(([v, n]) => html`<span class="badge ${VERDICT_CLASS[v]}">${n} ${v}</span> `)}</div></div>`;
  });
  return html`<div class="cards">${selftest.map(selftestCard)}${cards}${bcards}</div>`;
}

export function renderReport(input: ReportInput): string {
  const generatedAt = input.generatedAt ?? new Date().toISOString();
  const title = input.title ?? 'mqtt-testbed report';
  const columns = columnsFor(input.current);
  const bench = input.current.filter((f) => f.results.benchmark);
  const selftest = input.current.filter((f) => f.results.selftest);

  let conf: ConformanceComparison[] = [];
  let benchCmp: BenchmarkComparison = { metrics: [], notes: [] };
  if (input.baseline) {
    conf = input.gate?.conformance ?? compareConformance(input.baseline, input.current);
    benchCmp = input.gate?.benchmark ?? compareBenchmarks(input.baseline, input.current);
  }
  const before = new Map<string, MergedStatus>();
  for (const c of conf) for (const t of c.tests) before.set(`${c.target}\u0000${t.testId}`, t.before);
  const model = buildMatrix(columns, input.baseline ? (target, id) => before.get(`${target}\u0000${id}`) : undefined);
  const evidenceFor = (target: string, testId: string): string | undefined =>
    model.tests.find((t) => t.evidenceId && t.test.id === testId && (columns[t.col]!.results.target?.name ?? columns[t.col]!.label) === target)?.evidenceId;

  const sections: Array<{ id: string; title: string; body: Raw }> = [];
  if (input.baseline) {
    sections.push({ id: 'comparison', title: input.gate ? 'Gate: comparison with the baseline' : 'Comparison with the baseline', body: html`<p class="small muted">baseline: ${input.baseline.map((f) => f.source).join(', ')}</p>${renderComparison(conf, benchCmp, evidenceFor, input.gate)}` });
  }
  if (selftest.length > 0) {
    sections.push({ id: 'selftest', title: 'Suite self-check: faults caught', body: renderSelftest(selftest) });
  }
  if (columns.length > 0) {
    sections.push({ id: 'conformance', title: 'Conformance matrix', body: html`<p class="small">${model.groups.reduce((a, g) => a + g.rows.length, 0)} statements and checks × ${columns.length} target(s), grouped by spec version and section. Click a cell for its tests, reasons and packet traces.</p>${renderMatrix(model, input.baseline !== undefined)}` });
    sections.push({ id: 'coverage', title: 'Coverage per section', body: renderCoverage(columns, new Set(model.groups.map((g) => g.id))) });
    sections.push({ id: 'evidence', title: 'Evidence: failures and findings', body: html`<p class="small muted">Each with its reason and decoded packet trace (→ client to broker, ← broker to client).</p>${renderEvidence(model)}<h3>Skipped tests and why</h3>${renderSkips(model)}` });
  }
  if (bench.length > 0) {
    sections.push({ id: 'benchmarks', title: 'Benchmarks: MQTT vs HTTP vs CoAP', body: html`${bench.map((f, i) => renderBenchmark(f, i, repeatLabel(bench, i)))}` });
  }
  if (input.current.length === 0) sections.push({ id: 'empty', title: 'No results', body: html`<p>No results files were given.</p>` });
  sections.push({ id: 'manifest', title: 'Run manifest', body: renderManifest([...input.current, ...(input.baseline ?? []).map((f) => ({ ...f, source: `${f.source} (baseline)` }))]) });

  const data = columns.length > 0 ? panelData(model) : {};
  const body = html`<header class="top"><button type="button" id="theme" class="js-only">theme: auto</button><h1>${title}</h1>
<div class="small muted">generated ${generatedAt} from ${input.current.length} results file(s)${input.baseline ? `, compared with ${input.baseline.length} baseline file(s)` : ''} · works offline, no external resources</div>
<nav class="toc" aria-label="sections">${sections.map((s) => html`<a href="#${s.id}">${s.title}</a>`)}</nav></header>
<main>${overview(model, bench, selftest)}${sections.map((s) => html`<section id="${s.id}"><h2>${s.title}</h2>${s.body}</section>`)}</main>
<aside id="panel" hidden aria-label="details" tabindex="-1"><button type="button" class="close" id="panel-close" aria-label="close">close ✕</button><div id="panel-body"></div></aside>`;

  const csp = `default-src 'none'; style-src 'sha256-${sha256(CSS)}'; script-src 'sha256-${sha256(SCRIPT)}'; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="mqtt-testbed">
<title>${html`${title}`}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<script type="application/json" id="report-data">${raw(jsonForScript(data))}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

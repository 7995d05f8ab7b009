/** Two runs side by side: tests whose status changed, benchmark metrics that moved, and the gate's verdict when there is one. */
import { formatChange, formatMetric, type BenchmarkComparison, type ChangeKind, type ConformanceComparison, type MetricComparison } from '../compare.js';
import type { GateResult } from '../gate.js';
import { html, type Raw } from './escape.js';

const KIND_LABEL: Record<ChangeKind, string> = {
  regression: 'regression', 'new-failure': 'new failure', 'flaky-baseline': 'fails (flaky in baseline)', 'still-failing': 'still failing',
  fixed: 'fixed', 'no-longer-runs': 'no longer runs', 'newly-passing': 'newly passing', 'finding-changed': 'finding changed', unchanged: 'unchanged',
};
const KIND_ORDER: ChangeKind[] = ['regression', 'new-failure', 'flaky-baseline', 'fixed', 'no-longer-runs', 'newly-passing', 'finding-changed'];
const KIND_CLASS: Partial<Record<ChangeKind, string>> = { regression: 's-fail', 'new-failure': 's-fail', fixed: 's-pass', 'newly-passing': 's-pass', 'no-longer-runs': 's-finding', 'flaky-baseline': 's-finding' };

export type EvidenceLookup = (target: string, testId: string) => string | undefined;

function conformanceChanges(c: ConformanceComparison, evidence: EvidenceLookup): Raw {
  const changed = c.tests.filter((t) => t.kind !== 'unchanged' && t.kind !== 'still-failing')
    .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.testId.localeCompare(b.testId));
  const still = c.tests.filter((t) => t.kind === 'still-failing').length;
  const counts = KIND_ORDER.map((k) => [k, c.tests.filter((t) => t.kind === k).length] as const).filter(([, n]) => n > 0);
  const head = html`<h4>${c.target}${c.baselineTarget && c.baselineTarget !== c.target ? html` <span class="muted small">(baseline: ${c.baselineTarget})</span>` : ''}</h4>
<p class="small">${counts.length ? counts.map(([k, n]) => html`<span class="badge ${KIND_CLASS[k] ?? 's-skip'}">${n} ${KIND_LABEL[k]}</span> `) : html`<span class="badge s-pass">no status changes</span> `}<span class="muted">${still} failing in both runs · baseline ${c.baselineSources.join(', ') || 'none'} · current ${c.currentSources.join(', ') || 'none'}</span></p>`;
  if (changed.length === 0) return head;
  const rows = changed.map((t) => {
    const ev = evidence(c.target, t.testId);
    const reason = (t.current?.reason ?? t.baseline?.reason ?? '').split('\n')[0]!.slice(0, 240);
    return html`<tr class="ch-${t.kind}"><td><span class="badge ${KIND_CLASS[t.kind] ?? 's-skip'}">${KIND_LABEL[t.kind]}</span></td><td>${ev ? html`<a href="#${ev}">${t.testId}</a>` : t.testId}</td><td class="sid small">${t.statements.join(' ')}</td><td class="nowrap"><span class="s-${t.before}">${t.before}</span> → <span class="s-${t.after}">${t.after}</span></td><td class="small">${reason}</td></tr>`;
  });
  return html`${head}<table class="data changes"><thead><tr><th>change</th><th>test</th><th>statements</th><th>before → after</th><th>reason now</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const VERDICT_CLASS: Record<MetricComparison['verdict'], string> = {
  regression: 's-fail', improvement: 's-pass', 'within-noise': 's-finding', 'within-threshold': 's-skip', 'not-compared': 's-skip',
};
const VERDICT_ORDER: MetricComparison['verdict'][] = ['regression', 'within-noise', 'improvement', 'within-threshold', 'not-compared'];

function range(values: number[], m: MetricComparison): string {
  if (values.length === 0) return '–';
  const min = Math.min(...values);
  const max = Math.max(...values);
  return values.length === 1 ? `n=1` : `${formatMetric(min, m.metric)} – ${formatMetric(max, m.metric)}, n=${values.length}`;
}

function benchmarkChanges(b: BenchmarkComparison): Raw {
  if (b.metrics.length === 0 && b.notes.length === 0) return html``;
  const sorted = [...b.metrics].sort((x, y) => VERDICT_ORDER.indexOf(x.verdict) - VERDICT_ORDER.indexOf(y.verdict) || x.key.localeCompare(y.key));
  const rows = sorted.map((m) => html`<tr class="v-${m.verdict}"><td class="small">${m.key}</td><td>${m.metric.label}</td><td class="n">${Number.isFinite(m.baselineMedian) ? formatMetric(m.baselineMedian, m.metric) : '–'}<br><span class="muted small">${range(m.baseline, m)}</span></td><td class="n">${Number.isFinite(m.currentMedian) ? formatMetric(m.currentMedian, m.metric) : '–'}<br><span class="muted small">${range(m.current, m)}</span></td><td class="n">${Number.isFinite(m.change) ? formatChange(m) : '–'}</td><td class="n small">${m.metric.thresholdKind === 'absolute' ? (m.metric.unit === 'fraction' ? `${(m.threshold * 100).toFixed(1)} pp` : formatMetric(m.threshold, m.metric)) : `${(m.threshold * 100).toFixed(0)} %`}</td><td><span class="badge ${VERDICT_CLASS[m.verdict]}">${m.verdict}</span><br><span class="small muted">${m.why}</span></td></tr>`);
  return html`<h3>Benchmark metrics</h3><p class="small muted">Medians over repeats (files or runs with the same scenario, device profile, protocol and variant). A regression needs both: a change beyond the threshold, and every current repeat worse than every baseline repeat.</p>
<table class="data metrics"><thead><tr><th>run</th><th>metric</th><th class="n">baseline median</th><th class="n">current median</th><th class="n">change</th><th class="n">threshold</th><th>verdict</th></tr></thead><tbody>${rows}</tbody></table>
${b.notes.length ? html`<ul class="small">${b.notes.map((n) => html`<li>${n}</li>`)}</ul>` : ''}`;
}

export function renderComparison(conf: ConformanceComparison[], bench: BenchmarkComparison, evidence: EvidenceLookup, gate?: GateResult): Raw {
  const verdict = gate
    ? html`<p><span class="verdict ${gate.ok ? 's-pass' : 's-fail'}" id="gate-verdict">gate: ${gate.ok ? 'PASS' : `FAIL (${gate.problems.length} problem${gate.problems.length === 1 ? '' : 's'})`}</span></p>
${gate.problems.length ? html`<ul class="problems">${gate.problems.map((p) => html`<li><span class="badge s-fail">${p.kind}</span> ${p.message}</li>`)}</ul>` : ''}
${gate.expectedFailures.length ? html`<details><summary>${gate.expectedFailures.length} expected failure(s) (listed in the expectations)</summary><ul class="small">${gate.expectedFailures.map((e) => html`<li>${e.target}: ${e.testId} — ${e.knownFailure.reason}</li>`)}</ul></details>` : ''}
${gate.notices.length ? html`<details><summary>${gate.notices.length} note(s)</summary><ul class="small">${gate.notices.map((n) => html`<li>${n}</li>`)}</ul></details>` : ''}`
    : html``;
  return html`${verdict}${conf.length ? html`<h3>Conformance: status changes</h3>${conf.map((c) => conformanceChanges(c, evidence))}` : ''}${benchmarkChanges(bench)}`;
}

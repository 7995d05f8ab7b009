/** Coverage per spec section: observable server statements covered by a test that ran, per target. */
import type { SpecVersionName } from '../../results/types.js';
import { findStatement } from '../../spec/catalogue.js';
import type { Column } from './conformance.js';
import { html, idPart, type Raw } from './escape.js';
import { compareSections, sectionTitle } from './sections.js';

/** A tiny bar as SVG (no inline styles: the page's CSP allows none). */
export function miniBar(fraction: number): Raw {
  const w = Math.max(0, Math.min(1, fraction)) * 90;
  return html`<span class="bar" aria-hidden="true"><svg width="90" height="8" viewBox="0 0 90 8"><rect width="${w.toFixed(1)}" height="8" rx="3" class="seg-payload"></rect></svg></span>`;
}

const pct = (a: number, b: number): string => (b === 0 ? '–' : `${Math.round((a / b) * 100)} %`);

/** `sectionIds`: the matrix's section groups (only those get a link). */
export function renderCoverage(columns: Column[], sectionIds: ReadonlySet<string> = new Set()): Raw {
  const versions = (['3.1.1', '5.0'] as SpecVersionName[]).filter((v) => columns.some((c) => c.results.conformance?.coverage[v]));
  if (versions.length === 0) return html`<p class="muted">No coverage data in these results.</p>`;
  const blocks = versions.map((v) => {
    const sections = new Set<string>();
    for (const c of columns) for (const s of Object.keys(c.results.conformance?.coverage[v]?.sections ?? {})) sections.add(s);
    const sorted = [...sections].sort(compareSections);
    const cols = columns.filter((c) => c.results.conformance?.coverage[v]);
    const head = html`<thead><tr><th>section</th>${cols.map((c) => html`<th>${c.label}</th>`)}</tr></thead>`;
    const overall = html`<tr><th>all sections</th>${cols.map((c) => {
      const o = c.results.conformance!.coverage[v]!.overall;
      return html`<td class="n"><strong>${o.covered}/${o.observableServerStatements}</strong> ${miniBar(o.covered / Math.max(1, o.observableServerStatements))}${pct(o.covered, o.observableServerStatements)}</td>`;
    })}</tr>`;
    const rows = sorted.map((s) => html`<tr><th>${sectionIds.has(`sec-${idPart(v)}-${idPart(s)}`) ? html`<a href="#sec-${idPart(v)}-${idPart(s)}">§${s}</a>` : `§${s}`} <span class="muted small">${sectionTitle(s, v)}</span></th>${cols.map((c) => {
      const b = c.results.conformance!.coverage[v]!.sections[s];
      if (!b) return html`<td class="muted">–</td>`;
      return html`<td class="n" title="${b.uncovered.length ? `not covered: ${b.uncovered.join(', ')}` : 'all covered'}">${b.covered}/${b.observableServerStatements} ${miniBar(b.covered / Math.max(1, b.observableServerStatements))}</td>`;
    })}</tr>`);
    // statements no target covered, with the reasons the suites give
    const uncoveredEverywhere = cols.map((c) => new Set(c.results.conformance!.coverage[v]!.overall.uncovered))
      .reduce((a, b) => new Set([...a].filter((x) => b.has(x))));
    const reasons: Record<string, string> = {};
    for (const c of cols) Object.assign(reasons, c.results.conformance!.coverage[v]!.uncoveredReasons ?? {});
    const unc = [...uncoveredEverywhere].map((id) => html`<tr><td class="sid">${id}</td><td class="small">${findStatement(id, v)?.paraphrase ?? ''}</td><td class="small">${reasons[id] ?? html`<span class="muted">no reason recorded</span>`}</td></tr>`);
    const unknown = [...new Set(cols.flatMap((c) => c.results.conformance!.coverage[v]!.unknown ?? []))];
    return html`<h3>MQTT ${v}</h3>
<table class="data coverage">${head}<tbody>${overall}${rows}</tbody></table>
${unc.length ? html`<details><summary>${unc.length} observable statement(s) that no target covered, and why</summary><table class="data"><thead><tr><th>statement</th><th>paraphrase</th><th>why not covered</th></tr></thead><tbody>${unc}</tbody></table></details>` : html`<p>Every observable statement was covered on at least one target.</p>`}
${unknown.length ? html`<p class="small">Statement ids named by tests but not in the ${v} catalogue: <span class="sid">${unknown.join(', ')}</span></p>` : ''}`;
  });
  return html`<p class="small muted">Observable server statements (see spec/README.md) covered by at least one test that ran (not skipped), per section.</p>${blocks}`;
}

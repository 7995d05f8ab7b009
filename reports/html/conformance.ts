/**
 * The conformance matrix: spec statements (rows, grouped by version and
 * section) × targets (columns). Server-rendered so that it reads without
 * JS; the page script adds filters, search and the evidence panel.
 */
import type { ResultsFile, SpecVersionName, TestResult, TestStatus } from '../../results/types.js';
import { findStatement, sectionOf, statements, type Statement } from '../../spec/catalogue.js';
import type { MergedStatus } from '../compare.js';
import { html, idPart, raw, type Raw } from './escape.js';
import { compareSections, sectionTitle } from './sections.js';
import { renderTrace } from './trace.js';

export interface Column {
  index: number;
  /** Unique display name (target name, numbered when repeated). */
  label: string;
  source: string;
  results: ResultsFile;
}

export type CellStatus = TestStatus | 'none';

export interface Cell {
  status: CellStatus;
  /** Indexes into MatrixModel.tests. */
  tests: number[];
  /** Set when a baseline was given and the cell's status differs from it. */
  was?: string;
}

export interface Row {
  index: number;
  version: SpecVersionName;
  section: string;
  /** Canonical statement id, or undefined for a test that names no statement. */
  statementId?: string;
  statement?: Statement;
  /** For statement-less rows: the test id. */
  testId?: string;
  label: string;
  areas: string[];
  cells: Cell[];
}

export interface Group {
  id: string;
  version: SpecVersionName;
  section: string;
  title: string;
  rows: Row[];
}

export interface TestRef {
  index: number;
  col: number;
  test: TestResult;
  /** Anchor of its evidence block (fail and finding). */
  evidenceId?: string;
}

export interface MatrixModel {
  columns: Column[];
  groups: Group[];
  tests: TestRef[];
  areas: string[];
  versions: SpecVersionName[];
}

/** Status of a baseline test, for highlighting cells that changed. */
export type BaselineLookup = (target: string, testId: string) => MergedStatus | undefined;

const ORDER: Record<CellStatus, number> = { fail: 4, finding: 3, pass: 2, skip: 1, none: 0 };

/** A cell's status: the worst of its tests (fail > finding > pass > skip). */
export function aggregate(statuses: readonly string[]): CellStatus {
  let best: CellStatus = 'none';
  for (const s of statuses) {
    const st = (s === 'flaky' ? 'fail' : s) as CellStatus;
    if (st in ORDER && ORDER[st] > ORDER[best]) best = st;
  }
  return best;
}

export const OTHER_SECTION = 'other';

export function buildMatrix(columns: Column[], baseline?: BaselineLookup): MatrixModel {
  const tests: TestRef[] = [];
  const rowsByKey = new Map<string, Row>();
  const areas = new Set<string>();
  const versions = new Set<SpecVersionName>();
  const rowFor = (key: string, make: () => Omit<Row, 'index' | 'cells' | 'areas'>): Row => {
    let r = rowsByKey.get(key);
    if (!r) {
      r = { ...make(), index: 0, areas: [], cells: columns.map(() => ({ status: 'none', tests: [] })) };
      rowsByKey.set(key, r);
    }
    return r;
  };
  for (const col of columns) {
    for (const t of col.results.conformance?.tests ?? []) {
      const ti = tests.length;
      tests.push({ index: ti, col: col.index, test: t, ...(t.status === 'fail' || t.status === 'finding' ? { evidenceId: `ev-${col.index}-${ti}` } : {}) });
      areas.add(t.area);
      versions.add(t.specVersion);
      const targets: Row[] = [];
      if (t.statements.length === 0) {
        targets.push(rowFor(`${t.specVersion}|test|${t.id}`, () => ({ version: t.specVersion, section: OTHER_SECTION, testId: t.id, label: t.title })));
      }
      for (const id of new Set(t.statements.map((s) => findStatement(s, t.specVersion)?.id ?? s))) {
        const st = findStatement(id, t.specVersion);
        targets.push(rowFor(`${t.specVersion}|${id}`, () => ({ version: t.specVersion, section: st?.section ?? sectionOf(id), statementId: id, ...(st ? { statement: st } : {}), label: id })));
      }
      for (const r of targets) {
        r.cells[col.index]!.tests.push(ti);
        if (!r.areas.includes(t.area)) r.areas.push(t.area);
      }
    }
  }
  // statuses, and what the baseline said
  for (const r of rowsByKey.values()) {
    r.cells.forEach((c, ci) => {
      c.status = aggregate(c.tests.map((i) => tests[i]!.test.status));
      if (baseline && c.tests.length > 0) {
        const col = columns[ci]!;
        const before = c.tests.map((i) => baseline(col.results.target?.name ?? col.label, tests[i]!.test.id)).filter((s): s is MergedStatus => s !== undefined && s !== 'absent');
        const was = before.length > 0 ? aggregate(before) : 'none';
        if (was !== c.status) c.was = was === 'none' ? 'not run' : was;
      }
    });
  }
  // order: version, section (numeric), catalogue order within; statement-less rows last per version
  const catalogueOrder = new Map<string, number>();
  for (const v of ['3.1.1', '5.0'] as const) statements(v).forEach((s, i) => catalogueOrder.set(`${v}|${s.id}`, i));
  const rows = [...rowsByKey.values()].sort((a, b) => {
    if (a.version !== b.version) return a.version < b.version ? -1 : 1;
    if ((a.section === OTHER_SECTION) !== (b.section === OTHER_SECTION)) return a.section === OTHER_SECTION ? 1 : -1;
    const s = compareSections(a.section, b.section);
    if (s !== 0) return s;
    const oa = catalogueOrder.get(`${a.version}|${a.statementId ?? ''}`) ?? Number.MAX_SAFE_INTEGER;
    const ob = catalogueOrder.get(`${b.version}|${b.statementId ?? ''}`) ?? Number.MAX_SAFE_INTEGER;
    return oa - ob || a.label.localeCompare(b.label);
  });
  const groups: Group[] = [];
  rows.forEach((r, i) => {
    r.index = i;
    let g = groups.at(-1);
    if (!g || g.version !== r.version || g.section !== r.section) {
      g = {
        id: `sec-${idPart(r.version)}-${idPart(r.section)}`, version: r.version, section: r.section,
        title: r.section === OTHER_SECTION ? 'Checks that name no statement' : sectionTitle(r.section, r.version), rows: [],
      };
      groups.push(g);
    }
    g.rows.push(r);
  });
  return { columns, groups, tests, areas: [...areas].sort(), versions: [...versions].sort() };
}

export const STATUS_LABEL: Record<CellStatus, string> = { pass: '✓ pass', fail: '✗ fail', finding: '! finding', skip: '– skip', none: '·' };

export function rowId(r: Row): string {
  return `row-${idPart(r.version)}-${idPart(r.statementId ?? `t-${r.index}`)}`;
}

function cellTitle(m: MatrixModel, r: Row, c: Cell, col: Column): string {
  if (c.tests.length === 0) return `${col.label}: no test ran for this ${r.statementId ? 'statement' : 'check'}`;
  const head = `${col.label}${c.was ? ` (was ${c.was} in the baseline)` : ''}`;
  // Without JS this tooltip is the only way to see why; keep it short: the passing tests are only counted.
  const notPassing = c.tests.map((i) => m.tests[i]!.test).filter((t) => t.status !== 'pass');
  const passing = c.tests.length - notPassing.length;
  const lines = notPassing.slice(0, 4).map((t) => `${t.status}: ${t.title}${t.reason ? ` — ${t.reason.split('\n')[0]!.slice(0, 140)}` : ''}`);
  if (notPassing.length > 4) lines.push(`… ${notPassing.length - 4} more`);
  if (passing > 0) lines.push(`${passing} test(s) pass`);
  return `${head}\n${lines.join('\n')}`;
}

function renderCell(m: MatrixModel, r: Row, c: Cell, col: Column): Raw {
  const title = cellTitle(m, r, c, col);
  const ev = c.tests.map((i) => m.tests[i]!).find((t) => t.evidenceId && t.test.status === c.status)?.evidenceId;
  const same = c.tests.filter((i) => m.tests[i]!.test.status === c.status).length;
  const count = c.tests.length <= 1 ? '' : same === c.tests.length ? ` ×${c.tests.length}` : ` ${same}/${c.tests.length}`;
  const label = `${STATUS_LABEL[c.status]}${count ? html`<span class="small">${count}</span>` : ''}`;
  const inner = ev
    ? html`<a href="#${ev}" class="s-${c.status}" title="${title}">${raw(label)}</a>`
    : html`<span class="s-${c.status}" title="${title}">${raw(label)}</span>`;
  return html`<td class="cell${c.was ? ' changed' : ''}" data-col="${col.index}" data-s="${c.status}"${c.was ? html` data-was="${c.was}"` : ''}>${inner}</td>`;
}

function coverageCell(col: Column, g: Group): Raw {
  if (g.section === OTHER_SECTION) return html`<td></td>`;
  const b = col.results.conformance?.coverage[g.version]?.sections[g.section];
  if (!b) return html`<td class="muted" title="no observable statements in this section">–</td>`;
  return html`<td title="${col.label}: ${b.covered} of ${b.observableServerStatements} observable statements of §${g.section} covered by a test that ran">${b.covered}/${b.observableServerStatements}</td>`;
}

export function renderMatrix(m: MatrixModel, hasBaseline: boolean): Raw {
  const head = html`<thead><tr><th scope="col">statement</th><th scope="col">what it says (paraphrase)</th>${m.columns.map((c) => html`<th scope="col" class="bro" title="${c.source}">${c.label}</th>`)}</tr></thead>`;
  const bodies = m.groups.map((g) => {
    const rows = g.rows.map((r) => {
      const statuses = [...new Set(r.cells.map((c) => c.status))];
      const changed = r.cells.some((c) => c.was !== undefined);
      const text = r.statement ? r.statement.paraphrase : r.label;
      const head = r.statementId
        ? html`<th scope="row"><span class="sid">${r.statementId}</span>${r.statement ? html`<span class="lvl">${r.statement.level}</span>` : html`<span class="lvl" title="not in the catalogue">?</span>`}</th>`
        : html`<th scope="row"><span class="sid muted">${r.areas[0] ?? ''}</span></th>`;
      return html`<tr class="row" id="${rowId(r)}" data-row="${r.index}" data-version="${r.version}" data-areas="${r.areas.join(' ')}" data-st="${statuses.join(' ')}" data-search="${`${r.statementId ?? ''} ${r.testId ?? ''} ${text}`.toLowerCase()}"${changed ? raw(' data-changed="1"') : ''}>${head}<td class="para">${text}${r.statement?.note ? html` <span class="muted small note" title="${r.statement.note}">[note]</span>` : ''}</td>${r.cells.map((c, i) => renderCell(m, r, c, m.columns[i]!))}</tr>`;
    });
    return html`<tbody class="grp" id="${g.id}" data-version="${g.version}"><tr class="sec"><th scope="rowgroup" colspan="2">MQTT ${g.version} ${g.section === OTHER_SECTION ? '' : `§${g.section}`} ${g.title}</th>${m.columns.map((c) => coverageCell(c, g))}</tr>${rows}</tbody>`;
  });
  const total = m.groups.reduce((a, g) => a + g.rows.length, 0);
  const filters = html`<form class="filters js-only" id="filters" role="search" aria-label="filter the matrix">
<label>version <select id="f-version"><option value="">all</option>${m.versions.map((v) => html`<option value="${v}">${v}</option>`)}</select></label>
<label>area <select id="f-area"><option value="">all</option>${m.areas.map((a) => html`<option value="${a}">${a}</option>`)}</select></label>
<label>status <select id="f-status"><option value="">any</option><option value="fail">a target fails</option><option value="finding">a target has a finding</option><option value="skip">a target skipped</option><option value="pass">a target passes</option><option value="differ">targets disagree</option>${hasBaseline ? html`<option value="changed">changed since baseline</option>` : ''}</select></label>
<label>search <input id="f-search" type="search" placeholder="MQTT-3.3.1-5 or words" size="22"></label>
<button type="reset" id="f-reset">reset</button>
<span><span id="matrix-count">${total}</span> of ${total} rows</span>
</form>`;
  const legend = html`<div class="legend" aria-hidden="true"><span><span class="sw s-pass"></span>pass</span><span><span class="sw s-fail"></span>fail (click for the evidence)</span><span><span class="sw s-finding"></span>finding: passes, with something worth knowing</span><span><span class="sw s-skip"></span>skip (hover for the reason)</span><span>· no test for it on that target</span>${hasBaseline ? html`<span><span class="sw chg"></span>outlined: changed since the baseline</span>` : ''}<span>A cell shows the worst status of the tests naming the statement (fail &gt; finding &gt; pass &gt; skip); section rows show covered/observable statements.</span></div>`;
  return html`${filters}${legend}<div class="matrix-wrap"><table class="matrix" id="matrix">${head}${bodies}</table></div>`;
}

/** Reason text without the plain-text trace the suites append (the structured trace is rendered instead). */
export function reasonWithoutTrace(t: TestResult): string {
  const r = t.reason ?? '';
  if (!t.trace) return r;
  const i = r.indexOf('\n  packet trace:');
  return i >= 0 ? r.slice(0, i) : r;
}

export function renderEvidence(m: MatrixModel): Raw {
  const blocks = m.columns.map((col) => {
    const list = m.tests.filter((t) => t.col === col.index && t.evidenceId)
      .sort((a, b) => ORDER[b.test.status] - ORDER[a.test.status] || a.test.id.localeCompare(b.test.id));
    if (list.length === 0) return html`<h3>${col.label}</h3><p class="muted">No failures or findings.</p>`;
    const items = list.map((ref) => {
      const t = ref.test;
      const links = t.statements.map((s) => {
        const canonical = findStatement(s, t.specVersion)?.id ?? s;
        return html`<a class="sid" href="#row-${idPart(t.specVersion)}-${idPart(canonical)}">${s}</a> `;
      });
      return html`<details class="ev" id="${ref.evidenceId!}" data-test="${ref.index}"><summary><span class="badge s-${t.status}">${STATUS_LABEL[t.status]}</span> <span class="muted">[${t.specVersion}] ${t.area}</span> ${t.title}</summary>
<p class="small">statements: ${links.length ? links : html`<span class="muted">none named</span>`} · ${t.durationMs} ms${t.seed !== undefined ? ` · seed ${t.seed}` : ''}</p>
${t.reason ? html`<pre>${reasonWithoutTrace(t)}</pre>` : ''}${t.counterexample ? html`<p class="small">counterexample:</p><pre>${t.counterexample}</pre>` : ''}
${t.trace ? renderTrace(t.trace, t.specVersion) : html`<p class="muted small">no packet trace recorded</p>`}</details>`;
    });
    return html`<h3>${col.label} <span class="muted small">(${list.length})</span></h3>${items}`;
  });
  return html`${blocks}`;
}

/** Skip reasons per target, counted: why statements could not be checked. */
export function renderSkips(m: MatrixModel): Raw {
  const blocks = m.columns.map((col) => {
    const reasons = new Map<string, TestResult[]>();
    for (const ref of m.tests) {
      if (ref.col !== col.index || ref.test.status !== 'skip') continue;
      const k = (ref.test.reason ?? 'no reason given').split('\n')[0]!;
      reasons.set(k, [...(reasons.get(k) ?? []), ref.test]);
    }
    if (reasons.size === 0) return html``;
    const rows = [...reasons].sort((a, b) => b[1].length - a[1].length).map(([reason, ts]) =>
      html`<tr><td class="n">${ts.length}</td><td>${reason}</td><td class="small muted">${ts.slice(0, 3).map((t) => t.id).join('; ')}${ts.length > 3 ? ' …' : ''}</td></tr>`);
    return html`<details><summary>${col.label}: ${[...reasons.values()].reduce((a, l) => a + l.length, 0)} skipped tests, ${reasons.size} reason(s)</summary><table class="data"><thead><tr><th class="n">tests</th><th>reason</th><th>e.g.</th></tr></thead><tbody>${rows}</tbody></table></details>`;
  });
  return html`${blocks}`;
}

/** Data for the page script's evidence panel: per row, per column, the tests; per test, what to show. */
export function panelData(m: MatrixModel): unknown {
  return {
    cols: m.columns.map((c) => c.label),
    rows: m.groups.flatMap((g) => g.rows.map((r) => ({
      id: r.statementId ?? null, test: r.testId ?? null, v: r.version, sec: r.section, group: g.id,
      secTitle: g.title, level: r.statement?.level ?? null, para: r.statement?.paraphrase ?? (r.statementId ? 'not in the statement catalogue' : r.label),
      note: r.statement?.note ?? null, cells: r.cells.map((c) => c.tests), was: r.cells.map((c) => c.was ?? null),
    }))),
    tests: m.tests.map((t) => ({
      c: t.col, id: t.test.id, s: t.test.status, r: (t.test.reason ?? '').slice(0, 1200), ev: t.evidenceId ?? null, st: t.test.statements, ms: t.test.durationMs,
    })),
  };
}


/**
 * The suite self-check (`mqtt-testbed selftest` results): how many of the
 * deliberately faulty brokers the suites caught, by which tests, and whether
 * the correct broker passed (it must).
 */
import type { LoadedResults } from '../compare.js';
import type { SelftestBaseline, SelftestFaultResult, SelftestResults, SelftestTestRef } from '../../results/types.js';
import { html, idPart, type Raw } from './escape.js';

/** Tests listed per fault; the count says how many there were in all. */
const SHOWN_TESTS = 5;

const VERDICT: Record<SelftestFaultResult['verdict'], { cls: string; text: string }> = {
  caught: { cls: 's-pass', text: 'caught' },
  missed: { cls: 's-fail', text: 'missed' },
  error: { cls: 's-finding', text: 'no verdict' },
};

const BASELINE: Record<SelftestBaseline['verdict'], { cls: string; text: string }> = {
  pass: { cls: 's-pass', text: 'no failures' },
  fail: { cls: 's-fail', text: 'FAILURES' },
  error: { cls: 's-finding', text: 'run broken' },
};

export const selftestBlockId = (i: number): string => `selftest-${i}`;

/** "N of M faults caught", and whether that is everything. */
export function scoreText(s: SelftestResults): string {
  return `${s.score.caught} of ${s.score.faults} faults caught`;
}

function allGood(s: SelftestResults): boolean {
  return s.score.caught === s.score.faults && s.baseline.verdict === 'pass';
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function statements(f: SelftestFaultResult): Raw {
  const parts = Object.entries(f.statements).filter(([, ids]) => ids && ids.length > 0)
    .map(([v, ids]) => html`<div><span class="muted">${v}</span> ${ids!.map((id, k) => html`${k ? ', ' : ''}<span class="sid nowrap">${id}</span>`)}</div>`);
  return html`${parts}${f.section !== undefined ? html`<div><span class="muted">§</span>${f.section}</div>` : ''}`;
}

function testList(tests: SelftestTestRef[], total: number): Raw {
  if (tests.length === 0) return html``;
  const shown = tests.slice(0, SHOWN_TESTS);
  return html`<ul class="fault-list small">${shown.map((t) => html`<li><span class="mono">${t.id}</span>${t.statements.length ? html` <span class="sid muted">${t.statements.join(', ')}</span>` : ''}${t.reason ? html`<div class="muted">${firstLine(t.reason)}</div>` : ''}</li>`)}${total > shown.length ? html`<li class="muted">… and ${total - shown.length} more</li>` : ''}</ul>`;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function baselineBlock(b: SelftestBaseline): Raw {
  const v = BASELINE[b.verdict];
  const sum = b.summary ? `${b.summary.pass} pass, ${b.summary.fail} fail, ${b.summary.finding} finding, ${b.summary.skip} skip` : 'no results';
  return html`<p>Correct broker (<span class="mono">${b.target}</span>): <span class="badge ${v.cls}">${v.text}</span> <span class="small">${sum}, ${secs(b.durationMs)}</span>${b.note ? html` <span class="small muted">${b.note}</span>` : ''}</p>
${b.failures.length ? html`<p class="small">Failed, and failed again when the file was re-run:</p>${testList(b.failures, b.failures.length)}` : ''}
${b.flaky.length ? html`<p class="small muted">Failed once and passed when the file was re-run (timing on a loaded machine; not counted):</p>${testList(b.flaky, b.flaky.length)}` : ''}`;
}

function faultRow(f: SelftestFaultResult): Raw {
  const v = VERDICT[f.verdict];
  return html`<tr class="fault-${f.verdict}" id="fault-${idPart(f.name)}"><td class="mono nowrap">${f.name}</td><td>${f.description}</td><td class="small">${statements(f)}</td>
<td><span class="badge ${v.cls}">${v.text}</span></td>
<td>${f.verdict === 'caught' ? html`<strong>${f.caughtBy}</strong> test${f.caughtBy === 1 ? '' : 's'}${f.naming !== undefined ? html` <span class="small muted">(${f.naming} naming a statement it breaks)</span>` : ''}` : ''}${testList(f.tests, f.caughtBy)}${f.note ? html`<div class="small muted">${f.note}</div>` : ''}</td>
<td class="small nowrap">${secs(f.durationMs)}</td></tr>`;
}

function block(f: LoadedResults, i: number): Raw {
  const s = f.results.selftest!;
  const missed = s.faults.filter((x) => x.verdict !== 'caught');
  return html`<div class="selftest" id="${selftestBlockId(i)}">
<p><span class="verdict ${allGood(s) ? 's-pass' : 's-fail'}">${scoreText(s)}</span></p>
${missed.length ? html`<p>Not caught: ${missed.map((x, k) => html`${k ? ', ' : ''}<a href="#fault-${idPart(x.name)}" class="mono">${x.name}</a>${x.verdict === 'error' ? ' (no verdict)' : ''}`)}</p>` : ''}
${baselineBlock(s.baseline)}
<p class="small muted">${s.mode === 'quick' ? 'quick mode: per fault only the suite files whose tests name its statements' : 'full mode: every suite file against every fault'}; files: ${s.files.join(', ')}; ${secs(s.durationMs)} in all; from ${f.source}</p>
<div class="table-wrap"><table class="data selftest-faults"><thead><tr><th>fault</th><th>what the broker does wrong</th><th>statements it breaks</th><th>caught</th><th>by which tests</th><th>run</th></tr></thead>
<tbody>${s.faults.map(faultRow)}</tbody></table></div></div>`;
}

/** The section body: one block per selftest results file. */
export function renderSelftest(files: LoadedResults[]): Raw {
  return html`<p class="small">The conformance suites run against the reference broker with one deliberate fault at a time (reference-broker/core/faults.ts). A fault is caught when at least one test fails against it; the correct broker must have no failure.</p>${files.map(block)}`;
}

/** The overview card of one selftest results file. */
export function selftestCard(f: LoadedResults, i: number): Raw {
  const s = f.results.selftest!;
  const b = BASELINE[s.baseline.verdict];
  return html`<div class="card"><h3><a href="#${selftestBlockId(i)}">suite self-check</a></h3><div><span class="badge ${allGood(s) ? 's-pass' : 's-fail'}">${scoreText(s)}</span></div><div class="small">correct broker: <span class="badge ${b.cls}">${b.text}</span></div><div class="small muted">${s.mode}, ${secs(s.durationMs)}</div></div>`;
}

/** Benchmark results (scenario runs: MQTT vs HTTP vs CoAP): numbers table, charts, claims. */
import type { BenchmarkResults, ClaimCheck, ProtocolRun } from '../../results/types.js';
import type { LoadedResults } from '../compare.js';
import { offeredAchievedChart, percentileChart, stackedChart, type CurveSeries } from './charts.js';
import { bytes, html, idPart, num, us, type Raw } from './escape.js';

const runLabel = (r: ProtocolRun): string => r.variant || r.protocol.toUpperCase();

/** Set-up bytes spread over the messages sent, per message. */
export function setupPerMessage(r: ProtocolRun): number {
  const n = Math.max(1, r.messages.sent);
  return r.bytes.app.setup / n;
}

export function byteSegments(r: ProtocolRun): Array<{ key: string; label: string; value: number }> {
  const a = r.bytes.app;
  const other = a.perMessage - a.payloadPerMessage - a.headersPerMessage - a.acksPerMessage;
  return [
    { key: 'setup', label: 'set-up (amortised over the messages sent)', value: setupPerMessage(r) },
    { key: 'headers', label: 'headers', value: a.headersPerMessage },
    { key: 'acks', label: 'acks / empty responses', value: a.acksPerMessage },
    { key: 'payload', label: 'payload', value: a.payloadPerMessage },
    { key: 'other', label: 'other (keep-alives …)', value: other > 0.05 ? other : 0 },
  ];
}

function runsTable(b: BenchmarkResults): Raw {
  const rows = b.runs.map((r, i) => {
    const c = r.latencyUs.corrected;
    const m = r.messages;
    return html`<tr><td><span class="k${(i % 8) + 1}"><span class="sw k"></span></span>${runLabel(r)}</td><td>${r.protocol}</td><td class="n">${num(r.offeredRate, 1)}</td><td class="n">${num(r.achievedRate, 1)}</td>
<td class="n">${us(c.p50)}</td><td class="n">${us(c.p90)}</td><td class="n">${us(c.p99)}</td><td class="n">${us(c.p999)}</td><td class="n">${us(c.max)}</td><td class="n">${us(r.latencyUs.uncorrected.p99)}</td>
<td class="n">${num(r.bytes.app.perMessage, 1)}</td><td class="n">${bytes(r.bytes.app.setup)}</td><td class="n">${r.bytes.ip ? num(r.bytes.ip.perMessage, 1) : '–'}</td>
<td class="n">${num(m.sent)}/${num(m.intended)}</td><td class="n">${num(m.received)}</td><td class="n${m.lost + m.errors + m.timeouts > 0 ? ' s-fail' : ''}">${num(m.lost)}/${num(m.errors)}/${num(m.timeouts)}</td>
<td class="n">${num(r.cpu.serverMs)}/${num(r.cpu.clientMs)}</td><td class="n">${num(r.memory.serverPeakKiB)}/${num(r.memory.clientPeakKiB)}</td><td class="n">${num(r.durationS, 1)}</td></tr>`;
  });
  return html`<div class="table-wrap"><table class="data runs"><thead><tr><th>variant</th><th>protocol</th><th class="n">offered msg/s</th><th class="n">achieved msg/s</th>
<th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">p99.9</th><th class="n">max</th><th class="n" title="from the actual send time, not corrected for coordinated omission">p99 uncorr.</th>
<th class="n">B/msg (app)</th><th class="n">set-up</th><th class="n">B/msg (IP)</th><th class="n">sent/intended</th><th class="n">received</th><th class="n">lost/errors/timeouts</th><th class="n">CPU ms server/client</th><th class="n">peak KiB server/client</th><th class="n">s</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function settingsTable(b: BenchmarkResults): Raw {
  const keys = [...new Set(b.runs.flatMap((r) => Object.keys(r.settings)))];
  if (keys.length === 0) return html``;
  const rows = b.runs.map((r) => html`<tr><td>${runLabel(r)}</td>${keys.map((k) => html`<td class="small">${fmtValue(r.settings[k])}</td>`)}</tr>`);
  return html`<details><summary>settings per variant</summary><table class="data"><thead><tr><th>variant</th>${keys.map((k) => html`<th>${k}</th>`)}</tr></thead><tbody>${rows}</tbody></table></details>`;
}

export function fmtValue(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v) ?? String(v);
}

export function kvTable(o: Record<string, unknown>, caption?: string): Raw {
  const rows = Object.entries(o).map(([k, v]) => html`<tr><th>${k}</th><td>${typeof v === 'object' && v !== null ? html`<pre>${JSON.stringify(v, null, 2)}</pre>` : fmtValue(v)}</td></tr>`);
  return html`<table class="data kv">${caption ? html`<caption class="small muted">${caption}</caption>` : ''}<tbody>${rows}</tbody></table>`;
}

export const VERDICT_CLASS: Record<ClaimCheck['verdict'], string> = { holds: 's-pass', 'does not hold': 's-fail', 'not measured': 's-skip' };

export function claimsTable(b: BenchmarkResults): Raw {
  if (b.claims.length === 0) return html`<p class="muted">No claims checked in this run.</p>`;
  return html`<table class="data claims"><thead><tr><th>claim</th><th>measured</th><th>verdict</th></tr></thead><tbody>${b.claims.map((c) => html`<tr><td>${c.claim}</td><td>${c.measured}</td><td><span class="badge ${VERDICT_CLASS[c.verdict] ?? ''}">${c.verdict}</span></td></tr>`)}</tbody></table>`;
}

function saturation(b: BenchmarkResults): Raw {
  const with_ = b.runs.filter((r) => r.saturation && r.saturation.steps.length > 0);
  if (with_.length === 0) return html``;
  return html`<details><summary>saturation search (offered vs achieved per step)</summary>${with_.map((r) => html`<h4>${runLabel(r)}: saturates at ${num(r.saturation!.saturationRate, 1)} msg/s${r.saturation!.stoppedBecause ? html` <span class="muted small">(stopped: ${r.saturation!.stoppedBecause})</span>` : ''}</h4><table class="data"><thead><tr><th class="n">offered</th><th class="n">achieved</th><th class="n">p99</th><th class="n">errors</th></tr></thead><tbody>${r.saturation!.steps.map((s) => html`<tr><td class="n">${num(s.offered, 1)}</td><td class="n">${num(s.achieved, 1)}</td><td class="n">${us(s.p99Us)}</td><td class="n">${num(s.errors)}</td></tr>`)}</tbody></table>`)}</details>`;
}

export function benchmarkBlockId(i: number, b: BenchmarkResults): string {
  return `bench-${i}-${idPart(b.scenario)}-${idPart(b.deviceProfile.name)}`;
}

export function renderBenchmark(f: LoadedResults, i: number, repeat = ''): Raw {
  const b = f.results.benchmark!;
  const series: CurveSeries[] = b.runs.flatMap((r, k) => [
    { label: runLabel(r), points: r.latencyUs.corrected.distribution, colour: k + 1 },
    { label: `${runLabel(r)} (uncorrected)`, points: r.latencyUs.uncorrected.distribution, colour: k + 1, dashed: true },
  ]);
  const notes = b.runs.flatMap((r) => (r.notes ?? []).map((n) => html`<li><strong>${runLabel(r)}</strong>: ${n}</li>`));
  const catchUp = b.runs.filter((r) => r.catchUp).map((r) => html`<li><strong>${runLabel(r)}</strong>: a late subscriber got ${num(r.catchUp!.got)} of ${num(r.catchUp!.items)} items in ${num(r.catchUp!.ms, 1)} ms, ${bytes(r.catchUp!.bytes)}</li>`);
  const device = Object.fromEntries(Object.entries(b.deviceProfile).filter(([k]) => k !== 'name'));
  return html`<section class="bench" id="${benchmarkBlockId(i, b)}"><h3>${b.scenario} <span class="muted">on ${b.deviceProfile.name}${repeat}</span>${f.results.target ? html` <span class="muted small">against ${f.results.target.name}</span>` : ''}</h3>
<p class="small muted">${f.source} · ${f.results.createdAt}</p>
${runsTable(b)}
<div class="charts">
${percentileChart(series, `Latency by percentile: ${b.scenario} on ${b.deviceProfile.name}`, 'corrected for coordinated omission (from the intended send time)')}
${offeredAchievedChart(b.runs.map((r, k) => ({ label: runLabel(r), colour: k + 1, offered: r.offeredRate, achieved: r.achievedRate })), 'Throughput: offered vs achieved')}
${stackedChart(b.runs.map((r) => ({ label: runLabel(r), segments: byteSegments(r) })), 'Bytes on the wire per message (application layer)', 'B', 'set-up = connection set-up bytes ÷ messages sent')}
</div>
${catchUp.length ? html`<h4>Catching up (late subscriber)</h4><ul>${catchUp}</ul>` : ''}
${notes.length ? html`<h4>Problems seen during the runs</h4><ul>${notes}</ul>` : ''}
${saturation(b)}
${settingsTable(b)}
<details><summary>workload and device profile</summary><div class="cards"><div>${kvTable(b.workload, 'workload')}</div><div>${kvTable({ name: b.deviceProfile.name, ...device }, 'device profile')}</div></div></details>
<h4>Claims checked</h4>${claimsTable(b)}
</section>`;
}

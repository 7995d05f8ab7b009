/**
 * The compact table printed at the end of a benchmark: one row per
 * protocol variant with achieved rate, latency percentiles from the
 * intended send time, bytes per message (application layer, and IP layer
 * when measured), set-up bytes, CPU and peak memory, and what went wrong.
 */
import type { BenchmarkResults, ProtocolRun } from '../results/types.js';

const us = (x: number): string => (x >= 100_000 ? `${(x / 1000).toFixed(0)}ms` : x >= 10_000 ? `${(x / 1000).toFixed(1)}ms` : `${Math.round(x)}`);
const num = (x: number, d = 1): string => (Math.abs(x) >= 1000 ? x.toFixed(0) : x.toFixed(d));

export function runRow(r: ProtocolRun): string[] {
  const m = r.messages;
  const problems = [m.errors && `${m.errors} err`, m.timeouts && `${m.timeouts} t/o`, m.lost && `${m.lost} lost`].filter(Boolean).join(', ') || '0';
  return [
    r.variant,
    num(r.offeredRate),
    num(r.achievedRate),
    us(r.latencyUs.corrected.p50),
    us(r.latencyUs.corrected.p99),
    us(r.latencyUs.corrected.p999),
    us(r.latencyUs.uncorrected.p99),
    num(r.bytes.app.perMessage),
    r.bytes.ip ? num(r.bytes.ip.perMessage) : '-',
    String(r.bytes.app.setup),
    String(Math.round(r.cpu.serverMs)),
    String(Math.round(r.cpu.clientMs)),
    (r.memory.serverPeakKiB / 1024).toFixed(0),
    (r.memory.clientPeakKiB / 1024).toFixed(0),
    problems,
  ];
}

export const TABLE_HEAD = ['variant', 'offered/s', 'achieved/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'p99 uncorr', 'B/msg app', 'B/msg IP', 'setup B', 'srv CPU ms', 'dev CPU ms', 'srv MiB', 'dev MiB', 'errors'];

export function renderTable(rows: string[][], head: string[] = TABLE_HEAD): string {
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The whole summary: table, byte split, claims. */
export function renderSummary(b: BenchmarkResults): string {
  const out: string[] = [];
  out.push(`scenario ${b.scenario} on profile ${b.deviceProfile.name}: latency from the intended send time (open loop), window ${String(b.workload['durationS'])} s`);
  out.push(renderTable(b.runs.map(runRow)));
  out.push('');
  out.push('bytes per message, application layer: payload + headers + acks (+ keep-alive/other), and set-up before the window');
  out.push(renderTable(b.runs.map((r) => {
    const a = r.bytes.app;
    const other = Math.max(0, a.perMessage - a.payloadPerMessage - a.headersPerMessage - a.acksPerMessage);
    return [r.variant, num(a.perMessage), num(a.payloadPerMessage), num(a.headersPerMessage), num(a.acksPerMessage), num(other), String(a.setup), r.bytes.ip ? `${num(r.bytes.ip.perMessage)} (${r.bytes.ip.packets ?? '?'} pkts)` : '-'];
  }), ['variant', 'B/msg', 'payload', 'headers', 'acks', 'other', 'setup B', 'IP B/msg']));
  const sat = b.runs.filter((r) => r.saturation);
  if (sat.length > 0) {
    out.push('');
    out.push('saturation (step search of the offered rate)');
    for (const r of sat) {
      const s = r.saturation!;
      const steps = s.steps.map((x) => `${num(x.offered, 0)}→${num(x.achieved, 0)}/s p99 ${us(x.p99Us)}${x.errors ? ` ${x.errors} err` : ''}`).join(', ');
      // Stopped by the step or time bound before anything gave: the rate is a lower bound.
      const bound = /^(step limit|time budget|maxMessages)/.test(s.stoppedBecause ?? '') ? '≥' : '≈';
      out.push(`  ${r.variant}: saturation ${bound} ${num(s.saturationRate, 0)}/s (${s.stoppedBecause ?? ''}); ${steps}${s.autocannon ? `; autocannon ${num(s.autocannon.requestsPerS, 0)} req/s with ${s.autocannon.connections} connections` : ''}`);
    }
  }
  const catchUps = b.runs.filter((r) => r.catchUp);
  if (catchUps.length > 0) {
    out.push('');
    out.push('late subscriber catch-up (all configs + latest states)');
    for (const r of catchUps) out.push(`  ${r.variant}: ${r.catchUp!.got}/${r.catchUp!.items} items in ${r.catchUp!.ms.toFixed(1)} ms, ${r.catchUp!.bytes} B`);
  }
  out.push('');
  out.push('claims');
  for (const c of b.claims) out.push(`  [${c.verdict}] ${c.claim}\n      ${c.measured}`);
  return out.join('\n');
}

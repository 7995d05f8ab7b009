/**
 * Figures, flags, ratios and targets of the broker benchmark, and the text
 * tables printed for them.
 */
import type { BrokerKind, MemoryUsage } from './processes.js';
import type { LatencySummary, LoadResult, ScenarioName } from './protocol.js';

/** A generator above this share of one core is taken to be what limits the figure. */
export const GENERATOR_BOUND_PCT = 90;
/** Other work on the machine above this share of one core makes a figure noisy. */
export const NOISY_PCT = 25;

export interface IdleFigure {
  requested: number;
  connected: number;
  failed: number;
  firstError: string | undefined;
  openSeconds: number;
  rssBefore: number | undefined;
  rssAfter: number | undefined;
  /** (RSS after − RSS before) / connected, bytes. */
  perConnection: number | undefined;
  /** Node brokers: heap used before and after (after a full GC), and per connection. */
  heapBefore: MemoryUsage | undefined;
  heapAfter: MemoryUsage | undefined;
  heapPerConnection: number | undefined;
}

export interface Figure {
  broker: BrokerKind;
  ok: boolean;
  error?: string;
  load?: LoadResult;
  idle?: IdleFigure;
  /** Our broker's own counters after the run. */
  brokerStats?: unknown;
  flags: string[];
  /** With several rounds: each round's figure (this one holds their medians). */
  rounds?: Figure[];
}

export interface Comparison {
  what: string;
  other: BrokerKind;
  ours: number | undefined;
  theirs: number | undefined;
  /** ours / theirs. */
  ratio: number | undefined;
  target?: { op: '>=' | '<='; value: number; met: boolean | undefined; inconclusive?: string };
}

export interface ScenarioReport {
  scenario: ScenarioName;
  title: string;
  params: Record<string, unknown>;
  figures: Figure[];
  comparisons: Comparison[];
  /** Targets that do not compare with a peer (idle memory). */
  absolute: { what: string; value: number | undefined; op: '<='; limit: number; unit: string; met: boolean | undefined }[];
}

export function loadFlags(r: LoadResult, scenario: ScenarioName, rate: number): string[] {
  const f: string[] = [];
  const threads = Math.max(r.cpu.publisherThread ?? 0, r.cpu.subscriberThread ?? 0);
  if (r.cpu.generatorProcess >= GENERATOR_BOUND_PCT || threads >= GENERATOR_BOUND_PCT) f.push('generator-bound');
  if (r.totals.gaps > 0 || !r.totals.drained) f.push(`lossy(${r.totals.expected - r.totals.received} of ${r.totals.expected} missing)`);
  if (r.totals.outOfOrder > 0) f.push(`out-of-order(${r.totals.outOfOrder})`);
  if (r.totals.stalls > 0) f.push(`stalled×${r.totals.stalls}`);
  if (r.totals.capped) f.push('capped');
  if ((r.cpu.others ?? 0) >= NOISY_PCT) f.push('noisy');
  if (scenario === 'latency' && r.receivedPerSecond < rate * 0.95) f.push('rate-not-met');
  // The generator's own lateness is inside the corrected latency: flag it when it is a large share of the p99.
  if (r.sendLag && r.sendLag.p99 >= 0.25 * r.latency.p99) f.push('generator-late');
  return f;
}

function figureOf(figs: Figure[], b: BrokerKind): Figure | undefined {
  return figs.find((f) => f.broker === b && f.ok);
}

/** ours/other for each peer; `higherIsBetter` decides the direction of the target. */
export function compare(
  figs: Figure[], what: string, value: (f: Figure) => number | undefined,
  targets: Partial<Record<BrokerKind, { op: '>=' | '<='; value: number }>>,
): Comparison[] {
  const ours = figureOf(figs, 'ours');
  const out: Comparison[] = [];
  for (const other of ['aedes', 'mosquitto'] as const) {
    if (!figs.some((f) => f.broker === other)) continue;
    const theirs = figureOf(figs, other);
    const a = ours ? value(ours) : undefined;
    const b = theirs ? value(theirs) : undefined;
    const ratio = a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
    const c: Comparison = { what, other, ours: a, theirs: b, ratio };
    const t = targets[other];
    if (t) {
      const met = ratio === undefined ? undefined : t.op === '>=' ? ratio >= t.value : ratio <= t.value;
      const why: string[] = [];
      for (const flag of ['generator-bound', 'generator-late', 'lossy']) {
        const who = [ours, theirs].filter((f) => f?.flags.some((x) => x.startsWith(flag))).map((f) => f!.broker);
        if (who.length > 0) why.push(`${flag}: ${who.join(', ')}`);
      }
      c.target = { ...t, met, inconclusive: why.length > 0 ? why.join('; ') : undefined };
    }
    out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------- text

const int = (n: number | undefined): string => (n === undefined ? '—' : Math.round(n).toLocaleString('en-US'));
const pct = (n: number | undefined): string => (n === undefined ? '—' : `${Math.round(n)}%`);
const kib = (n: number | undefined): string => (n === undefined ? '—' : (n / 1024).toFixed(2));
const mib = (n: number | undefined): string => (n === undefined ? '—' : (n / 1048576).toFixed(1));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function genCpu(r: LoadResult): string {
  return `${pct(r.cpu.generatorProcess)} (${pct(r.cpu.publisherThread)}/${pct(r.cpu.subscriberThread)})`;
}

function lat(s: LatencySummary): string[] {
  return [int(s.p50), int(s.p90), int(s.p99), int(s.p999), int(s.max)];
}

export function renderScenario(rep: ScenarioReport): string {
  const out: string[] = [rep.title];
  const failed = rep.figures.filter((f) => !f.ok).map((f) => `  ${f.broker}: FAILED: ${f.error ?? ''}`);
  if (rep.scenario === 'idle') {
    const rows = rep.figures.filter((f) => f.ok && f.idle).map((f) => {
      const i = f.idle!;
      return [f.broker, `${int(i.connected)}/${int(i.requested)}`, i.openSeconds.toFixed(1), mib(i.rssBefore), mib(i.rssAfter), kib(i.perConnection), kib(i.heapPerConnection), f.flags.join(' ')];
    });
    out.push(table(['broker', 'connected', 'open s', 'RSS before MiB', 'RSS after MiB', 'KiB/conn (RSS)', 'KiB/conn (JS heap)', 'flags'], rows));
  } else if (rep.scenario === 'latency') {
    const rows = rep.figures.filter((f) => f.ok && f.load).map((f) => {
      const r = f.load!;
      return [f.broker, int(r.receivedPerSecond), ...lat(r.latency), ...lat(r.latencyUncorrected).filter((_, i) => i !== 1), int(r.sendLag?.p99), genCpu(r), pct(r.cpu.broker), pct(r.cpu.others), r.totals.gaps > 0 ? int(r.totals.gaps) : '0', f.flags.join(' ')];
    });
    out.push(table(['broker', 'msg/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'uncorr p50', 'p99', 'p99.9', 'max', 'send lag p99', 'gen CPU (pub/sub)', 'broker CPU', 'others', 'lost', 'flags'], rows));
    out.push('latency in µs from the intended send time (corrected for coordinated omission); "uncorr" from the actual write call; send lag = write call − intended time');
  } else {
    const rows = rep.figures.filter((f) => f.ok && f.load).map((f) => {
      const r = f.load!;
      return [f.broker, int(r.receivedPerSecond), int(r.offeredPerSecond), int(r.latency.p50), int(r.latency.p99), int(r.latency.p999), int(r.latency.max), int(r.totals.expected - r.totals.received), genCpu(r), pct(r.cpu.broker), pct(r.cpu.others), f.flags.join(' ')];
    });
    const unit = rep.scenario === 'fanout' ? 'deliveries/s' : 'msg/s';
    out.push(table(['broker', `received ${unit}`, `offered ${unit}`, 'lat p50 µs', 'p99', 'p99.9', 'max', 'lost', 'gen CPU (pub/sub)', 'broker CPU', 'others', 'flags'], rows));
    out.push('latency under saturation, µs from the write call to receipt; CPU in % of one core over the measured window');
  }
  const counted = rep.figures.filter((f) => f.ok && f.load).map((f) => {
    const t = f.load!.totals;
    return `${f.broker} ${int(f.load!.sent)}/${int(f.load!.received)} in ${f.load!.windowSeconds.toFixed(2)} s (run: ${int(t.sent)} sent, ${int(t.received)}/${int(t.expected)} delivered)`;
  });
  if (counted.length > 0) out.push(`messages sent/deliveries received in the window: ${counted.join('; ')}`);
  out.push(...failed);
  for (const c of rep.comparisons) out.push(`  ${comparisonLine(c)}`);
  for (const a of rep.absolute) {
    const verdict = a.met === undefined ? 'n/a' : a.met ? 'met' : 'NOT MET';
    out.push(`  ${a.what} = ${a.value === undefined ? '—' : a.value.toFixed(2)} ${a.unit} (target ${a.op} ${a.limit} ${a.unit}: ${verdict})`);
  }
  return out.join('\n');
}

export function comparisonLine(c: Comparison): string {
  const r = c.ratio === undefined ? '—' : `${c.ratio.toFixed(2)}×`;
  let s = `ours/${c.other} ${c.what}: ${r}`;
  if (c.target) {
    const verdict = c.target.met === undefined ? 'n/a' : c.target.met ? 'met' : 'NOT MET';
    s += ` (target ${c.target.op} ${c.target.value}×: ${verdict}${c.target.inconclusive ? `; inconclusive, ${c.target.inconclusive}` : ''})`;
  }
  return s;
}

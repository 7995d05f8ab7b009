/**
 * The scenario runner: for each protocol variant, a server-side process and
 * a device-side process (spawned through the placement: plain child
 * processes on the host profile, the device profile's namespaces and cgroup
 * otherwise), a shared open-loop schedule clock, and one ProtocolRun from
 * their reports; then the claim checks, a results file (kind 'benchmark',
 * validated before it is written) and a compact table.
 *
 * Every run is bounded: start-up and connect timeouts, the schedule's
 * deadline (warm-up + window + drain), a report timeout after it; every
 * process started is stopped by its PID at the end of its variant.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { mosquittoVersion } from '../harness/launchers/mosquitto.js';
import { decodeHistogram, distributionPoints, type Histogram } from '../harness/meters/histogram.js';
import { newResults, writeResults } from '../results/io.js';
import type { BenchmarkResults, Percentiles, ProtocolRun, ResultsFile } from '../results/types.js';
import { validateResults } from '../results/validate.js';
import { appByteSplit, ipByteSplit, type IpCounts } from './accounting/split.js';
import { packageVersion } from './adapters/names.js';
import type { DeviceObservations, SideConfig, VariantSpec } from './adapters/types.js';
import { checkClaims, type ClaimInput } from './claims.js';
import type { Placement } from './placement.js';
import { SideProcess } from './proc/side-process.js';
import type { FromSide, SideReport } from './proc/messages.js';
import { silentProgress, type ProgressSink } from './progress.js';
import { saturationSearch, type SaturationOptions } from './saturation.js';
import { atInstant } from './adapters/context.js';
import { runClock } from './schedule/open-loop.js';
import { renderSummary } from './table.js';
import { deliveriesPerMessage, type Workload } from './workload.js';

export function toPercentiles(h: Histogram): Percentiles {
  const empty = h.totalCount === 0;
  return {
    count: h.totalCount,
    mean: empty ? 0 : Math.round(h.mean * 10) / 10,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: empty ? 0 : h.maxValue,
    distribution: distributionPoints(h),
  };
}

export interface VariantRunOptions {
  workload: Workload;
  variant: VariantSpec;
  placement: Placement;
  progress?: ProgressSink;
  /** Futex-precise schedule waits (default true). */
  precise?: boolean;
  index?: number;
  of?: number;
}

export interface VariantOutcome {
  run: ProtocolRun;
  observations: DeviceObservations | undefined;
  server: SideReport;
  device: SideReport;
}

/** Who runs the schedule and who records latency, per pattern. */
export function roles(w: Workload): { sender: 'server' | 'device'; receiver: 'server' | 'device' } {
  switch (w.pattern) {
    case 'fan-out': return { sender: 'server', receiver: 'device' };
    case 'command-response': return { sender: 'server', receiver: 'server' };
    default: return { sender: 'device', receiver: 'server' };
  }
}

const START_MARGIN_MS = 400;

/** Runs one variant: both processes, the schedule, the reports; always stops both processes. */
export async function runVariant(o: VariantRunOptions): Promise<VariantOutcome> {
  const { workload: w, variant: v, placement: pl } = o;
  const progress = o.progress ?? silentProgress;
  const base: SideConfig = { workload: w, variant: v, bindHost: pl.bindHost, serverHost: pl.serverHost, precise: o.precise ?? true };
  const { sender, receiver } = roles(w);
  const last: Record<'server' | 'device', Extract<FromSide, { type: 'progress' }> | undefined> = { server: undefined, device: undefined };
  // Per role: the rate over its last two progress lines (each side reports once a second on its own clock).
  const rate: Record<'server' | 'device', { t: number; sent: number; received: number; sentPerS: number; receivedPerS: number }> = {
    server: { t: 0, sent: 0, received: 0, sentPerS: 0, receivedPerS: 0 },
    device: { t: 0, sent: 0, received: 0, sentPerS: 0, receivedPerS: 0 },
  };
  let clockT0 = 0n;
  const totalS = w.warmupS + w.durationS + w.drainS;
  const onProgress = (m: Extract<FromSide, { type: 'progress' }>): void => {
    if (m.role !== 'server' && m.role !== 'device') return;
    if (clockT0 === 0n) return;
    const elapsedS = Number(process.hrtime.bigint() - clockT0) / 1e9;
    const rt = rate[m.role];
    const dt = Math.max(0.001, elapsedS - rt.t);
    rate[m.role] = { t: elapsedS, sent: m.sent, received: m.received, sentPerS: (m.sent - rt.sent) / dt, receivedPerS: (m.received - rt.received) / dt };
    last[m.role] = m;
    const s = last[sender];
    const r = last[receiver];
    if (!s || !r || m.role !== receiver) return;
    progress.tick({
      variant: v.id, elapsedS, totalS,
      phase: elapsedS < w.warmupS ? 'warm-up' : elapsedS < w.warmupS + w.durationS ? 'window' : 'drain',
      sent: s.sent, received: r.received,
      sentPerS: rate[sender].sentPerS, receivedPerS: rate[receiver].receivedPerS,
      errors: (last.server?.errors ?? 0) + (last.device?.errors ?? 0),
      timeouts: (last.server?.timeouts ?? 0) + (last.device?.timeouts ?? 0),
    });
  };

  const server = new SideProcess('server', pl.spawnServer, onProgress);
  let device: SideProcess | undefined;
  try {
    server.send({ type: 'config', role: 'server', config: base });
    const sReady = await server.next('ready', 30_000, 'ready (server listening)');
    const ip0 = await pl.ipCounters?.();
    device = new SideProcess('device', pl.spawnDevice, onProgress);
    device.send({ type: 'config', role: 'device', config: { ...base, endpoints: sReady.info!.endpoints } });
    const dReady = await device.next('ready', 30_000 + w.devices * 200, `ready (${w.devices} devices connected)`);
    const ip1 = await pl.ipCounters?.();

    const t0 = process.hrtime.bigint() + BigInt(START_MARGIN_MS) * 1_000_000n;
    const clock = runClock(t0, w.warmupS, w.durationS, w.drainS);
    clockT0 = t0;
    const ipWindow: Array<Promise<IpCounts | undefined>> = [];
    const usage: Array<ReturnType<NonNullable<Placement['deviceUsage']>>> = [];
    const cancels = [
      atInstant(clock.windowStartNs, () => {
        ipWindow[0] = pl.ipCounters?.() ?? Promise.resolve(undefined);
        usage[0] = pl.deviceUsage?.();
      }),
      atInstant(clock.windowEndNs, () => {
        ipWindow[1] = pl.ipCounters?.() ?? Promise.resolve(undefined);
        usage[1] = pl.deviceUsage?.();
      }),
    ];
    const clockJson = { t0Ns: String(clock.t0Ns), windowStartNs: String(clock.windowStartNs), windowEndNs: String(clock.windowEndNs), deadlineNs: String(clock.deadlineNs) };
    server.send({ type: 'start', clock: clockJson });
    device.send({ type: 'start', clock: clockJson });
    const reportWaitMs = START_MARGIN_MS + totalS * 1000 + 20_000 + w.timeoutMs;
    const [sRep, dRep] = (await Promise.all([
      server.next('report', reportWaitMs, 'its report'),
      device.next('report', reportWaitMs, 'its report'),
    ])).map((m) => m.report) as [SideReport, SideReport];
    for (const c of cancels) c();
    const [ipA, ipB] = await Promise.all([ipWindow[0], ipWindow[1]]);
    const ip = ip0 && ip1 && ipA && ipB
      ? { setup: { bytes: ip1.bytes - ip0.bytes, packets: ip1.packets - ip0.packets }, window: { bytes: ipB.bytes - ipA.bytes, packets: ipB.packets - ipA.packets } }
      : undefined;
    const devUsage = usage[0] && usage[1] ? { cpuMs: usage[1].cpuMs - usage[0].cpuMs, peakKiB: usage[1].memoryPeakKiB, throttledMs: (usage[1].throttledMs ?? 0) - (usage[0].throttledMs ?? 0) } : undefined;
    const run = compose(w, v, sRep, dRep, sReady.info!.settings, dReady.settings ?? {}, ip, devUsage);
    progress.end(`${v.id}: offered ${run.offeredRate.toFixed(1)}/s, achieved ${run.achievedRate.toFixed(1)}/s, p50 ${run.latencyUs.corrected.p50} µs, p99 ${run.latencyUs.corrected.p99} µs, ` +
      `${run.bytes.app.perMessage} B/msg, errors ${run.messages.errors}, timeouts ${run.messages.timeouts}, lost ${run.messages.lost}`);
    return { run, observations: dRep.observations, server: sRep, device: dRep };
  } finally {
    await Promise.all([device?.stop(), server.stop()]);
  }
}

function compose(
  w: Workload, v: VariantSpec, s: SideReport, d: SideReport, serverSettings: Record<string, unknown>, deviceSettings: Record<string, unknown>,
  ip: { setup: IpCounts; window: IpCounts } | undefined, devUsage: { cpuMs: number; peakKiB: number; throttledMs: number } | undefined,
): ProtocolRun {
  const { sender, receiver } = roles(w);
  const snd = sender === 'server' ? s : d;
  const rcv = receiver === 'server' ? s : d;
  const sched = snd.schedule;
  const fan = deliveriesPerMessage(w);
  const intended = (sched?.intended ?? 0) * fan;
  const sent = (sched?.sent ?? 0) * fan;
  const received = rcv.latency.received;
  const lost = Math.max(0, sent - received);
  const bytes = d.bytes!;
  const notes: string[] = [];
  for (const rep of [s, d]) for (const n of rep.errorNotes) notes.push(`${rep.role}: ${n}`);
  if (lost > 0) notes.push(`${lost} of ${sent} messages sent in the window never arrived before the deadline (window end + ${w.drainS} s drain)`);
  if (received > sent) notes.push(`${received - sent} more messages received than sent (duplicates: QoS 1 redelivery or retransmissions)`);
  if (rcv.latency.late > 0) notes.push(`${rcv.latency.late} arrived after the deadline (counted lost)`);
  if (rcv.latency.undecodable > 0) notes.push(`${rcv.latency.undecodable} payloads without a readable stamp`);
  if (sched && sched.notSent > 0) notes.push(`the sender fell behind: ${sched.notSent} scheduled messages were not sent by the deadline`);
  if (sched && sched.scheduleError.p99Us > 1000) notes.push(`schedule error p99 ${sched.scheduleError.p99Us} µs (max ${sched.scheduleError.maxUs} µs): the sending process was late; corrected latency includes it, uncorrected does not`);
  const windowMs = w.durationS * 1000;
  const extraCpu = s.extra.reduce((a, x) => a + (x.cpu?.windowMs ?? 0), 0);
  const extraMem = s.extra.reduce((a, x) => a + (x.peakKiB ?? 0), 0);
  const clientMs = devUsage?.cpuMs ?? d.cpu.windowMs;
  if (d.cpu.windowMs / windowMs >= 0.9) notes.push(`the device process used ${Math.round((100 * d.cpu.windowMs) / windowMs)}% of a core: the figures may be the load generator's, not the protocol's`);
  if ((s.cpu.windowMs + extraCpu) / windowMs >= 0.9) notes.push(`the server side used ${Math.round((100 * (s.cpu.windowMs + extraCpu)) / windowMs)}% of a core: it is saturated`);
  if (s.extra.length > 0) notes.push(`server side = server process (${s.cpu.windowMs} ms CPU, ${Math.round(s.peakKiB / 1024)} MiB) + ${s.extra.map((x) => `${x.name} pid ${x.pid} (${x.cpu?.windowMs ?? '?'} ms, ${x.peakKiB !== undefined ? Math.round(x.peakKiB / 1024) : '?'} MiB)`).join(' + ')}`);
  if (devUsage?.throttledMs) notes.push(`the device cgroup was throttled for ${devUsage.throttledMs} ms in the window`);
  const catchUp = d.observations?.catchUp;
  if (catchUp && catchUp.got < catchUp.items) notes.push(`the late subscriber got ${catchUp.got} of ${catchUp.items} items within ${w.timeoutMs} ms`);

  const r = (x: number): number => Math.round(x * 100) / 100;
  const run: ProtocolRun = {
    protocol: v.protocol,
    variant: v.label,
    settings: {
      id: v.id,
      ...(v.mqtt ?? v.http ?? v.coap ?? {}),
      device: deviceSettings,
      server: serverSettings,
      schedule: {
        sender, open: true, precise: sched?.precise ?? true, seed: w.seed,
        ratePerSender: w.ratePerS, senders: sender === 'device' ? w.devices : w.pattern === 'fan-out' ? 1 : w.devices,
        errorUs: sched?.scheduleError,
      },
      payload: w.payload, devices: w.devices,
      ...(w.pattern === 'fan-out' ? { rates: 'deliveries per second (updates × subscribers)' } : {}),
      ...(w.pattern === 'command-response' ? { latency: 'round trip: command intended send → reply received by the server' } : {}),
    },
    offeredRate: r(intended / w.durationS),
    achievedRate: r(received / w.durationS),
    durationS: w.durationS,
    messages: { intended, sent, received, lost, errors: s.errors + d.errors, timeouts: s.timeouts + d.timeouts },
    latencyUs: {
      corrected: toPercentiles(decodeHistogram(rcv.latency.correctedHdr)),
      uncorrected: toPercentiles(decodeHistogram(rcv.latency.uncorrectedHdr)),
    },
    bytes: {
      app: appByteSplit(bytes.setup, bytes.window, bytes.linkMessages, bytes.linkPayload),
      ...(ip ? { ip: ipByteSplit(ip.setup, ip.window, bytes.linkMessages, bytes.linkPayload) } : {}),
    },
    cpu: { serverMs: s.cpu.windowMs + extraCpu, clientMs },
    memory: { serverPeakKiB: s.peakKiB + extraMem, clientPeakKiB: devUsage?.peakKiB ?? d.peakKiB },
    ...(sched?.scheduleErrorHdr !== undefined ? { scheduleErrorUs: toPercentiles(decodeHistogram(sched.scheduleErrorHdr)) } : {}),
    ...(catchUp ? { catchUp } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
  return run;
}

export interface BenchmarkOptions {
  workload: Workload;
  variants: VariantSpec[];
  placement: Placement;
  progress?: ProgressSink;
  precise?: boolean;
  saturation?: SaturationOptions | undefined;
  /** Folder for the results file (default out/bench). */
  outDir?: string;
  /** Written into the manifest. */
  commandLine?: string;
  /** Don't write a file (tests). */
  noWrite?: boolean;
}

export interface BenchmarkOutcome {
  results: ResultsFile;
  path: string | undefined;
  summary: string;
  failures: Array<{ variant: string; error: string }>;
}

export async function runBenchmark(o: BenchmarkOptions): Promise<BenchmarkOutcome> {
  const progress = o.progress ?? silentProgress;
  const startedAt = new Date();
  const load0 = loadavg();
  const runs: ProtocolRun[] = [];
  const claimInputs: ClaimInput[] = [];
  const failures: Array<{ variant: string; error: string }> = [];
  for (const [i, v] of o.variants.entries()) {
    progress.begin(v.label, i + 1, o.variants.length);
    try {
      const out = await runVariant({ workload: o.workload, variant: v, placement: o.placement, progress, precise: o.precise ?? true });
      if (o.saturation) out.run.saturation = await saturationSearch({ workload: o.workload, variant: v, placement: o.placement, progress, precise: o.precise ?? true, options: o.saturation });
      runs.push(out.run);
      claimInputs.push({ run: out.run, observations: out.observations });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      failures.push({ variant: v.label, error: msg });
      progress.end(`${v.id}: FAILED: ${msg.split('\n')[0]}`);
    }
  }
  const w = o.workload;
  const bench: BenchmarkResults = {
    scenario: w.name,
    workload: { ...w } as unknown as Record<string, unknown>,
    deviceProfile: o.placement.describe(),
    runs,
    claims: checkClaims(claimInputs),
  };
  const results = newResults('benchmark');
  results.benchmark = bench;
  results.manifest = await manifest(o, startedAt, load0, failures);
  validateResults(JSON.parse(JSON.stringify(results)) as unknown, 'benchmark results');
  let path: string | undefined;
  if (!o.noWrite) {
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    path = join(o.outDir ?? 'out/bench', `scenario-${w.name}-${stamp}.json`);
    writeResults(path, results);
  }
  return { results, path, summary: renderSummary(bench), failures };
}

async function manifest(o: BenchmarkOptions, startedAt: Date, load0: number[], failures: Array<{ variant: string; error: string }>): Promise<Record<string, unknown>> {
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim();
  } catch { /* not a git checkout */ }
  const c = cpus();
  const [mqttjs, undici, coap, autocannon, hdr] = await Promise.all(['mqtt', 'undici', 'coap', 'autocannon', 'hdr-histogram-js'].map(packageVersion));
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commandLine: o.commandLine,
    commit,
    host: { cpu: c[0]?.model ?? 'unknown', cores: c.length, memoryMiB: Math.round(totalmem() / 1048576), kernel: release(), node: process.version },
    loadAverage: { start: load0, end: loadavg() },
    versions: { mqttjs, undici, coap, autocannon, hdrHistogramJs: hdr, mosquitto: mosquittoVersion() ?? 'not installed' },
    deviceProfile: o.placement.name,
    workload: { name: o.workload.name, seed: o.workload.seed, durationS: o.workload.durationS, warmupS: o.workload.warmupS, drainS: o.workload.drainS, noDelay: o.workload.noDelay },
    schedule: { open: true, precise: o.precise ?? true, clock: 'CLOCK_MONOTONIC (process.hrtime.bigint), shared by all processes of the host' },
    variants: o.variants.map((v) => v.id),
    ...(o.saturation ? { saturation: o.saturation } : {}),
    ...(failures.length > 0 ? { failedVariants: failures } : {}),
    byteMethod: 'scenarios/accounting/split.ts: setup = wire bytes before the window; per message = window bytes / application messages crossing the device link; headers = payload-carrying frames − payload + transport overhead; acks = payload-less frames',
  };
}

/**
 * Measures what the emulated device and link really do, before a run, and
 * judges it against the profile: round trip time and jitter (ping, or a
 * UDP echo where ping is not installed),
 * loss per direction (counted datagrams), bottleneck rate per direction (UDP
 * at 1.3× the rate, received bytes per second), TCP goodput (1 s bulk,
 * informational and capped by the rate), and the CPU quota (a fixed Node
 * loop, unconstrained vs in the device cgroup).
 *
 * Every measurement runs in its own `node probe.mjs` processes (at nice
 * -10) inside the namespaces, outside the device cgroup (the link is
 * measured, not the CPU cap). The judgement returns one line per parameter that is far off, saying
 * what was measured; setup.ts refuses the run on any.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { DeviceCgroup } from './cgroup.js';
import { exec } from './netns.js';
import type { LinkDirection, LinkProfile } from './profiles.js';
import { bin, deviceAsset, killQuiet, resolveCommand, run } from './system.js';

/** A running probe.mjs: its JSON lines in order. */
class Probe {
  readonly child: ChildProcess;
  private readonly lines: unknown[] = [];
  private readonly waiters: Array<() => void> = [];
  private stderr = '';
  private exited = false;
  readonly what: string;

  constructor(ns: string | null, mode: string, opts: Record<string, unknown>, cgroup?: DeviceCgroup) {
    this.what = `probe ${mode}${ns ? ` in ${ns}` : ''}`;
    // nice -10: the measuring processes should see the link, not the scheduling of a busy machine
    const argv = [process.execPath, deviceAsset('probe.mjs'), mode, JSON.stringify(opts)];
    const [cmd, ...args] = NICE ? [NICE, '-n', '-10', ...argv] : argv;
    this.child = exec(ns, cmd as string, args, {
      stdio: ['pipe', 'pipe', 'pipe'], ...(cgroup ? { cgroup } : {}),
    });
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l));
      } catch { return; }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.once('exit', () => {
      this.exited = true;
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.once('error', () => {
      this.exited = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The n-th JSON line (0-based), waiting up to timeoutMs. */
  async line<T>(n: number, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length <= n) {
      if (this.exited) throw new Error(`${this.what} exited without output: ${this.stderr.trim()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.what}: no output within ${timeoutMs} ms ${this.stderr.trim()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.lines[n] as T;
  }

  /** Closes stdin (sinks and echo servers report/exit on that). */
  endInput(): void {
    this.child.stdin?.end();
  }

  kill(): void {
    if (this.child.pid && !this.exited) killQuiet(this.child.pid);
  }
}

const NICE = resolveCommand('nice');
const PORT_ECHO = 47_001;
const PORT_SINK = 47_002;
const PORT_TCP = 47_003;

export interface VerifyTarget {
  deviceNs: string;
  serverNs: string;
  deviceAddress: string;
  serverAddress: string;
}

export interface RttMeasurement {
  sent: number;
  received: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  stddevMs: number;
  /** What the profile implies: delay up + down. */
  expectedMeanMs: number;
  /** sqrt(jitter up² + jitter down²). */
  expectedStddevMs: number;
  intervalMs: number;
  /** `ping` (ICMP echo answered by the server's kernel, receive times from kernel timestamps) or the Node UDP echo. */
  method: string;
}

export interface LossMeasurement {
  sent: number;
  received: number;
  lossPct: number;
  expectedPct: number;
  pps: number;
}

export interface RateMeasurement {
  /** IP-layer Mbit/s received between the first and the last datagram. */
  measuredMbit: number;
  /** Profile rate × (1 − loss). */
  expectedMbit: number;
  offeredMbit: number;
  datagrams: number;
}

export interface LinkMeasurement {
  rtt: RttMeasurement;
  loss?: { up: LossMeasurement; down: LossMeasurement };
  rate?: { up?: RateMeasurement; down?: RateMeasurement };
  /** TCP bulk transfer device → server (application bytes). */
  tcpUp?: { goodputMbit: number; bytes: number; durationMs: number };
  durationMs: number;
}

const ipBytes = (udpPayload: number): number => udpPayload + 28;

function stats(values: number[]): { mean: number; p50: number; p99: number; min: number; max: number; sd: number } {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return { mean: NaN, p50: NaN, p99: NaN, min: NaN, max: NaN, sd: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  const q = (p: number): number => v[Math.min(n - 1, Math.floor(p * n))] as number;
  return { mean, p50: q(0.5), p99: q(0.99), min: v[0] as number, max: v[n - 1] as number, sd };
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** RTT samples (ms) from `ping` in the device namespace, or undefined when ping is not installed. */
async function pingRtts(t: VerifyTarget, count: number, intervalMs: number): Promise<{ sent: number; rttMs: number[] } | undefined> {
  const ping = resolveCommand('ping');
  if (!ping) return undefined;
  const { stdout } = await run(bin('ip'), ['netns', 'exec', t.deviceNs, ping, '-n', '-c', String(count), '-i', String(intervalMs / 1000), '-W', '2', t.serverAddress], { timeout: 30_000 })
    .catch((e: Error & { stdout?: string }) => ({ stdout: e.stdout ?? '' })); // ping exits 1 when a reply is missing
  const rttMs = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(stdout)?.[1] ?? count);
  return { sent, rttMs };
}

async function measureRtt(t: VerifyTarget, link: LinkProfile, quick: boolean): Promise<RttMeasurement> {
  const expectedMeanMs = link.up.delayMs + link.down.delayMs;
  const expectedStddevMs = Math.sqrt(link.up.jitterMs ** 2 + link.down.jitterMs ** 2);
  // Spacing well above the jitter so that the FIFO rule rarely holds a probe behind the previous one.
  const intervalMs = quick ? 5 : Math.max(5, Math.ceil(3 * expectedStddevMs + 3));
  const count = quick ? 20 : 60;
  const summary = (sent: number, rttMs: number[], method: string): RttMeasurement => {
    const s = stats(rttMs);
    return {
      sent, received: rttMs.length, meanMs: round(s.mean), p50Ms: round(s.p50), p99Ms: round(s.p99), minMs: round(s.min), maxMs: round(s.max),
      stddevMs: round(s.sd), expectedMeanMs, expectedStddevMs: round(expectedStddevMs), intervalMs, method,
    };
  };
  // ping first: the server's kernel answers and ping reads kernel receive timestamps, so a busy machine's
  // scheduling delays do not show as jitter.
  const p = await pingRtts(t, count, intervalMs);
  if (p && p.rttMs.length > 0) return summary(p.sent, p.rttMs, 'ping (ICMP echo, kernel timestamps)');
  const echo = new Probe(t.serverNs, 'udp-echo', { port: PORT_ECHO });
  try {
    await echo.line(0, 5000);
    const client = new Probe(t.deviceNs, 'rtt', { host: t.serverAddress, port: PORT_ECHO, count, intervalMs, timeoutMs: Math.max(200, 4 * (expectedMeanMs + 4 * expectedStddevMs)) });
    const r = await client.line<{ sent: number; received: number; rttUs: number[] }>(0, 15_000);
    return summary(r.sent, r.rttUs.map((u) => u / 1000), 'UDP echo between two node processes (no ping installed)');
  } finally {
    echo.endInput();
    echo.kill();
  }
}

/** Datagrams per direction for the loss count: ~30 expected losses, 1000–4000. */
function lossCount(d: LinkDirection): number {
  const p = d.lossPct / 100;
  return p > 0 ? Math.min(4000, Math.max(1000, Math.ceil(30 / p))) : 1000;
}

/** Paced well below the bottleneck (half its rate) so that only the loss mechanism drops. */
function lossPps(d: LinkDirection, size: number): number {
  const cap = 4000;
  return d.rateMbit === undefined ? cap : Math.min(cap, Math.floor((0.5 * d.rateMbit * 1e6) / (8 * ipBytes(size))));
}

async function blastAndCount(fromNs: string, toNs: string, toAddr: string, port: number, count: number, pps: number, size: number, drainMs: number):
  Promise<{ sent: number; received: number; unique: number; bytesAfterFirst: number; firstNs: bigint; lastNs: bigint }> {
  const sink = new Probe(toNs, 'udp-sink', { port });
  try {
    await sink.line(0, 5000);
    const blast = new Probe(fromNs, 'udp-blast', { host: toAddr, port, count, pps, size });
    const b = await blast.line<{ sent: number; errors: number }>(0, 30_000);
    await new Promise((r) => setTimeout(r, drainMs));
    sink.endInput();
    const s = await sink.line<{ received: number; unique: number; bytesAfterFirst: number; firstNs: string; lastNs: string }>(1, 5000);
    return { sent: b.sent - b.errors, received: s.received, unique: s.unique, bytesAfterFirst: s.bytesAfterFirst, firstNs: BigInt(s.firstNs), lastNs: BigInt(s.lastNs) };
  } finally {
    sink.kill();
  }
}

function drainMsFor(link: LinkProfile): number {
  const worst = (d: LinkDirection): number => d.delayMs + 5 * d.jitterMs + (link.queueMs ?? 50);
  return Math.ceil(Math.max(worst(link.up), worst(link.down)) + 150);
}

async function measureLoss(t: VerifyTarget, link: LinkProfile): Promise<{ up: LossMeasurement; down: LossMeasurement }> {
  const size = 64;
  const drain = drainMsFor(link);
  const one = async (d: LinkDirection, from: string, to: string, addr: string, port: number): Promise<LossMeasurement> => {
    const count = lossCount(d);
    const pps = lossPps(d, size);
    const r = await blastAndCount(from, to, addr, port, count, pps, size, drain);
    return { sent: r.sent, received: r.unique, lossPct: round((100 * (r.sent - r.unique)) / Math.max(1, r.sent)), expectedPct: d.lossPct, pps };
  };
  const [up, down] = await Promise.all([
    one(link.up, t.deviceNs, t.serverNs, t.serverAddress, PORT_SINK),
    one(link.down, t.serverNs, t.deviceNs, t.deviceAddress, PORT_SINK + 10),
  ]);
  return { up, down };
}

async function measureRate(t: VerifyTarget, link: LinkProfile): Promise<{ up?: RateMeasurement; down?: RateMeasurement }> {
  const size = 1200;
  const drain = drainMsFor(link);
  const one = async (d: LinkDirection, from: string, to: string, addr: string, port: number): Promise<RateMeasurement | undefined> => {
    if (d.rateMbit === undefined) return undefined;
    const offeredMbit = 1.3 * d.rateMbit;
    const pps = Math.ceil((offeredMbit * 1e6) / (8 * ipBytes(size)));
    const count = Math.min(20_000, Math.max(200, Math.ceil(pps * 0.6))); // ~0.6 s, shorter on very fast links
    const r = await blastAndCount(from, to, addr, port, count, pps, size, drain);
    const seconds = Number(r.lastNs - r.firstNs) / 1e9;
    const datagramsAfterFirst = r.bytesAfterFirst / size;
    const measuredMbit = seconds > 0 ? (datagramsAfterFirst * ipBytes(size) * 8) / seconds / 1e6 : 0;
    return { measuredMbit: round(measuredMbit), expectedMbit: round(d.rateMbit * (1 - d.lossPct / 100)), offeredMbit: round(offeredMbit), datagrams: r.received };
  };
  const [up, down] = await Promise.all([
    one(link.up, t.deviceNs, t.serverNs, t.serverAddress, PORT_SINK + 1),
    one(link.down, t.serverNs, t.deviceNs, t.deviceAddress, PORT_SINK + 11),
  ]);
  return { ...(up ? { up } : {}), ...(down ? { down } : {}) };
}

async function measureTcpUp(t: VerifyTarget, ms: number): Promise<{ goodputMbit: number; bytes: number; durationMs: number }> {
  const sink = new Probe(t.serverNs, 'tcp-sink', { port: PORT_TCP });
  try {
    await sink.line(0, 5000);
    const src = new Probe(t.deviceNs, 'tcp-source', { host: t.serverAddress, port: PORT_TCP, ms });
    await src.line(0, ms + 20_000);
    const r = await sink.line<{ bytes: number; firstNs: string; lastNs: string }>(1, 20_000);
    const durationMs = Number(BigInt(r.lastNs) - BigInt(r.firstNs)) / 1e6;
    return { goodputMbit: round(durationMs > 0 ? (r.bytes * 8) / (durationMs / 1000) / 1e6 : 0), bytes: r.bytes, durationMs: round(durationMs, 1) };
  } finally {
    sink.kill();
  }
}

/**
 * Measures the link between the namespaces. `quick` (unshaped links): only
 * a short RTT sample. Otherwise RTT, loss, rate (where the profile has one)
 * and 1 s of TCP goodput device → server (where the profile has a rate).
 */
export async function measureLink(t: VerifyTarget, link: LinkProfile, quick: boolean): Promise<LinkMeasurement> {
  const t0 = performance.now();
  const rtt = await measureRtt(t, link, quick);
  const m: LinkMeasurement = { rtt, durationMs: 0 };
  if (!quick) {
    m.loss = await measureLoss(t, link);
    const hasRate = link.up.rateMbit !== undefined || link.down.rateMbit !== undefined;
    if (hasRate) {
      m.rate = await measureRate(t, link);
      m.tcpUp = await measureTcpUp(t, 1000);
    }
  }
  m.durationMs = Math.round(performance.now() - t0);
  return m;
}

/** Tolerances used by judgeLink (exported so reports can print them). */
export const LINK_TOLERANCE = {
  rttFactor: [0.5, 2] as const,
  rttSlackMs: 1,
  jitterFactor: [0.5, 2] as const,
  jitterSlackMs: 0.5,
  lossSigmas: 4,
  lossSlackPackets: 2,
  rateFactor: [0.75, 1.1] as const,
  tcpOverRate: 1.1,
};

/** Problems with a measurement, one line each (empty = matches the profile). */
export function judgeLink(link: LinkProfile, m: LinkMeasurement): string[] {
  const p: string[] = [];
  const T = LINK_TOLERANCE;
  const r = m.rtt;
  if (r.received === 0) {
    p.push(`RTT: none of ${r.sent} UDP echo probes came back: the link does not carry packets`);
    return p;
  }
  if (r.expectedMeanMs >= 1) {
    const lo = T.rttFactor[0] * r.expectedMeanMs;
    const hi = T.rttFactor[1] * r.expectedMeanMs + T.rttSlackMs;
    if (!(r.meanMs >= lo && r.meanMs <= hi)) p.push(`RTT: measured mean ${r.meanMs} ms over ${r.received} probes, profile implies ${r.expectedMeanMs} ms (accepted ${round(lo)}–${round(hi)} ms)`);
  }
  if (r.expectedStddevMs >= 0.5) {
    const lo = T.jitterFactor[0] * r.expectedStddevMs;
    const hi = T.jitterFactor[1] * r.expectedStddevMs + T.jitterSlackMs;
    if (!(r.stddevMs >= lo && r.stddevMs <= hi)) p.push(`jitter: measured RTT standard deviation ${r.stddevMs} ms, profile implies ${r.expectedStddevMs} ms (accepted ${round(lo)}–${round(hi)} ms)`);
  }
  if (m.loss) {
    for (const [dir, l] of [['up (device → server)', m.loss.up], ['down (server → device)', m.loss.down]] as const) {
      const pr = l.expectedPct / 100;
      const lost = l.sent - l.received;
      const expected = l.sent * pr;
      const tol = T.lossSigmas * Math.sqrt(l.sent * pr * (1 - pr)) + T.lossSlackPackets;
      if (Math.abs(lost - expected) > tol) {
        p.push(`loss ${dir}: ${lost} of ${l.sent} datagrams lost (${l.lossPct} %), profile ${l.expectedPct} % ⇒ ${round(expected, 1)} ± ${round(tol, 1)}`);
      }
    }
  }
  if (m.rate) {
    for (const [dir, x] of [['up (device → server)', m.rate.up], ['down (server → device)', m.rate.down]] as const) {
      if (!x) continue;
      const lo = T.rateFactor[0] * x.expectedMbit;
      const hi = T.rateFactor[1] * x.expectedMbit;
      if (!(x.measuredMbit >= lo && x.measuredMbit <= hi)) p.push(`rate ${dir}: measured ${x.measuredMbit} Mbit/s (IP layer, offered ${x.offeredMbit}), profile ${x.expectedMbit} Mbit/s after loss (accepted ${round(lo)}–${round(hi)})`);
    }
  }
  if (m.tcpUp && link.up.rateMbit !== undefined && m.tcpUp.goodputMbit > T.tcpOverRate * link.up.rateMbit) {
    p.push(`rate up: TCP moved ${m.tcpUp.goodputMbit} Mbit/s, more than the profile's ${link.up.rateMbit} Mbit/s: the rate limit does not hold`);
  }
  return p;
}

export interface CpuMeasurement {
  /** Loop iterations per second of CPU time, unconstrained (independent of other load). */
  unconstrainedPerCpuS: number;
  /** Loop iterations per second of wall time, in the device cgroup. */
  constrainedPerWallS: number;
  /** constrained / unconstrained: the share of one host core the device side gets. */
  ratio: number;
  quota: number;
  workload: string;
}

export const CPU_TOLERANCE = [0.6, 1.35] as const;

/** Runs the fixed single-threaded Node loop unconstrained and in the cgroup. */
export async function measureCpu(cgroup: DeviceCgroup, quota: number, ms = 600): Promise<CpuMeasurement> {
  type R = { iterations: number; wallMs: number; cpuMs: number };
  const free = await new Probe(null, 'cpu', { ms: 300 }).line<R>(0, 20_000);
  const capped = await new Probe(null, 'cpu', { ms }, cgroup).line<R>(0, 20_000 + ms * 10);
  const unconstrainedPerCpuS = free.iterations / (free.cpuMs / 1000);
  const constrainedPerWallS = capped.iterations / (capped.wallMs / 1000);
  return {
    unconstrainedPerCpuS: Math.round(unconstrainedPerCpuS),
    constrainedPerWallS: Math.round(constrainedPerWallS),
    ratio: round(constrainedPerWallS / unconstrainedPerCpuS),
    quota,
    workload: `scenarios/device/probe.mjs cpu: (x + i*i) % 1000003 loop, 300 ms unconstrained (per CPU-second) vs ${ms} ms in the cgroup (per wall-second)`,
  };
}

export function judgeCpu(m: CpuMeasurement): string[] {
  const lo = CPU_TOLERANCE[0] * m.quota;
  const hi = CPU_TOLERANCE[1] * m.quota;
  return m.ratio >= lo && m.ratio <= hi ? [] : [`CPU: a single-threaded loop in the device cgroup ran at ${m.ratio} of its unconstrained speed, quota ${m.quota} (accepted ${round(lo)}–${round(hi)})`];
}

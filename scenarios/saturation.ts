/**
 * Saturation: a step search of the offered rate. Each step is a short run
 * (fresh processes) at the workload's rate × factor^k; the search stops at
 * the first step where achieved < 95 % of offered, or p99 (from the
 * intended time) blows up (above `p99LimitUs`, or 20× the first step's
 * p99), or any error, timeout or loss appears — or when the step count or
 * the time budget runs out. The saturation rate is the highest offered rate
 * that passed.
 *
 * HTTP additionally gets a closed-loop throughput figure from autocannon
 * (telemetry and retained-state only: POSTs to the reading endpoint, one
 * connection per device). autocannon's latency histogram is whole
 * milliseconds, so only its request rate is used.
 */
import type { ProtocolRun } from '../results/types.js';
import type { VariantSpec } from './adapters/types.js';
import { names } from './adapters/names.js';
import type { Placement } from './placement.js';
import type { AutocannonOutcome, SideReport } from './proc/messages.js';
import { SideProcess } from './proc/side-process.js';
import { silentProgress, type ProgressSink } from './progress.js';
import { runVariant } from './runner.js';
import { encodeStamp } from './stamp.js';
import type { Workload } from './workload.js';

export interface SaturationOptions {
  /** Most steps (default 7). */
  maxSteps: number;
  /** Rate multiplier per step (default 3: 40/s reaches ~29k/s in 7 steps). */
  factor: number;
  /** Measured window per step, s (default 3). */
  stepDurationS: number;
  /** Warm-up per step, s (default 1). */
  stepWarmupS: number;
  /** Time budget for the whole search of one variant, s (default 90). */
  budgetS: number;
  /** A p99 above this ends the search (default 100 ms). */
  p99LimitUs: number;
  /** Run autocannon for HTTP (default true). */
  autocannon: boolean;
}

export const DEFAULT_SATURATION: SaturationOptions = { maxSteps: 7, factor: 3, stepDurationS: 3, stepWarmupS: 1, budgetS: 90, p99LimitUs: 100_000, autocannon: true };

export async function saturationSearch(o: {
  workload: Workload; variant: VariantSpec; placement: Placement; progress?: ProgressSink; precise?: boolean; options: SaturationOptions;
}): Promise<NonNullable<ProtocolRun['saturation']>> {
  const s = o.options;
  const progress = o.progress ?? silentProgress;
  const steps: NonNullable<ProtocolRun['saturation']>['steps'] = [];
  const deadline = Date.now() + s.budgetS * 1000;
  let rate = o.workload.ratePerS;
  let saturationRate = 0;
  let firstP99: number | undefined;
  let stoppedBecause = `step limit (${s.maxSteps} steps)`;
  for (let k = 0; k < s.maxSteps; k++) {
    const stepS = s.stepWarmupS + s.stepDurationS + 1;
    if (Date.now() + stepS * 1000 > deadline) {
      stoppedBecause = `time budget (${s.budgetS} s)`;
      break;
    }
    const w: Workload = { ...o.workload, ratePerS: rate, durationS: s.stepDurationS, warmupS: s.stepWarmupS, drainS: 1, maxMessages: Math.max(o.workload.maxMessages, 1) };
    const planned = (w.pattern === 'fan-out' ? rate : rate * w.devices) * (w.warmupS + w.durationS);
    if (planned > w.maxMessages) {
      stoppedBecause = `maxMessages (${w.maxMessages}) would be exceeded at ${rate}/s`;
      break;
    }
    let run: ProtocolRun;
    try {
      ({ run } = await runVariant({ workload: w, variant: o.variant, placement: o.placement, precise: o.precise ?? true }));
    } catch (e) {
      stoppedBecause = `step at ${rate}/s failed: ${(e as Error).message.split('\n')[0]}`;
      break;
    }
    const problems = run.messages.errors + run.messages.timeouts + run.messages.lost;
    steps.push({ offered: run.offeredRate, achieved: run.achievedRate, p99Us: run.latencyUs.corrected.p99, errors: problems });
    progress.note(`    saturation step ${k + 1}: offered ${run.offeredRate.toFixed(0)}/s → achieved ${run.achievedRate.toFixed(0)}/s, p99 ${run.latencyUs.corrected.p99} µs, errors+timeouts+lost ${problems}`);
    firstP99 ??= Math.max(1, run.latencyUs.corrected.p99);
    if (run.achievedRate < 0.95 * run.offeredRate) {
      stoppedBecause = `achieved ${Math.round((100 * run.achievedRate) / Math.max(1e-9, run.offeredRate))}% of the offered ${run.offeredRate.toFixed(0)}/s`;
      break;
    }
    if (problems > 0) {
      stoppedBecause = `errors, timeouts or losses (${problems}) at ${run.offeredRate.toFixed(0)}/s`;
      break;
    }
    if (run.latencyUs.corrected.p99 > s.p99LimitUs || run.latencyUs.corrected.p99 > 20 * firstP99) {
      stoppedBecause = `p99 ${run.latencyUs.corrected.p99} µs at ${run.offeredRate.toFixed(0)}/s (limit ${s.p99LimitUs} µs or 20× the first step's ${firstP99} µs)`;
      break;
    }
    saturationRate = run.offeredRate;
    rate *= s.factor;
  }
  const out: NonNullable<ProtocolRun['saturation']> = { steps, saturationRate, stoppedBecause };
  if (s.autocannon && o.variant.protocol === 'http' && (o.workload.pattern === 'telemetry' || o.workload.pattern === 'retained-state')) {
    try {
      const a = await autocannonRun(o.workload, o.variant, o.placement, Math.max(2, s.stepDurationS * 2));
      out.autocannon = { requestsPerS: a.requestsPerS, connections: a.connections, durationS: a.durationS, errors: a.errors, timeouts: a.timeouts, non2xx: a.non2xx, version: a.version };
      progress.note(`    autocannon (closed loop, ${a.connections} connections, ${a.durationS} s): ${a.requestsPerS.toFixed(0)} req/s, errors ${a.errors}, timeouts ${a.timeouts}, non-2xx ${a.non2xx}`);
    } catch (e) {
      progress.note(`    autocannon failed: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return out;
}

/** autocannon against a fresh HTTP server, from a device-side process. */
async function autocannonRun(w: Workload, v: VariantSpec, pl: Placement, durationS: number): Promise<AutocannonOutcome> {
  const server = new SideProcess('server', pl.spawnServer);
  let cannon: SideProcess | undefined;
  try {
    server.send({ type: 'config', role: 'server', config: { workload: w, variant: v, bindHost: pl.bindHost, serverHost: pl.serverHost } });
    const ready = await server.next('ready', 30_000, 'ready');
    const ep = ready.info!.endpoints;
    const host = pl.serverHost.includes(':') ? `[${pl.serverHost}]` : pl.serverHost;
    const path = w.pattern === 'telemetry' ? names.reading(0) : names.haState(0);
    cannon = new SideProcess('autocannon', pl.spawnDevice);
    const body = encodeStamp({ device: 0, seq: 0, intendedUs: 0, lagUs: 0 }, w.payload.bytes, w.payload.format);
    cannon.send({
      type: 'config', role: 'autocannon', config: { workload: w, variant: v, bindHost: pl.bindHost, serverHost: pl.serverHost },
      autocannon: {
        url: `${ep['scheme'] ?? 'http'}://${host}:${ep['port']}/${path}`, method: w.pattern === 'telemetry' ? 'POST' : 'PUT', body: body.toString('base64'),
        contentType: w.payload.format === 'json' ? 'application/json' : 'application/octet-stream',
        connections: w.devices, durationS, newConnection: v.http?.connection === 'new',
      },
    });
    await cannon.next('ready', 30_000, 'ready');
    cannon.send({ type: 'start', clock: { t0Ns: '0', windowStartNs: '0', windowEndNs: '0', deadlineNs: '0' } });
    const rep: { report: SideReport } = await cannon.next('report', durationS * 1000 + 30_000, 'its report');
    return rep.report.autocannon!;
  } finally {
    await Promise.all([cannon?.stop(), server.stop()]);
  }
}

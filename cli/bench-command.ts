/**
 * `mqtt-testbed bench`: runs a scenario workload through the MQTT, HTTP and
 * CoAP adapters on a device profile and writes results JSON (kind
 * 'benchmark') into out/bench/, then prints a compact table. Live progress
 * on a terminal (one line updated in place); quiet lines when not a
 * terminal or under CI. Exit 0 when every variant ran, 1 when one failed
 * (or, with --smoke, received nothing), 2 on bad options.
 */
import { resolve } from 'node:path';
import { hostPlacement, deviceProfilePlacement, type Placement } from '../scenarios/placement.js';
import { lineProgress, ttyProgress, type ProgressSink } from '../scenarios/progress.js';
import { runBenchmark } from '../scenarios/runner.js';
import { DEFAULT_SATURATION, type SaturationOptions } from '../scenarios/saturation.js';
import { parseBroker, parseProtocols, variantsFor } from '../scenarios/variants.js';
import { listWorkloads, parseDurationS, resolveWorkload, WorkloadError, type WorkloadOverrides } from '../scenarios/workload.js';
import { parseCommandArgs, UsageError, type CliIo } from './io.js';

export const BENCH_USAGE = `mqtt-testbed bench --scenario NAME|FILE|all [options]

  --scenario NAME          telemetry | command-response | fan-out | retained-state (scenarios/workloads/),
                           a workload .json file, or 'all'
  --protocols LIST         mqtt,http,coap (default all three)
  --profile NAME           device profile: host (default: loopback, plain processes) or a scenarios/device profile
                           such as pi-class (network namespaces, cgroup caps, shaped link)
  --link NAME              link profile for --profile (default: the profile's own)
  --netns                  with --profile host: server and devices in two network namespaces on an unshaped
                           veth pair (IP-layer byte counters) instead of loopback
  --broker B               reference (default) | mosquitto | a broker URL (BROKER_URL works too)
  workload overrides (see scenarios/README.md):
  --devices N  --rate R (2/s, 10/min, 500ms)  --payload BYTES  --payload-format binary|json
  --duration D  --warmup D  --drain D (30s, 500ms)  --timeout D  --seed N
  --qos 0|1|2  --transport tcp,tls,ws,wss  --confirmable | --non-confirmable
  --http-connection keep-alive|new|both  --tls (HTTPS)  --nodelay true|false
  --saturation             also search each variant's saturation rate (step search; autocannon for HTTP)
  --saturation-steps N     at most N steps (default ${DEFAULT_SATURATION.maxSteps}); --saturation-step D: window per step (default ${DEFAULT_SATURATION.stepDurationS}s);
                           --saturation-factor X: rate multiplier per step (default ${DEFAULT_SATURATION.factor})
  --coarse-timers          timers only for the schedule (no futex wait for the last ~2 ms)
  --out DIR                results folder (default out/bench)
  --quiet                  no live progress, only a line per variant
  --smoke                  exit 1 when a run received nothing (used by npm run bench:smoke)`;

const OPTIONS = {
  scenario: { type: 'string' },
  protocols: { type: 'string' },
  profile: { type: 'string' },
  link: { type: 'string' },
  netns: { type: 'boolean' },
  broker: { type: 'string' },
  devices: { type: 'string' },
  rate: { type: 'string' },
  payload: { type: 'string' },
  'payload-format': { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  drain: { type: 'string' },
  timeout: { type: 'string' },
  seed: { type: 'string' },
  qos: { type: 'string' },
  transport: { type: 'string' },
  confirmable: { type: 'boolean' },
  'non-confirmable': { type: 'boolean' },
  'http-connection': { type: 'string' },
  tls: { type: 'boolean' },
  nodelay: { type: 'string' },
  saturation: { type: 'boolean' },
  'saturation-steps': { type: 'string' },
  'saturation-step': { type: 'string' },
  'saturation-factor': { type: 'string' },
  'coarse-timers': { type: 'boolean' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
  smoke: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function benchCommand(argv: string[], io: CliIo): Promise<number> {
  let f;
  f = parseCommandArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }).values;
  if (f.help) {
    io.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  if (!f.scenario) throw new UsageError(`--scenario is required (${listWorkloads().join(', ')}, a .json file, or all)`);
  if (f.confirmable && f['non-confirmable']) throw new UsageError('--confirmable and --non-confirmable exclude each other');
  if (f.nodelay !== undefined && f.nodelay !== 'true' && f.nodelay !== 'false') throw new UsageError(`--nodelay: expected true or false, got '${f.nodelay}'`);
  const overrides: WorkloadOverrides = {
    devices: f.devices, rate: f.rate, payload: f.payload, payloadFormat: f['payload-format'], duration: f.duration, warmup: f.warmup, drain: f.drain,
    qos: f.qos, seed: f.seed, timeout: f.timeout, transport: f.transport, httpConnection: f['http-connection'],
    ...(f.confirmable ? { confirmable: true } : f['non-confirmable'] ? { confirmable: false } : {}),
    ...(f.tls ? { tls: true } : {}),
    ...(f.nodelay !== undefined ? { noDelay: f.nodelay === 'true' } : {}),
  };
  let protocols;
  let broker;
  try {
    protocols = parseProtocols(f.protocols ?? 'mqtt,http,coap');
    broker = parseBroker(f.broker ?? process.env['BROKER_URL']);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const names = f.scenario === 'all' ? listWorkloads() : [f.scenario];
  let workloads;
  try {
    workloads = names.map((n) => resolveWorkload(n, overrides));
  } catch (e) {
    if (e instanceof WorkloadError) throw new UsageError(e.message);
    throw e;
  }
  let saturation: SaturationOptions | undefined;
  if (f.saturation) {
    const steps = f['saturation-steps'] !== undefined ? Number(f['saturation-steps']) : DEFAULT_SATURATION.maxSteps;
    if (!Number.isInteger(steps) || steps < 1 || steps > 20) throw new UsageError(`--saturation-steps: expected 1 to 20, got '${f['saturation-steps']}'`);
    const step = f['saturation-step'] !== undefined ? parseDurationS(f['saturation-step']) : DEFAULT_SATURATION.stepDurationS;
    if (step === undefined || step < 0.5 || step > 60) throw new UsageError(`--saturation-step: expected a duration from 0.5 s to 60 s, got '${f['saturation-step']}'`);
    const factor = f['saturation-factor'] !== undefined ? Number(f['saturation-factor']) : DEFAULT_SATURATION.factor;
    if (!(factor >= 1.1 && factor <= 10)) throw new UsageError(`--saturation-factor: expected a number from 1.1 to 10, got '${f['saturation-factor']}'`);
    saturation = { ...DEFAULT_SATURATION, maxSteps: steps, stepDurationS: step, factor };
  }

  const isTty = Boolean((io.stderr as { isTTY?: boolean }).isTTY) && !process.env['CI'];
  const progress: ProgressSink = f.quiet || !isTty ? lineProgress(io.stderr, f.quiet ? Infinity : 5) : ttyProgress(io.stderr as typeof io.stderr & { columns?: number });
  const profile = f.profile ?? 'host';
  if (f.link !== undefined && profile === 'host' && !f.netns) throw new UsageError('--link needs a device profile (--profile pi-class, ...) or --netns: the host profile runs on loopback without link shaping');
  let placement: Placement;
  try {
    placement = profile === 'host' && !f.netns
      ? hostPlacement()
      : await deviceProfilePlacement({ device: profile, link: f.link, runId: `bench-${process.pid}-${Date.now()}`, seed: workloads[0]!.seed });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  let failed = false;
  try {
    for (const w of workloads) {
      const variants = variantsFor(w, protocols, broker);
      progress.note(`scenario ${w.name} (${w.pattern}): ${w.devices} devices, ${w.ratePerS}/s ${w.pattern === 'fan-out' ? 'updates' : 'per device'}, ${w.payload.bytes} B ${w.payload.format}, ` +
        `${w.warmupS}+${w.durationS}+${w.drainS} s (warm-up + window + drain), profile ${placement.name}, ${variants.length} variants`);
      const out = await runBenchmark({
        workload: w, variants, placement, progress, precise: !f['coarse-timers'], saturation,
        outDir: resolve(io.cwd, f.out ?? 'out/bench'), commandLine: ['mqtt-testbed', 'bench', ...argv].join(' '),
      });
      io.stdout.write(`\n${out.summary}\n\nresults: ${out.path}\n\n`);
      for (const x of out.failures) {
        failed = true;
        io.stderr.write(`variant failed: ${x.variant}: ${x.error}\n`);
      }
      if (f.smoke) {
        for (const r of out.results.benchmark!.runs) {
          if (r.messages.received === 0) {
            failed = true;
            io.stderr.write(`smoke: ${w.name} / ${r.variant} received no message\n`);
          }
        }
      }
    }
  } finally {
    await placement.teardown();
  }
  return failed ? 1 : 0;
}

/**
 * Broker benchmark: the same load against our reference broker, Aedes and
 * Mosquitto, one after the other, each broker in its own process. See
 * bench/README.md ("Broker benchmark") for how to run and read it.
 *
 *   npm run bench:broker                         full run (~4 min)
 *   npm run bench:broker -- --quick              smoke run (~1 min, CI)
 *   npm run bench:broker -- --only=qos0,latency --nodelay=false --json out/x.json
 *
 * Process layout: this orchestrator only starts and stops processes and
 * prints; every broker runs in a fresh process per figure (ours and Aedes
 * through bench/broker-launcher.ts, Mosquitto from /usr/sbin/mosquitto with a
 * generated config); the load generator is another process
 * (bench/load/generator.ts) with a publisher thread and a subscriber thread.
 * Scenarios run one at a time and, inside each, the brokers one after the
 * other, so slow drifts in machine load hit every broker alike.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from '../codec/index.js';
import { type BenchOptions, parseArgs, USAGE } from './load/options.js';
import {
  aedesVersion, type BrokerKind, type BrokerOptions, killAllNow, MOSQUITTO, mosquittoVersion, startBrokerProcess, startGenerator, stopAll,
} from './load/processes.js';
import { rssBytes } from '../harness/meters/procfs.js';
import { mergeHistograms } from '../harness/meters/histogram.js';
import type { IdleConfig, LatencySummary, LoadConfig, LoadResult, LoadScenario, ScenarioName } from './load/protocol.js';
import { compare, type Figure, type IdleFigure, loadFlags, renderScenario, type ScenarioReport } from './load/report.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

// ---------------------------------------------------------------- environment

function sh(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function projectVersion(): string | undefined {
  try {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function environment(o: BenchOptions): Record<string, unknown> {
  const c = cpus();
  return {
    node: process.version,
    mosquitto: mosquittoVersion() ?? 'not installed',
    aedes: aedesVersion() ?? 'not installed',
    ours: `mqtt-testbed ${projectVersion() ?? '?'} reference-broker`,
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    uptimeAtStart: sh('uptime'),
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    fdLimitHard: sh('ulimit -Hn'),
    tcpNoDelay: o.noDelay,
  };
}

// ---------------------------------------------------------------- scenarios

const TITLES: Record<ScenarioName, string> = {
  qos0: 'QoS 0 fan-in',
  qos1: 'QoS 1 fan-in',
  fanout: 'QoS 0 fan-out',
  latency: 'Latency at a fixed offered rate (open loop, QoS 0)',
  idle: 'Memory per idle connection',
};

let figureCounter = 0;

function loadConfig(o: BenchOptions, scenario: LoadScenario, host: string, port: number, brokerPid: number): LoadConfig {
  const n = figureCounter++;
  const base = {
    scenario, host, port, noDelay: o.noDelay, payloadSize: o.payloadSize, batch: o.batch, window: o.window, e2eWindow: o.e2eWindow, rate: o.rate,
    warmupMs: o.warmupMs, durationMs: o.durationMs, maxMessages: o.maxMessages, drainMs: o.drainMs, stallMs: o.stallMs,
    topicPrefix: `bench/${scenario}`, clientIdPrefix: `b${n}`, brokerPid,
  };
  switch (scenario) {
    case 'qos0': return { ...base, publishers: o.publishers, subscribers: 1, qos: 0, mode: 'closed' };
    case 'qos1': return { ...base, publishers: o.publishers, subscribers: 1, qos: 1, mode: 'closed' };
    case 'fanout': return { ...base, publishers: 1, subscribers: o.subscribers, qos: 0, mode: 'closed' };
    case 'latency': return { ...base, publishers: o.publishers, subscribers: 1, qos: 0, mode: 'open' };
  }
}

/** Sizes on the wire of the PUBLISH frames a scenario sends (topics differ in length by publisher index). */
function frameBytes(o: BenchOptions, s: LoadScenario, publishers: number): string {
  const size = (i: number): number => encode({
    type: 'publish', topic: `bench/${s}/p/${i}`, payload: Buffer.alloc(o.payloadSize), qos: s === 'qos1' ? 1 : 0, retain: false, dup: false,
    packetId: s === 'qos1' ? 1 : undefined,
  }, 4).length;
  const a = size(0);
  const b = size(publishers - 1);
  return a === b ? `${a} B` : `${a}–${b} B`;
}

function params(o: BenchOptions, s: ScenarioName): { title: string; params: Record<string, unknown> } {
  const timing = o.rounds > 1 && s !== 'idle'
    ? `${o.durationMs / 1000} s measured in ${o.rounds} rounds of ${(o.durationMs / 1000 / o.rounds).toFixed(1)} s (each after ${o.warmupMs / 1000} s warm-up; figures are medians over rounds)`
    : `${o.durationMs / 1000} s measured after ${o.warmupMs / 1000} s warm-up`;
  const frames = s === 'idle' ? '' : frameBytes(o, s, s === 'fanout' ? 1 : o.publishers);
  const common = { payloadBytes: o.payloadSize, frameBytes: frames, tcpNoDelay: o.noDelay, warmupSeconds: o.warmupMs / 1000, measuredSeconds: o.durationMs / 1000, rounds: o.rounds, maxMessages: o.maxMessages };
  const nd = `TCP_NODELAY ${o.noDelay ? 'on' : 'off'}`;
  switch (s) {
    case 'qos0':
      return {
        title: `${TITLES[s]}: ${o.publishers} publishers → 1 subscriber on bench/qos0/#, QoS 0, window ${o.e2eWindow} msgs/publisher end to end, ${o.payloadSize} B payload (${frames} frames), ${nd}, ${timing}`,
        params: { ...common, publishers: o.publishers, subscribers: 1, qos: 0, endToEndWindow: o.e2eWindow },
      };
    case 'qos1':
      return {
        title: `${TITLES[s]}: ${o.publishers} publishers → 1 subscriber on bench/qos1/#, QoS 1 publish and subscription, window ${o.window} unacknowledged/publisher${o.e2eWindow > 0 ? ` and ${o.e2eWindow} end to end` : ' (no end-to-end bound)'}, ${o.payloadSize} B payload (${frames} frames), ${nd}, ${timing}`,
        params: { ...common, publishers: o.publishers, subscribers: 1, qos: 1, pubackWindow: o.window, endToEndWindow: o.e2eWindow, maxInflight: o.maxInflight, maxQueued: o.maxQueued },
      };
    case 'fanout':
      return {
        title: `${TITLES[s]}: 1 publisher → ${o.subscribers} subscribers on bench/fanout/#, window ${o.e2eWindow} msgs ahead of the slowest subscriber, ${o.payloadSize} B payload (${frames} frames), ${nd}, ${timing}`,
        params: { ...common, publishers: 1, subscribers: o.subscribers, qos: 0, endToEndWindow: o.e2eWindow },
      };
    case 'latency':
      return {
        title: `${TITLES[s]}: ${o.rate.toLocaleString('en-US')} msg/s offered by ${o.publishers} publishers → 1 subscriber, ${o.payloadSize} B payload (${frames} frames), ${nd}, ${timing}`,
        params: { ...common, publishers: o.publishers, subscribers: 1, qos: 0, ratePerSecond: o.rate },
      };
    case 'idle':
      return {
        title: `${TITLES[s]}: ${o.connections.toLocaleString('en-US')} connections (CONNECT + CONNACK, Keep Alive 0), broker RSS from /proc/<pid>/status after a full GC (Node brokers), ${nd}`,
        params: { connections: o.connections, keepAlive: 0, tcpNoDelay: o.noDelay },
      };
  }
}

function brokerOptions(o: BenchOptions, profDir: string | undefined): BrokerOptions {
  return { noDelay: o.noDelay, maxInflight: o.maxInflight, maxQueued: o.maxQueued, cpuProfDir: o.profile ? profDir : undefined };
}

/** One round of a load scenario against a fresh broker process; the measured window is duration / rounds. */
async function loadFigure(o: BenchOptions, scenario: LoadScenario, kind: BrokerKind, profDir: string | undefined, rounds: number): Promise<Figure> {
  const broker = await startBrokerProcess(kind, brokerOptions(o, profDir));
  try {
    await sleep(300);
    const gen = startGenerator(o.profileGenerator ? profDir : undefined);
    try {
      const config = { ...loadConfig(o, scenario, broker.host, broker.port, broker.pid), durationMs: o.durationMs / rounds };
      gen.send({ type: 'run', config });
      const { result } = await gen.next('result', o.warmupMs + config.durationMs + o.drainMs + 90_000);
      const brokerStats = await broker.stats();
      return { broker: kind, ok: true, load: result, brokerStats, flags: loadFlags(result, scenario, o.rate) };
    } finally {
      await gen.stop();
    }
  } catch (e) {
    const tail = broker.stderrTail();
    throw new Error(`${e instanceof Error ? e.message : String(e)}${tail ? `\nbroker stderr:\n${tail}` : ''}`);
  } finally {
    await broker.stop();
  }
}

let idleRun = 0;

async function idleFigure(o: BenchOptions, kind: BrokerKind): Promise<Figure> {
  const broker = await startBrokerProcess(kind, brokerOptions(o, undefined));
  const run = ++idleRun;
  try {
    await sleep(500);
    const heapBefore = await broker.gc();
    await sleep(300);
    const rssBefore = rssBytes(broker.pid);
    const gen = startGenerator();
    try {
      // Each figure gets its own source addresses (127.0.<run>.1–4): fresh ephemeral port ranges, no TIME_WAIT left by the previous broker.
      const localAddresses = [1, 2, 3, 4].map((h) => `127.0.${run % 250 + 1}.${h}`);
      const config: IdleConfig = {
        host: broker.host, port: broker.port, noDelay: o.noDelay, connections: o.connections, localAddresses,
        concurrency: 128, connectTimeoutMs: 15_000, clientIdPrefix: `i${run}c`,
      };
      gen.send({ type: 'idle-open', config });
      const { opened } = await gen.next('idle-opened', 300_000);
      await sleep(1000);
      const heapAfter = await broker.gc();
      await sleep(300);
      const rssAfter = rssBytes(broker.pid);
      gen.send({ type: 'idle-close' });
      await gen.next('idle-closed', 30_000).catch(() => undefined);
      const per = (a: number | undefined, b: number | undefined): number | undefined =>
        a !== undefined && b !== undefined && opened.connected > 0 ? (b - a) / opened.connected : undefined;
      const idle: IdleFigure = {
        requested: o.connections, connected: opened.connected, failed: opened.failed, firstError: opened.firstError, openSeconds: opened.seconds,
        rssBefore, rssAfter, perConnection: per(rssBefore, rssAfter),
        heapBefore, heapAfter, heapPerConnection: per(heapBefore?.heapUsed, heapAfter?.heapUsed),
      };
      const flags = opened.failed > 0 ? [`failed(${opened.failed}: ${opened.firstError ?? ''})`] : [];
      return { broker: kind, ok: opened.connected > 0, error: opened.connected > 0 ? undefined : opened.firstError, idle, flags };
    } finally {
      await gen.stop();
    }
  } finally {
    await broker.stop();
  }
}

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

function medianOf<T>(items: T[], get: (t: T) => number | undefined): number | undefined {
  const v = items.map(get).filter((x): x is number => x !== undefined);
  return v.length > 0 ? median(v) : undefined;
}

function medianSummary(list: LatencySummary[]): LatencySummary {
  const m = (get: (s: LatencySummary) => number): number => median(list.map(get));
  return {
    count: list.reduce((a, s) => a + s.count, 0),
    min: m((s) => s.min), mean: m((s) => s.mean), p50: m((s) => s.p50), p90: m((s) => s.p90),
    p99: m((s) => s.p99), p999: m((s) => s.p999), max: m((s) => s.max),
    hdr: mergeHistograms(list.map((s) => s.hdr)),
  };
}

/**
 * The figure of one broker over its rounds: rates, percentiles and CPU figures are medians
 * over the rounds (one noisy round does not move them), counts are sums, the histogram in
 * the JSON is all rounds merged, and every round is kept under `rounds`.
 */
function combineRounds(broker: BrokerKind, figs: Figure[], scenario: ScenarioName, rate: number): Figure {
  if (figs.length === 1) return figs[0]!;
  const ok = figs.filter((f) => f.ok && f.load);
  const failed = figs.filter((f) => !f.ok);
  if (ok.length === 0) return { broker, ok: false, error: failed.map((f) => f.error).join('\n'), flags: [], rounds: figs };
  const rs = ok.map((f) => f.load!);
  const sumOf = (get: (r: LoadResult) => number): number => rs.reduce((a, r) => a + get(r), 0);
  const seconds = sumOf((r) => r.windowSeconds);
  const lags = rs.map((r) => r.sendLag).filter((x): x is LatencySummary => x !== undefined);
  const load: LoadResult = {
    scenario: rs[0]!.scenario,
    windowSeconds: Math.round(seconds * 1000) / 1000,
    sent: sumOf((r) => r.sent),
    received: sumOf((r) => r.received),
    offeredPerSecond: Math.round(median(rs.map((r) => r.offeredPerSecond))),
    receivedPerSecond: Math.round(median(rs.map((r) => r.receivedPerSecond))),
    totals: {
      sent: sumOf((r) => r.totals.sent), expected: sumOf((r) => r.totals.expected), received: sumOf((r) => r.totals.received),
      gaps: sumOf((r) => r.totals.gaps), outOfOrder: sumOf((r) => r.totals.outOfOrder), stalls: sumOf((r) => r.totals.stalls),
      capped: rs.some((r) => r.totals.capped), drained: rs.every((r) => r.totals.drained),
    },
    latency: medianSummary(rs.map((r) => r.latency)),
    latencyUncorrected: medianSummary(rs.map((r) => r.latencyUncorrected)),
    sendLag: lags.length > 0 ? medianSummary(lags) : undefined,
    cpu: {
      seconds: Math.round(seconds * 1000) / 1000,
      generatorProcess: medianOf(rs, (r) => r.cpu.generatorProcess)!,
      publisherThread: medianOf(rs, (r) => r.cpu.publisherThread),
      subscriberThread: medianOf(rs, (r) => r.cpu.subscriberThread),
      broker: medianOf(rs, (r) => r.cpu.broker),
      machine: medianOf(rs, (r) => r.cpu.machine),
      others: medianOf(rs, (r) => r.cpu.others),
    },
  };
  const flags = loadFlags(load, scenario, rate);
  if (failed.length > 0) flags.push(`failed-rounds(${failed.length}/${figs.length})`);
  return { broker, ok: true, load, brokerStats: ok[ok.length - 1]!.brokerStats, flags, rounds: figs };
}

function evaluate(o: BenchOptions, s: ScenarioName, figures: Figure[]): ScenarioReport {
  const { title, params: p } = params(o, s);
  const rep: ScenarioReport = { scenario: s, title, params: p, figures, comparisons: [], absolute: [] };
  const rate = (f: Figure): number | undefined => f.load?.receivedPerSecond;
  switch (s) {
    case 'qos0':
      rep.comparisons = compare(figures, 'received msg/s', rate, { aedes: { op: '>=', value: 3 }, mosquitto: { op: '>=', value: 1 } });
      break;
    case 'qos1':
      rep.comparisons = compare(figures, 'received msg/s', rate, { aedes: { op: '>=', value: 2 }, mosquitto: { op: '>=', value: 0.8 } });
      break;
    case 'fanout':
      rep.comparisons = compare(figures, 'deliveries/s', rate, {});
      break;
    case 'latency':
      rep.comparisons = compare(figures, 'p99 latency', (f) => f.load?.latency.p99, { mosquitto: { op: '<=', value: 1.5 } });
      break;
    case 'idle': {
      rep.comparisons = compare(figures, 'RSS per connection', (f) => f.idle?.perConnection, {});
      const ours = figures.find((f) => f.broker === 'ours' && f.ok);
      if (figures.some((f) => f.broker === 'ours')) {
        const v = ours?.idle?.perConnection;
        rep.absolute.push({ what: 'ours RSS per idle connection', value: v === undefined ? undefined : v / 1024, op: '<=', limit: 8, unit: 'KiB', met: v === undefined ? undefined : v / 1024 <= 8 });
      }
      break;
    }
  }
  return rep;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  let parsed: BenchOptions | 'help';
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    log(e instanceof Error ? e.message : String(e));
    log(USAGE);
    return 2;
  }
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const o = parsed;
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const env = environment(o);
  let brokers = o.brokers;
  if (brokers.includes('mosquitto') && env.mosquitto === 'not installed') {
    log(`note: ${MOSQUITTO} is not installed; Mosquitto is skipped (scripts/install-system-deps.sh mqtt)`);
    brokers = brokers.filter((b) => b !== 'mosquitto');
  }
  const profDir = o.profile || o.profileGenerator ? resolve('out', 'bench', `prof-${stamp}`) : undefined;
  if (profDir) mkdirSync(profDir, { recursive: true });

  console.log(`broker benchmark${o.quick ? ' (quick)' : ''}: ${brokers.join(', ')}; scenarios ${o.only.join(', ')}`);
  console.log(`node ${String(env.node)} | mosquitto ${String(env.mosquitto)} | aedes ${String(env.aedes)} | ${String(env.cpuModel)} × ${String(env.cores)} | TCP_NODELAY ${o.noDelay ? 'on' : 'off'} for every broker and client`);
  console.log(`broker limits: max inflight ${o.maxInflight}, max queued ${o.maxQueued} per client (ours and Mosquitto; Aedes has no such settings); Mosquitto persistence off`);
  console.log(`load at start: ${String(env.uptimeAtStart ?? loadavg().join(' '))}`);
  console.log('');

  const reports: ScenarioReport[] = [];
  let oursFailed = false;
  for (const s of o.only) {
    // Load scenarios run in rounds: ours, Aedes, Mosquitto, ours, … each round a fresh broker
    // process, so a burst of other work on the machine hits one round of one broker, and the
    // median over rounds leaves it out.
    const rounds = s === 'idle' ? 1 : o.rounds;
    const results = new Map<BrokerKind, Figure[]>(brokers.map((b) => [b, []]));
    for (let r = 0; r < rounds; r++) {
      for (const b of brokers) {
        const label = `${s} × ${b}${rounds > 1 ? ` (round ${r + 1}/${rounds})` : ''}`;
        log(`  ${label} …`);
        const t = Date.now();
        let f: Figure;
        try {
          f = s === 'idle' ? await idleFigure(o, b) : await loadFigure(o, s, b, profDir, rounds);
        } catch (e) {
          f = { broker: b, ok: false, error: e instanceof Error ? e.message : String(e), flags: [] };
        }
        if (stopping) return new Promise<number>(() => { /* interrupted() stops everything and exits */ });
        results.get(b)!.push(f);
        log(`  ${label}: ${f.ok ? 'done' : `FAILED: ${f.error ?? ''}`} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      }
    }
    const figures = brokers.map((b) => combineRounds(b, results.get(b)!, s, o.rate));
    if (figures.some((f) => f.broker === 'ours' && !f.ok)) oursFailed = true;
    const rep = evaluate(o, s, figures);
    reports.push(rep);
    console.log(renderScenario(rep));
    console.log('');
  }

  const finished = new Date();
  const targets = reports.flatMap((r) => [
    ...r.comparisons.filter((c) => c.target).map((c) => ({ scenario: r.scenario, what: `ours/${c.other} ${c.what}`, ratio: c.ratio, ...c.target! })),
    ...r.absolute.map((a) => ({ scenario: r.scenario, what: a.what, value: a.value, op: a.op, limit: a.limit, unit: a.unit, met: a.met })),
  ]);
  console.log('targets:');
  for (const t of targets) {
    const verdict = t.met === undefined ? 'n/a' : t.met ? 'met' : 'NOT MET';
    const extra = 'inconclusive' in t && t.inconclusive ? ` (inconclusive: ${t.inconclusive})` : '';
    console.log(`  ${t.scenario.padEnd(7)} ${t.what}: ${verdict}${extra}`);
  }
  const uptimeAtEnd = sh('uptime');
  console.log(`load at end: ${uptimeAtEnd ?? loadavg().join(' ')}`);

  if (o.writeJson) {
    const file = resolve(o.json ?? join('out', 'bench', `broker-${stamp}.json`));
    mkdirSync(dirname(file), { recursive: true });
    const doc = {
      schema: 'mqtt-testbed/bench-broker', version: 1,
      startedAt: started.toISOString(), finishedAt: finished.toISOString(), quick: o.quick,
      environment: { ...env, uptimeAtEnd, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      options: o,
      brokerConfig: {
        ours: { maxInflight: o.maxInflight, maxQueuedMessages: o.maxQueued, noDelay: o.noDelay },
        aedes: { defaults: true, noDelay: o.noDelay },
        mosquitto: { max_inflight_messages: o.maxInflight, max_queued_messages: o.maxQueued, set_tcp_nodelay: o.noDelay, persistence: false },
      },
      scenarios: reports,
      targets,
      cpuProfiles: profDir,
    };
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`results: ${file}`);
  }
  if (profDir) console.log(`CPU profiles: ${profDir}`);
  return oursFailed ? 1 : 0;
}

let stopping = false;
async function interrupted(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`\n${signal}: stopping every broker and generator started …`);
  await stopAll();
  process.exit(130);
}
process.on('SIGINT', () => void interrupted('SIGINT'));
process.on('SIGTERM', () => void interrupted('SIGTERM'));
process.on('SIGHUP', () => void interrupted('SIGHUP'));
process.on('exit', killAllNow);

main().then(
  async (code) => {
    await stopAll();
    process.exit(code);
  },
  async (e: unknown) => {
    log(`broker benchmark failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    await stopAll();
    process.exit(1);
  },
);

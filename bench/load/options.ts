/** Command-line options of `npm run bench:broker` and the scenario parameters they give. */
import { BROKERS, type BrokerKind } from './processes.js';
import { SCENARIOS, type ScenarioName } from './protocol.js';

export interface BenchOptions {
  quick: boolean;
  only: ScenarioName[];
  brokers: BrokerKind[];
  /** Results file; undefined = out/bench/broker-<timestamp>.json. */
  json: string | undefined;
  writeJson: boolean;
  noDelay: boolean;
  /** Publishers of the fan-in and latency scenarios. */
  publishers: number;
  /** Subscribers of the fan-out scenario. */
  subscribers: number;
  /** QoS 1: messages per publisher not yet PUBACKed. */
  window: number;
  /** Messages per publisher sent but not yet received by (the slowest) subscriber: the QoS 0 and fan-out window, and a bound on QoS 1 too (0 = none for QoS 1). */
  e2eWindow: number;
  payloadSize: number;
  /** Latency scenario: offered messages per second, all publishers together. */
  rate: number;
  warmupMs: number;
  durationMs: number;
  drainMs: number;
  stallMs: number;
  maxMessages: number;
  batch: number;
  connections: number;
  /** Load scenarios run this many rounds over the brokers; figures are medians over rounds. */
  rounds: number;
  /** Broker limits set the same on every broker that has them (ours, Mosquitto); Aedes has no such limits. */
  maxInflight: number;
  maxQueued: number;
  /** Run our broker under `node --cpu-prof`. */
  profile: boolean;
  /** Run the load generator under `node --cpu-prof` (to check the generator itself). */
  profileGenerator: boolean;
}

export const USAGE = `usage: npm run bench:broker -- [options]

  --quick                 a few seconds per scenario, 2,000 idle connections (CI smoke)
  --only=LIST             scenarios, comma-separated: ${SCENARIOS.join(',')} (default: all)
  --brokers=LIST          ${BROKERS.join(',')} (default: all; Mosquitto is skipped when not installed)
  --json FILE             results file (default out/bench/broker-<timestamp>.json); --no-json for none
  --nodelay=true|false    TCP_NODELAY on every broker and client socket (default true)
  --publishers=N          fan-in and latency publishers (default 16)
  --subscribers=N         fan-out subscribers (default 32)
  --window=N              QoS 1: messages per publisher not yet PUBACKed (default 64)
  --e2e-window=N          messages per publisher sent but not yet received: the QoS 0 and fan-out
                          window, and a second bound for QoS 1 (default 256; 0 = none: QoS 0 then
                          publishes as fast as TCP back-pressure allows)
  --size=BYTES            payload size, ≥ 24 (default 64)
  --rate=N                latency scenario: msg/s offered, all publishers (default 10000)
  --duration=S            measured seconds per figure, split over the rounds (default 10; quick 2)
  --rounds=N              load scenarios: rounds over the brokers, figures are medians (default 3; quick 1)
  --warmup=S              warm-up seconds per figure (default 2; quick 0.5)
  --drain=S               after the window, wait this long for messages in flight (default 3)
  --connections=N         idle connections (default 10000; quick 2000)
  --max-messages=N        bound on messages per figure (default 50,000,000; quick 10,000,000)
  --max-inflight=N        QoS 1/2 deliveries in flight per client, ours and Mosquitto (default 65535)
  --max-queued=N          deliveries queued per client beyond that, ours and Mosquitto (default 100000)
  --profile               run our broker under node --cpu-prof (profiles in out/bench/prof-<timestamp>/)
  --profile-generator     the same for the load generator (one profile per thread)
  -h, --help`;

function positive(name: string, v: string | undefined, integer = true): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} needs a positive ${integer ? 'integer' : 'number'}, got ${String(v)}`);
  }
  return n;
}

function list<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T[] {
  const items = (v ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new Error(`--${name} needs a list of: ${allowed.join(', ')}`);
  for (const i of items) {
    if (!allowed.includes(i as T)) throw new Error(`--${name}: unknown '${i}' (choose from ${allowed.join(', ')})`);
  }
  return allowed.filter((a) => items.includes(a));
}

export function parseArgs(argv: string[]): BenchOptions | 'help' {
  const given = new Map<string, string | undefined>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (try --help)`);
    const eq = a.indexOf('=');
    let key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    let value = eq >= 0 ? a.slice(eq + 1) : undefined;
    // Options that take a value also accept it as the next argument (--json out/x.json).
    const takesValue = !['quick', 'no-json', 'profile', 'profile-generator'].includes(key);
    if (value === undefined && takesValue && key !== 'nodelay') {
      value = argv[++i];
      if (value === undefined) throw new Error(`--${key} needs a value`);
    }
    if (key === 'nodelay' && value === undefined) value = 'true';
    if (key === 'no-nodelay') {
      key = 'nodelay';
      value = 'false';
    }
    given.set(key, value);
  }
  const known = new Set(['quick', 'only', 'brokers', 'json', 'no-json', 'nodelay', 'publishers', 'subscribers', 'window', 'e2e-window', 'size', 'rate', 'duration', 'rounds', 'warmup', 'drain', 'connections', 'max-messages', 'max-inflight', 'max-queued', 'profile', 'profile-generator']);
  for (const k of given.keys()) if (!known.has(k)) throw new Error(`unknown option --${k} (try --help)`);

  const quick = given.has('quick');
  const nodelay = given.get('nodelay') ?? 'true';
  if (nodelay !== 'true' && nodelay !== 'false') throw new Error(`--nodelay takes true or false, not ${nodelay}`);
  const o: BenchOptions = {
    quick,
    only: given.has('only') ? list('only', given.get('only'), SCENARIOS) : [...SCENARIOS],
    brokers: given.has('brokers') ? list('brokers', given.get('brokers'), BROKERS) : [...BROKERS],
    json: given.get('json'),
    writeJson: !given.has('no-json'),
    noDelay: nodelay === 'true',
    publishers: given.has('publishers') ? positive('publishers', given.get('publishers')) : 16,
    subscribers: given.has('subscribers') ? positive('subscribers', given.get('subscribers')) : 32,
    window: given.has('window') ? positive('window', given.get('window')) : 64,
    e2eWindow: 256,
    payloadSize: given.has('size') ? positive('size', given.get('size')) : 64,
    rate: given.has('rate') ? positive('rate', given.get('rate')) : 10_000,
    warmupMs: 1000 * (given.has('warmup') ? positive('warmup', given.get('warmup'), false) : quick ? 0.5 : 2),
    durationMs: 1000 * (given.has('duration') ? positive('duration', given.get('duration'), false) : quick ? 2 : 10),
    drainMs: 1000 * (given.has('drain') ? positive('drain', given.get('drain'), false) : 3),
    stallMs: 2000,
    maxMessages: given.has('max-messages') ? positive('max-messages', given.get('max-messages')) : quick ? 10_000_000 : 50_000_000,
    batch: 64,
    connections: given.has('connections') ? positive('connections', given.get('connections')) : quick ? 2000 : 10_000,
    rounds: given.has('rounds') ? positive('rounds', given.get('rounds')) : quick ? 1 : 3,
    maxInflight: given.has('max-inflight') ? positive('max-inflight', given.get('max-inflight')) : 65535,
    maxQueued: given.has('max-queued') ? positive('max-queued', given.get('max-queued')) : 100_000,
    profile: given.has('profile'),
    profileGenerator: given.has('profile-generator'),
  };
  if (given.has('e2e-window')) {
    const v = Number(given.get('e2e-window'));
    if (!Number.isInteger(v) || v < 0) throw new Error('--e2e-window needs an integer ≥ 0');
    o.e2eWindow = v;
  }
  if (o.e2eWindow > 0 && o.e2eWindow < o.window) throw new Error('--e2e-window must be 0 or at least --window');
  if (o.e2eWindow > 1_000_000) throw new Error('--e2e-window is at most 1,000,000');
  if (o.payloadSize < 24) throw new Error('--size must be at least 24 bytes (timestamps, publisher index and sequence number)');
  if (o.maxMessages > 1_000_000_000) throw new Error('--max-messages is at most 1,000,000,000 (32-bit counters)');
  if (o.publishers > 1000 || o.subscribers > 1000) throw new Error('--publishers and --subscribers are at most 1000');
  if (o.window > 30_000) throw new Error('--window is at most 30000 (QoS 1 Packet Identifiers)');
  return o;
}

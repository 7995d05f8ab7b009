/**
 * Codec benchmark: our encoder/decoder against mqtt-packet on the same packet
 * mix, in one process. See bench/README.md for how to run it and read it.
 *
 *   npm run bench:codec                       ~40 s, full run
 *   npm run bench:codec -- --quick            ~5 s smoke run (CI)
 *   npm run bench:codec -- --json out/x.json  results file (default out/bench/codec-<timestamp>.json)
 *   node dist/bench/codec.bench.js --only ours --filter publish   (for --cpu-prof)
 *
 * Why a hand-written timing loop and not tinybench: tinybench times every
 * single call with now() before and after it. Our operations take 50-1000 ns,
 * so the clock reads and loop/closure overhead would be a large, equal share
 * on both sides and squeeze the ratios towards 1. It also runs each task to
 * completion before the next one, so a side that runs later sees a different
 * heap and JIT state. Here each sample is one batched loop of N calls (N
 * calibrated so a sample lasts `sampleMs`) timed with process.hrtime.bigint(),
 * and the repetitions interleave both sides (ABBA order) across all
 * benchmarks, after a warm-up pass over everything, so code is already
 * polymorphic the way it is in a real process. We report the median of the
 * samples, their min/max and IQR, and the median of the per-repetition
 * ours/mqtt-packet ratios (pairs measured back to back).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import mqttPacket from 'mqtt-packet';
import { Decoder, encode, type Packet, type ProtocolVersion } from '../codec/index.js';

// ---------------------------------------------------------------- options

interface Options {
  quick: boolean;
  json: string | undefined;
  writeJson: boolean;
  only: 'ours' | 'theirs' | undefined;
  filter: string | undefined;
  reps: number;
  sampleMs: number;
  warmupMs: number;
  warmupPasses: number;
  batch: number;
  segment: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false, json: undefined, writeJson: true, only: undefined, filter: undefined,
    reps: 12, sampleMs: 50, warmupMs: 40, warmupPasses: 2, batch: 64, segment: 1460,
  };
  const num = (i: number): number => {
    const v = Number(argv[i]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${argv[i - 1]} needs a positive number`);
    return v;
  };
  let reps: number | undefined;
  let sampleMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--quick': o.quick = true; break;
      case '--json': o.json = argv[++i]; if (!o.json) throw new Error('--json needs a path'); break;
      case '--no-json': o.writeJson = false; break;
      case '--only': {
        const v = argv[++i];
        if (v !== 'ours' && v !== 'theirs') throw new Error('--only takes ours|theirs');
        o.only = v;
        break;
      }
      case '--filter': o.filter = argv[++i]; break;
      case '--reps': reps = Math.round(num(++i)); break;
      case '--sample-ms': sampleMs = num(++i); break;
      case '--batch': o.batch = Math.round(num(++i)); break;
      case '--segment': o.segment = Math.round(num(++i)); break;
      case '-h': case '--help':
        console.log('usage: codec.bench.js [--quick] [--json PATH | --no-json] [--reps N] [--sample-ms MS] [--batch N] [--segment BYTES] [--only ours|theirs] [--filter SUBSTR]');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a} (try --help)`);
    }
  }
  if (o.quick) Object.assign(o, { reps: 7, sampleMs: 15, warmupMs: 15, warmupPasses: 1 });
  if (reps !== undefined) o.reps = reps;
  if (sampleMs !== undefined) o.sampleMs = sampleMs;
  return o;
}

// ---------------------------------------------------------------- packets

type TheirPacket = mqttPacket.Packet;
/** Deterministic filler bytes so payloads are not all zeros. */
function bytes(n: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

interface Case {
  id: string;
  label: string;
  version: ProtocolVersion;
  /** Share of this packet kind in the "mix" (broker-like traffic: mostly PUBLISH and PUBACK). */
  weight: number;
  ours: Packet;
  theirs: TheirPacket;
  /** Reads a field or two of a decoded packet; summed so nothing can be optimised away, and compared across sides. */
  touchOurs: (p: Packet) => number;
  touchTheirs: (p: TheirPacket) => number;
  note?: string;
}

const touchPublishOurs = (p: Packet): number => (p.type === 'publish' ? p.payload.length + p.topic.length + (p.packetId ?? 0) : -1);
const touchPublishTheirs = (p: TheirPacket): number => (p.cmd === 'publish' ? p.payload.length + p.topic.length + (p.messageId ?? 0) : -1);
const touchAckOurs = (p: Packet): number => (p.type === 'puback' ? p.packetId + (p.reasonCode ?? 0) : -1);
const touchAckTheirs = (p: TheirPacket): number => (p.cmd === 'puback' ? (p.messageId ?? 0) + (p.reasonCode ?? 0) : -1);

const SMALL = bytes(16, 1);
const P256 = bytes(256, 2);

const CASES: Case[] = [
  {
    id: 'publish-qos0-16B-v4', label: 'PUBLISH QoS0 16 B', version: 4, weight: 35,
    ours: { type: 'publish', topic: 'sensors/room1/temp', payload: SMALL, qos: 0, retain: false, dup: false },
    theirs: { cmd: 'publish', topic: 'sensors/room1/temp', payload: SMALL, qos: 0, retain: false, dup: false },
    touchOurs: touchPublishOurs, touchTheirs: touchPublishTheirs,
  },
  {
    id: 'publish-qos1-256B-v4', label: 'PUBLISH QoS1 256 B', version: 4, weight: 15,
    ours: { type: 'publish', topic: 'sensors/room1/telemetry', payload: P256, qos: 1, retain: false, dup: false, packetId: 4242 },
    theirs: { cmd: 'publish', topic: 'sensors/room1/telemetry', payload: P256, qos: 1, retain: false, dup: false, messageId: 4242 },
    touchOurs: touchPublishOurs, touchTheirs: touchPublishTheirs,
  },
  {
    id: 'publish-qos1-256B-v5', label: 'PUBLISH QoS1 256 B +2 props', version: 5, weight: 15,
    ours: {
      type: 'publish', topic: 'sensors/room1/telemetry', payload: P256, qos: 1, retain: false, dup: false, packetId: 4242,
      properties: { messageExpiryInterval: 3600, contentType: 'application/json' },
    },
    theirs: {
      cmd: 'publish', topic: 'sensors/room1/telemetry', payload: P256, qos: 1, retain: false, dup: false, messageId: 4242,
      properties: { messageExpiryInterval: 3600, contentType: 'application/json' },
    },
    touchOurs: touchPublishOurs, touchTheirs: touchPublishTheirs,
  },
  {
    id: 'puback-v4', label: 'PUBACK', version: 4, weight: 15,
    ours: { type: 'puback', packetId: 4242 },
    theirs: { cmd: 'puback', messageId: 4242 },
    touchOurs: touchAckOurs, touchTheirs: touchAckTheirs,
  },
  {
    id: 'puback-v5', label: 'PUBACK rc=0 (short form)', version: 5, weight: 15,
    ours: { type: 'puback', packetId: 4242, reasonCode: 0 },
    theirs: { cmd: 'puback', messageId: 4242, reasonCode: 0 },
    touchOurs: touchAckOurs, touchTheirs: touchAckTheirs,
  },
  {
    id: 'subscribe-4-filters-v5', label: 'SUBSCRIBE 4 filters +opts', version: 5, weight: 3,
    ours: {
      type: 'subscribe', packetId: 17,
      properties: { subscriptionIdentifiers: [42], userProperties: [['app', 'dashboard']] },
      subscriptions: [
        { topicFilter: 'sensors/+/temp', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { topicFilter: 'sensors/room1/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 1 },
        { topicFilter: 'alerts/critical', qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 2 },
        { topicFilter: '$share/workers/jobs/+', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
    },
    theirs: {
      cmd: 'subscribe', messageId: 17,
      properties: { subscriptionIdentifier: 42, userProperties: { app: 'dashboard' } },
      subscriptions: [
        { topic: 'sensors/+/temp', qos: 1, nl: false, rap: false, rh: 0 },
        { topic: 'sensors/room1/#', qos: 2, nl: true, rap: true, rh: 1 },
        { topic: 'alerts/critical', qos: 1, nl: false, rap: true, rh: 2 },
        { topic: '$share/workers/jobs/+', qos: 1, nl: false, rap: false, rh: 0 },
      ],
    },
    touchOurs: (p) => (p.type === 'subscribe' ? p.subscriptions.length * 8 + p.subscriptions[3]!.topicFilter.length + p.packetId : -1),
    touchTheirs: (p) => (p.cmd === 'subscribe' ? p.subscriptions.length * 8 + p.subscriptions[3]!.topic.length + (p.messageId ?? 0) : -1),
  },
  {
    id: 'connect-v5', label: 'CONNECT props+will', version: 5, weight: 2,
    ours: {
      type: 'connect', protocolVersion: 5, clean: true, keepAlive: 60, clientId: 'device-0001-eu-west',
      username: 'device-0001', password: Buffer.from('correct horse battery staple'),
      properties: { sessionExpiryInterval: 3600, receiveMaximum: 32, userProperties: [['region', 'eu-west-1'], ['fw', '2.4.1']] },
      will: {
        topic: 'devices/device-0001/status', payload: Buffer.from('offline'), qos: 1, retain: true,
        properties: { willDelayInterval: 30, contentType: 'text/plain' },
      },
    },
    theirs: {
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'device-0001-eu-west',
      username: 'device-0001', password: Buffer.from('correct horse battery staple'),
      properties: { sessionExpiryInterval: 3600, receiveMaximum: 32, userProperties: { region: 'eu-west-1', fw: '2.4.1' } },
      will: {
        topic: 'devices/device-0001/status', payload: Buffer.from('offline'), qos: 1, retain: true,
        properties: { willDelayInterval: 30, contentType: 'text/plain' },
      },
    },
    touchOurs: (p) => (p.type === 'connect' ? p.clientId.length + p.keepAlive + (p.will?.payload.length ?? 0) : -1),
    touchTheirs: (p) => (p.cmd === 'connect' ? p.clientId.length + (p.keepalive ?? 0) + (p.will?.payload.length ?? 0) : -1),
  },
];

// ---------------------------------------------------------------- benchmark plumbing

type Side = 'ours' | 'theirs';
type Op = 'encode' | 'decode-1' | 'decode-N' | 'decode-seg';

/** One timed thing: run(iters) does `iters` iterations of `opsPerIter` packet operations and returns a checksum. */
interface Bench {
  caseId: string;
  op: Op;
  side: Side;
  opsPerIter: number;
  bytesPerOp: number;
  run: (iters: number) => number;
  /** Iterations per sample, set by calibration. */
  iters: number;
  samplesNsPerOp: number[];
}

/** Checksums of every sample end up here and are printed, so no result is dead. */
let blackhole = 0;

/**
 * A TCP-like stream: `count` back-to-back packets cut into `segment`-byte
 * chunks regardless of packet boundaries (so packets straddle chunks), enough
 * packets for at least 8 segments. Returns the chunks and the packet count.
 */
function segmented(wire: Buffer, batch: number, segment: number): [Buffer[], number] {
  const count = Math.max(batch, Math.ceil((8 * segment) / wire.length));
  const stream = Buffer.concat(Array.from({ length: count }, () => wire));
  const chunks: Buffer[] = [];
  for (let o = 0; o < stream.length; o += segment) chunks.push(stream.subarray(o, Math.min(o + segment, stream.length)));
  return [chunks, count];
}

function makeBenches(c: Case, wire: Buffer, batch: number, segment: number): Bench[] {
  const v = c.version;
  const chunkN = Buffer.concat(Array.from({ length: batch }, () => wire));
  const [segChunks, segCount] = segmented(wire, batch, segment);
  const out: Bench[] = [];
  const bench = (op: Op, side: Side, opsPerIter: number, run: (iters: number) => number): void => {
    out.push({ caseId: c.id, op, side, opsPerIter, bytesPerOp: wire.length, run, iters: 1, samplesNsPerOp: [] });
  };

  // --- encode: one Buffer per packet on both sides.
  const ours = c.ours;
  bench('encode', 'ours', 1, (iters) => {
    let s = 0;
    for (let i = 0; i < iters; i++) s += encode(ours, v).length;
    return s;
  });
  const theirs = c.theirs;
  const genOpts = { protocolVersion: v };
  bench('encode', 'theirs', 1, (iters) => {
    let s = 0;
    for (let i = 0; i < iters; i++) s += mqttPacket.generate(theirs, genOpts).length;
    return s;
  });

  // --- decode: long-lived streaming decoders (one per benchmark, like one per connection), same chunks on both sides.
  const modes: Array<[Op, Buffer[], number]> = [['decode-1', [wire], 1], ['decode-N', [chunkN], batch], ['decode-seg', segChunks, segCount]];
  for (const [op, chunks, per] of modes) {
    const nChunks = chunks.length;
    {
      let count = 0;
      let sum = 0;
      const touch = c.touchOurs;
      const dec = new Decoder({ version: v, role: 'server' });
      const sink = (p: Packet): void => { count++; sum += touch(p); };
      bench(op, 'ours', per, (iters) => {
        count = 0;
        for (let i = 0; i < iters; i++) for (let j = 0; j < nChunks; j++) dec.feed(chunks[j]!, sink);
        if (count !== iters * per || dec.buffered !== 0) throw new Error(`${c.id} ${op} ours: decoded ${count} packets, expected ${iters * per}`);
        return sum;
      });
    }
    {
      let count = 0;
      let sum = 0;
      let err: unknown;
      const touch = c.touchTheirs;
      const parser = mqttPacket.parser({ protocolVersion: v });
      parser.on('packet', (p: TheirPacket) => { count++; sum += touch(p); });
      parser.on('error', (e: unknown) => { err = e; });
      bench(op, 'theirs', per, (iters) => {
        count = 0;
        for (let i = 0; i < iters; i++) for (let j = 0; j < nChunks; j++) parser.parse(chunks[j]!);
        if (err !== undefined) throw err;
        if (count !== iters * per) throw new Error(`${c.id} ${op} mqtt-packet: decoded ${count} packets, expected ${iters * per}`);
        return sum;
      });
    }
  }
  return out;
}

function timeOnce(b: Bench, iters: number): number {
  const t0 = process.hrtime.bigint();
  const r = b.run(iters);
  const t1 = process.hrtime.bigint();
  blackhole = (blackhole + (r & 0xffff)) | 0;
  return Number(t1 - t0);
}

/** Runs `b` for about `ms` milliseconds (doubling batches) and sets b.iters so one sample lasts about `sampleMs`. */
function warmAndCalibrate(b: Bench, ms: number, sampleMs: number): void {
  let iters = 1;
  let spent = 0;
  let lastNsPerIter = Infinity;
  const budget = ms * 1e6;
  while (spent < budget) {
    const ns = timeOnce(b, iters);
    spent += ns;
    lastNsPerIter = ns / iters;
    if (ns < 2e6) iters *= 2;
  }
  b.iters = Math.max(1, Math.round((sampleMs * 1e6) / lastNsPerIter));
}

// ---------------------------------------------------------------- statistics

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

interface Summary { median: number; min: number; max: number; q1: number; q3: number; n: number }
function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, q1: quantile(s, 0.25), q3: quantile(s, 0.75), n: s.length };
}

// ---------------------------------------------------------------- formatting

function si(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}
const pad = (s: string, w: number): string => s.padEnd(w);
const lpad = (s: string, w: number): string => s.padStart(w);
const ratioStr = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '-');

// ---------------------------------------------------------------- main

function verifyCase(c: Case): { wire: Buffer; theirWire: Buffer; identical: boolean } {
  const wire = encode(c.ours, c.version);
  const theirWire = mqttPacket.generate(c.theirs, { protocolVersion: c.version });
  // Our decoder must round-trip our bytes and read theirs to the same packet.
  for (const [what, b] of [['ours', wire], ['mqtt-packet', theirWire]] as const) {
    const got = new Decoder({ version: c.version, role: 'server' }).decodeAll(b);
    if (got.length !== 1 || !isDeepStrictEqual(got[0], c.ours)) {
      throw new Error(`${c.id}: our decoder does not read the ${what} bytes back to the packet: ${JSON.stringify(got)}`);
    }
  }
  // mqtt-packet must read the bytes both decoders are fed, and see the same fields.
  const parsed: TheirPacket[] = [];
  const p = mqttPacket.parser({ protocolVersion: c.version });
  p.on('packet', (x: TheirPacket) => parsed.push(x));
  p.on('error', (e: unknown) => { throw e; });
  p.parse(wire);
  const ours = c.touchOurs(c.ours);
  if (parsed.length !== 1 || c.touchTheirs(parsed[0]!) !== ours || ours < 0) {
    throw new Error(`${c.id}: mqtt-packet does not read our bytes as expected: ${JSON.stringify(parsed)}`);
  }
  // ...and it must have decoded all of it (properties included): its packet re-encodes to the same bytes.
  if (!mqttPacket.generate(parsed[0]!, { protocolVersion: c.version }).equals(theirWire)) {
    throw new Error(`${c.id}: mqtt-packet's decoded packet does not re-encode to its own bytes: ${JSON.stringify(parsed[0])}`);
  }
  return { wire, theirWire, identical: wire.equals(theirWire) };
}

function mqttPacketVersion(): string {
  try {
    const req = createRequire(import.meta.url);
    return (JSON.parse(readFileSync(req.resolve('mqtt-packet/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const cpu = cpus();
  const env = {
    node: process.version, v8: process.versions.v8, platform: `${platform()} ${arch()}`,
    cpu: `${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length}`, memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    loadavgStart: loadavg().map((x) => +x.toFixed(2)), mqttPacket: mqttPacketVersion(),
    execArgv: process.execArgv,
  };
  console.log('MQTT codec benchmark: ours vs mqtt-packet');
  console.log(`node ${env.node} (V8 ${env.v8}), ${env.platform}, ${env.cpu}, ${env.memGiB} GiB, mqtt-packet ${env.mqttPacket}`);
  console.log(`load average (1/5/15 min) at start: ${env.loadavgStart.join(' / ')}  (whether the machine is otherwise idle is not knowable from here)`);
  console.log(`mode: ${opts.quick ? 'quick' : 'full'}; ${opts.reps} repetitions × ${opts.sampleMs} ms samples per benchmark, sides alternated; decode-N = ${opts.batch} packets per chunk, decode-seg = packet stream cut into ${opts.segment}-byte segments`);

  // Build and verify cases.
  const wires = new Map<string, Buffer>();
  const benches: Bench[] = [];
  const caseInfo: Record<string, { bytes: number; mqttPacketBytes: number; identicalBytes: boolean; version: string; weight: number; label: string }> = {};
  for (const c of CASES) {
    const { wire, theirWire, identical } = verifyCase(c);
    wires.set(c.id, wire);
    caseInfo[c.id] = { bytes: wire.length, mqttPacketBytes: theirWire.length, identicalBytes: identical, version: c.version === 5 ? '5.0' : '3.1.1', weight: c.weight, label: c.label };
    if (!identical) console.log(`note: ${c.id}: encoders produce different bytes (ours ${wire.length} B, mqtt-packet ${theirWire.length} B); decoders are both fed ours`);
    for (const b of makeBenches(c, wire, opts.batch, opts.segment)) {
      if (opts.only !== undefined && b.side !== opts.only) continue;
      if (opts.filter !== undefined && !`${b.caseId} ${b.op}`.includes(opts.filter)) continue;
      benches.push(b);
    }
  }
  if (benches.length === 0) throw new Error('no benchmark matches --filter/--only');

  // Warm-up over everything (so JIT feedback is as mixed as in a real process), then calibrate.
  for (let pass = 0; pass < opts.warmupPasses; pass++) {
    for (const b of benches) warmAndCalibrate(b, opts.warmupMs, opts.sampleMs);
  }
  const warmedAt = Date.now();

  // Measurement: repetitions, interleaving sides. Pairs (same case+op) are run back to back, order alternating.
  const pairs = new Map<string, Bench[]>();
  for (const b of benches) {
    const k = `${b.caseId}|${b.op}`;
    pairs.set(k, [...(pairs.get(k) ?? []), b]);
  }
  const pairList = [...pairs.values()];
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const pair of pairList) {
      const order = rep % 2 === 0 ? pair : [...pair].reverse();
      for (const b of order) b.samplesNsPerOp.push(timeOnce(b, b.iters) / (b.iters * b.opsPerIter));
    }
    if (!opts.quick && rep % 5 === 4) process.stderr.write(`  … ${rep + 1}/${opts.reps} repetitions\n`);
  }
  const finished = Date.now();

  // ---- results
  const ops: Op[] = ['encode', 'decode-1', 'decode-N', 'decode-seg'];
  const opLabel = (op: Op): string => (op === 'encode' ? 'encode' : op === 'decode-1' ? 'decode 1/chunk' : op === 'decode-N' ? `decode ${opts.batch}/chunk` : `decode ${opts.segment}B segs`);
  const find = (caseId: string, op: Op, side: Side): Bench | undefined => benches.find((b) => b.caseId === caseId && b.op === op && b.side === side);
  const TARGET = 2;

  interface Row {
    caseId: string; op: Op; bytes: number;
    ours?: { opsPerSec: Summary; mbPerSec: number };
    theirs?: { opsPerSec: Summary; mbPerSec: number };
    ratio?: Summary;
  }
  const rows: Row[] = [];
  const sideResult = (b: Bench | undefined): Row['ours'] => {
    if (!b) return undefined;
    const s = summarize(b.samplesNsPerOp.map((ns) => 1e9 / ns));
    return { opsPerSec: s, mbPerSec: (s.median * b.bytesPerOp) / 1e6 };
  };
  for (const c of CASES) {
    for (const op of ops) {
      const bo = find(c.id, op, 'ours');
      const bt = find(c.id, op, 'theirs');
      if (!bo && !bt) continue;
      const row: Row = { caseId: c.id, op, bytes: wires.get(c.id)!.length, ours: sideResult(bo), theirs: sideResult(bt) };
      if (bo && bt) row.ratio = summarize(bo.samplesNsPerOp.map((ns, i) => bt.samplesNsPerOp[i]! / ns));
      rows.push(row);
    }
  }

  // Weighted mix: time per op averaged over the mix (weights = packet shares), per repetition.
  interface MixRow { op: Op; ours?: { opsPerSec: number; mbPerSec: number }; theirs?: { opsPerSec: number; mbPerSec: number }; ratio?: Summary; met?: boolean }
  const mix: MixRow[] = [];
  for (const op of ops) {
    const sideMix = (side: Side): { opsPerSec: number; mbPerSec: number; perRepNs: number[] } | undefined => {
      let wSum = 0;
      let wBytes = 0;
      let wNs = 0;
      const perRep = new Array<number>(opts.reps).fill(0);
      for (const c of CASES) {
        const b = find(c.id, op, side);
        if (!b) return undefined;
        const med = summarize(b.samplesNsPerOp).median;
        wSum += c.weight;
        wBytes += c.weight * b.bytesPerOp;
        wNs += c.weight * med;
        b.samplesNsPerOp.forEach((ns, i) => { perRep[i] = perRep[i]! + c.weight * ns; });
      }
      return { opsPerSec: (1e9 * wSum) / wNs, mbPerSec: (wBytes / wNs) * 1e3, perRepNs: perRep };
    };
    const o = sideMix('ours');
    const t = sideMix('theirs');
    if (!o && !t) continue;
    const m: MixRow = { op };
    if (o) m.ours = { opsPerSec: o.opsPerSec, mbPerSec: o.mbPerSec };
    if (t) m.theirs = { opsPerSec: t.opsPerSec, mbPerSec: t.mbPerSec };
    if (o && t) {
      m.ratio = summarize(o.perRepNs.map((ns, i) => t.perRepNs[i]! / ns));
      m.met = m.ratio.median >= TARGET;
    }
    mix.push(m);
  }

  // ---- table
  const W = { pkt: 30, ver: 5, bytes: 5, op: 16, ops: 24, mb: 8, ratio: 22 };
  const cell = (r: Row['ours']): string => (r ? `${si(r.opsPerSec.median)} (${si(r.opsPerSec.min)}–${si(r.opsPerSec.max)})` : '-');
  const mb = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(1));
  const head = `${pad('packet', W.pkt)} ${pad('ver', W.ver)} ${lpad('bytes', W.bytes)}  ${pad('operation', W.op)} ${lpad('ours ops/s (min–max)', W.ops)} ${lpad('MB/s', W.mb)} │ ${lpad('mqtt-packet ops/s (min–max)', W.ops + 3)} ${lpad('MB/s', W.mb)} │ ${lpad('ours/mp (min–max)', W.ratio)}  ≥2×`;
  console.log('');
  console.log(head);
  console.log('─'.repeat(head.length));
  let lastCase = '';
  for (const r of rows) {
    const info = caseInfo[r.caseId]!;
    const first = r.caseId !== lastCase;
    if (first && lastCase !== '') console.log('');
    lastCase = r.caseId;
    const ratio = r.ratio ? `${ratioStr(r.ratio.median)} (${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)})` : '-';
    const mark = r.ratio ? (r.ratio.median >= TARGET ? 'yes' : 'NO') : '';
    console.log(`${pad(first ? info.label : '', W.pkt)} ${pad(first ? info.version : '', W.ver)} ${lpad(first ? String(r.bytes) : '', W.bytes)}  ${pad(opLabel(r.op), W.op)} ${lpad(cell(r.ours), W.ops)} ${lpad(mb(r.ours?.mbPerSec), W.mb)} │ ${lpad(cell(r.theirs), W.ops + 3)} ${lpad(mb(r.theirs?.mbPerSec), W.mb)} │ ${lpad(ratio, W.ratio)}  ${mark}`);
  }
  console.log('─'.repeat(head.length));
  const weights = CASES.map((c) => `${c.id} ${c.weight}`).join(', ');
  for (const m of mix) {
    const ratio = m.ratio ? `${ratioStr(m.ratio.median)} (${m.ratio.min.toFixed(2)}–${m.ratio.max.toFixed(2)})` : '-';
    console.log(`${pad('mix (weighted)', W.pkt)} ${pad('', W.ver)} ${lpad('', W.bytes)}  ${pad(opLabel(m.op), W.op)} ${lpad(m.ours ? si(m.ours.opsPerSec) : '-', W.ops)} ${lpad(mb(m.ours?.mbPerSec), W.mb)} │ ${lpad(m.theirs ? si(m.theirs.opsPerSec) : '-', W.ops + 3)} ${lpad(mb(m.theirs?.mbPerSec), W.mb)} │ ${lpad(ratio, W.ratio)}  ${m.met === undefined ? '' : m.met ? 'yes' : 'NO'}`);
  }
  console.log(`mix weights (% of packets): ${weights}`);

  console.log('');
  console.log(`targets (ours/mqtt-packet on the weighted mix, median of per-repetition ratios; target ≥ ${TARGET}×):`);
  const mixOf = (op: Op): MixRow | undefined => mix.find((m) => m.op === op);
  const targets: Record<string, { ratio: number | null; met: boolean | null }> = {};
  for (const [name, op] of [['encode', 'encode'], ['decode, 1 packet per chunk', 'decode-1'], [`decode, ${opts.batch} packets per chunk`, 'decode-N'], [`decode, ${opts.segment}-byte segments`, 'decode-seg']] as const) {
    const m = mixOf(op);
    const r = m?.ratio?.median;
    targets[op] = { ratio: r ?? null, met: m?.met ?? null };
    console.log(`  ${pad(name, 32)} ${r === undefined ? 'not measured' : `${ratioStr(r)}  ${m!.met ? 'met' : 'NOT met'}`}`);
  }
  const dec1 = targets['decode-1']!;
  const decN = targets['decode-N']!;
  const decS = targets['decode-seg']!;
  const decodeMet = dec1.met === null || decN.met === null || decS.met === null ? null : dec1.met && decN.met && decS.met;
  console.log(`  => encode target ${targets['encode']!.met === null ? 'not measured' : targets['encode']!.met ? 'met' : 'NOT met'}; decode target (all three chunkings) ${decodeMet === null ? 'not measured' : decodeMet ? 'met' : 'NOT met'}`);
  const loadEnd = loadavg().map((x) => +x.toFixed(2));
  console.log(`load average at end: ${loadEnd.join(' / ')}; warm-up ${((warmedAt - started) / 1000).toFixed(1)} s, measurement ${((finished - warmedAt) / 1000).toFixed(1)} s; checksum ${blackhole}`);

  if (opts.writeJson) {
    const path = opts.json ?? `out/bench/codec-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`;
    mkdirSync(dirname(path), { recursive: true });
    const result = {
      benchmark: 'codec', startedAt: new Date(started).toISOString(), env: { ...env, loadavgEnd: loadEnd },
      config: { quick: opts.quick, reps: opts.reps, sampleMs: opts.sampleMs, warmupMs: opts.warmupMs, warmupPasses: opts.warmupPasses, batch: opts.batch, segment: opts.segment, only: opts.only ?? null, filter: opts.filter ?? null },
      cases: caseInfo,
      results: rows.map((r) => ({
        ...r,
        samplesNsPerOp: {
          ours: find(r.caseId, r.op, 'ours')?.samplesNsPerOp ?? null,
          theirs: find(r.caseId, r.op, 'theirs')?.samplesNsPerOp ?? null,
        },
      })),
      mix, targets: { ...targets, target: TARGET, decodeAllChunkings: decodeMet },
      durationSec: (finished - started) / 1000, checksum: blackhole,
    };
    writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
    console.log(`results written to ${path}`);
  }
}

main();

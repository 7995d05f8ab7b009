/**
 * Shapes the link between the device and server namespaces per a link
 * profile, with what this kernel offers:
 *
 * - netem present (probed in a scratch namespace): a veth pair with a netem
 *   qdisc on each end (delay, jitter, loss, rate).
 * - netem absent (this project's machines): composed —
 *   delay and jitter: a TUN device in each namespace bridged by
 *     tun-relay.py, a user-space relay (python3) that holds each packet;
 *   rate: tbf on each link end's egress;
 *   loss: nftables `numgen random` drop on each link end's ingress;
 *   the relay also does loss and rate where nftables or tbf are missing.
 *
 * Which mechanism shaped which parameter is returned (for the manifest). A
 * parameter no mechanism can shape makes the whole profile refuse with
 * DeviceProfileUnavailable naming what is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { linkIsShaped, type LinkDirection, type LinkProfile } from './profiles.js';
import { addTunDevices, addVethLink, deleteNamespace, namespacePath, TUN_TXQUEUELEN, type NamespacePair } from './netns.js';
import { bin, DeviceProfileUnavailable, deviceAsset, INSTALL_NET_HINT, killQuiet, pidAlive, resolveCommand, run, runSync, sleepSync } from './system.js';

export type LinkMode = 'auto' | 'netem' | 'composed';

/** What this machine offers for link shaping, each with how it was found out. */
export interface LinkMechanismSupport {
  netem: boolean;
  tbf: boolean;
  nftNumgen: boolean;
  tun: boolean;
  python3: boolean;
  /** Per mechanism: the probe and its result or error. */
  how: Record<string, string>;
}

let cachedSupport: LinkMechanismSupport | undefined;

/**
 * Probes netem, tbf, nftables numgen and TUN in a scratch namespace
 * `<tag>-probe` (removed afterwards), and python3. Cached per process.
 */
export function detectLinkMechanisms(tag: string, refresh = false): LinkMechanismSupport {
  if (cachedSupport && !refresh) return cachedSupport;
  const how: Record<string, string> = {};
  const ns = `${tag}-probe`;
  const s: LinkMechanismSupport = { netem: false, tbf: false, nftNumgen: false, tun: false, python3: false, how };
  const attempt = (key: keyof Omit<LinkMechanismSupport, 'how'>, what: string, f: () => void): void => {
    try {
      f();
      s[key] = true;
      how[key] = `${what}: ok`;
    } catch (e) {
      how[key] = `${what}: ${(e as Error).message.split('\n')[0]}`;
    }
  };
  runSync(bin('ip'), ['netns', 'add', ns]);
  try {
    runSync(bin('ip'), ['-n', ns, 'link', 'add', 'mtbp0', 'type', 'veth', 'peer', 'name', 'mtbp1']); // veth: the dummy driver may be absent
    attempt('netem', `tc qdisc add dev mtbp0 root netem delay 1ms (scratch netns ${ns})`, () => {
      runSync(bin('tc'), ['-n', ns, 'qdisc', 'add', 'dev', 'mtbp0', 'root', 'netem', 'delay', '1ms']);
      runSync(bin('tc'), ['-n', ns, 'qdisc', 'del', 'dev', 'mtbp0', 'root']);
    });
    attempt('tbf', 'tc qdisc add dev mtbp0 root tbf rate 1mbit burst 3200 latency 50ms', () => {
      runSync(bin('tc'), ['-n', ns, 'qdisc', 'add', 'dev', 'mtbp0', 'root', 'tbf', 'rate', '1mbit', 'burst', '3200', 'latency', '50ms']);
      runSync(bin('tc'), ['-n', ns, 'qdisc', 'del', 'dev', 'mtbp0', 'root']);
    });
    attempt('nftNumgen', 'nft: prerouting rule "numgen random mod 1000000 < 1 drop"', () => {
      if (!resolveCommand('nft')) throw new Error(`nft not found (${INSTALL_NET_HINT})`);
      runSync(bin('ip'), ['netns', 'exec', ns, bin('nft'), '-f', '-'], lossRule('mtbprobe', 'mtbp0', 0.0001));
    });
    attempt('tun', 'ip tuntap add dev mtbp2 mode tun', () => {
      if (!existsSync('/dev/net/tun')) throw new Error('/dev/net/tun missing (kernel CONFIG_TUN, or `modprobe tun`)');
      runSync(bin('ip'), ['-n', ns, 'tuntap', 'add', 'dev', 'mtbp2', 'mode', 'tun']);
    });
  } finally {
    deleteNamespace(ns);
  }
  attempt('python3', 'python3 ≥ 3.8 (for tun-relay.py)', () => {
    const py = resolveCommand('python3');
    if (!py) throw new Error('python3 not found (Debian: apt-get install python3)');
    const v = runSync(py, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).trim();
    const [maj, min] = v.split('.').map(Number);
    if (!(maj === 3 && (min ?? 0) >= 8)) throw new Error(`python3 is ${v}, need ≥ 3.8`);
    how['python3version'] = v;
  });
  cachedSupport = s;
  return s;
}

/** Counters one relay direction reports. */
export interface RelayDirectionCounters {
  forwarded: number;
  forwardedBytes: number;
  queueDrops: number;
  lossDrops: number;
  writeErrors: number;
  queuedBytes: number;
  peakQueueBytes: number;
}

export interface RelayCounters {
  tag: string;
  final: boolean;
  uptimeS: number;
  /** Device → server. */
  ab: RelayDirectionCounters;
  /** Server → device. */
  ba: RelayDirectionCounters;
}

export interface RelayDirectionConfig {
  delayMs: number;
  jitterMs: number;
  /** 0..1, only when the relay does loss. */
  loss: number;
  /** bits/s, 0 = not limited by the relay. */
  rateBps: number;
  queueBytes: number;
}

/** The running tun-relay.py. */
export class Relay {
  readonly pid: number;
  readonly config: { ab: RelayDirectionConfig; ba: RelayDirectionConfig; seed: number };
  private readonly child: ChildProcess;
  private readonly waiters: Array<(c: RelayCounters) => void> = [];
  private last?: RelayCounters;
  private stderr = '';
  private readonly exited: Promise<void>;
  /** Scheduling the relay got (e.g. "SCHED_FIFO 10"). */
  sched = 'unknown';

  private constructor(child: ChildProcess, config: Relay['config']) {
    this.child = child;
    this.pid = child.pid as number;
    this.config = config;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(tag: string, pair: NamespacePair, ifname: string, config: Relay['config'], timeoutMs = 5000): Promise<Relay> {
    const script = deviceAsset('tun-relay.py');
    const cfg = {
      a: { netns: namespacePath(pair.deviceNs), dev: ifname },
      b: { netns: namespacePath(pair.serverNs), dev: ifname },
      ab: config.ab, ba: config.ba, seed: config.seed,
    };
    const child = spawn(bin('python3'), [script, '--tag', tag, '--config', JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const relay = new Relay(child, config);
    child.stderr?.on('data', (d: Buffer) => {
      relay.stderr = (relay.stderr + d.toString()).slice(-4000);
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let ready: () => void = () => {};
    const readyP = new Promise<void>((r) => { ready = r; });
    lines.on('line', (line) => {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      const m = msg as { ready?: boolean; sched?: string } & Partial<RelayCounters>;
      if (m.ready) {
        if (m.sched) relay.sched = m.sched;
        ready();
      }
      else if (m.ab && m.ba) {
        relay.last = m as RelayCounters;
        for (const w of relay.waiters.splice(0)) w(relay.last);
      }
    });
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (e) => reject(new Error(`tun-relay.py did not start: ${e.message}`)));
      child.once('exit', (code, sig) => reject(new Error(`tun-relay.py exited (${sig ?? code}) before it was ready: ${relay.stderr.trim()}`)));
    });
    failed.catch(() => {}); // later exits are handled by stop()
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`tun-relay.py not ready within ${timeoutMs} ms: ${relay.stderr.trim()}`)), timeoutMs);
    });
    try {
      await Promise.race([readyP, failed, timeout]);
    } catch (e) {
      killQuiet(relay.pid);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return relay;
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && pidAlive(this.pid);
  }

  /** Asks for the counters (SIGUSR1) and resolves with the JSON line the relay prints. */
  async counters(timeoutMs = 2000): Promise<RelayCounters> {
    if (!this.alive()) {
      if (this.last) return this.last;
      throw new Error('tun-relay.py is not running');
    }
    const p = new Promise<RelayCounters>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('tun-relay.py did not report its counters')), timeoutMs);
      this.waiters.push((c) => { clearTimeout(t); resolve(c); });
    });
    this.child.kill('SIGUSR1');
    return p;
  }

  /** SIGTERM, wait for the final counters line and the exit (SIGKILL after `graceMs`). */
  async stop(graceMs = 2000): Promise<RelayCounters | undefined> {
    if (this.alive()) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => killQuiet(this.pid), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    return this.last;
  }

  /** Synchronous kill for the exit path. */
  stopSync(): void {
    if (!pidAlive(this.pid)) return;
    killQuiet(this.pid, 'SIGTERM');
    for (let i = 0; i < 50 && pidAlive(this.pid); i++) sleepSync(10);
    killQuiet(this.pid);
  }
}

/** What shaped each parameter. */
export interface MechanismRecord {
  delay: string;
  jitter: string;
  loss: string;
  rate: string;
}

export interface ShapedLink {
  transport: 'veth' | 'tun';
  /** Interface name of the link end in each namespace. */
  ifname: string;
  mechanisms: MechanismRecord;
  /** Exact settings applied (qdisc parameters, nft rule, relay config). */
  settings: Record<string, unknown>;
  relay?: Relay;
  /** nftables table (inet) in each namespace, when loss is done by nftables. */
  nftTable?: string;
}

const mbit = (d: LinkDirection): number => (d.rateMbit ?? 0) * 1e6;
const hasDelay = (d: LinkDirection): boolean => d.delayMs > 0 || d.jitterMs > 0;

function tbfArgs(d: LinkDirection, queueMs: number): string[] {
  const bytesPerS = mbit(d) / 8;
  const burst = Math.max(3200, Math.ceil(bytesPerS / 100)); // ≥ 10 ms of the rate (HZ=250 needs ≥ rate/HZ)
  return ['tbf', 'rate', `${Math.round(mbit(d))}bit`, 'burst', String(burst), 'latency', `${queueMs}ms`];
}

function netemArgs(d: LinkDirection, queueMs: number): string[] {
  const args = ['netem'];
  if (hasDelay(d)) {
    args.push('delay', `${d.delayMs}ms`);
    if (d.jitterMs > 0) args.push(`${d.jitterMs}ms`, 'distribution', 'normal');
  }
  if (d.lossPct > 0) args.push('loss', `${d.lossPct}%`);
  if (d.rateMbit !== undefined) args.push('rate', `${Math.round(mbit(d))}bit`);
  // netem's limit counts every packet it holds (delay line + rate queue); size it for full-size packets.
  const holdS = (d.delayMs + 4 * d.jitterMs + queueMs) / 1000;
  const limit = d.rateMbit !== undefined ? Math.max(100, Math.ceil((mbit(d) / 8) * holdS / 1500)) : 10_000;
  args.push('limit', String(limit));
  return args;
}

function lossRule(table: string, ifname: string, lossPct: number): string {
  const ppm = Math.round(lossPct * 10_000);
  return `table inet ${table} {\n  chain loss {\n    type filter hook prerouting priority -300; policy accept;\n    iifname "${ifname}" numgen random mod 1000000 < ${ppm} counter drop\n  }\n}\n`;
}

/**
 * Creates the link between the two namespaces of `pair` and shapes it per
 * `link`. Namespace deletion removes qdiscs, nft tables and TUN devices;
 * the relay (if any) must be stopped by the caller (ShapedLink.relay).
 */
export async function shapeLink(pair: NamespacePair, link: LinkProfile, opts: { mode?: LinkMode; seed?: number; support: LinkMechanismSupport }): Promise<ShapedLink> {
  const { support } = opts;
  const mode = opts.mode ?? 'auto';
  const queueMs = link.queueMs ?? 50;
  const dirs = { up: link.up, down: link.down };
  const what = `link profile '${link.name}'`;

  if (!linkIsShaped(link)) {
    const ifname = addVethLink(pair);
    const none = 'none (unshaped veth pair)';
    return { transport: 'veth', ifname, mechanisms: { delay: none, jitter: none, loss: none, rate: none }, settings: {} };
  }

  const useNetem = mode === 'netem' || (mode === 'auto' && support.netem);
  if (useNetem) {
    if (!support.netem) throw new DeviceProfileUnavailable(what, [`netem qdisc not available (${support.how['netem']}); build the kernel with CONFIG_NET_SCH_NETEM or load sch_netem, or use mode 'composed'`]);
    const ifname = addVethLink(pair);
    const upArgs = netemArgs(dirs.up, queueMs);
    const downArgs = netemArgs(dirs.down, queueMs);
    runSync(bin('tc'), ['-n', pair.deviceNs, 'qdisc', 'add', 'dev', ifname, 'root', ...upArgs]);
    runSync(bin('tc'), ['-n', pair.serverNs, 'qdisc', 'add', 'dev', ifname, 'root', ...downArgs]);
    const m = 'netem qdisc on each veth end (egress)';
    return {
      transport: 'veth', ifname,
      mechanisms: { delay: m, jitter: `${m}, normal distribution`, loss: m, rate: m },
      settings: { [`tc ${pair.deviceNs} (up)`]: upArgs.join(' '), [`tc ${pair.serverNs} (down)`]: downArgs.join(' ') },
    };
  }

  // Composed from what exists.
  const anyDelay = hasDelay(dirs.up) || hasDelay(dirs.down);
  const anyRate = dirs.up.rateMbit !== undefined || dirs.down.rateMbit !== undefined;
  const anyLoss = dirs.up.lossPct > 0 || dirs.down.lossPct > 0;
  const relayCan = support.tun && support.python3;
  const relayMissing = [
    ...(support.tun ? [] : [`TUN devices (${support.how['tun']})`]),
    ...(support.python3 ? [] : [`python3 (${support.how['python3']})`]),
  ].join(' and ');
  const missing: string[] = [];
  if (anyDelay && !relayCan) missing.push(`delay/jitter: no netem (${support.how['netem']}) and the user-space relay needs ${relayMissing}`);
  if (anyRate && !support.tbf && !relayCan) missing.push(`rate: no tbf qdisc (${support.how['tbf']}; kernel CONFIG_NET_SCH_TBF) and the relay fallback needs ${relayMissing}`);
  if (anyLoss && !support.nftNumgen && !relayCan) missing.push(`loss: no nftables numgen (${support.how['nftNumgen']}; ${INSTALL_NET_HINT}) and the relay fallback needs ${relayMissing}`);
  if (missing.length) throw new DeviceProfileUnavailable(what, missing);

  const rateByRelay = anyRate && !support.tbf;
  const lossByRelay = anyLoss && !support.nftNumgen;
  const needRelay = anyDelay || rateByRelay || lossByRelay;
  const ifname = needRelay ? addTunDevices(pair) : addVethLink(pair);
  const settings: Record<string, unknown> = {};
  const mechanisms: MechanismRecord = { delay: 'none', jitter: 'none', loss: 'none', rate: 'none' };

  if (anyRate && !rateByRelay) {
    for (const [name, ns, d] of [['up', pair.deviceNs, dirs.up], ['down', pair.serverNs, dirs.down]] as const) {
      if (d.rateMbit === undefined) continue;
      const args = tbfArgs(d, queueMs);
      runSync(bin('tc'), ['-n', ns, 'qdisc', 'add', 'dev', ifname, 'root', ...args]);
      settings[`tc ${ns} dev ${ifname} (${name})`] = args.join(' ');
    }
    mechanisms.rate = `tbf qdisc on each ${needRelay ? 'TUN' : 'veth'} end (egress), latency ${queueMs} ms`;
  }
  let nftTable: string | undefined;
  if (anyLoss && !lossByRelay) {
    nftTable = pair.tag;
    // loss of a direction is applied on arrival, in the receiving namespace (the sender believes it sent the packet)
    for (const [name, ns, d] of [['up', pair.serverNs, dirs.up], ['down', pair.deviceNs, dirs.down]] as const) {
      if (d.lossPct <= 0) continue;
      const rule = lossRule(nftTable, ifname, d.lossPct);
      runSync(bin('ip'), ['netns', 'exec', ns, bin('nft'), '-f', '-'], rule);
      settings[`nft ${ns} (${name})`] = rule.replace(/\s+/g, ' ').trim();
    }
    mechanisms.loss = 'nftables numgen random drop on ingress of the receiving namespace (per direction)';
  }
  let relay: Relay | undefined;
  if (needRelay) {
    const relayDir = (d: LinkDirection): RelayDirectionConfig => {
      const rateBps = rateByRelay ? mbit(d) : 0;
      // With the relay doing rate, its queue is the bottleneck buffer (queueMs of the rate); otherwise it only
      // holds the delay line, so it is sized not to drop.
      const queueBytes = rateBps > 0 ? Math.max(16_384, Math.ceil((rateBps / 8) * (queueMs + d.delayMs + 4 * d.jitterMs) / 1000)) : 8 << 20;
      return { delayMs: d.delayMs, jitterMs: d.jitterMs, loss: lossByRelay ? d.lossPct / 100 : 0, rateBps, queueBytes };
    };
    const config = { ab: relayDir(dirs.up), ba: relayDir(dirs.down), seed: opts.seed ?? 1 };
    relay = await Relay.start(pair.tag, pair, ifname, config);
    settings['tun-relay'] = { pid: relay.pid, script: 'scenarios/device/tun-relay.py', scheduling: relay.sched, tunTxQueueLen: TUN_TXQUEUELEN, ...config };
    const r = 'tun-relay.py (user-space, python3) between a TUN device in each namespace';
    if (anyDelay) {
      mechanisms.delay = `${r}: holds each packet delayMs`;
      mechanisms.jitter = `${r}: + normal(0, jitterMs) per packet, FIFO (never reorders)`;
    }
    if (lossByRelay) mechanisms.loss = `${r}: random drop (no nftables numgen here)`;
    if (rateByRelay) mechanisms.rate = `${r}: serialisation at rateMbit (no tbf here)`;
  }
  return { transport: needRelay ? 'tun' : 'veth', ifname, mechanisms, settings, ...(relay ? { relay } : {}), ...(nftTable ? { nftTable } : {}) };
}

/** Drops counted by the kernel mechanisms: nftables loss rule and tbf, per direction. */
export interface KernelShapingCounters {
  nftDropped: { up: number; down: number };
  tbfDropped: { up: number; down: number };
}

async function nftDrops(ns: string, table: string): Promise<number> {
  try {
    const { stdout } = await run(bin('ip'), ['netns', 'exec', ns, bin('nft'), '-j', 'list', 'table', 'inet', table]);
    const m = /"counter":\s*\{\s*"packets":\s*(\d+)/.exec(stdout);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function tbfDrops(ns: string, ifname: string): Promise<number> {
  try {
    const { stdout } = await run(bin('tc'), ['-n', ns, '-s', '-j', 'qdisc', 'show', 'dev', ifname]);
    const q = (JSON.parse(stdout) as Array<{ kind?: string; drops?: number }>).find((x) => x.kind === 'tbf' || x.kind === 'netem');
    return q?.drops ?? 0;
  } catch {
    return 0;
  }
}

export async function kernelShapingCounters(pair: NamespacePair, shaped: ShapedLink): Promise<KernelShapingCounters> {
  const t = shaped.nftTable;
  const [nu, nd, tu, td] = await Promise.all([
    t ? nftDrops(pair.serverNs, t) : 0, t ? nftDrops(pair.deviceNs, t) : 0,
    tbfDrops(pair.deviceNs, shaped.ifname), tbfDrops(pair.serverNs, shaped.ifname),
  ]);
  return { nftDropped: { up: nu, down: nd }, tbfDropped: { up: tu, down: td } };
}

/**
 * setupDeviceProfile: the one call the scenario runner makes. It sweeps
 * what crashed runs left behind, creates the device cgroup (caps or
 * accounting only), the two namespaces and the shaped link, measures every
 * shaping parameter, and returns exec helpers, counters, usage, the manifest
 * and teardown(). Everything created is removed by teardown(), and also on
 * process exit, SIGINT, SIGTERM, SIGHUP and uncaught errors; a SIGKILLed
 * runner's leftovers are removed by the next sweepStale().
 *
 * Never runs unconstrained silently: without root, or with a mechanism a
 * profile parameter needs missing, it throws DeviceProfileUnavailable naming
 * exactly what is missing; a measured parameter far off the profile throws
 * DeviceProfileVerificationFailed saying what was measured.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { basename } from 'node:path';
import { createDeviceCgroup, detectCgroups, findMtbCgroupDirs, removeCgroupDir, type CgroupSupport, type CgroupUsage, type DeviceCgroup } from './cgroup.js';
import { detectLinkMechanisms, kernelShapingCounters, shapeLink, type KernelShapingCounters, type LinkMechanismSupport, type LinkMode, type MechanismRecord, type RelayCounters, type ShapedLink } from './link.js';
import { createNamespacePair, deleteNamespace, DEVICE_ADDRESS, exec, interfaceCounters, listNamespaces, SERVER_ADDRESS, type InterfaceCounters, type NamespacePair } from './netns.js';
import { checkDeviceProfile, checkLinkProfile, linkIsShaped, resolveDeviceProfile, resolveLinkProfile, type DeviceProfile, type LinkProfile } from './profiles.js';
import {
  bin, DeviceProfileUnavailable, DeviceProfileVerificationFailed, haveCommand, INSTALL_NET_HINT, isRoot, killQuiet, nextTag, ownerGone, pidAlive,
  processRef, processStartTime, readStates, removeState, sleep, sleepSync, tagOf, trySync, writeState, type ProcessRef, type StateFile,
} from './system.js';
import { CPU_TOLERANCE, judgeCpu, judgeLink, LINK_TOLERANCE, measureCpu, measureLink, type CpuMeasurement, type LinkMeasurement } from './verify.js';

export interface SetupOptions {
  /** 'host', 'pi-class', … or a DeviceProfile object. */
  device: string | DeviceProfile;
  /** Link profile name or object; default: the device profile's defaultLink. */
  link?: string | LinkProfile;
  /** Recorded in the manifest. */
  runId: string;
  /**
   * true: device and server in the root namespace on loopback (no
   * namespaces, no IP-layer counters, no link shaping; works without root
   * for a profile without caps). false: two namespaces, or refuse.
   * Default: two namespaces and a veth pair — also for `host` — where this
   * process is root and has `ip`; a profile without caps on an unshaped
   * link falls back to loopback otherwise (manifest network.why says so).
   */
  rootNamespace?: boolean;
  /** 'auto' (netem when the kernel has it, else composed), 'netem' or 'composed'. */
  linkMode?: LinkMode;
  /** Measure every shaping parameter before returning (default true). false: manifest says "not verified". */
  verify?: boolean;
  /** Seed of the relay's jitter/loss random numbers (default 1). */
  seed?: number;
}

export interface ExecDeviceOptions extends SpawnOptions {
  /** Start outside the device cgroup (tools, probes). Default false: every device process is capped. */
  unconstrained?: boolean;
}

/** Interface counters of both link ends at one instant. */
export interface LinkCounters {
  device: InterfaceCounters;
  server: InterfaceCounters;
  interface: string;
  /** Bytes per packet the counters add on top of the IP packet: 14 (Ethernet) on veth, 0 on TUN. */
  l2HeaderBytes: number;
  atMs: number;
}

export interface DeviceUsage {
  cpuMs: number;
  throttledMs: number;
  memoryPeakKiB: number;
  nrThrottled: number;
  memoryCurrentKiB: number;
  memoryLimitKiB?: number;
  oomKills: number;
}

/** Everything about the emulated device and link (goes into BenchmarkResults.deviceProfile). */
export type DeviceManifest = {
  name: string;
  link: string;
  runId: string;
  tag: string;
  createdAt: string;
  host: { kernel: string; cpu: string; cores: number; node: string; root: boolean };
  profiles: { device: DeviceProfile; link: LinkProfile };
  cgroup: { version: 'v1' | 'v2' | 'none'; why: string; name?: string; dirs?: string[]; settings?: Record<string, string> };
  network: {
    mode: 'netns' | 'root-namespace';
    /** Why this mode. */
    why: string;
    deviceNs?: string;
    serverNs?: string;
    deviceAddress: string;
    serverAddress: string;
    transport?: 'veth' | 'tun' | 'loopback';
    interface?: string;
    l2HeaderBytes?: number;
  };
  /** Which mechanism shaped each parameter. */
  mechanisms: { cpu: string; memory: string } & MechanismRecord;
  /** What the machine offers, as probed (link mechanisms). */
  mechanismProbe?: Record<string, string>;
  linkSettings?: Record<string, unknown>;
  verification: 'passed' | 'not verified (verify: false)';
  measured: {
    cpu?: CpuMeasurement;
    link?: LinkMeasurement;
    /** Drops counted by the shaping mechanisms during verification. */
    shapingCounters?: { relay?: RelayCounters; kernel?: KernelShapingCounters };
    memoryLimitReadBackKiB?: number;
    /** Set when a first measurement was far off and was taken again (these are its problems); the values above are the second. */
    firstAttemptProblems?: { cpu?: string[]; link?: string[] };
  };
  tolerances: { link: typeof LINK_TOLERANCE; cpu: typeof CPU_TOLERANCE };
};

export interface DeviceSetup {
  tag: string;
  runId: string;
  /** Namespace names (null in root-namespace mode). */
  serverNs: string | null;
  deviceNs: string | null;
  /** IP the server listens on, as seen from the device (inside the server namespace; 127.0.0.1 in root-namespace mode). */
  serverAddress: string;
  deviceAddress: string;
  /** Spawns in the server namespace (not capped). */
  execServer(command: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Spawns in the device namespace, inside the device cgroup (unless opts.unconstrained). */
  execDevice(command: string, args?: readonly string[], opts?: ExecDeviceOptions): ChildProcess;
  /** Interface counters of both link ends (null in root-namespace mode: loopback is shared with everything else). */
  counters(): Promise<LinkCounters | null>;
  /**
   * CPU time, throttling and peak memory of the device cgroup (null when no
   * cgroup could be made). CPU figures are cumulative since set-up: take the
   * difference of two calls. The memory peak starts after verification; see
   * resetMemoryPeak().
   */
  deviceUsage(): DeviceUsage | null;
  /** Starts the device memory peak afresh (e.g. between phases); false where the kernel cannot. */
  resetMemoryPeak(): boolean;
  /** Counters of the shaping mechanisms (relay forwarded/dropped, nft/tbf drops). */
  shapingCounters(): Promise<{ relay?: RelayCounters; kernel?: KernelShapingCounters }>;
  manifest: DeviceManifest;
  /** Stops every process started here and removes namespaces, cgroups and the relay; throws naming anything left behind. */
  teardown(): Promise<void>;
}

/** Internal state of one set-up, also reachable from the exit handlers. */
interface Live {
  tag: string;
  state: StateFile;
  pair?: NamespacePair;
  cgroup?: DeviceCgroup;
  shaped?: ShapedLink;
  children: Set<ChildProcess>;
  tornDown: boolean;
}

const active = new Map<string, Live>();

function saveState(l: Live): void {
  l.state.namespaces = l.pair ? [l.pair.deviceNs, l.pair.serverNs] : [];
  l.state.cgroups = l.cgroup ? [...l.cgroup.dirs] : [];
  const procs: ProcessRef[] = [];
  if (l.shaped?.relay) procs.push(processRef(l.shaped.relay.pid));
  for (const c of l.children) if (c.pid && c.exitCode === null && c.signalCode === null) procs.push(processRef(c.pid));
  l.state.processes = procs;
  writeState(l.state);
}

/** Synchronous teardown (exit and signal paths): SIGKILL everything, remove everything. */
function teardownSync(l: Live): string[] {
  if (l.tornDown) return [];
  l.tornDown = true;
  for (const c of l.children) if (c.pid) killQuiet(c.pid);
  l.shaped?.relay?.stopSync();
  return finish(l);
}

/** The common tail of both teardowns: cgroup, namespaces, state file; returns what is left. */
function finish(l: Live): string[] {
  const left: string[] = [];
  if (l.cgroup) left.push(...l.cgroup.remove().map((d) => `cgroup ${d}`));
  if (l.pair) {
    for (const ns of [l.pair.deviceNs, l.pair.serverNs]) if (!deleteNamespace(ns)) left.push(`namespace ${ns}`);
  }
  const relay = l.shaped?.relay;
  if (relay && pidAlive(relay.pid)) left.push(`tun-relay.py PID ${relay.pid}`);
  active.delete(l.tag);
  if (active.size === 0) uninstallHandlers();
  if (left.length === 0) removeState(l.tag);
  return left;
}

async function teardownAsync(l: Live): Promise<void> {
  if (l.tornDown) return;
  l.tornDown = true;
  const alive = [...l.children].filter((c) => c.pid && c.exitCode === null && c.signalCode === null);
  await Promise.all(alive.map(async (c) => {
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.pid && killQuiet(c.pid), 1500);
    await Promise.race([gone, sleep(3000)]);
    clearTimeout(t);
  }));
  await l.shaped?.relay?.stop();
  const left = finish(l);
  if (left.length) throw new Error(`device profile ${l.tag}: teardown left behind: ${left.join(', ')}`);
}

function teardownAllSync(): void {
  for (const l of [...active.values()]) {
    try {
      teardownSync(l);
    } catch { /* keep going: the next sweepStale() gets the rest */ }
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const signalHandlers = new Map<NodeJS.Signals, () => void>();
let installed = false;

function onExit(): void {
  teardownAllSync();
}

function onUncaught(): void {
  teardownAllSync();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  process.on('uncaughtExceptionMonitor', onUncaught);
  for (const sig of SIGNALS) {
    const h = (): void => {
      const others = process.listeners(sig).filter((l) => l !== h).length;
      teardownAllSync();
      // Nobody else listens: restore the default action and re-raise, so the process ends as it would have.
      if (others === 0) {
        uninstallHandlers();
        process.kill(process.pid, sig);
      }
    };
    signalHandlers.set(sig, h);
    process.on(sig, h);
  }
}

function uninstallHandlers(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', onExit);
  process.removeListener('uncaughtExceptionMonitor', onUncaught);
  for (const [sig, h] of signalHandlers) process.removeListener(sig, h);
  signalHandlers.clear();
}

export interface SweepReport {
  namespaces: string[];
  cgroups: string[];
  processes: number[];
  nftTables: string[];
  stateFiles: string[];
  /** Things found stale but not removable. */
  failed: string[];
}

/** Tags (`mtb-<pid>-<n>`) found in the command lines of running tun-relay.py processes, with their PIDs. */
function relayProcesses(): Array<{ pid: number; tag: string }> {
  const out: Array<{ pid: number; tag: string }> = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!cmd.some((a) => a.endsWith('tun-relay.py'))) continue;
    const i = cmd.indexOf('--tag');
    const tag = i >= 0 ? cmd[i + 1] : undefined;
    if (tag && tagOf(tag) === tag) out.push({ pid: Number(e), tag });
  }
  return out;
}

/**
 * Removes every `mtb-<pid>-…` namespace, cgroup, relay, process recorded in
 * a state file and (root-namespace) nft table whose runner is no longer
 * alive (or whose PID now belongs to another process). Safe to run while
 * other runners are active: their resources are left alone. Called at the
 * start of every setupDeviceProfile. Without root there is nothing we could
 * have made, so it does nothing.
 */
export function sweepStale(): SweepReport {
  const report: SweepReport = { namespaces: [], cgroups: [], processes: [], nftTables: [], stateFiles: [], failed: [] };
  if (!isRoot()) return report;
  const states = readStates();
  const activeTags = new Set(active.keys());
  const stale = (tag: string | undefined): tag is string => tag !== undefined && ownerGone(tag, states, activeTags);

  for (const s of states) {
    if (!stale(s.tag)) continue;
    for (const p of s.processes ?? []) {
      if (pidAlive(p.pid, p.startTime) && p.startTime !== undefined) {
        killQuiet(p.pid);
        report.processes.push(p.pid);
      }
    }
  }
  for (const r of relayProcesses()) {
    if (stale(r.tag)) {
      killQuiet(r.pid);
      report.processes.push(r.pid);
    }
  }
  if (haveCommand('ip')) {
    for (const ns of listNamespaces()) {
      if (!stale(tagOf(ns))) continue;
      if (deleteNamespace(ns)) report.namespaces.push(ns);
      else report.failed.push(`namespace ${ns}`);
    }
  }
  for (const dir of findMtbCgroupDirs()) {
    if (!stale(tagOf(basename(dir)))) continue;
    if (removeCgroupDir(dir)) report.cgroups.push(dir);
    else report.failed.push(`cgroup ${dir}`);
  }
  if (haveCommand('nft')) {
    const tables = trySync(bin('nft'), ['list', 'tables']) ?? '';
    for (const line of tables.split('\n')) {
      const m = /^table (\S+) (mtb-\S+)$/.exec(line.trim());
      if (!m || !stale(tagOf(m[2] as string))) continue;
      if (trySync(bin('nft'), ['delete', 'table', m[1] as string, m[2] as string]) !== undefined) report.nftTables.push(`${m[1]} ${m[2]}`);
      else report.failed.push(`nft table ${m[1]} ${m[2]}`);
    }
  }
  for (const s of states) {
    if (!stale(s.tag)) continue;
    const left = s.namespaces.filter((n) => existsSync(`/var/run/netns/${n}`)).concat(s.cgroups.filter((d) => existsSync(d)));
    if (left.length === 0) {
      removeState(s.tag);
      report.stateFiles.push(s.tag);
    }
  }
  // let killed relays finish exiting so callers see a clean process table
  for (const pid of report.processes) for (let i = 0; i < 50 && pidAlive(pid); i++) sleepSync(10);
  return report;
}

function describeCpuMechanism(c: DeviceCgroup | undefined, profile: DeviceProfile): string {
  if (!profile.cpu) return c ? `none (accounting only: ${c.version} cgroup ${c.name})` : 'none';
  if (!c) return 'none';
  return c.version === 'v2'
    ? `cgroup v2 cpu.max ${c.settings['cpu.max']} (quota µs, period µs)`
    : `cgroup v1 cpu.cfs_quota_us ${c.settings['cpu.cfs_quota_us']} / cpu.cfs_period_us ${c.settings['cpu.cfs_period_us']}`;
}

function describeMemMechanism(c: DeviceCgroup | undefined, profile: DeviceProfile): string {
  if (!profile.memory) return c ? 'none (peak accounted)' : 'none';
  if (!c) return 'none';
  return c.version === 'v2'
    ? `cgroup v2 memory.max ${c.settings['memory.max']} bytes${c.settings['memory.swap.max'] ? ', memory.swap.max 0' : ''}`
    : `cgroup v1 memory.limit_in_bytes ${c.settings['memory.limit_in_bytes']}${c.settings['memory.memsw.limit_in_bytes'] ? ' (+ memsw)' : ''} (OOM kill past it)`;
}

/** Sets up the device profile; see the module comment. */
export async function setupDeviceProfile(opts: SetupOptions): Promise<DeviceSetup> {
  const profile = resolveDeviceProfile(opts.device);
  const link = resolveLinkProfile(opts.link ?? profile.defaultLink);
  const bad = [...checkDeviceProfile(profile), ...checkLinkProfile(link)];
  if (bad.length) throw new Error(`invalid profile: ${bad.join('; ')}`);
  const shapedLink = linkIsShaped(link);
  const what = `device profile '${profile.name}' with link '${link.name}'`;
  const root = isRoot();
  const canNetns = root && haveCommand('ip');
  const needsNetns = shapedLink || !!profile.cpu || !!profile.memory;
  const rootNs = opts.rootNamespace ?? (!needsNetns && !canNetns);
  const networkWhy = opts.rootNamespace === true ? 'rootNamespace: true'
    : opts.rootNamespace === false ? 'rootNamespace: false'
    : rootNs ? `fallback to loopback: ${root ? 'the ip command (iproute2) is missing' : `not root (uid ${process.getuid?.()})`}, so no namespaces and no IP-layer counters`
    : 'default: two network namespaces';
  if (rootNs && shapedLink) {
    throw new DeviceProfileUnavailable(what, [`rootNamespace: true cannot shape a link (link '${link.name}' has delay/loss/rate): shaping needs the two network namespaces; drop rootNamespace or use link 'none'`]);
  }
  const needs: string[] = [];
  if (!rootNs) needs.push('network namespaces');
  if (profile.cpu) needs.push('a CPU quota (cgroup)');
  if (profile.memory) needs.push('a memory limit (cgroup)');
  if (!root && needs.length) {
    throw new DeviceProfileUnavailable(what, [`root (uid 0) is needed for ${needs.join(', ')}; this process runs as uid ${process.getuid?.()}. Run as root (sudo)${!profile.cpu && !profile.memory ? ", or pass rootNamespace: true to run 'host' on loopback without namespaces" : ''}`]);
  }
  if (!rootNs && !haveCommand('ip')) throw new DeviceProfileUnavailable(what, [`the ip command (iproute2) is missing: ${INSTALL_NET_HINT}`]);
  if (!rootNs && shapedLink && !haveCommand('tc')) throw new DeviceProfileUnavailable(what, [`the tc command (iproute2) is missing: ${INSTALL_NET_HINT}`]);

  if (root) sweepStale();

  const tag = nextTag();
  const startTime = processStartTime(process.pid);
  const live: Live = {
    tag, children: new Set(), tornDown: false,
    state: { tag, pid: process.pid, ...(startTime !== undefined ? { startTime } : {}), namespaces: [], cgroups: [], processes: [] },
  };
  active.set(tag, live);
  installHandlers();
  saveState(live);

  try {
    // 1. cgroup: caps, or accounting only when possible
    let support: CgroupSupport | undefined;
    const caps = {
      ...(profile.cpu ? { cpu: { quota: profile.cpu.quota, periodUs: profile.cpu.periodUs } } : {}),
      ...(profile.memory ? { memoryMiB: profile.memory.limitMiB } : {}),
    };
    let cgroupWhy = 'not root: no cgroup';
    if (root) {
      support = detectCgroups();
      cgroupWhy = support.why;
      if (profile.cpu || profile.memory) {
        live.cgroup = createDeviceCgroup(tag, caps, support);
      } else {
        try {
          live.cgroup = createDeviceCgroup(tag, {}, support);
        } catch (e) {
          cgroupWhy = `${support.why}; accounting cgroup failed: ${(e as Error).message}`;
        }
      }
      saveState(live);
    }

    // 2. namespaces and link
    let mech: LinkMechanismSupport | undefined;
    if (!rootNs) {
      live.pair = createNamespacePair(tag);
      saveState(live);
      if (shapedLink) mech = detectLinkMechanisms(tag);
      live.shaped = await shapeLink(live.pair, link, { ...(opts.linkMode ? { mode: opts.linkMode } : {}), seed: opts.seed ?? 1, support: mech ?? { netem: false, tbf: false, nftNumgen: false, tun: false, python3: false, how: {} } });
      saveState(live);
    }
    const pair = live.pair;
    const shaped = live.shaped;
    const cgroup = live.cgroup;

    // 3. verification
    const measured: DeviceManifest['measured'] = {};
    const verify = opts.verify ?? true;
    if (verify) {
      const problems: string[] = [];
      const retried: { cpu?: string[]; link?: string[] } = {};
      // A measurement far off is taken again once (a load spike on a shared machine); refused if it is off twice.
      if (profile.cpu && cgroup) {
        const quota = profile.cpu.quota;
        measured.cpu = await measureCpu(cgroup, quota);
        let p = judgeCpu(measured.cpu);
        if (p.length) {
          retried.cpu = p;
          measured.cpu = await measureCpu(cgroup, quota);
          p = judgeCpu(measured.cpu);
        }
        problems.push(...p);
      }
      if (profile.memory && cgroup) {
        const u = cgroup.usage();
        measured.memoryLimitReadBackKiB = u.memoryLimitKiB;
        if (u.memoryLimitKiB !== profile.memory.limitMiB * 1024) problems.push(`memory: limit read back as ${u.memoryLimitKiB} KiB, profile ${profile.memory.limitMiB * 1024} KiB`);
      }
      if (pair) {
        const target = { deviceNs: pair.deviceNs, serverNs: pair.serverNs, deviceAddress: DEVICE_ADDRESS, serverAddress: SERVER_ADDRESS };
        measured.link = await measureLink(target, link, !shapedLink);
        let p = judgeLink(link, measured.link);
        if (p.length) {
          retried.link = p;
          measured.link = await measureLink(target, link, !shapedLink);
          p = judgeLink(link, measured.link);
        }
        problems.push(...p);
        if (shaped && shapedLink) {
          measured.shapingCounters = {
            ...(shaped.relay ? { relay: await shaped.relay.counters() } : {}),
            kernel: await kernelShapingCounters(pair, shaped),
          };
        }
      }
      if (Object.keys(retried).length) measured.firstAttemptProblems = retried;
      if (problems.length) throw new DeviceProfileVerificationFailed(`${what} (${tag})`, problems, measured);
    }
    // The verification's own processes must not count as the device's memory peak.
    cgroup?.resetMemoryPeak();

    const cpu0 = cpus()[0];
    const none = 'none';
    const manifest: DeviceManifest = {
      name: profile.name,
      link: link.name,
      runId: opts.runId,
      tag,
      createdAt: new Date().toISOString(),
      host: { kernel: release(), cpu: cpu0?.model ?? 'unknown', cores: cpus().length, node: process.version, root },
      profiles: { device: profile, link },
      cgroup: cgroup
        ? { version: cgroup.version, why: cgroupWhy, name: cgroup.name, dirs: cgroup.dirs, settings: cgroup.settings }
        : { version: 'none', why: cgroupWhy },
      network: pair && shaped
        ? { mode: 'netns', why: networkWhy, deviceNs: pair.deviceNs, serverNs: pair.serverNs, deviceAddress: DEVICE_ADDRESS, serverAddress: SERVER_ADDRESS, transport: shaped.transport, interface: shaped.ifname, l2HeaderBytes: shaped.transport === 'veth' ? 14 : 0 }
        : { mode: 'root-namespace', why: networkWhy, deviceAddress: '127.0.0.1', serverAddress: '127.0.0.1', transport: 'loopback' },
      mechanisms: {
        cpu: describeCpuMechanism(cgroup, profile),
        memory: describeMemMechanism(cgroup, profile),
        ...(shaped?.mechanisms ?? { delay: none, jitter: none, loss: none, rate: none }),
      },
      ...(mech ? { mechanismProbe: mech.how } : {}),
      ...(shaped && Object.keys(shaped.settings).length ? { linkSettings: shaped.settings } : {}),
      verification: verify ? 'passed' : 'not verified (verify: false)',
      measured,
      tolerances: { link: LINK_TOLERANCE, cpu: CPU_TOLERANCE },
    };

    const track = (c: ChildProcess): ChildProcess => {
      live.children.add(c);
      c.once('exit', () => live.children.delete(c));
      saveState(live);
      return c;
    };
    const setup: DeviceSetup = {
      tag,
      runId: opts.runId,
      serverNs: pair?.serverNs ?? null,
      deviceNs: pair?.deviceNs ?? null,
      serverAddress: pair ? SERVER_ADDRESS : '127.0.0.1',
      deviceAddress: pair ? DEVICE_ADDRESS : '127.0.0.1',
      execServer: (command, args = [], o = {}) => {
        if (live.tornDown) throw new Error(`device profile ${tag} is torn down`);
        return track(exec(pair?.serverNs ?? null, command, args, o));
      },
      execDevice: (command, args = [], o = {}) => {
        if (live.tornDown) throw new Error(`device profile ${tag} is torn down`);
        const { unconstrained, ...rest } = o;
        return track(exec(pair?.deviceNs ?? null, command, args, { ...rest, ...(cgroup && !unconstrained ? { cgroup } : {}) }));
      },
      counters: async () => {
        if (!pair || !shaped) return null;
        const [device, server] = await Promise.all([interfaceCounters(pair.deviceNs, shaped.ifname), interfaceCounters(pair.serverNs, shaped.ifname)]);
        return { device, server, interface: shaped.ifname, l2HeaderBytes: shaped.transport === 'veth' ? 14 : 0, atMs: Date.now() };
      },
      deviceUsage: () => {
        if (!cgroup) return null;
        const u: CgroupUsage = cgroup.usage();
        return {
          cpuMs: u.cpuMs, throttledMs: u.throttledMs, memoryPeakKiB: u.memoryPeakKiB, nrThrottled: u.nrThrottled,
          memoryCurrentKiB: u.memoryCurrentKiB, ...(u.memoryLimitKiB !== undefined ? { memoryLimitKiB: u.memoryLimitKiB } : {}), oomKills: u.oomKills,
        };
      },
      resetMemoryPeak: () => cgroup?.resetMemoryPeak() ?? false,
      shapingCounters: async () => ({
        ...(shaped?.relay ? { relay: await shaped.relay.counters() } : {}),
        ...(pair && shaped ? { kernel: await kernelShapingCounters(pair, shaped) } : {}),
      }),
      manifest,
      teardown: () => teardownAsync(live),
    };
    return setup;
  } catch (e) {
    try {
      await teardownAsync(live);
    } catch (t) {
      (e as Error).message += `\n(and teardown after the failure: ${(t as Error).message})`;
    }
    throw e;
  }
}

/** Tags of the set-ups this process has active (for tests and diagnostics). */
export function activeDeviceProfiles(): string[] {
  return [...active.keys()];
}

/**
 * A cgroup for the device side: CPU quota and memory limit, accounting of
 * CPU time, throttling and peak memory, and removal.
 *
 * cgroup v2 is used where the unified hierarchy offers the `cpu` and `memory`
 * controllers; otherwise the v1 `cpu` (cfs_quota_us / cfs_period_us),
 * `cpuacct` (usage) and `memory` (limit_in_bytes) hierarchies. Each v1 child
 * is made under the current process's own cgroup of that hierarchy (from
 * /proc/self/cgroup; on some hosts a memory child elsewhere does not bite).
 * Every directory is named `mtb-<runner pid>-<n>` so a later sweep can find
 * the ones a crashed runner left behind.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceProfileUnavailable, killQuiet, sleepSync } from './system.js';

export type CgroupVersion = 'v1' | 'v2';

interface Mount { root: string; mountPoint: string; fsType: string; superOptions: string[] }

/** Where this process sits and where children can be made, per controller. */
export interface CgroupLayout {
  v2?: { mountPoint: string; ownDir: string; controllers: string[] };
  /** v1: directory of this process's own cgroup in each hierarchy (children go here). */
  v1: { cpu?: string; cpuacct?: string; memory?: string };
  /** v1: mount point of each hierarchy. */
  v1Mounts: { cpu?: string; cpuacct?: string; memory?: string };
}

/** Parses /proc/self/mountinfo and /proc/self/cgroup (pure, for tests). `controllersOf(dir)` reads cgroup.controllers. */
export function parseCgroupLayout(mountinfo: string, selfCgroup: string, controllersOf: (dir: string) => string[] = readControllers): CgroupLayout {
  const mounts: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const pre = line.slice(0, dash).split(' ');
    const post = line.slice(dash + 3).split(' ');
    const fsType = post[0] ?? '';
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({ root: unescapeMount(pre[3] ?? '/'), mountPoint: unescapeMount(pre[4] ?? ''), fsType, superOptions: (post[2] ?? '').split(',') });
  }
  const own = new Map<string, string>(); // controller (or '' for v2) → path
  for (const line of selfCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const ctrls = m[2] ?? '';
    const path = m[3] ?? '/';
    if (m[1] === '0' && ctrls === '') own.set('', path);
    for (const c of ctrls.split(',')) if (c) own.set(c, path);
  }
  const dirFor = (mount: Mount, path: string | undefined): string => {
    const p = path ?? '/';
    let rel = p;
    if (mount.root !== '/' && (p === mount.root || p.startsWith(`${mount.root}/`))) rel = p.slice(mount.root.length) || '/';
    else if (mount.root !== '/') rel = '/';
    return rel === '/' ? mount.mountPoint : join(mount.mountPoint, rel);
  };
  const layout: CgroupLayout = { v1: {}, v1Mounts: {} };
  const v2 = mounts.find((m) => m.fsType === 'cgroup2');
  if (v2) {
    const ownDir = dirFor(v2, own.get(''));
    layout.v2 = { mountPoint: v2.mountPoint, ownDir, controllers: controllersOf(v2.mountPoint) };
  }
  for (const ctrl of ['cpu', 'cpuacct', 'memory'] as const) {
    const m = mounts.find((x) => x.fsType === 'cgroup' && x.superOptions.includes(ctrl));
    if (m) {
      layout.v1[ctrl] = dirFor(m, own.get(ctrl));
      layout.v1Mounts[ctrl] = m.mountPoint;
    }
  }
  return layout;
}

function unescapeMount(s: string): string {
  return s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function readControllers(dir: string): string[] {
  try {
    return readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

export function readCgroupLayout(): CgroupLayout {
  return parseCgroupLayout(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
}

export interface CgroupSupport {
  /** Version that will be used, or 'none'. */
  version: CgroupVersion | 'none';
  /** Why this version (and not the other). */
  why: string;
  layout: CgroupLayout;
  /** Controllers the chosen version offers for our use. */
  controllers: { cpu: boolean; cpuacct: boolean; memory: boolean };
}

/** v2 when its root offers cpu and memory, else v1 with whatever hierarchies are mounted. */
export function detectCgroups(layout: CgroupLayout = readCgroupLayout()): CgroupSupport {
  const v2c = layout.v2?.controllers ?? [];
  if (layout.v2 && v2c.includes('cpu') && v2c.includes('memory')) {
    return { version: 'v2', why: `cgroup v2 at ${layout.v2.mountPoint} offers cpu and memory`, layout, controllers: { cpu: true, cpuacct: true, memory: true } };
  }
  const v2why = layout.v2 ? `cgroup v2 at ${layout.v2.mountPoint} offers only [${v2c.join(' ') || 'no controllers'}]` : 'no cgroup v2 mounted';
  const c = { cpu: !!layout.v1.cpu, cpuacct: !!layout.v1.cpuacct, memory: !!layout.v1.memory };
  if (c.cpu || c.memory) {
    const have = Object.entries(c).filter(([, v]) => v).map(([k]) => k).join(', ');
    return { version: 'v1', why: `${v2why}; using cgroup v1 (${have})`, layout, controllers: c };
  }
  return { version: 'none', why: `${v2why}; no cgroup v1 cpu or memory hierarchy mounted`, layout, controllers: c };
}

export interface CgroupCaps {
  cpu?: { quota: number; periodUs: number };
  memoryMiB?: number;
}

export interface CgroupUsage {
  /** CPU time used by all processes that were in the cgroup (user + system). */
  cpuMs: number;
  /** Time the cgroup spent throttled by the CPU quota. */
  throttledMs: number;
  nrThrottled: number;
  nrPeriods: number;
  /** Peak memory charged to the cgroup (RSS + page cache). */
  memoryPeakKiB: number;
  memoryCurrentKiB: number;
  memoryLimitKiB?: number;
  /** Processes the kernel OOM-killed in this cgroup. */
  oomKills: number;
  /** Which files these came from. */
  how: string;
}

const PAGE_COUNTER_MAX = 2n ** 62n;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readNum(path: string): number | undefined {
  const t = readText(path)?.trim();
  if (t === undefined || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

function readKeyed(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readText(path) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

function write(path: string, value: string, what: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new Error(`${what}: writing '${value}' to ${path} failed: ${(e as Error).message}`);
  }
}

/** PIDs in a cgroup directory (empty when it is gone). */
export function cgroupPids(dir: string): number[] {
  return (readText(join(dir, 'cgroup.procs')) ?? '').split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Kills every process in the cgroup (SIGKILL), waits until it is empty and
 * removes the directory. Returns false (and leaves it) if that did not work
 * within `timeoutMs`.
 */
export function removeCgroupDir(dir: string, timeoutMs = 3000): boolean {
  if (!existsSync(dir)) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(dir);
    for (const p of pids) killQuiet(p);
    if (pids.length === 0) {
      try {
        rmdirSync(dir);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return true;
        if (code !== 'EBUSY') return false;
      }
    }
    if (Date.now() > deadline) return false;
    sleepSync(20);
  }
}

/** Directories named like ours (`mtb-…`) in every hierarchy we use, up to `depth` levels deep. */
export function findMtbCgroupDirs(layout: CgroupLayout = readCgroupLayout(), depth = 4): string[] {
  const roots = new Set<string>();
  if (layout.v2) roots.add(layout.v2.mountPoint);
  for (const d of Object.values(layout.v1Mounts)) if (d) roots.add(d);
  const found: string[] = [];
  const walk = (dir: string, level: number): void => {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch { /* raced */ }
      if (!isDir) continue;
      if (e.startsWith('mtb-')) found.push(p);
      else if (level < depth) walk(p, level + 1);
    }
  };
  for (const r of roots) walk(r, 1);
  return found;
}

/** A created cgroup (one directory per hierarchy in v1, one in v2). */
export class DeviceCgroup {
  readonly version: CgroupVersion;
  readonly name: string;
  /** Every directory made (removed by remove()). */
  readonly dirs: string[];
  /** Files a PID is written to, to move a process in. */
  readonly procsFiles: string[];
  readonly caps: CgroupCaps;
  readonly settings: Record<string, string>;
  private readonly cpuDir?: string;
  private readonly cpuacctDir?: string;
  private readonly memDir?: string;

  constructor(o: { version: CgroupVersion; name: string; dirs: string[]; caps: CgroupCaps; settings: Record<string, string>; cpuDir?: string; cpuacctDir?: string; memDir?: string }) {
    this.version = o.version;
    this.name = o.name;
    this.dirs = o.dirs;
    this.caps = o.caps;
    this.settings = o.settings;
    if (o.cpuDir) this.cpuDir = o.cpuDir;
    if (o.cpuacctDir) this.cpuacctDir = o.cpuacctDir;
    if (o.memDir) this.memDir = o.memDir;
    this.procsFiles = o.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  /** Moves a process in (all hierarchies). */
  addPid(pid: number): void {
    for (const f of this.procsFiles) write(f, String(pid), `moving PID ${pid} into cgroup ${this.name}`);
  }

  /**
   * Shell commands that move the running shell ($$) into this cgroup, joined
   * with && so that a failure stops the shell before it runs anything.
   */
  shellMoveSelf(): string {
    return this.procsFiles.map((f) => `echo $$ > '${f}'`).join(' && ');
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const d of this.dirs) for (const p of cgroupPids(d)) all.add(p);
    return [...all];
  }

  usage(): CgroupUsage {
    if (this.version === 'v2') {
      const dir = this.dirs[0] as string;
      const cpu = readKeyed(join(dir, 'cpu.stat'));
      const peak = readNum(join(dir, 'memory.peak'));
      const current = readNum(join(dir, 'memory.current')) ?? 0;
      const limit = readNum(join(dir, 'memory.max'));
      const events = readKeyed(join(dir, 'memory.events'));
      return {
        cpuMs: (cpu['usage_usec'] ?? 0) / 1000,
        throttledMs: (cpu['throttled_usec'] ?? 0) / 1000,
        nrThrottled: cpu['nr_throttled'] ?? 0,
        nrPeriods: cpu['nr_periods'] ?? 0,
        memoryPeakKiB: Math.round((peak ?? current) / 1024),
        memoryCurrentKiB: Math.round(current / 1024),
        ...(limit !== undefined ? { memoryLimitKiB: Math.round(limit / 1024) } : {}),
        oomKills: events['oom_kill'] ?? 0,
        how: `v2 ${dir}: cpu.stat usage_usec/throttled_usec, ${peak !== undefined ? 'memory.peak' : 'memory.current (kernel has no memory.peak: not a true peak)'}, memory.events oom_kill`,
      };
    }
    const cpuStat = this.cpuDir ? readKeyed(join(this.cpuDir, 'cpu.stat')) : {};
    const usageNs = this.cpuacctDir ? readNum(join(this.cpuacctDir, 'cpuacct.usage')) : undefined;
    const mem = this.memDir;
    const peak = mem ? readNum(join(mem, 'memory.max_usage_in_bytes')) : undefined;
    const current = mem ? readNum(join(mem, 'memory.usage_in_bytes')) : undefined;
    const limitRaw = mem ? readNum(join(mem, 'memory.limit_in_bytes')) : undefined;
    const oom = mem ? readKeyed(join(mem, 'memory.oom_control')) : {};
    const limit = limitRaw !== undefined && BigInt(Math.trunc(limitRaw)) < PAGE_COUNTER_MAX ? limitRaw : undefined;
    return {
      cpuMs: (usageNs ?? 0) / 1e6,
      throttledMs: (cpuStat['throttled_time'] ?? 0) / 1e6,
      nrThrottled: cpuStat['nr_throttled'] ?? 0,
      nrPeriods: cpuStat['nr_periods'] ?? 0,
      memoryPeakKiB: Math.round((peak ?? 0) / 1024),
      memoryCurrentKiB: Math.round((current ?? 0) / 1024),
      ...(limit !== undefined ? { memoryLimitKiB: Math.round(limit / 1024) } : {}),
      oomKills: oom['oom_kill'] ?? 0,
      how: `v1: ${this.cpuacctDir ? 'cpuacct.usage' : 'no cpuacct (cpuMs 0)'}, ${this.cpuDir ? 'cpu.stat throttled_time' : 'no cpu hierarchy'}, ${mem ? 'memory.max_usage_in_bytes, memory.oom_control oom_kill' : 'no memory hierarchy'}`,
    };
  }

  /**
   * Starts the memory peak afresh (v1: memory.max_usage_in_bytes; v2:
   * memory.peak, writable from Linux 6.12). Returns false where the kernel
   * does not allow it. CPU counters cannot be reset: take differences.
   */
  resetMemoryPeak(): boolean {
    const f = this.version === 'v2' ? (this.dirs[0] ? join(this.dirs[0], 'memory.peak') : undefined) : (this.memDir ? join(this.memDir, 'memory.max_usage_in_bytes') : undefined);
    if (!f) return false;
    try {
      writeFileSync(f, '0');
      return true;
    } catch {
      return false;
    }
  }

  /** Kills what is still inside and removes every directory; returns the ones that could not be removed. */
  remove(): string[] {
    const left: string[] = [];
    for (const d of this.dirs) if (!removeCgroupDir(d)) left.push(d);
    return left;
  }
}

/**
 * Makes the device cgroup `name` with the given caps (no caps = accounting
 * only). Throws DeviceProfileUnavailable naming exactly which controller a
 * cap needs and this machine lacks.
 */
export function createDeviceCgroup(name: string, caps: CgroupCaps, support: CgroupSupport = detectCgroups()): DeviceCgroup {
  const what = `device cgroup ${name}`;
  if (support.version === 'none') {
    throw new DeviceProfileUnavailable(what, [`no usable cgroup controllers (${support.why}); mount cgroup v2 with the cpu and memory controllers enabled, or the v1 cpu, cpuacct and memory hierarchies`]);
  }
  if (support.version === 'v2') return createV2(name, caps, support);
  const missing: string[] = [];
  if (caps.cpu && !support.controllers.cpu) missing.push(`CPU quota needs the cgroup v1 'cpu' hierarchy (cpu.cfs_quota_us), not mounted (${support.why}); mount it: mount -t cgroup -o cpu cgroup /sys/fs/cgroup/cpu`);
  if (caps.memoryMiB !== undefined && !support.controllers.memory) missing.push(`memory limit needs the cgroup v1 'memory' hierarchy (memory.limit_in_bytes), not mounted (${support.why}); mount it: mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory`);
  if (missing.length) throw new DeviceProfileUnavailable(what, missing);

  const dirs: string[] = [];
  const settings: Record<string, string> = {};
  const made: { cpuDir?: string; cpuacctDir?: string; memDir?: string } = {};
  const mk = (parent: string): string => {
    const d = join(parent, name);
    mkdirSync(d);
    dirs.push(d);
    return d;
  };
  try {
    const l = support.layout.v1;
    if (l.cpu) {
      made.cpuDir = mk(l.cpu);
      if (l.cpuacct === l.cpu) made.cpuacctDir = made.cpuDir; // co-mounted cpu,cpuacct
      if (caps.cpu) {
        const quotaUs = Math.max(1000, Math.round(caps.cpu.quota * caps.cpu.periodUs));
        write(join(made.cpuDir, 'cpu.cfs_period_us'), String(caps.cpu.periodUs), what);
        write(join(made.cpuDir, 'cpu.cfs_quota_us'), String(quotaUs), what);
        settings['cpu.cfs_period_us'] = String(caps.cpu.periodUs);
        settings['cpu.cfs_quota_us'] = String(quotaUs);
      }
    }
    if (l.cpuacct && !made.cpuacctDir) made.cpuacctDir = mk(l.cpuacct);
    if (l.memory) {
      made.memDir = mk(l.memory);
      if (caps.memoryMiB !== undefined) {
        const bytes = String(Math.round(caps.memoryMiB * 1024 * 1024));
        write(join(made.memDir, 'memory.limit_in_bytes'), bytes, what);
        settings['memory.limit_in_bytes'] = bytes;
        if (existsSync(join(made.memDir, 'memory.memsw.limit_in_bytes'))) {
          write(join(made.memDir, 'memory.memsw.limit_in_bytes'), bytes, what);
          settings['memory.memsw.limit_in_bytes'] = bytes;
        }
        if (existsSync(join(made.memDir, 'memory.swappiness'))) {
          try {
            writeFileSync(join(made.memDir, 'memory.swappiness'), '0');
            settings['memory.swappiness'] = '0';
          } catch { /* not settable under some parents */ }
        }
      }
    }
  } catch (e) {
    for (const d of dirs.reverse()) removeCgroupDir(d);
    throw e;
  }
  return new DeviceCgroup({ version: 'v1', name, dirs, caps, settings, ...made });
}

function createV2(name: string, caps: CgroupCaps, support: CgroupSupport): DeviceCgroup {
  const what = `device cgroup ${name}`;
  const v2 = support.layout.v2;
  if (!v2) throw new DeviceProfileUnavailable(what, ['cgroup v2 disappeared']);
  // The root of the hierarchy may have processes and enable controllers for its children.
  const parent = v2.mountPoint;
  const sub = readText(join(parent, 'cgroup.subtree_control'))?.trim().split(/\s+/) ?? [];
  const need = ['cpu', 'memory'].filter((c) => !sub.includes(c));
  if (need.length) {
    try {
      writeFileSync(join(parent, 'cgroup.subtree_control'), need.map((c) => `+${c}`).join(' '));
    } catch (e) {
      throw new DeviceProfileUnavailable(what, [`cannot enable ${need.map((c) => `+${c}`).join(' ')} in ${parent}/cgroup.subtree_control (${(e as Error).message}); enable them for the root cgroup, or run where cgroup v1 cpu and memory hierarchies exist`]);
    }
  }
  const dir = join(parent, name);
  mkdirSync(dir);
  const settings: Record<string, string> = {};
  try {
    if (caps.cpu) {
      const quotaUs = Math.max(1000, Math.round(caps.cpu.quota * caps.cpu.periodUs));
      write(join(dir, 'cpu.max'), `${quotaUs} ${caps.cpu.periodUs}`, what);
      settings['cpu.max'] = `${quotaUs} ${caps.cpu.periodUs}`;
    }
    if (caps.memoryMiB !== undefined) {
      const bytes = String(Math.round(caps.memoryMiB * 1024 * 1024));
      write(join(dir, 'memory.max'), bytes, what);
      settings['memory.max'] = bytes;
      if (existsSync(join(dir, 'memory.swap.max'))) {
        write(join(dir, 'memory.swap.max'), '0', what);
        settings['memory.swap.max'] = '0';
      }
    }
  } catch (e) {
    removeCgroupDir(dir);
    throw e;
  }
  return new DeviceCgroup({ version: 'v2', name, dirs: [dir], caps, settings });
}

/**
 * Small system helpers shared by the device-profile modules: running
 * commands (sync and async, with their output in the error), process
 * liveness that treats zombies and recycled PIDs as dead, the `mtb-<pid>-<n>`
 * naming scheme, the state files that let a later run find what a crashed
 * run left behind, and the project root (for tun-relay.py and probe.mjs).
 */
import { execFile, execFileSync, type ExecFileOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../harness/launchers/child-process.js';

/** Thrown when a profile (or one of its parameters) cannot be set up here; `missing` names each missing thing and how to get it. */
export class DeviceProfileUnavailable extends Error {
  readonly missing: string[];
  constructor(what: string, missing: string[]) {
    super(`${what}: cannot be set up on this machine:\n${missing.map((m) => `  - ${m}`).join('\n')}`);
    this.name = 'DeviceProfileUnavailable';
    this.missing = missing;
  }
}

/** Thrown when a measured shaping parameter is far off the profile (the run is refused). */
export class DeviceProfileVerificationFailed extends Error {
  readonly problems: string[];
  readonly measured: unknown;
  constructor(what: string, problems: string[], measured: unknown) {
    super(`${what}: the emulated device/link does not match its profile, run refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DeviceProfileVerificationFailed';
    this.problems = problems;
    this.measured = measured;
  }
}

export const INSTALL_NET_HINT = 'run `scripts/install-system-deps.sh net` (Debian: iproute2 nftables iputils-ping)';

export interface CmdResult { stdout: string; stderr: string }

function describe(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Runs a command synchronously; throws with its stderr on failure. */
export function runSync(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: input ?? '', timeout: 15_000 });
  } catch (e) {
    const err = e as { stderr?: string | Buffer; message: string; code?: string };
    const stderr = err.stderr ? String(err.stderr).trim() : '';
    if (err.code === 'ENOENT') throw new Error(`${describe(cmd, args)}: ${cmd} not found`);
    throw new Error(`${describe(cmd, args)} failed: ${stderr || err.message}`);
  }
}

/** Like runSync but never throws; returns undefined on failure. */
export function trySync(cmd: string, args: readonly string[], input?: string): string | undefined {
  try {
    return runSync(cmd, args, input);
  } catch {
    return undefined;
  }
}

/** Runs a command; resolves with its output, rejects with its stderr (the error carries `stdout` too). */
export function run(cmd: string, args: readonly string[], opts: ExecFileOptions & { input?: string } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 << 20, ...opts }, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const e = new Error(code === 'ENOENT' ? `${describe(cmd, args)}: ${cmd} not found` : `${describe(cmd, args)} failed: ${String(stderr).trim() || error.message}`);
        reject(Object.assign(e, { stdout: String(stdout) }));
      } else {
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Absolute path of a command on PATH (plus /usr/sbin and /sbin, which root's PATH may lack), or undefined. */
export function resolveCommand(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  const dirs = [...(process.env['PATH'] ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** True when a command can be found (see resolveCommand). */
export function haveCommand(cmd: string): boolean {
  return resolveCommand(cmd) !== undefined;
}

const resolved = new Map<string, string>();
/** Absolute path of `cmd` when found, else `cmd` itself (so the error names it). */
export function bin(cmd: string): string {
  let p = resolved.get(cmd);
  if (!p) {
    p = resolveCommand(cmd) ?? cmd;
    resolved.set(cmd, p);
  }
  return p;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), undefined when it is gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19]
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Alive = exists and is not a zombie; with `startTime`, also the same process (not a recycled PID). */
export function pidAlive(pid: number, startTime?: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const st = processStartTime(pid);
  if (st === undefined) return false;
  return startTime === undefined || st === startTime;
}

/** Blocks the thread for `ms` (used only on the synchronous exit path). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every resource name starts with this: `mtb-<runner pid>-<n>`. */
export const NAME_PREFIX = 'mtb-';
const NAME_RE = /^mtb-(\d+)-(\d+)(?:-[a-z]+)?$/;

/** Runner PID encoded in a resource name, or undefined if the name is not ours. */
export function ownerPid(name: string): number | undefined {
  const m = NAME_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

let counter = 0;
/** A fresh tag for this process: `mtb-<pid>-<n>`. */
export function nextTag(): string {
  counter += 1;
  return `${NAME_PREFIX}${process.pid}-${counter}`;
}

/** Folder holding one JSON state file per live set-up (so a sweep can tell a recycled PID from the runner). */
export function stateDir(): string {
  const dirs = ['/run/mqtt-testbed', join(tmpdir(), 'mqtt-testbed-run')];
  for (const d of dirs) {
    try {
      mkdirSync(d, { recursive: true });
      return d;
    } catch { /* try the next */ }
  }
  return dirs[1] as string;
}

/** A process this module started, identified beyond its PID. */
export interface ProcessRef { pid: number; startTime?: number }

export interface StateFile {
  tag: string;
  pid: number;
  startTime?: number;
  namespaces: string[];
  cgroups: string[];
  /** tun-relay.py and every process started through execDevice/execServer. */
  processes: ProcessRef[];
}

/** A ProcessRef for a live PID (start time read now). */
export function processRef(pid: number): ProcessRef {
  const startTime = processStartTime(pid);
  return startTime === undefined ? { pid } : { pid, startTime };
}

export function writeState(s: StateFile): void {
  try {
    writeFileSync(join(stateDir(), `${s.tag}.json`), JSON.stringify(s));
  } catch { /* best effort: names alone still let a sweep find everything */ }
}

export function removeState(tag: string): void {
  rmSync(join(stateDir(), `${tag}.json`), { force: true });
}

export function readStates(): StateFile[] {
  const dir = stateDir();
  const out: StateFile[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.startsWith(NAME_PREFIX) || !n.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(dir, n), 'utf8')) as StateFile);
    } catch {
      rmSync(join(dir, n), { force: true });
    }
  }
  return out;
}

/** `mtb-<pid>-<n>` of a resource name (`mtb-<pid>-<n>-d` → `mtb-<pid>-<n>`), or undefined if the name is not ours. */
export function tagOf(name: string): string | undefined {
  const m = NAME_RE.exec(name);
  return m ? `${NAME_PREFIX}${m[1]}-${m[2]}` : undefined;
}

/**
 * Whether the runner that made the resources tagged `tag` is gone: its PID is
 * not alive, or is alive but is another process than the one recorded in the
 * tag's state file (PID recycled). Tags of this very process count as gone
 * unless `activeTags` holds them (a previous holder of our PID left them).
 */
export function ownerGone(tag: string, states: readonly StateFile[], activeTags: ReadonlySet<string>): boolean {
  const pid = ownerPid(tag);
  if (pid === undefined) return false;
  if (pid === process.pid) return !activeTags.has(tag);
  const recorded = states.find((s) => s.tag === tag);
  return !pidAlive(pid, recorded?.startTime);
}

export { projectRoot };

/** A file shipped next to the sources in scenarios/device/ (not copied to dist/). */
export function deviceAsset(name: string): string {
  return join(projectRoot(), 'scenarios', 'device', name);
}

/** Kills `pid` (SIGKILL) if alive; ignores errors. */
export function killQuiet(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch { /* gone */ }
}

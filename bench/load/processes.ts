/**
 * Child processes of the broker benchmark: the three brokers and the load
 * generator. Every process started is registered and stopped by its PID —
 * after its run, on error, and on Ctrl-C (see `stopAll`). Children also stop
 * by themselves when the orchestrator dies: Node children on IPC disconnect,
 * Mosquitto through a shell wrapper that kills it when its stdin closes.
 * Each child runs with a raised file-descriptor limit (the idle test opens
 * 10,000 connections).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FromGenerator, ToGenerator } from './protocol.js';

export type BrokerKind = 'ours' | 'aedes' | 'mosquitto';
export const BROKERS: readonly BrokerKind[] = ['ours', 'aedes', 'mosquitto'];
export const MOSQUITTO = '/usr/sbin/mosquitto';

const FD_LIMIT = 65536;
/** sh prologue: raise the open-files limit as far as allowed. */
const ULIMIT = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null;`;

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench/load
const LAUNCHER = join(here, '..', 'broker-launcher.js');
const GENERATOR = join(here, 'generator.js');

// ---------------------------------------------------------------- registry

interface Registered {
  pid: number;
  label: string;
  stop(): Promise<void>;
}
const live = new Map<number, Registered>();

/** A child we spawned: unregistered when it exits. */
function registerChild(child: ChildProcess, label: string): { pid: number; exited: Promise<void>; stop(graceMs: number): Promise<void> } {
  const pid = child.pid!;
  let gone = false;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  }).then(() => {
    gone = true;
    live.delete(pid);
  });
  // Once it has exited (and Node reaped it) its PID may belong to someone else: never signal it then.
  const stop = async (graceMs: number): Promise<void> => {
    if (!gone) await stopPid(pid, graceMs);
    await exited;
  };
  live.set(pid, { pid, label, stop: () => stop(1500) });
  return { pid, exited, stop };
}

/** A process we did not spawn directly (Mosquitto under its wrapper): unregistered when stopped. */
function registerPid(pid: number, label: string): void {
  live.set(pid, { pid, label, stop: async () => { await stopPid(pid, 1500); live.delete(pid); } });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (!alive(pid)) return true;
    // A zombie still "exists" for kill(0) until reaped; its /proc state says Z.
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'latin1'))) return true;
    } catch {
      return true;
    }
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** SIGTERM, then SIGKILL after `graceMs`, to exactly this PID. */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitGone(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch { /* gone */ }
  await waitGone(pid, 1000);
}

/** Stops every process this benchmark started and still runs. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live.values()].map((r) => r.stop().catch(() => undefined)));
}

/** Synchronous last resort (process 'exit' handler): SIGKILL what is left. */
export function killAllNow(): void {
  for (const r of live.values()) {
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch { /* gone */ }
  }
}

// ---------------------------------------------------------------- brokers

export interface BrokerOptions {
  noDelay: boolean;
  maxInflight: number;
  maxQueued: number;
  /** Directory for `node --cpu-prof` output (Node brokers only). */
  cpuProfDir: string | undefined;
}

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface RunningBroker {
  kind: BrokerKind;
  pid: number;
  host: string;
  port: number;
  /** Node brokers: full GC in the broker, then its memory usage. Mosquitto: undefined. */
  gc(): Promise<MemoryUsage | undefined>;
  /** Our broker's counters (messages in/out, dropped), when it keeps them. */
  stats(): Promise<unknown>;
  stop(): Promise<void>;
  /** Last lines the broker wrote on stderr (for error reports). */
  stderrTail(): string;
}

function tail(child: ChildProcess): () => string {
  const lines: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    lines.push(...s.split('\n').filter((l) => l.length > 0));
    if (lines.length > 20) lines.splice(0, lines.length - 20);
  });
  return () => lines.join('\n');
}

function firstLine(child: ChildProcess, label: string, timeoutMs: number, tailOf: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => finish(new Error(`${label} did not start within ${timeoutMs} ms\n${tailOf()}`)), timeoutMs);
    const onExit = (code: number | null): void => finish(new Error(`${label} exited (code ${code}) before it was ready\n${tailOf()}`));
    function finish(e: Error | undefined, line?: string): void {
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      rl.removeAllListeners('line');
      rl.close();
      if (e) reject(e);
      else resolve(line!);
    }
    rl.on('line', (line) => finish(undefined, line));
    child.once('exit', onExit);
  });
}

function request<T>(child: ChildProcess, message: { type: string }, reply: string, timeoutMs: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    if (!child.connected) {
      resolve(undefined);
      return;
    }
    const timer = setTimeout(() => {
      child.removeListener('message', onMessage);
      resolve(undefined);
    }, timeoutMs);
    const onMessage = (m: { type?: string } & Record<string, unknown>): void => {
      if (m.type !== reply) return;
      clearTimeout(timer);
      child.removeListener('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

async function startNodeBroker(kind: 'ours' | 'aedes', o: BrokerOptions): Promise<RunningBroker> {
  const nodeArgs = ['--expose-gc'];
  if (o.cpuProfDir && kind === 'ours') nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`, `--cpu-prof-name=broker-${kind}-${Date.now()}.cpuprofile`);
  const args = [...nodeArgs, LAUNCHER, `--broker=${kind}`, `--nodelay=${o.noDelay}`, `--max-inflight=${o.maxInflight}`, `--max-queued=${o.maxQueued}`];
  const child = spawn('sh', ['-c', `${ULIMIT} exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const reg = registerChild(child, `${kind} broker`);
  const tailOf = tail(child);
  try {
    const info = JSON.parse(await firstLine(child, `${kind} broker`, 15_000, tailOf)) as { port: number; pid: number };
    child.stdout!.resume();
    return {
      kind, pid: info.pid, host: '127.0.0.1', port: info.port,
      async gc() {
        const r = await request<{ memory: MemoryUsage }>(child, { type: 'gc' }, 'gc', 10_000);
        return r?.memory;
      },
      async stats() {
        const r = await request<{ stats: unknown }>(child, { type: 'stats' }, 'stats', 5_000);
        return r?.stats;
      },
      stop: () => reg.stop(5000),
      stderrTail: tailOf,
    };
  } catch (e) {
    await reg.stop(1000);
    throw e;
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function waitForPort(host: string, port: number, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive()) throw new Error('exited before accepting connections');
    if (Date.now() > end) throw new Error(`port ${port} did not accept connections within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function mosquittoConfig(port: number, o: BrokerOptions): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    `set_tcp_nodelay ${o.noDelay}`,
    `max_inflight_messages ${o.maxInflight}`,
    `max_queued_messages ${o.maxQueued}`,
    'max_connections -1',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

async function startMosquitto(o: BrokerOptions): Promise<RunningBroker> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is not installed (scripts/install-system-deps.sh mqtt)`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  const port = await freePort();
  writeFileSync(conf, mosquittoConfig(port, o));
  // The wrapper prints Mosquitto's PID, then waits on stdin: when the orchestrator dies (even by SIGKILL) stdin closes and Mosquitto is killed.
  const script = `${ULIMIT} "$0" -c "$1" </dev/null & p=$!; echo "$p"; read _ignored; kill "$p" 2>/dev/null; wait "$p"; rm -rf "\${1%/*}"`;
  const shell = spawn('sh', ['-c', script, MOSQUITTO, conf], { stdio: ['pipe', 'pipe', 'pipe'] });
  const shellReg = registerChild(shell, 'mosquitto wrapper');
  const tailOf = tail(shell);
  let mosquittoPid: number | undefined;
  const cleanup = async (): Promise<void> => {
    if (mosquittoPid !== undefined) {
      await stopPid(mosquittoPid, 5000);
      live.delete(mosquittoPid);
    }
    shell.stdin?.end();
    await Promise.race([shellReg.exited, new Promise((r) => setTimeout(r, 2000))]);
    await shellReg.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    mosquittoPid = Number(await firstLine(shell, 'mosquitto', 5000, tailOf));
    if (!Number.isInteger(mosquittoPid) || mosquittoPid <= 0) {
      mosquittoPid = undefined;
      throw new Error('mosquitto wrapper did not report a PID');
    }
    const pid = mosquittoPid;
    registerPid(pid, 'mosquitto');
    await waitForPort('127.0.0.1', port, 10_000, () => alive(pid));
    return {
      kind: 'mosquitto', pid, host: '127.0.0.1', port,
      gc: () => Promise.resolve(undefined),
      stats: () => Promise.resolve(undefined),
      stop: cleanup,
      stderrTail: tailOf,
    };
  } catch (e) {
    await cleanup();
    throw new Error(`mosquitto: ${e instanceof Error ? e.message : String(e)}\n${tailOf()}`);
  }
}

export function startBrokerProcess(kind: BrokerKind, o: BrokerOptions): Promise<RunningBroker> {
  return kind === 'mosquitto' ? startMosquitto(o) : startNodeBroker(kind, o);
}

// ---------------------------------------------------------------- generator

export interface GeneratorProcess {
  pid: number;
  send(m: ToGenerator): void;
  /** The next message of `type` (an 'error' message or an early exit rejects). */
  next<T extends FromGenerator['type']>(type: T, timeoutMs: number): Promise<Extract<FromGenerator, { type: T }>>;
  stop(): Promise<void>;
}

/** `cpuProfDir`: run it under `node --cpu-prof` (each thread writes a profile there). */
export function startGenerator(cpuProfDir?: string): GeneratorProcess {
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawn('sh', ['-c', `${ULIMIT} exec "$0" "$@"`, process.execPath, ...nodeArgs, GENERATOR], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const reg = registerChild(child, 'load generator');
  const tailOf = tail(child);
  const inbox: FromGenerator[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (m: FromGenerator) => {
    inbox.push(m);
    for (const w of waiters.splice(0)) w();
  });
  child.once('exit', () => {
    for (const w of waiters.splice(0)) w();
  });
  return {
    pid: reg.pid,
    send(m) {
      child.send(m);
    },
    next<T extends FromGenerator['type']>(type: T, timeoutMs: number) {
      return new Promise<Extract<FromGenerator, { type: T }>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`load generator: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
        const check = (): void => {
          const i = inbox.findIndex((m) => m.type === type || m.type === 'error');
          if (i >= 0) {
            const m = inbox.splice(i, 1)[0]!;
            clearTimeout(timer);
            if (m.type === 'error') reject(new Error(m.message));
            else resolve(m as Extract<FromGenerator, { type: T }>);
            return;
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`load generator exited (code ${child.exitCode ?? child.signalCode}) before '${type}'\n${tailOf()}`));
            return;
          }
          waiters.push(check);
        };
        check();
      });
    },
    stop: () => reg.stop(3000),
  };
}

// ---------------------------------------------------------------- versions

export function mosquittoVersion(): string | undefined {
  if (!existsSync(MOSQUITTO)) return undefined;
  try {
    const out = execFileSync(MOSQUITTO, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /version\s+(\S+)/.exec(out)?.[1];
  } catch (e) {
    // `mosquitto -h` exits non-zero but prints the version.
    const out = String((e as { stdout?: unknown }).stdout ?? '');
    return /version\s+(\S+)/.exec(out)?.[1];
  }
}

export function aedesVersion(): string | undefined {
  try {
    const main = fileURLToPath(import.meta.resolve('aedes'));
    let dir = dirname(main);
    for (let i = 0; i < 4; i++) {
      const f = join(dir, 'package.json');
      if (existsSync(f)) {
        const pkg = JSON.parse(readFileSync(f, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'aedes') return pkg.version;
      }
      dir = dirname(dir);
    }
  } catch { /* not installed */ }
  return undefined;
}

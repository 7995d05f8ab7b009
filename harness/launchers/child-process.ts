/**
 * What the process-based launchers (Mosquitto, Aedes) share: free ports,
 * the project root, the dev certificates, waiting for a child's "ready"
 * line (event-driven, with a timeout), and stopping a child for sure —
 * including when this process exits without closing it.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, type WriteStream } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDevCerts, type DevCertFiles } from '../../reference-broker/index.js';

/** Ports the OS reports free on 127.0.0.1 right now (all held open together, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** The folder holding the project's package.json (works from sources and from dist/). */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mqtt-testbed') return dir;
      } catch { /* keep looking */ }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the mqtt-testbed project root (package.json) above harness/launchers');
    dir = up;
  }
}

/** CNs of the client certificates every launcher issues. */
export const CERT_CLIENTS = ['tester', 'sensor', 'admin'] as const;

/**
 * Dev certificates shared by every launch (the same folder as the reference
 * launcher), created once and atomically so parallel workers agree.
 */
export function devCertificates(): DevCertFiles {
  const dir = join(tmpdir(), 'mqtt-testbed-certs-v1');
  const clients = [...CERT_CLIENTS];
  try {
    return generateDevCerts(dir, { clients });
  } catch {
    const tmp = `${dir}.${process.pid}.${Date.now()}`;
    generateDevCerts(tmp, { clients });
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
    return generateDevCerts(dir, { clients });
  }
}

/** A child process with its recent output kept for error messages. */
export interface Child {
  process: ChildProcess;
  /** The last lines of stdout and stderr. */
  tail(): string;
  /** Resolves with the first output line matching `re`; rejects on exit, spawn error or timeout. */
  waitForLine(re: RegExp, timeoutMs: number, what: string): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: boolean;
}

const KEEP_LINES = 60;

/** Spawns `command`; its output is kept (last lines) and copied to `logFile` when given. */
export function spawnChild(command: string, args: string[], opts: SpawnOptions & { logFile?: string | undefined; name: string }): Child {
  const { logFile, name, ...spawnOpts } = opts;
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...spawnOpts });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const log: WriteStream | undefined = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  let exitInfo: string | undefined;
  const exitWaiters = new Set<(why: string) => void>();
  const onExit = (why: string): void => {
    if (exitInfo !== undefined) return;
    exitInfo = why;
    process.off('exit', killOnExit);
    for (const f of exitWaiters) f(why);
    exitWaiters.clear();
    log?.end();
  };
  // This process may end without closing the child (crash, process.exit): do not leave it behind.
  const killOnExit = (): void => { if (exitInfo === undefined) proc.kill('SIGKILL'); };
  process.on('exit', killOnExit);

  for (const stream of [proc.stdout, proc.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      log?.write(chunk);
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) {
        lines.push(l);
        if (lines.length > KEEP_LINES) lines.shift();
        for (const f of [...listeners]) f(l);
      }
    });
  }
  proc.on('error', (e) => onExit(`could not start ${name} (${command}): ${e.message}`));
  proc.on('exit', (code, signal) => onExit(`${name} exited ${signal ? `on ${signal}` : `with code ${code}`}`));

  const tail = (): string => lines.slice(-20).map((l) => `    ${l}`).join('\n');
  return {
    process: proc,
    tail,
    get exited() { return exitInfo !== undefined; },
    waitForLine(re, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const seen = lines.find((l) => re.test(l));
        if (seen !== undefined) return resolve(seen);
        if (exitInfo !== undefined) return reject(new Error(`${exitInfo} before ${what}\n${tail()}`));
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(onLine);
          exitWaiters.delete(onGone);
        };
        const onLine = (l: string): void => { if (re.test(l)) { done(); resolve(l); } };
        const onGone = (why: string): void => { done(); reject(new Error(`${why} before ${what}\n${tail()}`)); };
        const timer = setTimeout(() => { done(); reject(new Error(`${name}: no ${what} within ${timeoutMs} ms\n${tail()}`)); }, timeoutMs);
        listeners.add(onLine);
        exitWaiters.add(onGone);
      });
    },
    stop(graceMs = 3000) {
      if (exitInfo !== undefined) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        exitWaiters.add(() => { clearTimeout(timer); resolve(); });
        proc.kill('SIGTERM');
      });
    },
  };
}

/** True while a process with this id exists (signal 0 probes without killing). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

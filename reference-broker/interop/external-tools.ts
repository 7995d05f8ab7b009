/**
 * External programs for the interop tests: find them, skip (or, with
 * REQUIRE_EXTERNAL=1 as CI sets it, fail) with a clear reason when one is
 * absent, and run them as child processes that always have a timeout and are
 * always killed, by their own PID, when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { afterAll, afterEach, describe, test } from 'vitest';

export type ToolName = 'mosquitto_pub' | 'mosquitto_sub' | 'chromium' | 'openssl';

/** The scripts/install-system-deps.sh group that installs each tool. */
const INSTALL_GROUP: Record<ToolName, string> = {
  mosquitto_pub: 'mqtt',
  mosquitto_sub: 'mqtt',
  openssl: 'mqtt',
  chromium: 'browser',
};

/** Where Debian puts a tool when PATH does not list it. */
const KNOWN_PATHS: Partial<Record<ToolName, string>> = { chromium: '/usr/bin/chromium' };

/** CI sets REQUIRE_EXTERNAL=1: a missing tool then fails the tests that need it instead of skipping them. */
export function externalToolsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.REQUIRE_EXTERNAL === '1';
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of an executable: `name` itself when absolute, else the first match on PATH. */
export function findExecutable(name: string, pathVar: string | undefined = process.env.PATH): string | undefined {
  if (isAbsolute(name)) return isExecutableFile(name) ? name : undefined;
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

export interface ToolLookup<T extends ToolName> {
  /** Absolute paths of the tools found; a missing tool maps to its bare name (only used by skipped tests). */
  paths: Record<T, string>;
  missing: T[];
  /** Why tests that need these tools cannot run, e.g. "mosquitto_pub not found: run scripts/install-system-deps.sh mqtt". */
  reason: string | undefined;
}

export function missingToolReason(name: ToolName): string {
  return `${name} not found: run scripts/install-system-deps.sh ${INSTALL_GROUP[name]}`;
}

export function lookupTools<T extends ToolName>(names: readonly T[], pathVar: string | undefined = process.env.PATH): ToolLookup<T> {
  const paths = {} as Record<T, string>;
  const missing: T[] = [];
  for (const name of names) {
    const known = KNOWN_PATHS[name];
    const found = findExecutable(name, pathVar) ?? (known !== undefined ? findExecutable(known) : undefined);
    if (found === undefined) missing.push(name);
    paths[name] = found ?? name;
  }
  return { paths, missing, reason: missing.length > 0 ? missing.map(missingToolReason).join('; ') : undefined };
}

/**
 * describe() for tests that need external programs. All present: a normal
 * describe whose body gets their paths. One missing: the block is skipped
 * with the reason in its title, or, when REQUIRE_EXTERNAL=1, replaced by one
 * failing test that names the reason.
 */
export function describeWithTools<T extends ToolName>(
  names: readonly T[],
  title: string,
  body: (tools: Record<T, string>) => void,
): void {
  const lookup = lookupTools(names);
  if (lookup.reason === undefined) {
    describe(title, () => body(lookup.paths));
    return;
  }
  const reason = lookup.reason;
  if (externalToolsRequired()) {
    describe(title, () => {
      test(`needs ${names.join(', ')}`, () => {
        throw new Error(`${reason} (REQUIRE_EXTERNAL=1 makes a missing external tool a failure)`);
      });
    });
    return;
  }
  process.stderr.write(`[interop] skipping "${title}": ${reason}\n`);
  describe.skip(`${title} [skipped: ${reason}]`, () => body(lookup.paths));
}

// ---------------------------------------------------------------------------
// Child processes

export interface SpawnOptions {
  /** Killed with SIGKILL after this many ms (default 10 s). Every child has a timeout. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed; stdin is closed at once when absent. */
  stdin?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ChildResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed because it outlived its timeout. */
  timedOut: boolean;
  /** The spawn itself failed (e.g. ENOENT). */
  spawnError: string | undefined;
  durationMs: number;
}

/** One-line-per-field summary for assertion messages. */
export function describeResult(r: ChildResult): string {
  const how = r.spawnError ?? (r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`);
  return `${r.command}: ${how} after ${Math.round(r.durationMs)} ms\n  stdout: ${JSON.stringify(r.stdout.slice(0, 2000))}\n  stderr: ${JSON.stringify(r.stderr.slice(0, 2000))}`;
}

type OutputMatch = string | RegExp | ((text: string) => boolean);

function matches(text: string, m: OutputMatch): boolean {
  if (typeof m === 'string') return text.includes(m);
  if (m instanceof RegExp) return m.test(text);
  return m(text);
}

export class TrackedChild {
  readonly command: string;
  readonly pid: number | undefined;
  stdout = '';
  stderr = '';
  /** Resolves (never rejects) when the process has exited and its output is complete. */
  readonly exited: Promise<ChildResult>;
  private done = false;
  private timedOut = false;
  private readonly outputWaiters = new Set<() => void>();
  private readonly timer: NodeJS.Timeout;

  /** `captureOutput` false leaves the child's stdio alone (for a process another library spawned and reads). */
  constructor(child: ChildProcess, command: string, timeoutMs: number, captureOutput = true) {
    this.command = command;
    this.pid = child.pid;
    const started = performance.now();
    if (captureOutput) {
      child.stdout?.setEncoding('utf8');
      child.stderr?.setEncoding('utf8');
      child.stdout?.on('data', (s: string) => { this.stdout += s; this.notify(); });
      child.stderr?.on('data', (s: string) => { this.stderr += s; this.notify(); });
    }
    this.timer = setTimeout(() => {
      if (this.done) return;
      this.timedOut = true;
      this.kill('SIGKILL');
    }, timeoutMs);
    this.exited = new Promise<ChildResult>((resolve) => {
      let spawnError: string | undefined;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.done) return;
        this.done = true;
        clearTimeout(this.timer);
        this.notify();
        resolve({
          command, code, signal, stdout: this.stdout, stderr: this.stderr,
          timedOut: this.timedOut, spawnError, durationMs: performance.now() - started,
        });
      };
      child.on('error', (e) => {
        spawnError = `spawn failed: ${e.message}`;
        // No 'close' follows when the process never started.
        if (child.pid === undefined) finish(null, null);
      });
      // 'close' comes after the process exited and its stdio streams ended.
      child.on('close', (code, signal) => finish(code, signal));
      // Adopted after it already ended.
      if (child.exitCode !== null || child.signalCode !== null) finish(child.exitCode, child.signalCode);
    });
  }

  get running(): boolean {
    return !this.done;
  }

  /** Sends `signal` to this child's own PID (never to a name or group). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.done || this.pid === undefined) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Resolves with stdout once it matches; rejects on timeout or when the child exits without a match. */
  waitForOutput(match: OutputMatch, timeoutMs = 5000): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const check = (): void => {
        if (matches(this.stdout, match)) {
          cleanup();
          resolve(this.stdout);
        } else if (this.done) {
          cleanup();
          reject(new Error(`${this.command} exited before printing ${String(match)}\n  stdout: ${JSON.stringify(this.stdout)}\n  stderr: ${JSON.stringify(this.stderr)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${String(match)} from ${this.command}\n  stdout: ${JSON.stringify(this.stdout)}\n  stderr: ${JSON.stringify(this.stderr)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.outputWaiters.delete(check);
      };
      this.outputWaiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const w of [...this.outputWaiters]) w();
  }
}

/** Every child process a test file starts; killAll() ends those still running. */
export class ChildProcesses {
  private readonly children = new Set<TrackedChild>();

  constructor(private readonly defaultTimeoutMs = 10_000) {}

  spawn(command: string, args: readonly string[], opts: SpawnOptions = {}): TrackedChild {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const shown = [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
    const tracked = this.track(new TrackedChild(child, shown, opts.timeoutMs ?? this.defaultTimeoutMs));
    child.stdin?.on('error', () => { /* the child may exit before reading its input */ });
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
    else child.stdin?.end();
    return tracked;
  }

  /**
   * Tracks a process that another library spawned (e.g. the browser Playwright
   * launched): it gets a timeout and is killed by its PID with the others.
   * Its stdio is left to its owner.
   */
  adopt(child: ChildProcess, command: string, timeoutMs = this.defaultTimeoutMs): TrackedChild {
    return this.track(new TrackedChild(child, command, timeoutMs, false));
  }

  private track(tracked: TrackedChild): TrackedChild {
    this.children.add(tracked);
    void tracked.exited.then(() => this.children.delete(tracked));
    return tracked;
  }

  /** Spawns and waits for the exit. */
  run(command: string, args: readonly string[], opts: SpawnOptions = {}): Promise<ChildResult> {
    return this.spawn(command, args, opts).exited;
  }

  get running(): number {
    return this.children.size;
  }

  /** SIGKILLs every child still running (each by its own PID) and waits for them to exit. */
  async killAll(): Promise<void> {
    const live = [...this.children];
    for (const c of live) c.kill('SIGKILL');
    await Promise.all(live.map((c) => c.exited));
  }
}

/**
 * A ChildProcesses whose children are killed when the test that started them
 * ends ('each'), or, for processes shared by the tests of a block such as a
 * browser, when the block ends ('all'). Call it inside describe() or at the
 * top level of a test file.
 */
export function useChildProcesses(defaultTimeoutMs?: number, scope: 'each' | 'all' = 'each'): ChildProcesses {
  const procs = new ChildProcesses(defaultTimeoutMs);
  if (scope === 'each') afterEach(() => procs.killAll());
  afterAll(() => procs.killAll());
  return procs;
}

/**
 * The runner's handle on one side process: spawned through the placement,
 * JSON lines both ways, waits with timeouts, and a stop by PID that always
 * ends the process (close line, then SIGTERM, then SIGKILL).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../../harness/launchers/child-process.js';
import type { SpawnFn } from '../placement.js';
import { LINE_PREFIX, type FromSide, type SideRole, type ToSide } from './messages.js';

/** dist/scenarios/proc/side.js (from sources, e.g. under vitest, the built copy). */
export function sideScript(): string {
  const here = fileURLToPath(new URL('./side.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = join(projectRoot(), 'dist', 'scenarios', 'proc', 'side.js');
  if (existsSync(built)) return built;
  throw new Error(`cannot find the side process script (${built}): run 'npm run build' first`);
}

export class SideProcess {
  readonly child: ChildProcess;
  private readonly inbox: FromSide[] = [];
  private waiters: Array<() => void> = [];
  private exitInfo: string | undefined;
  private readonly logTail: string[] = [];

  constructor(readonly role: SideRole, spawnFn: SpawnFn, onProgress?: (m: Extract<FromSide, { type: 'progress' }>) => void) {
    this.child = spawnFn(process.execPath, [sideScript()], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    const out = createInterface({ input: this.child.stdout! });
    out.on('line', (l) => {
      if (!l.startsWith(LINE_PREFIX)) return this.keep(l);
      let m: FromSide;
      try {
        m = JSON.parse(l.slice(LINE_PREFIX.length)) as FromSide;
      } catch {
        return this.keep(l);
      }
      if (m.type === 'progress') onProgress?.(m);
      else this.push(m);
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => this.keep(l));
    this.child.on('error', (e) => this.gone(`could not start the ${role} process: ${e.message}`));
    this.child.on('exit', (code, signal) => this.gone(`the ${role} process exited ${signal ? `on ${signal}` : `with code ${code}`}`));
    this.child.stdin!.on('error', () => undefined); // a side that died: its stdin is gone, the exit says why
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private keep(l: string): void {
    this.logTail.push(l);
    if (this.logTail.length > 40) this.logTail.shift();
  }

  private push(m: FromSide): void {
    this.inbox.push(m);
    for (const w of this.waiters.splice(0)) w();
  }

  private gone(why: string): void {
    this.exitInfo ??= why;
    for (const w of this.waiters.splice(0)) w();
  }

  /** The last lines the process printed (for error messages). */
  tail(): string {
    return this.logTail.slice(-15).map((l) => `    ${l}`).join('\n');
  }

  send(m: ToSide): void {
    if (this.exitInfo === undefined) this.child.stdin!.write(`${JSON.stringify(m)}\n`);
  }

  /** The next message of `type`; rejects on a fatal message, exit or timeout. */
  async next<T extends FromSide['type']>(type: T, timeoutMs: number, what: string): Promise<Extract<FromSide, { type: T }>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type || m.type === 'fatal');
      if (i >= 0) {
        const m = this.inbox.splice(i, 1)[0]!;
        if (m.type === 'fatal') throw new Error(`${this.role} process failed before ${what}: ${m.message}\n${this.tail()}`);
        return m as Extract<FromSide, { type: T }>;
      }
      if (this.exitInfo !== undefined) throw new Error(`${this.exitInfo} before ${what}\n${this.tail()}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${this.role} process: no ${what} within ${timeoutMs} ms\n${this.tail()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Asks the side to close, then SIGTERM, then SIGKILL, by its PID; resolves once it is gone. */
  async stop(graceMs = 4000): Promise<void> {
    if (this.exitInfo !== undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (this.exitInfo !== undefined) return resolve();
      this.child.once('exit', () => resolve());
    });
    this.send({ type: 'close' });
    this.child.stdin!.end();
    const term = setTimeout(() => this.child.kill('SIGTERM'), graceMs);
    const kill = setTimeout(() => this.child.kill('SIGKILL'), graceMs + 2000);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}

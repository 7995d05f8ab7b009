/**
 * `vitest run …` as a child process in its own process group, with a hard
 * time limit: on timeout (or when the caller stops it) the whole group —
 * vitest and its workers — is killed. Output goes to a log file; the last
 * lines are kept for error messages. Used by the matrix and the self-check.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';

export interface VitestChildOptions {
  /** Project root: vitest runs there, with the project's vitest.config.ts. */
  root: string;
  /** Arguments after `vitest run` (test files or filters, flags). */
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Appended to. */
  logFile: string;
  timeoutMs: number;
  /** Receives a function that stops the run (for SIGINT handling). */
  track?: (stop: () => void) => void;
}

export interface VitestOutcome {
  exitCode: number | null;
  timedOut: boolean;
  /** Errors vitest reported outside any test ("Vitest caught N unhandled errors"). */
  unhandled: number;
  /** The last 40 lines of output. */
  tail: string[];
}

export function runVitestChild(o: VitestChildOptions): Promise<VitestOutcome> {
  const vitest = join(o.root, 'node_modules', 'vitest', 'vitest.mjs');
  return new Promise((resolveRun) => {
    const log = createWriteStream(o.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [vitest, 'run', ...o.args], { cwd: o.root, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    let unhandled = 0;
    let timedOut = false;
    let partial = '';
    const onData = (chunk: Buffer): void => {
      log.write(chunk);
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        tail.push(l);
        if (tail.length > 40) tail.shift();
        const m = /Vitest caught (\d+) unhandled errors?/.exec(l);
        if (m) unhandled += Number(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); // the group we created (detached): vitest and its workers
      } catch { /* already gone */ }
    };
    o.track?.(killGroup);
    const timer = setTimeout(() => { timedOut = true; killGroup(); }, o.timeoutMs);
    child.on('error', (e) => { tail.push(`could not start vitest: ${e.message}`); });
    child.on('close', (code) => {
      clearTimeout(timer);
      killGroup(); // stray workers, if any
      log.end();
      resolveRun({ exitCode: code, timedOut, unhandled, tail });
    });
  });
}

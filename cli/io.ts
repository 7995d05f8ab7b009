/** What a subcommand may touch, so tests can run one in-process. */
import type { Readable, Writable } from 'node:stream';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  cwd: string;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd() });

/** Bad flags or arguments: main prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What a subcommand may touch, so tests can run one in-process. */
import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';

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

/** node:util parseArgs, with its errors as UsageError (main prints the usage and exits 2). */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** An integer flag from `min` to `max` (`10_000_000` allowed); `fallback` when the flag is absent. */
export function integerOption(value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replaceAll('_', ''));
  if (!/^-?\d[\d_]*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** A comma-separated flag whose items must be among `allowed`; all of `allowed` when the flag is absent. */
export function listOption<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T[] {
  if (value === undefined) return [...allowed];
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag}: expected one or more of ${allowed.join(', ')}`);
  for (const i of items) if (!(allowed as readonly string[]).includes(i)) throw new UsageError(`${flag}: '${i}' is not one of ${allowed.join(', ')}`);
  return items as T[];
}

/**
 * The CLI's logger: one line per event, `key=value` pairs after a timestamp
 * and level, e.g.
 *
 *     ts=2025-01-01T12:00:00.000Z level=info msg="client connected" clientId=c1 username=sensor
 *
 * Values with spaces, quotes, '=' or control characters are JSON-quoted, so
 * a line never breaks. Fields whose names look like secrets are redacted.
 */
import type { Logger } from '../reference-broker/index.js';
import type { LogLevel } from '../reference-broker/config.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET = /^(password|passwd|pass|secret|token)$/i;
const BARE = /^[\w.:/@+\-[\]#$%,]+$/;

function value(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  else if (v instanceof Error) s = v.message;
  else {
    try { s = JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  }
  return BARE.test(s) ? s : JSON.stringify(s);
}

/** Formats one log line (without the newline). */
export function formatLogLine(level: Exclude<LogLevel, 'silent'>, msg: string, fields: Record<string, unknown> | undefined, now: Date = new Date()): string {
  let line = `ts=${now.toISOString()} level=${level} msg=${JSON.stringify(msg)}`;
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (v === undefined) continue;
    const key = k.replace(/[^\w.-]/g, '_');
    line += ` ${key}=${SECRET.test(k) ? '[redacted]' : value(v)}`;
  }
  return line;
}

/** A Logger writing key=value lines at `level` and above to `out` (standard error by default). */
export function lineLogger(level: LogLevel, out: NodeJS.WritableStream = process.stderr): Logger {
  const at = (l: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[l] >= RANK[level]) out.write(formatLogLine(l, msg, fields) + '\n');
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

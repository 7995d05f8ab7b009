/** Rate-limited warnings for events that can repeat at line rate (limits hit, messages dropped). */
import type { Clock } from './clock.js';
import type { Logger } from './options.js';

/**
 * Logs each kind of event at most once per interval. The next line of that
 * kind says how many were left out in between (`suppressed`).
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 10_000,
  ) {}

  warn(kind: string, msg: string, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    const e = this.last.get(kind);
    if (e && now - e.at < this.intervalMs) {
      e.suppressed++;
      return;
    }
    this.logger.warn(msg, e && e.suppressed > 0 ? { ...fields, suppressed: e.suppressed } : fields);
    this.last.set(kind, { at: now, suppressed: 0 });
  }
}

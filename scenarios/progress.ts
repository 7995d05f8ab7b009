/**
 * Live progress of a benchmark: on a terminal one line rewritten in place
 * (\r) with elapsed time, offered and achieved rate, errors; elsewhere (CI,
 * a pipe) a quiet line every few seconds and one per finished variant.
 */
import type { Writable } from 'node:stream';

export interface ProgressTick {
  variant: string;
  /** Seconds since the start of the variant's schedule (negative: before it). */
  elapsedS: number;
  totalS: number;
  phase: 'warm-up' | 'window' | 'drain';
  sent: number;
  received: number;
  /** Rates over the last second. */
  sentPerS: number;
  receivedPerS: number;
  errors: number;
  timeouts: number;
}

export interface ProgressSink {
  /** A variant starts (index from 1). */
  begin(label: string, index: number, of: number): void;
  tick(t: ProgressTick): void;
  /** A variant is done: one summary line. */
  end(summary: string): void;
  /** Any other line (set-up, notes). */
  note(text: string): void;
}

const fmtRate = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function tickText(t: ProgressTick): string {
  const el = Math.max(0, t.elapsedS);
  return `${t.variant} ${el.toFixed(0)}/${t.totalS.toFixed(0)}s ${t.phase} | sent ${fmtRate(t.sentPerS)}/s recv ${fmtRate(t.receivedPerS)}/s | errors ${t.errors} timeouts ${t.timeouts}`;
}

export function ttyProgress(out: Writable & { columns?: number }): ProgressSink {
  let live = false;
  const clear = (): void => {
    if (live) out.write('\r\x1b[2K');
    live = false;
  };
  return {
    begin(label, i, n) {
      clear();
      out.write(`[${i}/${n}] ${label}\n`);
    },
    tick(t) {
      const width = out.columns !== undefined && out.columns > 20 ? out.columns - 1 : 400;
      out.write(`\r\x1b[2K${tickText(t).slice(0, width)}`);
      live = true;
    },
    end(summary) {
      clear();
      out.write(`  ${summary}\n`);
    },
    note(text) {
      clear();
      out.write(`${text}\n`);
    },
  };
}

export function lineProgress(out: Writable, everyS = 5): ProgressSink {
  let last = -Infinity;
  return {
    begin(label, i, n) {
      last = -Infinity;
      out.write(`[${i}/${n}] ${label}\n`);
    },
    tick(t) {
      if (!Number.isFinite(everyS) || t.elapsedS - last < everyS) return;
      last = t.elapsedS;
      out.write(`  ${tickText(t)}\n`);
    },
    end(summary) {
      out.write(`  ${summary}\n`);
    },
    note(text) {
      out.write(`${text}\n`);
    },
  };
}

export const silentProgress: ProgressSink = { begin() {}, tick() {}, end() {}, note() {} };

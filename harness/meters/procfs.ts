/**
 * Readings from Linux /proc: a process's resident memory (now and peak) and
 * CPU time, one thread's CPU time, and the whole machine's busy time. Used to
 * put the broker's, the generator's and everyone else's CPU next to each
 * figure (bench/), and server and device CPU and memory next to each
 * scenario run (scenarios/).
 * Every reader returns undefined where /proc is missing (not Linux) instead of throwing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

let clkTck: number | undefined;

/** Clock ticks per second of the utime/stime fields (USER_HZ, nearly always 100). */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clkTck = Number.isFinite(v) && v > 0 ? v : 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds (user + system) from a /proc/.../stat file; fields after the "(comm)" part. */
function statCpuSeconds(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicksPerSecond();
}

/** CPU seconds used so far by process `pid`, all its threads. */
export function processCpuSeconds(pid: number): number | undefined {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds used so far by thread `tid` of this process. */
export function threadCpuSeconds(tid: number): number | undefined {
  return statCpuSeconds(`/proc/self/task/${tid}/stat`);
}

/** The Linux thread id of the calling JS thread (main or worker), from /proc/thread-self. */
export function currentThreadId(): number | undefined {
  try {
    const link = readlinkSync('/proc/thread-self'); // "<pid>/task/<tid>"
    const tid = Number(link.slice(link.lastIndexOf('/') + 1));
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size of process `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident set size of process `pid` in bytes (VmHWM: the high-water mark since it started). */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface MachineCpu {
  /** Seconds of CPU time spent busy (not idle, not iowait), summed over all cores. */
  busy: number;
  /** Seconds of CPU time in total, summed over all cores. */
  total: number;
}

/** Busy and total CPU time of the whole machine (first line of /proc/stat). */
export function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest fields are already in user)
    const total = f.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const hz = clockTicksPerSecond();
    return { busy: (total - idle) / hz, total: total / hz };
  } catch {
    return undefined;
  }
}

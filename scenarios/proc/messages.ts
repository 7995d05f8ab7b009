/**
 * What the runner and its side processes (scenarios/proc/side.ts) say to
 * each other: one JSON object per line, runner → side on the side's stdin,
 * side → runner on its stdout prefixed with LINE_PREFIX (anything else a
 * library prints is passed through as a log line). Bigints travel as
 * decimal strings. Closing the side's stdin stops it.
 */
import type { ByteCounts } from '../../harness/meters/byte-meter.js';
import type { DeviceObservations, ServerInfo, SideConfig } from '../adapters/types.js';
import type { LatencyReport } from '../schedule/latency.js';
import type { RunClock, ScheduleStats } from '../schedule/open-loop.js';

export const LINE_PREFIX = '@@mtb ';

export type SideRole = 'server' | 'device' | 'autocannon';

export type ToSide =
  | { type: 'config'; role: SideRole; config: SideConfig; autocannon?: AutocannonJob }
  | { type: 'start'; clock: Record<keyof RunClock, string> }
  | { type: 'close' };

export interface AutocannonJob {
  url: string;
  method: 'POST' | 'PUT';
  body: string;
  contentType: string;
  connections: number;
  durationS: number;
  /** New connection per request (autocannon's reconnectRate 1) or kept alive. */
  newConnection: boolean;
}

export interface AutocannonOutcome {
  requestsPerS: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  durationS: number;
  connections: number;
  version: string;
}

export interface CpuWindow {
  /** CPU time (user + system) inside the measured window, ms. */
  windowMs: number;
  /** Over the side's whole life, ms. */
  totalMs: number;
}

export interface SideReport {
  role: SideRole;
  pid: number;
  latency: LatencyReport;
  schedule?: ScheduleStats | undefined;
  errors: number;
  timeouts: number;
  errorNotes: string[];
  sentAll: number;
  acked: number;
  cpu: CpuWindow;
  /** Peak resident memory of this process (getrusage maxrss), KiB. */
  peakKiB: number;
  /** Processes the side started (Mosquitto): CPU and peak memory from /proc. */
  extra: Array<{ pid: number; name: string; cpu?: CpuWindow; peakKiB?: number }>;
  /** Device side: the application-layer byte counts. */
  bytes?: { setup: ByteCounts; window: ByteCounts; linkMessages: number; linkPayload: number };
  observations?: DeviceObservations;
  autocannon?: AutocannonOutcome;
}

export type FromSide =
  | { type: 'ready'; role: SideRole; pid: number; info?: ServerInfo; settings?: Record<string, unknown> }
  | { type: 'progress'; role: SideRole; sent: number; received: number; errors: number; timeouts: number }
  | { type: 'report'; report: SideReport }
  | { type: 'fatal'; message: string };

/**
 * What the orchestrator (bench/broker.bench.ts), the generator process
 * (load/generator.ts) and its two worker threads (load/publisher.ts,
 * load/subscriber.ts) say to each other, and the shared-memory counters the
 * two workers use instead of messages on the hot path.
 */
import type { LatencySummary } from '../../harness/meters/histogram.js';

/** Latency percentiles, microseconds (defined with the histograms in harness/meters). */
export type { LatencySummary };

export type LoadScenario = 'qos0' | 'qos1' | 'fanout' | 'latency';
export type ScenarioName = LoadScenario | 'idle';
export const SCENARIOS: readonly ScenarioName[] = ['qos0', 'qos1', 'fanout', 'latency', 'idle'];

/** One load run against one broker. */
export interface LoadConfig {
  scenario: LoadScenario;
  host: string;
  port: number;
  noDelay: boolean;
  publishers: number;
  subscribers: number;
  qos: 0 | 1;
  /** closed: as fast as the window allows; open: a fixed rate, each send time scheduled in advance. */
  mode: 'closed' | 'open';
  /** QoS 1: messages each publisher may have sent but not yet PUBACKed. */
  window: number;
  /**
   * Messages each publisher may have sent but not yet received by the slowest
   * subscriber: the window of QoS 0 closed loops, and a second bound for QoS 1
   * (0 = none for QoS 1).
   */
  e2eWindow: number;
  /** Open loop: messages per second, all publishers together. */
  rate: number;
  payloadSize: number;
  /** Largest number of frames one write carries. */
  batch: number;
  warmupMs: number;
  durationMs: number;
  /** Publishers stop after this many messages in all (a bound besides time). */
  maxMessages: number;
  /** After the window: how long to wait for messages still in flight. */
  drainMs: number;
  /** Closed loop: an end-to-end window that does not move for this long counts its messages lost and reopens. */
  stallMs: number;
  topicPrefix: string;
  clientIdPrefix: string;
  /** The broker's process, for its CPU time; undefined = not measured. */
  brokerPid: number | undefined;
}

/** Idle connections against one broker. */
export interface IdleConfig {
  host: string;
  port: number;
  noDelay: boolean;
  connections: number;
  /** Source addresses to spread connections over (ephemeral ports are per source address). */
  localAddresses: string[];
  /** Connections being opened at once. */
  concurrency: number;
  connectTimeoutMs: number;
  clientIdPrefix: string;
}

export interface CpuFigures {
  /** Seconds of wall time the percentages are over. */
  seconds: number;
  /** Percent of one core. */
  generatorProcess: number;
  publisherThread: number | undefined;
  subscriberThread: number | undefined;
  broker: number | undefined;
  /** Everything busy on the machine, percent of one core (200 = both cores of a 2-core machine). */
  machine: number | undefined;
  /** machine − broker − generator: other people's work on the machine during the window. */
  others: number | undefined;
}

export interface LoadResult {
  scenario: LoadScenario;
  windowSeconds: number;
  /** Messages published in the window (all publishers). */
  sent: number;
  /** Deliveries received in the window (all subscribers). */
  received: number;
  /** sent per second × subscribers: the delivery rate the publishers asked for. */
  offeredPerSecond: number;
  receivedPerSecond: number;
  /** Whole run, warm-up and drain included. */
  totals: {
    sent: number;
    expected: number;
    received: number;
    /** Gaps in the per-publisher sequence numbers a subscriber saw (messages lost). */
    gaps: number;
    /** Sequence numbers that went backwards (duplicates or reordering). */
    outOfOrder: number;
    /** QoS 0 windows that stopped moving and were reopened. */
    stalls: number;
    /** Publishers stopped at the message-count bound before the time bound. */
    capped: boolean;
    /** Whether every expected delivery arrived before the drain timeout. */
    drained: boolean;
  };
  /** Time from the send to receipt (the write call for closed loop; the intended send time for open loop). */
  latency: LatencySummary;
  /** From the actual write call to receipt (what a tool without a schedule would report). */
  latencyUncorrected: LatencySummary;
  /** Open loop: how late the generator wrote each message after its intended time. */
  sendLag: LatencySummary | undefined;
  cpu: CpuFigures;
}

export interface IdleOpened {
  connected: number;
  failed: number;
  firstError: string | undefined;
  seconds: number;
}

/** Orchestrator → generator (over the child-process IPC channel). */
export type ToGenerator =
  | { type: 'run'; config: LoadConfig }
  | { type: 'idle-open'; config: IdleConfig }
  | { type: 'idle-close' };

/** Generator → orchestrator. */
export type FromGenerator =
  | { type: 'result'; result: LoadResult }
  | { type: 'idle-opened'; opened: IdleOpened }
  | { type: 'idle-closed' }
  | { type: 'error'; message: string };

/** Generator main thread → a worker. */
export type ToWorker = { type: 'start' } | { type: 'finish' };

/** A worker → the generator main thread. */
export type FromWorker =
  | { type: 'ready'; tid: number | undefined }
  | { type: 'error'; message: string }
  | { type: 'done'; latency?: LatencySummary; latencyUncorrected?: LatencySummary; sendLag?: LatencySummary; gaps?: number; outOfOrder?: number; other?: number };

/** What a worker gets as workerData. */
export interface WorkerInit {
  config: LoadConfig;
  shared: SharedArrayBuffer;
}

// ---------------------------------------------------------------- shared counters

/** Indices into `ctl`. */
export const CTL = {
  PHASE: 0,
  /** Bumped by the subscriber thread after every chunk it processed. */
  WAKE: 1,
  /** 1 while the publisher thread waits for the window to move. */
  PUB_WAITING: 2,
  /** Set by the publisher thread when it reached maxMessages. */
  CAPPED: 3,
  STALLS: 4,
  /** Futex cell the open-loop publisher sleeps on (never notified: a precise sleep). */
  SLEEP: 5,
  /** Deliveries received so far by all subscribers together. */
  RECV_TOTAL: 6,
  /** A waiting publisher thread wants to be woken once RECV_TOTAL reaches this. */
  WAKE_AT: 7,
} as const;
const CTL_LENGTH = 8;

export const PHASE = { IDLE: 0, WARMUP: 1, MEASURE: 2, STOP: 3 } as const;

export interface SharedCounters {
  ctl: Int32Array;
  /** Messages sent, per publisher (written by the publisher thread). */
  sent: Int32Array;
  /** Messages PUBACKed, per publisher (QoS 1). */
  acked: Int32Array;
  /** Messages received, per subscriber × publisher: recv[s * publishers + p] (written by the subscriber thread). */
  recv: Int32Array;
}

export function sharedBytes(publishers: number, subscribers: number): number {
  return 4 * (CTL_LENGTH + 2 * publishers + publishers * subscribers);
}

export function sharedCounters(sab: SharedArrayBuffer, publishers: number, subscribers: number): SharedCounters {
  let off = 0;
  const take = (n: number): Int32Array => {
    const a = new Int32Array(sab, off, n);
    off += 4 * n;
    return a;
  };
  return { ctl: take(CTL_LENGTH), sent: take(publishers), acked: take(publishers), recv: take(publishers * subscribers) };
}

export function sum(a: Int32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Atomics.load(a, i);
  return s;
}

/** Monotonic clock in nanoseconds as a double (CLOCK_MONOTONIC: the same clock in every thread and process). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Atomics.waitAsync is in V8 (Node ≥ 16) but not in the es2023 lib typings. */
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (array: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult;

export function waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): Promise<'ok' | 'not-equal' | 'timed-out'> {
  const fn = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
  const r = fn(array, index, value, timeoutMs);
  return r.async ? r.value : Promise.resolve(r.value);
}

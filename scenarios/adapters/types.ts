/**
 * The common adapter interface. Every protocol has two sides, each run in
 * its own process (so each can be placed in its own network namespace and
 * cgroup by a device profile):
 *
 * - ServerSide: the server (broker, HTTP server, CoAP server) plus the
 *   collector that records what devices send, and — for server-driven
 *   patterns (command-response, fan-out) — the open-loop sender.
 * - DeviceSide: N simulated devices following the schedule (telemetry,
 *   retained-state) or answering / receiving (command-response, fan-out);
 *   every device socket is byte-counted.
 *
 * A side is created from a SideConfig, reports its settings, then is
 * started with a SideRun (the run's clock, latency recorder, counters) and
 * finished (stop sending, report) and closed.
 */
import type { ByteMeter } from '../../harness/meters/byte-meter.js';
import type { HttpConnection, MqttTransport, Workload } from '../workload.js';
import type { SideRun } from './context.js';

export type Protocol = 'mqtt' | 'http' | 'coap';
export type BrokerChoice = { kind: 'reference' } | { kind: 'mosquitto' } | { kind: 'url'; url: string };

/** One labelled protocol variant: everything about it that changes the numbers. */
export interface VariantSpec {
  protocol: Protocol;
  /** Short id, e.g. 'mqtt-qos1-tcp', 'http-keep-alive', 'http-new-tls', 'coap-con'. */
  id: string;
  /** Human label for tables and reports. */
  label: string;
  mqtt?: { transport: MqttTransport; qos: 0 | 1 | 2; version: '3.1.1' | '5.0'; broker: BrokerChoice };
  http?: { connection: HttpConnection; tls: boolean };
  coap?: { confirmable: boolean };
}

export interface SideConfig {
  workload: Workload;
  variant: VariantSpec;
  /** Address the server binds (127.0.0.1 on the host profile; the server namespace's address otherwise). */
  bindHost: string;
  /** Address devices connect to. */
  serverHost: string;
  /** Server endpoints as the server side reported them (device side only). */
  endpoints?: Record<string, string>;
  /** Futex-precise schedule waits (default true). */
  precise?: boolean;
}

/** Server-side set-up facts: where devices connect, what was configured. */
export interface ServerInfo {
  endpoints: Record<string, string>;
  settings: Record<string, unknown>;
  /** Processes the side started besides itself (Mosquitto), for their CPU time and memory. */
  extraPids: number[];
}

export interface ServerSide {
  readonly info: ServerInfo;
  /** Begin the run (subscriptions are in place by now; server-driven schedules start here). */
  start(run: SideRun): void;
  /** Stop sending; called at the deadline. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** What a late subscriber needed to catch up with retained / stored state (retained-state pattern). */
export interface CatchUp {
  /** Items it had to get: N configs + N states. */
  items: number;
  /** Items it got before the timeout. */
  got: number;
  ms: number;
  /** Application-layer wire bytes of the catch-up (connect, subscribe/GET, all the items). */
  bytes: number;
}

export interface DeviceSide {
  /** Client library and version, keep-alive, TCP_NODELAY, TLS, token length, ... */
  readonly settings: Record<string, unknown>;
  /** All device byte counts go here (the late subscriber of retained-state has its own). */
  readonly meter: ByteMeter;
  /** Connect every device (connections, subscriptions, Observe registrations): the set-up phase. */
  connect(): Promise<void>;
  start(run: SideRun): void;
  stop(): Promise<void>;
  /** Claim observations (PUBLISH framing, HTTP heads, CoAP layouts) and the catch-up, if any. */
  observations(): DeviceObservations;
  close(): Promise<void>;
}

export interface DeviceObservations {
  mqtt?: { publishCount: number; fixedHeaderMin: number; fixedHeaderMax: number; smallestPublish: number; smallPublishNot2: number; connectBytes: number; connackBytes: number; pubackBytes: number };
  http?: { requests: number; responses: number; requestHeadBytes: number; responseHeadBytes: number; minRequestHead: number; maxRequestHead: number; minResponseHead: number; maxResponseHead: number };
  coap?: { datagrams: number; notCoap: number; tokenMin: number; tokenMax: number; optionsMin: number; optionsMax: number; smallest: number; headerBytes: number; withPayload: number };
  catchUp?: CatchUp;
}

/**
 * The output of delivery runs: one JSON file (schema 'mqtt-testbed/delivery',
 * version 1) with the machine, the brokers as configured and every run, and
 * a compact table for the terminal and for harness/README.md.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import type { DeliveryResult } from './delivery-run.js';

export const DELIVERY_SCHEMA = 'mqtt-testbed/delivery';
export const DELIVERY_VERSION = 1;

export interface DeliveryBrokerInfo {
  name: string;
  version: string;
  settings: string[];
}

export interface SkippedRun {
  broker: string;
  reason: string;
}

export interface DeliveryReport {
  schema: typeof DELIVERY_SCHEMA;
  version: typeof DELIVERY_VERSION;
  /** ISO time the runs started. */
  startedAt: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string; loadavgStart: number[]; loadavgEnd: number[] };
  brokers: DeliveryBrokerInfo[];
  runs: DeliveryResult[];
  skipped: SkippedRun[];
}

export function machineInfo(): Omit<DeliveryReport['machine'], 'loadavgEnd'> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown', cores: c.length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version,
    platform: `${process.platform} ${process.arch}`, loadavgStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** A Markdown table (also readable on a terminal): one row per run. */
export function deliveryTable(runs: readonly DeliveryResult[]): string {
  const head = ['broker', 'MQTT', 'QoS', 'messages', 'cuts', 'reconnects', 'sessions lost', 'lost', 'duplicates', 'order', 'duration', 'rate', 'verdict'];
  const rows = runs.map((r) => [
    r.broker, r.protocol, String(r.qos), fmt(r.ledger.published), fmt(r.cuts), fmt(r.reconnects), fmt(r.sessionsLost),
    fmt(r.ledger.lost), `${fmt(r.ledger.duplicates)}${r.qos === 1 ? ' (allowed)' : ''}`, fmt(r.ledger.orderViolations),
    `${(r.durationMs / 1000).toFixed(1)} s`, `${fmt(r.rate)}/s`, r.verdict,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The findings of every run, one line each. */
export function deliveryFindings(runs: readonly DeliveryResult[]): string[] {
  return runs.flatMap((r) => r.findings.map((f) => `${r.broker} ${r.protocol} QoS ${r.qos}: ${f.text}${f.statements.length ? ` [${f.statements.join(', ')}]` : ''}`));
}

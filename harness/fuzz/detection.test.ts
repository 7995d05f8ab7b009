/**
 * The fuzzer really catches what it claims to: against a deliberately broken
 * target (faulty-target.ts: the reference broker behind a proxy that
 * misbehaves on the first PUBLISH QoS 2 with RETAIN it sees) a run fails
 * with the right kind of failure, and shrinking ends at a small case that
 * still contains the trigger. A target that accepts connections but never
 * answers fails the run before any case is sent.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import type { Packet } from '../../codec/index.js';
import { faultyTarget, type FaultyTarget, type Misbehaviour } from './faulty-target.js';
import { summarize, type FuzzReport } from './report.js';
import { runFuzz } from './runner.js';
import { remoteTarget } from './target.js';

const trigger = (p: Packet): boolean => p.type === 'publish' && p.qos === 2 && p.retain;
const hasTrigger = (description: string[]): boolean => description.some((l) => /PUBLISH\([^)]*qos 2, retain/.test(l));
const opened: FaultyTarget[] = [];

afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
});

/** Bounds generous enough for a loaded machine where nothing hangs (close-others, crash); the freeze test needs them short. */
async function fuzzFaulty(mode: Misbehaviour, shrinkTimeMs: number, bounds = { controlTimeoutMs: 3000, caseTimeoutMs: 5000 }): Promise<FuzzReport> {
  const target = await faultyTarget(mode, trigger);
  opened.push(target);
  const report = await runFuzz({ target, packets: 20_000, seed: 11, versions: [4, 5], concurrency: 32, maxTimeMs: 15_000, shrinkTimeMs, ...bounds });
  expect(target.triggered).toBeGreaterThan(0);
  return report;
}

test.each([
  ['close-others', ['control-closed', 'sentinel-closed']],
  ['crash', ['crash']],
] as const)('%s on a trigger packet: the run fails, shrunk to one small case with the trigger', async (mode, kinds) => {
  const report = await fuzzFaulty(mode, 15_000);
  const summary = summarize(report);
  expect(report.passed, summary).toBe(false);
  const f = report.failures[0]!;
  expect(kinds as readonly string[], summary).toContain(f.kind);
  expect(f.shrinking?.reproduced, summary).toBe(true);
  expect(f.shrunk, summary).toHaveLength(1);
  const shrunk = f.shrunk![0]!;
  expect(hasTrigger(shrunk.description), summary).toBe(true);
  expect(shrunk.packets, summary).toBeLessThanOrEqual(3);
  expect(shrunk.replay).toMatch(/--replay -?\d+:\d+/);
  // The cases that were running when it happened are folded into the one failure.
  expect(report.failures.filter((x) => x.kind === 'mismatch'), summary).toEqual([]);
}, 60_000);

test('a broker that stops answering everyone: the run fails with the control client not served, and the failure reproduces', async () => {
  const report = await fuzzFaulty('freeze', 8000, { controlTimeoutMs: 1500, caseTimeoutMs: 2000 });
  const summary = summarize(report);
  expect(report.passed, summary).toBe(false);
  expect(['control-timeout', 'sentinel-timeout', 'case-hang'], summary).toContain(report.failures[0]!.kind);
  expect(report.failures[0]!.shrinking?.reproduced, summary).toBe(true);
  // Each attempt waits out the bound, so shrinking may stop early: the trigger is in what it kept.
  expect(report.failures[0]!.shrunk!.some((c) => hasTrigger(c.description)), summary).toBe(true);
}, 60_000);

test('a listener that accepts connections but never answers: failed before any case, control client not served', async () => {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => { sockets.push(s); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const { port } = server.address() as { port: number };
    const report = await runFuzz({ target: remoteTarget(`mqtt://127.0.0.1:${port}`), packets: 1000, seed: 1, versions: [5], controlTimeoutMs: 300 });
    expect(report.passed).toBe(false);
    expect(report.failures[0]!.kind).toBe('control-connect');
    expect(report.packetsSent).toBe(0);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

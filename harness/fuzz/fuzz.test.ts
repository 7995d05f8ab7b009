/**
 * A short fuzz run against the reference broker as a child process (the
 * same target `npm run fuzz` uses by default): tens of thousands of valid and
 * mutated packets of both versions. Every connection must end as the oracle
 * says, the control client and sentinels must be served throughout, and the
 * broker must still be running. The long run (≥ 10 million packets) is
 * documented in harness/README.md.
 *
 * FUZZ_PACKETS changes the packet count; FUZZ_SEED replays a run.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { envInt } from '../../codec/arbitraries.js';
import { arbitraryFuzzCase } from './case.js';
import { CaseSource, replayCase } from './case-source.js';
import { summarize } from './report.js';
import { runFuzz } from './runner.js';
import { launchReferenceProcess, type FuzzTarget } from './target.js';

let target: FuzzTarget;

beforeAll(async () => {
  target = await launchReferenceProcess();
}, 60_000);

afterAll(async () => {
  await target?.close();
});

test('tens of thousands of fuzz packets: the reference broker answers every one as the spec says and keeps serving', async () => {
  const seed = envInt('FUZZ_SEED') ?? ((Math.random() * 2 ** 32) | 0);
  const report = await runFuzz({
    target, seed, packets: envInt('FUZZ_PACKETS') ?? 30_000, versions: [4, 5], concurrency: 128,
    // Bounded for a loaded machine: the run stops after 20 s whatever the count.
    maxTimeMs: 20_000, shrinkTimeMs: 20_000,
  });
  const summary = summarize(report);
  // eslint-disable-next-line no-console
  console.log(summary);
  expect(report.failures, summary).toEqual([]);
  expect(report.passed).toBe(true);
  expect(report.mismatches.count, summary).toBe(0);
  expect(report.packetsSent).toBeGreaterThan(10_000);
  expect(report.control.roundTrips).toBeGreaterThan(0);
  expect(target.exitInfo()).toBeUndefined();
  expect(report.memory.measurable).toBe(true);
  // The mutations reach the broker: many different rules decide the cases, all three answers occur.
  expect(Object.keys(report.verdicts).filter((k) => k.startsWith('close ')).length).toBeGreaterThan(15);
  for (const k of ['ok accepted', 'ok closed', 'ok closed-with-reason', 'ok refused', 'ok waited', 'ok client-disconnect']) expect(report.outcomes[k] ?? 0, k).toBeGreaterThan(0);
}, 90_000);

test('a case is replayed exactly from its seed and path', async () => {
  const arb = arbitraryFuzzCase({ versions: [4, 5] });
  const source = new CaseSource(arb, 1234);
  for (let i = 0; i < 70; i++) {
    const { c, ref } = source.take();
    if (i % 23 !== 0) continue;
    expect(await replayCase(arb, ref)).toEqual(c);
  }
});

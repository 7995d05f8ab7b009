/**
 * The open-loop scheduler: fixed send times whatever happens; schedule
 * error measured; a stalled sender sends late instead of skipping; a stalled
 * receiver shows up as latency, not as a lower offered rate.
 */
import { describe, expect, test } from 'vitest';
import { decodeHistogram } from '../../harness/meters/histogram.js';
import { LatencyRecorder } from './latency.js';
import { OpenLoopSchedule, runClock, seededRandom } from './open-loop.js';

const ms = (x: number): bigint => BigInt(Math.round(x * 1e6));

/**
 * These tests run the scheduler against the real clock, so a machine busy with other test
 * files can delay a whole run. They are retried (at most twice) rather than loosened until
 * they could not fail.
 */
const REAL_TIME = { retry: 2 } as const;

describe('open-loop schedule', () => {
  test('send times are fixed in advance: t0 + phase + k / rate, phases seeded', () => {
    const clock = runClock(1_000_000_000n, 0, 1, 0);
    const a = new OpenLoopSchedule({ senders: 4, ratePerSender: 10, clock, seed: 7, maxMessages: 1000 });
    const b = new OpenLoopSchedule({ senders: 4, ratePerSender: 10, clock, seed: 7, maxMessages: 1000 });
    const c = new OpenLoopSchedule({ senders: 4, ratePerSender: 10, clock, seed: 8, maxMessages: 1000 });
    expect(a.phasesNs).toEqual(b.phasesNs);
    expect(a.phasesNs).not.toEqual(c.phasesNs);
    for (const p of a.phasesNs) expect(p).toBeGreaterThanOrEqual(0), expect(p).toBeLessThan(100_000_000);
    expect(a.intendedNs(2, 5) - a.intendedNs(2, 4)).toBe(100_000_000n);
    expect(a.intendedNs(1, 0)).toBe(1_000_000_000n + BigInt(a.phasesNs[1]!));
    const r = seededRandom(1);
    expect([r(), r()]).toEqual((() => { const q = seededRandom(1); return [q(), q()]; })());
  });

  test('every scheduled message is sent, in order, and the schedule error is measured', REAL_TIME, async () => {
    const t0 = process.hrtime.bigint() + ms(20);
    const clock = runClock(t0, 0.05, 0.3, 0.2);
    const s = new OpenLoopSchedule({ senders: 5, ratePerSender: 40, clock, seed: 1, maxMessages: 10_000 });
    const sends: Array<{ sender: number; seq: number; intended: bigint; actual: bigint }> = [];
    const stats = await s.run((sender, seq, intended, actual) => sends.push({ sender, seq, intended, actual }));
    // 5 senders × 40/s over 0.35 s (warm-up + window) = 70 messages, 60 of them in the 0.3 s window.
    expect(stats.sentAll).toBe(70);
    expect(stats.intendedAll).toBe(70);
    expect(stats.intended).toBe(60);
    expect(stats.sent).toBe(60);
    expect(stats.notSent).toBe(0);
    expect(stats.offeredPerS).toBeCloseTo(200, 5);
    for (let i = 1; i < sends.length; i++) expect(sends[i]!.intended >= sends[i - 1]!.intended).toBe(true);
    for (const x of sends) expect(x.actual >= x.intended).toBe(true); // never early
    const err = decodeHistogram(stats.scheduleErrorHdr);
    expect(err.totalCount).toBe(60);
    expect(Math.abs(stats.scheduleError.maxUs - err.maxValue)).toBeLessThanOrEqual(err.maxValue / 500); // 3 significant digits
    expect(stats.precise).toBe(true);
  });

  test('a stalled sender sends late, never skips, and the schedule error shows the stall', REAL_TIME, async () => {
    const t0 = process.hrtime.bigint() + ms(10);
    const clock = runClock(t0, 0, 0.4, 0.5);
    const s = new OpenLoopSchedule({ senders: 2, ratePerSender: 100, clock, seed: 3, maxMessages: 10_000 });
    let stalled = false;
    const lateMs: number[] = [];
    const stats = await s.run((_sender, seq, intended, actual) => {
      lateMs.push(Number(actual - intended) / 1e6);
      if (seq === 10 && !stalled) {
        stalled = true;
        const end = Date.now() + 120; // the event loop is blocked for 120 ms: ~24 sends become due meanwhile
        while (Date.now() < end) { /* stall */ }
      }
    });
    expect(stats.intended).toBe(80);
    expect(stats.sent).toBe(80);
    expect(stats.notSent).toBe(0);
    // The sends due during the stall went out right after it, late by up to the stall...
    expect(stats.scheduleError.maxUs).toBeGreaterThanOrEqual(100_000);
    expect(lateMs.filter((x) => x >= 50).length).toBeGreaterThanOrEqual(10);
    // ...and the ones due before it were not held back by it.
    expect(Math.min(...lateMs.slice(0, 15))).toBeLessThan(50);
  });

  test('a stalled receiver shows up as latency from the intended time, while the offered rate stays', REAL_TIME, async () => {
    // Sender → in-process "link" → receiver. The receiver stalls for 200 ms in the middle
    // of the window: what arrives meanwhile waits in the link.
    const t0 = process.hrtime.bigint() + ms(10);
    const clock = runClock(t0, 0.05, 0.6, 0.5);
    const recorder = new LatencyRecorder(clock);
    const stallFrom = t0 + ms(250);
    const stallTo = t0 + ms(450);
    const queue: Array<{ intendedUs: number; lagUs: number }> = [];
    let draining = false;
    const deliver = (): void => {
      const now = process.hrtime.bigint();
      if (now >= stallFrom && now < stallTo) {
        if (!draining) {
          draining = true;
          setTimeout(() => { draining = false; deliver(); }, Number(stallTo - now) / 1e6);
        }
        return;
      }
      while (queue.length > 0) recorder.record({ device: 0, seq: 0, ...queue.shift()! });
    };
    const s = new OpenLoopSchedule({ senders: 4, ratePerSender: 50, clock, seed: 5, maxMessages: 10_000 });
    const stats = await s.run((_sender, _seq, intended, actual) => {
      queue.push({ intendedUs: Number(intended - t0) / 1000, lagUs: Number(actual - intended) / 1000 });
      deliver();
    });
    await new Promise((r) => setTimeout(r, 300));
    deliver();
    // Offered: 4 × 50/s over the 0.6 s window = 120, all sent on schedule despite the stalled receiver.
    expect(stats.intended).toBe(120);
    expect(stats.sent).toBe(120);
    expect(stats.offeredPerS).toBeCloseTo(200, 5);
    // The sender itself was not stalled: its schedule error stays below the stall.
    expect(stats.scheduleError.p50Us).toBeLessThan(100_000);
    const rep = recorder.report();
    expect(rep.received).toBe(120);
    const lat = decodeHistogram(rep.correctedHdr);
    // Messages due during the stall waited up to its end: the tail is the stall.
    expect(lat.maxValue).toBeGreaterThanOrEqual(150_000);
    expect(lat.getValueAtPercentile(90)).toBeGreaterThanOrEqual(50_000);
    expect(lat.getValueAtPercentile(25)).toBeLessThan(100_000);
  });

  test('coarse mode (timers only) keeps the same counts', async () => {
    const t0 = process.hrtime.bigint() + ms(5);
    const clock = runClock(t0, 0, 0.2, 0.2);
    const stats = await new OpenLoopSchedule({ senders: 3, ratePerSender: 50, clock, seed: 2, maxMessages: 1000, precise: false }).run(() => undefined);
    expect(stats.sent).toBe(30);
    expect(stats.precise).toBe(false);
  });

  test('bounded by maxMessages', async () => {
    // A window far longer than the 7 messages need (35 ms), so a starved process still sends them all.
    const t0 = process.hrtime.bigint();
    const clock = runClock(t0, 0, 1, 0.1);
    const stats = await new OpenLoopSchedule({ senders: 2, ratePerSender: 100, clock, seed: 2, maxMessages: 7 }).run(() => undefined);
    expect(stats.sentAll).toBe(7);
  });
});

describe('latency recorder', () => {
  test('corrected from the intended time, uncorrected from the actual send; only the window counts', () => {
    const t0 = 1_000_000_000n;
    const clock = runClock(t0, 1, 1, 1);
    const r = new LatencyRecorder(clock);
    r.record({ device: 1, seq: 0, intendedUs: 500_000, lagUs: 0 }, t0 + ms(501)); // warm-up: seen, not counted
    r.record({ device: 1, seq: 1, intendedUs: 1_200_000, lagUs: 300 }, t0 + ms(1200) + ms(1)); // 1000 µs corrected, 700 µs uncorrected
    r.record({ device: 1, seq: 2, intendedUs: 1_500_000, lagUs: 0 }, t0 + ms(3100)); // after the deadline: late
    r.record(undefined);
    const rep = r.report();
    expect(rep).toMatchObject({ received: 1, receivedAll: 3, late: 1, undecodable: 1 });
    expect(decodeHistogram(rep.correctedHdr).maxValue).toBe(1000);
    expect(decodeHistogram(rep.uncorrectedHdr).maxValue).toBe(700);
  });
});

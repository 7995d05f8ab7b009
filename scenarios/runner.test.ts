/**
 * The runner end to end on the host profile, briefly: server and device
 * processes, open-loop schedule, byte accounting, claims, a results file that
 * validates. (Needs the build: npm test builds first.)
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readResultsFile } from '../results/validate.js';
import { pidAlive } from '../harness/launchers/child-process.js';
import { hostPlacement, type Placement } from './placement.js';
import { runBenchmark, runVariant } from './runner.js';
import { renderSummary } from './table.js';
import { variantsFor } from './variants.js';
import { resolveWorkload } from './workload.js';

describe('scenario runner (host profile)', () => {
  test('telemetry over MQTT and CoAP: every message arrives, bytes per message as the layouts say, a valid results file', async () => {
    const w = resolveWorkload('telemetry', { devices: '3', rate: '20/s', duration: '0.6s', warmup: '0.2s', drain: '0.5s' });
    const pids: number[] = [];
    const base = hostPlacement();
    // Record every process the runner starts, to check each is gone afterwards.
    const placement: Placement = {
      ...base,
      spawnServer: (c, a, o) => { const p = base.spawnServer(c, a, o); pids.push(p.pid!); return p; },
      spawnDevice: (c, a, o) => { const p = base.spawnDevice(c, a, o); pids.push(p.pid!); return p; },
    };
    const out = await runBenchmark({ workload: w, variants: variantsFor(w, ['mqtt', 'coap'], { kind: 'reference' }), placement, outDir: mkdtempSync(join(tmpdir(), 'bench-')) });
    expect(out.failures).toEqual([]);
    const [mqtt, coap] = out.results.benchmark!.runs;
    for (const r of [mqtt!, coap!]) {
      // 3 devices × 20/s over the 0.6 s window.
      expect(r.messages.intended).toBe(36);
      expect(r.offeredRate).toBeCloseTo(60, 5);
      expect(r.messages.sent).toBe(36);
      expect(r.messages.received).toBe(36);
      expect(r.messages.lost + r.messages.errors + r.messages.timeouts).toBe(0);
      expect(r.latencyUs.corrected.count).toBe(36);
      expect(r.latencyUs.corrected.p50).toBeGreaterThanOrEqual(r.latencyUs.uncorrected.p50 > 0 ? 1 : 0);
      expect(r.scheduleErrorUs?.count).toBe(36);
    }
    // The window's byte snapshots are taken when a message is written, so requests are exact; the
    // ack of a message sent just before the opening edge can land inside the window (+1 per device
    // with a message in flight there), and the ack of one sent just before the closing edge outside it
    // (−1 per device): at most ± one ack per device (3 devices, one message in flight each at 20/s).
    const acks = (got: number, one: number, n: number): void => expect(Math.abs(got - one)).toBeLessThanOrEqual((3 * one) / n + 0.01);
    // MQTT QoS 1: PUBLISH 2 + 2 + 17 ('sensors/<d>/reading') + 2 + 32 = 55, PUBACK 4.
    expect(mqtt!.bytes.app).toMatchObject({ payloadPerMessage: 32, headersPerMessage: 23 });
    acks(mqtt!.bytes.app.acksPerMessage, 4, 36);
    acks(mqtt!.bytes.app.perMessage, 59, 36);
    // CoAP CON: 4 + 8 token + 20 options + 1 marker + 32 = 65; ACK with 2.04: 12.
    expect(coap!.bytes.app).toMatchObject({ payloadPerMessage: 32, headersPerMessage: 33, setup: 0 });
    acks(coap!.bytes.app.acksPerMessage, 12, 36);
    acks(coap!.bytes.app.perMessage, 77, 36);
    expect(out.results.benchmark!.claims.map((c) => c.verdict)).toEqual(['holds', 'holds', 'not measured']);
    const file = readResultsFile(out.path!);
    expect(file.kind).toBe('benchmark');
    expect(readdirSync(join(out.path!, '..')).length).toBe(1);
    expect(renderSummary(file.benchmark!)).toMatch(/MQTT 3\.1\.1 QoS 1 over TCP/);
    expect(pids.length).toBe(4);
    for (const p of pids) expect(pidAlive(p)).toBe(false);
  });

  test('a server that cannot start fails the variant with its reason, and nothing is left running', async () => {
    const w = resolveWorkload('telemetry', { devices: '1', duration: '0.5s' });
    const pids: number[] = [];
    const base = hostPlacement();
    const placement: Placement = { ...base, bindHost: '203.0.113.1', spawnServer: (c, a, o) => { const p = base.spawnServer(c, a, o); pids.push(p.pid!); return p; } };
    await expect(runVariant({ workload: w, variant: variantsFor(w, ['http'], { kind: 'reference' })[0]!, placement })).rejects.toThrow(/server process failed before ready.*EADDRNOTAVAIL/s);
    for (const p of pids) expect(pidAlive(p)).toBe(false);
  });
});

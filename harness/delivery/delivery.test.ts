/**
 * Delivery guarantees under random cuts, short version (the long run is
 * `npm run robustness:delivery`): the reference broker loses nothing at QoS 1
 * and delivers exactly once at QoS 2, in order, on 5.0 and 3.1.1; and the
 * checker can fail: a proxy hook that duplicates a QoS 2 PUBLISH under a new
 * identifier is reported as a duplicate, one that drops a PUBLISH and fakes
 * its PUBACK as a loss, one that swaps two PUBLISHes as an order finding.
 * Mosquitto and Aedes get a short run each (the runner completes and reports;
 * their verdicts are findings, not test failures); a missing Mosquitto skips
 * with the reason (REQUIRE_EXTERNAL=1 makes that a failure).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Packet, PublishPacket } from '../../codec/index.js';
import type { PacketHook } from '../fault-proxy.js';
import { MOSQUITTO_INSTALL_HINT, mosquittoBinary } from '../launchers/mosquitto.js';
import { launchDeliveryBroker, type DeliveryBroker } from './delivery-brokers.js';
import { runDelivery, type DeliveryOptions } from './delivery-run.js';

const MESSAGES = 4000;
/** Cuts every few hundred messages, so a short run sees many. */
const SHORT_FAULTS = { cutAfterBytes: { min: 200, max: 12_000 }, timedCutShare: 0, reconnectDelayMs: { min: 0, max: 30 } };

const seqOf = (p: PublishPacket): number => p.payload.readUInt32BE(4);

describe('reference broker', () => {
  let broker: DeliveryBroker;
  beforeAll(async () => { broker = await launchDeliveryBroker('reference'); });
  afterAll(async () => { await broker.close(); });
  const run = (o: Partial<DeliveryOptions> & Pick<DeliveryOptions, 'version' | 'qos'>) =>
    runDelivery({ broker: { name: 'reference', url: broker.url }, messages: MESSAGES, seed: 11, faults: SHORT_FAULTS, publishTimeoutMs: 25_000, drainTimeoutMs: 5000, drainIdleMs: 500, ...o });

  test.each([[5, 1], [5, 2], [4, 1], [4, 2]] as const)('MQTT %s QoS %s: nothing lost, QoS 2 exactly once, in order, under random cuts', async (version, qos) => {
    const r = await run({ version, qos });
    expect(r.findings).toEqual([]);
    expect(r.verdict).toBe('pass');
    expect(r.ledger).toMatchObject({ published: MESSAGES, acknowledged: MESSAGES, received: MESSAGES, lost: 0, orderViolations: 0 });
    if (qos === 2) expect(r.ledger.duplicates).toBe(0);
    expect(r.cuts, 'the run really was cut').toBeGreaterThanOrEqual(5);
    expect(r.reconnects).toBeGreaterThanOrEqual(5);
    expect(r.sessionsLost).toBe(0);
  }, 40_000);

  test('the checker reports a QoS 2 PUBLISH duplicated under a new Packet Identifier', async () => {
    const FAKE = 65_000;
    let done = false;
    const hook: PacketHook = (p, ctx) => {
      if (ctx.direction === 'toClient' && p.type === 'publish' && !done && seqOf(p) === 100) {
        done = true;
        return [p, { ...p, packetId: FAKE, dup: false }];
      }
      // The copy is the proxy's own: it completes its QoS 2 flow with the subscriber, the broker never hears of it.
      if (ctx.direction === 'toBroker' && (p.type === 'pubrec' || p.type === 'pubcomp') && p.packetId === FAKE) {
        if (p.type === 'pubrec') ctx.send('toClient', [{ type: 'pubrel', packetId: FAKE, reasonCode: 0 }]);
        return 'drop';
      }
    };
    const r = await run({ version: 5, qos: 2, messages: 500, faults: false, subscriberHook: hook });
    expect(r.verdict).toBe('finding');
    expect(r.ledger).toMatchObject({ duplicates: 1, duplicateExamples: [100], lost: 0 });
    // The copy carried DUP 0 and the publisher sent every message once: the DUP flag is reported too.
    expect(r.findings.map((f) => f.kind)).toEqual(['duplicated', 'dup-flag']);
    expect(r.findings[0]!.statements).toContain('MQTT-4.3.3-10');
  });

  test('the checker reports a PUBLISH dropped on the way to the subscriber with a faked PUBACK as lost', async () => {
    const hook: PacketHook = (p, ctx) => {
      if (ctx.direction === 'toClient' && p.type === 'publish' && seqOf(p) === 250) {
        ctx.send('toBroker', [{ type: 'puback', packetId: p.packetId!, reasonCode: 0 } satisfies Packet]);
        return 'drop';
      }
    };
    const r = await run({ version: 5, qos: 1, messages: 500, faults: false, subscriberHook: hook });
    expect(r.verdict).toBe('finding');
    expect(r.ledger).toMatchObject({ lost: 1, lostExamples: [250], acknowledged: 500 });
    expect(r.findings.map((f) => f.kind)).toEqual(['lost']);
  });

  test('the checker reports two swapped PUBLISHes as an order finding, apart from losses', async () => {
    let held: Packet | undefined;
    const hook: PacketHook = (p, ctx) => {
      if (ctx.direction !== 'toClient' || p.type !== 'publish') return;
      if (seqOf(p) === 300) { held = p; return 'drop'; }
      if (seqOf(p) === 301 && held) return [p, held];
    };
    const r = await run({ version: 4, qos: 1, messages: 500, faults: false, subscriberHook: hook });
    expect(r.ledger).toMatchObject({ lost: 0, orderViolations: 1, orderExamples: [{ seq: 300, after: 301 }] });
    expect(r.findings.map((f) => f.kind)).toEqual(['order']);
    expect(r.findings[0]!.statements).toEqual(['MQTT-4.6.0-6']);
  });
});

const haveMosquitto = existsSync(mosquittoBinary());
const requireExternal = process.env['REQUIRE_EXTERNAL'] === '1';
const skipMosquitto = !haveMosquitto && !requireExternal;
const mosquittoReason = `${mosquittoBinary()} not found: ${MOSQUITTO_INSTALL_HINT}`;

describe.each([
  { name: 'mosquitto' as const, version: 5 as const, skip: skipMosquitto },
  { name: 'aedes' as const, version: 4 as const, skip: false },
])('$name: a short run completes and reports', ({ name, version, skip }) => {
  test.skipIf(skip).each([1, 2] as const)(`QoS %s${skip ? ` (skipped: ${mosquittoReason})` : ''}`, async (qos) => {
    if (name === 'mosquitto' && !haveMosquitto) throw new Error(`${mosquittoReason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    const broker = await launchDeliveryBroker(name);
    try {
      const r = await runDelivery({
        broker: { name, url: broker.url }, version, qos, messages: 2000, seed: 5, faults: SHORT_FAULTS, publishTimeoutMs: 25_000, drainTimeoutMs: 5000,
      });
      expect(r.error).toBeUndefined();
      expect(r.ledger.published).toBe(2000);
      expect(r.cuts).toBeGreaterThan(0);
      expect(['pass', 'finding']).toContain(r.verdict);
    } finally {
      await broker.close();
    }
  }, 45_000);
});

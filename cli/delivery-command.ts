/**
 * `mqtt-testbed delivery` (npm run robustness:delivery): the delivery-guarantee
 * runs (harness/delivery/) against the reference broker, Mosquitto and Aedes,
 * for each protocol version a broker speaks and each QoS, one run at a time,
 * each with a fresh broker. Writes out/robustness/delivery-<time>.json and
 * prints a table and the findings.
 *
 * Exit 1 when the reference broker does not pass, or a run could not start;
 * findings of the other brokers are results, not errors. A missing Mosquitto
 * is skipped (REQUIRE_EXTERNAL=1 makes it a failure). 2 for bad options.
 */
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProtocolVersion } from '../codec/index.js';
import { DELIVERY_BROKER_VERSIONS, DELIVERY_BROKERS, launchDeliveryBroker, type DeliveryBroker } from '../harness/delivery/delivery-brokers.js';
import {
  deliveryFindings, deliveryTable, DELIVERY_SCHEMA, DELIVERY_VERSION, machineInfo, type DeliveryReport,
} from '../harness/delivery/delivery-report.js';
import { runDelivery, type DeliveryResult } from '../harness/delivery/delivery-run.js';
import { MosquittoNotInstalled } from '../harness/launchers/mosquitto.js';
import { writeFileAtomic } from '../results/io.js';
import { integerOption, listOption, parseCommandArgs, UsageError, type CliIo } from './io.js';

export const DELIVERY_USAGE = `mqtt-testbed delivery [options]   (npm run robustness:delivery -- [options])

  Delivery guarantees under random connection cuts: a publisher and a subscriber with
  persistent sessions, each behind a fault proxy that cuts or resets its connections at
  seeded random points; QoS 1 must lose nothing, QoS 2 deliver each message exactly once.

  --brokers LIST       ${DELIVERY_BROKERS.join(',')} (default all)
  --qos LIST           1,2 (default both)
  --versions LIST      5,3.1.1 (default both; Aedes speaks 3.1.1 only)
  --messages N         per run (default 100000)
  --seed N             (default 1; the same seed replays the same cut plans)
  --timeout S          bound per run, publish + drain (default 180)
  --window N           publisher messages in flight (default 50)
  --reference-in-process   run the reference broker in this process (default: its own process)
  --out DIR            (default out/robustness)
Exit 1 when the reference broker does not pass or a run could not start.`;

const OPTIONS = {
  brokers: { type: 'string' },
  qos: { type: 'string' },
  versions: { type: 'string' },
  messages: { type: 'string' },
  seed: { type: 'string' },
  timeout: { type: 'string' },
  window: { type: 'string' },
  'reference-in-process': { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function deliveryCommand(argv: string[], io: CliIo): Promise<number> {
  const f = parseCommandArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }).values;
  if (f.help) {
    io.stdout.write(`${DELIVERY_USAGE}\n`);
    return 0;
  }
  const brokers = listOption(f.brokers, '--brokers', DELIVERY_BROKERS);
  const qosList = listOption(f.qos, '--qos', ['1', '2'] as const).map(Number) as (1 | 2)[];
  const versions = listOption(f.versions, '--versions', ['5', '3.1.1'] as const).map((v): ProtocolVersion => (v === '5' ? 5 : 4));
  const messages = integerOption(f.messages, '--messages', 10, 10_000_000, 100_000);
  const seed = integerOption(f.seed, '--seed', 0, 2 ** 31 - 1, 1);
  const timeoutS = integerOption(f.timeout, '--timeout', 10, 3600, 180);
  const window = integerOption(f.window, '--window', 1, 65535, 50);
  const outDir = resolve(io.cwd, f.out ?? 'out/robustness');
  const requireExternal = process.env['REQUIRE_EXTERNAL'] === '1';
  const drainTimeoutMs = Math.min(30_000, Math.floor(timeoutS * 1000 / 6));
  const started = new Date();
  const report: DeliveryReport = {
    schema: DELIVERY_SCHEMA, version: DELIVERY_VERSION, startedAt: started.toISOString(),
    machine: { ...machineInfo(), loadavgEnd: [] }, brokers: [], runs: [], skipped: [],
  };
  let failed = false;
  for (const name of brokers) {
    for (const version of versions) {
      for (const qos of qosList) {
        const label = `${name} ${version === 5 ? '5.0' : '3.1.1'} QoS ${qos}`;
        if (!DELIVERY_BROKER_VERSIONS[name].includes(version)) {
          if (qos === qosList[0]) report.skipped.push({ broker: `${name} ${version === 5 ? '5.0' : '3.1.1'}`, reason: `${name} does not speak this protocol version` });
          continue;
        }
        let broker: DeliveryBroker;
        try {
          broker = await launchDeliveryBroker(name, { referenceInProcess: f['reference-in-process'] === true });
        } catch (e) {
          const missing = e instanceof MosquittoNotInstalled;
          report.skipped.push({ broker: label, reason: (e as Error).message });
          io.stderr.write(`${label}: ${missing ? 'skipped' : 'could not start'}: ${(e as Error).message}\n`);
          if (!missing || requireExternal) failed = true;
          continue;
        }
        try {
          if (!report.brokers.some((b) => b.name === name)) report.brokers.push({ name, version: broker.version, settings: broker.settings });
          io.stderr.write(`${label}: ${messages.toLocaleString('en-US')} messages, seed ${seed}, bound ${timeoutS} s\n`);
          const r: DeliveryResult = await runDelivery({
            broker: { name, url: broker.url }, version, qos, messages, seed, window,
            publishTimeoutMs: timeoutS * 1000 - drainTimeoutMs, drainTimeoutMs,
            onProgress: (p) => io.stderr.write(`  ${p.phase} ${(p.elapsedMs / 1000).toFixed(0)} s: published ${p.published}, acknowledged ${p.acknowledged}, received ${p.received}, cuts ${p.cuts}\n`),
            progressEveryMs: 10_000,
          });
          report.runs.push(r);
          io.stderr.write(`  ${r.verdict}: ${r.ledger.published} messages, ${r.cuts} cuts, lost ${r.ledger.lost}, duplicates ${r.ledger.duplicates}, ${(r.durationMs / 1000).toFixed(1)} s\n`);
          if (name === 'reference' && r.verdict !== 'pass') failed = true;
          if (r.error !== undefined) failed = true;
        } finally {
          await broker.close();
        }
      }
    }
  }
  report.machine.loadavgEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  const file = join(outDir, `delivery-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileAtomic(file, `${JSON.stringify(report, null, 2)}\n`);
  const findings = deliveryFindings(report.runs);
  io.stdout.write(`\n${deliveryTable(report.runs)}\n\n`);
  for (const b of report.brokers) io.stdout.write(`${b.name}: ${b.settings.join('; ')}\n`);
  if (findings.length) io.stdout.write(`\nfindings:\n${findings.map((x) => `  - ${x}`).join('\n')}\n`);
  for (const s of report.skipped) io.stdout.write(`skipped: ${s.broker}: ${s.reason}\n`);
  io.stdout.write(`\nresults: ${file}\n`);
  return failed ? 1 : 0;
}

/**
 * Synthetic results for tests and demos: a small conformance run (with
 * hostile strings where a broker under test could put them) and a
 * benchmark run shaped like the scenario runner's output. Everything here
 * validates against results/schema.json.
 */
import {
  RESULTS_SCHEMA, RESULTS_VERSION, type CoverageJson, type Percentiles, type ProtocolRun, type ResultsFile, type SelftestFaultResult,
  type SpecVersionName, type TestResult,
} from '../results/types.js';
import { coverage } from '../spec/catalogue.js';

const TOOL: ResultsFile['tool'] = { name: 'mqtt-testbed', version: '0.1.0', node: 'v20.0.0', platform: 'linux test', cpu: 'test cpu', cores: 2 };

export const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';

export function test(id: string, specVersion: SpecVersionName, statements: string[], status: TestResult['status'], extra: Partial<TestResult> = {}): TestResult {
  const [area, ...rest] = id.split('/');
  const title = rest.join('/');
  return { id: `${area}/[${specVersion}] ${title}`, area: area!, title, specVersion, statements, status, durationMs: 5, ...extra };
}

export function conformanceResults(target: string, tests: TestResult[], createdAt = '2026-01-01T00:00:00.000Z'): ResultsFile {
  const specVersions = (['3.1.1', '5.0'] as const).filter((v) => tests.some((t) => t.specVersion === v));
  const cov: Partial<Record<SpecVersionName, CoverageJson>> = {};
  for (const v of specVersions) {
    const ran = tests.filter((t) => t.specVersion === v && t.status !== 'skip').flatMap((t) => t.statements.map((id) => ({ id, version: v })));
    cov[v] = { ...coverage(ran, v), uncoveredReasons: {} };
  }
  const summary = { pass: 0, fail: 0, skip: 0, finding: 0 };
  for (const t of tests) summary[t.status]++;
  return {
    schema: RESULTS_SCHEMA, version: RESULTS_VERSION, kind: 'conformance', createdAt, tool: TOOL,
    target: { name: target, url: 'mqtt://127.0.0.1:1883', profile: { name: target, source: 'fixture' }, probed: {} },
    conformance: { specVersions: [...specVersions], tests, coverage: cov, summary },
  };
}

/** A small run: passes, a failure with a hostile trace, a finding, a skip, a statement-less check. */
export function sampleConformance(target = 'broker-a', overrides: Record<string, TestResult['status']> = {}): ResultsFile {
  const st = (id: string, s: TestResult['status']): TestResult['status'] => overrides[id] ?? s;
  const tests: TestResult[] = [
    test('connect/CONNACK is the first packet', '5.0', ['MQTT-3.2.0-1'], st('connect/CONNACK is the first packet', 'pass')),
    test('connect/zero-length client id with clean start 0 is refused', '3.1.1', ['MQTT-3.1.3-8'], st('connect/zero-length client id with clean start 0 is refused', 'fail'), {
      reason: `[MQTT-3.1.3-8] CONNACK 0x00 instead of 0x02 ${HOSTILE}\n  packet trace:\n    (text form)`,
      trace: [
        { t: 0.5, dir: 'event', conn: 'c', what: 'open', detail: 'mqtt://127.0.0.1:1883' },
        { t: 1.2, dir: 'out', conn: 'c', what: 'connect', packet: { type: 'connect', protocolVersion: 4, clean: false, keepAlive: 0, clientId: '' } },
        { t: 10.6, dir: 'in', conn: 'c', what: 'connack', packet: { type: 'connack', sessionPresent: false, reasonCode: 0 } },
        { t: 11.0, dir: 'in', conn: 'c', what: 'publish', packet: { type: 'publish', topic: `a/${HOSTILE}`, payload: { bytes: 12, hex: '3c7363726970743e', text: HOSTILE }, qos: 0, retain: false, dup: false } },
        { t: 12.0, dir: 'in', conn: 'c', what: 'raw', hex: '3c2f7363726970743e', detail: `undecodable: ${HOSTILE}` },
      ],
    }),
    test('publish/retained message replaced', '5.0', ['MQTT-3.3.1-5'], st('publish/retained message replaced', 'pass')),
    test('publish/QoS 2 delivered once', '5.0', ['MQTT-4.3.3-1', 'MQTT-3.3.1-5'], st('publish/QoS 2 delivered once', 'finding'), {
      reason: 'delivered twice within the session', trace: [{ t: 1, dir: 'event', conn: '-', what: 'finding', detail: 'duplicate delivery' }],
    }),
    test('auth/unsupported authentication method', '5.0', ['MQTT-4.12.0-1'], st('auth/unsupported authentication method', 'skip'), { reason: "profile says: no enhanced authentication" }),
    test('malformed/non-minimal remaining length', '3.1.1', [], st('malformed/non-minimal remaining length', 'pass')),
  ];
  return conformanceResults(target, tests);
}

/** A deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Percentiles of a long-tailed latency distribution with median `p50Us`. */
export function percentiles(p50Us: number, tail: number, count: number): Percentiles {
  const at = (p: number): number => p50Us * (1 + tail * (-Math.log10(1 - Math.min(p, 99.9999) / 100)) ** 2 * 0.35) * (p < 50 ? 0.6 + (0.4 * p) / 50 : 1);
  const ps = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];
  const distribution = ps.map((p) => [p, Math.round(at(p === 100 ? 99.999 : p))] as [number, number]);
  return { count, mean: Math.round(at(55)), p50: Math.round(at(50)), p90: Math.round(at(90)), p99: Math.round(at(99)), p999: Math.round(at(99.9)), max: Math.round(at(99.999)), distribution };
}

export interface BenchOptions {
  scenario?: string;
  deviceProfile?: string;
  /** Multiplies MQTT QoS 1 latency and divides its throughput (a seeded regression). */
  slowdown?: number;
  /** Relative run-to-run noise (uniform ± this fraction). */
  noise?: number;
  seed?: number;
  createdAt?: string;
}

function run(protocol: ProtocolRun['protocol'], variant: string, settings: Record<string, unknown>, offered: number, achievedFrac: number, p50: number, tail: number, b: { setup: number; headers: number; acks: number; payload: number }): ProtocolRun {
  const sent = Math.round(offered * 30);
  const received = Math.round(sent * achievedFrac);
  const perMessage = b.headers + b.acks + b.payload;
  const lat = percentiles(p50, tail, received);
  return {
    protocol, variant, settings, offeredRate: offered, achievedRate: Math.round(offered * achievedFrac * 10) / 10, durationS: 30,
    messages: { intended: sent, sent, received, lost: sent - received, errors: 0, timeouts: 0 },
    latencyUs: { corrected: lat, uncorrected: percentiles(p50 * 0.9, tail * 0.6, received) },
    bytes: { app: { setup: b.setup, perMessage, payloadPerMessage: b.payload, headersPerMessage: b.headers, acksPerMessage: b.acks, total: b.setup + perMessage * sent } },
    cpu: { serverMs: 1200, clientMs: 900 }, memory: { serverPeakKiB: 52_000, clientPeakKiB: 31_000 },
  };
}

/** Telemetry-like scenario: MQTT QoS 0/1, HTTP keep-alive, CoAP CON. */
export function sampleBenchmark(o: BenchOptions = {}): ResultsFile {
  const r = rng(o.seed ?? 1);
  const n = (): number => 1 + (r() * 2 - 1) * (o.noise ?? 0);
  const slow = o.slowdown ?? 1;
  const runs: ProtocolRun[] = [
    run('mqtt', 'MQTT QoS 0 over TCP', { qos: 0, transport: 'tcp', tcpNoDelay: true }, 1000, 1 * Math.min(1, n()), 850 * n(), 1.2, { setup: 120, headers: 31, acks: 0, payload: 64 }),
    run('mqtt', 'MQTT QoS 1 over TCP', { qos: 1, transport: 'tcp', tcpNoDelay: true }, 1000, Math.min(1, n()) / slow, 1400 * n() * slow, 1.5, { setup: 120, headers: 33, acks: 4, payload: 64 }),
    run('http', 'HTTP/1.1 keep-alive POST', { keepAlive: true, client: 'undici' }, 1000, 0.97 * Math.min(1, n()), 2600 * n(), 2.4, { setup: 0, headers: 212, acks: 118, payload: 64 }),
    run('coap', 'CoAP CON', { confirmable: true }, 1000, 0.99 * Math.min(1, n()), 1100 * n(), 1.8, { setup: 0, headers: 22, acks: 4, payload: 64 }),
  ];
  runs[2]!.notes = ['3 requests timed out after 5 s'];
  runs[2]!.messages.timeouts = 3;
  runs[3]!.saturation = { steps: [{ offered: 500, achieved: 500, p99Us: 2100, errors: 0 }, { offered: 2000, achieved: 1980, p99Us: 4000, errors: 0 }, { offered: 4000, achieved: 2900, p99Us: 45_000, errors: 12 }], saturationRate: 2900 };
  return {
    schema: RESULTS_SCHEMA, version: RESULTS_VERSION, kind: 'benchmark', createdAt: o.createdAt ?? '2026-01-01T00:00:00.000Z', tool: TOOL,
    target: { name: 'reference', url: 'mqtt://127.0.0.1:1883', profile: { name: 'reference', source: 'fixture' }, probed: {} },
    benchmark: {
      scenario: o.scenario ?? 'telemetry',
      workload: { devices: 10, messagesPerSecondPerDevice: 100, payloadBytes: 64, durationS: 30 },
      deviceProfile: { name: o.deviceProfile ?? 'pi-class', cpus: 0.5, memoryMiB: 256, link: { delayMs: 20, jitterMs: 5, loss: 0.001, rateKbit: 2000 } },
      runs,
      claims: [
        { claim: 'MQTT uses fewer bytes per message than HTTP', measured: `${runs[1]!.bytes.app.perMessage} B vs ${runs[2]!.bytes.app.perMessage} B`, verdict: 'holds' },
        { claim: 'CoAP has lower p99 latency than MQTT QoS 1', measured: `${runs[3]!.latencyUs.corrected.p99} µs vs ${runs[1]!.latencyUs.corrected.p99} µs`, verdict: runs[3]!.latencyUs.corrected.p99 < runs[1]!.latencyUs.corrected.p99 ? 'holds' : 'does not hold' },
        { claim: 'HTTP keeps up with 1000 msg/s on this device', measured: `${runs[2]!.achievedRate} msg/s achieved of 1000 offered`, verdict: 'does not hold' },
        { claim: 'MQTT survives 10 % packet loss', measured: 'not run on this profile', verdict: 'not measured' },
      ],
    },
    manifest: { seed: o.seed ?? 1, repeats: 1, clientLibraries: { mqtt: 'mqtt 5.x', http: 'undici 7.x', coap: 'coap 1.x' }, note: HOSTILE },
  };
}

/**
 * A suite self-check: 3 faults, 2 caught (one by many tests), 1 missed, and a
 * correct broker with one flaky test; a hostile string where a test reason goes.
 */
export function sampleSelftest(o: { baselineFailures?: number } = {}): ResultsFile {
  const fault = (name: string, verdict: SelftestFaultResult['verdict'], caughtBy: number, extra: Partial<SelftestFaultResult> = {}): SelftestFaultResult => ({
    name, description: `${name} (description)`, statements: { '3.1.1': ['MQTT-3.3.1-5'], '5.0': ['MQTT-3.3.1-5'] }, verdict, caughtBy,
    tests: Array.from({ length: Math.min(caughtBy, 5) }, (_, i) => ({ id: `retained/[5.0] test ${i + 1}`, statements: ['MQTT-3.3.1-5'], reason: i === 0 ? `[MQTT-3.3.1-5] got nothing ${HOSTILE}` : 'timed out' })),
    files: ['suites'], summary: { pass: 500 - caughtBy, fail: caughtBy, skip: 13, finding: 0 }, durationMs: 18_000, resultsFile: `out/selftest/fault-${name}.json`, ...extra,
  });
  const failures = Array.from({ length: o.baselineFailures ?? 0 }, (_, i) => ({ id: `keep-alive/[3.1.1] failure ${i + 1}`, statements: ['MQTT-3.1.2-24'], reason: 'closed after 6 s' }));
  const faults = [
    fault('retain-not-stored', 'caught', 12, { naming: 7 }),
    fault('qos2-duplicate', 'caught', 2, { note: 'confirmed: both tests failed again when their files were re-run' }),
    fault('acl-publish-ignored', 'missed', 0, { statements: {}, section: '5.4.2', tests: [] }),
  ];
  return {
    schema: RESULTS_SCHEMA, version: RESULTS_VERSION, kind: 'selftest', createdAt: '2026-01-01T00:00:00.000Z', tool: TOOL,
    target: { name: 'reference', url: 'mqtt://127.0.0.1:0', profile: { name: 'reference', source: 'launched: reference' }, probed: {} },
    selftest: {
      mode: 'full', files: ['suites'], score: { caught: faults.filter((f) => f.verdict === 'caught').length, faults: faults.length },
      baseline: {
        target: 'reference', verdict: failures.length > 0 ? 'fail' : 'pass', summary: { pass: 508, fail: failures.length, skip: 13, finding: 0 },
        failures, flaky: [{ id: 'ordering/[3.1.1] QoS 2 messages arrive in order', statements: ['MQTT-4.6.0-5'], reason: 'timed out' }],
        durationMs: 17_500, resultsFile: 'out/selftest/reference.json',
      },
      faults,
      durationMs: 75_000,
    },
  };
}

/**
 * Results JSON, schema version 1: one format written by the conformance
 * suites and the scenario runner, read by reports and the gate. Changing a
 * field's meaning means a new version number.
 */

export const RESULTS_SCHEMA = 'mqtt-testbed/results';
export const RESULTS_VERSION = 1;

export type SpecVersionName = '3.1.1' | '5.0';

export type TestStatus = 'pass' | 'fail' | 'skip' | 'finding';

export interface ToolInfo {
  name: 'mqtt-testbed';
  version: string;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
}

export interface TargetInfo {
  /** Display name (profile name or the URL's host). */
  name: string;
  /** Broker URL without credentials. */
  url: string;
  /** Name of the profile used, and where it came from. */
  profile: { name: string; source: string };
  /** Capabilities the profile left out, filled by probing the broker; each with how it was found. */
  probed: Record<string, { value: unknown; how: string }>;
}

export interface TraceEntryJson {
  t: number;
  dir: 'out' | 'in' | 'event';
  conn: string;
  what: string;
  packet?: unknown;
  hex?: string;
  detail?: string;
}

export interface TestResult {
  /** Stable id: `<area>/<title>`. */
  id: string;
  /** Spec area (the suite file), e.g. 'connect', 'retained'. */
  area: string;
  title: string;
  /** Spec version the test ran with. */
  specVersion: SpecVersionName;
  /** Normative statements the test checks, e.g. ['MQTT-3.3.1-5']. */
  statements: string[];
  status: TestStatus;
  /** Why it failed, was skipped, or what was found. */
  reason?: string;
  /** Packet trace of the test's clients (kept for fail and finding; optional otherwise). */
  trace?: TraceEntryJson[];
  durationMs: number;
  /** Property tests: seed and shrunk counterexample to replay. */
  seed?: number;
  counterexample?: string;
}

export interface CoverageBucket {
  /** Client-observable statements that bind the server. */
  observableServerStatements: number;
  covered: number;
  coveredIds: readonly string[];
  uncovered: readonly string[];
}

export interface CoverageJson {
  overall: CoverageBucket;
  sections: Readonly<Record<string, CoverageBucket>>;
  /** Statement ids tests named that the catalogue does not know (a bug in a test). */
  unknown: readonly string[];
  /** Statements tests named that a client-side test cannot observe (not counted). */
  notObservable: readonly string[];
  /** Why each statement no test covers is not covered (suites/uncovered.json), where known. */
  uncoveredReasons?: Readonly<Record<string, string>>;
}

export interface ConformanceResults {
  specVersions: SpecVersionName[];
  tests: TestResult[];
  /** Per spec version: overall and per section. */
  /** Statements with at least one test that ran (not skipped), per spec version. */
  coverage: Partial<Record<SpecVersionName, CoverageJson>>;
  summary: Record<TestStatus, number>;
}

/** Latency summary in microseconds. */
export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** [percentile, value µs] points for percentile curves (HdrHistogram style), ascending. */
  distribution: Array<[percentile: number, valueUs: number]>;
}

/** Bytes on the wire, per message where it says so. */
export interface ByteSplit {
  /** Connection set-up (TCP/TLS/CONNECT handshakes, HTTP connection opening), all devices. */
  setup: number;
  /** Steady state per message, everything (headers, acks, keep-alives amortised, payload). */
  perMessage: number;
  /** Of perMessage: the application payload. */
  payloadPerMessage: number;
  /** Of perMessage: protocol headers of the message itself (request/response or PUBLISH framing). */
  headersPerMessage: number;
  /** Of perMessage: acknowledgements and responses that carry no payload (PUBACK, CoAP ACK, HTTP 204). */
  acksPerMessage: number;
  /** Everything counted in the measured window. */
  total: number;
  /** IP layer only: packets in the window. */
  packets?: number;
}

export interface ProtocolRun {
  protocol: 'mqtt' | 'http' | 'coap';
  /** Human label, e.g. 'MQTT QoS 1 over TCP', 'HTTP/1.1 new connection per request', 'CoAP CON'. */
  variant: string;
  /** Everything about the variant that changes numbers (QoS, transport, TLS, TCP_NODELAY, keep-alive, client library). */
  settings: Record<string, unknown>;
  offeredRate: number;
  achievedRate: number;
  durationS: number;
  messages: { intended: number; sent: number; received: number; lost: number; errors: number; timeouts: number };
  /** From the intended send time (corrected for coordinated omission) and from the actual send. */
  latencyUs: { corrected: Percentiles; uncorrected: Percentiles };
  /** Application layer (byte-counting sockets) and, when the run used network namespaces, IP layer (interface counters). */
  bytes: { app: ByteSplit; ip?: ByteSplit };
  cpu: { serverMs: number; clientMs: number };
  memory: { serverPeakKiB: number; clientPeakKiB: number };
  /** Saturation search: offered vs achieved per step. */
  saturation?: {
    steps: Array<{ offered: number; achieved: number; p99Us: number; errors: number }>;
    saturationRate: number;
    /** Why the search stopped (e.g. 'achieved 81% of offered at 3200/s', 'step limit'). */
    stoppedBecause?: string;
    /** HTTP only: closed-loop throughput from autocannon (its latencies are whole milliseconds and are not used). */
    autocannon?: { requestsPerS: number; connections: number; durationS: number; errors: number; timeouts: number; non2xx: number; version: string };
  };
  /** The sending side's schedule error (actual − intended send time), µs: how late the load generator itself was. */
  scheduleErrorUs?: Percentiles;
  /** retained-state: what a late subscriber needed to catch up with every config and latest state. */
  catchUp?: { items: number; got: number; ms: number; bytes: number };
  /** Problems seen during the run (never hidden): timeouts, refused connections, lost messages. */
  notes?: string[];
}

/** A published claim checked against what was measured. */
export interface ClaimCheck {
  claim: string;
  measured: string;
  verdict: 'holds' | 'does not hold' | 'not measured';
}

/** Written by scenarios/ (the scenario runner). */
export interface BenchmarkResults {
  /** Workload name, e.g. 'telemetry'. */
  scenario: string;
  /** Resolved workload parameters (after CLI overrides). */
  workload: Record<string, unknown>;
  /** Device profile with what was measured of it (CPU cap, memory cap, link delay/jitter/loss/rate) and how it was shaped. */
  deviceProfile: { name: string; [key: string]: unknown };
  runs: ProtocolRun[];
  claims: ClaimCheck[];
}

/** A test named in a self-check: which one, what it checks, why it failed (first line). */
export interface SelftestTestRef {
  id: string;
  statements: string[];
  reason?: string;
}

/** The suites' run against the correct broker: it must have no failures. */
export interface SelftestBaseline {
  /** Target name of the run, e.g. 'reference'. */
  target: string;
  /** pass: no failure (after the retry); fail: tests failed twice; error: the run crashed or timed out. */
  verdict: 'pass' | 'fail' | 'error';
  summary?: Record<TestStatus, number>;
  /** Tests that failed, and failed again when their file was re-run. */
  failures: SelftestTestRef[];
  /** Tests that failed once and passed when their file was re-run (timing on a loaded machine): not counted. */
  flaky: SelftestTestRef[];
  durationMs: number;
  resultsFile?: string;
  /** Why the verdict is 'error', or other remarks. */
  note?: string;
}

/** The suites' run against the broker with one fault on. */
export interface SelftestFaultResult {
  /** Fault name (reference-broker/core/faults.ts), e.g. 'qos2-duplicate'. */
  name: string;
  description: string;
  /** Statements the fault breaks, per spec version. */
  statements: Partial<Record<SpecVersionName, string[]>>;
  /** Spec section for faults no numbered statement covers. */
  section?: string;
  /** caught: some test failed against it; missed: no test failed; error: the run crashed or timed out (no verdict). */
  verdict: 'caught' | 'missed' | 'error';
  /** How many tests failed against it. */
  caughtBy: number;
  /** Of those, how many name a statement the fault breaks (caught for the reason the spec gives). */
  naming?: number;
  /** The first few of those tests. */
  tests: SelftestTestRef[];
  /** Suite files run against it (paths relative to the project). */
  files: string[];
  summary?: Record<TestStatus, number>;
  durationMs: number;
  resultsFile?: string;
  note?: string;
}

/** Written by `mqtt-testbed selftest`: the suites against deliberately faulty brokers. */
export interface SelftestResults {
  /** full: every suite file against every fault; quick: per fault, only the files whose tests name its statements. */
  mode: 'full' | 'quick';
  /** The suite files (or folders) given to vitest. */
  files: string[];
  score: { caught: number; faults: number };
  baseline: SelftestBaseline;
  faults: SelftestFaultResult[];
  durationMs: number;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  version: typeof RESULTS_VERSION;
  /** 'selftest' was added to version 1 later: files of the other kinds are unchanged. */
  kind: 'conformance' | 'benchmark' | 'selftest';
  createdAt: string;
  tool: ToolInfo;
  target?: TargetInfo;
  conformance?: ConformanceResults;
  benchmark?: BenchmarkResults;
  selftest?: SelftestResults;
  /** Everything that could change the numbers: seeds, settings, versions. */
  manifest?: Record<string, unknown>;
}

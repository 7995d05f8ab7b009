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

/** Benchmarks (written by scenarios/, issue 6): kept open here, validated loosely. */
export interface BenchmarkResults {
  scenario: string;
  [key: string]: unknown;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  version: typeof RESULTS_VERSION;
  kind: 'conformance' | 'benchmark';
  createdAt: string;
  tool: ToolInfo;
  target?: TargetInfo;
  conformance?: ConformanceResults;
  benchmark?: BenchmarkResults;
  /** Everything that could change the numbers: seeds, settings, versions. */
  manifest?: Record<string, unknown>;
}

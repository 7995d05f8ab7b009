/**
 * Sessions and delivery guarantees, model-based (3.1.1 and 5.0 §3.1.2.4,
 * §3.2.2, §3.3.1.3, §3.8.4, §3.10.4, §4.1, §4.3-§4.6). fast-check generates
 * command sequences for one subscriber S (connect with Clean Session /
 * Clean Start 0 or 1 and 5.0 Session Expiry 0 or 300, abrupt or normal
 * disconnect, takeover reconnect, subscribe at QoS 0/1/2, unsubscribe, stop
 * acknowledging) and one always-connected publisher P (publish at QoS 0/1/2,
 * retained or not, or 2-4 messages back to back) over two topics, one of them
 * matched through '+'. suites/support/model-helpers.ts models what the spec
 * guarantees and checks every packet S receives against it; its header lists
 * exactly what the broker is held to.
 *
 * Runs: FC_RUNS (default 30 per version; the file takes well under 20 s
 * against the reference broker), MQTT_TESTBED_DEEP=1 (or MQTT_TESTBED_ARGS
 * containing --deep) for long runs. A failure prints the shrunk command
 * sequence and the line that replays it (FC_SEED, FC_PATH, FC_REPLAY_PATH);
 * the seed and the counterexample also go into the results meta.
 */
import fc from 'fast-check';
import { envInt } from '../codec/arbitraries.js';
import type { ProtocolVersion } from '../codec/index.js';
import { Recorder } from '../harness/recorder.js';
import { conformance } from './support/conformance.js';
import { StatementFailure, type ConformanceContext } from './support/context.js';
import { FILTER_NAMES, Publisher, TOPIC_NAMES, World, type ModelState, type Q } from './support/model-helpers.js';

const DEEP = process.env['MQTT_TESTBED_DEEP'] === '1' || (process.env['MQTT_TESTBED_ARGS'] ?? '').split(/\s+/).includes('--deep');


const CONFIG = {
  runs: envInt('FC_RUNS') ?? (DEEP ? 400 : 30),
  maxCommands: DEEP ? 80 : 30,
  /** Whole property, shrinking included; a failure found is still reported when the budget ends. */
  budgetMs: DEEP ? 30 * 60_000 : 12_000,
  /** Silence at the end of each run for late, unexpected packets. */
  settleMs: DEEP ? 200 : 60,
  seed: envInt('FC_SEED') ?? ((Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0),
  path: envInt('FC_SEED') !== undefined && process.env['FC_PATH'] ? process.env['FC_PATH'] : undefined,
  /** fast-check's commands replay path (which generated commands ran), needed with FC_PATH to replay a command sequence. */
  replayPath: envInt('FC_SEED') !== undefined && process.env['FC_REPLAY_PATH'] ? process.env['FC_REPLAY_PATH'] : undefined,
};

type Cmd = fc.AsyncCommand<ModelState, World>;

const qosName = (q: Q): string => `QoS ${q}`;

class Connect implements Cmd {
  constructor(readonly v: ProtocolVersion, readonly clean: boolean, readonly expiry: number) {}
  check(m: Readonly<ModelState>): boolean { return !m.connected; }
  async run(_m: ModelState, w: World): Promise<void> {
    await w.connect(this.clean, this.expiry);
    await w.settle();
  }
  toString(): string {
    return this.v === 5 ? `S connect(cleanStart=${this.clean ? 1 : 0}, sessionExpiry=${this.expiry})` : `S connect(cleanSession=${this.clean ? 1 : 0})`;
  }
}

class Reconnect implements Cmd {
  constructor(readonly v: ProtocolVersion, readonly clean: boolean, readonly expiry: number) {}
  check(m: Readonly<ModelState>): boolean { return m.connected; }
  async run(_m: ModelState, w: World): Promise<void> {
    await w.reconnect(this.clean, this.expiry);
    await w.settle();
  }
  toString(): string {
    return `S reconnect over its open connection (takeover) ${this.v === 5 ? `(cleanStart=${this.clean ? 1 : 0}, sessionExpiry=${this.expiry})` : `(cleanSession=${this.clean ? 1 : 0})`}`;
  }
}

class Disconnect implements Cmd {
  constructor(readonly abrupt: boolean) {}
  check(m: Readonly<ModelState>): boolean { return m.connected; }
  async run(_m: ModelState, w: World): Promise<void> {
    await w.disconnect(this.abrupt);
    await w.settle();
  }
  toString(): string { return this.abrupt ? 'S drops its connection (no DISCONNECT)' : 'S sends DISCONNECT'; }
}

class Subscribe implements Cmd {
  constructor(readonly f: number, readonly qos: Q) {}
  check(m: Readonly<ModelState>): boolean { return m.connected; }
  async run(_m: ModelState, w: World): Promise<void> {
    await w.subscribe(this.f, this.qos);
    await w.settle();
  }
  toString(): string { return `S subscribe(${FILTER_NAMES[this.f]}, ${qosName(this.qos)})`; }
}

class Unsubscribe implements Cmd {
  constructor(readonly f: number) {}
  check(m: Readonly<ModelState>): boolean { return m.connected; }
  async run(_m: ModelState, w: World): Promise<void> {
    await w.unsubscribe(this.f);
    await w.settle();
  }
  toString(): string { return `S unsubscribe(${FILTER_NAMES[this.f]})`; }
}

class Withhold implements Cmd {
  check(m: Readonly<ModelState>): boolean { return m.connected && !m.withholding; }
  async run(_m: ModelState, w: World): Promise<void> {
    w.withhold();
    await w.settle();
  }
  toString(): string { return 'S stops acknowledging on this connection'; }
}

class Publish implements Cmd {
  constructor(readonly topic: number, readonly qos: Q, readonly retain: boolean) {}
  check(): boolean { return true; }
  async run(_m: ModelState, w: World): Promise<void> {
    await w.publish(this.topic, this.qos, this.retain);
    await w.settle();
  }
  toString(): string { return `P publish(${TOPIC_NAMES[this.topic]}, ${qosName(this.qos)}${this.retain ? ', retained' : ''})`; }
}

/** (clean, session expiry): sessions that are kept are the interesting ones, so twice as likely. */
class PublishBurst implements Cmd {
  constructor(readonly topic: number, readonly qos: Q, readonly count: number) {}
  check(): boolean { return true; }
  async run(_m: ModelState, w: World): Promise<void> {
    await w.publishBurst(this.topic, this.qos, false, this.count);
    await w.settle();
  }
  toString(): string { return `P publish ${this.count} back to back (${TOPIC_NAMES[this.topic]}, ${qosName(this.qos)})`; }
}

function sessionArb(v: ProtocolVersion): fc.Arbitrary<[boolean, number]> {
  const clean = fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 2, arbitrary: fc.constant(false) });
  const expiry = v === 5 ? fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(300) }) : fc.constant(0);
  return fc.tuple(clean, expiry);
}

const qosArb = fc.constantFrom<Q>(0, 1, 2);
const indexArb = fc.integer({ min: 0, max: TOPIC_NAMES.length - 1 });

/** Every run starts with S connecting and subscribing (how is generated): runs without them test little. */
function prefix(v: ProtocolVersion): fc.Arbitrary<[Connect, Subscribe]> {
  return fc.tuple(
    sessionArb(v).map(([clean, expiry]) => new Connect(v, clean, expiry)),
    fc.tuple(indexArb, qosArb).map(([f, q]) => new Subscribe(f, q)),
  );
}

/** The commands, weighted: publishing and subscribing exercise the guarantees; session changes make them interesting. */
function commandArb(v: ProtocolVersion): fc.Arbitrary<Cmd> {
  const qos = qosArb;
  const index = indexArb;
  const w = <T extends Cmd>(weight: number, arbitrary: fc.Arbitrary<T>): fc.WeightedArbitrary<Cmd> => ({ weight, arbitrary });
  return fc.oneof(
    w(3, sessionArb(v).map(([clean, expiry]) => new Connect(v, clean, expiry))),
    w(2, sessionArb(v).map(([clean, expiry]) => new Reconnect(v, clean, expiry))),
    w(2, fc.boolean().map((abrupt) => new Disconnect(abrupt))),
    w(4, fc.tuple(index, qos).map(([f, q]) => new Subscribe(f, q))),
    w(1, index.map((f) => new Unsubscribe(f))),
    w(2, fc.constant(new Withhold())), // makes re-delivery on resume (MQTT-4.4.0-1) likely
    w(6, fc.tuple(index, qos).map(([t, q]) => new Publish(t, q, false))),
    w(2, fc.tuple(index, qos).map(([t, q]) => new Publish(t, q, true))),
    w(2, fc.tuple(index, qos, fc.integer({ min: 2, max: 4 })).map(([t, q, n]) => new PublishBurst(t, q, n))),
  );
}

const V4 = [
  'MQTT-3.1.2-4', 'MQTT-3.1.2-5', 'MQTT-3.1.2-6', 'MQTT-3.1.4-2', 'MQTT-3.2.2-1', 'MQTT-3.2.2-2', 'MQTT-3.2.2-3',
  'MQTT-3.3.1-1', 'MQTT-3.3.1-5', 'MQTT-3.3.1-6', 'MQTT-3.3.1-7', 'MQTT-3.3.1-8', 'MQTT-3.3.1-9',
  'MQTT-3.8.4-1', 'MQTT-3.8.4-6', 'MQTT-3.10.4-2', 'MQTT-3.10.4-4', 'MQTT-2.3.1-4',
  'MQTT-4.3.2-2', 'MQTT-4.3.3-1', 'MQTT-4.3.3-2', 'MQTT-4.4.0-1', 'MQTT-4.5.0-1', 'MQTT-4.6.0-5', 'MQTT-4.6.0-6',
  'MQTT-3.2.0-1', 'MQTT-4.7.3-4',
];
const V5 = [
  'MQTT-3.1.2-4', 'MQTT-3.1.2-5', 'MQTT-3.1.2-6', 'MQTT-3.1.2-23', 'MQTT-3.1.4-3', 'MQTT-3.2.2-2', 'MQTT-3.2.2-3',
  'MQTT-3.3.1-1', 'MQTT-3.3.1-5', 'MQTT-3.3.1-9', 'MQTT-3.3.1-12',
  'MQTT-3.8.4-1', 'MQTT-3.8.4-8', 'MQTT-3.10.4-2', 'MQTT-3.10.4-4', 'MQTT-2.2.1-4',
  'MQTT-4.3.2-4', 'MQTT-4.3.3-6', 'MQTT-4.3.3-8', 'MQTT-4.3.3-11', 'MQTT-4.4.0-1', 'MQTT-4.5.0-1', 'MQTT-4.6.0-5', 'MQTT-4.6.0-6',
  'MQTT-3.1.4-5', 'MQTT-4.7.3-4',
];

type Scenario = [[Connect, Subscribe], Iterable<Cmd>];

/** One run of a scenario against the broker, recording into `recorder`. */
async function runOnce(t: ConformanceContext, publisher: Publisher, run: number, [[connect, subscribe], cmds]: Scenario, recorder: Recorder): Promise<void> {
  const w = new World({
    target: t.target, version: t.version, recorder, publisher,
    base: t.topic(`m${run}`), clientId: t.clientId(`m${run}`),
    timeoutMs: t.timeoutMs, dueMs: Math.max(500, Math.round(t.timeoutMs / 3)), settleMs: CONFIG.settleMs,
  });
  try {
    await fc.asyncModelRun(() => ({ model: w.model, real: w }), [connect, subscribe, ...cmds]);
    await w.finish();
  } finally {
    await w.cleanup();
  }
}

/** fast-check prints a commands value as the commands that ran, comma-separated, then a replay comment. */
function replayPathOf([, cmds]: Scenario): string | undefined {
  return /\/\*replayPath="([^"]*)"\*\//.exec(String(cmds))?.[1];
}

function describeScenario([[connect, subscribe], cmds]: Scenario): string[] {
  const rest = String(cmds).replace(/\s*\/\*.*\*\/\s*$/, '');
  return [String(connect), String(subscribe), ...rest.split(/,(?=S |P )/).map((s) => s.trim()).filter(Boolean)];
}

conformance('session model: generated connect / subscribe / publish / disconnect sequences keep the session and delivery guarantees', {
  v4: V4, v5: V5, requires: ['persistentSessions', 'qos2', 'retain'], timeoutMs: CONFIG.budgetMs + 20_000,
}, async (t) => {
  t.seed(CONFIG.seed);
  let run = 0;
  const publisher = await Publisher.open(t.target, t.version, t.clientId('mpub'), t.recorder, t.timeoutMs);
  t.onCleanup(() => publisher.close());
  const scenario = fc.tuple(prefix(t.version), fc.commands([commandArb(t.version)], { maxCommands: CONFIG.maxCommands, size: 'max', ...(CONFIG.replayPath ? { replayPath: CONFIG.replayPath } : {}) }));
  const property = fc.asyncProperty(scenario, async (s) => {
    run++;
    await runOnce(t, publisher, run, s, new Recorder());
  });
  const details = await fc.check(property, {
    seed: CONFIG.seed, numRuns: CONFIG.runs, ...(CONFIG.path ? { path: CONFIG.path } : {}),
    plugins: [fc.interruptAfterTimeLimit(CONFIG.budgetMs)],
  });
  t.recorder.event('-', 'runs', `${details.numRuns} runs, ${details.numShrinks} shrinks${details.interrupted ? ', stopped by the time budget' : ''}`);
  if (!details.failed) return;

  const cex = (details.counterexample as [Scenario] | null)?.[0];
  const steps = cex ? describeScenario(cex) : [];
  const listing = steps.map((s, i) => `    ${i + 1}. ${s}`).join('\n');
  const replayPath = cex ? replayPathOf(cex) : undefined;
  const deep = DEEP ? 'MQTT_TESTBED_DEEP=1 ' : '';
  const replay = `${deep}FC_SEED=${CONFIG.seed} FC_PATH=${details.counterexamplePath ?? ''}${replayPath ? ` FC_REPLAY_PATH='${replayPath}'` : ''} npx vitest run suites/session-model.property.test.ts -t '${t.specVersion}'`;
  t.counterexample(`${steps.join('; ')}  [replay: ${replay}]`);

  // Run the shrunk sequence once more with the test's recorder, so the trace is that sequence's.
  const original = details.errorInstance;
  let again: unknown;
  if (cex) {
    try {
      await runOnce(t, publisher, ++run, cex, t.recorder);
    } catch (e) {
      again = e;
    }
  }
  const failure = again ?? original;
  const statement = failure instanceof StatementFailure ? failure.statement : undefined;
  const message = failure instanceof Error ? failure.message.replace(/^\[[^\]]+\] /, '') : String(failure);
  t.fail(statement, `${message}\n  counterexample (after ${details.numShrinks} shrinks${again ? '' : '; it did not fail again on replay: timing-dependent, the trace is of the passing replay'}):\n${listing}\n  seed ${CONFIG.seed}, path ${details.counterexamplePath ?? '?'}; replay (same broker and profile): ${replay}`);
});

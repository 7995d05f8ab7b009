/**
 * Topic matching as a property (3.1.1 / 5.0 §4.7): for random topic trees
 * (levels from a small alphabet with empty levels, `$` levels, and a `$`
 * first level when the broker lets clients use one) and random valid filters
 * (`+`, `#` anywhere it is allowed, including `#` alone and filters that
 * start with a wildcard), several clients subscribe, every topic is
 * published once, and what each client receives must be what codec's
 * `topicMatches` predicts: every matching topic, no other, and no more
 * copies than the client has matching subscriptions. A topic at the parent
 * level of every `#` filter (inside the run's own subtree) is published too,
 * so that "`sport/#` also matches `sport`" is checked in most runs rather
 * than when a generated topic happens to be a parent (the suite self-check's
 * hash-no-parent fault went unnoticed by this test in about half the runs).
 *
 * FC_RUNS sets the number of runs (default 10), FC_SEED (+ FC_PATH) replays
 * one. The seed is in the test's results meta; a failure prints the seed,
 * the path and the shrunk scenario, with the concrete filters and topics.
 */
import fc from 'fast-check';
import { fcParameters } from '../codec/arbitraries.js';
import { topicMatches, type PublishPacket } from '../codec/index.js';
import type { RawClient } from '../harness/raw-client.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import { StatementFailure } from './support/context.js';
import { dollarTopic, publish, SILENCE_MS, subscribe, sv, unsubscribe } from './support/publish-helpers.js';

/** A level of a generated topic below the test's own levels: a small alphabet with an empty level and a `$` level. */
const LEVEL = fc.constantFrom('a', 'b', '', '$');

/** Topic: which root (0 = the profile's, 1 = a `$` root) and the levels below this run's levels. */
interface TopicSpec { root: 0 | 1; tail: string[] }
/**
 * Filter: first level (a root, '+'), then 'L' (this test's literal level) or '+' for each fixed
 * level, then tail levels (alphabet or '+'); `cut` replaces everything from that index on by '#'.
 */
interface FilterSpec { first: 'R0' | 'R1' | '+'; fixed: ('L' | '+')[]; tail: string[]; cut: number | null }
interface Scenario { topics: TopicSpec[]; clients: FilterSpec[][] }

const FIXED_LEVELS = 3; // <id>/pm/<run>

function scenario(dollar: boolean): fc.Arbitrary<Scenario> {
  const topic = fc.record({ root: dollar ? fc.constantFrom<0 | 1>(0, 0, 1) : fc.constant<0 | 1>(0), tail: fc.array(LEVEL, { maxLength: 3 }) });
  const filter = fc.record({
    first: dollar ? fc.constantFrom<'R0' | 'R1' | '+'>('R0', 'R0', 'R1', '+') : fc.constantFrom<'R0' | 'R1' | '+'>('R0', 'R0', '+'),
    fixed: fc.array(fc.constantFrom<'L' | '+'>('L', 'L', 'L', '+'), { minLength: FIXED_LEVELS, maxLength: FIXED_LEVELS }),
    tail: fc.array(fc.oneof(LEVEL, fc.constant('+')), { maxLength: 3 }),
    cut: fc.option(fc.nat({ max: FIXED_LEVELS + 4 }), { freq: 3 }),
  });
  return fc.record({
    topics: fc.uniqueArray(topic, { minLength: 1, maxLength: 6, selector: (s) => `${s.root}/${s.tail.join('/')}` }),
    clients: fc.array(fc.array(filter, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
  });
}

interface Run {
  roots: [string, string | undefined];
  fixed: string[];
}

function topicOf(s: TopicSpec, run: Run): string {
  return [run.roots[s.root]!, ...run.fixed, ...s.tail].join('/');
}

function filterOf(s: FilterSpec, run: Run): string {
  const levels = [
    s.first === 'R0' ? run.roots[0] : s.first === 'R1' ? (run.roots[1] ?? run.roots[0]) : '+',
    ...s.fixed.map((f, i) => (f === 'L' ? run.fixed[i]! : '+')),
    ...s.tail,
  ];
  return (s.cut === null || s.cut >= levels.length ? levels : [...levels.slice(0, s.cut), '#']).join('/');
}

/**
 * A topic at the parent level of a filter ending in `/#` (its `+` levels filled with this run's own
 * levels, or `a` below them), when that topic lies in this run's own subtree (not above the run's
 * levels, which other tests' subscriptions could see): `[]` otherwise.
 */
function parentTopic(filter: string, run: Run): string[] {
  if (!filter.endsWith('/#')) return [];
  const levels = filter.slice(0, -2).split('/').map((l, i) => (l !== '+' ? l : i === 0 ? run.roots[0] : i <= run.fixed.length ? run.fixed[i - 1]! : 'a'));
  const parent = levels.join('/');
  const inside = run.roots.some((root) => root !== undefined && (parent === [root, ...run.fixed].join('/') || parent.startsWith(`${[root, ...run.fixed].join('/')}/`)));
  return inside ? [parent] : [];
}

/** The statement a wrong delivery of `topic` to a client with `filters` most likely breaks. */
function classify(t: ConformanceContext, topic: string, filters: string[], wanted: boolean): string {
  const relevant = wanted ? filters.filter((f) => topicMatches(f, topic)) : filters;
  if (!wanted && topic.startsWith('$') && filters.some((f) => f.startsWith('+') || f.startsWith('#'))) return 'MQTT-4.7.2-1';
  if (relevant.some((f) => !f.includes('+') && !f.includes('#'))) return wanted ? 'MQTT-4.5.0-1' : 'MQTT-3.3.2-3';
  if (relevant.some((f) => f.endsWith('#'))) return sv(t, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1');
  if (relevant.some((f) => f.includes('+'))) return sv(t, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2');
  return 'MQTT-3.3.2-3';
}

conformance('subscribers receive exactly the topics that topicMatches predicts', {
  v4: ['MQTT-4.7.1-2', 'MQTT-4.7.1-3', 'MQTT-4.7.2-1', 'MQTT-3.3.2-3', 'MQTT-4.5.0-1', 'MQTT-3.3.5-1'],
  v5: ['MQTT-4.7.1-1', 'MQTT-4.7.1-2', 'MQTT-4.7.2-1', 'MQTT-3.3.2-3', 'MQTT-4.5.0-1', 'MQTT-3.3.4-2'],
  requires: ['wildcards', 'qos1'],
  timeoutMs: 90_000,
}, async (t) => {
  const base = t.topic('pm').split('/');
  const d = await dollarTopic(t, 'pm');
  const dollarRoot = d?.topic.split('/')[0];
  if (!dollarRoot) t.recorder.event('-', 'note', 'no $ root usable by clients: $-topics are left out of the topic trees');
  // The test topic is <prefix levels…>/<id>/pm; the first level is the root, the rest (plus the run) is fixed.
  const prefixRest = base.slice(1);
  const clients: RawClient[] = [];
  for (let i = 0; i < 3; i++) clients.push((await t.connect(`s${i}`)).client);
  const { client: pub } = await t.connect('pub');

  const params = fcParameters<[Scenario]>(10);
  t.seed(params.seed!);
  let runNo = 0;
  const refused = new Set<string>();
  const copies: string[] = [];

  // Deliveries follow a completed QoS 1 PUBLISH closely; a short wait keeps shrinking fast.
  const deliveryWait = Math.min(t.timeoutMs, 1500);

  const runScenario = async (sc: Scenario): Promise<void> => {
    runNo++;
    const fixed = [...prefixRest, `r${runNo}`];
    // FilterSpec.fixed covers the last FIXED_LEVELS levels; longer prefixes keep their extra levels literal.
    const run: Run = { roots: [base[0]!, dollarRoot], fixed };
    const extra = fixed.length - FIXED_LEVELS;
    const specFixed = (s: FilterSpec): FilterSpec => ({ ...s, fixed: extra >= 0 ? [...fixed.slice(0, extra).map(() => 'L' as const), ...s.fixed] : s.fixed.slice(-fixed.length) });
    const used = clients.slice(0, sc.clients.length);
    const wanted = used.map((_, i) => [...new Set(sc.clients[i]!.map((s) => filterOf(specFixed(s), run)))]);
    const topics = [...new Set([...sc.topics.map((s) => topicOf(s, run)), ...wanted.flat().flatMap((f) => parentTopic(f, run))])];
    const runTopics = new Set(topics);
    const filtersOf: string[][] = [];
    for (const [i, c] of used.entries()) {
      const filters = wanted[i]!;
      const ack = await subscribe(t, c, filters.map((f) => ({ topicFilter: f, qos: 0 as const })));
      const granted = filters.filter((f, j) => {
        const ok = (ack.reasonCodes[j] ?? 0x80) < 0x80;
        if (!ok) refused.add(f.replace(`/r${runNo}`, '/r*'));
        return ok;
      });
      filtersOf.push(granted);
    }
    const start = used.map((c) => c.received.length);
    for (const topic of topics) await publish(t, pub, topic, topic, 1);
    const expected = filtersOf.map((fs) => new Set(topics.filter((topic) => fs.some((f) => topicMatches(f, topic)))));
    const describeRun = (): string => `topics [${topics.map((x) => `'${x}'`).join(', ')}]; ${filtersOf.map((fs, i) => `client ${i} filters [${fs.map((f) => `'${f}'`).join(', ')}]`).join('; ')}`;
    try {
      // Every expected delivery arrives…
      for (const [i, c] of used.entries()) {
        const pending = new Set(expected[i]);
        while (pending.size > 0) {
          const p = await c.expect('publish', { where: (x) => pending.has(x.topic), timeoutMs: deliveryWait }).catch(() => undefined);
          if (!p) {
            const topic = [...pending][0]!;
            throw new StatementFailure(classify(t, topic, filtersOf[i]!, true), `client ${i} never received '${topic}', which its filters match`);
          }
          pending.delete(p.topic);
        }
      }
      // …then a bounded silence for anything that should not.
      await t.expectNothing(pub, Math.min(SILENCE_MS, 200), undefined, () => false, 'deliveries settling');
      for (const [i, c] of used.entries()) {
        const counts = new Map<string, number>();
        for (const p of c.received.slice(start[i])) {
          if (p.type === 'publish' && runTopics.has(p.topic)) counts.set(p.topic, (counts.get(p.topic) ?? 0) + 1);
        }
        for (const [topic, n] of counts) {
          const matching = filtersOf[i]!.filter((f) => topicMatches(f, topic)).length;
          if (matching === 0) throw new StatementFailure(classify(t, topic, filtersOf[i]!, false), `client ${i} received '${topic}', which none of its filters match`);
          if (n > matching) throw new StatementFailure(sv(t, 'MQTT-3.3.5-1', 'MQTT-3.3.4-2'), `client ${i} received ${n} copies of '${topic}' for ${matching} matching subscription(s)`);
          if (n > 1 && copies.length < 3) copies.push(`client ${i}: ${n} copies of '${topic}' (${matching} matching subscriptions)`);
        }
        const wrongName = c.received.slice(start[i]).find((p): p is PublishPacket => p.type === 'publish' && runTopics.has(Buffer.from(p.payload).toString()) && p.topic !== Buffer.from(p.payload).toString());
        if (wrongName) throw new StatementFailure('MQTT-3.3.2-3', `client ${i} got the message published to '${Buffer.from(wrongName.payload).toString()}' under Topic Name '${wrongName.topic}'`);
      }
    } catch (e) {
      if (e instanceof Error) e.message = `${e.message}\n      run: ${describeRun()}`;
      throw e;
    } finally {
      for (const [i, c] of used.entries()) if (filtersOf[i]!.length > 0) await unsubscribe(t, c, filtersOf[i]!).catch(() => undefined);
    }
  };

  const details = await fc.check(fc.asyncProperty(scenario(dollarRoot !== undefined), runScenario), { ...params, interruptAfterTimeLimit: 45_000 });
  if (refused.size > 0) t.finding(`filters refused by SUBACK and left out of the model: ${[...refused].slice(0, 5).join(', ')}${refused.size > 5 ? ', …' : ''}`);
  if (copies.length > 0) t.finding(`overlapping subscriptions brought one copy each (allowed: "MAY deliver further copies"), e.g. ${copies.join('; ')}`);
  if (details.failed && details.counterexample) {
    const [shrunk] = details.counterexample;
    t.counterexample(fc.stringify(shrunk));
    // Replay the shrunk scenario alone so the packet trace shows exactly the counterexample.
    t.recorder.entries.length = 0;
    t.recorder.event('-', 'replay', `shrunk counterexample ${fc.stringify(shrunk)}`);
    let cause: unknown = details.errorInstance;
    try {
      await runScenario(shrunk);
      t.recorder.event('-', 'replay', 'the replay passed: the failure did not reproduce');
    } catch (e) {
      cause = e;
    }
    const statement = cause instanceof StatementFailure ? cause.statement : undefined;
    const why = (cause instanceof Error ? cause.message : String(cause)).replace(/^\[[^\]]+\] /, '');
    t.fail(statement, `${why}\n  ${fc.defaultReportMessage(details) ?? 'property failed'}\n  replay: FC_SEED=${details.seed} FC_PATH=${details.counterexamplePath ?? ''}`);
  }
});

/**
 * The fuzz run: many cases, `concurrency` connections at a time, until the
 * packet goal or the time limit, while a control client and sentinels check
 * that the broker keeps serving others and its memory is sampled. Then:
 * cases that were closed unexpectedly are replayed alone (closed again: the
 * broker's answer to that case; fine alone: another client's bytes closed
 * it), failures are shrunk (shrink.ts), and everything goes into one report.
 *
 * Pass criteria: no crash, no hang (control client, sentinels, and every
 * case connection answered or closed within bounds), no client closed because
 * of another, memory flat, the codec sound on every input; and, on the
 * reference broker (exact target), every connection ended exactly as the
 * oracle says. On other brokers reason-code differences are findings.
 */
import { randomBytes } from 'node:crypto';
import type { ProtocolVersion } from '../../codec/index.js';
import { arbitraryFuzzCase, describeCase, type FuzzCase } from './case.js';
import { CaseSource, type CaseRef } from './case-source.js';
import { ClientIds, executeCase, LiveIds, type CaseResult, type ExecuteParams } from './execute.js';
import { Health, HealthStartError, type HealthFailure } from './health.js';
import { MemorySampler } from './memory.js';
import { describeVerdict } from './oracle.js';
import type { FailureKind, FailureReport, Finding, FuzzReport, MismatchExample, ReportedCase } from './report.js';
import { clearRetained } from './retained-cleanup.js';
import { shrinkCaseFailure, shrinkGlobalFailure, type Reproduction, type ShrinkContext, type ShrinkResult, type Suspect } from './shrink.js';
import type { FuzzTarget } from './target.js';

export interface FuzzOptions {
  target: FuzzTarget;
  /** Stop after this many packets. */
  packets: number;
  seed: number;
  versions: readonly ProtocolVersion[];
  /** Connections at a time. Default 128. */
  concurrency?: number;
  /** Bound on the sending phase, ms. Default 30 min. */
  maxTimeMs?: number;
  /** A case's close or probe answer must come within this, ms. Default 10 s. */
  caseTimeoutMs?: number;
  /** An incomplete case is watched this long, ms. Default 100. */
  incompleteWaitMs?: number;
  /** Bound of every control round trip and sentinel ping, ms. Default 5 s. */
  controlTimeoutMs?: number;
  /** Time for shrinking all failures, ms. Default 120 s. */
  shrinkTimeMs?: number;
  /** Failures shrunk (the first of each kind). Default 3. */
  maxShrinks?: number;
  memory?: {
    /** Default 32 MiB (memory.ts). */
    thresholdBytes?: number;
    /** Take idle floors (after the warm-up, at the end) and judge by them. Default: when measurable and the goal is ≥ 1,000,000 packets. */
    floors?: boolean;
    /** Packets sent before the first floor. Default 10 % of the goal, at most 1,000,000. */
    warmupPackets?: number;
  };
  onProgress?: (p: FuzzProgress) => void;
  /** Default 1000 ms. */
  progressEveryMs?: number;
  commandLine?: string;
  /** How a report tells to replay a case; `{ref}` becomes `seed:path`. */
  replayHint?: string;
}

export interface FuzzProgress {
  elapsedS: number;
  packets: number;
  goal: number;
  cases: number;
  /** Packets per second over the last progress interval. */
  ratePerS: number;
  mismatches: number;
  failures: number;
  rssBytes: number | undefined;
  controlP99Ms: number | undefined;
  /** The broker is left idle for a memory floor. */
  idle: boolean;
}

interface Record_ {
  c: FuzzCase;
  ref: CaseRef;
  start: number;
  end: number | undefined;
}

interface PendingFailure {
  kind: FailureKind;
  detail: string;
  at: number;
  /** Case-scope failures: the case. */
  suspect?: Suspect;
  result?: CaseResult;
  outcomeKind?: string;
  /** Broker-wide failures: the cases that may have caused it. */
  suspects?: Suspect[];
  victim?: FuzzCase;
}

/** Failures of the broker as a whole (as opposed to its answer to one case). */
const BROKER_WIDE: ReadonlySet<FailureKind> = new Set<FailureKind>(['crash', 'control-timeout', 'control-closed', 'sentinel-closed', 'sentinel-timeout', 'broker-error', 'listener-unreachable']);
/** Case failures this close before a broker-wide failure (or after it) are taken as part of it. */
const COLLATERAL_WINDOW_MS = 2000;
const RECENT = 16_384;
const MAX_SUSPECTS = 1000;
const EXAMPLES_PER_KIND = 3;

function percentile(xs: readonly number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const target = o.target;
  const concurrency = o.concurrency ?? 128;
  const maxTimeMs = o.maxTimeMs ?? 30 * 60_000;
  const controlTimeoutMs = o.controlTimeoutMs ?? 5000;
  const params: ExecuteParams = { caseTimeoutMs: o.caseTimeoutMs ?? 10_000, incompleteWaitMs: o.incompleteWaitMs ?? 100 };
  const tag = randomBytes(2).toString('hex');
  const arb = arbitraryFuzzCase({ versions: o.versions });
  const source = new CaseSource(arb, o.seed);
  const ids = new ClientIds(tag);
  const live = new LiveIds();
  const startedAt = new Date();
  const t0 = performance.now();
  const replay = (ref: CaseRef): string => (o.replayHint ?? 'npm run fuzz -- --replay {ref}').replace('{ref}', `${ref.seed}:${ref.path}`);

  const recent: Record_[] = [];
  const outcomes: Record<string, number> = {};
  const verdicts: Record<string, number> = {};
  const mismatchByKind: Record<string, number> = {};
  const examples: MismatchExample[] = [];
  const findings = new Map<string, Finding>();
  const failures: PendingFailure[] = [];
  const closeCandidates: Array<{ rec: Record_; result: CaseResult }> = [];
  let packetsSent = 0;
  let cases = 0;
  let mismatches = 0;
  let openErrorsInARow = 0;
  let stopReason: FuzzReport['stoppedBecause'] | undefined;
  let sendingEnded = t0;

  const bump = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1; };
  const fail = (f: PendingFailure): void => {
    failures.push(f);
    stopReason ??= 'failure';
  };
  const find = (kind: string, detail: string, example?: ReportedCase): void => {
    const f = findings.get(kind);
    if (f) f.count++;
    else findings.set(kind, { kind, detail, count: 1, ...(example ? { example } : {}) });
  };
  const reported = (c: FuzzCase, ref: CaseRef, r: CaseResult | undefined): ReportedCase => ({
    seed: ref.seed, path: ref.path, replay: replay(ref),
    hex: r?.materialized.stream.toString('hex') ?? '', bytes: r?.materialized.stream.length ?? 0, packets: r?.materialized.packets ?? c.packets.length,
    writes: r?.materialized.chunks.map((x) => x.length) ?? [],
    description: describeCase(c, r?.clientId),
    verdict: r?.verdict ? describeVerdict(r.verdict) : r?.codec ? `(the codec failed first: ${r.codec.kind})` : '',
    outcome: r?.outcome ? `${r.outcome.status} ${r.outcome.kind}: ${r.outcome.detail}` : r?.codec?.detail ?? r?.observation?.openError ?? '',
  });

  // --- watchers: control client and sentinels, the broker process, its error log, memory ---
  let health: Health;
  try {
    health = await Health.start({ url: target.url(), versions: o.versions, timeoutMs: controlTimeoutMs, tag, tls: target.tls, username: target.username, password: target.password });
  } catch (e) {
    if (!(e instanceof HealthStartError)) throw e;
    const memory = new MemorySampler(() => target.pid()).report(o.memory?.thresholdBytes, 0, 'no case was sent');
    return {
      kind: 'fuzz', schemaVersion: 1, startedAt: startedAt.toISOString(), durationS: (performance.now() - t0) / 1000, commandLine: o.commandLine,
      target: { label: target.label, url: target.url(), exact: target.exact }, seed: o.seed, versions: [...o.versions], concurrency, packetsGoal: o.packets,
      stoppedBecause: 'failure', packetsSent: 0, cases: 0, idleS: 0, ratePerS: 0, casesPerS: 0, outcomes, verdicts, mismatches: { count: 0, byKind: {}, examples: [] },
      control: { roundTrips: 0, boundMs: controlTimeoutMs }, memory, findings: [],
      failures: [{ kind: 'control-connect', detail: `the control client could not use the broker before any case was sent: ${e.message}` }], passed: false,
    };
  }
  const suspectsSince = (from: number): Suspect[] =>
    recent.filter((r) => r.start >= from || r.end === undefined || r.end >= from).slice(-MAX_SUSPECTS).map((r) => ({ c: r.c, ref: r.ref }));
  health.onFailure = (f: HealthFailure): void => {
    // A control round trip that timed out may have been hurt by anything since the last one that worked.
    const from = f.kind === 'control-timeout' || f.kind === 'sentinel-timeout' ? Math.min(health.lastOkAt, f.at - controlTimeoutMs) - 1000 : f.at - 2000;
    fail({ kind: f.kind, detail: f.detail, at: f.at, suspects: suspectsSince(from) });
  };
  const memory = new MemorySampler(() => target.pid());
  memory.start();
  const floors = o.memory?.floors ?? (memory.measurable && o.packets >= 1_000_000);
  const warmupPackets = o.memory?.warmupPackets ?? Math.min(1_000_000, Math.floor(o.packets / 10));
  let warmedUp = !floors;
  /** Holds the workers while the broker sits idle for a memory floor. */
  let gate: Promise<void> | undefined;
  let inFlight = 0;
  let idleMs = 0;
  const idleFloor = async (): Promise<void> => {
    const t = performance.now();
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    let cleared = 0;
    try {
      cleared = await clearRetained({ url: target.url(), version: o.versions.includes(5) ? 5 : 4, tag, tls: target.tls, username: target.username, password: target.password });
    } catch (e) {
      find('cleanup-error', `the retained messages could not be cleared before a memory floor: ${(e as Error).message}`);
    }
    await memory.floor(cleared);
    idleMs += performance.now() - t;
  };
  let lastProgress = { at: t0, packets: 0 };
  const progressEvery = o.progressEveryMs ?? 1000;
  const checkTarget = (): void => {
    const now = performance.now();
    const exit = target.exitInfo();
    if (exit !== undefined && !failures.some((f) => f.kind === 'crash')) fail({ kind: 'crash', detail: exit, at: now, suspects: suspectsSince(now - 2000) });
    for (const line of target.takeErrors()) {
      if (target.exact) {
        if (!failures.some((f) => f.kind === 'broker-error')) fail({ kind: 'broker-error', detail: `the broker logged an error: ${line}`, at: now, suspects: suspectsSince(now - 2000) });
      } else {
        find('broker-error', `the broker logged an error: ${line}`);
      }
    }
  };
  const watch = setInterval(() => {
    checkTarget();
    const now = performance.now();
    if (o.onProgress && now - lastProgress.at >= progressEvery) {
      o.onProgress({
        elapsedS: (now - t0) / 1000, packets: packetsSent, goal: o.packets, cases, ratePerS: ((packetsSent - lastProgress.packets) * 1000) / (now - lastProgress.at),
        mismatches, failures: failures.length, rssBytes: memory.last, controlP99Ms: percentile(health.rtts.slice(-200), 0.99), idle: gate !== undefined,
      });
      lastProgress = { at: now, packets: packetsSent };
    }
  }, Math.min(250, progressEvery));

  // --- the cases ---
  const account = (rec: Record_, r: CaseResult): void => {
    if (r.codec) {
      fail({ kind: r.codec.kind, detail: r.codec.detail, at: performance.now(), suspect: { c: rec.c, ref: rec.ref }, result: r });
      return;
    }
    const obs = r.observation!;
    if (obs.openError !== undefined) {
      if (++openErrorsInARow >= 100) fail({ kind: 'listener-unreachable', detail: `100 connections in a row could not be opened: ${obs.openError}`, at: performance.now(), suspects: suspectsSince(rec.start - 2000) });
      else find('open-error', `a connection could not be opened (not counted as sent): ${obs.openError}`);
      return;
    }
    openErrorsInARow = 0;
    const v = r.verdict!;
    const out = r.outcome!;
    bump(verdicts, v.kind === 'close' ? `close ${v.rule}` : v.kind);
    bump(outcomes, `${out.status} ${out.kind}`);
    if (out.status === 'ok') return;
    if (out.status === 'hang') {
      fail({ kind: 'case-hang', detail: `a connection was neither served nor closed within ${params.caseTimeoutMs} ms: ${out.detail}`, at: performance.now(), suspect: { c: rec.c, ref: rec.ref }, result: r });
      return;
    }
    mismatches++;
    bump(mismatchByKind, out.kind);
    if (examples.filter((e) => e.kind === out.kind).length < EXAMPLES_PER_KIND) examples.push({ kind: out.kind, detail: out.detail, ...reported(rec.c, rec.ref, r) });
    if (out.kind === 'unexpected-close' || out.kind === 'unexpected-refusal') {
      // Decided after the run, by replaying the case alone.
      if (closeCandidates.length < 20) closeCandidates.push({ rec, result: r });
      if (target.exact) stopReason ??= 'failure';
      return;
    }
    if (target.exact) fail({ kind: 'mismatch', detail: `${out.kind}: ${out.detail}`, at: performance.now(), suspect: { c: rec.c, ref: rec.ref }, result: r, outcomeKind: out.kind });
    else find(`mismatch ${out.kind}`, out.detail, reported(rec.c, rec.ref, r));
  };

  const worker = async (): Promise<void> => {
    while (stopReason === undefined) {
      if (packetsSent >= o.packets) { stopReason = 'packets'; break; }
      if (performance.now() - t0 >= maxTimeMs) { stopReason = 'time'; break; }
      if (gate) { await gate; continue; }
      if (!warmedUp && packetsSent >= warmupPackets) {
        warmedUp = true;
        gate = idleFloor().finally(() => { gate = undefined; });
        continue;
      }
      const { c, ref } = source.take();
      const rec: Record_ = { c, ref, start: performance.now(), end: undefined };
      recent.push(rec);
      if (recent.length > 2 * RECENT) recent.splice(0, recent.length - RECENT); // trimmed in batches: a shift per case would copy the whole array
      let counted = false;
      inFlight++;
      const r = await executeCase(c, ids.next(), target, params, { live, onOpen: () => { counted = true; } }).finally(() => { inFlight--; });
      rec.end = performance.now();
      if (counted && r.observation?.openError === undefined && !r.codec) {
        packetsSent += r.materialized.packets;
        cases++;
      }
      account(rec, r);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  sendingEnded = performance.now();
  const idleWhileSendingMs = idleMs;
  // Is the broker still there, and does it still serve the control client and the sentinels? (Failures land in `failures`.)
  checkTarget();
  if (target.exitInfo() === undefined) await health.check();
  // The end floor, comparable with the one after the warm-up (none when the run stopped before it).
  if (floors && warmedUp && memory.floors.length > 0 && target.exitInfo() === undefined) {
    gate = idleFloor();
    await gate;
    gate = undefined;
  }

  // --- a broker-wide failure also fails whatever was running then: report it once ---
  // A crash explains everything after it (the control client noticing the closed connection first, say);
  // otherwise the earliest broker-wide failure explains what failed around it.
  const broad = failures.filter((f) => BROKER_WIDE.has(f.kind));
  const primary = broad.find((f) => f.kind === 'crash') ?? broad.reduce<PendingFailure | undefined>((a, f) => (a === undefined || f.at < a.at ? f : a), undefined);
  const firstBroad = primary === undefined ? Infinity : primary.kind === 'crash' ? -Infinity : primary.at;
  const collateral = (at: number): boolean => at >= firstBroad - COLLATERAL_WINDOW_MS;
  let folded = closeCandidates.filter((x) => collateral(x.rec.end ?? Infinity)).length;
  const otherBroad = new Set<string>();
  for (let i = failures.length - 1; i >= 0; i--) {
    const f = failures[i]!;
    if (f === primary || f.kind === 'codec-crash' || f.kind === 'codec-chunking' || !collateral(f.at)) continue;
    failures.splice(i, 1);
    if (BROKER_WIDE.has(f.kind)) otherBroad.add(f.kind);
    else folded++;
  }
  if (primary && (folded > 0 || otherBroad.size > 0)) {
    primary.detail += ` (with it: ${[folded > 0 ? `${folded} case connection(s) running at the time failed` : '', ...otherBroad].filter(Boolean).join(', ')}; not reported separately)`;
  }

  // --- unexpected closes: the case's own doing, or another client's? ---
  for (const { rec, result } of closeCandidates) {
    if (target.exitInfo() !== undefined) break;
    if (collateral(rec.end ?? Infinity)) continue;
    const alone = await executeCase(rec.c, ids.next(), target, params);
    const again = alone.outcome;
    if (again && again.status === 'ok') {
      fail({
        kind: 'other-client-closed', at: rec.end ?? performance.now(), victim: rec.c,
        detail: `a valid connection was closed while other cases ran (${result.outcome!.detail}); alone, the same case is served`,
        suspects: recent.filter((x) => x !== rec && x.start <= (rec.end ?? Infinity) && (x.end ?? Infinity) >= rec.start).slice(-MAX_SUSPECTS).map((x) => ({ c: x.c, ref: x.ref })),
        suspect: { c: rec.c, ref: rec.ref }, result,
      });
    } else if (target.exact) {
      fail({ kind: 'mismatch', detail: `${result.outcome!.kind}: ${result.outcome!.detail}`, at: rec.end ?? performance.now(), suspect: { c: rec.c, ref: rec.ref }, result, outcomeKind: result.outcome!.kind });
    } else {
      find(`mismatch ${result.outcome!.kind}`, result.outcome!.detail, reported(rec.c, rec.ref, result));
    }
  }

  clearInterval(watch);
  const lateFailure = health.failure;
  health.stop();
  memory.stop();
  if (lateFailure && !failures.some((f) => f.kind === lateFailure.kind)) health.onFailure?.(lateFailure);
  const rtts = health.rtts;

  // --- shrinking ---
  const reports: FailureReport[] = [];
  const ctx: ShrinkContext = {
    arb, target, params: { ...params, caseTimeoutMs: Math.min(params.caseTimeoutMs, 3000) }, ids, versions: o.versions, tag, controlTimeoutMs,
    concurrency, deadline: performance.now() + (o.shrinkTimeMs ?? 120_000), maxAttempts: 2000,
  };
  const shrunkKinds = new Set<string>();
  for (const f of failures) {
    const key = f.kind === 'mismatch' ? `mismatch ${f.outcomeKind}` : f.kind;
    const original = f.suspect ? [reported(f.suspect.c, f.suspect.ref, f.result)] : undefined;
    const rep: FailureReport = { kind: f.kind, detail: f.detail, ...(original ? { original } : {}) };
    reports.push(rep);
    if (shrunkKinds.has(key) || shrunkKinds.size >= (o.maxShrinks ?? 3)) continue;
    shrunkKinds.add(key);
    const r = reproductionOf(f);
    if (r === undefined) continue;
    let s: ShrinkResult;
    if (f.suspects !== undefined) s = await shrinkGlobalFailure(f.suspects, r, ctx, f.victim);
    else if (f.suspect !== undefined) s = await shrinkCaseFailure(f.suspect, r, ctx);
    else continue;
    rep.shrinking = { reproduced: s.reproduced, attempts: s.attempts, seconds: s.seconds, ...(s.note ? { note: s.note } : {}) };
    if (s.reproduced) {
      rep.shrunk = await Promise.all(s.cases.map(async (x) => reported(x.c, x.ref, await describeRun(x.c, ids, target, ctx.params))));
    } else if (!rep.original && f.suspects) {
      rep.original = f.suspects.slice(-3).map((x) => reported(x.c, x.ref, undefined));
    }
  }
  if (target.restartable && target.exitInfo() !== undefined) await target.restart().catch(() => undefined);

  const mem = memory.report(o.memory?.thresholdBytes, (sendingEnded - t0) / 1000, floors
    ? 'the run stopped before the floor after the warm-up'
    : `no idle floors for runs under 1,000,000 packets (${memory.measurable ? 'memory under load is reported' : 'not measurable'})`);
  if (!mem.ok) {
    reports.push({ kind: 'memory-growth', detail: `the broker's idle memory floor grew by ${((mem.growthBytes ?? 0) / 1048576).toFixed(1)} MiB from after the warm-up to the end (threshold ${(mem.thresholdBytes / 1048576).toFixed(0)} MiB)` });
  }
  const durationS = (sendingEnded - t0) / 1000;
  const sendingS = Math.max((sendingEnded - t0 - idleWhileSendingMs) / 1000, 1e-9);
  return {
    kind: 'fuzz', schemaVersion: 1, startedAt: startedAt.toISOString(), durationS, ...(o.commandLine ? { commandLine: o.commandLine } : {}),
    target: { label: target.label, url: target.url(), exact: target.exact }, seed: o.seed, versions: [...o.versions], concurrency, packetsGoal: o.packets,
    stoppedBecause: stopReason ?? 'packets', packetsSent, cases, idleS: idleWhileSendingMs / 1000, ratePerS: packetsSent / sendingS, casesPerS: cases / sendingS,
    outcomes, verdicts, mismatches: { count: mismatches, byKind: mismatchByKind, examples },
    control: { roundTrips: rtts.length, boundMs: controlTimeoutMs, p50Ms: percentile(rtts, 0.5), p99Ms: percentile(rtts, 0.99), maxMs: rtts.length ? Math.max(...rtts) : undefined },
    memory: mem, findings: [...findings.values()], failures: reports, passed: reports.length === 0,
  };
}

function reproductionOf(f: PendingFailure): Reproduction | undefined {
  switch (f.kind) {
    case 'mismatch': return f.outcomeKind !== undefined ? { kind: 'mismatch', outcomeKind: f.outcomeKind } : undefined;
    case 'codec-crash': case 'codec-chunking': case 'case-hang': case 'crash': case 'broker-error': case 'other-client-closed':
    case 'control-timeout': case 'control-closed': case 'sentinel-closed': case 'sentinel-timeout':
      return { kind: f.kind };
    default: return undefined;
  }
}

/** Runs a (shrunk) case once more, alone, for its bytes, verdict and outcome in the report. */
async function describeRun(c: FuzzCase, ids: ClientIds, target: FuzzTarget, params: ExecuteParams): Promise<CaseResult | undefined> {
  if (target.exitInfo() !== undefined) {
    if (!target.restartable) return undefined;
    await target.restart().catch(() => undefined);
  }
  const r = await executeCase(c, ids.next(), target, params);
  return r;
}

/**
 * Shrinking a failure to the smallest input that still causes it, with
 * fast-check: first the set of cases that were running when a broker-wide
 * failure happened (fc.subarray from the full set), then the one case that
 * remains (replayed from its seed and path, so fast-check shrinks its packets
 * and mutations). Every attempt runs against a fresh broker when the failure
 * took the broker down or may have left it wedged (restart), with its own
 * control client and sentinels, and counts only if the same kind of failure
 * happens again.
 */
import fc, { type Arbitrary } from 'fast-check';
import type { FuzzCase } from './case.js';
import { BLOCK_SIZE, type CaseRef } from './case-source.js';
import { ClientIds, executeCase, judgeCase, type CaseResult, type ExecuteParams } from './execute.js';
import { Health, HealthStartError, type HealthFailureKind } from './health.js';
import { materializeCase } from './case.js';
import type { FailureKind } from './report.js';
import type { FuzzTarget } from './target.js';

/** How to tell that an attempt reproduced the failure. */
export type Reproduction =
  | { kind: 'codec-crash' | 'codec-chunking' }
  | { kind: 'mismatch'; outcomeKind: string }
  | { kind: 'case-hang' }
  | { kind: Exclude<FailureKind, 'codec-crash' | 'codec-chunking' | 'mismatch' | 'case-hang' | 'memory-growth' | 'control-connect' | 'listener-unreachable'> };

export interface Suspect {
  c: FuzzCase;
  ref: CaseRef;
}

export interface ShrinkContext {
  arb: Arbitrary<FuzzCase>;
  target: FuzzTarget;
  params: ExecuteParams;
  ids: ClientIds;
  versions: readonly (4 | 5)[];
  tag: string;
  controlTimeoutMs: number;
  concurrency: number;
  /** performance.now() after which attempts stop (they count as "not reproduced"). */
  deadline: number;
  /** Most attempts (network runs) in all. */
  maxAttempts: number;
}

export interface ShrinkResult {
  reproduced: boolean;
  attempts: number;
  seconds: number;
  note?: string;
  /** The smallest set that reproduced (one case, after shrinking its structure, when one suffices). */
  cases: Array<Suspect & { result?: CaseResult }>;
}

const UNSERVED: ReadonlySet<HealthFailureKind> = new Set(['control-timeout', 'sentinel-timeout']);
const CLOSED: ReadonlySet<HealthFailureKind> = new Set(['control-closed', 'sentinel-closed']);

class Attempts {
  n = 0;
  timedOut = false;
  restartFailed: string | undefined;
  constructor(private readonly ctx: ShrinkContext) {}

  /** False once time or attempts are used up: the caller then answers "not reproduced". */
  allowed(): boolean {
    if (performance.now() > this.ctx.deadline || this.n >= this.ctx.maxAttempts || this.restartFailed !== undefined) {
      this.timedOut = true;
      return false;
    }
    this.n++;
    return true;
  }
}

/** Restarts the target when it is down (or always, for broker-wide failures); false when that is impossible. */
async function ready(ctx: ShrinkContext, a: Attempts, fresh: boolean): Promise<boolean> {
  const t = ctx.target;
  if (!(fresh || t.exitInfo() !== undefined)) return true;
  if (!t.restartable) {
    if (t.exitInfo() === undefined) return true;
    a.restartFailed = 'the broker is down and the fuzzer cannot restart it';
    return false;
  }
  try {
    await t.restart();
    t.takeErrors();
    return true;
  } catch (e) {
    a.restartFailed = `restarting the broker failed: ${(e as Error).message}`;
    return false;
  }
}

/** One case alone: does it fail the same way? */
async function caseAttempt(c: FuzzCase, r: Reproduction, ctx: ShrinkContext, a: Attempts): Promise<boolean> {
  if (r.kind === 'codec-crash' || r.kind === 'codec-chunking') {
    const m = materializeCase(c, { clientId: ctx.ids.next(), limits: ctx.target.model.maxPacketSizeKnown ? { maxPacketSize: ctx.target.model.maxPacketSize } : {} });
    return judgeCase(m, ctx.target.model).codec?.kind === r.kind;
  }
  if (!a.allowed() || !(await ready(ctx, a, false))) return false;
  const res = await executeCase(c, ctx.ids.next(), ctx.target, ctx.params);
  if (r.kind === 'case-hang') return res.outcome?.status === 'hang';
  if (r.kind === 'mismatch') return res.outcome?.status === 'mismatch' && res.outcome.kind === r.outcomeKind;
  return false;
}

/** Failures that may leave the broker unusable or in an odd state: each attempt starts from a fresh broker. */
const NEEDS_FRESH: ReadonlySet<Reproduction['kind']> = new Set(['crash', 'control-timeout', 'sentinel-timeout']);

/** Several cases at once, with a control client of their own: does the broker-wide failure happen again? */
async function globalAttempt(cases: readonly FuzzCase[], r: Reproduction, ctx: ShrinkContext, a: Attempts, victim?: FuzzCase): Promise<boolean> {
  if (!a.allowed() || !(await ready(ctx, a, ctx.target.restartable && NEEDS_FRESH.has(r.kind)))) return false;
  ctx.target.takeErrors(); // only this attempt's errors count
  let health: Health;
  try {
    health = await Health.start({ url: ctx.target.url(), versions: ctx.versions, timeoutMs: ctx.controlTimeoutMs, tag: `${ctx.tag}s${a.n}`, tls: ctx.target.tls, username: ctx.target.username, password: ctx.target.password });
  } catch (e) {
    if (e instanceof HealthStartError) return false;
    throw e;
  }
  let poll: NodeJS.Timeout | undefined;
  try {
    const victimRun = victim ? executeCase(victim, ctx.ids.next(), ctx.target, ctx.params) : undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length && health.failure === undefined && ctx.target.exitInfo() === undefined) {
        await executeCase(cases[next++]!, ctx.ids.next(), ctx.target, ctx.params);
      }
    };
    // Stop waiting for the cases as soon as the broker is gone or the control client failed: the attempt has its answer.
    const broken = new Promise<void>((resolve) => {
      poll = setInterval(() => { if (health.failure !== undefined || ctx.target.exitInfo() !== undefined) resolve(); }, 50);
    });
    await Promise.race([Promise.all(Array.from({ length: Math.min(ctx.concurrency, cases.length) }, worker)), broken]);
    const victimOutcome = victimRun ? (await victimRun).outcome : undefined;
    const failure = ctx.target.exitInfo() === undefined ? await health.check() : health.failure;
    switch (r.kind) {
      case 'crash': return ctx.target.exitInfo() !== undefined;
      case 'broker-error': return ctx.target.takeErrors().length > 0;
      case 'control-timeout': case 'sentinel-timeout': return ctx.target.exitInfo() === undefined && failure !== undefined && UNSERVED.has(failure.kind);
      case 'control-closed': case 'sentinel-closed': return ctx.target.exitInfo() === undefined && failure !== undefined && CLOSED.has(failure.kind);
      case 'other-client-closed': return victimOutcome?.status === 'mismatch' && victimOutcome.kind === 'unexpected-close';
      default: return false;
    }
  } finally {
    clearInterval(poll);
    health.stop();
  }
}

/** Shrinks the structure of one case from its reference: fast-check replays it and shrinks while `fails` holds. */
async function shrinkOne(s: Suspect, fails: (c: FuzzCase) => Promise<boolean>, ctx: ShrinkContext): Promise<Suspect | undefined> {
  const r = await fc.check(fc.asyncProperty(ctx.arb, async (c) => !(await fails(c))), { seed: s.ref.seed, path: s.ref.path, numRuns: BLOCK_SIZE });
  if (!r.failed || r.counterexample === null) return undefined;
  return { c: r.counterexample[0], ref: { seed: s.ref.seed, path: r.counterexamplePath ?? s.ref.path } };
}

/** One failing case (a mismatch, a case that hangs, a codec problem): shrink it. */
export async function shrinkCaseFailure(s: Suspect, r: Reproduction, ctx: ShrinkContext): Promise<ShrinkResult> {
  const t0 = performance.now();
  const a = new Attempts(ctx);
  const shrunk = await shrinkOne(s, (c) => caseAttempt(c, r, ctx, a), ctx);
  const done = (reproduced: boolean, cases: Suspect[], note?: string): ShrinkResult => ({
    reproduced, attempts: a.n, seconds: (performance.now() - t0) / 1000, cases, ...(note ? { note } : {}),
  });
  if (!shrunk) return done(false, [s], a.restartFailed ?? (a.timedOut ? 'out of shrinking time before the first replay' : 'the case alone does not fail the same way'));
  return done(true, [shrunk], a.timedOut ? 'shrinking stopped by its time or attempt budget' : undefined);
}

/**
 * A broker-wide failure (crash, control client not served or closed, an error logged, another
 * client closed): find the fewest of the suspect cases that cause it, then shrink the case if
 * one suffices. `victim`: the case that was closed (other-client-closed), run first each time.
 */
export async function shrinkGlobalFailure(suspects: readonly Suspect[], r: Reproduction, ctx: ShrinkContext, victim?: FuzzCase): Promise<ShrinkResult> {
  const t0 = performance.now();
  const a = new Attempts(ctx);
  const done = (reproduced: boolean, cases: Suspect[], note?: string): ShrinkResult => ({
    reproduced, attempts: a.n, seconds: (performance.now() - t0) / 1000, cases, ...(note ? { note } : {}),
  });
  if (suspects.length === 0) return done(false, [], 'no case was running when it happened');
  const subset = await fc.check(
    fc.asyncProperty(fc.subarray([...suspects], { minLength: 1 }), async (xs) => !(await globalAttempt(xs.map((x) => x.c), r, ctx, a, victim))),
    { examples: [[[...suspects]]], numRuns: 1 },
  );
  if (!subset.failed || subset.counterexample === null) {
    return done(false, [...suspects], a.restartFailed ?? (a.timedOut ? 'out of shrinking time' : `the ${suspects.length} case(s) running at the time did not cause it again`));
  }
  let minimal = subset.counterexample[0] ?? [...suspects];
  // fast-check's subarray shrinking can stop short of 1-minimal: drop each case in turn while it still reproduces.
  for (let i = minimal.length - 1; i >= 0 && minimal.length > 1 && minimal.length <= 16; i--) {
    const without = minimal.filter((_, j) => j !== i);
    if (await globalAttempt(without.map((x) => x.c), r, ctx, a, victim)) minimal = without;
  }
  if (minimal.length !== 1) return done(true, minimal, `${minimal.length} cases are needed together; not shrunk further`);
  const one = await shrinkOne(minimal[0]!, (c) => globalAttempt([c], r, ctx, a, victim), ctx);
  return done(true, [one ?? minimal[0]!], a.timedOut ? 'shrinking stopped by its time or attempt budget' : undefined);
}

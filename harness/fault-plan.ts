/**
 * Fault plans of the fault-injecting proxy (fault-proxy.ts): what happens to
 * one proxied connection. A plan may leave choices open (ranges, 'either');
 * each connection resolves them with its own seeded generator, so the same
 * proxy seed gives every connection the same concrete plan again.
 */
import type { PacketHook } from './packet-hook.js';
import type { Rng } from './seeded-random.js';

/** toBroker: bytes the client sends; toClient: bytes the broker sends. */
export type Direction = 'toBroker' | 'toClient';
export const DIRECTIONS: readonly Direction[] = ['toBroker', 'toClient'];

/** A fixed number, or a range (integers, both ends included) the connection's generator picks from. */
export type Amount = number | { min: number; max: number };

/**
 * When a fault fires. Bytes and packets are counted in the fault's direction
 * as the proxy reads them (before any delay); ms from the connection's start.
 * A byte trigger forwards exactly that many bytes, then fires (0: on the first byte).
 */
export type Trigger = { afterBytes: Amount } | { afterPackets: Amount } | { afterMs: Amount };
export type ResolvedTrigger = { afterBytes: number } | { afterPackets: number } | { afterMs: number };

export interface CutFault {
  /** 'close': both sockets end (FIN, the client sees an orderly close); 'reset': both reset (RST: socket.resetAndDestroy()). */
  mode: 'close' | 'reset' | 'either';
  /** The direction whose stream the trigger counts. */
  direction: Direction | 'either';
  at: Trigger;
}

export interface BlackholeFault {
  /** Bytes in this direction are swallowed (and its FIN); the connection stays open. */
  direction: Direction | 'both' | 'either';
  /** Default: from the start. */
  at?: Trigger;
}

export interface DelayFault {
  /** Fixed delay per chunk, ms. */
  ms: Amount;
  /** Plus uniform [0, jitterMs) per chunk; order is kept (a chunk never overtakes an earlier one). */
  jitterMs?: number;
}

export interface SplitFault {
  /** Largest piece written at once, bytes (a range: each piece's size drawn from it). */
  maxChunk: Amount;
  /** Pause between pieces, ms (default 0: the next event-loop turn, so the reader sees separate reads). */
  gapMs?: number;
}

export interface CoalesceFault {
  /** Hold bytes for up to this long (from the first byte held), ms. */
  holdMs: number;
  /** Write as soon as this many bytes are held. */
  maxBytes: number;
}

export interface FaultPlan {
  cut?: CutFault;
  blackhole?: BlackholeFault;
  delay?: Partial<Record<Direction, DelayFault>>;
  split?: Partial<Record<Direction, SplitFault>>;
  coalesce?: Partial<Record<Direction, CoalesceFault>>;
  /** MQTT-aware mode: every packet of both directions passes this hook (packet-hook.ts). */
  packets?: PacketHook;
}

/** What a connection learns about itself when its plan is chosen. */
export interface ConnectionInfo {
  /** 0 for the proxy's first connection, then 1, 2, … */
  index: number;
  remoteAddress: string;
  remotePort: number;
}

/** A plan, or a function choosing one per connection (with that connection's seeded generator). */
export type PlanSource = FaultPlan | ((conn: ConnectionInfo, rng: Rng) => FaultPlan);

/** A plan with every choice made. */
export interface ResolvedPlan {
  cut?: { mode: 'close' | 'reset'; direction: Direction; at: ResolvedTrigger };
  blackhole?: { directions: Direction[]; at?: ResolvedTrigger };
  delay: Partial<Record<Direction, { ms: number; jitterMs: number }>>;
  split: Partial<Record<Direction, { maxChunk: Amount; gapMs: number }>>;
  coalesce: Partial<Record<Direction, CoalesceFault>>;
  /** The hook is in use (functions are not part of the record). */
  packets: boolean;
}

/** A plan that cannot be carried out (negative sizes, empty ranges). */
export class FaultPlanError extends Error {
  override readonly name = 'FaultPlanError';
  readonly code = 'BAD_FAULT_PLAN';
}

function checkAmount(a: Amount, what: string, min: number): void {
  const ok = (n: number): boolean => Number.isFinite(n) && Number.isInteger(n) && n >= min;
  if (typeof a === 'number') {
    if (!ok(a)) throw new FaultPlanError(`${what}: expected an integer ≥ ${min}, got ${a}`);
  } else if (!ok(a.min) || !ok(a.max) || a.min > a.max) {
    throw new FaultPlanError(`${what}: expected {min, max} integers with ${min} ≤ min ≤ max, got ${JSON.stringify(a)}`);
  }
}

function checkTrigger(t: Trigger, what: string): void {
  if ('afterBytes' in t) checkAmount(t.afterBytes, `${what}.afterBytes`, 0);
  else if ('afterPackets' in t) checkAmount(t.afterPackets, `${what}.afterPackets`, 1);
  else if ('afterMs' in t) checkAmount(t.afterMs, `${what}.afterMs`, 0);
  else throw new FaultPlanError(`${what}: expected afterBytes, afterPackets or afterMs`);
}

/** Throws FaultPlanError naming the first problem. */
export function validatePlan(p: FaultPlan): void {
  if (p.cut) checkTrigger(p.cut.at, 'cut.at');
  if (p.blackhole?.at) checkTrigger(p.blackhole.at, 'blackhole.at');
  for (const d of DIRECTIONS) {
    const delay = p.delay?.[d];
    if (delay) {
      checkAmount(delay.ms, `delay.${d}.ms`, 0);
      if (delay.jitterMs !== undefined && !(delay.jitterMs >= 0)) throw new FaultPlanError(`delay.${d}.jitterMs: expected ≥ 0`);
    }
    const split = p.split?.[d];
    if (split) {
      checkAmount(split.maxChunk, `split.${d}.maxChunk`, 1);
      if (split.gapMs !== undefined && !(split.gapMs >= 0)) throw new FaultPlanError(`split.${d}.gapMs: expected ≥ 0`);
    }
    const co = p.coalesce?.[d];
    if (co && (!(co.holdMs >= 0) || !(co.maxBytes >= 1))) throw new FaultPlanError(`coalesce.${d}: expected holdMs ≥ 0 and maxBytes ≥ 1`);
  }
}

export function pickAmount(a: Amount, rng: Rng): number {
  return typeof a === 'number' ? a : rng.int(a.min, a.max);
}

function resolveTrigger(t: Trigger, rng: Rng): ResolvedTrigger {
  if ('afterBytes' in t) return { afterBytes: pickAmount(t.afterBytes, rng) };
  if ('afterPackets' in t) return { afterPackets: pickAmount(t.afterPackets, rng) };
  return { afterMs: pickAmount(t.afterMs, rng) };
}

/** Makes every choice of `p` with `rng` (always in the same order, so a seed replays). */
export function resolvePlan(p: FaultPlan, rng: Rng): ResolvedPlan {
  const out: ResolvedPlan = { delay: {}, split: {}, coalesce: {}, packets: p.packets !== undefined };
  if (p.cut) {
    out.cut = {
      mode: p.cut.mode === 'either' ? rng.pick(['close', 'reset'] as const) : p.cut.mode,
      direction: p.cut.direction === 'either' ? rng.pick(DIRECTIONS) : p.cut.direction,
      at: resolveTrigger(p.cut.at, rng),
    };
  }
  if (p.blackhole) {
    const d = p.blackhole.direction;
    out.blackhole = { directions: d === 'both' ? [...DIRECTIONS] : d === 'either' ? [rng.pick(DIRECTIONS)] : [d] };
    if (p.blackhole.at) out.blackhole.at = resolveTrigger(p.blackhole.at, rng);
  }
  for (const d of DIRECTIONS) {
    const delay = p.delay?.[d];
    if (delay) out.delay[d] = { ms: pickAmount(delay.ms, rng), jitterMs: delay.jitterMs ?? 0 };
    const split = p.split?.[d];
    if (split) out.split[d] = { maxChunk: split.maxChunk, gapMs: split.gapMs ?? 0 };
    const co = p.coalesce?.[d];
    if (co) out.coalesce[d] = { ...co };
  }
  return out;
}

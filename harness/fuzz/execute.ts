/**
 * Runs one fuzz case end to end: bytes (materializeCase), the oracle's
 * verdict on them (judge, which is also the in-process codec fuzzing: the
 * decoder must fail only with MqttCodecError, and any chunking must give the
 * same verdict), the connection (observeCase), and the comparison
 * (classify). Shared by the runner and the shrinker.
 */
import { parseBrokerUrl } from '../transport.js';
import { materializeCase, type FuzzCase, type MaterializedCase } from './case.js';
import { observeCase, type Observation } from './case-connection.js';
import { classify, type Outcome } from './classify.js';
import { CodecCrash, judge, type Verdict } from './oracle.js';
import { refineWithConnack, type ServerModel } from './server-model.js';
import type { FuzzTarget } from './target.js';

export interface ExecuteParams {
  /** Bound on the wait for the close or the probe's answer, ms. */
  caseTimeoutMs: number;
  /** How long an incomplete case is watched before we close it, ms. */
  incompleteWaitMs: number;
}

/** The codec itself misbehaved on the case's bytes (found without any network). */
export interface CodecProblem {
  kind: 'codec-crash' | 'codec-chunking';
  detail: string;
}

export interface CaseResult {
  clientId: string;
  materialized: MaterializedCase;
  verdict: Verdict | undefined;
  observation: Observation | undefined;
  outcome: Outcome | undefined;
  codec: CodecProblem | undefined;
}

/** Unique ClientIds of fixed width, so a case's bytes have the same layout whatever its number. */
export class ClientIds {
  private n = 0;
  constructor(private readonly tag: string) {}
  next(): string {
    return `fz${this.tag}-${(this.n++).toString(36).padStart(7, '0')}`;
  }
}

/** Takeovers: which ClientIds are connected now (a spliced-in CONNECT may repeat another case's). */
export class LiveIds {
  private readonly live = new Map<string, { takenOver: boolean }>();

  /** Registers `id`; the returned flag turns true when another connection uses the same id. */
  enter(id: string | undefined): { takenOver: boolean } {
    const flag = { takenOver: false };
    if (id === undefined || id === '') return flag;
    const other = this.live.get(id);
    if (other) {
      other.takenOver = true;
      flag.takenOver = true;
    }
    this.live.set(id, flag);
    return flag;
  }

  leave(id: string | undefined, flag: { takenOver: boolean }): void {
    if (id !== undefined && this.live.get(id) === flag) this.live.delete(id);
  }
}

const same = (a: Verdict, b: Verdict): boolean =>
  a.kind === b.kind && a.packets === b.packets && (a.kind !== 'close' || (b.kind === 'close' && a.rule === b.rule));

/** The verdict, or the codec problem the bytes revealed. */
export function judgeCase(m: MaterializedCase, model: ServerModel): { verdict?: Verdict; codec?: CodecProblem } {
  try {
    const verdict = judge(m.stream, model, m.chunks);
    if (m.chunks.length > 1) {
      const whole = judge(m.stream, model);
      if (!same(whole, verdict)) {
        return { codec: { kind: 'codec-chunking', detail: `the verdict depends on the chunking: whole ${whole.kind}${whole.kind === 'close' ? ` (${whole.rule})` : ''} after ${whole.packets} packet(s), chunked ${verdict.kind}${verdict.kind === 'close' ? ` (${verdict.rule})` : ''} after ${verdict.packets}` } };
      }
    }
    return { verdict };
  } catch (e) {
    if (e instanceof CodecCrash) return { codec: { kind: 'codec-crash', detail: e.message } };
    throw e;
  }
}

export interface ExecuteHooks {
  live?: LiveIds | undefined;
  /** Called once the connection is open (the case counts as sent from then). */
  onOpen?: (() => void) | undefined;
}

export async function executeCase(c: FuzzCase, clientId: string, target: FuzzTarget, p: ExecuteParams, hooks: ExecuteHooks = {}): Promise<CaseResult> {
  const model = target.model;
  const m = materializeCase(c, { clientId, limits: model.maxPacketSizeKnown ? { maxPacketSize: model.maxPacketSize } : {} });
  const { verdict: pre, codec } = judgeCase(m, model);
  if (codec || !pre) return { clientId, materialized: m, verdict: undefined, observation: undefined, outcome: undefined, codec };
  const id = pre.connected ? pre.connect?.clientId : undefined;
  const flag = hooks.live?.enter(id) ?? { takenOver: false };
  let obs: Observation;
  try {
    obs = await observeCase(parseBrokerUrl(target.url()), m, {
      // A PINGREQ after bytes that end on a packet boundary: answered if the connection is served, ignored after an error.
      probe: pre.kind !== 'incomplete' && pre.kind !== 'client-disconnect',
      pingrespsDue: pre.pingreqs,
      dueAfterConnack: model.exact ? undefined : (ack) => (judgeCase(m, refineWithConnack(model, ack)).verdict ?? pre).pingreqs,
      decodeAs: pre.connected ? pre.version : undefined,
      endAfterWrite: pre.kind === 'client-disconnect',
      timeoutMs: pre.kind === 'incomplete' ? p.incompleteWaitMs : p.caseTimeoutMs,
      openTimeoutMs: p.caseTimeoutMs,
      tls: target.tls,
      onOpen: hooks.onOpen,
    });
  } finally {
    hooks.live?.leave(id, flag);
  }
  if (obs.openError !== undefined) return { clientId, materialized: m, verdict: pre, observation: obs, outcome: undefined, codec: undefined };
  // A 5.0 server states its limits in the CONNACK; judge again under them (no change for an exact model).
  const refined = refineWithConnack(model, obs.connack?.packet);
  const verdict = refined === model ? pre : (judgeCase(m, refined).verdict ?? pre);
  const outcome = classify(verdict, obs, { takeoverPossible: flag.takenOver, keepAlive: verdict.connect?.keepAlive ?? 0 });
  return { clientId, materialized: m, verdict, observation: obs, outcome, codec: undefined };
}

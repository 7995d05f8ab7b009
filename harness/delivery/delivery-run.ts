/**
 * One delivery-guarantee run: a publisher and a subscriber with persistent
 * sessions (session-client.ts), each behind its own fault proxy that cuts
 * or resets its connections at seeded random points; both reconnect after a
 * short random delay. Messages are numbered in the payload. When the
 * publisher is done the faults stop, the queue drains (bounded), and the
 * ledger gives the verdict: QoS 1 loses nothing, QoS 2 delivers each message
 * exactly once, one publisher's messages arrive in order.
 *
 * A broker that loses, duplicates, reorders or forgets a session yields
 * findings in the result, never an exception or a hang: every phase has a
 * time bound, and what a bound cut short is reported as 'incomplete'.
 */
import { randomBytes } from 'node:crypto';
import { SPEC_VERSION, type ProtocolVersion } from '../../codec/index.js';
import { FaultProxy, type Direction, type FaultPlan, type PacketHook, type PlanSource, type ProxyStats, type Trigger } from '../fault-proxy.js';
import { Rng } from '../seeded-random.js';
import { SessionClient, SessionClientError, type SessionClientStats, type SessionEvent, type SessionEventKind } from '../session-client.js';
import { DeliveryLedger, encodeMessage, type LedgerSummary } from './ledger.js';

export interface DeliveryFaults {
  /** Cut the publisher's / subscriber's connections (default both). */
  publisher?: boolean;
  subscriber?: boolean;
  /** Bytes a connection carries in its data direction before its cut (default 100–16,000; a tenth of that when the
   *  direction picked carries only acknowledgements). */
  cutAfterBytes?: { min: number; max: number };
  /** Share of connections cut within their first 0–80 bytes: during CONNECT, CONNACK, SUBSCRIBE (default 0.1). */
  earlyCutShare?: number;
  /** Share of connections cut after a time instead (default 0.1), drawn from `cutAfterMs` (default 20–500). */
  timedCutShare?: number;
  cutAfterMs?: { min: number; max: number };
  /** Pause before each reconnect (default 0–100 ms). */
  reconnectDelayMs?: { min: number; max: number };
}

export interface DeliveryOptions {
  /** Display name of the broker, and how to reach it (TCP). */
  broker: { name: string; url: string; username?: string | undefined; password?: string | undefined };
  version: ProtocolVersion;
  qos: 1 | 2;
  messages: number;
  seed: number;
  /** Payload size, bytes (default 16; at least 8: tag + number). */
  payloadBytes?: number;
  /** Publisher window: messages in flight (default 50). */
  window?: number;
  /** false: no cuts (for the checker's own tests). */
  faults?: DeliveryFaults | false;
  /** Bound on publishing everything and having it acknowledged (default 180 s). */
  publishTimeoutMs?: number;
  /** Bound on the drain after the publisher is done (default 30 s). */
  drainTimeoutMs?: number;
  /** The drain also ends after this long without a new message (default 3000 ms). */
  drainIdleMs?: number;
  /** MQTT-aware proxy hooks (to prove the checker can fail). */
  publisherHook?: PacketHook;
  subscriberHook?: PacketHook;
  onProgress?: (p: DeliveryProgress) => void;
  /** Progress callback period (default 2000 ms). */
  progressEveryMs?: number;
}

export interface DeliveryProgress {
  phase: 'publish' | 'drain';
  elapsedMs: number;
  published: number;
  acknowledged: number;
  received: number;
  cuts: number;
}

export type DeliveryVerdict = 'pass' | 'finding' | 'incomplete';

export interface DeliveryFinding {
  /** Stable key: lost, duplicated, dup-flag, order, session-lost, incomplete, refused, foreign. */
  kind: string;
  /** The spec statements concerned, for the version run. */
  statements: string[];
  text: string;
}

export interface ClientReport {
  clientId: string;
  stats: SessionClientStats;
  /** The first notable events (session lost, broker DISCONNECT, bad bytes, refused SUBSCRIBE), ms since the run's start. */
  events: { t: number; kind: SessionEventKind; detail: string; received: number }[];
  proxy: { connections: number; cuts: { close: number; reset: number } };
}

export interface DeliveryResult {
  broker: string;
  url: string;
  protocol: '3.1.1' | '5.0';
  qos: 1 | 2;
  seed: number;
  requested: number;
  ledger: LedgerSummary;
  cuts: number;
  reconnects: number;
  sessionsLost: number;
  publisher: ClientReport;
  subscriber: ClientReport;
  /** Whole run, publish phase, drain phase, ms. */
  durationMs: number;
  publishMs: number;
  drainMs: number;
  /** Acknowledged messages per second over the publish phase. */
  rate: number;
  verdict: DeliveryVerdict;
  findings: DeliveryFinding[];
  settings: { window: number; payloadBytes: number; faults: DeliveryFaults | false; publishTimeoutMs: number; drainTimeoutMs: number };
  /** Why the run could not start or finish, when it could not. */
  error?: string;
}

const DEFAULT_FAULTS: Required<DeliveryFaults> = {
  publisher: true, subscriber: true, cutAfterBytes: { min: 100, max: 16_000 }, earlyCutShare: 0.1, timedCutShare: 0.1,
  cutAfterMs: { min: 20, max: 500 }, reconnectDelayMs: { min: 0, max: 100 },
};

/**
 * The per-connection plan of a delivery run: one cut, FIN or RST, at a seeded
 * random point in a random direction. Byte offsets in the direction that
 * carries only acknowledgements (4–6 bytes a message) are scaled down, so
 * either direction is cut about as often per message.
 */
export function cutPlan(f: Required<DeliveryFaults>, role: 'publisher' | 'subscriber', hook: PacketHook | undefined): PlanSource {
  const dataDirection: Direction = role === 'publisher' ? 'toBroker' : 'toClient';
  return (_conn, rng): FaultPlan => {
    const direction = rng.pick(['toBroker', 'toClient'] as const);
    const scale = direction === dataDirection ? 1 : ACK_SCALE;
    const roll = rng.next();
    const at: Trigger = roll < f.earlyCutShare ? { afterBytes: { min: 0, max: 80 } }
      : roll < f.earlyCutShare + f.timedCutShare ? { afterMs: f.cutAfterMs }
        : { afterBytes: { min: Math.max(1, Math.round(f.cutAfterBytes.min / scale)), max: Math.max(1, Math.round(f.cutAfterBytes.max / scale)) } };
    return { cut: { mode: 'either', direction, at }, ...(hook ? { packets: hook } : {}) };
  };
}

/** Bytes a message costs in the data direction over the acknowledgement direction, roughly. */
const ACK_SCALE = 10;

/** Statement ids of the guarantees, per protocol version. */
const STATEMENTS: Record<string, Record<ProtocolVersion, string[]>> = {
  lost: { 4: ['MQTT-3.1.2-5', 'MQTT-4.4.0-1', 'MQTT-4.5.0-1'], 5: ['MQTT-4.4.0-1', 'MQTT-4.5.0-1'] },
  duplicated: { 4: ['MQTT-4.3.3-1', 'MQTT-4.3.3-2'], 5: ['MQTT-4.3.3-6', 'MQTT-4.3.3-10'] },
  order: { 4: ['MQTT-4.6.0-6'], 5: ['MQTT-4.6.0-5'] },
  'session-lost': { 4: ['MQTT-3.1.2-4', 'MQTT-3.2.2-2'], 5: ['MQTT-3.1.2-5'] },
  'dup-flag': { 4: ['MQTT-3.3.1-1'], 5: ['MQTT-3.3.1-1'] },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves true when `cond` holds, false after `ms` (polled every `everyMs`). */
async function waitUntil(cond: () => boolean, ms: number, everyMs = 20): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() >= end) return false;
    await sleep(everyMs);
  }
  return true;
}

export async function runDelivery(o: DeliveryOptions): Promise<DeliveryResult> {
  const t0 = performance.now();
  const rng = new Rng(o.seed);
  const runId = randomBytes(3).toString('hex');
  const tag = rng.int(1, 0x7fffffff);
  const topic = `mqtt-testbed/delivery/${runId}`;
  const payloadBytes = Math.max(8, o.payloadBytes ?? 16);
  const window = o.window ?? 50;
  const faults = o.faults === false ? false : { ...DEFAULT_FAULTS, ...o.faults };
  const publishTimeoutMs = o.publishTimeoutMs ?? 180_000;
  const drainTimeoutMs = o.drainTimeoutMs ?? 30_000;
  const ledger = new DeliveryLedger(tag, o.messages);
  const quiet: FaultPlan = {};
  const planFor = (role: 'publisher' | 'subscriber', cut: boolean | undefined, hook: PacketHook | undefined): PlanSource =>
    faults && cut ? cutPlan(faults, role, hook) : hook ? { packets: hook } : quiet;

  const pubProxy = await FaultProxy.start({ target: o.broker.url, seed: o.seed * 2 + 1, plan: planFor('publisher', faults && faults.publisher, o.publisherHook) });
  const subProxy = await FaultProxy.start({ target: o.broker.url, seed: o.seed * 2 + 2, plan: planFor('subscriber', faults && faults.subscriber, o.subscriberHook) });
  const common = {
    version: o.version, username: o.broker.username, password: o.broker.password, keepAlive: 30,
    reconnectDelayMs: faults ? faults.reconnectDelayMs : { min: 0, max: 50 }, connectTimeoutMs: 5000,
  };
  // ≤ 23 characters: the limit every 3.1.1 server must accept [MQTT-3.1.3-5] (Aedes enforces it).
  const notable = new Set<SessionEventKind>(['session-lost', 'broker-disconnect', 'bad-bytes', 'subscribe-refused']);
  const events: Record<'publisher' | 'subscriber', ClientReport['events']> = { publisher: [], subscriber: [] };
  const note = (who: 'publisher' | 'subscriber', e: SessionEvent): void => {
    // Kept short: the first 20 per client, with how many messages had arrived by then.
    if (notable.has(e.kind) && events[who].length < 20) events[who].push({ t: Math.round(performance.now() - t0), kind: e.kind, detail: e.detail, received: ledger.receivedCount });
  };
  const subscriber = new SessionClient({
    ...common, url: subProxy.url, clientId: `dg${runId}s`, seed: o.seed * 3 + 1,
    subscriptions: [{ topicFilter: topic, qos: o.qos }],
    onMessage: (m) => ledger.received(m.payload, m.dup),
    onEvent: (e) => note('subscriber', e),
  });
  const publisher = new SessionClient({ ...common, url: pubProxy.url, clientId: `dg${runId}p`, seed: o.seed * 3 + 2, window, onEvent: (e) => note('publisher', e) });
  const cuts = (s: ProxyStats): number => s.faults.close + s.faults.reset;
  const progress = (phase: DeliveryProgress['phase']): DeliveryProgress => {
    const s = ledger.summary();
    return {
      phase, elapsedMs: Math.round(performance.now() - t0), published: s.published, acknowledged: s.acknowledged, received: s.received,
      cuts: cuts(pubProxy.stats()) + cuts(subProxy.stats()),
    };
  };
  let phase: DeliveryProgress['phase'] = 'publish';
  const ticker = o.onProgress ? setInterval(() => o.onProgress!(progress(phase)), o.progressEveryMs ?? 2000) : undefined;
  let error: string | undefined;
  let truncated = false;
  let tPublished = t0;
  let tDrained = t0;
  const outstanding = new Set<Promise<void>>();
  try {
    // Clients start while the faults are already on: early cuts hit CONNECT and SUBSCRIBE too.
    await subscriber.start(30_000);
    await publisher.start(30_000);
    const deadline = t0 + publishTimeoutMs;
    for (let seq = 0; seq < o.messages; seq++) {
      if (publisher.inFlight + publisher.queued >= window) {
        const opened = await Promise.race([publisher.windowSpace().then(() => true), sleep(Math.max(0, deadline - performance.now())).then(() => false)]);
        if (!opened) { truncated = true; break; }
      }
      if (performance.now() > deadline) { truncated = true; break; }
      ledger.published(seq);
      const p = publisher.publish(topic, encodeMessage(tag, seq, payloadBytes), o.qos).then(
        () => ledger.acked(seq),
        (e: unknown) => ledger.failed(seq, e instanceof SessionClientError && e.code === 'SESSION_LOST' ? 'sessionLost' : e instanceof SessionClientError && e.code === 'REFUSED' ? 'refused' : 'closed'),
      );
      outstanding.add(p);
      void p.finally(() => outstanding.delete(p));
    }
    // Stop cutting: the rest is about what the broker still holds, not about more faults.
    pubProxy.setPlan(planFor('publisher', false, o.publisherHook), { existing: true });
    subProxy.setPlan(planFor('subscriber', false, o.subscriberHook), { existing: true });
    if (!(await waitUntil(() => outstanding.size === 0, Math.max(5000, deadline - performance.now())))) truncated = true;
    tPublished = performance.now();
    phase = 'drain';
    // Drain: until every acknowledged message arrived, or nothing new for drainIdleMs, within the bound.
    const idleMs = o.drainIdleMs ?? 3000;
    let last = ledger.receivedCount;
    let lastChange = performance.now();
    await waitUntil(() => {
      if (ledger.receivedCount !== last) { last = ledger.receivedCount; lastChange = performance.now(); }
      return ledger.allAcknowledgedReceived() || performance.now() - lastChange > idleMs;
    }, drainTimeoutMs, 50);
    // A short quiet spell, so late duplicates are counted too.
    await sleep(o.qos === 2 ? 300 : 200);
    tDrained = performance.now();
  } catch (e) {
    error = (e as Error).message;
    tPublished = tDrained = performance.now();
  } finally {
    if (ticker) clearInterval(ticker);
    await Promise.all([publisher.close({ endSession: true }), subscriber.close({ endSession: true })]).catch(() => undefined);
    await Promise.all([pubProxy.close(), subProxy.close()]);
  }
  const summary = ledger.summary();
  const ps = pubProxy.stats();
  const ss = subProxy.stats();
  const report = (c: SessionClient, id: string, s: ProxyStats, who: 'publisher' | 'subscriber'): ClientReport => ({
    clientId: id, stats: { ...c.stats }, events: events[who], proxy: { connections: s.connections.accepted, cuts: { close: s.faults.close, reset: s.faults.reset } },
  });
  const publishMs = tPublished - t0;
  const result: DeliveryResult = {
    broker: o.broker.name, url: o.broker.url, protocol: SPEC_VERSION[o.version], qos: o.qos, seed: o.seed, requested: o.messages,
    ledger: summary,
    cuts: cuts(ps) + cuts(ss),
    reconnects: Math.max(0, publisher.stats.connects - 1) + Math.max(0, subscriber.stats.connects - 1),
    sessionsLost: publisher.stats.sessionsLost + subscriber.stats.sessionsLost,
    publisher: report(publisher, `dg${runId}p`, ps, 'publisher'),
    subscriber: report(subscriber, `dg${runId}s`, ss, 'subscriber'),
    durationMs: Math.round(performance.now() - t0),
    publishMs: Math.round(publishMs),
    drainMs: Math.round(tDrained - tPublished),
    rate: publishMs > 0 ? Math.round((summary.acknowledged / publishMs) * 1000) : 0,
    verdict: 'pass',
    findings: [],
    settings: { window, payloadBytes, faults, publishTimeoutMs, drainTimeoutMs },
    ...(error !== undefined ? { error } : {}),
  };
  judge(result, o.version, truncated);
  return result;
}

/** Fills findings and the verdict. */
function judge(r: DeliveryResult, v: ProtocolVersion, truncated: boolean): void {
  const l = r.ledger;
  const add = (kind: string, statementsKey: string, text: string): void => {
    r.findings.push({ kind, statements: STATEMENTS[statementsKey]?.[v] ?? [], text });
  };
  if (l.lost > 0) {
    add('lost', 'lost',
      `QoS ${r.qos}: ${l.lost} acknowledged message(s) never delivered (first: ${l.lostExamples.slice(0, 5).join(', ')})`);
  }
  if (r.qos === 2 && l.duplicates > 0) {
    add('duplicated', 'duplicated', `QoS 2: ${l.duplicates} duplicate deliver${l.duplicates === 1 ? 'y' : 'ies'} (messages ${l.duplicateExamples.slice(0, 5).join(', ')}; ${l.duplicatesFlaggedDup} with DUP 1)`);
  }
  const unflagged = l.duplicates - l.duplicatesFlaggedDup;
  if (unflagged > 0 && r.publisher.stats.resentPublishes === 0) {
    // The publisher sent every message once, so each extra copy is the broker's re-delivery, which carries DUP 1.
    add('dup-flag', 'dup-flag', `${unflagged} re-deliver${unflagged === 1 ? 'y' : 'ies'} without DUP 1 (the publisher sent every message once)`);
  }
  if (l.orderViolations > 0) {
    const ex = l.orderExamples.slice(0, 3).map((e) => `${e.seq} after ${e.after}`).join(', ');
    add('order', 'order', `${l.orderViolations} message(s) first delivered after a later one of the same publisher (${ex})`);
  }
  if (r.sessionsLost > 0) {
    add('session-lost', 'session-lost', `${r.sessionsLost} reconnect(s) found no session (CONNACK Session Present 0) although the session had not expired`);
  }
  if (l.failed.refused > 0) add('refused', '', `${l.failed.refused} publish(es) refused by the broker (reason code ≥ 0x80)`);
  if (l.foreign > 0) add('foreign', '', `${l.foreign} receipt(s) that were not messages of this run`);
  const incomplete = r.error !== undefined || truncated || l.published < r.requested;
  if (incomplete) {
    add('incomplete', '', r.error ?? `published ${l.published} of ${r.requested}, ${l.unsettled} unsettled when the ${r.settings.publishTimeoutMs / 1000} s bound ran out`);
  }
  r.verdict = r.findings.some((f) => f.kind !== 'incomplete') ? 'finding' : incomplete ? 'incomplete' : 'pass';
}

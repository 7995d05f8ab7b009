/** An Application Message as the broker holds it between receiving and delivering. */
import type { PublishProperties, QoS } from '../../codec/index.js';

export interface AppMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Properties forwarded to subscribers (5.0), without Topic Alias and Subscription Identifiers. */
  properties: PublishProperties | undefined;
  /** Clock time after which the message is no longer delivered (5.0 Message Expiry Interval). */
  expiresAt: number | undefined;
  /** ClientID of the publisher (No Local); undefined for messages the broker makes. */
  origin: string | undefined;
}

/** Properties a PUBLISH carries to subscribers: everything but Topic Alias and Subscription Identifiers (§3.3.4). */
export function forwardedProperties(p: PublishProperties | undefined): PublishProperties | undefined {
  if (p === undefined) return undefined;
  if (p.topicAlias === undefined && p.subscriptionIdentifiers === undefined) return p;
  const { topicAlias: _a, subscriptionIdentifiers: _s, ...rest } = p;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/**
 * A copy of `b` in an allocation of its own. Buffer.from() and Buffer.allocUnsafe() take small buffers
 * (under 4 KiB) from Node's shared 8 KiB pool, and one slice held for long keeps its whole slab alive:
 * a 5-byte retained payload would cost 8 KiB, whatever else the slab held once.
 */
export function ownedCopy(b: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}

/** A message held beyond the read it arrived in; `wire` holds its encodings (wire-cache.ts). */
export type HeldMessage = AppMessage & { owned?: boolean; wire?: unknown };

/** True once ownMessage copied the message's buffers: it may be held for long, and so may what is cached on it. */
export function isOwned(msg: AppMessage): boolean {
  return (msg as HeldMessage).owned === true;
}

/**
 * Copies the message's buffers out of the socket chunk they were decoded from
 * (the codec hands out views), before the message is held beyond the current
 * read: queued, in flight or retained. Encodings cached before (pool slices)
 * are dropped, to be built again in allocations of their own. Idempotent.
 */
export function ownMessage(msg: AppMessage): void {
  const m = msg as HeldMessage;
  if (m.owned) return;
  m.payload = ownedCopy(m.payload);
  const cd = m.properties?.correlationData;
  if (cd !== undefined) m.properties = { ...m.properties, correlationData: ownedCopy(cd) };
  m.wire = undefined;
  m.owned = true;
}

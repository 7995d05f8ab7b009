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
 * Copies the message's buffers out of the socket chunk they were decoded from
 * (the codec hands out views), before the message is held beyond the current
 * read: queued, in flight or retained. Idempotent.
 */
export function ownMessage(msg: AppMessage): void {
  const m = msg as AppMessage & { owned?: boolean };
  if (m.owned) return;
  m.payload = Buffer.from(m.payload);
  const cd = m.properties?.correlationData;
  if (cd !== undefined) m.properties = { ...m.properties, correlationData: Buffer.from(cd) };
  m.owned = true;
}

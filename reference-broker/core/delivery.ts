/**
 * Outbound delivery to one session: QoS 0 straight to the socket; QoS 1/2
 * through the in-flight window (5.0 Receive Maximum [MQTT-3.3.4-9], 3.1.1 a
 * server limit), queued in order behind it; resent with DUP on reconnect
 * [MQTT-4.4.0-1]. Builds each outgoing PUBLISH: remaining expiry
 * [MQTT-3.3.2-6], Subscription Identifiers, topic aliases [MQTT-3.1.2-26],
 * and drops what exceeds the client's Maximum Packet Size [MQTT-3.1.2-25].
 */
import { encode, type PublishPacket, type PublishProperties } from '../../codec/index.js';
import type { Connection } from './connection.js';
import type { FaultSet } from './faults.js';
import { ownMessage } from './message.js';
import type { Persistence } from './persistence.js';
import { sharedPublishBytes } from './wire-cache.js';
import type { Outbound, Session } from './session.js';

export interface DeliveryContext {
  now(): number;
  /** Suite self-checks only (core/faults.ts). */
  faults: FaultSet;
  maxInflight: number;
  maxQueuedMessages: number;
  maxWriteBuffer: number;
  outboundTopicAliases: boolean;
  queueHighWaterMark: number;
  queueLowWaterMark: number;
  stats: { messagesOut: number; dropped: number };
  persistence: Persistence;
  /** `publisher` filled a connected `session`'s queue to the high-water mark: pause it. */
  throttle(publisher: Connection, session: Session): void;
  /** `session`'s queue is down to the low-water mark: resume its publishers, stop shedding. */
  drained(session: Session): void;
  /** Counts and logs (rate-limited) a delivery not made. */
  dropped(session: Session, why: 'queue-full' | 'slow-subscriber' | 'qos0-backpressure'): void;
}

function liveConnection(session: Session): Connection | undefined {
  const c = session.connection as Connection | undefined;
  return c && c.isOpen ? c : undefined;
}

function windowSize(conn: Connection, ctx: DeliveryContext): number {
  // FAULT receive-maximum-ignored: the server's own window instead of the client's Receive Maximum.
  return conn.version === 5 && !ctx.faults['receive-maximum-ignored'] ? conn.clientReceiveMaximum : ctx.maxInflight;
}

function expired(out: Outbound, now: number): boolean {
  return out.msg.expiresAt !== undefined && out.msg.expiresAt <= now;
}

/** Takes the payload out of the socket chunk it arrived in before the message is held for long. */
function own(out: Outbound): void {
  ownMessage(out.msg);
}

/**
 * Hands `out` to `session`: sent at once when the window has room, else
 * queued. A connected session's queue at the high-water mark pauses the
 * publisher `from` (back-pressure); a session shedding after a pause timed
 * out, or any queue at maxQueuedMessages, drops instead.
 */
export function enqueue(ctx: DeliveryContext, session: Session, out: Outbound, from?: Connection): void {
  // FAULT qos-downgrade: everything at QoS 0.
  if (ctx.faults['qos-downgrade']) out.qos = 0;
  const conn = liveConnection(session);
  if (out.qos === 0) {
    // QoS 0 is not kept for offline clients; dropped under back-pressure.
    if (!conn) {
      ctx.stats.dropped++;
      return;
    }
    if (conn.link.bufferedBytes() > ctx.maxWriteBuffer) {
      ctx.dropped(session, 'qos0-backpressure');
      return;
    }
    sendPublish(conn, out, false, ctx);
    return;
  }
  if (conn && session.queue.length === 0 && session.inflight.size < windowSize(conn, ctx) && conn.link.bufferedBytes() <= ctx.maxWriteBuffer) {
    own(out);
    startInflight(conn, session, out, ctx);
    return;
  }
  if (session.queue.length >= ctx.maxQueuedMessages) {
    ctx.dropped(session, 'queue-full');
    return;
  }
  if (conn && session.shedding && session.queue.length >= ctx.queueHighWaterMark) {
    ctx.dropped(session, 'slow-subscriber');
    return;
  }
  own(out);
  session.queue.push(out);
  ctx.persistence.outbound(session, out);
  // Never the subscriber's own connection: pausing it would stop the acknowledgements that drain the queue.
  if (conn && from && from !== conn && !session.shedding && session.queue.length >= ctx.queueHighWaterMark) ctx.throttle(from, session);
}

function startInflight(conn: Connection, session: Session, out: Outbound, ctx: DeliveryContext): void {
  out.packetId = session.allocatePacketId();
  out.phase = 'publish';
  session.inflight.set(out.packetId, out);
  ctx.persistence.outbound(session, out);
  // Too large for the client: behave as if delivered [MQTT-3.1.2-25].
  if (!sendPublish(conn, out, false, ctx)) complete(ctx, session, out);
}

/** A delivery in flight is over (acknowledged, refused or undeliverable): its Packet Identifier is free again. */
export function complete(ctx: DeliveryContext, session: Session, out: Outbound): void {
  session.inflight.delete(out.packetId);
  ctx.persistence.outboundDone(session, out);
}

/** Moves queued deliveries into the window while there is room. */
export function drain(ctx: DeliveryContext, session: Session): void {
  const conn = liveConnection(session);
  if (!conn) return;
  const max = windowSize(conn, ctx);
  const now = ctx.now();
  const deferred = conn.deferredResends;
  if (deferred) {
    // Resends first, in order, each when the window has room [MQTT-4.4.0-1, MQTT-3.3.4-9].
    for (const id of deferred) if (session.inflight.get(id)?.phase !== 'publish') deferred.delete(id); // acknowledged meanwhile
    for (const id of deferred) {
      if (session.inflight.size - deferred.size >= max || conn.link.bufferedBytes() > ctx.maxWriteBuffer) break;
      deferred.delete(id);
      const out = session.inflight.get(id)!;
      if (!sendPublish(conn, out, true, ctx)) complete(ctx, session, out);
    }
    if (deferred.size > 0) return;
    conn.deferredResends = undefined;
  }
  while (session.queue.length > 0 && session.inflight.size < max && conn.link.bufferedBytes() <= ctx.maxWriteBuffer) {
    const out = session.queue.shift()!;
    if (expired(out, now)) {
      ctx.persistence.outboundDone(session, out); // [MQTT-3.3.2-5]
      continue;
    }
    startInflight(conn, session, out, ctx);
  }
  if ((session.pausedPublishers !== undefined || session.shedding) && session.queue.length <= ctx.queueLowWaterMark) ctx.drained(session);
}

/**
 * After CONNACK on a resumed session: resend in-flight PUBLISH (DUP) and PUBREL
 * in order, then the queue. PUBLISHes beyond the client's (new) window wait
 * for room [MQTT-3.3.4-9]; PUBRELs are never held back [MQTT-3.3.4-10] but
 * keep their slot until PUBCOMP.
 */
export function resume(ctx: DeliveryContext, session: Session): void {
  const conn = liveConnection(session);
  if (!conn) return;
  const max = windowSize(conn, ctx);
  const f = ctx.faults;
  // FAULT reorder-queued: what waited while the client was away goes out newest first.
  if (f['reorder-queued'] && session.queue.length > 1) {
    const newestFirst = [...session.queue].reverse();
    session.queue.clear();
    for (const out of newestFirst) session.queue.push(out);
  }
  let used = 0;
  for (const out of [...session.inflight.values()]) {
    if (out.phase === 'pubrel') {
      conn.send({ type: 'pubrel', packetId: out.packetId, reasonCode: conn.version === 5 ? 0 : undefined });
      used++;
    } else if (f['redelivery-lost']) {
      complete(ctx, session, out); // FAULT redelivery-lost: forgotten instead of resent
    } else if (used >= max) {
      (conn.deferredResends ??= new Set()).add(out.packetId);
    } else if (sendPublish(conn, out, !f['no-dup-on-redelivery'], ctx)) { // FAULT no-dup-on-redelivery: DUP 0
      used++;
    } else {
      complete(ctx, session, out);
    }
  }
  drain(ctx, session);
}

/** Encodes and writes one PUBLISH for `out`; false if it exceeded the client's Maximum Packet Size. */
export function sendPublish(conn: Connection, out: Outbound, dup: boolean, ctx: DeliveryContext): boolean {
  const msg = out.msg;
  const v5 = conn.version === 5;
  let bytes: Buffer;
  let newAlias: string | undefined;
  const perSubscriber = v5 && (msg.expiresAt !== undefined || out.subscriptionIds !== undefined || (ctx.outboundTopicAliases && conn.clientTopicAliasMaximum > 0));
  if (!perSubscriber) {
    bytes = sharedPublishBytes(msg, conn.version ?? 4, out.qos, out.retain, out.packetId, dup && out.qos > 0);
  } else {
    let props: PublishProperties | undefined = msg.properties;
    // FAULT subscription-id-missing: the identifiers are left out.
    const ids = ctx.faults['subscription-id-missing'] ? undefined : out.subscriptionIds;
    if (msg.expiresAt !== undefined || ids !== undefined) {
      props = { ...props };
      if (msg.expiresAt !== undefined) props.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - ctx.now()) / 1000));
      if (ids !== undefined) props.subscriptionIdentifiers = ids;
    }
    let topic = msg.topic;
    if (ctx.outboundTopicAliases && conn.clientTopicAliasMaximum > 0) {
      const aliases = (conn.outboundAliases ??= new Map());
      const alias = aliases.get(topic);
      if (alias !== undefined) {
        props = { ...props, topicAlias: alias };
        topic = '';
      } else if (aliases.size < conn.clientTopicAliasMaximum) {
        newAlias = topic;
        props = { ...props, topicAlias: aliases.size + 1 };
        aliases.set(topic, aliases.size + 1);
      }
    }
    const packet: PublishPacket = { type: 'publish', topic, payload: msg.payload, qos: out.qos, retain: out.retain, dup: dup && out.qos > 0 };
    if (out.qos > 0) packet.packetId = out.packetId;
    if (props !== undefined) packet.properties = props;
    bytes = encode(packet, 5);
  }
  if (bytes.length > conn.clientMaxPacketSize) {
    if (newAlias !== undefined) conn.outboundAliases!.delete(newAlias);
    conn.broker.opts.logger.debug('PUBLISH larger than the client Maximum Packet Size; dropped', { clientId: conn.info?.clientId, size: bytes.length });
    return false;
  }
  ctx.stats.messagesOut++;
  conn.write(bytes);
  return true;
}

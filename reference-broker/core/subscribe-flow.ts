/**
 * SUBSCRIBE and UNSUBSCRIBE (3.1.1 §3.8–3.11, 5.0 §3.8–3.11): grant
 * min(requested, Maximum QoS), replace identical filters, send matching
 * retained messages per Retain Handling, answer with one code per filter.
 */
import { parseSharedFilter, type QoS, type SubscribePacket, type UnsubscribePacket } from '../../codec/index.js';
import type { Connection } from './connection.js';
import type { Subscription } from './subscription-trie.js';
import type { Session } from './session.js';

const hasWildcard = (f: string): boolean => f.includes('+') || f.includes('#');

export function handleSubscribe(conn: Connection, p: SubscribePacket): void {
  const broker = conn.broker;
  const opts = broker.opts;
  const session = conn.session!;
  const v5 = conn.version === 5;
  const subscriptionId = p.properties?.subscriptionIdentifiers?.[0];
  if (subscriptionId !== undefined && !opts.subscriptionIdentifiers) {
    conn.protocolError('Subscription Identifiers are not supported', 0xa1);
    return;
  }
  const codes: number[] = [];
  const retainedToSend: { sub: Subscription<Session>; filter: string }[] = [];
  for (const s of p.subscriptions) {
    let filter = s.topicFilter;
    let shareName: string | undefined;
    if (v5 && filter.startsWith('$share/')) {
      if (!opts.sharedSubscriptions) { codes.push(0x9e); continue; }
      const parsed = parseSharedFilter(filter);
      if (typeof parsed === 'string') { codes.push(0x8f); continue; }
      shareName = parsed.shareName;
      filter = parsed.filter;
    }
    if (!opts.wildcardSubscriptions && hasWildcard(filter)) { codes.push(v5 ? 0xa2 : 0x80); continue; }
    // FAULT acl-subscribe-ignored: the hook is never asked.
    const authorize = opts.faults['acl-subscribe-ignored'] ? undefined : opts.hooks.authorizeSubscribe;
    let allowed = true;
    if (authorize) {
      try {
        allowed = authorize(conn.info!, s.topicFilter, s.qos);
      } catch (e) {
        // A transient error: close this connection instead of throwing out of onData [3.1.1 MQTT-4.8.0-2].
        opts.logger.error('authorizeSubscribe hook threw', { clientId: session.clientId, filter: s.topicFilter, error: String(e) });
        conn.protocolError('authorization failed internally', 0x83);
        return;
      }
    }
    if (!allowed) {
      opts.logger.info('SUBSCRIBE denied', { clientId: session.clientId, username: conn.info!.username, filter: s.topicFilter });
      broker.stats.denied++;
      codes.push(v5 ? 0x87 : 0x80);
      continue;
    }
    const granted = Math.min(s.qos, opts.maxQoS) as QoS;
    const sub: Subscription<Session> = {
      owner: session, filter: s.topicFilter, shareName, qos: granted,
      noLocal: s.noLocal ?? false, retainAsPublished: s.retainAsPublished ?? false,
      retainHandling: s.retainHandling ?? 0, subscriptionId,
    };
    // An identical filter replaces the existing subscription [MQTT-3.8.4-3].
    const existed = broker.addSubscription(session, sub, filter);
    codes.push(granted);
    // Retained messages: not for shared subscriptions; Retain Handling 0 always, 1 only when new, 2 never [MQTT-3.3.1-9..11].
    if (shareName === undefined && (sub.retainHandling === 0 || (sub.retainHandling === 1 && !existed))) {
      retainedToSend.push({ sub, filter });
    }
  }
  // FAULT suback-order: the codes in reverse order.
  if (opts.faults['suback-order']) codes.reverse();
  conn.send({ type: 'suback', packetId: p.packetId, reasonCodes: codes });
  for (const { sub, filter } of retainedToSend) {
    for (const msg of broker.retained.match(filter, broker.clock.now())) {
      broker.enqueue(session, {
        msg, qos: (msg.qos < sub.qos ? msg.qos : sub.qos) as QoS,
        // Retained messages sent because of a new subscription keep RETAIN 1 [3.1.1 MQTT-3.3.1-8; 5.0 §3.3.1.3].
        retain: true,
        subscriptionIds: sub.subscriptionId !== undefined ? [sub.subscriptionId] : undefined,
        packetId: 0, phase: 'publish',
      });
    }
  }
}

export function handleUnsubscribe(conn: Connection, p: UnsubscribePacket): void {
  const session = conn.session!;
  const codes: number[] = [];
  for (const f of p.topicFilters) {
    const removed = conn.broker.removeSubscription(session, f);
    codes.push(removed ? 0x00 : 0x11);
  }
  // UNSUBACK even when nothing matched [3.1.1 MQTT-3.10.4-5; 5.0 MQTT-3.10.4-5].
  conn.send({ type: 'unsuback', packetId: p.packetId, reasonCodes: conn.version === 5 ? codes : undefined });
}

/**
 * The broker core: sessions by ClientID, the subscription router, retained
 * messages, Wills and session expiry. It owns no sockets: listeners hand it
 * Links, and it reads time only from its Clock, so tests drive it exactly.
 */
import { randomBytes } from 'node:crypto';
import type { ProtocolVersion, QoS } from '../../codec/index.js';
import { type Clock, systemClock } from './clock.js';
import { Connection } from './connection.js';
import { type DeliveryContext, drain, enqueue, resume } from './delivery.js';
import type { Link } from './link.js';
import { type AppMessage, ownMessage } from './message.js';
import { type BrokerOptions, type ClientInfo, type ResolvedOptions, resolveOptions } from './options.js';
import { RetainedStore } from './retained-store.js';
import { Router } from './router.js';
import { type Outbound, Session } from './session.js';

export interface BrokerStats {
  connectionsTotal: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  dropped: number;
  denied: number;
  /** Broker bugs caught at the listener edge (should stay 0). */
  internalErrors: number;
}

export class Broker {
  readonly opts: ResolvedOptions;
  readonly clock: Clock;
  readonly sessions = new Map<string, Session>();
  readonly router = new Router();
  readonly retained = new RetainedStore();
  readonly connections = new Set<Connection>();
  readonly stats: BrokerStats = { connectionsTotal: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, denied: 0, internalErrors: 0 };
  private readonly delivery: DeliveryContext;
  private open = 0;
  private closing = false;

  constructor(options: BrokerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.opts = resolveOptions(options, this.clock);
    const self = this;
    this.delivery = {
      now: () => self.clock.now(),
      maxInflight: this.opts.maxInflight,
      maxQueuedMessages: this.opts.maxQueuedMessages,
      maxWriteBuffer: this.opts.maxWriteBuffer,
      outboundTopicAliases: this.opts.outboundTopicAliases,
      stats: this.stats,
    };
  }

  /** Connections that completed CONNECT and are still open. */
  get openConnections(): number {
    return this.open;
  }

  /** A new network connection. The listener feeds it bytes (onData) and tells it when the link closes (onClosed). */
  accept(link: Link): Connection {
    const conn = new Connection(this, link);
    if (this.closing) {
      link.destroy();
      conn.close('server shutting down'); // a closed Connection ignores whatever it is fed
      return conn;
    }
    this.connections.add(conn);
    this.stats.connectionsTotal++;
    return conn;
  }

  newClientId(): string {
    for (;;) {
      const id = `mqtb-${randomBytes(9).toString('base64url')}`;
      if (!this.sessions.has(id)) return id;
    }
  }

  capSessionExpiry(requested: number): number {
    const max = this.opts.maxSessionExpiryInterval;
    return max !== undefined && requested > max ? max : requested;
  }

  /**
   * Takes over any live connection with this ClientID [MQTT-3.1.4-3], then
   * starts a new session (Clean Start 1 [MQTT-3.1.2-4]) or resumes the
   * stored one [MQTT-3.1.2-5, MQTT-3.1.2-6]. Returns whether a session was present.
   */
  attachSession(conn: Connection, clientId: string, clean: boolean, version: ProtocolVersion): { session: Session; present: boolean } {
    let session = this.sessions.get(clientId);
    const previous = session?.connection as Connection | undefined;
    if (previous && previous !== conn) previous.takenOver();
    session = this.sessions.get(clientId); // the takeover may have ended it
    if (session && clean) {
      this.endSession(session);
      session = undefined;
    }
    let present = false;
    if (session) {
      present = true;
      // Reconnected in time: no Will, no expiry [MQTT-3.1.3-9].
      session.cancelTimers();
      session.will = undefined;
      session.version = version;
    } else {
      session = new Session(clientId, version);
      this.sessions.set(clientId, session);
    }
    session.connection = conn;
    conn.session = session;
    this.open++;
    return { session, present };
  }

  /** Deletes a session: subscriptions, queued messages; publishes a Will still pending [MQTT-3.1.2-8]. */
  endSession(session: Session): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    session.cancelTimers();
    for (const sub of session.subscriptions.values()) {
      this.router.trie.remove(sub.shareName !== undefined ? sub.filter.slice(8 + sub.shareName.length) : sub.filter, session, sub.shareName);
    }
    session.subscriptions.clear();
    session.inflight.clear();
    session.queue.clear();
    session.inboundQos2.clear();
    const will = session.will;
    session.will = undefined;
    if (will) this.publishWill(will.msg);
  }

  removeSubscription(session: Session, filter: string): boolean {
    const sub = session.subscriptions.get(filter);
    if (!sub) return false;
    session.subscriptions.delete(filter);
    this.router.trie.remove(sub.shareName !== undefined ? filter.slice(8 + sub.shareName.length) : filter, session, sub.shareName);
    return true;
  }

  /** Called once when a connection closes for any reason. */
  connectionClosed(conn: Connection, wasOpen: boolean, why: string): void {
    this.connections.delete(conn);
    const session = conn.session;
    if (!wasOpen || !session || session.connection !== conn) return;
    this.open--;
    session.connection = undefined;
    this.opts.logger.info('client disconnected', { clientId: session.clientId, why });
    let will = conn.will;
    conn.will = undefined;
    // The Will goes out under this client's identity: authorize it while that identity is known.
    if (will && conn.info && !this.willAuthorized(conn.info, will.msg)) will = undefined;
    if (session.expiryInterval === 0 || this.closing) {
      if (will && !this.closing) session.will = will;
      this.endSession(session);
      return;
    }
    if (will) {
      if (will.delay === 0) {
        this.publishWill(will.msg);
      } else {
        // Will Delay Interval: published when it passes or the session ends, whichever is first [MQTT-3.1.2-8].
        session.will = will;
        session.willTimer = this.clock.setTimer(Math.min(will.delay, session.expiryInterval) * 1000, () => {
          const w = session.will;
          session.will = undefined;
          session.willTimer = undefined;
          if (w) this.publishWill(w.msg);
        });
      }
    }
    if (session.expiryInterval !== 0xffffffff) {
      session.expiryTimer = this.clock.setTimer(session.expiryInterval * 1000, () => {
        session.expiryTimer = undefined;
        if (!session.connection) this.endSession(session);
      });
    }
  }

  private willAuthorized(info: ClientInfo, msg: AppMessage): boolean {
    const authorize = this.opts.hooks.authorizePublish;
    if (!authorize) return true;
    try {
      if (authorize(info, msg.topic, msg.qos, msg.retain)) return true;
    } catch (e) {
      this.opts.logger.error('authorizePublish hook threw', { clientId: info.clientId, topic: msg.topic, error: String(e) });
    }
    this.stats.denied++;
    this.opts.logger.info('Will denied', { clientId: info.clientId, username: info.username, topic: msg.topic });
    return false;
  }

  private publishWill(msg: AppMessage): void {
    const mei = msg.properties?.messageExpiryInterval;
    this.opts.logger.info('publishing Will', { clientId: msg.origin, topic: msg.topic });
    this.publish({ ...msg, expiresAt: mei !== undefined ? this.clock.now() + mei * 1000 : undefined });
  }

  /** Routes an Application Message; stores it first when retained [MQTT-3.3.1-5]. Returns the number of receiving sessions. */
  publish(msg: AppMessage): number {
    this.stats.messagesIn++;
    if (msg.retain) {
      if (msg.payload.length > 0) ownMessage(msg);
      this.retained.set(msg);
    }
    return this.router.route(msg, isConnected, (d) => {
      enqueue(this.delivery, d.session, { msg, qos: d.qos, retain: d.retain, subscriptionIds: d.subscriptionIds, packetId: 0, phase: 'publish' });
    });
  }

  enqueue(session: Session, out: Outbound): void {
    enqueue(this.delivery, session, out);
  }

  drain(session: Session): void {
    drain(this.delivery, session);
  }

  resume(session: Session): void {
    resume(this.delivery, session);
  }

  /** A message from the broker itself (no origin client). */
  publishLocal(topic: string, payload: Buffer, qos: QoS = 0, retain = false): number {
    return this.publish({ topic, payload, qos, retain, properties: undefined, expiresAt: undefined, origin: undefined });
  }

  /** Disconnects every client (5.0: reason 0x8B Server shutting down) and stops all timers. */
  shutdown(): void {
    this.closing = true;
    for (const conn of [...this.connections]) {
      if (conn.version === 5 && conn.isOpen) conn.send({ type: 'disconnect', reasonCode: 0x8b });
      conn.close('server shutting down');
    }
    for (const s of this.sessions.values()) s.cancelTimers();
  }
}

function isConnected(s: Session): boolean {
  const c = s.connection as Connection | undefined;
  return c !== undefined && c.isOpen;
}

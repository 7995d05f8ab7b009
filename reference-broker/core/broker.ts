/**
 * The broker core: sessions by ClientID, the subscription router, retained
 * messages, Wills and session expiry, limits and back-pressure, and the
 * persistence hooks. It owns no sockets: listeners hand it Links, and it
 * reads time only from its Clock, so tests drive it exactly.
 */
import { randomBytes } from 'node:crypto';
import { parseSharedFilter, type ProtocolVersion, type QoS } from '../../codec/index.js';
import { type Clock, systemClock, wallNow } from './clock.js';
import { Connection } from './connection.js';
import { activeFaults, NO_FAULTS } from './faults.js';
import { complete, type DeliveryContext, drain, enqueue, resume } from './delivery.js';
import type { Link } from './link.js';
import { LogLimiter } from './log-limiter.js';
import { type AppMessage, ownMessage } from './message.js';
import { type BrokerOptions, type ClientInfo, type ResolvedOptions, resolveOptions } from './options.js';
import { FilePersistence, noPersistence, type Persistence, type StateSource } from './persistence.js';
import { RetainedStore } from './retained-store.js';
import { Router } from './router.js';
import { type Outbound, type PendingWill, Session } from './session.js';
import type { Subscription } from './subscription-trie.js';

export interface BrokerStats {
  connectionsTotal: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Deliveries dropped: QoS 0 under back-pressure or offline, full queues, slow subscribers past the pause bound. */
  dropped: number;
  denied: number;
  /** Broker bugs caught at the listener edge (should stay 0). */
  internalErrors: number;
  /** Connections refused by maxConnections (CONNACK 0x97 / 0x03) or closed by maxPendingConnections. */
  refused: number;
  /** Times a publisher was paused because a connected subscriber's queue reached the high-water mark. */
  throttled: number;
  /** Pauses that reached maxPublisherPauseMs (the subscriber's session then drops above the high-water mark). */
  throttleTimeouts: number;
}

/** What was restored from the data directory at start. */
export interface RestoreReport {
  ms: number;
  logBytes: number;
  frames: number;
  ignoredBytes: number;
  sessions: number;
  subscriptions: number;
  retained: number;
  queued: number;
  inflight: number;
  wills: number;
}

export class Broker {
  readonly opts: ResolvedOptions;
  readonly clock: Clock;
  readonly sessions = new Map<string, Session>();
  readonly router: Router;
  readonly retained = new RetainedStore();
  readonly connections = new Set<Connection>();
  readonly stats: BrokerStats = {
    connectionsTotal: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, denied: 0, internalErrors: 0,
    refused: 0, throttled: 0, throttleTimeouts: 0,
  };
  /** Durable state (dataDir); a no-op without one. */
  readonly persistence: Persistence;
  /** Set when state was restored from dataDir. */
  readonly restored: RestoreReport | undefined;
  /** Warnings for limits and drops, at most one line per kind per 10 s. */
  readonly limitLog: LogLimiter;
  private readonly delivery: DeliveryContext;
  private open = 0;
  private pending = 0;
  private closing = false;

  constructor(options: BrokerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.opts = resolveOptions(options, this.clock);
    this.router = new Router(this.opts.faults);
    if (this.opts.faults !== NO_FAULTS) this.opts.logger.warn('FAULTS ON: this broker breaks the spec on purpose (suite self-check)', { faults: activeFaults(this.opts.faults).join(',') });
    this.limitLog = new LogLimiter(this.opts.logger, this.clock);
    const file = this.opts.dataDir !== undefined
      ? new FilePersistence(this.opts.dataDir, { fsync: this.opts.fsync, compactBytes: this.opts.logCompactBytes, clock: this.clock, logger: this.opts.logger })
      : undefined;
    this.persistence = file ?? noPersistence;
    const self = this;
    this.delivery = {
      now: () => self.clock.now(),
      faults: this.opts.faults,
      maxInflight: this.opts.maxInflight,
      maxQueuedMessages: this.opts.maxQueuedMessages,
      maxWriteBuffer: this.opts.maxWriteBuffer,
      outboundTopicAliases: this.opts.outboundTopicAliases,
      queueHighWaterMark: this.opts.queueHighWaterMark,
      queueLowWaterMark: this.opts.queueLowWaterMark,
      stats: this.stats,
      persistence: this.persistence,
      throttle: (publisher, session) => self.throttle(publisher, session),
      drained: (session) => self.queueDrained(session),
      dropped: (session, why) => self.dropped(session, why),
    };
    this.restored = file ? this.restore(file) : undefined;
  }

  /** Connections that completed CONNECT and are still open. */
  get openConnections(): number {
    return this.open;
  }

  /** Connections accepted that have not completed CONNECT yet. */
  get pendingConnections(): number {
    return this.pending;
  }

  /** A new network connection. The listener feeds it bytes (onData) and tells it when the link closes (onClosed). */
  accept(link: Link): Connection {
    const conn = new Connection(this, link);
    if (this.closing) {
      link.destroy();
      conn.close('server shutting down'); // a closed Connection ignores whatever it is fed
      return conn;
    }
    if (this.pending >= this.opts.maxPendingConnections) {
      // Nothing has been read, so there is no CONNECT to answer: close at once (slowloris guard).
      this.stats.refused++;
      this.limitLog.warn('pending-limit', 'too many connections waiting for CONNECT (maxPendingConnections); new connection closed', {
        remote: link.remoteAddress, pending: this.pending, limit: this.opts.maxPendingConnections,
      });
      link.destroy();
      conn.close('too many connections waiting for CONNECT');
      return conn;
    }
    this.connections.add(conn);
    this.stats.connectionsTotal++;
    this.pending++;
    conn.countedPending = true;
    return conn;
  }

  /** The connection completed CONNECT or closed before that. */
  leftPending(conn: Connection): void {
    if (!conn.countedPending) return;
    conn.countedPending = false;
    this.pending--;
  }

  /** Runs `fn` as one atomic group of persisted changes; client writes it causes wait until the group is written. */
  atomically(fn: () => void): void {
    this.persistence.begin();
    try {
      fn();
    } finally {
      this.persistence.end();
    }
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

  /** Whether `clientId` has an open connection (a new one would take it over, not add one). */
  isConnected(clientId: string): boolean {
    const s = this.sessions.get(clientId);
    return s !== undefined && isConnected(s);
  }

  /**
   * Takes over any live connection with this ClientID [MQTT-3.1.4-3], then
   * starts a new session (Clean Start 1 [MQTT-3.1.2-4]) or resumes the
   * stored one [MQTT-3.1.2-5, MQTT-3.1.2-6]. Returns whether a session was present.
   */
  attachSession(conn: Connection, clientId: string, clean: boolean, version: ProtocolVersion, expiryInterval: number): { session: Session; present: boolean } {
    let session = this.sessions.get(clientId);
    const previous = session?.connection as Connection | undefined;
    if (previous && previous !== conn) previous.takenOver();
    session = this.sessions.get(clientId); // the takeover may have ended it
    const f = this.opts.faults;
    // FAULT session-lost / session-kept-on-clean: Clean Start read as always 1 / always 0.
    if (session && (f['session-lost'] || (clean && !f['session-kept-on-clean']))) {
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
    session.expiryInterval = expiryInterval;
    session.offlineSince = undefined;
    session.connection = conn;
    conn.session = session;
    this.open++;
    this.persistence.session(session);
    this.persistence.will(clientId, conn.will);
    return { session, present };
  }

  /** Deletes a session: subscriptions, queued messages; publishes a Will still pending [MQTT-3.1.2-8]. */
  endSession(session: Session): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    session.cancelTimers();
    this.persistence.sessionEnded(session);
    for (const sub of session.subscriptions.values()) this.router.trie.remove(innerFilter(sub), session, sub.shareName);
    session.subscriptions.clear();
    this.queueDrained(session);
    if (!this.closing) this.rehome(session);
    session.inflight.clear();
    session.queue.clear();
    session.inboundQos2.clear();
    this.firePendingWill(session);
  }

  /** Adds or replaces a subscription (identical filter [MQTT-3.8.4-3]); returns whether one existed. */
  addSubscription(session: Session, sub: Subscription<Session>, filterLevels: string): boolean {
    const existed = session.subscriptions.has(sub.filter);
    session.subscriptions.set(sub.filter, sub);
    this.router.trie.add(filterLevels, sub);
    this.persistence.subscription(session, sub.filter, sub);
    return existed;
  }

  removeSubscription(session: Session, filter: string): boolean {
    const sub = session.subscriptions.get(filter);
    if (!sub) return false;
    session.subscriptions.delete(filter);
    this.router.trie.remove(innerFilter(sub), session, sub.shareName);
    this.persistence.subscription(session, filter, undefined);
    return true;
  }

  /** Called once when a connection closes for any reason. */
  connectionClosed(conn: Connection, wasOpen: boolean, why: string): void {
    this.connections.delete(conn);
    this.releasePublisher(conn);
    const session = conn.session;
    if (!wasOpen || !session || session.connection !== conn) return;
    this.open--;
    session.connection = undefined;
    this.queueDrained(session); // offline sessions drop when full instead of holding publishers
    this.opts.logger.info('client disconnected', { clientId: session.clientId, why });
    let will = conn.will;
    conn.will = undefined;
    // FAULT will-not-sent: the Will is forgotten with the connection.
    if (this.opts.faults['will-not-sent']) will = undefined;
    // The Will goes out under this client's identity: authorize it while that identity is known.
    if (will && conn.info && !this.willAuthorized(conn.info, will.msg)) will = undefined;
    if (this.closing) {
      // Shutting down: a persistent broker kept the Will in its final snapshot (published after the restart).
      this.endSession(session);
      return;
    }
    session.will = will;
    session.offlineSince = wallNow(this.clock);
    this.persistence.session(session); // expiry interval (DISCONNECT may change it) and offline time
    if (!will) this.persistence.will(session.clientId, undefined);
    this.armOffline(session);
  }

  /**
   * A session without a connection: Will Delay and Session Expiry run from
   * `session.offlineSince` (before a restart, possibly). The Will goes out
   * when its delay passes or the session ends, whichever is first [MQTT-3.1.2-8].
   */
  private armOffline(session: Session): void {
    const elapsed = Math.max(0, wallNow(this.clock) - (session.offlineSince ?? wallNow(this.clock)));
    if (session.expiryInterval === 0) {
      this.endSession(session);
      return;
    }
    const will = session.will;
    if (will) {
      const ms = Math.min(will.delay, session.expiryInterval) * 1000 - elapsed;
      if (will.delay === 0 || ms <= 0) {
        this.firePendingWill(session);
      } else {
        session.willTimer = this.clock.setTimer(ms, () => this.atomically(() => {
          session.willTimer = undefined;
          this.firePendingWill(session);
        }));
      }
    }
    if (session.expiryInterval !== 0xffffffff) {
      const ms = session.expiryInterval * 1000 - elapsed;
      if (ms <= 0) {
        this.endSession(session);
        return;
      }
      session.expiryTimer = this.clock.setTimer(ms, () => this.atomically(() => {
        session.expiryTimer = undefined;
        if (!session.connection) this.endSession(session);
      }));
    }
  }

  private firePendingWill(session: Session): void {
    const w = session.will;
    session.will = undefined;
    session.willTimer?.cancel();
    session.willTimer = undefined;
    if (!w) return;
    this.publishWill(w.msg);
    this.persistence.will(session.clientId, undefined);
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

  /**
   * Routes an Application Message; stores it first when retained [MQTT-3.3.1-5].
   * `from` is the publishing connection (back-pressure pauses it). Returns the number of receiving sessions.
   */
  publish(msg: AppMessage, from?: Connection): number {
    this.stats.messagesIn++;
    if (msg.retain) {
      const f = this.opts.faults;
      if (msg.payload.length > 0) {
        // FAULT retain-not-stored: forwarded, never kept.
        if (!f['retain-not-stored']) {
          ownMessage(msg);
          this.retained.set(msg);
          this.persistence.retained(msg.topic, msg);
        }
      } else if (!f['retain-not-cleared'] && this.retained.delete(msg.topic)) { // FAULT retain-not-cleared: the old one stays
        this.persistence.retained(msg.topic, undefined);
      }
    }
    return this.router.route(msg, isConnected, (d) => {
      enqueue(this.delivery, d.session, { msg, qos: d.qos, retain: d.retain, subscriptionIds: d.subscriptionIds, packetId: 0, phase: 'publish', share: d.share }, from);
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

  /** A delivery in flight finished (acknowledged or refused): frees its slot and sends what waits. */
  completed(session: Session, out: Outbound): void {
    complete(this.delivery, session, out);
    drain(this.delivery, session);
  }

  /** A message from the broker itself (no origin client). */
  publishLocal(topic: string, payload: Buffer, qos: QoS = 0, retain = false): number {
    let n = 0;
    this.atomically(() => {
      n = this.publish({ topic, payload, qos, retain, properties: undefined, expiresAt: undefined, origin: undefined });
    });
    return n;
  }

  /**
   * Disconnects every client (5.0: reason 0x8B Server shutting down) and stops all timers.
   * With a data directory the state is first written as a compacted log, every session
   * offline from now (their Wills are published after the restart, as for a dropped connection).
   */
  shutdown(): void {
    this.closing = true;
    if (this.persistence.active) {
      const now = wallNow(this.clock);
      for (const s of this.sessions.values()) if (s.connection) s.offlineSince = now;
      this.persistence.close(this.stateSource());
    }
    for (const conn of [...this.connections]) {
      if (conn.version === 5 && conn.isOpen) conn.send({ type: 'disconnect', reasonCode: 0x8b });
      conn.close('server shutting down');
    }
    for (const s of this.sessions.values()) s.cancelTimers();
  }

  // ---------------------------------------------------------------------------
  // Back-pressure (slow subscribers) and drops

  /** `publisher` fed `session`'s queue to the high-water mark: stop reading from it (bounded by maxPublisherPauseMs). */
  private throttle(publisher: Connection, session: Session): void {
    (session.pausedPublishers ??= new Set()).add(publisher);
    (publisher.pausedFor ??= new Set()).add(session);
    if (publisher.readPaused) return;
    this.stats.throttled++;
    this.opts.logger.debug('publisher paused: a subscriber queue reached the high-water mark', {
      clientId: publisher.info?.clientId, subscriber: session.clientId, queued: session.queue.length,
    });
    publisher.pauseReading(this.opts.maxPublisherPauseMs, () => this.atomically(() => this.pauseExpired(publisher)));
  }

  /** A publisher waited maxPublisherPauseMs: its subscribers shed instead, so it can go on. */
  private pauseExpired(publisher: Connection): void {
    this.stats.throttleTimeouts++;
    for (const s of [...(publisher.pausedFor ?? [])]) {
      if (!s.shedding) {
        s.shedding = true;
        this.limitLog.warn('pause-timeout', 'slow subscriber: a publisher waited maxPublisherPauseMs for its queue; its QoS 1/2 messages above the high-water mark are dropped until it catches up', {
          clientId: s.clientId, queued: s.queue.length, publisher: publisher.info?.clientId, pauseMs: this.opts.maxPublisherPauseMs,
        });
      }
      this.releasePublishers(s);
    }
    publisher.pausedFor = undefined;
    publisher.resumeReading();
  }

  /** `session`'s queue is down to the low-water mark, or the session went offline or ended. */
  private queueDrained(session: Session): void {
    session.shedding = false;
    this.releasePublishers(session);
  }

  private releasePublishers(session: Session): void {
    const publishers = session.pausedPublishers;
    if (!publishers) return;
    session.pausedPublishers = undefined;
    for (const p of publishers) {
      const c = p as Connection;
      c.pausedFor?.delete(session);
      if (c.pausedFor?.size) continue;
      c.pausedFor = undefined;
      c.resumeReading();
    }
  }

  /** A closing publisher no longer holds anyone. */
  private releasePublisher(conn: Connection): void {
    if (!conn.pausedFor) return;
    for (const s of conn.pausedFor) s.pausedPublishers?.delete(conn);
    conn.pausedFor = undefined;
  }

  private dropped(session: Session, why: 'queue-full' | 'slow-subscriber' | 'qos0-backpressure'): void {
    session.dropped++;
    this.stats.dropped++;
    const what = why === 'queue-full'
      ? 'session queue full (maxQueuedMessages): message dropped'
      : why === 'slow-subscriber'
        ? 'slow subscriber: message above the high-water mark dropped'
        : "QoS 0 message dropped: the subscriber's socket buffer is above maxWriteBuffer";
    this.limitLog.warn(why, what, { clientId: session.clientId, queued: session.queue.length, droppedForClient: session.dropped });
  }

  /**
   * §4.8.2: a QoS 1 message a share-group member left unacknowledged when its
   * session ended goes to another member (SHOULD), as does one it had not been
   * sent yet. A QoS 2 message already sent stays with that session and ends
   * with it [MQTT-4.8.2-5].
   */
  private rehome(session: Session): void {
    if (session.inflight.size === 0 && session.queue.length === 0) return;
    const now = this.clock.now();
    for (const out of [...session.inflight.values(), ...session.queue]) {
      if (out.share === undefined || (out.qos === 2 && out.packetId !== 0)) continue;
      if (out.msg.expiresAt !== undefined && out.msg.expiresAt <= now) continue;
      const sub = this.router.shareMember(out.share, isConnected);
      if (!sub) continue;
      this.opts.logger.debug('shared subscription message moved to another member', { from: session.clientId, to: sub.owner.clientId, topic: out.msg.topic });
      enqueue(this.delivery, sub.owner, {
        msg: out.msg, qos: (sub.qos < out.msg.qos ? sub.qos : out.msg.qos) as QoS,
        retain: sub.retainAsPublished && out.msg.retain,
        subscriptionIds: sub.subscriptionId !== undefined ? [sub.subscriptionId] : undefined,
        packetId: 0, phase: 'publish', share: out.share,
      });
    }
  }

  // ---------------------------------------------------------------------------
  // Persistence: restore at start, state for compaction

  private stateSource(): StateSource {
    const sessions = this.sessions;
    return {
      retained: () => this.retained.all(),
      sessions: () => sessions.values(),
      *wills(): Iterable<[string, PendingWill]> {
        for (const s of sessions.values()) {
          const c = s.connection as Connection | undefined;
          const w = c ? c.will : s.will;
          if (w) yield [s.clientId, w];
        }
      },
    };
  }

  /**
   * Replays the data directory's log: retained messages, sessions (without a
   * connection), subscriptions, queued and in-flight deliveries (resent with
   * DUP on reconnect), QoS 2 identifiers awaiting PUBREL and Wills. Then
   * compacts it, and restarts expiry: a session that had a connection when
   * the broker stopped is offline from now, its Will published after its
   * Will Delay Interval unless the client comes back first.
   */
  private restore(file: FilePersistence): RestoreReport {
    const t0 = performance.now();
    const state = file.load();
    const now = this.clock.now();
    const wall = wallNow(this.clock);
    const report: RestoreReport = {
      ms: 0, logBytes: state.bytes, frames: state.frames, ignoredBytes: state.ignoredBytes,
      sessions: 0, subscriptions: 0, retained: 0, queued: 0, inflight: 0, wills: state.wills.size,
    };
    for (const msg of state.retained) {
      if (msg.expiresAt !== undefined && msg.expiresAt <= now) continue;
      this.retained.set(msg);
      report.retained++;
    }
    const sessions: Session[] = [];
    for (const r of state.sessions) {
      const s = new Session(r.clientId, r.version);
      s.expiryInterval = this.capSessionExpiry(r.expiryInterval);
      s.offlineSince = r.offlineSince ?? wall;
      for (const x of r.subscriptions) {
        let filterLevels = x.filter;
        let shareName: string | undefined;
        if (x.filter.startsWith('$share/')) {
          const parsed = parseSharedFilter(x.filter);
          if (typeof parsed === 'string') continue;
          shareName = parsed.shareName;
          filterLevels = parsed.filter;
        }
        this.addSubscription(s, {
          owner: s, filter: x.filter, shareName, qos: x.qos, noLocal: x.noLocal, retainAsPublished: x.retainAsPublished,
          retainHandling: x.retainHandling, subscriptionId: x.subscriptionId,
        }, filterLevels);
        report.subscriptions++;
      }
      for (const out of r.outbound) {
        if (out.packetId !== 0) {
          s.inflight.set(out.packetId, out);
          report.inflight++;
        } else {
          s.queue.push(out);
          report.queued++;
        }
      }
      for (const id of r.inboundQos2) s.inboundQos2.add(id);
      const will = state.wills.get(r.clientId);
      if (will) {
        s.will = will;
        state.wills.delete(r.clientId);
      }
      this.sessions.set(s.clientId, s);
      sessions.push(s);
    }
    report.sessions = sessions.length;
    file.start(this.stateSource());
    this.atomically(() => {
      for (const s of sessions) this.armOffline(s);
      // Wills of clients whose session ended with their connection when the broker stopped.
      for (const [clientId, will] of state.wills) {
        this.publishWill(will.msg);
        this.persistence.will(clientId, undefined);
      }
    });
    report.ms = performance.now() - t0;
    this.opts.logger.info('state restored', { dir: file.dir, ...report, ms: Math.round(report.ms) });
    return report;
  }
}

function isConnected(s: Session): boolean {
  const c = s.connection as Connection | undefined;
  return c !== undefined && c.isOpen;
}

/** The filter a subscription has in the trie (without `$share/{ShareName}/`). */
function innerFilter(sub: Subscription<Session>): string {
  return sub.shareName !== undefined ? sub.filter.slice(8 + sub.shareName.length) : sub.filter;
}

/**
 * A reconnecting MQTT client with a persistent session, built on the codec
 * and transport.ts (not MQTT.js: delivery tests need exact control of what
 * is resent, when, and with which flags).
 *
 * - Session: 3.1.1 Clean Session 0; 5.0 Clean Start 0 + Session Expiry
 *   Interval. The first connection starts a fresh session (5.0 Clean Start 1;
 *   3.1.1 a Clean Session 1 connect + DISCONNECT first), so a leftover session
 *   with the same ClientID cannot leak into a run.
 * - Sender: QoS 1/2 messages in flight keep their Packet Identifiers across
 *   reconnects; after a CONNACK with Session Present 1 the unacknowledged
 *   PUBLISHes go again with DUP 1 and the PUBRELs again, in their original
 *   order [MQTT-4.4.0-1] [MQTT-4.6.0-1]. The window (messages in flight) is
 *   bounded by `window` and, on 5.0, by the server's Receive Maximum.
 * - Receiver: PUBACK / PUBREC go out in arrival order [MQTT-4.6.0-2]
 *   [MQTT-4.6.0-3]. For QoS 2 it keeps, across reconnects, the Packet
 *   Identifiers it has PUBREC'd and awaits PUBREL for, so a resent PUBLISH is
 *   answered with PUBREC and not delivered again (3.1.1 [MQTT-4.3.3-2], 5.0
 *   [MQTT-4.3.3-10]); PUBREL is answered with PUBCOMP [MQTT-4.3.3-11].
 * - A CONNACK with Session Present 0 while the client holds session state
 *   means the broker lost the session: the state is discarded (5.0
 *   [MQTT-3.2.2-5]), the publishes it held fail with SESSION_LOST, the event
 *   is reported, and the subscriptions are made again.
 * - Lost connections are retried after a seeded random delay until close().
 */
import { Decoder, encode, isMqttCodecError, type ConnackPacket, type Packet, type PublishPacket } from '../codec/index.js';
import { Rng } from './seeded-random.js';
import { Outbox } from './session-outbox.js';
import { SessionClientError, type SessionClientOptions, type SessionClientStats, type SessionEventKind } from './session-types.js';
import { openStream, parseBrokerUrl, type Stream } from './transport.js';

export * from './session-types.js';

export class SessionClient {
  readonly stats: SessionClientStats = {
    connectAttempts: 0, connects: 0, connectFailures: 0, disconnects: 0, sessionsPresent: 0, sessionsLost: 0, resentPublishes: 0,
    resentPubrels: 0, discardedOnSessionLoss: 0, qos2DuplicatesSuppressed: 0, unexpectedAcks: 0, refused: 0, badBytes: 0, brokerDisconnects: 0, delivered: 0,
  };
  private readonly outbox: Outbox;
  /** QoS 2 Packet Identifiers PUBREC'd and awaiting PUBREL. */
  private readonly awaitingRel = new Set<number>();
  private stream: Stream | undefined;
  private state: 'idle' | 'connecting' | 'connected' | 'waiting' | 'closed' = 'idle';
  /** The broker should hold a session for us (a CONNACK of ours was accepted). */
  private sessionExpected = false;
  /** A SUBACK for our subscriptions arrived in the current session. */
  private subscribed = false;
  private lastSessionPresent = false;
  private serverReceiveMaximum = 65535;
  private readonly rng: Rng;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly connectedWaiters: (() => void)[] = [];
  private readonly o: Required<Pick<SessionClientOptions, 'keepAlive' | 'sessionExpiry' | 'window' | 'receiveMaximum' | 'connectTimeoutMs'>> & SessionClientOptions;

  constructor(opts: SessionClientOptions) {
    this.o = { keepAlive: 30, sessionExpiry: 3600, window: 100, receiveMaximum: 65535, connectTimeoutMs: 5000, ...opts };
    this.rng = new Rng(opts.seed ?? 1);
    this.outbox = new Outbox(this.o.window, opts.version === 5);
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  get inFlight(): number {
    return this.outbox.inFlightCount;
  }

  get queued(): number {
    return this.outbox.queuedCount;
  }

  /** Starts connecting (and reconnecting, until close()); resolves at the first session set up, or rejects after `timeoutMs`. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.state !== 'idle') throw new SessionClientError('CLOSED', 'start() called twice');
    this.state = 'waiting';
    if (this.o.fresh !== false && this.o.version === 4) await this.cleanSlate();
    void this.connectOnce();
    await this.whenConnected(timeoutMs);
  }

  /** Resolves when connected with the session set up; rejects after `timeoutMs`. */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.connectedWaiters.indexOf(done);
        if (i >= 0) this.connectedWaiters.splice(i, 1);
        reject(new SessionClientError('NOT_CONNECTED', `${this.o.clientId}: not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => { clearTimeout(timer); resolve(); };
      this.connectedWaiters.push(done);
    });
  }

  /** Resolves when one more message fits (in flight + queued < window). */
  windowSpace(): Promise<void> {
    return this.state === 'closed' ? Promise.resolve() : this.outbox.space();
  }

  /** Resolves when the broker has acknowledged the message (PUBACK, PUBCOMP); rejects with SESSION_LOST, REFUSED or CLOSED. */
  publish(topic: string, payload: Buffer, qos: 1 | 2): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new SessionClientError('CLOSED', 'client closed'));
    return new Promise((resolve, reject) => {
      this.outbox.add(topic, payload, qos, resolve, (code, why) => reject(new SessionClientError(code, why)));
      this.flush();
    });
  }

  /**
   * Stops for good. `endSession` also removes the session from the broker
   * (5.0: DISCONNECT with Session Expiry 0; 3.1.1: a Clean Session 1 connect).
   * Publishes still outstanding fail with CLOSED.
   */
  async close(opts: { endSession?: boolean } = {}): Promise<void> {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.clearTimers();
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      if (wasConnected) {
        this.write(s, this.o.version === 5
          ? { type: 'disconnect', reasonCode: 0, ...(opts.endSession ? { properties: { sessionExpiryInterval: 0 } } : {}) }
          : { type: 'disconnect' });
        s.end();
      } else s.destroy();
    }
    this.outbox.failAll('CLOSED', 'client closed');
    if (opts.endSession && this.o.version === 4) await this.cleanSlate().catch(() => undefined);
  }

  /** 3.1.1: a Clean Session 1 connection ends any session of this ClientID [MQTT-3.1.2-6]. */
  private async cleanSlate(): Promise<void> {
    const stream = await openStream(parseBrokerUrl(this.o.url), { tls: this.o.tls, timeoutMs: this.o.connectTimeoutMs }).catch(() => undefined);
    if (!stream) return;
    const decoder = new Decoder({ version: 4, role: 'client' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { stream.destroy(); resolve(); }, this.o.connectTimeoutMs);
      stream.onData((chunk) => {
        try {
          decoder.feed(chunk, (p) => {
            if (p.type !== 'connack') return;
            clearTimeout(timer);
            this.write(stream, { type: 'disconnect' });
            stream.end();
          });
        } catch {
          stream.destroy();
        }
      });
      stream.onClose(() => { clearTimeout(timer); resolve(); });
      this.write(stream, this.connectPacket(true));
    });
  }

  private connectPacket(clean: boolean): Packet {
    return {
      type: 'connect', protocolVersion: this.o.version, clean, keepAlive: this.o.keepAlive, clientId: this.o.clientId,
      ...(this.o.username !== undefined ? { username: this.o.username } : {}),
      ...(this.o.password !== undefined ? { password: Buffer.from(this.o.password) } : {}),
      ...(this.o.version === 5 ? { properties: { sessionExpiryInterval: this.o.sessionExpiry, receiveMaximum: this.o.receiveMaximum } } : {}),
    };
  }

  private event(kind: SessionEventKind, detail: string): void {
    this.o.onEvent?.({ kind, at: Date.now(), detail });
  }

  private write(s: Stream, p: Packet): void {
    s.write(encode(p, this.o.version));
  }

  private async connectOnce(): Promise<void> {
    if (this.state !== 'waiting') return;
    this.state = 'connecting';
    this.stats.connectAttempts++;
    let stream: Stream;
    try {
      stream = await openStream(parseBrokerUrl(this.o.url), { tls: this.o.tls, timeoutMs: this.o.connectTimeoutMs });
    } catch (e) {
      return this.failed(`transport: ${(e as Error).message}`);
    }
    if (this.state !== 'connecting') {
      stream.destroy();
      return;
    }
    this.stream = stream;
    const decoder = new Decoder({ version: this.o.version, role: 'client' });
    let phase: 'connack' | 'suback' | 'up' = 'connack';
    let subscribeId = 0;
    const timer = setTimeout(() => {
      this.event('connect-failed', `no ${phase === 'connack' ? 'CONNACK' : 'SUBACK'} within ${this.o.connectTimeoutMs} ms`);
      stream.destroy();
    }, this.o.connectTimeoutMs);
    stream.onClose((error) => {
      clearTimeout(timer);
      this.closed(stream, phase === 'up', error);
    });
    stream.onData((chunk) => {
      if (this.stream !== stream) return;
      try {
        decoder.feed(chunk, (p) => {
          if (this.stream !== stream) return;
          if (phase === 'connack') {
            if (p.type !== 'connack') throw new Error(`${p.type.toUpperCase()} before CONNACK`);
            subscribeId = this.onConnack(stream, p);
            if (subscribeId < 0) return;
            if (subscribeId === 0) {
              phase = 'up';
              clearTimeout(timer);
              this.up(stream);
            } else phase = 'suback';
            return;
          }
          if (phase === 'suback' && p.type === 'suback' && p.packetId === subscribeId) {
            const bad = p.reasonCodes.filter((c) => c >= 0x80);
            this.subscribed = true;
            if (bad.length) this.event('subscribe-refused', `SUBACK ${p.reasonCodes.map((c) => `0x${c.toString(16)}`).join(',')}`);
            phase = 'up';
            clearTimeout(timer);
            this.up(stream);
            return;
          }
          this.onPacket(stream, p);
        });
      } catch (e) {
        this.stats.badBytes++;
        this.event('bad-bytes', isMqttCodecError(e) ? `${e.code}: ${e.message}` : (e as Error).message);
        stream.destroy();
      }
    });
    // A fresh 5.0 session: Clean Start 1 with a Session Expiry, so it outlives this connection.
    const clean = this.o.version === 5 && this.o.fresh !== false && !this.sessionExpected && this.stats.connects === 0;
    this.write(stream, this.connectPacket(clean));
  }

  /** Returns -1 when refused, 0 when the session is ready, else the SUBSCRIBE's Packet Identifier to await. */
  private onConnack(stream: Stream, p: ConnackPacket): number {
    if (p.reasonCode !== 0) {
      this.event('connect-failed', `CONNACK 0x${p.reasonCode.toString(16)}`);
      stream.destroy();
      return -1;
    }
    this.stats.connects++;
    this.serverReceiveMaximum = p.properties?.receiveMaximum ?? 65535;
    if (p.sessionPresent) {
      this.stats.sessionsPresent++;
    } else if (this.sessionExpected) {
      this.sessionLost();
    }
    this.sessionExpected = true;
    this.lastSessionPresent = p.sessionPresent;
    if (p.sessionPresent) {
      // Resend in the order first sent, with the original identifiers [MQTT-4.4.0-1] [MQTT-4.6.0-1].
      const again = this.outbox.resend();
      this.stats.resentPublishes += again.publishes;
      this.stats.resentPubrels += again.pubrels;
      for (const x of again.packets) this.write(stream, x);
    }
    const subs = this.o.subscriptions ?? [];
    // Also with a session present when the SUBACK never came (the connection was cut before it).
    if (subs.length === 0 || this.subscribed) return 0;
    const id = this.outbox.allocateId();
    this.write(stream, { type: 'subscribe', packetId: id, subscriptions: subs });
    return id;
  }

  /** Session Present 0 while we hold session state: discard it [MQTT-3.2.2-5]. */
  private sessionLost(): void {
    this.stats.sessionsLost++;
    const n = this.outbox.discardInFlight('SESSION_LOST', 'the broker lost the session with this message in flight');
    this.event('session-lost', `CONNACK Session Present 0: ${n} message(s) in flight and ${this.awaitingRel.size} QoS 2 identifier(s) awaiting PUBREL discarded`);
    this.stats.discardedOnSessionLoss += n;
    this.awaitingRel.clear();
    this.subscribed = false;
  }

  private up(stream: Stream): void {
    this.state = 'connected';
    this.event('connected', this.lastSessionPresent ? `session present; ${this.outbox.inFlightCount} in flight resent` : 'new session');
    const ms = Math.max(500, (this.o.keepAlive * 1000) / 2);
    if (this.o.keepAlive > 0) this.pingTimer = setInterval(() => this.write(stream, { type: 'pingreq' }), ms);
    for (const w of this.connectedWaiters.splice(0)) w();
    this.freed(); // also wakes publishers waiting on a window a session loss emptied
  }

  /** Sends waiting messages while the window allows. */
  private flush(): void {
    const s = this.stream;
    if (this.state !== 'connected' || !s) return;
    const limit = Math.min(this.o.window, this.o.version === 5 ? this.serverReceiveMaximum : 65535);
    for (const p of this.outbox.take(limit)) this.write(s, p);
  }

  private freed(): void {
    this.flush();
    this.outbox.wake();
  }

  private onPacket(stream: Stream, p: Packet): void {
    const v5 = this.o.version === 5;
    switch (p.type) {
      case 'publish': return this.onPublish(stream, p);
      case 'pubrel':
        this.awaitingRel.delete(p.packetId);
        this.write(stream, { type: 'pubcomp', packetId: p.packetId, ...(v5 ? { reasonCode: 0 } : {}) }); // [MQTT-4.3.3-11]
        return;
      case 'puback': case 'pubrec': case 'pubcomp': {
        const r = this.outbox.onAck(p);
        if (r.kind === 'unexpected') this.stats.unexpectedAcks++;
        else if (r.kind === 'pubrel') this.write(stream, r.packet);
        else {
          if (r.refused) this.stats.refused++;
          this.freed();
        }
        return;
      }
      case 'disconnect':
        this.stats.brokerDisconnects++;
        this.event('broker-disconnect', `DISCONNECT 0x${(p.reasonCode ?? 0).toString(16)}`);
        stream.destroy();
        return;
      default:
        return; // PINGRESP, SUBACK of an earlier connection, …
    }
  }

  private onPublish(stream: Stream, p: PublishPacket): void {
    const v5 = this.o.version === 5;
    if (p.qos === 2) {
      const id = p.packetId!;
      if (this.awaitingRel.has(id)) {
        this.stats.qos2DuplicatesSuppressed++; // already delivered: PUBREC again, deliver nothing [MQTT-4.3.3-10]
      } else {
        this.awaitingRel.add(id);
        this.deliver(p);
      }
      this.write(stream, { type: 'pubrec', packetId: id, ...(v5 ? { reasonCode: 0 } : {}) });
      return;
    }
    this.deliver(p);
    if (p.qos === 1) this.write(stream, { type: 'puback', packetId: p.packetId!, ...(v5 ? { reasonCode: 0 } : {}) });
  }

  private deliver(p: PublishPacket): void {
    this.stats.delivered++;
    this.o.onMessage?.({ topic: p.topic, payload: p.payload, qos: p.qos, dup: p.dup, packetId: p.packetId });
  }

  private failed(why: string): void {
    this.stats.connectFailures++;
    this.event('connect-failed', why);
    this.stream = undefined;
    this.scheduleReconnect();
  }

  private closed(stream: Stream, wasUp: boolean, error: Error | undefined): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.clearTimers();
    if (this.state === 'closed') return;
    if (wasUp) {
      this.stats.disconnects++;
      this.event('disconnected', error ? error.message : 'connection closed');
    } else {
      this.stats.connectFailures++;
      this.event('connect-failed', error ? error.message : 'closed before the session was set up');
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed') return;
    this.state = 'waiting';
    const r = this.o.reconnectDelayMs ?? { min: 0, max: 100 };
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connectOnce();
    }, this.rng.int(r.min, r.max));
  }

  private clearTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }
}

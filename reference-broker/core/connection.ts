/**
 * One network connection: bytes in, packets dispatched in protocol order to
 * the flow handlers, packets out through one write path. Protocol violations
 * close this connection only (5.0: DISCONNECT with the reason code first).
 */
import {
  Decoder, encode, isMqttCodecError, isReasonCodeAllowed, MAX_PACKET_SIZE, PROTOCOL_ERROR,
  type AllProperties, type MqttCodecError, type Packet, type ProtocolVersion,
} from '../../codec/index.js';
import type { Broker } from './broker.js';
import type { TimerHandle } from './clock.js';
import { handleConnect } from './connect-flow.js';
import { Deque } from './deque.js';
import type { Link } from './link.js';
import type { ClientInfo } from './options.js';
import { handlePuback, handlePubcomp, handlePublish, handlePubrec, handlePubrel } from './publish-flow.js';
import type { PendingWill, Session, Throttleable } from './session.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe-flow.js';

export type ConnectionState = 'new' | 'authenticating' | 'open' | 'closed';

/** Longest single keep-alive timer, ms (see armKeepAlive). */
export const KEEP_ALIVE_CHECK_MS = 30_000;

export class Connection implements Throttleable {
  state: ConnectionState = 'new';
  version: ProtocolVersion | undefined;
  session: Session | undefined;
  info: ClientInfo | undefined;
  /** Replaced only by the malformed-ignored fault (core/faults.ts). */
  decoder: Decoder;
  /** Keep Alive in force, ms (0 = none). */
  keepAliveMs = 0;
  lastReceived: number;
  private keepAliveTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  /** Limits the client announced in its 5.0 CONNECT. */
  clientReceiveMaximum = 65535;
  clientMaxPacketSize = MAX_PACKET_SIZE;
  clientTopicAliasMaximum = 0;
  requestProblemInformation = true;
  /** Session Expiry Interval from CONNECT (5.0 §3.14.2.2.2 forbids raising it from 0 at DISCONNECT). */
  connectSessionExpiry = 0;
  inboundAliases: Map<number, string> | undefined;
  outboundAliases: Map<string, number> | undefined;
  /** In-flight PUBLISHes of a resumed session still to be resent here once the client's window has room. */
  deferredResends: Set<number> | undefined;
  /** The Will of this connection until it closes. Cleared by a normal DISCONNECT. */
  will: PendingWill | undefined;
  /** Counted in Broker.pendingConnections (accepted, CONNECT not completed). */
  countedPending = false;
  /** Reading paused by back-pressure (a subscriber this connection publishes to is too slow). */
  readPaused = false;
  /** Sessions whose full queues keep this connection paused. */
  pausedFor: Set<Session> | undefined;
  private pauseTimer: TimerHandle | undefined;
  /** Packets read but not handled yet: during an asynchronous authentication, or while reading is paused. */
  private inbox: Deque<Packet> | undefined;
  /** Bytes for the client held until the persisted records before them are written (see Persistence.mayWrite). */
  private heldWrites: Buffer[] | undefined;
  /** A bad packet read while packets before it wait in the inbox: it ends the connection once they are handled. */
  private pendingMalformed: MqttCodecError | undefined;
  private closeWhenReleased = false;

  constructor(
    readonly broker: Broker,
    readonly link: Link,
  ) {
    this.decoder = new Decoder({ role: 'server', maxPacketSize: broker.opts.maxPacketSize });
    this.lastReceived = broker.clock.now();
    this.connectTimer = broker.clock.setTimer(broker.opts.connectTimeoutMs, () => {
      if (this.state === 'new' || this.state === 'authenticating') {
        broker.opts.logger.info('no CONNECT in time; closing', { remote: link.remoteAddress, timeoutMs: broker.opts.connectTimeoutMs });
        broker.atomically(() => this.close('connect timeout'));
      }
    });
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Bytes from the network. */
  onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastReceived = this.broker.clock.now();
    this.broker.stats.bytesIn += chunk.length;
    // Everything one chunk causes is persisted as one group, before any reply to it leaves.
    const persistence = this.broker.persistence;
    persistence.begin();
    try {
      this.decoder.feed(chunk, this.dispatch);
    } catch (e) {
      if (!isMqttCodecError(e)) throw e;
      if (this.broker.opts.faults['malformed-ignored'] && this.state === 'open') {
        // FAULT malformed-ignored: skip the bad bytes, read on with a fresh decoder, keep the connection.
        this.decoder = new Decoder({ role: 'server', version: this.version, maxPacketSize: this.broker.opts.maxPacketSize });
        return;
      }
      // Packets read before the bad one may still wait (authentication in progress, reading paused by back-pressure):
      // they are handled first, in order, and may end the connection themselves [MQTT-4.8.0-1 / 5.0 MQTT-4.13.1-1].
      if (this.state === 'authenticating' || this.inbox !== undefined) this.pendingMalformed ??= e;
      else this.malformed(e);
    } finally {
      persistence.end();
    }
  }

  /**
   * Like onData, for listeners: a bug in the broker (anything but a codec
   * error) is logged and closes this connection only, never the process.
   * The core's own tests call onData, so such bugs still fail them.
   */
  onDataGuarded(chunk: Buffer): void {
    try {
      this.onData(chunk);
    } catch (e) {
      this.broker.stats.internalErrors++;
      this.broker.opts.logger.error('internal error while handling a packet; closing the connection', {
        clientId: this.info?.clientId, error: e instanceof Error ? (e.stack ?? e.message) : String(e),
      });
      try {
        this.protocolError('internal error', 0x83);
      } catch {
        this.link.destroy();
      }
    }
  }

  /** The link closed (peer, network error or our own close). */
  onClosed(): void {
    if (this.state === 'closed') return;
    this.broker.atomically(() => this.close('connection lost'));
  }

  /** The link's send buffer drained: send what back-pressure held back. */
  onDrain(): void {
    const session = this.session;
    if (this.isOpen && session) this.broker.atomically(() => this.broker.drain(session));
  }

  private readonly dispatch = (p: Packet): void => {
    if (this.state === 'closed') return;
    if (this.state === 'authenticating' || this.readPaused || this.inbox !== undefined) {
      (this.inbox ??= new Deque()).push(p);
      return;
    }
    this.handle(p);
  };

  /** Handles packets held in the inbox, in order, until it is empty or reading pauses again. */
  private processInbox(): void {
    const inbox = this.inbox;
    if (inbox) {
      while (inbox.length > 0 && !this.readPaused && this.state === 'open') this.handle(inbox.shift()!);
      if (inbox.length === 0 && this.inbox === inbox) this.inbox = undefined;
    }
    const bad = this.pendingMalformed;
    if (bad !== undefined && this.inbox === undefined && this.state === 'open') {
      this.pendingMalformed = undefined;
      this.malformed(bad);
    }
  }

  private handle(p: Packet): void {
    if (this.state === 'closed') return;
    if (this.state === 'new') {
      if (p.type !== 'connect') {
        this.close('first packet is not CONNECT'); // [MQTT-3.1.0-1]
        return;
      }
      handleConnect(this, p); // the connect timer runs on through an asynchronous authentication
      return;
    }
    switch (p.type) {
      case 'publish': handlePublish(this, p); return;
      case 'puback': handlePuback(this, p); return;
      case 'pubrec': handlePubrec(this, p); return;
      case 'pubrel': handlePubrel(this, p); return;
      case 'pubcomp': handlePubcomp(this, p); return;
      case 'subscribe': handleSubscribe(this, p); return;
      case 'unsubscribe': handleUnsubscribe(this, p); return;
      case 'pingreq': this.send({ type: 'pingresp' }); return;
      case 'disconnect': this.clientDisconnect(p.reasonCode ?? 0, p.properties?.sessionExpiryInterval); return;
      case 'connect': this.protocolError('second CONNECT', 0x82); return; // [MQTT-3.1.0-2]
      case 'auth': this.protocolError('AUTH without an authentication method in progress', 0x82); return;
      default: this.protocolError(`unexpected ${p.type.toUpperCase()}`, 0x82);
    }
  }

  /**
   * Called by the CONNECT flow after the CONNACK: resends the resumed session's
   * in-flight messages [MQTT-4.4.0-1], then runs the packets that arrived during
   * an asynchronous authentication (resuming after them would send what they
   * produce twice, and out of order).
   */
  opened(): void {
    this.state = 'open';
    this.broker.leftPending(this);
    this.connectTimer?.cancel();
    this.armKeepAlive();
    if (this.session) this.broker.resume(this.session);
    this.processInbox();
  }

  /** Back-pressure: stop reading; `onTimeout` runs if still paused after `maxMs`. */
  pauseReading(maxMs: number, onTimeout: () => void): void {
    if (this.readPaused || this.state === 'closed') return;
    this.readPaused = true;
    this.link.pause();
    this.pauseTimer = this.broker.clock.setTimer(maxMs, () => {
      this.pauseTimer = undefined;
      if (this.readPaused) onTimeout();
    });
  }

  /** Reads again; packets read before the pause are handled first (on a fresh timer turn, not inside the caller's flow). */
  resumeReading(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    this.pauseTimer?.cancel();
    this.pauseTimer = undefined;
    if (this.state === 'closed') return;
    this.lastReceived = this.broker.clock.now(); // not reading is not the client's silence
    this.link.resume();
    if (this.inbox) this.broker.clock.setTimer(0, () => this.broker.atomically(() => this.processInbox()));
  }

  beginAuthentication(): void {
    this.state = 'authenticating';
  }

  /** Encodes and writes one packet; false when it was too large for the client [MQTT-3.1.2-24]. */
  send(p: Packet): boolean {
    if (this.state === 'closed') return false;
    let bytes = encode(p, this.version ?? 4);
    const props: AllProperties | undefined = p.type !== 'publish' && 'properties' in p ? p.properties : undefined;
    if (bytes.length > this.clientMaxPacketSize && props && (props.reasonString !== undefined || props.userProperties !== undefined)) {
      // Leave out Reason String and User Properties rather than exceed the client's limit [MQTT-3.2.2-19, MQTT-3.2.2-20, MQTT-3.14.2-3, MQTT-3.14.2-4].
      const { reasonString: _r, userProperties: _u, ...rest } = props;
      bytes = encode({ ...p, properties: Object.keys(rest).length > 0 ? rest : undefined } as Packet, this.version ?? 4);
    }
    if (bytes.length > this.clientMaxPacketSize) return false;
    this.write(bytes);
    return true;
  }

  write(bytes: Buffer): void {
    this.broker.stats.bytesOut += bytes.length;
    if (this.heldWrites !== undefined) {
      this.heldWrites.push(bytes);
      return;
    }
    const persistence = this.broker.persistence;
    if (persistence.active && !persistence.mayWrite(this)) {
      this.heldWrites = [bytes];
      return;
    }
    this.link.write(bytes);
  }

  /** The persistence wrote (or synced) the records that the held bytes depend on. */
  releaseWrites(): void {
    const held = this.heldWrites;
    this.heldWrites = undefined;
    if (held) for (const b of held) this.link.write(b);
    if (this.closeWhenReleased) {
      this.closeWhenReleased = false;
      this.link.close();
    }
  }

  /** Reason String and User Properties only where the client allows them [MQTT-3.1.2-29]. */
  problemInfo(reasonString: string): AllProperties | undefined {
    return this.version === 5 && this.requestProblemInformation ? { reasonString } : undefined;
  }

  private armKeepAlive(): void {
    // FAULT keep-alive-ignored: no timer at all.
    if (this.keepAliveMs === 0 || this.broker.opts.faults['keep-alive-ignored']) return;
    // Close after 1.5 × Keep Alive without a packet [MQTT-3.1.2-24 / 5.0 MQTT-3.1.2-22].
    const limit = this.keepAliveMs * 1.5;
    // Checked at least every KEEP_ALIVE_CHECK_MS: Node keeps a timer list per distinct duration until that duration
    // has passed, even once the timer is cancelled, so a 27-hour timer of a connection long closed would linger.
    const after = (ms: number): TimerHandle => this.broker.clock.setTimer(Math.min(ms, KEEP_ALIVE_CHECK_MS), check);
    const check = (): void => {
      if (this.state !== 'open') return;
      // While back-pressure keeps reading paused, the client's packets wait unread: not silence.
      if (this.readPaused) this.lastReceived = this.broker.clock.now();
      const idle = this.broker.clock.now() - this.lastReceived;
      if (idle >= limit) {
        this.broker.opts.logger.info('keep alive expired', { clientId: this.info?.clientId, idleMs: Math.round(idle) });
        this.broker.atomically(() => {
          if (this.version === 5) this.send({ type: 'disconnect', reasonCode: 0x8d });
          this.close('keep alive timeout');
        });
        return;
      }
      this.keepAliveTimer = after(limit - idle);
    };
    this.keepAliveTimer = after(limit);
  }

  private malformed(e: MqttCodecError): void {
    this.broker.opts.logger.info('bad packet; closing', { clientId: this.info?.clientId, code: e.code, statement: e.statement, error: e.message });
    if (this.state === 'new') {
      // CONNECT itself was bad: answer with CONNACK where the spec asks for it.
      if (e.code === 'UNSUPPORTED_PROTOCOL_LEVEL' && e.protocolLevel !== undefined) {
        // 3.1.1 clients get return code 0x01 [MQTT-3.1.2-2]; newer levels the 5.0 code 0x84.
        this.write(e.protocolLevel > 5 ? Buffer.from([0x20, 0x03, 0x00, 0x84, 0x00]) : Buffer.from([0x20, 0x02, 0x00, 0x01]));
      } else if (e.version === 5) {
        this.version = 5;
        this.send({ type: 'connack', sessionPresent: false, reasonCode: e.reasonCode });
      }
      this.close(`malformed CONNECT: ${e.code}`);
      return;
    }
    // The codec's code for a bad CONNECT (0x84 Unsupported Protocol Version) is a CONNACK code, not a DISCONNECT
    // one (5.0 §3.14.2.1): here that CONNECT is a second one, a Protocol Error whatever it holds [MQTT-3.1.0-2].
    this.protocolError(`${e.code}: ${e.message}`, isReasonCodeAllowed('disconnect', e.reasonCode) ? e.reasonCode : PROTOCOL_ERROR);
  }

  /** Ends the connection for a protocol violation: 5.0 DISCONNECT with `reasonCode`, then close. The Will is published. */
  protocolError(why: string, reasonCode: number): void {
    if (this.state === 'closed') return;
    this.broker.opts.logger.info('protocol error; closing', { clientId: this.info?.clientId, why, reasonCode });
    if (this.version === 5 && this.state === 'open') {
      this.send({ type: 'disconnect', reasonCode, properties: this.problemInfo(why) });
    }
    this.close(why);
  }

  private clientDisconnect(reasonCode: number, sessionExpiry: number | undefined): void {
    if (sessionExpiry !== undefined) {
      if (this.connectSessionExpiry === 0 && sessionExpiry !== 0) {
        this.protocolError('Session Expiry Interval raised from 0 at DISCONNECT', 0x82);
        return;
      }
      if (this.session) this.session.expiryInterval = this.broker.capSessionExpiry(sessionExpiry);
    }
    // Only a normal DISCONNECT (0x00; every 3.1.1 DISCONNECT) deletes the Will [MQTT-3.1.2-10, MQTT-3.14.4-3];
    // 0x04 and the error codes keep it, so it is published (5.0 §3.14.2.1).
    // FAULT will-on-disconnect: the Will survives a normal DISCONNECT.
    if (reasonCode === 0x00 && !this.broker.opts.faults['will-on-disconnect']) this.will = undefined;
    this.close('client disconnected');
  }

  /** Server-side close: hands the session back to the broker (Will, expiry) and closes the link. Idempotent. */
  close(why: string): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.broker.leftPending(this);
    this.connectTimer?.cancel();
    this.keepAliveTimer?.cancel();
    this.pauseTimer?.cancel();
    this.pauseTimer = undefined;
    this.readPaused = false;
    this.inbox = undefined;
    this.broker.connectionClosed(this, wasOpen, why);
    // Bytes still held for the persistence (a DISCONNECT, say) go out before the close.
    if (this.heldWrites !== undefined) this.closeWhenReleased = true;
    else this.link.close();
  }

  /** Another connection took this ClientID over [MQTT-3.1.4-3]. */
  takenOver(): void {
    if (this.version === 5 && this.isOpen) this.send({ type: 'disconnect', reasonCode: 0x8e });
    this.close('session taken over');
  }
}

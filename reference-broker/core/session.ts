/**
 * Session state the server keeps per ClientID (3.1.1 §4.1, 5.0 §4.1):
 * subscriptions, QoS 1/2 messages sent but not completed, messages waiting to
 * be sent, QoS 2 packet ids received but not released, the Will and the
 * session's own expiry.
 */
import type { ProtocolVersion, QoS } from '../../codec/index.js';
import type { TimerHandle } from './clock.js';
import { Deque } from './deque.js';
import type { AppMessage } from './message.js';
import type { Subscription } from './subscription-trie.js';

/** A message on its way to this session's client. */
export interface Outbound {
  msg: AppMessage;
  /** QoS of this delivery: min(message QoS, granted QoS) [MQTT-3.8.4-8 / MQTT-3.8.4-6]. */
  qos: QoS;
  /** RETAIN flag to send. */
  retain: boolean;
  /** 5.0 Subscription Identifiers of the matching subscriptions. */
  subscriptionIds: number[] | undefined;
  /** 0 until a Packet Identifier is assigned. */
  packetId: number;
  /** 'publish' = PUBLISH sent, awaiting PUBACK/PUBREC; 'pubrel' = PUBREL sent, awaiting PUBCOMP. */
  phase: 'publish' | 'pubrel';
  /** The share group it was delivered through: a QoS 1 message can move to another member when this session ends (§4.8.2). */
  share?: ShareRef | undefined;
}

/** Names a share group: `$share/{shareName}/{filter}`. */
export interface ShareRef {
  readonly shareName: string;
  readonly filter: string;
}

/** A publishing connection that back-pressure can pause (the Connection class, seen from the session). */
export interface Throttleable {
  /** Sessions whose full queues keep this publisher paused. */
  pausedFor: Set<Session> | undefined;
}

export interface PendingWill {
  msg: AppMessage;
  /** Seconds (5.0 Will Delay Interval); 0 for 3.1.1. */
  delay: number;
}

export class Session {
  /** Subscriptions by the filter string the client sent. */
  readonly subscriptions = new Map<string, Subscription<Session>>();
  /** QoS 1/2 deliveries in flight, by Packet Identifier, in sending order. */
  readonly inflight = new Map<number, Outbound>();
  /** Deliveries waiting for the client or for a free slot in its receive window. */
  readonly queue = new Deque<Outbound>();
  /** Packet Identifiers of QoS 2 PUBLISHes received and PUBREC'd, awaiting PUBREL (exactly once, §4.3.3). */
  readonly inboundQos2 = new Set<number>();
  /** Seconds; 0xFFFFFFFF = never expires. */
  expiryInterval = 0;
  expiryTimer: TimerHandle | undefined;
  /** Will stored with the session, published after the connection closes (5.0 §3.1.2.5). */
  will: PendingWill | undefined;
  willTimer: TimerHandle | undefined;
  /** The live connection, if any. Typed loosely to keep the session independent of the connection class. */
  connection: unknown;
  /** Messages dropped because the queue was full (reported in stats). */
  dropped = 0;
  /** Wall-clock ms since the session has had no connection (persisted: expiry counts from it across a restart). */
  offlineSince: number | undefined;
  /** Publishers paused because this (connected) session's queue is above the high-water mark. */
  pausedPublishers: Set<Throttleable> | undefined;
  /** A publisher stayed paused for too long: drop above the high-water mark until the queue drains. */
  shedding = false;
  private nextId = 1;

  constructor(
    readonly clientId: string,
    public version: ProtocolVersion,
  ) {}

  /** A non-zero Packet Identifier not in use by an unacknowledged delivery [MQTT-2.2.1-4 / MQTT-2.3.1-2]. */
  allocatePacketId(): number {
    if (this.inflight.size >= 0xffff) throw new Error('all 65535 packet identifiers are in use');
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 0xffff ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }

  /** Whether the session holds any state worth reporting as present. */
  get hasState(): boolean {
    return this.subscriptions.size > 0 || this.inflight.size > 0 || this.queue.length > 0 || this.inboundQos2.size > 0;
  }

  cancelTimers(): void {
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    this.willTimer?.cancel();
    this.willTimer = undefined;
  }
}

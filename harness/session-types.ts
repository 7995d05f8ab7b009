/**
 * Types of the session client (session-client.ts): options, statistics,
 * events, received messages, and its error with a stable code.
 */
import type { ProtocolVersion, Subscription } from '../codec/index.js';
import type { OutboxFailure } from './session-outbox.js';
import type { TlsClientOptions } from './transport.js';

export type SessionErrorCode = OutboxFailure | 'NOT_CONNECTED';

export class SessionClientError extends Error {
  override readonly name = 'SessionClientError';
  constructor(readonly code: SessionErrorCode, message: string) {
    super(message);
  }
}

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  dup: boolean;
  packetId: number | undefined;
}

export type SessionEventKind =
  | 'connected' | 'disconnected' | 'connect-failed' | 'session-lost' | 'broker-disconnect' | 'bad-bytes' | 'subscribe-refused';

export interface SessionEvent {
  kind: SessionEventKind;
  /** Epoch ms. */
  at: number;
  detail: string;
}

export interface SessionClientOptions {
  url: string;
  clientId: string;
  version: ProtocolVersion;
  username?: string | undefined;
  password?: string | undefined;
  tls?: TlsClientOptions | undefined;
  /** Keep Alive, s (default 30); a PINGREQ goes every half of it. */
  keepAlive?: number;
  /** 5.0 Session Expiry Interval, s (default 3600). */
  sessionExpiry?: number;
  /** Most QoS 1/2 messages in flight (default 100); on 5.0 also at most the server's Receive Maximum. */
  window?: number;
  /** 5.0 Receive Maximum announced (default 65535). */
  receiveMaximum?: number;
  /** Subscribed whenever the broker has no session (first connection, session lost). */
  subscriptions?: Subscription[];
  /** Pause before each reconnect, ms, drawn from this range with the seeded generator (default 0–100). */
  reconnectDelayMs?: { min: number; max: number };
  seed?: number;
  /** Bound on opening the transport, and on the CONNACK and SUBACK waits (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Start with a fresh session (default true). */
  fresh?: boolean;
  onMessage?: (m: ReceivedMessage) => void;
  onEvent?: (e: SessionEvent) => void;
}

export interface SessionClientStats {
  connectAttempts: number;
  connects: number;
  connectFailures: number;
  /** Connections lost after a successful CONNACK. */
  disconnects: number;
  sessionsPresent: number;
  sessionsLost: number;
  resentPublishes: number;
  resentPubrels: number;
  /** Outgoing messages dropped with the session state after a session loss. */
  discardedOnSessionLoss: number;
  /** QoS 2 PUBLISHes received again for an identifier awaiting PUBREL (answered, not delivered). */
  qos2DuplicatesSuppressed: number;
  /** PUBACK / PUBREC / PUBCOMP for an identifier not in flight. */
  unexpectedAcks: number;
  /** Publishes the broker answered with a reason code ≥ 0x80. */
  refused: number;
  badBytes: number;
  brokerDisconnects: number;
  delivered: number;
}

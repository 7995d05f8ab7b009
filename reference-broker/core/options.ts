/** Broker settings, policy hooks and logging, with their defaults. */
import type { ProtocolVersion, QoS } from '../../codec/index.js';
import type { Clock } from './clock.js';
import { faultSet, type FaultName, type FaultSet } from './faults.js';
import type { PeerCertificateInfo, TransportKind } from './link.js';

/** What the broker knows about a connected (or connecting) client. */
export interface ClientInfo {
  clientId: string;
  /** User name after authentication (may come from the certificate CN). */
  username: string | undefined;
  protocolVersion: ProtocolVersion;
  transport: TransportKind;
  remoteAddress: string;
  certificate: PeerCertificateInfo | undefined;
}

export interface AuthenticateRequest extends ClientInfo {
  password: Buffer | undefined;
}

export type AuthFailure = 'bad-credentials' | 'not-authorized' | 'banned' | 'server-unavailable';
export type AuthenticateResult = { ok: true; username?: string | undefined } | { ok: false; reason: AuthFailure; message?: string };

/**
 * Policy hooks. Password files, client certificates and ACL files are
 * implementations of these; users can plug their own. Authorization hooks are
 * synchronous because they sit on the publish path.
 */
export interface BrokerHooks {
  authenticate?(req: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult>;
  authorizePublish?(client: ClientInfo, topic: string, qos: QoS, retain: boolean): boolean;
  authorizeSubscribe?(client: ClientInfo, filter: string, qos: QoS): boolean;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface BrokerOptions {
  clock?: Clock;
  logger?: Logger;
  hooks?: BrokerHooks;
  /** Highest QoS the broker supports (5.0 Maximum QoS). Default 2. */
  maxQoS?: QoS;
  retainAvailable?: boolean;
  wildcardSubscriptions?: boolean;
  sharedSubscriptions?: boolean;
  subscriptionIdentifiers?: boolean;
  /** Largest packet the broker accepts, in bytes. Default 16 MiB (advertised in 5.0 CONNACK). */
  maxPacketSize?: number;
  /** QoS 1/2 PUBLISHes a client may have unacknowledged towards the broker (5.0 Receive Maximum). Default 65535. */
  receiveMaximum?: number;
  /**
   * QoS 1/2 deliveries in flight per client when the client sets no Receive Maximum (3.1.1). Default 65535:
   * a small window caps QoS 1 throughput at one window per round trip; the socket's write-buffer limit
   * (maxWriteBuffer) still holds deliveries back from a slow reader.
   */
  maxInflight?: number;
  /** Deliveries held per session beyond the in-flight window (offline or throttled). Default 10000. */
  maxQueuedMessages?: number;
  /** Topic aliases the broker accepts from a client (5.0 Topic Alias Maximum). Default 1024; 0 disables. */
  topicAliasMaximum?: number;
  /** Use topic aliases towards 5.0 clients that allow them. Default true. */
  outboundTopicAliases?: boolean;
  /** Highest Keep Alive accepted, seconds; larger (or 0) becomes Server Keep Alive in 5.0. Default: none (65535). */
  maxKeepAlive?: number;
  /** Close connections that send no CONNECT within this many ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Cap on 5.0 Session Expiry Interval and on 3.1.1 persistent sessions, seconds. Default: none. */
  maxSessionExpiryInterval?: number;
  /** Maximum simultaneous connections; more are refused (5.0 CONNACK 0x97 / 3.1.1 0x03). Default: unlimited. */
  maxConnections?: number;
  /**
   * Accepted network connections that have not completed CONNECT yet (slowloris guard): more are closed
   * at once, before reading anything. Each is also closed after connectTimeoutMs. Default 1000.
   */
  maxPendingConnections?: number;
  /**
   * Back-pressure: when a connected session's queue (deliveries waiting behind the in-flight window)
   * reaches this many messages, reading from the publishers that feed it pauses. Default 1000 (at most
   * maxQueuedMessages).
   */
  queueHighWaterMark?: number;
  /** Paused publishers resume when that queue is down to this many messages. Default: half the high-water mark. */
  queueLowWaterMark?: number;
  /**
   * Longest a publisher stays paused for a slow subscriber, ms. Then it resumes and the subscriber's
   * session drops what exceeds the high-water mark (counted in stats.dropped) until it drains to the
   * low-water mark, so one stalled subscriber cannot freeze publishers. Default 2000.
   */
  maxPublisherPauseMs?: number;
  /** Accept zero-length client identifiers (assigning one). Default true. */
  allowZeroLengthClientId?: boolean;
  /** Reject 5.0 PUBLISHes whose Payload Format Indicator is 1 but whose payload is not UTF-8 (0x99). Default true. */
  checkPayloadFormat?: boolean;
  /** Drop QoS 0 deliveries to a client whose socket has more than this many bytes queued. Default 8 MiB. */
  maxWriteBuffer?: number;
  /** Response Information returned to 5.0 clients that request it; `%c` becomes the ClientID. Default: none. */
  responseInformation?: string;
  /**
   * Folder for durable state: retained messages, sessions, subscriptions, queued and in-flight messages
   * and Wills survive a restart or a kill -9 (format in reference-broker/README.md). Default: none (in memory).
   */
  dataDir?: string;
  /**
   * With dataDir: fsync the log before acknowledging (group commit, once per event-loop turn), so
   * acknowledged messages also survive a power loss. Default false: written to the OS (page cache)
   * before acknowledging, which survives a crash or kill -9 of the broker.
   */
  fsync?: boolean;
  /** With dataDir: compact the log when it exceeds this many bytes (and twice its size after the last compaction). Default 64 MiB. */
  logCompactBytes?: number;
  /**
   * Test hooks that make the broker break the spec on purpose (suite self-checks, core/faults.ts); never
   * set in production. Validated: an unknown name throws UnknownFaultError listing the valid ones.
   */
  faults?: Iterable<FaultName>;
}

type OptionalSettings = 'maxKeepAlive' | 'maxSessionExpiryInterval' | 'maxConnections' | 'responseInformation' | 'dataDir';

export type ResolvedOptions = Required<Omit<BrokerOptions, 'hooks' | 'clock' | 'logger' | 'faults' | OptionalSettings>> &
  Pick<BrokerOptions, OptionalSettings> & {
    hooks: BrokerHooks;
    clock: Clock;
    logger: Logger;
    /** Every fault switch, all false unless faults were given. */
    faults: FaultSet;
  };

export function resolveOptions(o: BrokerOptions, clock: Clock): ResolvedOptions {
  const maxQueuedMessages = o.maxQueuedMessages ?? 10000;
  const queueHighWaterMark = Math.max(1, o.queueHighWaterMark ?? Math.min(1000, maxQueuedMessages));
  return {
    clock,
    logger: o.logger ?? silentLogger,
    hooks: o.hooks ?? {},
    maxQoS: o.maxQoS ?? 2,
    retainAvailable: o.retainAvailable ?? true,
    wildcardSubscriptions: o.wildcardSubscriptions ?? true,
    sharedSubscriptions: o.sharedSubscriptions ?? true,
    subscriptionIdentifiers: o.subscriptionIdentifiers ?? true,
    maxPacketSize: o.maxPacketSize ?? 16 * 1024 * 1024,
    receiveMaximum: o.receiveMaximum ?? 65535,
    maxInflight: o.maxInflight ?? 65535,
    maxQueuedMessages,
    topicAliasMaximum: o.topicAliasMaximum ?? 1024,
    outboundTopicAliases: o.outboundTopicAliases ?? true,
    maxKeepAlive: o.maxKeepAlive,
    connectTimeoutMs: o.connectTimeoutMs ?? 10000,
    maxSessionExpiryInterval: o.maxSessionExpiryInterval,
    maxConnections: o.maxConnections,
    maxPendingConnections: o.maxPendingConnections ?? 1000,
    queueHighWaterMark,
    queueLowWaterMark: Math.min(o.queueLowWaterMark ?? Math.floor(queueHighWaterMark / 2), queueHighWaterMark - 1),
    maxPublisherPauseMs: o.maxPublisherPauseMs ?? 2000,
    allowZeroLengthClientId: o.allowZeroLengthClientId ?? true,
    checkPayloadFormat: o.checkPayloadFormat ?? true,
    maxWriteBuffer: o.maxWriteBuffer ?? 8 * 1024 * 1024,
    responseInformation: o.responseInformation,
    dataDir: o.dataDir,
    fsync: o.fsync ?? false,
    logCompactBytes: o.logCompactBytes ?? 64 * 1024 * 1024,
    faults: faultSet(o.faults),
  };
}

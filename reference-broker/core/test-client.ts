/**
 * Test helpers for the sans-I/O broker core: a broker on a FakeClock, clients
 * on FakeLinks that speak through the real codec, packet builders, and `st()`
 * which names the spec statements a test checks (and fails at load time when
 * an id is not in spec/statements-*.json).
 */
import { readFileSync } from 'node:fs';
import {
  encode,
  type ConnackPacket, type ConnectPacket, type Packet, type ProtocolVersion, type PublishPacket,
  type PublishProperties, type QoS, type RetainHandling, type SubscribePacket, type Subscription,
} from '../../codec/index.js';
import { Broker } from './broker.js';
import { FakeClock } from './clock.js';
import type { Connection } from './connection.js';
import { FakeLink } from './fake-link.js';
import type { BrokerOptions, Logger } from './options.js';

export const VERSIONS = [4, 5] as const;

export function vname(v: ProtocolVersion): '3.1.1' | '5.0' {
  return v === 5 ? '5.0' : '3.1.1';
}

// ---------------------------------------------------------------------------
// Statement ids
// ---------------------------------------------------------------------------

const known = new Map<'3.1.1' | '5.0', Set<string>>();
function catalogue(spec: '3.1.1' | '5.0'): Set<string> {
  let ids = known.get(spec);
  if (!ids) {
    const raw = JSON.parse(readFileSync(new URL(`../../spec/statements-${spec}.json`, import.meta.url), 'utf8')) as { id: string; aliases?: string[] }[];
    ids = new Set(raw.flatMap((s) => [s.id, ...(s.aliases ?? [])]));
    known.set(spec, ids);
  }
  return ids;
}

type Ids = string | readonly string[] | undefined;

/**
 * `[3.1.1 MQTT-x, MQTT-y]` or `[5.0 MQTT-z]` for the version at hand, for
 * test names. Throws when an id is not in that version's catalogue, so a
 * typo fails the file rather than naming a statement that does not exist.
 */
export function st(v: ProtocolVersion | '3.1.1' | '5.0', v4: Ids, v5?: Ids): string {
  const spec = v === 4 || v === '3.1.1' ? '3.1.1' : '5.0';
  const pick = spec === '3.1.1' ? v4 : v5 === undefined && typeof v === 'string' ? v4 : v5;
  const ids = pick === undefined ? [] : typeof pick === 'string' ? [pick] : [...pick];
  for (const id of ids) {
    if (!catalogue(spec).has(id)) throw new Error(`${id} is not a statement of MQTT ${spec}`);
  }
  return ids.length > 0 ? `[${spec} ${ids.join(', ')}]` : `[${spec}]`;
}

// ---------------------------------------------------------------------------
// Broker and clients
// ---------------------------------------------------------------------------

export interface TestBroker {
  broker: Broker;
  clock: FakeClock;
}

export function makeBroker(options: Omit<BrokerOptions, 'clock'> = {}): TestBroker {
  const clock = new FakeClock();
  return { broker: new Broker({ ...options, clock }), clock };
}

export interface TestClient {
  readonly v: ProtocolVersion;
  readonly link: FakeLink;
  readonly conn: Connection;
  /** Encodes each packet (validated) and feeds it to the broker as one chunk each. */
  send(...packets: Packet[]): void;
  /** Feeds raw bytes. */
  sendRaw(bytes: Buffer | readonly number[]): void;
  /** Packets the broker wrote since the last take. */
  take(): Packet[];
  /** The PUBLISH packets among take(), everything else dropped. */
  takePublishes(): PublishPacket[];
  /** Whether the broker closed the link. */
  readonly closed: boolean;
  /** The network connection drops (no DISCONNECT). */
  drop(): void;
}

export interface ConnectedClient extends TestClient {
  readonly connack: ConnackPacket;
  readonly clientId: string;
}

let counter = 0;

class Client implements TestClient {
  /** Packets read while looking for the CONNACK, returned by the next take(). */
  readonly pending: Packet[] = [];
  readonly link: FakeLink;
  readonly conn: Connection;

  constructor(broker: Broker, readonly v: ProtocolVersion) {
    this.link = new FakeLink(`127.0.0.1:${10000 + (counter++ % 50000)}`);
    this.conn = broker.accept(this.link);
  }

  send(...packets: Packet[]): void {
    for (const p of packets) this.conn.onData(encode(p, this.v));
  }

  sendRaw(bytes: Buffer | readonly number[]): void {
    this.conn.onData(Buffer.from(bytes));
  }

  take(): Packet[] {
    return [...this.pending.splice(0), ...this.link.take(this.v)];
  }

  takePublishes(): PublishPacket[] {
    return this.take().filter((p): p is PublishPacket => p.type === 'publish');
  }

  get closed(): boolean {
    return this.link.closed;
  }

  drop(): void {
    this.conn.onClosed();
  }
}

/** A new network connection; nothing sent yet. */
export function open(broker: Broker, v: ProtocolVersion): TestClient {
  return new Client(broker, v);
}

export type ConnectFields = Partial<Omit<ConnectPacket, 'type' | 'protocolVersion'>>;

export function connectPacket(v: ProtocolVersion, fields: ConnectFields = {}): ConnectPacket {
  return { type: 'connect', protocolVersion: v, clean: true, keepAlive: 0, clientId: `client${counter++}`, ...fields };
}

/**
 * Opens a connection, sends CONNECT and expects a CONNACK with code 0 as the
 * first packet back. Packets after the CONNACK stay for the next take().
 */
export function connect(broker: Broker, v: ProtocolVersion, fields: ConnectFields = {}): ConnectedClient {
  const c = new Client(broker, v);
  const p = connectPacket(v, fields);
  c.send(p);
  const got = c.link.take(v);
  const first = got[0];
  if (first?.type !== 'connack' || first.reasonCode !== 0) {
    throw new Error(`expected CONNACK 0, got ${got.map((x) => `${x.type}${'reasonCode' in x ? ` 0x${(x.reasonCode ?? 0).toString(16)}` : ''}`).join(', ') || 'nothing'}`);
  }
  c.pending.push(...got.slice(1));
  return Object.assign(c, { connack: first, clientId: first.properties?.assignedClientIdentifier ?? p.clientId });
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown> | undefined;
}

/** A Logger that keeps its lines in `lines`. */
export function memoryLogger(lines: LogLine[]): Logger {
  const at = (level: LogLine['level']) => (msg: string, fields?: Record<string, unknown>): void => { lines.push({ level, msg, fields }); };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

// ---------------------------------------------------------------------------
// Packet builders
// ---------------------------------------------------------------------------

export interface PubOptions {
  qos?: QoS;
  id?: number;
  retain?: boolean;
  dup?: boolean;
  props?: PublishProperties;
}

export function pub(topic: string, payload: string | Buffer = '', o: PubOptions = {}): PublishPacket {
  const qos = o.qos ?? 0;
  const p: PublishPacket = {
    type: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    qos, retain: o.retain ?? false, dup: o.dup ?? false,
  };
  if (qos > 0) p.packetId = o.id ?? 1;
  if (o.props) p.properties = o.props;
  return p;
}

export interface SubOptions {
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: RetainHandling;
}

/** SUBSCRIBE with one filter; `subId` sets a Subscription Identifier (5.0). */
export function sub(packetId: number, filter: string, qos: QoS = 0, o: SubOptions & { subId?: number } = {}): SubscribePacket {
  const s: Subscription = { topicFilter: filter, qos };
  if (o.noLocal !== undefined) s.noLocal = o.noLocal;
  if (o.retainAsPublished !== undefined) s.retainAsPublished = o.retainAsPublished;
  if (o.retainHandling !== undefined) s.retainHandling = o.retainHandling;
  const p: SubscribePacket = { type: 'subscribe', packetId, subscriptions: [s] };
  if (o.subId !== undefined) p.properties = { subscriptionIdentifiers: [o.subId] };
  return p;
}

/** SUBSCRIBE with several filters. */
export function subMany(packetId: number, ...subs: [filter: string, qos: QoS][]): SubscribePacket {
  return { type: 'subscribe', packetId, subscriptions: subs.map(([topicFilter, qos]) => ({ topicFilter, qos })) };
}

/** A connected client subscribed to `filter` (SUBACK consumed; retained messages after it stay for take()). */
export function subscriber(broker: Broker, v: ProtocolVersion, filter: string, qos: QoS = 2, fields: ConnectFields = {}): ConnectedClient {
  const c = connect(broker, v, fields);
  c.send(sub(1, filter, qos));
  const got = c.take();
  if (got[0]?.type !== 'suback' || got[0].reasonCodes[0]! >= 0x80) throw new Error(`expected a granting SUBACK, got ${got.map((p) => p.type).join(',')}`);
  (c as unknown as Client).pending.push(...got.slice(1));
  return c;
}

// ---------------------------------------------------------------------------
// Reading what came back
// ---------------------------------------------------------------------------

export interface Brief {
  topic: string;
  payload: string;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  packetId?: number;
}

/** A PUBLISH without properties, payload as text: compact to compare. */
export function brief(p: PublishPacket): Brief {
  const b: Brief = { topic: p.topic, payload: p.payload.toString(), qos: p.qos, retain: p.retain, dup: p.dup };
  if (p.packetId !== undefined) b.packetId = p.packetId;
  return b;
}

export function payloads(ps: readonly PublishPacket[]): string[] {
  return ps.map((p) => p.payload.toString());
}

export function types(ps: readonly Packet[]): string[] {
  return ps.map((p) => p.type);
}

/** Lets promise callbacks (async authentication) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A CONNECT of `v` with the protocol level byte replaced (for unsupported levels). */
export function connectWithLevel(level: number, name = 'MQTT'): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([level, 0x02, 0, 0]),
    Buffer.from([0, 1]), Buffer.from('x'),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/**
 * The session model of suites/session-model.property.test.ts: one subscriber
 * S whose session is driven by generated commands, one publisher P that is
 * always connected, a model of what MQTT 3.1.1 / 5.0 guarantee S, and a
 * check of every packet S receives against that model as it arrives.
 *
 * What the model holds S to (3.1.1 and 5.0 §3.1.2.4, §4.1, §4.3–§4.6,
 * §3.3.1.3, §3.8.4, §3.10.4):
 * - a message is delivered only through a subscription S's session had when
 *   P's PUBLISH was processed, at min(published QoS, granted QoS);
 * - while S is connected every message through a subscription arrives (QoS
 *   0 included: the connection is healthy and idle); QoS 1 and 2 messages
 *   published while S is away with a persistent session arrive when it
 *   resumes; QoS 0 ones may or may not; nothing of a discarded session
 *   arrives ever after;
 * - QoS 0 at most once; QoS 1 at least once, a further copy only as a
 *   re-delivery (DUP 1, original packet id; 5.0: only on a later connection);
 *   QoS 2 exactly once at S (S keeps the QoS 2 receiver state of its session
 *   like a real client); no PUBLISH re-sent after PUBREL;
 * - PUBLISH and PUBREL that S left unacknowledged are re-sent, with their
 *   packet ids, when a persistent session resumes;
 * - per topic, messages of the one publisher at the same published and
 *   delivered QoS arrive in publish order (first copies; re-deliveries are
 *   not ordered events);
 * - a SUBSCRIBE gets the topic's latest retained message with RETAIN 1
 *   (3.1.1: after a QoS 0 retained PUBLISH, that one or none) and forwarded
 *   messages carry RETAIN 0;
 * - CONNACK Session Present matches whether a session was kept.
 * Assumption (documented in the report): a broker routes a PUBLISH before it
 * acknowledges it (QoS 1/2) or answers the publisher's next PINGREQ (QoS 0).
 */
import {
  encode, type ConnackPacket, type ConnectPacket, type Packet, type PacketOf, type ProtocolVersion,
} from '../../codec/index.js';
import { PacketInbox } from '../../harness/packet-inbox.js';
import { describe } from '../../harness/raw-client.js';
import type { Recorder } from '../../harness/recorder.js';
import { listenerUrl, tlsOptions, type Target } from '../../harness/target.js';
import { openStream, parseBrokerUrl, type Stream } from '../../harness/transport.js';
import { StatementFailure } from './context.js';

export type Q = 0 | 1 | 2;

// ------------------------------------------------------------------ packet client

/**
 * One connection: packets out and in (recorded), waiters that take the
 * packets they match, everything else to `onPacket`.
 */
export class PacketClient {
  onPacket: (p: Packet) => void = () => {};
  onBadBytes: (e: { statement: string | undefined; message: string }) => void = () => {};
  private readonly inbox: PacketInbox<true>;

  private constructor(private readonly stream: Stream, readonly label: string, readonly version: ProtocolVersion, recorder: Recorder) {
    this.inbox = new PacketInbox<true>({ label, version, recorder, timeoutMs: 3000, unmatched: (p) => this.onPacket(p) });
    let reported = false;
    stream.onData((chunk) => {
      this.inbox.feed(chunk);
      const bad = this.inbox.badBytes;
      if (bad && !reported) {
        reported = true;
        this.onBadBytes({ statement: bad.statement, message: bad.message });
        stream.destroy();
      }
    });
    stream.onClose((error) => {
      this.recorder.event(label, 'close', error?.message);
      this.inbox.close(true, 'connection closed');
    });
  }

  /** Where packets are recorded (switchable: the shared publisher records into each run's recorder). */
  get recorder(): Recorder {
    return this.inbox.opts.recorder!;
  }

  set recorder(r: Recorder) {
    this.inbox.opts.recorder = r;
  }

  get closed(): boolean {
    return this.inbox.closed !== undefined;
  }

  static async open(target: Target, version: ProtocolVersion, label: string, recorder: Recorder, timeoutMs: number): Promise<PacketClient> {
    const url = listenerUrl(target, 'tcp') ?? listenerUrl(target, 'tls');
    if (!url) throw new Error(`profile '${target.profile.name}' names no TCP or TLS listener`);
    const addr = parseBrokerUrl(url);
    const stream = await openStream(addr, { tls: addr.scheme === 'mqtts' ? tlsOptions(target, 'default', true) : undefined, timeoutMs });
    recorder.event(label, 'open', url);
    return new PacketClient(stream, label, version, recorder);
  }

  send(p: Packet): void {
    if (this.closed) return;
    this.recorder.packet('out', this.label, p);
    this.stream.write(encode(p, this.version));
  }

  /** The next packet of `type` (matching `where`), or undefined on timeout / close. */
  wait<T extends Packet['type']>(type: T, timeoutMs: number, where?: (p: PacketOf<T>) => boolean): Promise<PacketOf<T> | undefined> {
    return this.inbox.take((p) => p.type === type && (!where || where(p as PacketOf<T>)), type.toUpperCase(), timeoutMs)
      .then((p) => p as PacketOf<T>, () => undefined);
  }

  /** Resolves true when the connection closes within `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    return this.inbox.closeWait(timeoutMs).then(() => true, () => false);
  }

  /** DISCONNECT (normal), then close. */
  disconnect(): void {
    if (this.closed) return;
    this.send(this.version === 5 ? { type: 'disconnect', reasonCode: 0 } : { type: 'disconnect' });
    this.stream.end();
  }

  /** Drop the connection without DISCONNECT. */
  destroy(): void {
    if (!this.closed) this.recorder.event(this.label, 'destroy');
    this.stream.destroy();
  }
}

// ------------------------------------------------------------------ model

export interface Msg {
  id: number;
  topic: number;
  qos: Q;
  retain: boolean;
}

/** Topic i is matched by filter i only: one exact filter, one with '+'. Two topics, so publishes often meet subscriptions. */
export const TOPIC_NAMES = ['a', 'c/x'] as const;
export const FILTER_NAMES = ['a', 'c/+'] as const;

interface Sub {
  granted: Q;
  /** S connection number the subscription was made on. */
  conn: number;
}

interface Session {
  gen: number;
  persistent: boolean;
  subs: Map<number, Sub>;
  unsubscribed: Set<number>;
}

/** Why a message must not arrive, as the failure to report if it does. */
interface Why {
  statement: string | undefined;
  text: string;
}

type Due = 'now' | 'resume' | 'optional' | 'done';

interface Expect {
  msg: Msg;
  expected: boolean;
  why?: Why;
  eff: Q;
  due: Due;
  gen: number;
  /** The subscription was made on an earlier connection (the session was resumed). */
  viaPersisted: boolean;
  /** Published while S was away. */
  offline: boolean;
  /** Owed to S when its session resumed (queued while away, or held back by S's own flow control). */
  queued?: boolean;
  /** First live copy delivered to S's application. */
  delivered: number;
  /** Session discarded: any copy on connection >= this one is a failure. */
  discardedFrom?: number;
  discardWhy?: Why;
}

interface Copy {
  msgId: number;
  /** Session generation the copy was delivered in. */
  gen: number;
  retained: boolean;
  packetId: number | undefined;
  conn: number;
  qos: Q;
  pubrel: boolean;
}

interface PendingRetained {
  msgId: number;
  retainedQos: Q;
  optional: boolean;
  /** Granted QoS once the SUBACK is in. */
  granted?: Q;
  /** QoS of the retained copy if it came before the SUBACK. */
  gotQos?: Q;
  done: boolean;
}

interface Resend {
  kind: 'publish' | 'pubrel';
  packetId: number;
  msgId: number;
  done: boolean;
}

interface Conn {
  n: number;
  client: PacketClient;
  withholding: boolean;
  /** Generation of the session the connection was accepted into (-1 until its CONNACK). */
  gen: number;
}

export interface ModelState {
  connected: boolean;
  /** S connections made so far. */
  conns: number;
  session: Session | undefined;
  withholding: boolean;
  /** Retained message per topic as the model knows it. */
  retained: Map<number, { msgId: number; qos: Q; optional: boolean }>;
}

const min = (a: Q, b: Q): Q => (a < b ? a : b);

export interface WorldOptions {
  target: Target;
  version: ProtocolVersion;
  recorder: Recorder;
  /** Topic prefix of this run (unique). */
  base: string;
  /** Client id of S. */
  clientId: string;
  /** The publisher, connected (see Publisher.open); shared by the runs of a property. */
  publisher: Publisher;
  /** Bound on waits for acknowledgements (CONNACK, SUBACK, PUBACK ...). */
  timeoutMs: number;
  /** Bound on the wait for what must have arrived after a command (event-driven; a failing run waits this long). */
  dueMs: number;
  settleMs: number;
}

/**
 * The system under test and its model, side by side. Commands change both;
 * every packet S receives is checked against the model when it arrives; the
 * first departure is kept and thrown at the end of the command.
 */
export class World {
  readonly model: ModelState = { connected: false, conns: 0, session: undefined, withholding: false, retained: new Map() };
  readonly v: ProtocolVersion;
  readonly topics: string[];
  readonly filters: string[];
  private readonly pub: PacketClient;
  private conn: Conn | undefined;
  private readonly oldConns: Conn[] = [];
  private nextMsg = 1;
  private nextSubId = 1;
  private gen = 0;
  private readonly expects = new Map<number, Expect>();
  private readonly copies: Copy[] = [];
  /** S's client-side QoS 2 receiver state: packet id -> message, PUBLISH taken, PUBREL not yet. */
  private readonly inboundQos2 = new Map<number, number>();
  /** Flows S has not acknowledged (withholding): packet id -> what is owed. */
  private readonly unacked = new Map<number, { kind: 'publish' | 'pubrel'; msgId: number; qos: Q }>();
  private resends: Resend[] = [];
  /** Per topic, the retained copies SUBSCRIBEs asked for, oldest first (a late copy may follow a later SUBACK). */
  private readonly pendingRetained = new Map<number, PendingRetained[]>();
  /** Order check: highest publish id delivered first per (topic, published QoS, delivered QoS). */
  private readonly lastInOrder = new Map<string, number>();
  private violation: StatementFailure | undefined;
  private wakers: (() => void)[] = [];

  constructor(private readonly o: WorldOptions) {
    this.v = o.version;
    this.topics = TOPIC_NAMES.map((n) => `${o.base}/${n}`);
    this.filters = FILTER_NAMES.map((n) => `${o.base}/${n}`);
    this.pub = o.publisher.client;
    this.pub.recorder = o.recorder;
    this.pub.onBadBytes = (e) => this.fail(e.statement, `publisher got bytes that do not decode: ${e.message}`);
  }

  private s(v4: string | undefined, v5: string | undefined): string | undefined {
    return this.v === 5 ? v5 : v4;
  }

  private fail(statement: string | undefined, text: string): void {
    if (this.violation) return;
    this.o.recorder.event('model', 'violation', `${statement ?? '(no statement)'}: ${text}`);
    this.violation = new StatementFailure(statement, text);
    this.wake();
  }

  private wake(): void {
    for (const f of this.wakers.splice(0)) f();
  }

  /** Throws the first departure seen so far. */
  throwIfViolated(): void {
    if (this.violation) throw this.violation;
  }

  private connectPacket(c: PacketClient, p: Omit<ConnectPacket, 'type' | 'protocolVersion'>): Promise<ConnackPacket | undefined> {
    c.send({ type: 'connect', protocolVersion: this.v, ...p });
    return c.wait('connack', this.o.timeoutMs);
  }

  // ---------------------------------------------------------------- commands

  /** S connects (3.1.1: clean = CleanSession; 5.0: clean = Clean Start, expiry = Session Expiry Interval). */
  async connect(clean: boolean, expiry: number, takeover = false): Promise<void> {
    const m = this.model;
    const old = this.conn;
    const n = m.conns + 1;
    m.conns = n;
    const client = await PacketClient.open(this.o.target, this.v, `S#${n}`, this.o.recorder, this.o.timeoutMs);
    const conn: Conn = { n, client, withholding: false, gen: -1 };
    client.onPacket = (p) => this.onS(conn, p);
    client.onBadBytes = (e) => this.fail(e.statement, `S#${n} got bytes that do not decode: ${e.message}`);
    const props: ConnectPacket['properties'] = this.v === 5 && expiry > 0 ? { sessionExpiryInterval: expiry } : undefined;
    const connack = await this.connectPacket(client, { clean, keepAlive: 0, clientId: this.o.clientId, ...creds(this.o.target), ...(props ? { properties: props } : {}) });
    if (!connack) {
      this.fail(this.s('MQTT-3.2.0-1', 'MQTT-3.1.4-5'), `S#${n}: no CONNACK`);
      return;
    }
    if (connack.reasonCode !== 0) {
      this.fail(undefined, `S#${n} was refused: ${describe(connack)} (check the profile's default credentials)`);
      return;
    }
    // The old connection of a takeover ends now: its session lives on only if persistent.
    if (takeover && old) {
      this.endConnection(old, n);
      const gone = await old.client.waitClosed(this.o.timeoutMs);
      if (!gone) this.fail(this.s('MQTT-3.1.4-2', 'MQTT-3.1.4-3'), `S#${old.n} was not closed after S#${n} connected with the same client id`);
    }
    const kept = m.session !== undefined && !clean;
    const persistent = this.v === 5 ? expiry > 0 : !clean;
    const spStatement = clean ? this.s('MQTT-3.2.2-1', 'MQTT-3.2.2-2') : kept ? this.s('MQTT-3.2.2-2', 'MQTT-3.2.2-3') : this.s('MQTT-3.2.2-3', 'MQTT-3.2.2-3');
    if (connack.sessionPresent !== kept) {
      this.fail(spStatement, `S#${n} (${this.v === 5 ? `Clean Start ${clean ? 1 : 0}, Session Expiry ${expiry}` : `CleanSession ${clean ? 1 : 0}`}): Session Present ${connack.sessionPresent ? 1 : 0}, the model says ${kept ? 1 : 0} (${kept ? 'a session was kept' : 'no session was kept'})`);
    }
    if (kept && m.session) {
      m.session.persistent = persistent;
      // What the session owes S now: queued messages, and re-sends of what S left unacknowledged.
      for (const e of this.expects.values()) {
        if (e.expected && e.gen === m.session.gen && e.due === 'resume') {
          e.due = 'now';
          e.queued = true;
        }
      }
      this.resends = [...this.unacked.entries()].map(([packetId, u]) => ({ kind: u.kind, packetId, msgId: u.msgId, done: false }));
      this.unacked.clear();
    } else {
      if (m.session) this.discard(m.session, n, clean ? { statement: this.s('MQTT-3.1.2-6', 'MQTT-3.1.2-4'), text: 'it belongs to a session that a clean CONNECT discarded' } : { statement: this.s('MQTT-3.1.2-6', 'MQTT-3.1.2-6'), text: 'it belongs to a session that ended' });
      this.gen++;
      m.session = { gen: this.gen, persistent, subs: new Map(), unsubscribed: new Set() };
      // A client that is told there is no session drops its own session state too.
      this.inboundQos2.clear();
      this.unacked.clear();
      this.resends = [];
    }
    conn.gen = m.session!.gen;
    this.conn = conn;
    m.connected = true;
    m.withholding = false;
  }

  /** S's connection ends (abruptly or with DISCONNECT); the session stays only if persistent. */
  async disconnect(abrupt: boolean): Promise<void> {
    const c = this.conn;
    if (!c) return;
    if (abrupt) c.client.destroy();
    else c.client.disconnect();
    this.endConnection(c, this.model.conns + 1);
    await c.client.waitClosed(this.o.timeoutMs);
  }

  /** `next`: the first connection on which nothing of a session that ends here may arrive. */
  private endConnection(c: Conn, next: number): void {
    const m = this.model;
    this.oldConns.push(c);
    if (this.conn === c) this.conn = undefined;
    m.connected = false;
    m.withholding = false;
    if (m.session && !m.session.persistent) {
      this.discard(m.session, next, { statement: this.s('MQTT-3.1.2-6', 'MQTT-3.1.2-6'), text: 'it belongs to a session that ended with its connection' });
      m.session = undefined;
    }
  }

  private discard(s: Session, fromConn: number, why: Why): void {
    for (const e of this.expects.values()) {
      if (e.gen !== s.gen || e.discardedFrom !== undefined) continue;
      e.discardedFrom = fromConn;
      e.discardWhy = why;
      if (e.due !== 'done') e.due = 'done';
    }
  }

  /** Takeover: a new connection with the same client id while the old one is open. */
  async reconnect(clean: boolean, expiry: number): Promise<void> {
    await this.connect(clean, expiry, true);
  }

  async subscribe(f: number, qos: Q): Promise<void> {
    const c = this.conn!;
    const m = this.model;
    const ret = m.retained.get(f);
    const pending: PendingRetained | undefined = ret ? { msgId: ret.msgId, retainedQos: ret.qos, optional: ret.optional, done: false } : undefined;
    if (pending) this.pendingRetained.set(f, [...(this.pendingRetained.get(f) ?? []), pending]);
    const packetId = this.subId();
    c.client.send({ type: 'subscribe', packetId, subscriptions: [{ topicFilter: this.filters[f]!, qos }] });
    const ack = await c.client.wait('suback', this.o.timeoutMs, (p) => p.packetId === packetId);
    if (!ack) return this.fail('MQTT-3.8.4-1', `S#${c.n}: no SUBACK for ${this.filters[f]}`);
    const code = ack.reasonCodes[0] ?? 0x80;
    if (code >= 0x80) return this.fail(undefined, `S#${c.n}: SUBSCRIBE ${this.filters[f]} refused (${describe(ack)}): the default role must be able to subscribe under the profile's prefix`);
    const granted = code as Q;
    m.session!.subs.set(f, { granted, conn: c.n });
    m.session!.unsubscribed.delete(f);
    if (pending) {
      pending.granted = granted;
      if (pending.gotQos !== undefined && pending.gotQos !== min(pending.retainedQos, granted)) {
        this.fail(this.s('MQTT-3.8.4-6', 'MQTT-3.8.4-8'), `retained message m${pending.msgId} (QoS ${pending.retainedQos}) came at QoS ${pending.gotQos} to a subscription granted QoS ${granted}`);
      }
    }
  }

  async unsubscribe(f: number): Promise<void> {
    const c = this.conn!;
    const packetId = this.subId();
    c.client.send({ type: 'unsubscribe', packetId, topicFilters: [this.filters[f]!] });
    const ack = await c.client.wait('unsuback', this.o.timeoutMs, (p) => p.packetId === packetId);
    if (!ack) return this.fail('MQTT-3.10.4-4', `S#${c.n}: no UNSUBACK for ${this.filters[f]}`);
    const s = this.model.session!;
    if (s.subs.delete(f)) s.unsubscribed.add(f);
  }

  /** S stops acknowledging on this connection (PUBACK, PUBREC, PUBCOMP), as a client that stalls or crashes would. */
  withhold(): void {
    if (!this.conn) return;
    this.conn.withholding = true;
    this.model.withholding = true;
  }

  /** P publishes; resolves once P's flow is complete (or a PINGRESP answered, for QoS 0). */
  async publish(topic: number, qos: Q, retain: boolean): Promise<void> {
    await this.publishBurst(topic, qos, retain, 1);
  }

  /** P publishes `count` messages back to back (same topic and QoS), then completes their flows: several in flight at once. */
  async publishBurst(topic: number, qos: Q, retain: boolean, count: number): Promise<void> {
    const flows: Promise<void>[] = [];
    for (let i = 0; i < count; i++) flows.push(this.publishOne(topic, qos, retain));
    if (qos === 0) {
      this.pub.send({ type: 'pingreq' });
      if (!(await this.pub.wait('pingresp', this.o.timeoutMs))) this.fail(undefined, 'publisher: no PINGRESP (needed to know the QoS 0 PUBLISH was processed)');
    }
    await Promise.all(flows);
  }

  private async publishOne(topic: number, qos: Q, retain: boolean): Promise<void> {
    const m = this.model;
    const msg: Msg = { id: this.nextMsg++, topic, qos, retain };
    const s = m.session;
    const sub = s?.subs.get(topic);
    const e: Expect = { msg, expected: false, eff: 0, due: 'done', gen: s?.gen ?? -1, viaPersisted: false, offline: !m.connected, delivered: 0 };
    if (s && sub) {
      e.expected = true;
      e.eff = min(qos, sub.granted);
      e.viaPersisted = sub.conn < m.conns;
      if (m.connected) e.due = e.eff > 0 && m.withholding ? 'resume' : 'now';
      else e.due = e.eff > 0 ? 'resume' : 'optional';
    } else if (s && s.unsubscribed.has(topic)) {
      e.why = { statement: 'MQTT-3.10.4-2', text: 'it was published after S unsubscribed from its topic' };
    } else {
      e.why = { statement: undefined, text: `it was published while S ${s ? 'had no subscription matching it' : 'had no session'} (§3.3.2, §4.5)` };
    }
    this.expects.set(msg.id, e);
    if (retain) m.retained.set(topic, { msgId: msg.id, qos, optional: this.v === 4 && qos === 0 });
    const packetId = qos > 0 ? this.o.publisher.nextId() : undefined;
    this.pub.send({ type: 'publish', topic: this.topics[topic]!, payload: Buffer.from(`m${msg.id}`), qos, retain, dup: false, ...(packetId ? { packetId } : {}) });
    const t = this.o.timeoutMs;
    if (qos === 0) return;
    if (qos === 1) {
      const ack = await this.pub.wait('puback', t, (p) => p.packetId === packetId);
      if (!ack || (ack.reasonCode ?? 0) >= 0x80) this.fail(this.s('MQTT-4.3.2-2', 'MQTT-4.3.2-4'), `publisher: ${ack ? describe(ack) : 'no PUBACK'} for m${msg.id}`);
    } else {
      const rec = await this.pub.wait('pubrec', t, (p) => p.packetId === packetId);
      if (!rec || (rec.reasonCode ?? 0) >= 0x80) return this.fail(this.s('MQTT-4.3.3-2', 'MQTT-4.3.3-8'), `publisher: ${rec ? describe(rec) : 'no PUBREC'} for m${msg.id}`);
      this.pub.send({ type: 'pubrel', packetId: packetId! });
      if (!(await this.pub.wait('pubcomp', t, (p) => p.packetId === packetId))) this.fail(this.s('MQTT-4.3.3-2', 'MQTT-4.3.3-11'), `publisher: no PUBCOMP for m${msg.id}`);
    }
  }

  private subId(): number {
    const id = this.nextSubId;
    this.nextSubId = (this.nextSubId % 65535) + 1;
    return id;
  }

  // ---------------------------------------------------------------- what S receives

  private ack(conn: Conn, p: Packet): void {
    if (!conn.withholding) conn.client.send(p);
  }

  private onS(conn: Conn, p: Packet): void {
    try {
      // A late packet on a connection that was taken over or closed, of a session that has since ended: it was
      // written before the session ended (sockets are read in no particular order) and is no business of S's
      // current session state.
      if (conn !== this.conn && conn.gen !== -1 && conn.gen !== (this.model.session?.gen ?? -1)) {
        this.o.recorder.event(conn.client.label, 'late', `${describe(p)} on a connection of an ended session`);
        return;
      }
      if (p.type === 'publish') this.onPublish(conn, p);
      else if (p.type === 'pubrel') this.onPubrel(conn, p.packetId);
      else if (p.type === 'disconnect') this.o.recorder.event(conn.client.label, 'server-disconnect', describe(p));
      else this.fail(undefined, `S#${conn.n}: unexpected ${describe(p)}`);
    } finally {
      this.wake();
    }
  }

  private onPubrel(conn: Conn, packetId: number): void {
    const msgId = this.inboundQos2.get(packetId) ?? this.unacked.get(packetId)?.msgId;
    this.resolveResend('pubrel', packetId);
    this.inboundQos2.delete(packetId);
    for (const c of this.copies) if (c.packetId === packetId && c.qos === 2 && !c.pubrel && (msgId === undefined || c.msgId === msgId)) c.pubrel = true;
    if (conn.withholding) this.unacked.set(packetId, { kind: 'pubrel', msgId: msgId ?? 0, qos: 2 });
    else {
      this.unacked.delete(packetId);
      conn.client.send({ type: 'pubcomp', packetId });
    }
  }

  private resolveResend(kind: Resend['kind'], packetId: number): void {
    for (const r of this.resends) if (!r.done && r.kind === kind && r.packetId === packetId) r.done = true;
  }

  private onPublish(conn: Conn, p: PacketOf<'publish'>): void {
    const topic = this.topics.indexOf(p.topic);
    const id = /^m(\d+)$/.exec(p.payload.toString())?.[1];
    const e = id !== undefined ? this.expects.get(Number(id)) : undefined;
    if (!e) return this.fail(undefined, `S#${conn.n} got ${describe(p)} '${p.payload.toString()}', which no command published`);
    if (e.msg.topic !== topic) return this.fail('MQTT-4.7.3-4', `m${e.msg.id} was published to ${this.topics[e.msg.topic]} but arrived as ${p.topic}`);
    const q = p.qos as Q;
    const pid = p.packetId;
    const what = `m${e.msg.id} (${describe(p)}) on S#${conn.n}`;

    const open = (this.pendingRetained.get(topic) ?? []).filter((x) => !x.done);
    const pr = open.find((x) => x.msgId === e.msg.id) ?? open[0];
    const gen = this.model.session?.gen ?? -1;

    // The original send on a connection that has since been taken over, read after its re-send on the newer
    // connection: which socket S reads first says nothing about the order the broker wrote them. Not a re-delivery,
    // and S's session state moved on with the newer connection.
    const newer = pid !== undefined ? this.copies.find((c) => c.msgId === e.msg.id && c.packetId === pid && c.conn > conn.n) : undefined;
    if (newer) {
      this.o.recorder.event(conn.client.label, 'late-original', `m${e.msg.id} id ${pid}: already re-sent on S#${newer.conn}`);
      this.copies.push({ msgId: e.msg.id, gen, retained: p.retain, packetId: pid, conn: conn.n, qos: q, pubrel: false });
      return;
    }

    // A copy S still holds unacknowledged, or the QoS 2 state of its session, with the same packet id: a re-delivery
    // (of a copy of the current session: S drops that state whenever it is told there is no session).
    const heldQos2 = q === 2 && pid !== undefined ? this.inboundQos2.get(pid) : undefined;
    const held = pid !== undefined ? this.unacked.get(pid) : undefined;
    if (heldQos2 !== undefined || (held && held.kind === 'publish')) {
      const heldId = heldQos2 ?? held!.msgId;
      if (heldId !== e.msg.id) return this.fail(this.s('MQTT-2.3.1-4', 'MQTT-2.2.1-4'), `${what} reuses packet id ${pid}, which S still holds for m${heldId}`);
      this.redelivery(conn, p, e, what);
      this.resolveResend('publish', pid!);
      this.ackPublish(conn, q, pid!, e.msg.id);
      return;
    }
    // A re-delivery of a copy S has acknowledged (its PUBACK may have been lost with the connection).
    // (A retained copy on a new SUBSCRIBE is a new delivery, and may reuse a packet id that is free again.)
    const retainedCopy = p.retain && pr !== undefined && !pr.done && pr.msgId === e.msg.id;
    const prior = retainedCopy ? undefined : [...this.copies].reverse().find((c) => c.msgId === e.msg.id && c.packetId !== undefined && c.packetId === pid);
    if (prior && prior.gen !== gen) {
      return this.fail(this.s('MQTT-3.1.2-6', 'MQTT-3.1.2-4'), `${what} re-sends a copy delivered in an earlier session, which has since been discarded`);
    }
    if (prior && p.dup && q === 1) {
      this.redelivery(conn, p, e, what);
      this.resolveResend('publish', pid!);
      this.ackPublish(conn, q, pid!, e.msg.id);
      return;
    }
    if (prior && q === 2 && prior.pubrel) {
      return this.fail(this.s('MQTT-4.3.3-1', 'MQTT-4.3.3-6'), `${what}: QoS 2 PUBLISH sent again after the server sent PUBREL for it (delivered twice)`);
    }

    // A new copy. Retained messages are not session state: a retained copy on SUBSCRIBE is fine whatever became of
    // the session the message was first published in; a live copy of a discarded session is not.
    if (!p.retain && e.discardedFrom !== undefined && conn.n >= e.discardedFrom) {
      return this.fail(e.discardWhy!.statement, `${what} arrived, but ${e.discardWhy!.text}`);
    }
    if (p.retain) {
      if (!pr) {
        if (e.expected && e.delivered === 0) return this.fail(this.s('MQTT-3.3.1-9', 'MQTT-3.3.1-12'), `${what}: a message forwarded to an existing subscription has RETAIN 1`);
        const again = this.copies.some((c) => c.msgId === e.msg.id && c.retained && c.conn === conn.n);
        return this.fail(undefined, `${what}: a retained message with no SUBSCRIBE that asks for it${again ? ' (sent again for the same SUBSCRIBE)' : ''} (§3.3.1.3)`);
      }
      if (pr.msgId !== e.msg.id) {
        const ret = this.model.retained.get(topic);
        return this.fail(ret?.optional ? 'MQTT-3.3.1-7' : 'MQTT-3.3.1-5', `${what}: the retained message sent on SUBSCRIBE is m${e.msg.id}, but the latest retained PUBLISH on ${p.topic} was m${pr.msgId}`);
      }
      pr.done = true;
      if (pr.granted === undefined) pr.gotQos = q;
      else if (q !== min(pr.retainedQos, pr.granted)) return this.fail(this.s('MQTT-3.8.4-6', 'MQTT-3.8.4-8'), `${what}: retained (QoS ${pr.retainedQos}) at QoS ${q} to a subscription granted QoS ${pr.granted}`);
      this.newCopy(conn, p, e, true);
      return;
    }
    if (!(e.expected && e.delivered === 0) && pr && !pr.done && pr.msgId === e.msg.id) {
      return this.fail(this.s('MQTT-3.3.1-8', undefined), `${what}: the retained message sent because of a new subscription has RETAIN 0 (§3.3.1.3)`);
    }
    if (!e.expected) return this.fail(e.why!.statement, `${what} arrived, but ${e.why!.text}`);
    if (e.delivered > 0) {
      if (q === 0) return this.fail(undefined, `${what}: a QoS 0 message delivered twice (§4.3.1: at most once)`);
      if (q === 1 && !p.dup) return this.fail('MQTT-3.3.1-1', `${what}: a second copy of a QoS 1 message with DUP 0`);
      return this.fail('MQTT-4.4.0-1', `${what}: a second copy with a packet id other than the original's`);
    }
    if (q !== e.eff) return this.fail(this.s('MQTT-3.8.4-6', 'MQTT-3.8.4-8'), `${what}: published at QoS ${e.msg.qos} to a subscription granted ${e.eff === e.msg.qos ? `QoS ${e.eff} or more` : `QoS ${e.eff}`}, delivered at QoS ${q}`);
    const key = `${topic}|${e.msg.qos}|${q}`;
    const last = this.lastInOrder.get(key) ?? 0;
    if (last > e.msg.id) return this.fail(this.s('MQTT-4.6.0-6', 'MQTT-4.6.0-5'), `${what} arrived after m${last}, which was published later (same topic, publisher and QoS)`);
    this.lastInOrder.set(key, e.msg.id);
    e.delivered++;
    this.newCopy(conn, p, e, false);
  }

  private redelivery(conn: Conn, p: PacketOf<'publish'>, e: Expect, what: string): void {
    if (!p.dup) return this.fail('MQTT-3.3.1-1', `${what}: a re-delivery with DUP 0`);
    const prev = [...this.copies].reverse().find((c) => c.msgId === e.msg.id && c.packetId === p.packetId);
    if (this.v === 5 && prev && prev.conn === conn.n) this.fail('MQTT-4.4.0-1', `${what}: re-sent on the same connection (5.0: only when a session resumes)`);
    this.copies.push({ msgId: e.msg.id, gen: this.model.session?.gen ?? -1, retained: p.retain, packetId: p.packetId, conn: conn.n, qos: p.qos as Q, pubrel: false });
  }

  private newCopy(conn: Conn, p: PacketOf<'publish'>, e: Expect, retained: boolean): void {
    const q = p.qos as Q;
    if (q > 0 && (this.unacked.has(p.packetId!) || this.inboundQos2.has(p.packetId!))) {
      return this.fail(this.s('MQTT-2.3.1-4', 'MQTT-2.2.1-4'), `m${e.msg.id} on S#${conn.n} uses packet id ${p.packetId}, which is still in use`);
    }
    this.copies.push({ msgId: e.msg.id, gen: this.model.session?.gen ?? -1, retained, packetId: p.packetId, conn: conn.n, qos: q, pubrel: false });
    if (q > 0) this.ackPublish(conn, q, p.packetId!, e.msg.id);
  }

  private ackPublish(conn: Conn, q: Q, packetId: number, msgId: number): void {
    if (q === 2) this.inboundQos2.set(packetId, msgId);
    if (conn.withholding) {
      this.unacked.set(packetId, { kind: 'publish', msgId, qos: q });
      return;
    }
    this.unacked.delete(packetId);
    this.ack(conn, q === 1 ? { type: 'puback', packetId } : { type: 'pubrec', packetId });
  }

  // ---------------------------------------------------------------- after each command

  /** What must have arrived by now but has not: [statement, text]. */
  private missing(): [string | undefined, string][] {
    const out: [string | undefined, string][] = [];
    for (const e of this.expects.values()) {
      if (e.due !== 'now' || e.delivered > 0) continue;
      const statement = e.queued ? this.s('MQTT-3.1.2-5', 'MQTT-3.1.2-23') : e.viaPersisted ? this.s('MQTT-3.1.2-4', 'MQTT-3.1.2-5') : 'MQTT-4.5.0-1';
      const when = e.queued ? ` when its session resumed (${e.offline ? 'queued while it was away' : 'held while S withheld acknowledgements'})` : ' while it was connected and subscribed';
      out.push([statement, `m${e.msg.id} (${TOPIC_NAMES[e.msg.topic]}, QoS ${e.msg.qos}${e.msg.retain ? ', retain' : ''}) was not delivered to S${when}${e.viaPersisted ? ', through a subscription kept in its session' : ''}`]);
    }
    for (const [topic, list] of this.pendingRetained) {
      for (const pr of list) if (!pr.done && !pr.optional) out.push([this.s('MQTT-3.3.1-6', 'MQTT-3.3.1-9'), `the retained message m${pr.msgId} of ${TOPIC_NAMES[topic]} was not sent on SUBSCRIBE`]);
    }
    for (const r of this.resends) {
      if (!r.done) out.push(['MQTT-4.4.0-1', `the ${r.kind.toUpperCase()} (packet id ${r.packetId}, m${r.msgId}) S left unacknowledged was not re-sent when the session resumed`]);
    }
    return out;
  }

  /** Waits (bounded, event-driven) until everything due has arrived; throws the first departure. */
  async settle(): Promise<void> {
    const deadline = Date.now() + this.o.dueMs;
    while (!this.violation && this.missing().length > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.throwIfViolated();
    const [first] = this.missing();
    if (first) throw new StatementFailure(first[0], first[1]);
    for (const e of this.expects.values()) if (e.due === 'now') e.due = 'done';
    for (const [topic, list] of this.pendingRetained) this.pendingRetained.set(topic, list.filter((pr) => !pr.done));
    this.resends = this.resends.filter((r) => !r.done);
  }

  /** End of a run: a short silence for stragglers, then the final verdict. */
  async finish(): Promise<void> {
    await this.settle();
    await new Promise((r) => setTimeout(r, this.o.settleMs));
    this.throwIfViolated();
  }

  /** Leaves nothing behind on the broker: S's session (when one may be kept) and the run's retained messages. */
  async cleanup(): Promise<void> {
    this.pub.onBadBytes = () => {};
    const persistent = this.model.session?.persistent === true;
    for (const c of this.oldConns) c.client.destroy();
    if (this.conn) {
      if (persistent) this.conn.client.destroy();
      else this.conn.client.disconnect();
    }
    this.conn = undefined;
    try {
      if (persistent) {
        const s = await PacketClient.open(this.o.target, this.v, 'S-cleanup', this.o.recorder, this.o.timeoutMs);
        await this.connectPacket(s, { clean: true, keepAlive: 0, clientId: this.o.clientId, ...creds(this.o.target) });
        s.disconnect();
      }
      for (const topic of this.model.retained.keys()) {
        this.pub.send({ type: 'publish', topic: this.topics[topic]!, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false });
      }
    } catch {
      // best effort
    }
  }
}

/** P: connected once per property and shared by its runs (a CONNECT can cost tens of ms with password hashing). */
export class Publisher {
  private id = 0;
  private constructor(readonly client: PacketClient) {}

  static async open(target: Target, version: ProtocolVersion, clientId: string, recorder: Recorder, timeoutMs: number): Promise<Publisher> {
    const client = await PacketClient.open(target, version, 'P', recorder, timeoutMs);
    client.send({ type: 'connect', protocolVersion: version, clean: true, keepAlive: 0, clientId, ...creds(target) });
    const ack = await client.wait('connack', timeoutMs);
    if (!ack || ack.reasonCode !== 0) throw new StatementFailure(undefined, `publisher not accepted: ${ack ? describe(ack) : 'no CONNACK'}`);
    return new Publisher(client);
  }

  nextId(): number {
    this.id = (this.id % 65535) + 1;
    return this.id;
  }

  close(): void {
    this.client.disconnect();
  }
}

function creds(target: Target): Pick<ConnectPacket, 'username' | 'password'> {
  const c = target.profile.credentials?.['default'];
  const out: Pick<ConnectPacket, 'username' | 'password'> = {};
  if (c?.username !== undefined) out.username = c.username;
  if (c?.password !== undefined) out.password = Buffer.from(c.password);
  return out;
}

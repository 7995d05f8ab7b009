/**
 * Durable broker state (BrokerOptions.dataDir): an append-only log of state
 * changes, replayed at start, then compacted into a fresh log of the current
 * state (temporary file + rename) and appended to again. Format and the
 * durability argument: reference-broker/README.md, "Persistence".
 *
 * The broker calls one method per kind of change at the point where it makes
 * the change. Records are buffered and written (writeSync) as one CRC-checked
 * frame per transaction, before any byte that depends on them reaches a
 * client: Connection.write asks mayWrite() first, so a PUBACK or PUBREC never
 * leaves before the records of the message it acknowledges are in the OS
 * (page cache, enough for a kill -9), or on disk with `fsync: true`.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as zlib from 'node:zlib';
import type { ProtocolVersion, PublishProperties, QoS, RetainHandling } from '../../codec/index.js';
import { type Clock, wallNow } from './clock.js';
import { type AppMessage, ownMessage } from './message.js';
import type { Logger } from './options.js';
import type { Outbound, PendingWill, Session, ShareRef } from './session.js';
import type { Subscription } from './subscription-trie.js';

/** Holds writes to a client until the records before them are durable (the Connection). */
export interface WriteGate {
  releaseWrites(): void;
}

/** What a compaction writes: the broker's current state. */
export interface StateSource {
  retained(): Iterable<AppMessage>;
  /** Every session; those with a Session Expiry Interval above 0 are kept. */
  sessions(): Iterable<Session>;
  /** Wills not yet published: of open connections, and delayed ones of sessions without a connection. */
  wills(): Iterable<[clientId: string, will: PendingWill]>;
}

export interface Persistence {
  /** False for the in-memory broker, where every method does nothing. */
  readonly active: boolean;
  /** Records between begin() and the matching end() are written as one atomic frame; client writes wait for it. */
  begin(): void;
  end(): void;
  /** Whether bytes may go to a client now; if not, gate.releaseWrites() is called once every record so far is durable. */
  mayWrite(gate: WriteGate): boolean;
  /** A retained message stored (`msg`) or cleared (undefined). */
  retained(topic: string, msg: AppMessage | undefined): void;
  /** A session's version, expiry interval and offline time: written when it gets a connection and when it loses it. */
  session(session: Session): void;
  sessionEnded(session: Session): void;
  /** A subscription added or replaced (`sub`) or removed (undefined). */
  subscription(session: Session, filter: string, sub: Subscription<Session> | undefined): void;
  /** A delivery queued, given its Packet Identifier (in flight), or moved on to PUBREL. */
  outbound(session: Session, out: Outbound): void;
  /** A delivery completed, refused, dropped or expired. */
  outboundDone(session: Session, out: Outbound): void;
  /** A QoS 2 Packet Identifier from the client PUBREC'd (`pending`) or released by PUBREL. */
  inboundQos2(session: Session, packetId: number, pending: boolean): void;
  /** The Will of a client (set while it is connected or its delayed Will waits), or none. */
  will(clientId: string, will: PendingWill | undefined): void;
  /** Writes what is buffered and closes the log; with `final`, compacts it first. Later calls do nothing. */
  close(final?: StateSource): void;
}

/** The in-memory broker: nothing is kept. */
export const noPersistence: Persistence = {
  active: false,
  begin() {},
  end() {},
  mayWrite: () => true,
  retained() {},
  session() {},
  sessionEnded() {},
  subscription() {},
  outbound() {},
  outboundDone() {},
  inboundQos2() {},
  will() {},
  close() {},
};

// ---------------------------------------------------------------------------
// Records

type JsonProperties = Omit<PublishProperties, 'correlationData'>;

/** One state change. `msg` records carry the payload as the record's blob. */
type LogRecord =
  | { t: 'msg'; id: number; topic: string; qos: QoS; retain?: true; props?: JsonProperties; cd?: string; exp?: number; origin?: string }
  | { t: 'retain'; topic: string; msg?: number }
  | { t: 'session'; c: string; v: ProtocolVersion; exp: number; off?: number }
  | { t: 'end'; c: string }
  | { t: 'sub'; c: string; f: string; qos: QoS; nl?: true; rap?: true; rh?: RetainHandling; sid?: number }
  | { t: 'unsub'; c: string; f: string }
  | { t: 'out'; c: string; o: number; msg: number; qos: QoS; retain?: true; sids?: number[]; share?: [string, string]; pid?: number; phase?: 'pubrel' }
  | { t: 'phase'; o: number; pid: number; phase: 'publish' | 'pubrel' }
  | { t: 'done'; o: number }
  | { t: 'qos2'; c: string; pid: number }
  | { t: 'qos2-done'; c: string; pid: number }
  | { t: 'will'; c: string; msg?: number; delay?: number };

const MAGIC = Buffer.from('MQTBLOG1');
export const LOG_FILE = 'broker.log';
const TMP_FILE = 'broker.log.tmp';
const LOCK_FILE = 'broker.lock';
/** Snapshot frames are cut at about this size. */
const SNAPSHOT_FRAME = 1024 * 1024;

const crcTable = ((): Int32Array => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function jsCrc32(b: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 (zlib.crc32 from Node 20.15; a table otherwise). */
const crc32: (b: Uint8Array) => number = typeof zlib.crc32 === 'function' ? (b) => zlib.crc32(b) : jsCrc32;

// ---------------------------------------------------------------------------
// Replay

export interface RestoredSubscription {
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: RetainHandling;
  subscriptionId: number | undefined;
}

export interface RestoredSession {
  clientId: string;
  version: ProtocolVersion;
  expiryInterval: number;
  /** Wall-clock ms; undefined when the session had a connection when the broker stopped. */
  offlineSince: number | undefined;
  subscriptions: RestoredSubscription[];
  /** In sending order; packetId 0 = queued, else in flight. */
  outbound: Outbound[];
  inboundQos2: number[];
}

export interface Restored {
  retained: AppMessage[];
  sessions: RestoredSession[];
  wills: Map<string, PendingWill>;
  /** Log size read, frames applied, and what was cut off after the last good frame. */
  bytes: number;
  frames: number;
  ignoredBytes: number;
}

interface ReplaySession {
  version: ProtocolVersion;
  exp: number;
  off: number | undefined;
  subs: Map<string, RestoredSubscription>;
  outs: Map<number, { msg: number; qos: QoS; retain: boolean; sids: number[] | undefined; share: ShareRef | undefined; pid: number; phase: 'publish' | 'pubrel' }>;
  qos2: Set<number>;
}

class Replay {
  readonly msgs = new Map<number, AppMessage>();
  readonly retained = new Map<string, number>();
  readonly sessions = new Map<string, ReplaySession>();
  readonly outOwner = new Map<number, string>();
  readonly wills = new Map<string, { msg: number; delay: number }>();
  unknownRefs = 0;

  constructor(private readonly toClockTime: (wall: number) => number) {}

  apply(r: LogRecord, blob: Buffer): void {
    switch (r.t) {
      case 'msg': {
        const props: PublishProperties | undefined = r.props || r.cd !== undefined ? { ...r.props } : undefined;
        if (props && r.cd !== undefined) props.correlationData = Buffer.from(r.cd, 'base64');
        const msg: AppMessage = {
          topic: r.topic, payload: blob, qos: r.qos, retain: r.retain === true, properties: props,
          expiresAt: r.exp !== undefined ? this.toClockTime(r.exp) : undefined, origin: r.origin,
        };
        ownMessage(msg); // a copy, so the log buffer can go
        this.msgs.set(r.id, msg);
        return;
      }
      case 'retain':
        if (r.msg !== undefined) this.retained.set(r.topic, r.msg);
        else this.retained.delete(r.topic);
        return;
      case 'session': {
        const s = this.sessions.get(r.c);
        if (s) {
          s.version = r.v;
          s.exp = r.exp;
          s.off = r.off;
        } else {
          this.sessions.set(r.c, { version: r.v, exp: r.exp, off: r.off, subs: new Map(), outs: new Map(), qos2: new Set() });
        }
        return;
      }
      case 'end': {
        const s = this.sessions.get(r.c);
        if (!s) return;
        for (const o of s.outs.keys()) this.outOwner.delete(o);
        this.sessions.delete(r.c);
        return;
      }
      case 'sub':
        this.sessions.get(r.c)?.subs.set(r.f, {
          filter: r.f, qos: r.qos, noLocal: r.nl === true, retainAsPublished: r.rap === true, retainHandling: r.rh ?? 0, subscriptionId: r.sid,
        });
        return;
      case 'unsub':
        this.sessions.get(r.c)?.subs.delete(r.f);
        return;
      case 'out': {
        const s = this.sessions.get(r.c);
        if (!s) return;
        s.outs.set(r.o, {
          msg: r.msg, qos: r.qos, retain: r.retain === true, sids: r.sids,
          share: r.share ? { shareName: r.share[0], filter: r.share[1] } : undefined, pid: r.pid ?? 0, phase: r.phase ?? 'publish',
        });
        this.outOwner.set(r.o, r.c);
        return;
      }
      case 'phase': {
        const c = this.outOwner.get(r.o);
        const out = c !== undefined ? this.sessions.get(c)?.outs.get(r.o) : undefined;
        if (out) {
          out.pid = r.pid;
          out.phase = r.phase;
        }
        return;
      }
      case 'done': {
        const c = this.outOwner.get(r.o);
        if (c === undefined) return;
        this.outOwner.delete(r.o);
        this.sessions.get(c)?.outs.delete(r.o);
        return;
      }
      case 'qos2':
        this.sessions.get(r.c)?.qos2.add(r.pid);
        return;
      case 'qos2-done':
        this.sessions.get(r.c)?.qos2.delete(r.pid);
        return;
      case 'will':
        if (r.msg !== undefined) this.wills.set(r.c, { msg: r.msg, delay: r.delay ?? 0 });
        else this.wills.delete(r.c);
        return;
    }
  }

  result(bytes: number, frames: number, ignoredBytes: number): Restored {
    const msg = (id: number): AppMessage | undefined => {
      const m = this.msgs.get(id);
      if (!m) this.unknownRefs++;
      return m;
    };
    const retained: AppMessage[] = [];
    for (const id of this.retained.values()) {
      const m = msg(id);
      if (m) retained.push(m);
    }
    const sessions: RestoredSession[] = [];
    for (const [clientId, s] of this.sessions) {
      const outbound: Outbound[] = [];
      for (const o of s.outs.values()) {
        const m = msg(o.msg);
        if (m) outbound.push({ msg: m, qos: o.qos, retain: o.retain, subscriptionIds: o.sids, packetId: o.pid, phase: o.phase, share: o.share });
      }
      sessions.push({
        clientId, version: s.version, expiryInterval: s.exp, offlineSince: s.off,
        subscriptions: [...s.subs.values()], outbound, inboundQos2: [...s.qos2],
      });
    }
    const wills = new Map<string, PendingWill>();
    for (const [c, w] of this.wills) {
      const m = msg(w.msg);
      if (m) wills.set(c, { msg: m, delay: w.delay });
    }
    return { retained, sessions, wills, bytes, frames, ignoredBytes };
  }
}

/** Splits a frame body into records; throws on a malformed one. */
function parseFrame(body: Buffer): [LogRecord, Buffer][] {
  const out: [LogRecord, Buffer][] = [];
  let off = 0;
  while (off < body.length) {
    if (off + 8 > body.length) throw new Error('record header cut short');
    const jsonLen = body.readUInt32BE(off);
    const jsonEnd = off + 4 + jsonLen;
    if (jsonEnd + 4 > body.length) throw new Error('record cut short');
    const rec = JSON.parse(body.toString('utf8', off + 4, jsonEnd)) as LogRecord;
    const blobLen = body.readUInt32BE(jsonEnd);
    const blobEnd = jsonEnd + 4 + blobLen;
    if (blobEnd > body.length) throw new Error('record blob cut short');
    out.push([rec, body.subarray(jsonEnd + 4, blobEnd)]);
    off = blobEnd;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The log

export interface FilePersistenceOptions {
  fsync: boolean;
  compactBytes: number;
  clock: Clock;
  logger: Logger;
}

/** Data directories open in this process (a second broker on the same folder would corrupt it). */
const openDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FilePersistence implements Persistence {
  readonly active = true;
  readonly dir: string;
  private readonly logPath: string;
  private state: 'new' | 'loaded' | 'open' | 'closed' = 'new';
  private fd = -1;
  private depth = 0;
  private parts: Buffer[] = [];
  private partsLen = 0;
  private readonly gates = new Set<WriteGate>();
  /** Frames written since the last fsync (fsync mode). */
  private unsynced = false;
  private tickScheduled = false;
  private size = 0;
  private compactAt = 0;
  private source: StateSource | undefined;
  /** Bumped by each compaction: a message is written again in a new log the first time it is referenced there. */
  private gen = 0;
  private nextMsgId = 1;
  private nextOutId = 1;
  private readonly msgIds = new WeakMap<AppMessage, { id: number; gen: number }>();
  private readonly outIds = new WeakMap<Outbound, number>();
  private logged = new WeakSet<Session>();
  private readonly willsLogged = new Set<string>();
  readonly stats = { frames: 0, records: 0, bytes: 0, fsyncs: 0, compactions: 0, lastCompactionMs: 0, lastCompactionBytes: 0 };

  constructor(dir: string, private readonly o: FilePersistenceOptions) {
    this.dir = resolve(dir);
    this.logPath = join(this.dir, LOG_FILE);
  }

  // ---- start, compaction, close -------------------------------------------

  /** Takes the folder (refusing one in use by a live process) and replays its log. */
  load(): Restored {
    if (this.state !== 'new') throw new Error('load() once');
    mkdirSync(this.dir, { recursive: true });
    this.lock();
    rmSync(join(this.dir, TMP_FILE), { force: true }); // a compaction that did not finish
    this.state = 'loaded';
    const now = this.o.clock.now();
    const wall = wallNow(this.o.clock);
    const replay = new Replay((w) => now + (w - wall));
    if (!existsSync(this.logPath)) return replay.result(0, 0, 0);
    const buf = readFileSync(this.logPath);
    if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new Error(`${this.logPath} is not a broker log (expected it to start with '${MAGIC.toString()}')`);
    }
    let off = MAGIC.length;
    let frames = 0;
    let problem: string | undefined;
    while (off < buf.length) {
      if (buf.length - off < 8) { problem = 'frame header cut short'; break; }
      const len = buf.readUInt32BE(off);
      const end = off + 8 + len;
      if (end > buf.length) { problem = `frame of ${len} bytes cut short`; break; }
      const body = buf.subarray(off + 8, end);
      if (crc32(body) !== buf.readUInt32BE(off + 4)) { problem = 'frame checksum mismatch'; break; }
      let records: [LogRecord, Buffer][];
      try {
        records = parseFrame(body);
      } catch (e) {
        problem = `bad record: ${(e as Error).message}`;
        break;
      }
      for (const [rec, blob] of records) replay.apply(rec, blob);
      frames++;
      off = end;
    }
    const ignored = buf.length - off;
    if (problem !== undefined) {
      // A torn last frame is what a kill -9 or power loss in the middle of a write leaves: nothing in it was acknowledged.
      // Anything else is damage; keep a copy for inspection.
      let tail = true;
      if (ignored >= 8) {
        const len = buf.readUInt32BE(off);
        tail = off + 8 + len >= buf.length;
      }
      if (tail) {
        this.o.logger.warn('persistence: incomplete last frame ignored (the broker stopped while writing it)', { file: this.logPath, offset: off, bytes: ignored, problem });
      } else {
        const copy = `${this.logPath}.damaged-${Date.now()}`;
        writeFileSync(copy, buf);
        this.o.logger.error('persistence: damaged log; state after the damage is lost', { file: this.logPath, offset: off, bytesIgnored: ignored, problem, copy });
      }
    }
    const restored = replay.result(buf.length, frames, ignored);
    if (replay.unknownRefs > 0) this.o.logger.error('persistence: records refer to messages missing from the log; they were skipped', { count: replay.unknownRefs });
    return restored;
  }

  /** Writes a fresh log of `source` (compaction) and appends to it from now on. */
  start(source: StateSource): void {
    if (this.state !== 'loaded') throw new Error('start() after load()');
    this.state = 'open';
    this.source = source;
    this.compact(source);
  }

  /**
   * Writes the current state to a temporary file, syncs it (fsync mode) and
   * renames it over the log: a crash at any point leaves either the old log
   * or the new one, whole.
   */
  compact(source: StateSource = this.source!): void {
    if (this.state !== 'open') return;
    const t0 = performance.now();
    this.sync();
    const tmp = join(this.dir, TMP_FILE);
    const fd = openSync(tmp, 'w', 0o600);
    try {
      this.writeAll(fd, MAGIC);
      this.gen++;
      this.logged = new WeakSet();
      this.willsLogged.clear();
      const now = this.o.clock.now();
      for (const msg of source.retained()) {
        if (msg.expiresAt !== undefined && msg.expiresAt <= now) continue;
        this.retained(msg.topic, msg);
        if (this.partsLen >= SNAPSHOT_FRAME) this.writeFrame(fd);
      }
      for (const s of source.sessions()) {
        if (s.expiryInterval === 0) continue;
        this.logged.add(s);
        this.writeSession(s);
        if (this.partsLen >= SNAPSHOT_FRAME) this.writeFrame(fd);
      }
      for (const [c, w] of source.wills()) this.will(c, w);
      if (this.partsLen > 0) this.writeFrame(fd);
      if (this.o.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.logPath);
    if (this.o.fsync) this.syncDir();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = openSync(this.logPath, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
    this.unsynced = false;
    this.compactAt = Math.max(this.o.compactBytes, 2 * this.size);
    this.stats.compactions++;
    this.stats.lastCompactionMs = performance.now() - t0;
    this.stats.lastCompactionBytes = this.size;
    this.o.logger.debug('persistence: log compacted', { bytes: this.size, ms: Math.round(this.stats.lastCompactionMs) });
  }

  close(final?: StateSource): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    try {
      if (wasOpen) {
        if (final) this.compact(final);
        else this.sync();
      }
    } catch (e) {
      this.o.logger.error('persistence: could not write the log at close', { error: (e as Error).message });
    } finally {
      this.state = 'closed';
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = -1;
      this.releaseGates();
      this.unlock();
    }
  }

  /** For tests: stop the way a kill -9 would. Records not yet written are lost; nothing more is written. */
  crash(): void {
    this.parts = [];
    this.partsLen = 0;
    this.state = 'closed';
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.gates.clear();
    this.unlock();
  }

  private lock(): void {
    if (openDirs.has(this.dir)) throw new Error(`data directory ${this.dir} is already used by another broker in this process`);
    const file = join(this.dir, LOCK_FILE);
    if (existsSync(file)) {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new Error(`data directory ${this.dir} is in use by process ${pid} (delete ${file} if that process is not a broker)`);
      }
    }
    writeFileSync(file, `${process.pid}\n`);
    openDirs.add(this.dir);
  }

  private unlock(): void {
    if (!openDirs.delete(this.dir)) return;
    rmSync(join(this.dir, LOCK_FILE), { force: true });
  }

  private syncDir(): void {
    try {
      const d = openSync(this.dir, 'r');
      try { fsyncSync(d); } finally { closeSync(d); }
    } catch {
      // Some platforms cannot fsync a directory; the rename is still atomic.
    }
  }

  // ---- transactions and the write barrier ------------------------------------

  begin(): void {
    this.depth++;
  }

  end(): void {
    if (--this.depth > 0) return;
    if (this.state !== 'open') {
      this.releaseGates();
      return;
    }
    if (this.partsLen > 0) this.writeFrame(this.fd);
    if (this.o.fsync && this.unsynced) this.schedule(); // group commit: one fsync per event-loop turn
    else this.releaseGates();
    if (this.size >= this.compactAt) this.schedule();
  }

  mayWrite(gate: WriteGate): boolean {
    if (this.state !== 'open') return true;
    if (this.depth > 0) {
      this.gates.add(gate);
      return false;
    }
    if (this.partsLen > 0) this.writeFrame(this.fd);
    if (this.o.fsync && this.unsynced) {
      this.gates.add(gate);
      this.schedule();
      return false;
    }
    return true;
  }

  /** Makes every record so far durable (as the mode promises) and lets held writes go. */
  sync(): void {
    if (this.state === 'open') {
      if (this.partsLen > 0) this.writeFrame(this.fd);
      if (this.o.fsync && this.unsynced && this.fd >= 0) {
        fsyncSync(this.fd);
        this.stats.fsyncs++;
        this.unsynced = false;
      }
    }
    this.releaseGates();
  }

  private schedule(): void {
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.tickScheduled = false;
    if (this.state !== 'open') {
      this.releaseGates();
      return;
    }
    if (this.depth > 0) {
      this.schedule();
      return;
    }
    try {
      this.sync();
      if (this.size >= this.compactAt) this.compact();
    } catch (e) {
      this.fail(e);
    }
  };

  private releaseGates(): void {
    if (this.gates.size === 0) return;
    const gates = [...this.gates];
    this.gates.clear();
    for (const g of gates) g.releaseWrites();
  }

  private fail(e: unknown): void {
    // The broker carries on serving (never a crash), but what follows is no longer saved.
    this.o.logger.error('persistence: cannot write the log; state changes are no longer saved', { dir: this.dir, error: (e as Error).message });
    this.parts = [];
    this.partsLen = 0;
    this.state = 'closed';
    if (this.fd >= 0) {
      try { closeSync(this.fd); } catch { /* already failing */ }
    }
    this.fd = -1;
    this.unlock();
    this.releaseGates();
  }

  // ---- encoding --------------------------------------------------------------

  private emit(rec: LogRecord, blob?: Buffer): void {
    const json = JSON.stringify(rec);
    const jsonLen = Buffer.byteLength(json);
    const blobLen = blob?.length ?? 0;
    const b = Buffer.allocUnsafe(8 + jsonLen + blobLen);
    b.writeUInt32BE(jsonLen, 0);
    b.write(json, 4, 'utf8');
    b.writeUInt32BE(blobLen, 4 + jsonLen);
    if (blob) blob.copy(b, 8 + jsonLen);
    this.parts.push(b);
    this.partsLen += b.length;
    this.stats.records++;
    if (this.depth === 0) this.schedule();
  }

  /** Writes the buffered records to `fd` as one frame: length, CRC-32, records. */
  private writeFrame(fd: number): void {
    const len = this.partsLen;
    const frame = Buffer.allocUnsafe(8 + len);
    let off = 8;
    for (const p of this.parts) off += p.copy(frame, off);
    this.parts = [];
    this.partsLen = 0;
    frame.writeUInt32BE(len, 0);
    frame.writeUInt32BE(crc32(frame.subarray(8)), 4);
    if (fd !== this.fd) {
      this.writeAll(fd, frame);
      return;
    }
    try {
      this.writeAll(fd, frame);
    } catch (e) {
      this.fail(e);
      return;
    }
    this.size += frame.length;
    this.unsynced = true;
    this.stats.frames++;
    this.stats.bytes += frame.length;
  }

  private writeAll(fd: number, b: Buffer): void {
    let off = 0;
    while (off < b.length) off += writeSync(fd, b, off, b.length - off);
  }

  private get recording(): boolean {
    return this.state === 'open';
  }

  /** The log id of `msg`, writing the message (once per log file) when it is not there yet. */
  private ref(msg: AppMessage): number {
    let e = this.msgIds.get(msg);
    if (e === undefined) {
      e = { id: this.nextMsgId++, gen: -1 };
      this.msgIds.set(msg, e);
    }
    if (e.gen !== this.gen) {
      e.gen = this.gen;
      const rec: LogRecord = { t: 'msg', id: e.id, topic: msg.topic, qos: msg.qos };
      if (msg.retain) rec.retain = true;
      if (msg.properties) {
        const { correlationData, ...rest } = msg.properties;
        if (Object.keys(rest).length > 0) rec.props = rest;
        if (correlationData !== undefined) rec.cd = correlationData.toString('base64');
      }
      if (msg.expiresAt !== undefined) rec.exp = Math.round(wallNow(this.o.clock) + (msg.expiresAt - this.o.clock.now()));
      if (msg.origin !== undefined) rec.origin = msg.origin;
      this.emit(rec, msg.payload);
    }
    return e.id;
  }

  private header(s: Session): LogRecord {
    const rec: LogRecord = { t: 'session', c: s.clientId, v: s.version, exp: s.expiryInterval };
    if (s.offlineSince !== undefined) rec.off = Math.round(s.offlineSince);
    return rec;
  }

  /** Everything about one session (when it starts being kept, and in snapshots). */
  private writeSession(s: Session): void {
    this.emit(this.header(s));
    for (const sub of s.subscriptions.values()) this.subscription(s, sub.filter, sub);
    for (const out of s.inflight.values()) this.writeOut(s, out);
    for (const out of s.queue) this.writeOut(s, out);
    for (const pid of s.inboundQos2) this.emit({ t: 'qos2', c: s.clientId, pid });
  }

  private writeOut(s: Session, out: Outbound): void {
    let o = this.outIds.get(out);
    if (o === undefined) {
      o = this.nextOutId++;
      this.outIds.set(out, o);
    }
    const rec: LogRecord = { t: 'out', c: s.clientId, o, msg: this.ref(out.msg), qos: out.qos };
    if (out.retain) rec.retain = true;
    if (out.subscriptionIds !== undefined) rec.sids = out.subscriptionIds;
    if (out.share !== undefined) rec.share = [out.share.shareName, out.share.filter];
    if (out.packetId !== 0) rec.pid = out.packetId;
    if (out.phase === 'pubrel') rec.phase = 'pubrel';
    this.emit(rec);
  }

  // ---- state changes -------------------------------------------------------

  retained(topic: string, msg: AppMessage | undefined): void {
    if (!this.recording) return;
    if (msg !== undefined) this.emit({ t: 'retain', topic, msg: this.ref(msg) });
    else this.emit({ t: 'retain', topic });
  }

  session(s: Session): void {
    if (!this.recording) return;
    if (s.expiryInterval === 0) {
      // Ends with its connection: not kept (and no longer kept if it was).
      if (this.logged.delete(s)) this.emit({ t: 'end', c: s.clientId });
      return;
    }
    if (this.logged.has(s)) {
      this.emit(this.header(s));
      return;
    }
    this.logged.add(s);
    this.writeSession(s);
  }

  sessionEnded(s: Session): void {
    if (this.recording && this.logged.delete(s)) this.emit({ t: 'end', c: s.clientId });
  }

  subscription(s: Session, filter: string, sub: Subscription<Session> | undefined): void {
    if (!this.recording || !this.logged.has(s)) return;
    if (!sub) {
      this.emit({ t: 'unsub', c: s.clientId, f: filter });
      return;
    }
    const rec: LogRecord = { t: 'sub', c: s.clientId, f: filter, qos: sub.qos };
    if (sub.noLocal) rec.nl = true;
    if (sub.retainAsPublished) rec.rap = true;
    if (sub.retainHandling !== 0) rec.rh = sub.retainHandling;
    if (sub.subscriptionId !== undefined) rec.sid = sub.subscriptionId;
    this.emit(rec);
  }

  outbound(s: Session, out: Outbound): void {
    if (!this.recording || !this.logged.has(s)) return;
    const o = this.outIds.get(out);
    if (o === undefined) this.writeOut(s, out);
    else this.emit({ t: 'phase', o, pid: out.packetId, phase: out.phase });
  }

  outboundDone(s: Session, out: Outbound): void {
    const o = this.outIds.get(out);
    if (o === undefined) return;
    this.outIds.delete(out);
    if (this.recording && this.logged.has(s)) this.emit({ t: 'done', o });
  }

  inboundQos2(s: Session, pid: number, pending: boolean): void {
    if (!this.recording || !this.logged.has(s)) return;
    this.emit(pending ? { t: 'qos2', c: s.clientId, pid } : { t: 'qos2-done', c: s.clientId, pid });
  }

  will(clientId: string, will: PendingWill | undefined): void {
    if (!this.recording) return;
    if (will) {
      this.emit({ t: 'will', c: clientId, msg: this.ref(will.msg), delay: will.delay });
      this.willsLogged.add(clientId);
    } else if (this.willsLogged.delete(clientId)) {
      this.emit({ t: 'will', c: clientId });
    }
  }

  /** Bytes in the current log file. */
  get logBytes(): number {
    return this.size;
  }
}

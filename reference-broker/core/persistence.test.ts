/**
 * Persistence (dataDir): a Broker restarted from the same folder after a
 * crash (FilePersistence.crash(): what was not written is lost, nothing more
 * is written) or a shutdown has the retained messages, sessions,
 * subscriptions, queued and in-flight deliveries, QoS 2 identifiers and Wills
 * of the one before; a torn last frame is ignored; the log is compacted.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Broker } from './broker.js';
import { FakeClock } from './clock.js';
import { FilePersistence, LOG_FILE } from './persistence.js';
import {
  VERSIONS, brief, connect, connectPacket, memoryLogger, open, payloads, pub, settle, st, sub, subscriber, types, type LogLine,
} from './test-client.js';

const dirs: string[] = [];
const brokers: Broker[] = [];

afterEach(() => {
  for (const b of brokers.splice(0)) (b.persistence as FilePersistence).crash();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mqtb-persist-'));
  dirs.push(d);
  return d;
}

interface Run {
  broker: Broker;
  clock: FakeClock;
  log: LogLine[];
}

/** A broker on `dir`; `after` = a previous run whose wall clock this one continues, `gapMs` later. */
function start(dir: string, o: { after?: Run; gapMs?: number; fsync?: boolean; logCompactBytes?: number; maxQueuedMessages?: number } = {}): Run {
  const clock = new FakeClock(o.after ? { wallStart: o.after.clock.wallNow() + (o.gapMs ?? 1000) } : {});
  const log: LogLine[] = [];
  const broker = new Broker({
    clock, dataDir: dir, logger: memoryLogger(log), fsync: o.fsync ?? false,
    ...(o.logCompactBytes !== undefined ? { logCompactBytes: o.logCompactBytes } : {}),
    ...(o.maxQueuedMessages !== undefined ? { maxQueuedMessages: o.maxQueuedMessages } : {}),
  });
  brokers.push(broker);
  return { broker, clock, log };
}

/** Stops `run` as a kill -9 would, and starts the next broker on the same folder. */
function crashAndRestart(dir: string, run: Run, o: { gapMs?: number; logCompactBytes?: number } = {}): Run {
  (run.broker.persistence as FilePersistence).crash();
  return start(dir, { after: run, ...o });
}

const persistent = (v: 4 | 5, clientId: string, expiry = 3600) =>
  ({ clientId, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: expiry } } : {}) });
const resume = (v: 4 | 5, clientId: string, expiry = 3600) => persistent(v, clientId, expiry);

function logBytes(dir: string): Buffer {
  return readFileSync(join(dir, LOG_FILE));
}

describe('persistence: what survives a crash', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.3.1-5', 'MQTT-3.3.1-6'], ['MQTT-3.3.1-5', 'MQTT-3.3.1-6'])} retained messages (and their clearing) survive; a new subscriber gets them after the restart`, () => {
      const dir = tempDir();
      const a = start(dir);
      const p = connect(a.broker, v);
      p.send(pub('r/1', 'one', { retain: true, qos: 1, id: 1 }), pub('r/2', 'two', { retain: true }), pub('r/3', 'three', { retain: true }), pub('r/3', '', { retain: true }));
      const b = crashAndRestart(dir, a);
      expect(b.broker.restored).toMatchObject({ retained: 2 });
      const s = subscriber(b.broker, v, 'r/#', 2);
      expect(s.takePublishes().map(brief).sort((x, y) => x.topic.localeCompare(y.topic))).toEqual([
        { topic: 'r/1', payload: 'one', qos: 1, retain: true, dup: false, packetId: 1 },
        { topic: 'r/2', payload: 'two', qos: 0, retain: true, dup: false },
      ]);
    });

    test(`${st(v, ['MQTT-3.1.2-4', 'MQTT-3.1.2-5'], ['MQTT-3.1.2-5', 'MQTT-3.2.2-2'])} a session and its subscriptions survive: Session Present 1 and deliveries resume`, () => {
      const dir = tempDir();
      const a = start(dir);
      const c = connect(a.broker, v, persistent(v, 'sub1'));
      c.send(sub(1, 'a/+', 1), sub(2, 'b/#', 2));
      c.take();
      const b = crashAndRestart(dir, a);
      expect(b.broker.restored).toMatchObject({ sessions: 1, subscriptions: 2 });
      const again = connect(b.broker, v, resume(v, 'sub1'));
      expect(again.connack.sessionPresent).toBe(true);
      connect(b.broker, v).send(pub('a/x', 'ax', { qos: 1, id: 1 }), pub('b/y/z', 'byz', { qos: 2, id: 2 }));
      expect(again.takePublishes().map((p) => [p.topic, p.qos])).toEqual([['a/x', 1], ['b/y/z', 2]]);
    });

    test(`${st(v, 'MQTT-3.1.2-5', ['MQTT-3.1.2-5', 'MQTT-4.6.0-6'])} QoS 1 and 2 messages queued for an offline session survive, in order`, () => {
      const dir = tempDir();
      const a = start(dir);
      subscriber(a.broker, v, 'q', 2, persistent(v, 'off')).send({ type: 'disconnect' });
      const p = connect(a.broker, v);
      for (let i = 1; i <= 6; i++) p.send(pub('q', `m${i}`, { qos: (i % 2 ? 1 : 2), id: i }));
      p.send(pub('q', 'qos0 is not kept'));
      const b = crashAndRestart(dir, a);
      expect(b.broker.restored).toMatchObject({ queued: 6, inflight: 0 });
      const s = connect(b.broker, v, resume(v, 'off'));
      expect(s.takePublishes().map((x) => `${x.payload.toString()}/q${x.qos}/dup${Number(x.dup)}`)).toEqual(
        ['m1/q1/dup0', 'm2/q2/dup0', 'm3/q1/dup0', 'm4/q2/dup0', 'm5/q1/dup0', 'm6/q2/dup0']);
    });

    test(`${st(v, ['MQTT-4.4.0-1', 'MQTT-3.3.1-1'], ['MQTT-4.4.0-1', 'MQTT-3.3.1-1'])} in-flight QoS 1/2 survive: PUBLISH resent with DUP and the same Packet Identifier, PUBREL resent`, () => {
      const dir = tempDir();
      const a = start(dir);
      const s = subscriber(a.broker, v, 'f', 2, persistent(v, 'fly'));
      const p = connect(a.broker, v);
      p.send(pub('f', 'one', { qos: 1, id: 1 }), pub('f', 'two', { qos: 2, id: 2 }), pub('f', 'three', { qos: 2, id: 3 }));
      const sent = s.takePublishes();
      expect(sent.map((x) => x.packetId)).toEqual([1, 2, 3]);
      s.send({ type: 'pubrec', packetId: 3 }); // 'three' moves on to PUBREL
      expect(types(s.take())).toEqual(['pubrel']);
      const b = crashAndRestart(dir, a);
      expect(b.broker.restored).toMatchObject({ inflight: 3 });
      const again = connect(b.broker, v, resume(v, 'fly'));
      const got = again.take();
      expect(got.map((x) => (x.type === 'publish' ? `publish ${x.packetId} ${x.payload.toString()} dup=${x.dup}` : `${x.type} ${'packetId' in x ? x.packetId : ''}`)))
        .toEqual(['publish 1 one dup=true', 'publish 2 two dup=true', 'pubrel 3']);
      again.send({ type: 'puback', packetId: 1 }, { type: 'pubrec', packetId: 2 }, { type: 'pubcomp', packetId: 3 });
      expect(types(again.take())).toEqual(['pubrel']);
      again.send({ type: 'pubcomp', packetId: 2 });
      // Completed deliveries are gone after the next restart too.
      const c = crashAndRestart(dir, b);
      expect(c.broker.restored).toMatchObject({ inflight: 0, queued: 0, sessions: 1 });
    });

    test(`${st(v, 'MQTT-4.3.3-2', ['MQTT-4.3.3-10', 'MQTT-4.3.3-11'])} inbound QoS 2 exactly once across a restart: the resent PUBLISH is PUBREC'd, not routed again`, () => {
      const dir = tempDir();
      const a = start(dir);
      subscriber(a.broker, v, 'x', 2, persistent(v, 'xsub')).send({ type: 'disconnect' });
      const p = connect(a.broker, v, persistent(v, 'xpub'));
      p.send(pub('x', 'once', { qos: 2, id: 7 }));
      expect(p.take()).toMatchObject([{ type: 'pubrec', packetId: 7 }]);
      const b = crashAndRestart(dir, a);
      const p2 = connect(b.broker, v, resume(v, 'xpub'));
      expect(p2.connack.sessionPresent).toBe(true);
      p2.send(pub('x', 'once', { qos: 2, id: 7, dup: true })); // PUBREC lost: the client resends
      expect(p2.take()).toMatchObject([{ type: 'pubrec', packetId: 7 }]);
      p2.send({ type: 'pubrel', packetId: 7 });
      expect(p2.take()).toMatchObject([{ type: 'pubcomp', packetId: 7 }]);
      const s = connect(b.broker, v, resume(v, 'xsub'));
      expect(payloads(s.takePublishes())).toEqual(['once']);
      // A PUBREL after a second restart finds no identifier: released once only.
      const c = crashAndRestart(dir, b);
      const p3 = connect(c.broker, v, resume(v, 'xpub'));
      p3.send({ type: 'pubrel', packetId: 7 });
      expect(p3.take()).toMatchObject([{ type: 'pubcomp', packetId: 7, ...(v === 5 ? { reasonCode: 0x92 } : {}) }]);
    });
  }

  test(`${st('5.0', ['MQTT-3.1.2-23', 'MQTT-3.3.2-5'])} session expiry and message expiry count across the restart (wall clock)`, () => {
    const dir = tempDir();
    const a = start(dir);
    subscriber(a.broker, 5, 'e', 1, persistent(5, 'short', 10)).send({ type: 'disconnect' });
    subscriber(a.broker, 5, 'e', 1, persistent(5, 'long', 100)).send({ type: 'disconnect' });
    const p = connect(a.broker, 5);
    p.send(pub('e', 'lives', { qos: 1, id: 1, props: { messageExpiryInterval: 200 } }), pub('e', 'dies', { qos: 1, id: 2, props: { messageExpiryInterval: 8 } }));
    a.clock.advance(4_000);
    // 6 s later (10 s after the disconnect): 'short' has expired, 'long' has 90 s left, 'dies' expired, 'lives' has 190 s.
    const b = crashAndRestart(dir, a, { gapMs: 6_000 });
    expect(b.broker.sessions.has('short')).toBe(false);
    expect(b.broker.sessions.has('long')).toBe(true);
    b.clock.advance(89_999);
    expect(b.broker.sessions.has('long')).toBe(true);
    const s = connect(b.broker, 5, resume(5, 'long'));
    const got = s.takePublishes();
    expect(payloads(got)).toEqual(['lives']);
    expect(got[0]!.properties?.messageExpiryInterval).toBe(101); // 200 - 10 - 89.999, rounded up
    const c = crashAndRestart(dir, b, { gapMs: 1000 });
    c.clock.advance(100_000);
    expect(c.broker.sessions.has('long')).toBe(true); // reconnected: the expiry restarts at its next disconnect
  });

  test(`${st('5.0', 'MQTT-3.1.2-23')} a session whose client was connected when the broker died expires counted from the restart`, () => {
    const dir = tempDir();
    const a = start(dir);
    subscriber(a.broker, 5, 't', 1, persistent(5, 'live', 30));
    const b = crashAndRestart(dir, a, { gapMs: 3_600_000 });
    expect(b.broker.sessions.has('live')).toBe(true);
    b.clock.advance(29_999);
    expect(b.broker.sessions.has('live')).toBe(true);
    b.clock.advance(1);
    expect(b.broker.sessions.has('live')).toBe(false);
    const c = crashAndRestart(dir, b);
    expect(c.broker.sessions.has('live')).toBe(false);
  });

  test(`${st('3.1.1', [])} a Clean Session client leaves nothing in the log; ending a persistent session removes it`, () => {
    const dir = tempDir();
    const a = start(dir);
    const c = subscriber(a.broker, 4, 'clean/#', 1);
    c.send({ type: 'disconnect' });
    const k = subscriber(a.broker, 4, 'kept/#', 1, persistent(4, 'kept'));
    k.send({ type: 'disconnect' });
    connect(a.broker, 4, { clientId: 'kept', clean: true }).send({ type: 'disconnect' });
    const b = crashAndRestart(dir, a);
    expect(b.broker.restored).toMatchObject({ sessions: 0, subscriptions: 0 });
  });

  test(`${st('5.0', ['MQTT-3.8.3-1', 'MQTT-3.8.4-3'])} subscription options and identifiers, shared subscriptions and UNSUBSCRIBE survive`, () => {
    const dir = tempDir();
    const a = start(dir);
    const c = connect(a.broker, 5, persistent(5, 'opts'));
    c.send(sub(1, 'o/a', 1, { noLocal: true, retainAsPublished: true, subId: 42 }), sub(2, '$share/g/o/s', 1), sub(3, 'o/gone', 1));
    c.send({ type: 'unsubscribe', packetId: 4, topicFilters: ['o/gone'] });
    c.take();
    const b = crashAndRestart(dir, a);
    const s = b.broker.sessions.get('opts')!;
    expect([...s.subscriptions.keys()].sort()).toEqual(['$share/g/o/s', 'o/a']);
    expect(s.subscriptions.get('o/a')).toMatchObject({ qos: 1, noLocal: true, retainAsPublished: true, subscriptionId: 42 });
    const again = connect(b.broker, 5, resume(5, 'opts'));
    again.send(pub('o/a', 'own', { qos: 1, id: 1, retain: true })); // No Local: not back to itself
    connect(b.broker, 5).send(pub('o/a', 'other', { retain: true }), pub('o/s', 'shared'), pub('o/gone', 'x'));
    const got = again.takePublishes();
    expect(got.map((p) => [p.payload.toString(), p.retain, p.properties?.subscriptionIdentifiers])).toEqual([['other', true, [42]], ['shared', false, undefined]]);
  });

  test(`${st('5.0', [])} a message for several sessions is stored once`, () => {
    const dir = tempDir();
    const a = start(dir);
    for (const id of ['s1', 's2', 's3']) subscriber(a.broker, 5, 'many', 1, persistent(5, id)).send({ type: 'disconnect' });
    const marker = 'payload-stored-once-0123456789';
    connect(a.broker, 5).send(pub('many', marker, { qos: 1, id: 1 }));
    const count = (buf: Buffer): number => buf.toString('latin1').split(marker).length - 1;
    expect(count(logBytes(dir))).toBe(1);
    const b = crashAndRestart(dir, a);
    expect(b.broker.restored).toMatchObject({ queued: 3 });
    expect(count(logBytes(dir))).toBe(1); // and once in the compacted log
    const [x, y] = ['s1', 's2'].map((id) => b.broker.sessions.get(id)!.queue.peek()!.msg);
    expect(x).toBe(y); // one object in memory too
  });
});

describe('persistence: Wills', () => {
  test(`${st('5.0', ['MQTT-3.1.2-8', 'MQTT-3.1.3-9'])} the Will of a client connected when the broker died is published after the restart (as for a dropped connection)`, () => {
    const dir = tempDir();
    const a = start(dir);
    subscriber(a.broker, 5, 'wills/#', 1, persistent(5, 'watcher')).send({ type: 'disconnect' });
    connect(a.broker, 5, { clientId: 'dev1', will: { topic: 'wills/dev1', payload: Buffer.from('offline'), qos: 1, retain: true } });
    connect(a.broker, 5, { clientId: 'dev2', will: { topic: 'wills/dev2', payload: Buffer.from('gone'), qos: 1, retain: false } }).send({ type: 'disconnect' });
    const b = crashAndRestart(dir, a);
    expect(b.broker.retained.get('wills/dev1')?.payload.toString()).toBe('offline');
    const w = connect(b.broker, 5, resume(5, 'watcher'));
    expect(payloads(w.takePublishes())).toEqual(['offline']); // dev2 disconnected normally: no Will
    const c = crashAndRestart(dir, b);
    expect(c.broker.restored).toMatchObject({ wills: 0 });
  });

  test(`${st('5.0', ['MQTT-3.1.3-9', 'MQTT-3.1.2-8'])} with a Will Delay Interval, a client that reconnects in time after the restart cancels its Will`, () => {
    const dir = tempDir();
    const a = start(dir);
    const w = subscriber(a.broker, 5, 'wd/#', 1);
    const will = { topic: 'wd/x', payload: Buffer.from('late'), qos: 1 as const, retain: false, properties: { willDelayInterval: 30 } };
    connect(a.broker, 5, { ...persistent(5, 'slowpoke', 600), will });
    connect(a.broker, 5, { ...persistent(5, 'absent', 600), will: { ...will, payload: Buffer.from('absent') } });
    void w;
    const b = crashAndRestart(dir, a);
    const w2 = subscriber(b.broker, 5, 'wd/#', 1);
    b.clock.advance(29_000);
    connect(b.broker, 5, resume(5, 'slowpoke', 600));
    b.clock.advance(1_000);
    expect(payloads(w2.takePublishes())).toEqual(['absent']);
  });
});

describe('persistence: the log', () => {
  test('a torn last frame (kill -9 in the middle of a write) is ignored, with a warning; what came before is restored', () => {
    const dir = tempDir();
    const a = start(dir);
    const p = connect(a.broker, 4);
    p.send(pub('t/1', 'kept', { retain: true }));
    const good = statSync(join(dir, LOG_FILE)).size;
    p.send(pub('t/2', 'torn away', { retain: true }));
    (a.broker.persistence as FilePersistence).crash();
    const full = statSync(join(dir, LOG_FILE)).size;
    for (const cut of [good + 3, good + 8, full - 1]) {
      truncateSync(join(dir, LOG_FILE), cut);
      const b = start(dir, { after: a });
      expect(b.broker.retained.get('t/1')?.payload.toString()).toBe('kept');
      expect(b.broker.retained.get('t/2')).toBeUndefined();
      expect(b.log.find((l) => l.level === 'warn' && /incomplete last frame/.test(l.msg))?.fields).toMatchObject({ offset: good, bytes: cut - good });
      (b.broker.persistence as FilePersistence).crash();
      // The compaction rewrote a whole log: rebuild the torn one for the next cut.
      const c = start(dir, { after: a });
      connect(c.broker, 4).send(pub('t/2', 'torn away', { retain: true }));
      (c.broker.persistence as FilePersistence).crash();
    }
  });

  test('damage before the last frame: state up to it is restored, a copy of the log is kept, an error is logged', () => {
    const dir = tempDir();
    const a = start(dir);
    const p = connect(a.broker, 4);
    p.send(pub('d/1', 'one', { retain: true }));
    const mid = statSync(join(dir, LOG_FILE)).size;
    p.send(pub('d/2', 'two', { retain: true }), pub('d/3', 'three', { retain: true }));
    p.send(pub('d/4', 'four', { retain: true }));
    (a.broker.persistence as FilePersistence).crash();
    const buf = readFileSync(join(dir, LOG_FILE));
    buf[mid + 12] = buf[mid + 12]! ^ 0xff; // a flipped byte in the second frame
    writeFileSync(join(dir, LOG_FILE), buf);
    const b = start(dir, { after: a });
    expect([...b.broker.retained.all()].map((m) => m.topic)).toEqual(['d/1']);
    expect(b.log.find((l) => l.level === 'error')?.fields).toMatchObject({ offset: mid, problem: 'frame checksum mismatch' });
  });

  test('not a broker log: refused at start, the file is left alone', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOG_FILE), 'hello');
    expect(() => new Broker({ dataDir: dir, clock: new FakeClock() })).toThrow(/is not a broker log/);
    expect(readFileSync(join(dir, LOG_FILE), 'utf8')).toBe('hello');
  });

  test('one folder, one broker: a second one in the process is refused until the first stops', () => {
    const dir = tempDir();
    const a = start(dir);
    expect(() => new Broker({ dataDir: dir, clock: new FakeClock() })).toThrow(/already used by another broker/);
    a.broker.shutdown();
    start(dir, { after: a });
  });

  test('the log is compacted at start and when it outgrows logCompactBytes; state stays right across restarts', async () => {
    const dir = tempDir();
    const a = start(dir, { logCompactBytes: 20_000 });
    subscriber(a.broker, 5, 'c', 1, persistent(5, 'slow', 3600)).send({ type: 'disconnect' });
    const p = connect(a.broker, 5);
    const s = connect(a.broker, 5, resume(5, 'slow'));
    let last = 0;
    for (let i = 0; i < 400; i++) {
      p.send(pub('c', `m${i}-${'x'.repeat(100)}`, { qos: 1, id: (i % 60000) + 1 }));
      for (const x of s.takePublishes()) s.send({ type: 'puback', packetId: x.packetId! });
      if (i % 50 === 0) await settle(); // compaction runs between event-loop turns
      last = statSync(join(dir, LOG_FILE)).size;
    }
    const file = a.broker.persistence as FilePersistence;
    expect(file.stats.compactions).toBeGreaterThanOrEqual(2); // the one at start and at least one more
    expect(last).toBeLessThan(45_000);
    s.drop();
    p.send(pub('c', 'after', { qos: 1, id: 1 }));
    const b = crashAndRestart(dir, a);
    expect(b.broker.restored).toMatchObject({ sessions: 1, queued: 1, inflight: 0 });
    expect(payloads(connect(b.broker, 5, resume(5, 'slow')).takePublishes())).toEqual(['after']);
  });

  test('shutdown writes a compacted log: everything is there after the restart, sessions offline since the shutdown', () => {
    const dir = tempDir();
    const a = start(dir);
    subscriber(a.broker, 5, 'sd', 1, persistent(5, 'sd', 100));
    connect(a.broker, 5).send(pub('sd', 'kept', { qos: 1, id: 1, retain: true }));
    a.broker.shutdown();
    const b = start(dir, { after: a, gapMs: 99_000 });
    expect(b.broker.restored).toMatchObject({ sessions: 1, retained: 1, frames: 1 });
    b.clock.advance(999);
    expect(b.broker.sessions.has('sd')).toBe(true);
    b.clock.advance(1);
    expect(b.broker.sessions.has('sd')).toBe(false);
  });

  test('page-cache mode: the records of a message are in the log before its PUBACK is written', () => {
    const dir = tempDir();
    const a = start(dir);
    subscriber(a.broker, 5, 'd', 1, persistent(5, 'durable')).send({ type: 'disconnect' });
    const p = connect(a.broker, 5);
    const before = statSync(join(dir, LOG_FILE)).size;
    let sizeAtAck = -1;
    const write = p.link.write.bind(p.link);
    p.link.write = (bytes: Buffer): void => {
      sizeAtAck = statSync(join(dir, LOG_FILE)).size;
      write(bytes);
    };
    p.send(pub('d', 'x', { qos: 1, id: 1 }));
    expect(types(p.take())).toEqual(['puback']);
    expect(sizeAtAck).toBeGreaterThan(before);
  });

  test('fsync mode: PUBACK and PUBREC wait for the group commit at the end of the event-loop turn', async () => {
    const dir = tempDir();
    const a = start(dir, { fsync: true });
    const s = open(a.broker, 5);
    s.send(connectPacket(5, persistent(5, 'durable')), sub(1, 'd', 2));
    expect(s.take()).toEqual([]); // even the CONNACK waits for the session's records to be synced
    await settle();
    expect(types(s.take())).toEqual(['connack', 'suback']);
    s.send({ type: 'disconnect' });
    const p = open(a.broker, 5);
    p.send(connectPacket(5));
    await settle();
    expect(types(p.take())).toEqual(['connack']);
    const file = a.broker.persistence as FilePersistence;
    const fsyncs = file.stats.fsyncs;
    p.send(pub('d', 'x', { qos: 1, id: 1 }), pub('d', 'y', { qos: 2, id: 2 }));
    p.send(pub('d', 'z', { qos: 1, id: 3 }));
    expect(p.take()).toEqual([]);
    await settle();
    expect(types(p.take())).toEqual(['puback', 'pubrec', 'puback']);
    expect(file.stats.fsyncs).toBe(fsyncs + 1); // one fsync for the three
    const b = crashAndRestart(dir, a);
    expect(b.broker.restored).toMatchObject({ queued: 3 });
  });
});

describe('persistence: restore speed', () => {
  test('10,000 retained messages and 1,000 sessions with 10 queued messages each restore in well under a few seconds', () => {
    const dir = tempDir();
    const a = start(dir);
    const p = connect(a.broker, 5);
    for (let i = 0; i < 10_000; i++) a.broker.publishLocal(`ret/${i}`, Buffer.from(`value ${i}`), 1, true);
    for (let i = 0; i < 1000; i++) subscriber(a.broker, 5, `q/${i}`, 1, persistent(5, `s${i}`)).send({ type: 'disconnect' });
    for (let j = 0; j < 10; j++) for (let i = 0; i < 1000; i++) a.broker.publishLocal(`q/${i}`, Buffer.from(`m${j}`), 1);
    void p;
    const b = crashAndRestart(dir, a);
    expect(b.broker.restored).toMatchObject({ retained: 10_000, sessions: 1000, queued: 10_000 });
    expect(b.broker.restored!.ms).toBeLessThan(5_000);
    // eslint-disable-next-line no-console
    console.log(`restore: ${JSON.stringify({ ...b.broker.restored, ms: Math.round(b.broker.restored!.ms) })}`);
  });
});

/**
 * Every fault switch (core/faults.ts) really changes what a client sees:
 * one scenario per fault, run on a correct broker and on one with only that
 * fault on. `DEMOS` is keyed by FaultName, so a fault without a scenario
 * does not compile.
 */
import { describe, expect, test } from 'vitest';
import type { ProtocolVersion, PublishPacket, QoS, SubackPacket } from '../../codec/index.js';
import { FAULTS, FAULT_NAMES, type FaultName } from './faults.js';
import type { BrokerOptions } from './options.js';
import {
  connect, makeBroker, payloads, pub, sub, subMany, subscriber, type ConnectedClient, type TestBroker,
} from './test-client.js';

interface Demo {
  /** Runs the scenario on a fresh broker with `faults` and returns what the client observed. */
  run(faults: FaultName[]): unknown;
  correct: unknown;
  faulty: unknown;
}

const broker = (faults: FaultName[], o: Omit<BrokerOptions, 'clock' | 'faults'> = {}): TestBroker => makeBroker({ ...o, faults });

/** Topics `filter` receives when `topics` are published (QoS 0). */
function received(faults: FaultName[], filter: string, topics: string[]): string[] {
  const { broker: b } = broker(faults);
  const s = subscriber(b, 4, filter, 0);
  const p = connect(b, 4);
  for (const t of topics) p.send(pub(t, 'x'));
  return s.takePublishes().map((x) => x.topic);
}

/** The Will of a client that connects with it and then `end`s its connection; what the watcher (will/#) gets. */
function will(faults: FaultName[], end: (c: ConnectedClient) => void, qos: QoS = 1, retain = false): { watcher: PublishPacket[]; later: string[] } {
  const { broker: b } = broker(faults);
  const watcher = subscriber(b, 4, 'will/#', 2);
  const c = connect(b, 4, { will: { topic: 'will/t', payload: Buffer.from('bye'), qos, retain } });
  end(c);
  const got = watcher.takePublishes();
  return { watcher: got, later: payloads(subscriber(b, 4, 'will/t', 0).takePublishes()) };
}

/** A persistent 3.1.1 subscriber that got one QoS 1 message, did not acknowledge it and came back. */
function redelivered(faults: FaultName[]): PublishPacket[] {
  const { broker: b } = broker(faults);
  const s = subscriber(b, 4, 't', 1, { clientId: 'keep', clean: false });
  connect(b, 4).send(pub('t', 'm', { qos: 1 }));
  expect(s.takePublishes()).toHaveLength(1); // in flight, never acknowledged
  s.drop();
  return connect(b, 4, { clientId: 'keep', clean: false }).takePublishes();
}

/** A persistent subscriber away while `publish` runs, then back: what it gets. */
function whileAway(v: ProtocolVersion, faults: FaultName[], publish: (p: ConnectedClient, tb: TestBroker) => void): PublishPacket[] {
  const tb = broker(faults);
  const fields = v === 5 ? { clientId: 'away', clean: false, properties: { sessionExpiryInterval: 300 } } : { clientId: 'away', clean: false };
  subscriber(tb.broker, v, 't', 1, fields).drop();
  publish(connect(tb.broker, v), tb);
  return connect(tb.broker, v, fields).takePublishes();
}

function suback(faults: FaultName[], o: Omit<BrokerOptions, 'clock' | 'faults'>, ...filters: [string, QoS][]): number[] {
  const { broker: b } = broker(faults, o);
  const c = connect(b, 4);
  c.send(subMany(1, ...filters));
  return (c.take()[0] as SubackPacket).reasonCodes;
}

const DEMOS: Record<FaultName, Demo> = {
  'plus-multilevel': { run: (f) => received(f, 'a/+/c', ['a/x/y/c', 'a/x/c']), correct: ['a/x/c'], faulty: ['a/x/y/c', 'a/x/c'] },
  'hash-no-parent': { run: (f) => received(f, 'sport/#', ['sport', 'sport/x']), correct: ['sport', 'sport/x'], faulty: ['sport/x'] },
  'dollar-wildcard': {
    run: (f) => {
      const { broker: b } = broker(f);
      const s = subscriber(b, 4, '+/x', 0);
      b.publishLocal('$SYS/x', Buffer.from('s'));
      b.publishLocal('a/x', Buffer.from('a'));
      return s.takePublishes().map((p) => p.topic);
    },
    correct: ['a/x'], faulty: ['$SYS/x', 'a/x'],
  },
  'retain-not-stored': {
    run: (f) => {
      const { broker: b } = broker(f);
      connect(b, 4).send(pub('r', 'kept', { retain: true }));
      return payloads(subscriber(b, 4, 'r', 0).takePublishes());
    },
    correct: ['kept'], faulty: [],
  },
  'retain-not-cleared': {
    run: (f) => {
      const { broker: b } = broker(f);
      connect(b, 4).send(pub('r', 'old', { retain: true }), pub('r', '', { retain: true }));
      return payloads(subscriber(b, 4, 'r', 0).takePublishes());
    },
    correct: [], faulty: ['old'],
  },
  'retain-flag-live': {
    run: (f) => {
      const { broker: b } = broker(f);
      const s = subscriber(b, 4, 'r', 0);
      connect(b, 4).send(pub('r', 'live', { retain: true }));
      return s.takePublishes().map((p) => p.retain);
    },
    correct: [false], faulty: [true],
  },
  'will-not-sent': { run: (f) => payloads(will(f, (c) => c.drop()).watcher), correct: ['bye'], faulty: [] },
  'will-on-disconnect': { run: (f) => payloads(will(f, (c) => c.send({ type: 'disconnect' })).watcher), correct: [], faulty: ['bye'] },
  'will-qos0': { run: (f) => will(f, (c) => c.drop(), 1).watcher.map((p) => p.qos), correct: [1], faulty: [0] },
  'will-retain-ignored': { run: (f) => will(f, (c) => c.drop(), 0, true).later, correct: ['bye'], faulty: [] },
  'qos2-duplicate': {
    run: (f) => {
      const { broker: b } = broker(f);
      const s = subscriber(b, 4, 't', 2);
      const p = connect(b, 4);
      p.send(pub('t', 'once', { qos: 2, id: 7 }), pub('t', 'once', { qos: 2, id: 7, dup: true })); // resent before PUBREL
      return payloads(s.takePublishes());
    },
    correct: ['once'], faulty: ['once', 'once'],
  },
  'redelivery-lost': { run: (f) => payloads(redelivered(f)), correct: ['m'], faulty: [] },
  'no-dup-on-redelivery': { run: (f) => redelivered(f).map((p) => p.dup), correct: [true], faulty: [false] },
  'qos-downgrade': {
    run: (f) => {
      const { broker: b } = broker(f);
      const s = subscriber(b, 4, 't', 2);
      connect(b, 4).send(pub('t', 'x', { qos: 1 }));
      return s.takePublishes().map((p) => p.qos);
    },
    correct: [1], faulty: [0],
  },
  'granted-qos-ignored': {
    run: (f) => {
      const { broker: b } = broker(f);
      const s = subscriber(b, 4, 't', 0);
      connect(b, 4).send(pub('t', 'x', { qos: 2 }));
      return s.takePublishes().map((p) => p.qos);
    },
    correct: [0], faulty: [2],
  },
  'reorder-queued': {
    run: (f) => payloads(whileAway(4, f, (p) => p.send(pub('t', '1', { qos: 1, id: 1 }), pub('t', '2', { qos: 1, id: 2 }), pub('t', '3', { qos: 1, id: 3 })))),
    correct: ['1', '2', '3'], faulty: ['3', '2', '1'],
  },
  'session-lost': {
    run: (f) => {
      const { broker: b } = broker(f);
      subscriber(b, 4, 't', 1, { clientId: 's', clean: false }).drop();
      return connect(b, 4, { clientId: 's', clean: false }).connack.sessionPresent;
    },
    correct: true, faulty: false,
  },
  'session-kept-on-clean': {
    run: (f) => {
      const { broker: b } = broker(f);
      subscriber(b, 4, 't', 1, { clientId: 's', clean: false }).drop();
      const c = connect(b, 4, { clientId: 's', clean: true });
      connect(b, 4).send(pub('t', 'x'));
      return { present: c.connack.sessionPresent, got: payloads(c.takePublishes()) };
    },
    correct: { present: false, got: [] }, faulty: { present: true, got: ['x'] },
  },
  'acl-publish-ignored': {
    run: (f) => {
      const { broker: b } = broker(f, { hooks: { authorizePublish: (_c, topic) => !topic.startsWith('secret/') } });
      const s = subscriber(b, 4, '#', 0);
      connect(b, 4).send(pub('secret/a', 'x'), pub('open/a', 'y'));
      return s.takePublishes().map((p) => p.topic);
    },
    correct: ['open/a'], faulty: ['secret/a', 'open/a'],
  },
  'acl-subscribe-ignored': {
    run: (f) => suback(f, { hooks: { authorizeSubscribe: (_c, filter) => !filter.startsWith('secret/') } }, ['secret/#', 1], ['open/#', 1]),
    correct: [0x80, 1], faulty: [1, 1],
  },
  'keep-alive-ignored': {
    run: (f) => {
      const { broker: b, clock } = broker(f);
      const c = connect(b, 4, { keepAlive: 10 });
      clock.advance(15_000); // 1.5 × Keep Alive of silence
      return c.closed;
    },
    correct: true, faulty: false,
  },
  'malformed-ignored': {
    run: (f) => {
      const { broker: b } = broker(f);
      const c = connect(b, 4);
      c.sendRaw([0x36, 0x03, 0x00, 0x01, 0x61]); // PUBLISH with QoS 3 [MQTT-3.3.1-4]
      if (c.closed) return 'closed';
      c.send({ type: 'pingreq' });
      return c.take().map((p) => p.type);
    },
    correct: 'closed', faulty: ['pingresp'],
  },
  'suback-order': { run: (f) => suback(f, {}, ['a', 2], ['b', 0], ['c', 1]), correct: [2, 0, 1], faulty: [1, 0, 2] },
  'no-local-ignored': {
    run: (f) => {
      const { broker: b } = broker(f);
      const c = connect(b, 5);
      c.send(sub(1, 't', 0, { noLocal: true }));
      c.take();
      c.send(pub('t', 'own'));
      return payloads(c.takePublishes());
    },
    correct: [], faulty: ['own'],
  },
  'retain-as-published-ignored': {
    run: (f) => {
      const { broker: b } = broker(f);
      const c = connect(b, 5);
      c.send(sub(1, 't', 0, { retainAsPublished: true }));
      c.take();
      connect(b, 5).send(pub('t', 'x', { retain: true }));
      return c.takePublishes().map((p) => p.retain);
    },
    correct: [true], faulty: [false],
  },
  'message-expiry-ignored': {
    run: (f) => payloads(whileAway(5, f, (p, tb) => {
      p.send(pub('t', 'stale', { qos: 1, props: { messageExpiryInterval: 10 } }));
      tb.clock.advance(11_000);
    })),
    correct: [], faulty: ['stale'],
  },
  'subscription-id-missing': {
    run: (f) => {
      const { broker: b } = broker(f);
      const c = connect(b, 5);
      c.send(sub(1, 't', 0, { subId: 7 }));
      c.take();
      connect(b, 5).send(pub('t', 'x'));
      return c.takePublishes().map((p) => p.properties?.subscriptionIdentifiers);
    },
    correct: [[7]], faulty: [undefined],
  },
  'topic-alias-remap-ignored': {
    run: (f) => {
      const { broker: b } = broker(f);
      const s = subscriber(b, 5, '#', 0);
      connect(b, 5).send(pub('a', '1', { props: { topicAlias: 1 } }), pub('b', '2', { props: { topicAlias: 1 } }), pub('', '3', { props: { topicAlias: 1 } }));
      return s.takePublishes().map((p) => `${p.topic}:${p.payload.toString()}`);
    },
    correct: ['a:1', 'b:2', 'b:3'], faulty: ['a:1', 'b:2', 'a:3'],
  },
  'receive-maximum-ignored': {
    run: (f) => {
      const { broker: b } = broker(f);
      const s = subscriber(b, 5, 't', 1, { properties: { receiveMaximum: 2 } });
      const p = connect(b, 5);
      for (let i = 1; i <= 4; i++) p.send(pub('t', String(i), { qos: 1, id: i }));
      return payloads(s.takePublishes()); // nothing acknowledged yet
    },
    correct: ['1', '2'], faulty: ['1', '2', '3', '4'],
  },
};

describe('each fault switch changes what a client observes (and nothing else is needed to turn it on)', () => {
  for (const name of FAULT_NAMES) {
    test(`${name}: ${FAULTS[name].description}`, () => {
      const demo = DEMOS[name];
      expect(demo.correct).not.toEqual(demo.faulty);
      expect(demo.run([])).toEqual(demo.correct);
      expect(demo.run([name])).toEqual(demo.faulty);
    });
  }
});

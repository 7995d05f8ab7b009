/**
 * CONNECT / CONNACK: protocol levels, malformed CONNECT, the first and the
 * second packet, client identifiers, takeover, connect timeout, the
 * authenticate hook (sync and async), connection limits and the CONNACK
 * the broker builds.
 */
import { describe, expect, test } from 'vitest';
import { encode } from '../../codec/index.js';
import type { AuthenticateRequest, AuthenticateResult } from './options.js';
import {
  VERSIONS, connect, connectPacket, connectWithLevel, makeBroker, open, pub, settle, st, sub, subscriber, types, vname,
} from './test-client.js';

describe('protocol level', () => {
  test(`${st('3.1.1', 'MQTT-3.1.2-2')} level 3 (MQIsdp) gets the 3.1.1 CONNACK 0x01, then the connection is closed`, () => {
    for (const [level, name] of [[3, 'MQIsdp'], [3, 'MQTT'], [2, 'MQTT']] as const) {
      const { broker } = makeBroker();
      const c = open(broker, 4);
      c.sendRaw(connectWithLevel(level, name));
      expect(c.link.written).toEqual([Buffer.from([0x20, 0x02, 0x00, 0x01])]);
      expect(c.take()).toEqual([{ type: 'connack', sessionPresent: false, reasonCode: 0x01 }]);
      expect(c.closed).toBe(true);
      expect(broker.sessions.size).toBe(0);
    }
  });

  test(`${st('5.0', 'MQTT-3.1.2-2')} a level above 5 gets the 5.0 CONNACK 0x84, then the connection is closed`, () => {
    for (const level of [6, 7, 255]) {
      const { broker } = makeBroker();
      const c = open(broker, 5);
      c.sendRaw(connectWithLevel(level));
      expect(c.take()).toEqual([{ type: 'connack', sessionPresent: false, reasonCode: 0x84 }]);
      expect(c.closed).toBe(true);
    }
  });

  test(`${st('3.1.1', 'MQTT-3.1.2-1')} ${st('5.0', 'MQTT-3.1.2-1')} a protocol name other than MQTT closes the connection`, () => {
    const { broker } = makeBroker();
    const c = open(broker, 4);
    c.sendRaw(connectWithLevel(4, 'MQTX'));
    expect(c.closed).toBe(true);
    // 5.0 allows CONNACK 0x84 here; 3.1.1 must not carry on as MQTT. Either way nothing but a refusal.
    expect(c.link.written.every((b) => b[0] === 0x20)).toBe(true);
  });
});

describe('malformed CONNECT', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.1.2-3', 'MQTT-3.1.4-1'], ['MQTT-3.1.2-3', 'MQTT-3.1.4-1'])} CONNECT reserved flag set: closed, no session, no CONNACK 0x00`, () => {
      const { broker } = makeBroker();
      const c = open(broker, v);
      const bytes = encode(connectPacket(v, { clientId: 'm' }), v);
      bytes[9] = bytes[9]! | 0x01; // connect flags byte: reserved bit
      c.sendRaw(bytes);
      expect(c.closed).toBe(true);
      expect(broker.sessions.size).toBe(0);
      const got = c.take();
      if (v === 4) {
        expect(got).toEqual([]); // 3.1.1 MQTT-3.1.4-1: close without CONNACK
      } else {
        expect(got).toEqual([{ type: 'connack', sessionPresent: false, reasonCode: 0x81 }]);
      }
    });

    test(`${st(v, 'MQTT-3.1.4-1', ['MQTT-3.1.4-1', 'MQTT-4.13.1-1'])} CONNECT with bytes missing or trailing is rejected`, () => {
      for (const mutate of [(b: Buffer) => Buffer.concat([b, Buffer.from([0])]), (b: Buffer) => b.subarray(0, b.length - 1)]) {
        const { broker } = makeBroker();
        const c = open(broker, v);
        const good = encode(connectPacket(v, { clientId: 'm' }), v);
        const bad = Buffer.from(mutate(good));
        bad[1] = bad.length - 2; // Remaining Length claims exactly what is there
        c.sendRaw(bad);
        expect(c.closed).toBe(true);
        expect(broker.sessions.size).toBe(0);
        expect(c.take().every((p) => p.type === 'connack' && p.reasonCode >= 0x80)).toBe(true);
      }
    });

    test(`${st(v, 'MQTT-3.1.0-1', ['MQTT-3.1.0-1', 'MQTT-4.13.1-1'])} first packet not CONNECT: closed without any answer`, () => {
      for (const first of [{ type: 'pingreq' } as const, sub(1, 'a', 1), pub('a', 'x', { qos: 1, id: 1 })]) {
        const { broker } = makeBroker();
        const c = open(broker, v);
        c.send(first);
        expect(c.closed).toBe(true);
        expect(c.link.written).toEqual([]);
        expect(broker.connections.size).toBe(0);
      }
    });

    test(`${st(v, 'MQTT-3.1.0-2', 'MQTT-3.1.0-2')} a second CONNECT closes the connection${v === 5 ? ' after DISCONNECT 0x82' : ''}`, () => {
      const { broker } = makeBroker();
      const c = connect(broker, v, { clientId: 'twice' });
      c.send(connectPacket(v, { clientId: 'twice' }));
      const got = c.take();
      if (v === 5) expect(got).toMatchObject([{ type: 'disconnect', reasonCode: 0x82 }]);
      else expect(got).toEqual([]);
      expect(c.closed).toBe(true);
      expect(broker.openConnections).toBe(0);
    });

    test(`${st(v, 'MQTT-3.1.4-5', 'MQTT-3.1.4-6')} after a rejected CONNECT, packets in the same chunk are not processed`, () => {
      const { broker } = makeBroker({ allowZeroLengthClientId: false });
      const s = subscriber(broker, v, 't');
      const c = open(broker, v);
      c.sendRaw(Buffer.concat([encode(connectPacket(v, { clientId: '' }), v), encode(pub('t', 'x', { retain: true }), v)]));
      expect(types(c.take())).toEqual(['connack']);
      expect(c.closed).toBe(true);
      expect(s.take()).toEqual([]);
      expect(broker.retained.size).toBe(0);
    });
  }
});

describe('CONNACK', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.2.0-1', 'MQTT-3.1.4-4', 'MQTT-3.2.2-1'], ['MQTT-3.2.0-1', 'MQTT-3.1.4-5', 'MQTT-3.2.2-2'])} a valid CONNECT is answered first by CONNACK 0x00, Session Present 0`, () => {
      const { broker } = makeBroker();
      const c = connect(broker, v);
      expect(c.connack).toMatchObject({ type: 'connack', reasonCode: 0, sessionPresent: false });
      expect(c.take()).toEqual([]);
      expect(broker.openConnections).toBe(1);
    });
  }

  test(`${st('5.0', ['MQTT-3.2.2-9'])} CONNACK announces the broker's limits (Maximum QoS, Receive Maximum, Packet Size, Topic Alias Maximum, availability flags)`, () => {
    const { broker } = makeBroker({
      maxQoS: 1, receiveMaximum: 10, maxPacketSize: 1000, topicAliasMaximum: 5, retainAvailable: false,
      wildcardSubscriptions: false, subscriptionIdentifiers: false, sharedSubscriptions: false,
    });
    const c = connect(broker, 5);
    expect(c.connack.properties).toEqual({
      maximumQoS: 1, receiveMaximum: 10, maximumPacketSize: 1000, topicAliasMaximum: 5, retainAvailable: 0,
      wildcardSubscriptionAvailable: 0, subscriptionIdentifierAvailable: 0, sharedSubscriptionAvailable: 0,
    });
  });

  // statements: none — the CONNACK properties a default broker announces (5.0 §3.2.2.3)
  test(`${st('5.0', [])} defaults: only Maximum Packet Size (16 MiB) and Topic Alias Maximum (1024) are announced`, () => {
    const { broker } = makeBroker();
    expect(connect(broker, 5).connack.properties).toEqual({ maximumPacketSize: 16 * 1024 * 1024, topicAliasMaximum: 1024 });
    expect(connect(broker, 4).connack.properties).toBeUndefined();
  });

  test(`${st('5.0', 'MQTT-3.1.2-28')} Response Information only when the client asks for it`, () => {
    const { broker } = makeBroker({ responseInformation: 'reply/%c' });
    expect(connect(broker, 5, { clientId: 'r1', properties: { requestResponseInformation: 1 } }).connack.properties?.responseInformation).toBe('reply/r1');
    expect(connect(broker, 5, { clientId: 'r2', properties: { requestResponseInformation: 0 } }).connack.properties?.responseInformation).toBeUndefined();
    expect(connect(broker, 5, { clientId: 'r3' }).connack.properties?.responseInformation).toBeUndefined();
  });

  test(`${st('5.0', 'MQTT-3.2.2-12')} a Will QoS above Maximum QoS is refused with CONNACK 0x9B`, () => {
    const { broker } = makeBroker({ maxQoS: 1 });
    const c = open(broker, 5);
    c.send(connectPacket(5, { will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: false } }));
    expect(c.take()).toMatchObject([{ type: 'connack', reasonCode: 0x9b, sessionPresent: false }]);
    expect(c.closed).toBe(true);
  });

  test(`${st('5.0', 'MQTT-3.2.2-13')} a retained Will when retain is not available is refused with CONNACK 0x9A`, () => {
    const { broker } = makeBroker({ retainAvailable: false });
    const c = open(broker, 5);
    c.send(connectPacket(5, { will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: true } }));
    expect(c.take()).toMatchObject([{ type: 'connack', reasonCode: 0x9a, sessionPresent: false }]);
    expect(c.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-4.12.0-1', 'MQTT-3.2.2-7'])} an unsupported Authentication Method is refused with CONNACK 0x8C`, () => {
    const { broker } = makeBroker();
    const c = open(broker, 5);
    c.send(connectPacket(5, { properties: { authenticationMethod: 'SCRAM-SHA-1' } }));
    expect(c.take()).toMatchObject([{ type: 'connack', reasonCode: 0x8c, sessionPresent: false }]);
    expect(c.closed).toBe(true);
  });
});

describe('client identifier', () => {
  test(`${st('3.1.1', 'MQTT-3.1.3-8')} zero-length ClientId with Clean Session 0 → CONNACK 0x02 and close`, () => {
    const { broker } = makeBroker();
    const c = open(broker, 4);
    c.send(connectPacket(4, { clientId: '', clean: false }));
    expect(c.take()).toEqual([{ type: 'connack', sessionPresent: false, reasonCode: 0x02 }]);
    expect(c.closed).toBe(true);
    expect(broker.sessions.size).toBe(0);
  });

  test(`${st('3.1.1', 'MQTT-3.1.3-6')} zero-length ClientId with Clean Session 1 is accepted under a unique ClientId`, () => {
    const { broker } = makeBroker();
    const a = connect(broker, 4, { clientId: '' });
    const b = connect(broker, 4, { clientId: '' });
    expect(a.connack.sessionPresent).toBe(false);
    const ids = [...broker.sessions.keys()];
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids.every((id) => id.length > 0)).toBe(true);
    // both work independently
    a.send(sub(1, 't', 0));
    expect(types(a.take())).toEqual(['suback']);
    b.send(pub('t', 'hi'));
    expect(a.takePublishes().map((p) => p.payload.toString())).toEqual(['hi']);
    expect(b.closed).toBe(false);
  });

  test(`${st('5.0', ['MQTT-3.1.3-6', 'MQTT-3.1.3-7', 'MQTT-3.2.2-16'])} zero-length ClientID gets a unique Assigned Client Identifier in CONNACK`, () => {
    const { broker } = makeBroker();
    const a = connect(broker, 5, { clientId: '' });
    const b = connect(broker, 5, { clientId: '' });
    const ida = a.connack.properties?.assignedClientIdentifier;
    const idb = b.connack.properties?.assignedClientIdentifier;
    expect(ida).toMatch(/.+/);
    expect(idb).toMatch(/.+/);
    expect(ida).not.toBe(idb);
    expect(broker.sessions.has(ida!)).toBe(true);
    // an id the client chose is not echoed back
    expect(connect(broker, 5, { clientId: 'mine' }).connack.properties?.assignedClientIdentifier).toBeUndefined();
  });

  test(`${st('5.0', ['MQTT-3.1.3-7'])} a session started under an assigned ClientID can be resumed with it`, () => {
    const { broker } = makeBroker();
    const a = connect(broker, 5, { clientId: '', clean: false, properties: { sessionExpiryInterval: 60 } });
    a.send(sub(1, 't', 1));
    a.take();
    a.send({ type: 'disconnect', reasonCode: 0 });
    const again = connect(broker, 5, { clientId: a.clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(again.connack.sessionPresent).toBe(true);
  });

  for (const v of VERSIONS) {
    test(`${st(v, 'MQTT-3.1.3-9', 'MQTT-3.1.3-8')} a broker that does not assign ClientIds refuses an empty one (0x02 / 0x85)`, () => {
      const { broker } = makeBroker({ allowZeroLengthClientId: false });
      const c = open(broker, v);
      c.send(connectPacket(v, { clientId: '' }));
      expect(c.take()).toMatchObject([{ type: 'connack', sessionPresent: false, reasonCode: v === 5 ? 0x85 : 0x02 }]);
      expect(c.closed).toBe(true);
    });

    test(`${st(v, 'MQTT-3.1.3-5', 'MQTT-3.1.3-5')} ClientIds of 1–23 letters and digits are accepted (and longer ones too)`, () => {
      const { broker } = makeBroker();
      for (const id of ['a', '0123456789abcdefghijKLM', 'x'.repeat(100), 'with-dash/and:colon']) {
        expect(connect(broker, v, { clientId: id }).connack.reasonCode).toBe(0);
      }
    });
  }
});

describe('takeover', () => {
  for (const v of VERSIONS) {
    test(`${st(v, 'MQTT-3.1.4-2', 'MQTT-3.1.4-3')} a second connection with the same ClientId closes the first${v === 5 ? ' (DISCONNECT 0x8E)' : ''}; the new one works`, () => {
      const { broker } = makeBroker();
      const p = connect(broker, v);
      const old = connect(broker, v, { clientId: 'dup' });
      old.send(sub(1, 'old/#', 1));
      old.take();
      const fresh = connect(broker, v, { clientId: 'dup' });
      const got = old.take();
      if (v === 5) expect(got).toMatchObject([{ type: 'disconnect', reasonCode: 0x8e }]);
      else expect(got).toEqual([]);
      expect(old.closed).toBe(true);
      expect(fresh.closed).toBe(false);
      expect(fresh.connack.sessionPresent).toBe(false); // Clean Session / Clean Start 1
      expect(broker.openConnections).toBe(2);
      fresh.send(sub(1, 't', 1));
      expect(types(fresh.take())).toEqual(['suback']);
      p.send(pub('t', 'x', { qos: 1, id: 5 }), pub('old/1', 'y', { qos: 1, id: 6 }));
      expect(fresh.takePublishes().map((x) => x.payload.toString())).toEqual(['x']);
      // the listener reporting the old link's close later changes nothing
      old.drop();
      expect(broker.openConnections).toBe(2);
      p.send(pub('t', 'z'));
      expect(fresh.takePublishes().map((x) => x.payload.toString())).toEqual(['z']);
    });

    test(`${st(v, ['MQTT-3.1.4-2', 'MQTT-3.2.2-2'], ['MQTT-3.1.4-3', 'MQTT-3.1.2-5'])} takeover with a persistent session keeps the session for the new connection`, () => {
      const { broker } = makeBroker();
      const persistent = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 100 } } : { clean: false };
      const old = connect(broker, v, { clientId: 'keep', ...persistent });
      old.send(sub(1, 't', 1));
      old.take();
      const fresh = connect(broker, v, { clientId: 'keep', ...persistent });
      expect(old.closed).toBe(true);
      expect(fresh.connack.sessionPresent).toBe(true);
      const p = connect(broker, v);
      p.send(pub('t', 'kept', { qos: 1, id: 1 }));
      expect(fresh.takePublishes().map((x) => x.payload.toString())).toEqual(['kept']);
      expect(old.take()).toEqual(v === 5 ? [expect.objectContaining({ type: 'disconnect', reasonCode: 0x8e })] : []);
    });
  }
});

describe('connect timeout', () => {
  for (const v of VERSIONS) {
    // statements: none — a SHOULD without a number ("close if no CONNECT within a reasonable time"); broker option connectTimeoutMs
    test(`${st(v, [], [])} no CONNECT within connectTimeoutMs: the connection is closed (§3.1.4 non-normative)`, () => {
      const { broker, clock } = makeBroker({ connectTimeoutMs: 5000 });
      const idle = open(broker, v);
      const partial = open(broker, v);
      partial.sendRaw(encode(connectPacket(v), v).subarray(0, 5)); // slow loris: half a CONNECT
      clock.advance(4999);
      expect(idle.closed).toBe(false);
      expect(partial.closed).toBe(false);
      clock.advance(1);
      expect(idle.closed).toBe(true);
      expect(partial.closed).toBe(true);
      expect(idle.link.written).toEqual([]);
      expect(broker.connections.size).toBe(0);
    });

    // statements: none — broker option connectTimeoutMs
    test(`${st(v, [], [])} a CONNECT in time disarms the connect timeout`, () => {
      const { broker, clock } = makeBroker({ connectTimeoutMs: 5000 });
      clock.advance(1);
      const c = connect(broker, v);
      clock.advance(60_000);
      expect(c.closed).toBe(false);
      expect(clock.pending()).toBe(0);
    });
  }
});

describe('authenticate hook', () => {
  function deferred(): { promise: Promise<AuthenticateResult>; resolve: (r: AuthenticateResult) => void; reject: (e: unknown) => void } {
    let resolve!: (r: AuthenticateResult) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<AuthenticateResult>((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }

  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.2.0-1', 'MQTT-4.6.0-6'], ['MQTT-3.2.0-1', 'MQTT-4.6.0-5'])} async: packets sent before the CONNACK are processed after it, in order`, async () => {
      const d = deferred();
      const seen: AuthenticateRequest[] = [];
      const { broker } = makeBroker({ hooks: { authenticate: (req) => { seen.push(req); return d.promise; } } });
      const c = open(broker, v);
      c.send(
        connectPacket(v, { clientId: 'async', username: 'u', password: Buffer.from('p') }),
        sub(1, 't', 1),
        pub('t', 'one', { qos: 1, id: 10 }),
        pub('t', 'two', { qos: 0 }),
        { type: 'pingreq' },
      );
      expect(c.link.written).toEqual([]);
      expect(seen).toMatchObject([{ clientId: 'async', username: 'u', password: Buffer.from('p'), protocolVersion: v, transport: 'test' }]);
      d.resolve({ ok: true });
      await settle();
      const got = c.take();
      expect(types(got)).toEqual(['connack', 'suback', 'publish', 'puback', 'publish', 'pingresp']);
      expect(got[0]).toMatchObject({ reasonCode: 0 });
      expect(got.filter((p) => p.type === 'publish').map((p) => (p.type === 'publish' ? p.payload.toString() : ''))).toEqual(['one', 'two']);
      expect(c.closed).toBe(false);
    });

    test(`${st(v, ['MQTT-3.1.4-5', 'MQTT-3.2.2-4', 'MQTT-3.2.2-5'], ['MQTT-3.1.4-2', 'MQTT-3.1.4-6', 'MQTT-3.2.2-6', 'MQTT-3.2.2-7'])} async refusal: CONNACK ${v === 5 ? '0x86' : '0x04'} and nothing after the CONNECT is processed`, async () => {
      const d = deferred();
      const { broker } = makeBroker({ hooks: { authenticate: () => d.promise } });
      const c = open(broker, v);
      c.send(connectPacket(v, { clientId: 'bad' }), pub('t', 'x', { retain: true }), sub(1, '#', 0), { type: 'pingreq' });
      d.resolve({ ok: false, reason: 'bad-credentials' });
      await settle();
      expect(c.take()).toMatchObject([{ type: 'connack', sessionPresent: false, reasonCode: v === 5 ? 0x86 : 0x04 }]);
      expect(c.closed).toBe(true);
      expect(broker.retained.size).toBe(0);
      expect(broker.sessions.has('bad')).toBe(false);
    });

    test(`${st(v, ['MQTT-3.2.2-4', 'MQTT-3.2.2-5'], ['MQTT-3.1.4-2', 'MQTT-3.2.2-7'])} refusal reasons map to CONNACK codes`, () => {
      const table = [
        ['bad-credentials', 0x04, 0x86], ['not-authorized', 0x05, 0x87], ['banned', 0x05, 0x8a], ['server-unavailable', 0x03, 0x88],
      ] as const;
      for (const [reason, c4, c5] of table) {
        const { broker } = makeBroker({ hooks: { authenticate: () => ({ ok: false, reason }) } });
        const c = open(broker, v);
        c.send(connectPacket(v));
        expect(c.take()).toMatchObject([{ type: 'connack', sessionPresent: false, reasonCode: v === 5 ? c5 : c4 }]);
        expect(c.closed).toBe(true);
      }
    });

    test(`${st(v, 'MQTT-3.2.2-5', ['MQTT-3.1.4-2', 'MQTT-3.2.2-7'])} a hook that throws or rejects refuses with Server unavailable`, async () => {
      const throwing = makeBroker({ hooks: { authenticate: () => { throw new Error('boom'); } } });
      const a = open(throwing.broker, v);
      a.send(connectPacket(v));
      expect(a.take()).toMatchObject([{ type: 'connack', reasonCode: v === 5 ? 0x88 : 0x03 }]);
      expect(a.closed).toBe(true);
      const rejecting = makeBroker({ hooks: { authenticate: () => Promise.reject(new Error('down')) } });
      const b = open(rejecting.broker, v);
      b.send(connectPacket(v));
      await settle();
      expect(b.take()).toMatchObject([{ type: 'connack', reasonCode: v === 5 ? 0x88 : 0x03 }]);
      expect(b.closed).toBe(true);
    });

    // statements: none — broker option connectTimeoutMs covers authentication too
    test(`${st(v, [], [])} an authentication that never settles is bounded by connectTimeoutMs`, async () => {
      const { broker, clock } = makeBroker({ connectTimeoutMs: 5000, hooks: { authenticate: () => new Promise<AuthenticateResult>(() => {}) } });
      const c = open(broker, v);
      c.send(connectPacket(v, { clientId: 'stuck' }), { type: 'pingreq' });
      clock.advance(4999);
      expect(c.closed).toBe(false);
      clock.advance(1);
      expect(c.closed).toBe(true);
      expect(c.link.written).toEqual([]);
      expect(broker.connections.size).toBe(0);
      await settle();
    });

    // statements: none — robustness of the authenticate hook
    test(`${st(v, [], [])} the link closing during async authentication: the late result is ignored`, async () => {
      const d = deferred();
      const { broker } = makeBroker({ hooks: { authenticate: () => d.promise } });
      const c = open(broker, v);
      c.send(connectPacket(v, { clientId: 'gone' }));
      c.drop();
      d.resolve({ ok: true });
      await settle();
      expect(c.link.written).toEqual([]);
      expect(broker.sessions.has('gone')).toBe(false);
      expect(broker.openConnections).toBe(0);
    });

    test(`${st(v, 'MQTT-4.4.0-1', 'MQTT-4.4.0-1')} async resume: in-flight messages are resent before packets held during authentication take effect`, async () => {
      let d = deferred();
      const { broker } = makeBroker({ hooks: { authenticate: () => d.promise } });
      const persistent = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 100 } } : { clean: false };
      const c1 = open(broker, v);
      c1.send(connectPacket(v, { clientId: 'loop', ...persistent }), sub(1, 't', 1), pub('t', 'first', { qos: 1, id: 1 }));
      d.resolve({ ok: true });
      await settle();
      expect(types(c1.take())).toEqual(['connack', 'suback', 'publish', 'puback']); // 'first' is not acknowledged
      c1.drop();
      d = deferred();
      const c2 = open(broker, v);
      c2.send(connectPacket(v, { clientId: 'loop', ...persistent }), pub('t', 'second', { qos: 1, id: 2 }));
      d.resolve({ ok: true });
      await settle();
      const got = c2.take();
      expect(got[0]).toMatchObject({ type: 'connack', sessionPresent: true });
      const pubs = got.filter((p) => p.type === 'publish');
      // one publisher, one topic, one QoS: 'first' (resent, DUP) before 'second'
      expect(pubs.map((p) => (p.type === 'publish' ? [p.payload.toString(), p.dup] : []))).toEqual([['first', true], ['second', false]]);
    });
  }
});

describe('connection limit', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.2.2-4', 'MQTT-3.2.2-5'], ['MQTT-3.1.4-2', 'MQTT-3.2.2-6', 'MQTT-3.2.2-7'])} maxConnections: one more is refused (${v === 5 ? '0x97' : '0x03'}); a freed slot can be used again`, () => {
      const { broker } = makeBroker({ maxConnections: 2 });
      const a = connect(broker, v);
      connect(broker, v);
      const c = open(broker, v);
      c.send(connectPacket(v));
      expect(c.take()).toEqual([expect.objectContaining({ type: 'connack', sessionPresent: false, reasonCode: v === 5 ? 0x97 : 0x03 })]);
      expect(c.closed).toBe(true);
      expect(broker.openConnections).toBe(2);
      a.send({ type: 'disconnect' });
      expect(broker.openConnections).toBe(1);
      expect(connect(broker, v).connack.reasonCode).toBe(0);
    });
  }
});

describe('shutdown', () => {
  for (const v of VERSIONS) {
    test(`${st(v, [], ['MQTT-3.14.4-2'])} shutdown closes every connection${v === 5 ? ' after DISCONNECT 0x8B' : ''} and leaves no timers`, () => {
      const { broker, clock } = makeBroker();
      const a = connect(broker, v, { keepAlive: 30 });
      const b = open(broker, v);
      broker.shutdown();
      expect(a.take()).toEqual(v === 5 ? [{ type: 'disconnect', reasonCode: 0x8b }] : []);
      expect(a.closed && b.closed).toBe(true);
      expect(broker.openConnections).toBe(0);
      expect(clock.pending()).toBe(0);
    });

    // statements: none — broker lifecycle
    test(`${st(v, [], [])} a connection accepted after shutdown is refused: a CONNECT on it opens no session`, () => {
      const { broker } = makeBroker();
      broker.shutdown();
      const late = open(broker, v);
      expect(late.link.destroyed).toBe(true);
      late.send(connectPacket(v, { clientId: 'late' }));
      expect(late.link.written).toEqual([]);
      expect(broker.sessions.has('late')).toBe(false);
      expect(broker.openConnections).toBe(0);
    });
  }
});

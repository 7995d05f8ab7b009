/**
 * MQTT 5.0 features: topic aliases both ways, Maximum Packet Size both
 * ways, Message Expiry, Payload Format Indicator, property pass-through,
 * Request Problem Information, Maximum QoS.
 */
import { describe, expect, test } from 'vitest';
import type { Packet } from '../../codec/index.js';
import { brief, connect, connectPacket, makeBroker, open, payloads, pub, st, sub, subscriber, types } from './test-client.js';

describe('inbound Topic Aliases', () => {
  test(`${st('5.0', 'MQTT-3.3.2-12')} an alias is set with a topic, used with an empty topic, and may be remapped`, () => {
    const { broker } = makeBroker({ topicAliasMaximum: 3 });
    const s = subscriber(broker, 5, '#', 0);
    const p = connect(broker, 5);
    expect(p.connack.properties?.topicAliasMaximum).toBe(3);
    p.send(pub('t/one', '1', { props: { topicAlias: 3 } }), pub('', '2', { props: { topicAlias: 3 } }));
    p.send(pub('t/two', '3', { props: { topicAlias: 3 } }), pub('', '4', { props: { topicAlias: 3 } }), pub('t/one', '5', { qos: 1, id: 1, props: { topicAlias: 1 } }), pub('', '6', { props: { topicAlias: 1 } }));
    const got = s.takePublishes();
    expect(got.map((x) => [x.topic, x.payload.toString()])).toEqual([['t/one', '1'], ['t/one', '2'], ['t/two', '3'], ['t/two', '4'], ['t/one', '5'], ['t/one', '6']]);
    // the alias is the publisher's business: subscribers never see it
    expect(got.every((x) => x.properties?.topicAlias === undefined)).toBe(true);
    expect(p.closed).toBe(false);
  });

  test(`${st('5.0', ['MQTT-3.3.2-7', 'MQTT-4.13.1-1'])} an alias with no mapping on this connection → DISCONNECT 0x82 (mappings do not survive a reconnect)`, () => {
    const { broker } = makeBroker();
    const p = connect(broker, 5, { clientId: 'alias', clean: false, properties: { sessionExpiryInterval: 60 } });
    p.send(pub('t', 'x', { props: { topicAlias: 1 } }));
    p.drop();
    const again = connect(broker, 5, { clientId: 'alias', clean: false, properties: { sessionExpiryInterval: 60 } });
    again.send(pub('', 'y', { props: { topicAlias: 1 } }));
    expect(again.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x82 }]);
    expect(again.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-3.3.2-12', 'MQTT-4.13.1-1'])} an alias above the broker's Topic Alias Maximum → DISCONNECT 0x94`, () => {
    const { broker } = makeBroker({ topicAliasMaximum: 2 });
    const p = connect(broker, 5);
    p.send(pub('t', 'x', { props: { topicAlias: 3 } }));
    expect(p.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x94 }]);
    expect(p.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-4.13.1-1'])} Topic Alias Maximum 0: not announced, and any alias → DISCONNECT 0x94`, () => {
    const { broker } = makeBroker({ topicAliasMaximum: 0 });
    const p = connect(broker, 5);
    expect(p.connack.properties?.topicAliasMaximum).toBeUndefined();
    p.send(pub('t', 'x', { props: { topicAlias: 1 } }));
    expect(p.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x94 }]);
  });
});

describe('outbound Topic Aliases', () => {
  test(`${st('5.0', 'MQTT-3.1.2-27')} a client that allows none (absent or 0) never gets one`, () => {
    const { broker } = makeBroker();
    const none = subscriber(broker, 5, 't', 0);
    const zero = subscriber(broker, 5, 't', 0, { properties: { topicAliasMaximum: 0 } });
    const p = connect(broker, 5);
    for (let i = 0; i < 3; i++) p.send(pub('t', `${i}`));
    for (const c of [none, zero]) {
      const got = c.takePublishes();
      expect(got.map((x) => [x.topic, x.properties?.topicAlias])).toEqual([['t', undefined], ['t', undefined], ['t', undefined]]);
    }
  });

  test(`${st('5.0', ['MQTT-3.1.2-26', 'MQTT-3.3.2-11', 'MQTT-3.3.2-8'])} aliases are set once per topic, then used with an empty topic; never 0, never above the client's maximum`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 5, '#', 0, { properties: { topicAliasMaximum: 2 } });
    const p = connect(broker, 5);
    for (const t of ['a', 'b', 'a', 'c', 'b', 'c']) p.send(pub(t, t));
    const got = s.takePublishes();
    expect(got.map((x) => [x.topic, x.properties?.topicAlias, x.payload.toString()])).toEqual([
      ['a', 1, 'a'], ['b', 2, 'b'], ['', 1, 'a'], ['c', undefined, 'c'], ['', 2, 'b'], ['c', undefined, 'c'],
    ]);
  });

  test(`${st('5.0', ['MQTT-3.3.2-7'])} outbound aliases start afresh on a new connection`, () => {
    const { broker } = makeBroker();
    const fields = { clientId: 'oa', clean: false, properties: { sessionExpiryInterval: 60, topicAliasMaximum: 5 } };
    const s = subscriber(broker, 5, 't', 0, fields);
    const p = connect(broker, 5);
    p.send(pub('t', '1'));
    expect(s.takePublishes().map((x) => [x.topic, x.properties?.topicAlias])).toEqual([['t', 1]]);
    s.drop();
    const again = connect(broker, 5, fields);
    p.send(pub('t', '2'));
    expect(again.takePublishes().map((x) => [x.topic, x.properties?.topicAlias])).toEqual([['t', 1]]);
  });

  // statements: none — broker option outboundTopicAliases
  test(`${st('5.0', [])} outboundTopicAliases: false → never used`, () => {
    const { broker } = makeBroker({ outboundTopicAliases: false });
    const s = subscriber(broker, 5, 't', 0, { properties: { topicAliasMaximum: 5 } });
    const p = connect(broker, 5);
    p.send(pub('t', '1'), pub('t', '2'));
    expect(s.takePublishes().map((x) => x.properties?.topicAlias)).toEqual([undefined, undefined]);
  });
});

describe('Maximum Packet Size', () => {
  test(`${st('5.0', ['MQTT-4.13.1-1'])} a packet above the broker's maximum → DISCONNECT 0x95; the broker announces its maximum`, () => {
    const { broker } = makeBroker({ maxPacketSize: 100 });
    const p = connect(broker, 5);
    expect(p.connack.properties?.maximumPacketSize).toBe(100);
    p.send(pub('t', 'x'.repeat(80)));
    expect(p.closed).toBe(false);
    p.send(pub('t', 'x'.repeat(100)));
    expect(p.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x95 }]);
    expect(p.closed).toBe(true);
  });

  test(`${st('3.1.1', ['MQTT-4.8.0-1'])} 3.1.1: a packet above the broker's maximum closes the connection`, () => {
    const { broker } = makeBroker({ maxPacketSize: 100 });
    const p = connect(broker, 4);
    p.send(pub('t', 'x'.repeat(100)));
    expect(p.take()).toEqual([]);
    expect(p.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-3.1.2-24', 'MQTT-3.1.2-25'])} a PUBLISH above the client's maximum is dropped and the QoS 1 flow goes on as if it had been delivered`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 5, 't', 1, { clientId: 'small', clean: false, properties: { sessionExpiryInterval: 60, maximumPacketSize: 64, receiveMaximum: 1 } });
    const p = connect(broker, 5);
    p.send(pub('t', 'x'.repeat(100), { qos: 1, id: 1 }), pub('t', 'fits', { qos: 1, id: 2 }));
    expect(types(p.take())).toEqual(['puback', 'puback']);
    const got = s.takePublishes();
    expect(payloads(got)).toEqual(['fits']); // the window of 1 was not blocked by the dropped one
    s.send({ type: 'puback', packetId: got[0]!.packetId! });
    expect(broker.sessions.get('small')!.inflight.size).toBe(0);
    s.drop();
    expect(connect(broker, 5, { clientId: 'small', clean: false, properties: { sessionExpiryInterval: 60, maximumPacketSize: 64 } }).take()).toEqual([]);
  });

  test(`${st('5.0', ['MQTT-3.1.2-24', 'MQTT-3.1.2-25'])} the limit counts the whole packet, properties included`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 5, 't', 0, { properties: { maximumPacketSize: 40 } });
    const p = connect(broker, 5);
    // fixed header 2 + topic 3 + properties length 1 = 6 bytes besides the payload
    p.send(pub('t', 'x'.repeat(34)), pub('t', 'y'.repeat(35)), pub('t', 'z'.repeat(20), { props: { userProperties: [['k', 'v'.repeat(20)]] } }));
    expect(s.takePublishes().map((x) => x.payload.length)).toEqual([34]);
    expect(s.link.written.every((b) => b.length <= 40)).toBe(true);
  });

  test(`${st('5.0', ['MQTT-3.1.2-24', 'MQTT-3.1.2-26'])} a dropped PUBLISH does not leave an outbound alias behind`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 5, 't', 0, { properties: { maximumPacketSize: 40, topicAliasMaximum: 5 } });
    const p = connect(broker, 5);
    p.send(pub('t', 'x'.repeat(60)), pub('t', 'ok'), pub('t', 'ok2'));
    expect(s.takePublishes().map((x) => [x.topic, x.properties?.topicAlias, x.payload.toString()])).toEqual([['t', 1, 'ok'], ['', 1, 'ok2']]);
  });
});

describe('Maximum Packet Size: Reason Strings', () => {
  test(`${st('5.0', ['MQTT-3.2.2-19', 'MQTT-3.1.2-24'])} a refusing CONNACK leaves out a Reason String that would exceed the client's maximum, rather than not being sent`, () => {
    const { broker } = makeBroker({ maxConnections: 0 });
    const c = open(broker, 5);
    c.send(connectPacket(5, { properties: { maximumPacketSize: 16 } }));
    expect(c.take()).toEqual([{ type: 'connack', sessionPresent: false, reasonCode: 0x97 }]);
    expect(c.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-3.14.2-3', 'MQTT-3.1.2-24'])} a DISCONNECT leaves out a Reason String that would exceed the client's maximum, rather than not being sent`, () => {
    const { broker } = makeBroker();
    const c = connect(broker, 5, { properties: { maximumPacketSize: 16 } });
    c.send(pub('', 'x', { props: { topicAlias: 9 } }));
    expect(c.take()).toEqual([{ type: 'disconnect', reasonCode: 0x82 }]);
    expect(c.link.written.every((b) => b.length <= 16)).toBe(true);
  });
});

describe('Message Expiry Interval', () => {
  const persistent = { clean: false, properties: { sessionExpiryInterval: 600 } };

  test(`${st('5.0', 'MQTT-3.3.2-6')} forwarded unchanged when delivered at once; reduced by the time a message waited`, () => {
    const { broker, clock } = makeBroker();
    const live = subscriber(broker, 5, 't', 1);
    const away = subscriber(broker, 5, 't', 1, { clientId: 'away', ...persistent });
    away.drop();
    const p = connect(broker, 5);
    p.send(pub('t', 'e', { qos: 1, id: 1, props: { messageExpiryInterval: 10 } }), pub('t', 'forever', { qos: 1, id: 2 }));
    expect(live.takePublishes().map((x) => x.properties?.messageExpiryInterval)).toEqual([10, undefined]);
    clock.advance(3_000);
    const back = connect(broker, 5, { clientId: 'away', ...persistent });
    expect(back.takePublishes().map((x) => [x.payload.toString(), x.properties?.messageExpiryInterval])).toEqual([['e', 7], ['forever', undefined]]);
  });

  test(`${st('5.0', 'MQTT-3.3.2-5')} a queued message that expires before delivery starts is not delivered`, () => {
    const { broker, clock } = makeBroker();
    subscriber(broker, 5, 't', 1, { clientId: 'away', ...persistent }).drop();
    const p = connect(broker, 5);
    p.send(pub('t', 'short', { qos: 1, id: 1, props: { messageExpiryInterval: 5 } }), pub('t', 'long', { qos: 1, id: 2, props: { messageExpiryInterval: 50 } }));
    clock.advance(5_000);
    const back = connect(broker, 5, { clientId: 'away', ...persistent });
    expect(back.takePublishes().map((x) => [x.payload.toString(), x.properties?.messageExpiryInterval])).toEqual([['long', 45]]);
  });

  test(`${st('5.0', ['MQTT-3.3.2-5'])} a message waiting behind the client's receive window expires there too`, () => {
    const { broker, clock } = makeBroker();
    const s = subscriber(broker, 5, 't', 1, { properties: { receiveMaximum: 1 } });
    const p = connect(broker, 5);
    p.send(pub('t', 'first', { qos: 1, id: 1 }), pub('t', 'stale', { qos: 1, id: 2, props: { messageExpiryInterval: 1 } }), pub('t', 'fresh', { qos: 1, id: 3 }));
    const [first] = s.takePublishes();
    clock.advance(2_000);
    s.send({ type: 'puback', packetId: first!.packetId! });
    expect(payloads(s.takePublishes())).toEqual(['fresh']);
  });

  test(`${st('5.0', ['MQTT-4.3.3-7', 'MQTT-4.4.0-1'])} a QoS 2 message already sent is not expired: it is resent on reconnect`, () => {
    const { broker, clock } = makeBroker();
    const s = subscriber(broker, 5, 't', 2, { clientId: 'q2', ...persistent });
    connect(broker, 5).send(pub('t', 'keep', { qos: 2, id: 1, props: { messageExpiryInterval: 1 } }));
    expect(payloads(s.takePublishes())).toEqual(['keep']);
    s.drop();
    clock.advance(10_000);
    const back = connect(broker, 5, { clientId: 'q2', ...persistent });
    expect(back.takePublishes().map((x) => [x.payload.toString(), x.dup])).toEqual([['keep', true]]);
  });
});

describe('Payload Format Indicator', () => {
  const bad = Buffer.from([0x61, 0xff, 0xfe]);

  test(`${st('5.0', 'MQTT-3.3.2-4')} forwarded unchanged with a valid UTF-8 payload`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 5, 't', 0);
    connect(broker, 5).send(pub('t', 'héllo', { props: { payloadFormatIndicator: 1 } }), pub('t', bad, { props: { payloadFormatIndicator: 0 } }));
    expect(s.takePublishes().map((x) => x.properties?.payloadFormatIndicator)).toEqual([1, 0]);
  });

  test(`${st('5.0', ['MQTT-3.4.2-1', 'MQTT-3.5.2-1'])} invalid UTF-8 with indicator 1: PUBACK / PUBREC 0x99 and not delivered`, () => {
    const { broker } = makeBroker();
    const s = subscriber(broker, 5, 't', 2);
    const p = connect(broker, 5);
    p.send(pub('t', bad, { qos: 1, id: 1, props: { payloadFormatIndicator: 1 } }), pub('t', bad, { qos: 2, id: 2, props: { payloadFormatIndicator: 1 } }));
    expect(p.take()).toEqual([{ type: 'puback', packetId: 1, reasonCode: 0x99 }, { type: 'pubrec', packetId: 2, reasonCode: 0x99 }]);
    expect(s.take()).toEqual([]);
    // the failed QoS 2 exchange is over: id 2 is free again [MQTT-4.3.3-9]
    p.send(pub('t', 'ok', { qos: 2, id: 2, props: { payloadFormatIndicator: 1 } }));
    expect(p.take()).toEqual([{ type: 'pubrec', packetId: 2, reasonCode: 0 }]);
    expect(payloads(s.takePublishes())).toEqual(['ok']);
  });

  test(`${st('5.0', ['MQTT-4.13.1-1'])} invalid UTF-8 with indicator 1 at QoS 0 → DISCONNECT 0x99`, () => {
    const { broker } = makeBroker();
    const p = connect(broker, 5);
    p.send(pub('t', bad, { props: { payloadFormatIndicator: 1 } }));
    expect(p.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x99 }]);
    expect(p.closed).toBe(true);
  });

  test(`${st('5.0', 'MQTT-3.3.2-4')} checkPayloadFormat: false forwards it unchecked`, () => {
    const { broker } = makeBroker({ checkPayloadFormat: false });
    const s = subscriber(broker, 5, 't', 0);
    connect(broker, 5).send(pub('t', bad, { props: { payloadFormatIndicator: 1 } }));
    expect(s.takePublishes().map((x) => x.payload)).toEqual([bad]);
  });
});

describe('property pass-through', () => {
  test(`${st('5.0', ['MQTT-3.3.2-15', 'MQTT-3.3.2-16', 'MQTT-3.3.2-17', 'MQTT-3.3.2-18', 'MQTT-3.3.2-20'])} Content Type, Response Topic, Correlation Data and User Properties (order and repeats kept) reach every subscriber unchanged`, () => {
    const { broker, clock } = makeBroker();
    const props = {
      contentType: 'application/json', responseTopic: 'reply/1', correlationData: Buffer.from([0, 1, 255]),
      userProperties: [['z', '1'], ['a', '2'], ['z', '3'], ['', '']] as [string, string][],
    };
    const now = subscriber(broker, 5, 't', 1);
    const later = subscriber(broker, 5, 't', 1, { clientId: 'later', clean: false, properties: { sessionExpiryInterval: 60 } });
    later.drop();
    connect(broker, 5).send(pub('t', '{}', { qos: 1, id: 1, props }), pub('t', 'r', { retain: true, props }));
    clock.advance(1000);
    expect(now.takePublishes().map((x) => x.properties)).toEqual([props, props]);
    expect(connect(broker, 5, { clientId: 'later', clean: false, properties: { sessionExpiryInterval: 60 } }).takePublishes()[0]!.properties).toEqual(props);
    expect(subscriber(broker, 5, 't', 0).takePublishes()[0]!.properties).toEqual(props); // retained copy
  });

  // statements: none — mixing versions (3.1.1 has no properties)
  test(`${st('5.0', [])} a 3.1.1 subscriber gets the message without properties`, () => {
    const { broker } = makeBroker();
    const old = subscriber(broker, 4, 't', 1);
    connect(broker, 5).send(pub('t', 'x', { qos: 1, id: 1, props: { contentType: 'a', userProperties: [['k', 'v']], messageExpiryInterval: 9 } }));
    expect(old.takePublishes().map(brief)).toEqual([{ topic: 't', payload: 'x', qos: 1, retain: false, dup: false, packetId: 1 }]);
  });
});

describe('Request Problem Information', () => {
  const disconnectOf = (ps: Packet[]) => ps.find((x) => x.type === 'disconnect');

  test(`${st('5.0', 'MQTT-3.1.2-29')} by default a protocol-error DISCONNECT carries a Reason String`, () => {
    const { broker } = makeBroker();
    const c = connect(broker, 5);
    c.send(pub('', 'x', { props: { topicAlias: 9 } }));
    const d = disconnectOf(c.take());
    expect(d).toMatchObject({ reasonCode: 0x82 });
    expect(d?.properties?.reasonString).toMatch(/alias/i);
  });

  test(`${st('5.0', 'MQTT-3.1.2-29')} with Request Problem Information 0: no Reason String or User Properties anywhere`, () => {
    const { broker } = makeBroker({ hooks: { authorizePublish: () => false, authorizeSubscribe: () => false } });
    const c = connect(broker, 5, { properties: { requestProblemInformation: 0 } });
    c.send(pub('t', 'x', { qos: 1, id: 1 }), pub('t', 'x', { qos: 2, id: 2 }), sub(3, 't', 0), { type: 'unsubscribe', packetId: 4, topicFilters: ['t'] });
    c.send(pub('', 'x', { props: { topicAlias: 9 } }));
    const got = c.take();
    expect(types(got)).toEqual(['puback', 'pubrec', 'suback', 'unsuback', 'disconnect']);
    expect(got.every((x) => !('properties' in x) || x.properties === undefined)).toBe(true);
    // and a refusing CONNACK
    const full = makeBroker({ maxConnections: 0 }).broker;
    const quiet = open(full, 5);
    quiet.send(connectPacket(5, { properties: { requestProblemInformation: 0 } }));
    expect(quiet.take()).toEqual([{ type: 'connack', sessionPresent: false, reasonCode: 0x97 }]);
    const chatty = open(full, 5);
    chatty.send(connectPacket(5));
    expect(chatty.take()).toMatchObject([{ type: 'connack', reasonCode: 0x97, properties: { reasonString: expect.stringMatching(/limit/) } }]);
  });
});

describe('Maximum QoS', () => {
  test(`${st('5.0', ['MQTT-3.2.2-9', 'MQTT-3.2.2-11'])} a PUBLISH above the announced Maximum QoS → DISCONNECT 0x9B`, () => {
    const { broker } = makeBroker({ maxQoS: 1 });
    const s = subscriber(broker, 5, 't', 2);
    const p = connect(broker, 5);
    expect(p.connack.properties?.maximumQoS).toBe(1);
    p.send(pub('t', 'ok', { qos: 1, id: 1 }), pub('t', 'too high', { qos: 2, id: 2 }));
    expect(p.take()).toMatchObject([{ type: 'puback', packetId: 1 }, { type: 'disconnect', reasonCode: 0x9b }]);
    expect(p.closed).toBe(true);
    expect(payloads(s.takePublishes())).toEqual(['ok']);
  });

  // statements: none beyond MQTT-3.2.2-9 — 5.0 §3.2.2.3.4 (DISCONNECT 0x9B)
  test(`${st('5.0', [])} Maximum QoS 0: CONNACK says 0 and a QoS 1 PUBLISH → DISCONNECT 0x9B`, () => {
    const { broker } = makeBroker({ maxQoS: 0 });
    const p = connect(broker, 5);
    expect(p.connack.properties?.maximumQoS).toBe(0);
    p.send(pub('t', 'x', { qos: 1, id: 1 }));
    expect(p.take()).toMatchObject([{ type: 'disconnect', reasonCode: 0x9b }]);
  });
});

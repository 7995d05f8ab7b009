/**
 * Will Messages: when they are published (abrupt close, keep-alive expiry,
 * protocol error, takeover, 5.0 DISCONNECT 0x04) and when not (normal
 * DISCONNECT, no Will Flag); 5.0 Will Delay Interval against reconnects and
 * session expiry; Will Retain; Will Properties.
 */
import { describe, expect, test } from 'vitest';
import type { ProtocolVersion, QoS, Will } from '../../codec/index.js';
import { VERSIONS, brief, connect, makeBroker, payloads, pub, st, subscriber, type ConnectFields } from './test-client.js';

function will(topic = 'will/t', payload = 'bye', qos: QoS = 1, retain = false, properties?: Will['properties']): Will {
  const w: Will = { topic, payload: Buffer.from(payload), qos, retain };
  if (properties) w.properties = properties;
  return w;
}

function setup(v: ProtocolVersion, fields: ConnectFields = {}, options = {}) {
  const tb = makeBroker(options);
  const watcher = subscriber(tb.broker, v, 'will/#', 2);
  const client = connect(tb.broker, v, { clientId: 'dying', will: will(), ...fields });
  return { ...tb, watcher, client };
}

describe('when the Will is published', () => {
  for (const v of VERSIONS) {
    test(`${st(v, ['MQTT-3.1.2-8', 'MQTT-3.1.2-16'], ['MQTT-3.1.2-7', 'MQTT-3.1.2-8', 'MQTT-3.1.2-14'])} the network connection drops: published once, not retained, at the Will QoS`, () => {
      const { watcher, client } = setup(v);
      expect(watcher.take()).toEqual([]);
      client.drop();
      expect(watcher.takePublishes().map(brief)).toEqual([{ topic: 'will/t', payload: 'bye', qos: 1, retain: false, dup: false, packetId: 1 }]);
      client.drop();
      expect(watcher.take()).toEqual([]);
    });

    test(`${st(v, ['MQTT-3.1.2-24', 'MQTT-3.1.2-8'], ['MQTT-3.1.2-22', 'MQTT-3.1.2-8'])} keep-alive expiry publishes it`, () => {
      const { watcher, client, clock } = setup(v, { keepAlive: 10 });
      clock.advance(14_999);
      expect(watcher.take()).toEqual([]);
      clock.advance(1);
      expect(client.closed).toBe(true);
      expect(payloads(watcher.takePublishes())).toEqual(['bye']);
    });

    test(`${st(v, ['MQTT-4.8.0-1', 'MQTT-3.1.2-8'], ['MQTT-4.13.1-1', 'MQTT-3.1.2-8'])} a protocol error publishes it`, () => {
      const { watcher, client } = setup(v);
      client.sendRaw([0x36, 0x03, 0x00, 0x01, 0x61]); // PUBLISH with QoS 3
      expect(client.closed).toBe(true);
      expect(payloads(watcher.takePublishes())).toEqual(['bye']);
    });

    test(`${st(v, ['MQTT-3.1.2-10', 'MQTT-3.14.4-3'], ['MQTT-3.1.2-10', 'MQTT-3.14.4-3'])} a normal DISCONNECT deletes it: never published`, () => {
      const { watcher, client, clock } = setup(v, v === 5 ? { clean: false, properties: { sessionExpiryInterval: 5 } } : {});
      client.send(v === 5 ? { type: 'disconnect', reasonCode: 0 } : { type: 'disconnect' });
      expect(client.closed).toBe(true);
      client.drop();
      clock.advance(10_000);
      expect(watcher.take()).toEqual([]);
    });

    test(`${st(v, 'MQTT-3.1.2-12', [])} no Will Flag: nothing is published`, () => {
      const { broker } = makeBroker();
      const watcher = subscriber(broker, v, '#', 2);
      connect(broker, v).drop();
      expect(watcher.take()).toEqual([]);
    });

    test(`${st(v, ['MQTT-3.1.4-2', 'MQTT-3.1.2-8'], ['MQTT-3.1.4-3', 'MQTT-3.1.2-8'])} a takeover publishes the old connection's Will`, () => {
      const { broker, watcher } = setup(v);
      connect(broker, v, { clientId: 'dying' });
      expect(payloads(watcher.takePublishes())).toEqual(['bye']);
    });

    test(`${st(v, 'MQTT-3.1.2-17', 'MQTT-3.1.2-15')} Will Retain 1: published as a retained message`, () => {
      const { broker, watcher, client } = setup(v, { will: will('will/r', 'kept', 0, true) });
      client.drop();
      expect(watcher.takePublishes().map((p) => [p.payload.toString(), p.retain])).toEqual([['kept', false]]);
      expect(subscriber(broker, v, 'will/r', 0).takePublishes().map((p) => [p.payload.toString(), p.retain])).toEqual([['kept', true]]);
    });

    test(`${st(v, 'MQTT-3.1.2-8', 'MQTT-3.1.2-8')} the Will of a persistent session is published at the close, and only once`, () => {
      const { broker, watcher, client, clock } = setup(v, v === 5 ? { clean: false, properties: { sessionExpiryInterval: 100 } } : { clean: false });
      client.drop();
      expect(payloads(watcher.takePublishes())).toEqual(['bye']);
      clock.advance(200_000);
      connect(broker, v, { clientId: 'dying', clean: false }).drop();
      expect(watcher.take()).toEqual([]);
    });
  }

  test(`${st('5.0', ['MQTT-3.1.2-8', 'MQTT-3.14.4-3'])} DISCONNECT 0x04 (with Will Message) publishes it`, () => {
    const { watcher, client } = setup(5);
    client.send({ type: 'disconnect', reasonCode: 0x04 });
    expect(client.closed).toBe(true);
    expect(payloads(watcher.takePublishes())).toEqual(['bye']);
  });

  test(`${st('5.0', ['MQTT-3.1.2-8', 'MQTT-3.1.2-10'])} only reason code 0x00 deletes the Will: a client DISCONNECT with an error code publishes it`, () => {
    for (const code of [0x80, 0x81, 0x82, 0x83, 0x93, 0x99]) {
      const { watcher, client } = setup(5);
      client.send({ type: 'disconnect', reasonCode: code });
      expect(client.closed).toBe(true);
      expect(payloads(watcher.takePublishes())).toEqual(['bye']);
    }
  });
});

describe('5.0 Will Delay Interval', () => {
  const delayed = (delay: number, expiry: number): ConnectFields => ({
    clean: false, properties: { sessionExpiryInterval: expiry }, will: will('will/t', 'late', 1, false, { willDelayInterval: delay }),
  });

  test(`${st('5.0', 'MQTT-3.1.2-8')} published when the delay has passed`, () => {
    const { watcher, client, clock } = setup(5, delayed(10, 100));
    client.drop();
    clock.advance(9_999);
    expect(watcher.take()).toEqual([]);
    clock.advance(1);
    expect(payloads(watcher.takePublishes())).toEqual(['late']);
  });

  test(`${st('5.0', ['MQTT-3.1.3-9', 'MQTT-3.1.2-8'])} not published when the client reconnects within the delay`, () => {
    const { broker, watcher, client, clock } = setup(5, delayed(10, 100));
    client.drop();
    clock.advance(5_000);
    const back = connect(broker, 5, { clientId: 'dying', clean: false, properties: { sessionExpiryInterval: 100 } });
    expect(back.connack.sessionPresent).toBe(true);
    clock.advance(60_000);
    expect(watcher.take()).toEqual([]);
    // the new connection has no Will: dropping it publishes nothing
    back.drop();
    clock.advance(200_000);
    expect(watcher.take()).toEqual([]);
  });

  test(`${st('5.0', ['MQTT-3.1.2-8', 'MQTT-4.1.0-2'])} published when the session expires before the delay`, () => {
    const { broker, watcher, client, clock } = setup(5, delayed(60, 5));
    client.drop();
    clock.advance(4_999);
    expect(watcher.take()).toEqual([]);
    clock.advance(1);
    expect(payloads(watcher.takePublishes())).toEqual(['late']);
    expect(broker.sessions.has('dying')).toBe(false);
    clock.advance(100_000);
    expect(watcher.take()).toEqual([]);
  });

  test(`${st('5.0', ['MQTT-3.1.2-8', 'MQTT-3.1.2-4'])} published at once when the session ends with the connection (Session Expiry 0)`, () => {
    const { watcher, client } = setup(5, { will: will('will/t', 'now', 0, false, { willDelayInterval: 30 }) });
    client.drop();
    expect(payloads(watcher.takePublishes())).toEqual(['now']);
  });

  test(`${st('5.0', ['MQTT-3.1.2-8', 'MQTT-3.1.2-4'])} published when a Clean Start reconnect ends the session within the delay`, () => {
    const { broker, watcher, client } = setup(5, delayed(30, 100));
    client.drop();
    connect(broker, 5, { clientId: 'dying', clean: true });
    expect(payloads(watcher.takePublishes())).toEqual(['late']);
  });

  test(`${st('5.0', ['MQTT-3.1.2-8'])} a delayed Will is published once even when delay and session expiry coincide`, () => {
    const { watcher, client, clock } = setup(5, delayed(10, 10));
    client.drop();
    clock.advance(10_000);
    expect(payloads(watcher.takePublishes())).toEqual(['late']);
    clock.advance(10_000);
    expect(watcher.take()).toEqual([]);
  });
});

describe('5.0 Will Properties', () => {
  test(`${st('5.0', ['MQTT-3.1.3-10', 'MQTT-3.3.2-4', 'MQTT-3.3.2-15', 'MQTT-3.3.2-16', 'MQTT-3.3.2-18', 'MQTT-3.3.2-20'])} forwarded on the Will PUBLISH (User Properties in order), without the Will Delay Interval`, () => {
    const props = {
      willDelayInterval: 1, payloadFormatIndicator: 1, contentType: 'text/plain', responseTopic: 'reply/here',
      correlationData: Buffer.from([1, 2, 3]), userProperties: [['b', '2'], ['a', '1'], ['b', '3']] as [string, string][],
    };
    const { watcher, client, clock } = setup(5, { clean: false, properties: { sessionExpiryInterval: 10 }, will: will('will/p', 'props', 1, false, props) });
    client.drop();
    clock.advance(1000);
    const [p] = watcher.takePublishes();
    const { willDelayInterval: _omit, ...expected } = props;
    expect(p!.properties).toEqual(expected);
  });

  test(`${st('5.0', ['MQTT-3.3.2-6'])} a Will Message Expiry Interval counts from publication`, () => {
    const { broker, client, clock } = setup(5, {
      clean: false, properties: { sessionExpiryInterval: 100 },
      will: will('will/e', 'exp', 1, true, { willDelayInterval: 20, messageExpiryInterval: 30 }),
    });
    client.drop();
    clock.advance(20_000); // published now, retained
    clock.advance(10_000);
    const late = subscriber(broker, 5, 'will/e', 1);
    expect(late.takePublishes().map((p) => p.properties?.messageExpiryInterval)).toEqual([20]);
    clock.advance(20_000);
    expect(subscriber(broker, 5, 'will/e', 1).take()).toEqual([]);
  });
});

describe('Will and authorization', () => {
  for (const v of VERSIONS) {
    // statements: none — authorization (5.0 §5.4.2) applies to the Will like any PUBLISH
    test(`${st(v, [], [])} authorizePublish applies to the Will: a denied topic is not published`, () => {
      const { broker } = makeBroker({ hooks: { authorizePublish: (_c, topic) => !topic.startsWith('will/secret') } });
      const watcher = subscriber(broker, v, 'will/#', 2);
      connect(broker, v, { will: will('will/secret', 'no') }).drop();
      connect(broker, v, { will: will('will/open', 'yes') }).drop();
      expect(payloads(watcher.takePublishes())).toEqual(['yes']);
    });
  }
});

describe('Will vs. ordinary traffic', () => {
  for (const v of VERSIONS) {
    test(`${st(v, 'MQTT-3.1.2-8', 'MQTT-3.1.2-8')} messages the client published before dying arrive before its Will`, () => {
      const { watcher, client } = setup(v);
      client.send(pub('will/t', 'last words', { qos: 1, id: 1 }));
      client.drop();
      expect(payloads(watcher.takePublishes())).toEqual(['last words', 'bye']);
    });
  }
});

/**
 * Keep Alive: the 1.5× rule, what resets it, PINGREQ/PINGRESP, Keep Alive 0,
 * and the 5.0 Server Keep Alive.
 */
import { describe, expect, test } from 'vitest';
import { Broker } from './broker.js';
import { FakeClock, type TimerHandle } from './clock.js';
import { KEEP_ALIVE_CHECK_MS } from './connection.js';
import { VERSIONS, connect, makeBroker, pub, st, types } from './test-client.js';

/** A FakeClock that records the delay of every timer set. */
class RecordingClock extends FakeClock {
  readonly delays: number[] = [];
  override setTimer(ms: number, fn: () => void): TimerHandle {
    this.delays.push(ms);
    return super.setTimer(ms, fn);
  }
}

describe('Keep Alive', () => {
  for (const v of VERSIONS) {
    // Found by the fuzzer's memory check (harness/fuzz): Node keeps a timer list per distinct duration until it has passed,
    // so one 1.5 × 65535 s timer per connection left tens of thousands of lists behind closed connections.
    test(`${st(v, 'MQTT-3.1.2-24', 'MQTT-3.1.2-22')} a long Keep Alive is checked in steps of at most ${KEEP_ALIVE_CHECK_MS / 1000} s and still closes at exactly 1.5 × Keep Alive`, () => {
      const clock = new RecordingClock();
      const broker = new Broker({ clock });
      const c = connect(broker, v, { keepAlive: 65_535 });
      const idle = connect(broker, v, { keepAlive: 100 });
      expect(Math.max(...clock.delays)).toBeLessThanOrEqual(KEEP_ALIVE_CHECK_MS);
      clock.advance(149_999);
      expect(idle.closed).toBe(false);
      clock.advance(1);
      expect(idle.closed).toBe(true);
      expect(idle.take()).toEqual(v === 5 ? [{ type: 'disconnect', reasonCode: 0x8d }] : []);
      clock.advance(65_535 * 1500 - 150_001);
      expect(c.closed).toBe(false);
      clock.advance(1);
      expect(c.closed).toBe(true);
      expect(Math.max(...clock.delays)).toBeLessThanOrEqual(KEEP_ALIVE_CHECK_MS);
    });

    test(`${st(v, 'MQTT-3.1.2-24', ['MQTT-3.1.2-22'])} nothing received for 1.5 × Keep Alive: closed${v === 5 ? ' after DISCONNECT 0x8D' : ''}`, () => {
      const { broker, clock } = makeBroker();
      const c = connect(broker, v, { keepAlive: 10 });
      clock.advance(14_999);
      expect(c.closed).toBe(false);
      clock.advance(1);
      expect(c.closed).toBe(true);
      expect(c.take()).toEqual(v === 5 ? [{ type: 'disconnect', reasonCode: 0x8d }] : []);
      expect(broker.openConnections).toBe(0);
    });

    test(`${st(v, ['MQTT-3.1.2-24', 'MQTT-3.12.4-1'], ['MQTT-3.1.2-22', 'MQTT-3.12.4-1'])} PINGREQ gets PINGRESP and restarts the 1.5 × Keep Alive period`, () => {
      const { broker, clock } = makeBroker();
      const c = connect(broker, v, { keepAlive: 10 });
      clock.advance(10_000);
      c.send({ type: 'pingreq' });
      expect(c.take()).toEqual([{ type: 'pingresp' }]);
      clock.advance(14_999);
      expect(c.closed).toBe(false);
      clock.advance(1);
      expect(c.closed).toBe(true);
    });

    test(`${st(v, 'MQTT-3.1.2-24', 'MQTT-3.1.2-22')} any packet restarts the period, not only PINGREQ`, () => {
      const { broker, clock } = makeBroker();
      const c = connect(broker, v, { keepAlive: 4 });
      for (let i = 0; i < 20; i++) {
        clock.advance(5_000);
        c.send(pub('t', `${i}`));
      }
      expect(c.closed).toBe(false);
      clock.advance(5_999);
      expect(c.closed).toBe(false);
      clock.advance(1);
      expect(c.closed).toBe(true);
    });

    test(`${st(v, 'MQTT-3.1.2-24', 'MQTT-3.1.2-22')} packets from the broker do not keep the connection alive`, () => {
      const { broker, clock } = makeBroker();
      const c = connect(broker, v, { keepAlive: 2 });
      c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 't', qos: 0 }] });
      for (let i = 0; i < 3; i++) {
        clock.advance(1_000);
        broker.publishLocal('t', Buffer.from('tick'));
      }
      expect(c.closed).toBe(true);
    });

    // statements: none — Keep Alive 0 turns the mechanism off (3.1.1 §3.1.2.10, 5.0 §3.1.2.10)
    test(`${st(v, [], [])} Keep Alive 0: never closed for silence`, () => {
      const { broker, clock } = makeBroker();
      const c = connect(broker, v, { keepAlive: 0 });
      clock.advance(7 * 24 * 3600 * 1000);
      expect(c.closed).toBe(false);
      expect(clock.pending()).toBe(0);
    });

    test(`${st(v, 'MQTT-3.1.2-24', 'MQTT-3.1.2-22')} the connection, not the session, is ended: a persistent session stays`, () => {
      const { broker, clock } = makeBroker();
      const c = connect(broker, v, { clientId: 'ka', keepAlive: 1, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) });
      clock.advance(1_500);
      expect(c.closed).toBe(true);
      expect(broker.sessions.has('ka')).toBe(true);
    });
  }

  // statements: none — broker option maxKeepAlive is 5.0-only (Server Keep Alive)
  test(`${st('3.1.1', [])} 3.1.1: maxKeepAlive is not imposed (3.1.1 has no way to tell the client)`, () => {
    const { broker, clock } = makeBroker({ maxKeepAlive: 20 });
    const c = connect(broker, 4, { keepAlive: 60 });
    clock.advance(89_999);
    expect(c.closed).toBe(false);
    clock.advance(1);
    expect(c.closed).toBe(true);
  });
});

describe('5.0 Server Keep Alive', () => {
  test(`${st('5.0', ['MQTT-3.1.2-21', 'MQTT-3.2.2-21'])} a Keep Alive above maxKeepAlive: CONNACK Server Keep Alive, and that value is enforced`, () => {
    const { broker, clock } = makeBroker({ maxKeepAlive: 20 });
    const c = connect(broker, 5, { keepAlive: 60 });
    expect(c.connack.properties?.serverKeepAlive).toBe(20);
    clock.advance(29_999);
    expect(c.closed).toBe(false);
    clock.advance(1);
    expect(c.take()).toEqual([{ type: 'disconnect', reasonCode: 0x8d }]);
    expect(c.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-3.1.2-21'])} Keep Alive 0 with maxKeepAlive: the server's value is imposed`, () => {
    const { broker, clock } = makeBroker({ maxKeepAlive: 20 });
    const c = connect(broker, 5, { keepAlive: 0 });
    expect(c.connack.properties?.serverKeepAlive).toBe(20);
    clock.advance(30_000);
    expect(c.closed).toBe(true);
  });

  test(`${st('5.0', 'MQTT-3.2.2-22')} a Keep Alive within maxKeepAlive: no Server Keep Alive, the client's value applies`, () => {
    const { broker, clock } = makeBroker({ maxKeepAlive: 20 });
    const c = connect(broker, 5, { keepAlive: 10 });
    expect(c.connack.properties?.serverKeepAlive).toBeUndefined();
    clock.advance(14_999);
    expect(c.closed).toBe(false);
    clock.advance(1);
    expect(c.closed).toBe(true);
  });

  test(`${st('5.0', ['MQTT-3.1.2-22', 'MQTT-3.14.0-1'])} while a PINGREQ flows every Keep Alive, the connection stays`, () => {
    const { broker, clock } = makeBroker();
    const c = connect(broker, 5, { keepAlive: 3 });
    for (let i = 0; i < 100; i++) {
      clock.advance(3_000);
      c.send({ type: 'pingreq' });
    }
    expect(types(c.take())).toEqual(Array(100).fill('pingresp'));
    expect(c.closed).toBe(false);
  });
});

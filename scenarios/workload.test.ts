import { describe, expect, test } from 'vitest';
import { decodeStamp, encodeStamp, minPayloadBytes } from './stamp.js';
import { variantsFor, parseBroker, parseProtocols } from './variants.js';
import {
  applyOverrides, listWorkloads, loadWorkloadRaw, parseDurationS, parseRatePerS, resolveWorkload, validateWorkload, WorkloadError,
} from './workload.js';

const problemsOf = (raw: Record<string, unknown>): string[] => {
  try {
    validateWorkload(raw, 'w.json');
  } catch (e) {
    expect(e).toBeInstanceOf(WorkloadError);
    return (e as WorkloadError).problems;
  }
  return [];
};

describe('workloads', () => {
  test('the four shipped workloads are valid', () => {
    expect(listWorkloads()).toEqual(['command-response', 'fan-out', 'retained-state', 'telemetry']);
    for (const n of listWorkloads()) {
      const w = resolveWorkload(n);
      expect(w.name).toBe(n);
      expect(w.pattern).toBe(n);
    }
    expect(resolveWorkload('retained-state').retained).toEqual({ component: 'sensor', configBytes: 256, lateSubscriberAtS: 7.5 });
    expect(resolveWorkload('retained-state', { duration: '2s' }).retained?.lateSubscriberAtS).toBe(0.5);
  });

  test('units: rates and durations', () => {
    expect(parseRatePerS('2/s')).toBe(2);
    expect(parseRatePerS('30/min')).toBe(0.5);
    expect(parseRatePerS('500ms')).toBe(2);
    expect(parseRatePerS('every 5s')).toBeCloseTo(0.2);
    expect(parseRatePerS(3)).toBe(3);
    expect(parseRatePerS('fast')).toBeUndefined();
    expect(parseDurationS('30s')).toBe(30);
    expect(parseDurationS('500ms')).toBe(0.5);
    expect(parseDurationS('2m')).toBe(120);
    expect(parseDurationS('soon')).toBeUndefined();
  });

  test('CLI overrides: --devices 20 --rate 2/s --payload 32 --duration 30s --qos 1 --confirmable', () => {
    const { raw, source } = loadWorkloadRaw('telemetry');
    const w = validateWorkload(applyOverrides(raw, { devices: '7', rate: '4/s', payload: '20', duration: '3s', qos: '2', confirmable: false, httpConnection: 'new', seed: '9' }), source);
    expect(w).toMatchObject({ devices: 7, ratePerS: 4, payload: { bytes: 20, format: 'binary' }, durationS: 3, seed: 9 });
    expect(w.mqtt.qos).toBe(2);
    expect(w.coap.confirmable).toBe(false);
    expect(w.http.connections).toEqual(['new']);
    expect(raw['devices']).toBe(20); // the loaded object is not changed
  });

  test('every problem at once, each naming the field and what was expected', () => {
    const p = problemsOf({ name: 'x', pattern: 'telemetri', devices: 0, rate: 'fast', duration: '30 parsecs', mqtt: { qos: 3, qoss: 1 }, payload: { bytes: 8, format: 'xml' }, colour: 'red' });
    expect(p).toEqual(expect.arrayContaining([
      "unknown field 'colour'",
      "unknown field 'mqtt.qoss' (did you mean 'qos'?)",
      expect.stringMatching(/^'pattern' must be one of telemetry, command-response, fan-out, retained-state, got "telemetri"/),
      expect.stringMatching(/^'devices' must be an integer from 1 to 10000, got 0/),
      expect.stringMatching(/^'rate' must be a rate above 0/),
      expect.stringMatching(/^'duration' must be a duration/),
      expect.stringMatching(/^'mqtt.qos' must be 0, 1 or 2, got 3/),
      expect.stringMatching(/^'payload.format' must be 'binary' or 'json', got "xml"/),
    ]));
    expect(p.length).toBe(8);
  });

  test('a payload too small for its stamp, a late subscriber outside the window, too many messages', () => {
    const base = { name: 'x', pattern: 'telemetry', devices: 10, rate: '1/s', duration: '10s' };
    expect(problemsOf({ ...base, payload: { bytes: 10 } })[0]).toMatch(/'payload.bytes' 10 is too small for a binary reading .* at least 14 bytes/);
    expect(problemsOf({ ...base, payload: { bytes: 32, format: 'json' } })[0]).toMatch(/at least \d+ bytes \(or use 'format': 'binary'/);
    expect(problemsOf({ ...base, pattern: 'retained-state', retained: { lateSubscriberAt: '20s' } })[0]).toMatch(/'retained.lateSubscriberAt' \(20 s\) must fall inside the measured window/);
    expect(problemsOf({ ...base, retained: {} })[0]).toMatch(/'retained' is only used by pattern 'retained-state'/);
    expect(problemsOf({ ...base, rate: '1000/s', devices: 1000, maxMessages: 1000 })[0]).toMatch(/plans 11000000 messages, more than 'maxMessages' 1000/);
  });

  test('unknown workload names list the shipped ones', () => {
    expect(() => resolveWorkload('telemetri')).toThrow(/no workload named 'telemetri' \(shipped: command-response, fan-out, retained-state, telemetry/);
  });

  test('stamps round-trip at exactly the payload size', () => {
    const s = { device: 12, seq: 345, intendedUs: 1_234_567, lagUs: 89 };
    for (const [format, bytes] of [['binary', 14], ['binary', 64], ['json', 64]] as const) {
      const b = encodeStamp(s, bytes, format);
      expect(b.length).toBe(bytes);
      expect(decodeStamp(b, format)).toEqual(s);
    }
    expect(minPayloadBytes('json', { devices: 20, maxSeq: 100, spanUs: 40_000_000 })).toBe(28 + 2 + 3 + 8 + 9);
    expect(() => encodeStamp(s, 13, 'binary')).toThrow(RangeError);
    expect(decodeStamp(Buffer.from('nope'), 'json')).toBeUndefined();
  });

  test('variants per protocol and the CLI lists', () => {
    const w = resolveWorkload('telemetry');
    expect(variantsFor(w, ['mqtt', 'http', 'coap'], { kind: 'reference' }).map((v) => v.id)).toEqual(['mqtt-qos1-tcp', 'http-keep-alive', 'http-new', 'coap-con']);
    expect(variantsFor(resolveWorkload('fan-out'), ['http', 'coap'], { kind: 'mosquitto' }).map((v) => v.label)).toEqual(['HTTP/1.1 server-sent events', 'CoAP NON + Observe']);
    expect(() => parseProtocols('mqtt,amqp')).toThrow(/--protocols: expected a comma-separated list of mqtt, http, coap/);
    expect(parseBroker('mqtts://h:8883')).toEqual({ kind: 'url', url: 'mqtts://h:8883' });
    expect(() => parseBroker('h:1883')).toThrow(/--broker: expected/);
  });
});

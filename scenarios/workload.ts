/**
 * Workloads as data: the JSON files in scenarios/workloads/, their types,
 * validation (every problem at once, one line each, naming the field and
 * what was expected) and CLI overrides (`--devices 20 --rate 2/s --payload 32
 * --duration 30s --qos 1 --confirmable`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minPayloadBytes, type PayloadFormat } from './stamp.js';

export const PATTERNS = ['telemetry', 'command-response', 'fan-out', 'retained-state'] as const;
export type Pattern = (typeof PATTERNS)[number];

export type HttpConnection = 'keep-alive' | 'new';
export type MqttTransport = 'tcp' | 'tls' | 'ws' | 'wss';

export interface Workload {
  /** Workload name (the file name without .json unless it says otherwise). */
  name: string;
  description: string;
  pattern: Pattern;
  /**
   * Simulated devices. telemetry / command-response / retained-state: devices
   * that send (or answer); fan-out: subscribers that receive every update.
   */
  devices: number;
  /**
   * Messages per second. telemetry and retained-state: readings per device;
   * command-response: commands per device; fan-out: updates in all (each goes
   * to every subscriber).
   */
  ratePerS: number;
  payload: { bytes: number; format: PayloadFormat };
  /** Measured window, after the warm-up. */
  durationS: number;
  /** Sent and received like the window but not counted (connections warm, JIT warm). */
  warmupS: number;
  /** After the window: how long to wait for messages still in flight before counting the rest lost. */
  drainS: number;
  /** A request, ack or reply not answered within this counts as a timeout. */
  timeoutMs: number;
  /** Seed of the schedule's phase offsets (and anything else random). */
  seed: number;
  /** Bound besides time: senders stop after this many messages in all. */
  maxMessages: number;
  mqtt: {
    qos: 0 | 1 | 2;
    version: '3.1.1' | '5.0';
    /** MQTT Keep Alive in seconds (0 = off). */
    keepAliveS: number;
    transports: MqttTransport[];
  };
  http: {
    /** One variant per entry: a kept-alive connection per device, or a new connection per request. */
    connections: HttpConnection[];
    tls: boolean;
  };
  coap: {
    /** CON (true) or NON (false) requests and notifications. */
    confirmable: boolean;
  };
  /** TCP_NODELAY on every TCP socket the runner opens or accepts (see MACHINE-FACTS: Nagle). */
  noDelay: boolean;
  /** retained-state only: the Home Assistant discovery part. */
  retained?: {
    /** `homeassistant/<component>/<id>/config`. */
    component: string;
    /** Size of each device's discovery config JSON. */
    configBytes: number;
    /** When the late subscriber joins, seconds after the start of the measured window (JSON: a duration, or '25%' of the window). */
    lateSubscriberAtS: number;
  };
}

export class WorkloadError extends Error {
  override readonly name = 'WorkloadError';
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: invalid workload:\n  - ${problems.join('\n  - ')}`);
  }
}

/** The folder with the shipped workloads (works from sources and from dist/). */
export function workloadsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const d of [join(here, 'workloads'), join(here, '..', '..', 'scenarios', 'workloads')]) {
    try {
      readdirSync(d);
      return d;
    } catch { /* try the next */ }
  }
  throw new Error(`cannot find scenarios/workloads next to ${here}`);
}

export function listWorkloads(): string[] {
  return readdirSync(workloadsDir()).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

/** A shipped workload by name, or a JSON file by path. */
export function loadWorkloadRaw(nameOrPath: string): { raw: Record<string, unknown>; source: string } {
  const isPath = nameOrPath.endsWith('.json') || nameOrPath.includes('/');
  const file = isPath ? nameOrPath : join(workloadsDir(), `${nameOrPath}.json`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    const known = listWorkloads();
    throw new WorkloadError(nameOrPath, [isPath ? `cannot read ${file}` : `no workload named '${nameOrPath}' (shipped: ${known.join(', ')}; or give a path to a .json file)`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new WorkloadError(file, [`not JSON: ${(e as Error).message}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new WorkloadError(file, ['the top level must be a JSON object']);
  const o = raw as Record<string, unknown>;
  if (o['name'] === undefined) o['name'] = basename(file, '.json');
  return { raw: o, source: file };
}

// ---------------------------------------------------------------- parsing of units

/** '30s', '2m', '500ms', '1h', or a plain number of seconds. */
export function parseDurationS(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms': return n / 1000;
    case 'm': case 'min': return n * 60;
    case 'h': return n * 3600;
    default: return n;
  }
}

/**
 * A rate in messages per second: '2/s', '10/min', '3600/h', an interval
 * ('500ms', 'every 5s'), or a plain number (per second).
 */
export function parseRatePerS(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const per = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(ms|s|sec|m|min|h)\s*$/.exec(v);
  if (per) {
    const n = Number(per[1]);
    const unit = per[2];
    return unit === 'ms' ? n * 1000 : unit === 'm' || unit === 'min' ? n / 60 : unit === 'h' ? n / 3600 : n;
  }
  const every = /^\s*(?:every\s+)?(\d+(?:\.\d+)?\s*(?:ms|s|m|min|h))\s*$/.exec(v);
  if (every) {
    const s = parseDurationS(every[1]);
    return s !== undefined && s > 0 ? 1 / s : undefined;
  }
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

// ---------------------------------------------------------------- validation

const TOP_FIELDS = ['name', 'description', 'pattern', 'devices', 'rate', 'payload', 'duration', 'warmup', 'drain', 'timeoutMs', 'seed', 'maxMessages', 'mqtt', 'http', 'coap', 'noDelay', 'retained', '$schema', 'comment'];

function didYouMean(field: string, known: readonly string[]): string {
  const f = field.toLowerCase();
  const close = known.find((k) => k.toLowerCase() === f || (Math.abs(k.length - f.length) <= 2 && editDistance(k.toLowerCase(), f) <= 2));
  return close ? ` (did you mean '${close}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

/**
 * Validates a raw workload object (as read from JSON, overrides applied) and
 * returns the resolved workload; throws WorkloadError listing every problem.
 */
export function validateWorkload(raw: Record<string, unknown>, source = '<workload>'): Workload {
  const problems: string[] = [];
  const bad = (field: string, expected: string, got: unknown): void => {
    problems.push(`'${field}' must be ${expected}, got ${JSON.stringify(got)}`);
  };
  for (const k of Object.keys(raw)) if (!TOP_FIELDS.includes(k)) problems.push(`unknown field '${k}'${didYouMean(k, TOP_FIELDS)}`);

  const int = (field: string, v: unknown, min: number, max: number, dflt?: number): number => {
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(field, `an integer from ${min} to ${max}`, v);
    return typeof v === 'number' ? v : (dflt ?? min);
  };
  const dur = (field: string, v: unknown, min: number, max: number, dflt?: number): number => {
    if (v === undefined && dflt !== undefined) return dflt;
    const s = parseDurationS(v);
    if (s === undefined || s < min || s > max) {
      bad(field, `a duration from ${min} s to ${max} s ('30s', '500ms', '2m' or seconds)`, v);
      return dflt ?? min;
    }
    return s;
  };
  const obj = (field: string, v: unknown, known: readonly string[]): Record<string, unknown> => {
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      bad(field, 'an object', v);
      return {};
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!known.includes(k)) problems.push(`unknown field '${field}.${k}'${didYouMean(k, known)}`);
    return o;
  };

  const name = typeof raw['name'] === 'string' && raw['name'] ? raw['name'] : (bad('name', 'a non-empty string', raw['name']), 'workload');
  const description = typeof raw['description'] === 'string' ? raw['description'] : '';
  const pattern = raw['pattern'];
  if (!PATTERNS.includes(pattern as Pattern)) bad('pattern', `one of ${PATTERNS.join(', ')}`, pattern);
  const devices = int('devices', raw['devices'], 1, 10_000);
  const rate = parseRatePerS(raw['rate']);
  if (rate === undefined || rate <= 0 || rate > 100_000) bad('rate', "a rate above 0 and at most 100000/s ('2/s', '10/min', '500ms' = one every 500 ms, or a number per second)", raw['rate']);
  const payloadRaw = obj('payload', raw['payload'], ['bytes', 'format']);
  const format = payloadRaw['format'] ?? 'binary';
  if (format !== 'binary' && format !== 'json') bad('payload.format', "'binary' or 'json'", format);
  const payloadBytes = int('payload.bytes', payloadRaw['bytes'], 1, 65_000, 32);
  const durationS = dur('duration', raw['duration'], 0.1, 3600);
  const warmupS = dur('warmup', raw['warmup'], 0, 600, 1);
  const drainS = dur('drain', raw['drain'], 0, 600, 1);
  const timeoutMs = int('timeoutMs', raw['timeoutMs'], 10, 600_000, 5000);
  const seed = int('seed', raw['seed'], 0, 2 ** 31 - 1, 1);
  const maxMessages = int('maxMessages', raw['maxMessages'], 1, 100_000_000, 10_000_000);

  const mqttRaw = obj('mqtt', raw['mqtt'], ['qos', 'version', 'keepAliveS', 'transports']);
  const qos = mqttRaw['qos'] ?? 1;
  if (qos !== 0 && qos !== 1 && qos !== 2) bad('mqtt.qos', '0, 1 or 2', qos);
  const version = mqttRaw['version'] ?? '3.1.1';
  if (version !== '3.1.1' && version !== '5.0') bad('mqtt.version', "'3.1.1' or '5.0'", version);
  const keepAliveS = int('mqtt.keepAliveS', mqttRaw['keepAliveS'], 0, 65_535, 60);
  const transports = mqttRaw['transports'] ?? ['tcp'];
  const TRANSPORTS: MqttTransport[] = ['tcp', 'tls', 'ws', 'wss'];
  if (!Array.isArray(transports) || transports.length === 0 || transports.some((t) => !TRANSPORTS.includes(t as MqttTransport))) {
    bad('mqtt.transports', `a non-empty list of ${TRANSPORTS.join(', ')}`, transports);
  }
  const httpRaw = obj('http', raw['http'], ['connections', 'tls']);
  const connections = httpRaw['connections'] ?? ['keep-alive', 'new'];
  if (!Array.isArray(connections) || connections.length === 0 || connections.some((c) => c !== 'keep-alive' && c !== 'new')) {
    bad('http.connections', "a non-empty list of 'keep-alive' and 'new'", connections);
  }
  const httpTls = httpRaw['tls'] ?? false;
  if (typeof httpTls !== 'boolean') bad('http.tls', 'true or false', httpTls);
  const coapRaw = obj('coap', raw['coap'], ['confirmable']);
  const confirmable = coapRaw['confirmable'] ?? true;
  if (typeof confirmable !== 'boolean') bad('coap.confirmable', 'true or false', confirmable);
  const noDelay = raw['noDelay'] ?? true;
  if (typeof noDelay !== 'boolean') bad('noDelay', 'true or false', noDelay);

  let retained: Workload['retained'];
  if (pattern === 'retained-state' || raw['retained'] !== undefined) {
    const r = obj('retained', raw['retained'], ['component', 'configBytes', 'lateSubscriberAt']);
    const component = r['component'] ?? 'sensor';
    if (typeof component !== 'string' || !/^[a-z_]+$/.test(component)) bad('retained.component', "a Home Assistant component name such as 'sensor' (lower case, a-z and _)", component);
    retained = {
      component: String(component),
      configBytes: int('retained.configBytes', r['configBytes'], 64, 16_000, 256),
      lateSubscriberAtS: typeof r['lateSubscriberAt'] === 'string' && /^\s*\d+(\.\d+)?\s*%\s*$/.test(r['lateSubscriberAt'])
        ? (Number(r['lateSubscriberAt'].trim().slice(0, -1)) / 100) * durationS
        : dur('retained.lateSubscriberAt', r['lateSubscriberAt'], 0, 3600, 0),
    };
    if (pattern !== 'retained-state') problems.push(`'retained' is only used by pattern 'retained-state', not '${String(pattern)}'`);
    else if (retained.lateSubscriberAtS >= durationS) problems.push(`'retained.lateSubscriberAt' (${retained.lateSubscriberAtS} s) must fall inside the measured window ('duration' ${durationS} s)`);
  }

  const messagesPlanned = pattern === 'fan-out' ? (rate ?? 0) * (warmupS + durationS) : (rate ?? 0) * devices * (warmupS + durationS);
  if (problems.length === 0 && (format === 'binary' || format === 'json')) {
    const maxSeq = Math.ceil((rate ?? 1) * (warmupS + durationS)) + 1;
    const need = minPayloadBytes(format, { devices, maxSeq, spanUs: Math.ceil((warmupS + durationS + drainS) * 1e6) });
    if (payloadBytes < need) {
      problems.push(`'payload.bytes' ${payloadBytes} is too small for a ${format} reading that carries device, sequence and send times: it needs at least ${need} bytes${format === 'json' ? " (or use 'format': 'binary', which needs 14)" : ''}`);
    }
    if (messagesPlanned > maxMessages) {
      problems.push(`the schedule plans ${Math.round(messagesPlanned)} messages, more than 'maxMessages' ${maxMessages}: lower the rate, devices or duration, or raise maxMessages`);
    }
  }
  if (problems.length > 0) throw new WorkloadError(source, problems);
  return {
    name, description, pattern: pattern as Pattern, devices, ratePerS: rate!,
    payload: { bytes: payloadBytes, format: format as PayloadFormat },
    durationS, warmupS, drainS, timeoutMs, seed, maxMessages,
    mqtt: { qos: qos as 0 | 1 | 2, version: version as '3.1.1' | '5.0', keepAliveS, transports: [...new Set(transports as MqttTransport[])] },
    http: { connections: [...new Set(connections as HttpConnection[])], tls: httpTls as boolean },
    coap: { confirmable: confirmable as boolean },
    noDelay: noDelay as boolean,
    ...(retained ? { retained } : {}),
  };
}

// ---------------------------------------------------------------- CLI overrides

/** What the CLI may override; strings are parsed like the JSON fields. */
export interface WorkloadOverrides {
  devices?: string;
  rate?: string;
  payload?: string;
  payloadFormat?: string;
  duration?: string;
  warmup?: string;
  drain?: string;
  qos?: string;
  confirmable?: boolean;
  seed?: string;
  timeout?: string;
  transport?: string;
  httpConnection?: string;
  tls?: boolean;
  noDelay?: boolean;
}

/** Applies CLI overrides to a raw workload object (a copy); number fields are parsed so validation reports them under their JSON name. */
export function applyOverrides(raw: Record<string, unknown>, o: WorkloadOverrides): Record<string, unknown> {
  const out = structuredClone(raw);
  const num = (s: string): number | string => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : s);
  const sub = (k: string): Record<string, unknown> => {
    const v = out[k];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    const fresh: Record<string, unknown> = {};
    out[k] = fresh;
    return fresh;
  };
  if (o.devices !== undefined) out['devices'] = num(o.devices);
  if (o.rate !== undefined) out['rate'] = o.rate;
  if (o.payload !== undefined) sub('payload')['bytes'] = num(o.payload);
  if (o.payloadFormat !== undefined) sub('payload')['format'] = o.payloadFormat;
  if (o.duration !== undefined) out['duration'] = o.duration;
  if (o.warmup !== undefined) out['warmup'] = o.warmup;
  if (o.drain !== undefined) out['drain'] = o.drain;
  if (o.qos !== undefined) sub('mqtt')['qos'] = num(o.qos);
  if (o.transport !== undefined) sub('mqtt')['transports'] = o.transport.split(',').map((s) => s.trim());
  if (o.confirmable !== undefined) sub('coap')['confirmable'] = o.confirmable;
  if (o.seed !== undefined) out['seed'] = num(o.seed);
  if (o.timeout !== undefined) {
    const s = parseDurationS(o.timeout);
    out['timeoutMs'] = s === undefined ? o.timeout : Math.round(s * 1000);
  }
  if (o.httpConnection !== undefined) {
    sub('http')['connections'] = o.httpConnection === 'both' ? ['keep-alive', 'new'] : o.httpConnection.split(',').map((s) => s.trim());
  }
  if (o.tls !== undefined) sub('http')['tls'] = o.tls;
  if (o.noDelay !== undefined) out['noDelay'] = o.noDelay;
  return out;
}

/** Loads a workload by name or path, applies overrides, validates. */
export function resolveWorkload(nameOrPath: string, overrides: WorkloadOverrides = {}): Workload {
  const { raw, source } = loadWorkloadRaw(nameOrPath);
  return validateWorkload(applyOverrides(raw, overrides), source);
}

/** Total messages per second the schedule offers (fan-out: updates, each then delivered to every subscriber). */
export function offeredPerS(w: Workload): number {
  return w.pattern === 'fan-out' ? w.ratePerS : w.ratePerS * w.devices;
}

/** Application messages that cross the device link per scheduled message (fan-out: one per subscriber). */
export function deliveriesPerMessage(w: Workload): number {
  return w.pattern === 'fan-out' ? w.devices : 1;
}

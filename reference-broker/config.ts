/**
 * The JSON configuration file of the broker CLI (format in README.md, every
 * field in broker.example.json): validation with messages that name the
 * field, what is wrong and what was expected, and conversion to StartOptions
 * (reading PEM, password and ACL files).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { MAX_PACKET_SIZE } from '../codec/index.js';
import type { TransportKind } from './core/link.js';
import type { BrokerHooks, BrokerOptions, Logger } from './core/options.js';
import type { StartOptions, TlsMaterial } from './listeners/start.js';
import { readAclFile, type Acl } from './auth/acl-file.js';
import { composeHooks } from './auth/hooks.js';
import { readPasswordFile, type PasswordDb } from './auth/password-file.js';

/** The BrokerOptions settings a config file gives under `limits` (all but clock, logger, hooks, faults and the persistence settings). */
export type BrokerLimits = Omit<BrokerOptions, 'clock' | 'logger' | 'hooks' | 'faults' | 'dataDir' | 'fsync' | 'logCompactBytes'>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface ListenerConfig {
  host: string;
  port: number;
}

export interface TlsConfig {
  /** Paths (absolute after validation) of the PEM files. */
  key: string;
  cert: string;
  ca?: string | undefined;
  requireClientCert: boolean;
  useCertificateCN: boolean;
}

export interface BrokerConfig {
  listeners: {
    tcp?: ListenerConfig | undefined;
    tls?: (ListenerConfig & TlsConfig) | undefined;
    ws?: (ListenerConfig & { path: string }) | undefined;
    wss?: (ListenerConfig & TlsConfig & { path: string }) | undefined;
  };
  passwordFile?: string | undefined;
  aclFile?: string | undefined;
  /** As given; undefined means the default (see anonymousAllowed in auth/hooks.ts). */
  allowAnonymous?: boolean | undefined;
  limits: BrokerLimits;
  /** Folder for durable state (absolute after validation); none = in memory. */
  dataDir?: string | undefined;
  /** fsync the log before acknowledging (power-loss durability); needs dataDir. */
  fsync: boolean;
  noDelay: boolean;
  logLevel: LogLevel;
}

export const DEFAULT_PORTS = { tcp: 1883, tls: 8883, ws: 8083, wss: 8084 } as const;
export const DEFAULT_HOST = '127.0.0.1';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(issues.length === 1 ? `${source}: ${issues[0]!}` : `${source}: ${issues.length} problems:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------
// Validation

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

type Spec =
  | { kind: 'bool' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'enum'; values: readonly (string | number)[] }
  | { kind: 'string' };

const int = (min: number, max: number): Spec => ({ kind: 'int', min, max });
const BOOL: Spec = { kind: 'bool' };
const MAX_INT = 2 ** 31 - 1;

/** One entry per BrokerLimits field; the mapped type makes a missing one a compile error. */
export const LIMIT_SPECS: { readonly [K in keyof Required<BrokerLimits>]: Spec } = {
  maxQoS: { kind: 'enum', values: [0, 1, 2] },
  retainAvailable: BOOL,
  wildcardSubscriptions: BOOL,
  sharedSubscriptions: BOOL,
  subscriptionIdentifiers: BOOL,
  maxPacketSize: int(16, MAX_PACKET_SIZE),
  receiveMaximum: int(1, 65535),
  maxInflight: int(1, MAX_INT),
  maxQueuedMessages: int(0, MAX_INT),
  topicAliasMaximum: int(0, 65535),
  outboundTopicAliases: BOOL,
  maxKeepAlive: int(1, 65535),
  connectTimeoutMs: int(1, MAX_INT),
  maxSessionExpiryInterval: int(0, 0xffffffff),
  maxConnections: int(1, MAX_INT),
  maxPendingConnections: int(1, MAX_INT),
  queueHighWaterMark: int(1, MAX_INT),
  queueLowWaterMark: int(0, MAX_INT),
  maxPublisherPauseMs: int(1, MAX_INT),
  allowZeroLengthClientId: BOOL,
  checkPayloadFormat: BOOL,
  maxWriteBuffer: int(0, Number.MAX_SAFE_INTEGER),
  responseInformation: { kind: 'string' },
};

const TOP_FIELDS = ['$schema', '$comment', 'listeners', 'passwordFile', 'aclFile', 'allowAnonymous', 'limits', 'dataDir', 'fsync', 'noDelay', 'logLevel'] as const;
const LISTENER_FIELDS = { tcp: ['host', 'port'], ws: ['host', 'port', 'path'], tls: ['host', 'port', 'key', 'cert', 'ca', 'requireClientCert', 'useCertificateCN'], wss: ['host', 'port', 'path', 'key', 'cert', 'ca', 'requireClientCert', 'useCertificateCN'] } as const;
type Kind = keyof typeof LISTENER_FIELDS;
const KINDS: readonly Kind[] = ['tcp', 'tls', 'ws', 'wss'];

class Checker {
  readonly issues: string[] = [];
  constructor(private readonly baseDir: string) {}

  fail(path: string, problem: string): undefined {
    this.issues.push(`${path}: ${problem}`);
    return undefined;
  }

  object(v: unknown, path: string, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return this.fail(path || '(top level)', `expected an object, got ${show(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (allowed.includes(k)) continue;
      const near = allowed.filter((a) => !a.startsWith('$')).map((a) => [a, distance(k, a)] as const).sort((x, y) => x[1] - y[1])[0];
      const hint = near && near[1] <= 2 ? `did you mean '${near[0]}'?` : `expected one of: ${allowed.filter((a) => !a.startsWith('$')).join(', ')}`;
      this.fail(path === '' ? k : `${path}.${k}`, `unknown field (${hint})`);
    }
    return o;
  }

  check(v: unknown, path: string, spec: Spec): unknown {
    switch (spec.kind) {
      case 'bool':
        return typeof v === 'boolean' ? v : this.fail(path, `expected true or false, got ${show(v)}`);
      case 'int':
        return typeof v === 'number' && Number.isInteger(v) && v >= spec.min && v <= spec.max
          ? v
          : this.fail(path, `expected an integer from ${spec.min} to ${spec.max}, got ${show(v)}`);
      case 'enum':
        return spec.values.includes(v as string | number)
          ? v
          : this.fail(path, `expected one of ${spec.values.map((x) => JSON.stringify(x)).join(', ')}, got ${show(v)}`);
      case 'string':
        return typeof v === 'string' ? v : this.fail(path, `expected a string, got ${show(v)}`);
    }
  }

  bool(v: unknown, path: string): boolean | undefined {
    return v === undefined ? undefined : (this.check(v, path, BOOL) as boolean | undefined);
  }

  /** A non-empty path, resolved against the config file's folder. */
  file(v: unknown, path: string): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0) return this.fail(path, `expected a file path (non-empty string), got ${show(v)}`);
    return isAbsolute(v) ? v : resolve(this.baseDir, v);
  }
}

export interface ValidateOptions {
  /** Folder that relative file paths are resolved against. Default: the current directory. */
  baseDir?: string;
  /** Named in error messages (the config file path, or "command line"). */
  source?: string;
}

/** Checks a parsed JSON value and returns the configuration with defaults applied; throws ConfigError listing every problem. */
export function validateConfig(raw: unknown, o: ValidateOptions = {}): BrokerConfig {
  const c = new Checker(o.baseDir ?? process.cwd());
  const source = o.source ?? 'configuration';
  const top = c.object(raw, '', TOP_FIELDS);
  if (!top) throw new ConfigError(source, c.issues);
  const config: BrokerConfig = { listeners: {}, limits: {}, fsync: false, noDelay: true, logLevel: 'info' };

  // listeners
  const rawListeners = top.listeners === undefined ? { tcp: {} } : top.listeners;
  const ls = c.object(rawListeners, 'listeners', KINDS);
  if (ls) {
    for (const kind of KINDS) {
      const v = ls[kind];
      if (v === undefined || v === false) continue;
      const path = `listeners.${kind}`;
      if (v === true) { c.fail(path, `expected an object such as {"port": ${DEFAULT_PORTS[kind]}} to enable the listener, or false, got true`); continue; }
      const l = c.object(v, path, LISTENER_FIELDS[kind]);
      if (!l) continue;
      let host = DEFAULT_HOST;
      if (l.host !== undefined) {
        if (typeof l.host === 'string' && l.host.length > 0) host = l.host;
        else c.fail(`${path}.host`, `expected a host name or IP address to listen on, got ${show(l.host)}`);
      }
      const port = (l.port === undefined ? DEFAULT_PORTS[kind] : c.check(l.port, `${path}.port`, int(0, 65535))) as number | undefined;
      let wsPath = '/mqtt';
      if ((kind === 'ws' || kind === 'wss') && l.path !== undefined) {
        if (typeof l.path === 'string' && l.path.startsWith('/')) wsPath = l.path;
        else c.fail(`${path}.path`, `expected a URL path starting with '/', got ${show(l.path)}`);
      }
      let tls: TlsConfig | undefined;
      if (kind === 'tls' || kind === 'wss') {
        const key = c.file(l.key, `${path}.key`);
        const cert = c.file(l.cert, `${path}.cert`);
        const ca = c.file(l.ca, `${path}.ca`);
        const requireClientCert = c.bool(l.requireClientCert, `${path}.requireClientCert`) ?? false;
        const useCertificateCN = c.bool(l.useCertificateCN, `${path}.useCertificateCN`) ?? false;
        if (l.key === undefined) c.fail(`${path}.key`, 'a TLS listener needs the server private key (PEM file path; CLI: --key)');
        if (l.cert === undefined) c.fail(`${path}.cert`, 'a TLS listener needs the server certificate (PEM file path; CLI: --cert)');
        if (requireClientCert && l.ca === undefined) c.fail(`${path}.ca`, 'requireClientCert needs the CA bundle that client certificates must chain to (PEM file path; CLI: --ca)');
        if (useCertificateCN && !requireClientCert) c.fail(`${path}.useCertificateCN`, 'needs requireClientCert: true (client certificates are only requested and verified then)');
        if (key !== undefined && cert !== undefined) tls = { key, cert, ca, requireClientCert, useCertificateCN };
      }
      if (port === undefined) continue;
      if (kind === 'tcp') config.listeners.tcp = { host, port };
      else if (kind === 'ws') config.listeners.ws = { host, port, path: wsPath };
      else if (tls && kind === 'tls') config.listeners.tls = { host, port, ...tls };
      else if (tls && kind === 'wss') config.listeners.wss = { host, port, path: wsPath, ...tls };
    }
    if (KINDS.every((k) => ls[k] === undefined || ls[k] === false)) c.fail('listeners', 'no listener is enabled; expected at least one of tcp, tls, ws, wss');
  }

  config.passwordFile = c.file(top.passwordFile, 'passwordFile');
  config.aclFile = c.file(top.aclFile, 'aclFile');
  config.allowAnonymous = c.bool(top.allowAnonymous, 'allowAnonymous');
  const certIdentity = [config.listeners.tls, config.listeners.wss].some((l) => l?.useCertificateCN);
  if (config.allowAnonymous === false && config.passwordFile === undefined && !certIdentity && top.passwordFile === undefined) {
    c.fail('allowAnonymous', 'is false but there is no passwordFile and no listener with useCertificateCN, so no client could log in');
  }

  if (top.limits !== undefined) {
    const limits = c.object(top.limits, 'limits', Object.keys(LIMIT_SPECS));
    if (limits) {
      for (const [k, spec] of Object.entries(LIMIT_SPECS) as [keyof BrokerLimits, Spec][]) {
        if (limits[k] === undefined) continue;
        const v = c.check(limits[k], `limits.${k}`, spec);
        if (v !== undefined) (config.limits as Record<string, unknown>)[k] = v;
      }
    }
  }
  const lim = config.limits;
  if (lim.queueHighWaterMark !== undefined && lim.queueLowWaterMark !== undefined && lim.queueLowWaterMark >= lim.queueHighWaterMark) {
    c.fail('limits.queueLowWaterMark', `must be below limits.queueHighWaterMark (${lim.queueHighWaterMark}), got ${lim.queueLowWaterMark}`);
  }
  config.dataDir = c.file(top.dataDir, 'dataDir');
  config.fsync = c.bool(top.fsync, 'fsync') ?? false;
  if (config.fsync && top.dataDir === undefined) c.fail('fsync', 'needs dataDir (a folder for the persistent state; CLI: --data-dir)');
  config.noDelay = c.bool(top.noDelay, 'noDelay') ?? true;
  if (top.logLevel !== undefined) config.logLevel = (c.check(top.logLevel, 'logLevel', { kind: 'enum', values: LOG_LEVELS }) as LogLevel | undefined) ?? 'info';

  if (c.issues.length > 0) throw new ConfigError(source, c.issues);
  return config;
}

/** JSON.parse with the file name, line and column in the error. */
export function parseConfigText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
    }
    throw new ConfigError(source, [`not valid JSON${where}: ${msg}`]);
  }
}

/** Reads, parses and validates a config file; relative paths in it are resolved against its folder. */
export function readConfigFile(file: string): BrokerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [`cannot read the config file: ${(e as Error).message}`]);
  }
  return validateConfig(parseConfigText(text, file), { baseDir: dirname(resolve(file)), source: file });
}

/** Whether clients without a user name are accepted: allowAnonymous, by default true only without passwordFile and useCertificateCN. */
export function effectiveAllowAnonymous(config: BrokerConfig): boolean {
  const certIdentity = [config.listeners.tls, config.listeners.wss].some((l) => l?.useCertificateCN);
  return config.allowAnonymous ?? (config.passwordFile === undefined && !certIdentity);
}

// ---------------------------------------------------------------------------
// Conversion

export interface LoadedConfig {
  options: StartOptions;
  passwords: PasswordDb | undefined;
  acl: Acl | undefined;
}

/**
 * Reads the files a validated config names (PEM, password file, ACL file) and
 * builds StartOptions. `logger` and user `hooks` are added (the hooks are
 * composed with the password file, certificate identity and ACL).
 */
export function loadConfig(config: BrokerConfig, extra: { logger?: Logger; hooks?: BrokerHooks; source?: string } = {}): LoadedConfig {
  const issues: string[] = [];
  const read = (path: string, field: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (e) {
      issues.push(`${field}: cannot read ${JSON.stringify(path)}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const material = (t: TlsConfig, field: string): TlsMaterial | undefined => {
    const key = read(t.key, `${field}.key`);
    const cert = read(t.cert, `${field}.cert`);
    const ca = t.ca !== undefined ? read(t.ca, `${field}.ca`) : undefined;
    if (!key || !cert || (t.ca !== undefined && !ca)) return undefined;
    try {
      createSecureContext({ key, cert, ca });
    } catch (e) {
      issues.push(`${field}: the key, certificate and CA files do not load together: ${(e as Error).message}`);
      return undefined;
    }
    return { key, cert, ca, requireClientCert: t.requireClientCert };
  };

  const { tcp, tls, ws, wss } = config.listeners;
  const options: StartOptions = {
    ...config.limits,
    noDelay: config.noDelay,
    ...(config.dataDir !== undefined ? { dataDir: config.dataDir, fsync: config.fsync } : {}),
    tcp: tcp ? { host: tcp.host, port: tcp.port } : false,
    ws: ws ? { host: ws.host, port: ws.port, path: ws.path } : false,
    tls: false,
    wss: false,
  };
  if (tls) {
    const m = material(tls, 'listeners.tls');
    if (m) options.tls = { host: tls.host, port: tls.port, ...m };
  }
  if (wss) {
    const m = material(wss, 'listeners.wss');
    if (m) options.wss = { host: wss.host, port: wss.port, path: wss.path, ...m };
  }

  let passwords: PasswordDb | undefined;
  if (config.passwordFile !== undefined) {
    try { passwords = readPasswordFile(config.passwordFile); } catch (e) { issues.push(`passwordFile: ${(e as Error).message}`); }
  }
  let acl: Acl | undefined;
  if (config.aclFile !== undefined) {
    try { acl = readAclFile(config.aclFile); } catch (e) { issues.push(`aclFile: ${(e as Error).message}`); }
  }
  if (issues.length > 0) throw new ConfigError(extra.source ?? 'configuration', issues);

  const transports: TransportKind[] = [];
  if (tls?.useCertificateCN) transports.push('tls');
  if (wss?.useCertificateCN) transports.push('wss');
  options.hooks = composeHooks({
    passwords, acl, allowAnonymous: config.allowAnonymous,
    certificateIdentity: transports.length > 0 ? { transports } : undefined,
    hooks: extra.hooks,
  });
  if (extra.logger) options.logger = extra.logger;
  return { options, passwords, acl };
}

/**
 * `mqtt-testbed broker`: runs the reference broker from a JSON config file
 * and/or flags (flags win), logs key=value lines to stderr, prints one bound
 * URL per line to stdout, and shuts down gracefully on SIGINT / SIGTERM.
 * Exit codes: 0 after a signal, 1 when a listener cannot start, 2 for bad
 * flags or configuration.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, DEFAULT_PORTS, effectiveAllowAnonymous, LOG_LEVELS, loadConfig, parseConfigText, validateConfig } from '../reference-broker/config.js';
import { startBroker, type RunningBroker } from '../reference-broker/index.js';
import { lineLogger } from './log.js';
import { parseCommandArgs, UsageError, type CliIo } from './io.js';

export const BROKER_USAGE = `mqtt-testbed broker [options]

  --config FILE            JSON config file (see reference-broker/README.md); flags below override it
  --host HOST              address every listener binds to (default 127.0.0.1)
  --port N                 plain TCP listener (default 1883 when no listener is configured)
  --tls-port N             TLS listener (needs --cert and --key)
  --ws-port N              WebSocket listener (path /mqtt)
  --wss-port N             secure WebSocket listener (needs --cert and --key)
  --cert FILE --key FILE   server certificate and key (PEM) for the TLS and WSS listeners
  --ca FILE                CA bundle that client certificates must chain to
  --require-client-cert    mutual TLS: require a verified client certificate
  --use-certificate-cn     mutual TLS: the client certificate's CN is the user name
  --password-file FILE     users and scrypt hashes (create with: mqtt-testbed passwd)
  --acl-file FILE          topic ACL (deny by default once given)
  --allow-anonymous        accept clients without a user name
  --data-dir DIR           keep retained messages, sessions, subscriptions, queued and in-flight
                           messages and Wills in DIR: they survive a restart and a kill -9
  --fsync                  with --data-dir: fsync before acknowledging (survives power loss; slower)
  --log-level LEVEL        debug | info | warn | error | silent (default info)
Port 0 picks a free port; the bound URLs are printed to stdout, one per line.`;

const OPTIONS = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'tls-port': { type: 'string' },
  'ws-port': { type: 'string' },
  'wss-port': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  'require-client-cert': { type: 'boolean' },
  'use-certificate-cn': { type: 'boolean' },
  'password-file': { type: 'string' },
  'acl-file': { type: 'string' },
  'allow-anonymous': { type: 'boolean' },
  'data-dir': { type: 'string' },
  fsync: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type BrokerFlags = ReturnType<typeof parseBrokerFlags>;

export function parseBrokerFlags(argv: string[]) {
  return parseCommandArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }).values;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function portFlag(v: string, flag: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new UsageError(`${flag}: expected a port number from 0 to 65535, got '${v}'`);
  return Number(v);
}

/**
 * Applies flags to the raw (unvalidated) config object. Paths from flags are
 * resolved against `cwd`. Listener flags replace the default listener: with
 * only --tls-port, only TLS listens.
 */
export function applyBrokerFlags(raw: unknown, f: BrokerFlags, cwd: string): Json {
  const out: Json = isObject(raw) ? structuredClone(raw) : {};
  const path = (p: string): string => resolve(cwd, p);
  const ports: [keyof typeof DEFAULT_PORTS, string | undefined, string][] = [
    ['tcp', f.port, '--port'], ['tls', f['tls-port'], '--tls-port'], ['ws', f['ws-port'], '--ws-port'], ['wss', f['wss-port'], '--wss-port'],
  ];
  if (ports.some(([, v]) => v !== undefined)) {
    const listeners: Json = isObject(out.listeners) ? out.listeners : {};
    for (const [kind, v, flag] of ports) {
      if (v === undefined) continue;
      const existing = listeners[kind];
      listeners[kind] = { ...(isObject(existing) ? existing : {}), port: portFlag(v, flag) };
    }
    out.listeners = listeners;
  }
  if (f.host !== undefined) {
    if (out.listeners === undefined) out.listeners = { tcp: { port: DEFAULT_PORTS.tcp } };
    if (isObject(out.listeners)) {
      for (const l of Object.values(out.listeners)) if (isObject(l)) l.host = f.host;
    }
  }
  const tlsFlags: [string, unknown][] = [
    ['cert', f.cert !== undefined ? path(f.cert) : undefined], ['key', f.key !== undefined ? path(f.key) : undefined],
    ['ca', f.ca !== undefined ? path(f.ca) : undefined],
    ['requireClientCert', f['require-client-cert']], ['useCertificateCN', f['use-certificate-cn']],
  ];
  const given = tlsFlags.filter(([, v]) => v !== undefined);
  if (given.length > 0) {
    const secure = isObject(out.listeners) ? [out.listeners.tls, out.listeners.wss].filter(isObject) : [];
    if (secure.length === 0) throw new UsageError('--cert, --key, --ca, --require-client-cert and --use-certificate-cn need a TLS listener (--tls-port or --wss-port, or one in the config file)');
    for (const l of secure) for (const [k, v] of given) l[k] = v;
  }
  if (f['password-file'] !== undefined) out.passwordFile = path(f['password-file']);
  if (f['acl-file'] !== undefined) out.aclFile = path(f['acl-file']);
  if (f['allow-anonymous'] !== undefined) out.allowAnonymous = f['allow-anonymous'];
  if (f['data-dir'] !== undefined) out.dataDir = path(f['data-dir']);
  if (f.fsync !== undefined) out.fsync = f.fsync;
  if (f['log-level'] !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(f['log-level'])) throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got '${f['log-level']}'`);
    out.logLevel = f['log-level'];
  }
  return out;
}

/** Waits for SIGINT or SIGTERM; returns the signal's name. */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const on = (s: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolveSignal(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export async function brokerCommand(argv: string[], io: CliIo): Promise<number> {
  const flags = parseBrokerFlags(argv);
  if (flags.help) {
    io.stdout.write(`${BROKER_USAGE}\n`);
    return 0;
  }
  let raw: unknown = {};
  let baseDir = io.cwd;
  let source = 'command line';
  if (flags.config !== undefined) {
    const file = resolve(io.cwd, flags.config);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(flags.config, [`cannot read the config file: ${(e as Error).message}`]);
    }
    raw = parseConfigText(text, flags.config);
    baseDir = dirname(file);
    source = flags.config;
  }
  const config = validateConfig(applyBrokerFlags(raw, flags, io.cwd), { baseDir, source });
  const logger = lineLogger(config.logLevel, io.stderr);
  const { options } = loadConfig(config, { logger, source });
  logger.info('starting broker', {
    config: flags.config !== undefined ? resolve(io.cwd, flags.config) : undefined,
    passwordFile: config.passwordFile, aclFile: config.aclFile,
    allowAnonymous: effectiveAllowAnonymous(config), dataDir: config.dataDir, fsync: config.dataDir !== undefined ? config.fsync : undefined,
  });
  // Listen for signals before the listeners open, so an early SIGTERM still shuts down cleanly.
  const signal = nextSignal();
  let running: RunningBroker;
  try {
    running = await startBroker(options);
  } catch (e) {
    logger.error('cannot start broker', { error: (e as Error).message });
    return 1;
  }
  for (const l of running.listeners) io.stdout.write(`${l.url}\n`);
  logger.info('broker ready', { urls: running.listeners.map((l) => l.url).join(',') });
  logger.info('shutting down', { signal: await signal });
  // A second signal while closing means "now".
  void nextSignal().then((s) => {
    logger.warn('second signal, exiting at once', { signal: s });
    process.exit(1);
  });
  await running.close();
  const stats = running.broker.stats;
  logger.info('broker stopped', { messagesIn: stats.messagesIn, denied: stats.denied, dropped: stats.dropped, refused: stats.refused, throttled: stats.throttled });
  return 0;
}

/**
 * Launches the reference broker in-process as a suite target: TCP, TLS with
 * mutual TLS (client certificate CN becomes the user name), WebSocket and
 * secure WebSocket, a password file, and an ACL that makes the security
 * claims of its profile true. Returns the target and a close() that stops
 * everything it started.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  composeHooks, generateDevCerts, hashPassword, parseAclFile, parsePasswordFile, startBroker,
  type BrokerOptions, type DevCertFiles, type Logger,
} from '../../reference-broker/index.js';
import type { Profile } from '../profile.js';
import type { LaunchedTarget } from '../target.js';

/** Users and passwords of the reference target's roles. */
const USERS = { tester: 'tester-secret', sensor: 'sensor-secret', admin: 'admin-secret' } as const;

/** The ACL the reference target enforces (our grammar, reference-broker/README.md). */
const ACL = `
# suites use mqtt-testbed/… for everything except the ACL claims
user tester
topic readwrite #
topic readwrite $SYS/#
user admin
topic readwrite #
user sensor
topic readwrite sensors/#
topic deny device/#
`;

const CLAIMS: NonNullable<Profile['acl']> = [
  { role: 'sensor', action: 'publish', topic: 'sensors/room1/temperature', expect: 'allow' },
  { role: 'sensor', action: 'publish', topic: 'device/firmware/update', expect: 'deny' },
  { role: 'sensor', action: 'subscribe', topic: 'sensors/#', expect: 'allow' },
  { role: 'sensor', action: 'subscribe', topic: 'device/firmware/#', expect: 'deny' },
  { role: 'admin', action: 'publish', topic: 'device/firmware/update', expect: 'allow' },
];

/** Certificates shared by every launch (created once, atomically, so parallel workers agree). */
function certificates(): DevCertFiles {
  const dir = join(tmpdir(), 'mqtt-testbed-certs-v1');
  const clients = ['tester', 'sensor', 'admin'];
  try {
    return generateDevCerts(dir, { clients });
  } catch {
    // Another process may be half-way: build privately, then move into place.
    const tmp = `${dir}.${process.pid}.${Date.now()}`;
    generateDevCerts(tmp, { clients });
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
    return generateDevCerts(dir, { clients });
  }
}

export interface ReferenceLaunchOptions {
  logger?: Logger;
  /** Extra broker options (limits, faults for self-checks); the profile states them. */
  broker?: BrokerOptions;
  /** Profile name (default 'reference'). */
  name?: string;
}

/**
 * A reference broker with every optional capability turned off or limited, so
 * the statements about refusing what a broker does not support get exercised
 * (zero-length client ids refused, Maximum QoS 1, no retain, no wildcards, no
 * shared subscriptions or subscription identifiers, Server Keep Alive).
 */
export const LIMITED_REFERENCE: BrokerOptions = {
  maxQoS: 1, retainAvailable: false, allowZeroLengthClientId: false, wildcardSubscriptions: false,
  sharedSubscriptions: false, subscriptionIdentifiers: false, maxKeepAlive: 2,
};

export async function launchReference(opts: ReferenceLaunchOptions = {}): Promise<LaunchedTarget> {
  const certs = certificates();
  const users = await Promise.all(Object.entries(USERS).map(async ([u, pw]) => `${u}:${await hashPassword(pw)}`));
  const hooks = composeHooks({
    passwords: parsePasswordFile(users.join('\n'), 'reference users'),
    certificateIdentity: true,
    allowAnonymous: false,
    acl: parseAclFile(ACL, 'reference ACL'),
  });
  const { readFileSync } = await import('node:fs');
  const material = { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.caCert) };
  const running = await startBroker({
    ...opts.broker,
    logger: opts.logger,
    hooks,
    tcp: { port: 0 },
    tls: { port: 0, ...material, requireClientCert: true },
    ws: { port: 0 },
    wss: { port: 0, ...material },
  });
  const role = (name: keyof typeof USERS) => ({
    username: name, password: USERS[name],
    cert: certs.clients[name]!.cert, key: certs.clients[name]!.key,
  });
  const o = running.broker.opts;
  const profile: Profile = {
    name: opts.name ?? 'reference',
    description: 'mqtt-testbed reference broker, launched in-process',
    protocolVersions: ['3.1.1', '5.0'],
    maxQoS: o.maxQoS, retain: o.retainAvailable, wildcardSubscriptions: o.wildcardSubscriptions,
    sharedSubscriptions: o.sharedSubscriptions, subscriptionIdentifiers: o.subscriptionIdentifiers,
    zeroLengthClientId: o.allowZeroLengthClientId, persistentSessions: true, anonymous: false,
    limits: {
      maxPacketSize: o.maxPacketSize, receiveMaximum: o.receiveMaximum, topicAliasMaximum: o.topicAliasMaximum,
      ...(o.maxKeepAlive !== undefined ? { keepAlive: { max: o.maxKeepAlive } } : {}),
    },
    topicPrefix: 'mqtt-testbed/',
    credentials: { default: role('tester'), tester: role('tester'), sensor: role('sensor'), admin: role('admin') },
    tls: { ca: certs.caCert },
    listeners: { tcp: running.url('tcp'), tls: running.url('tls'), ws: running.url('ws'), wss: running.url('wss') },
    mutualTls: true,
    acl: CLAIMS,
  };
  return {
    target: { url: running.url('tcp'), profile, profileSource: 'launched: reference', baseDir: '/' },
    broker: running.broker,
    close: () => running.close(),
  };
}

/** Writes the reference profile (with file paths) for people who want to run the suites by URL. */
export function writeProfile(file: string, profile: Profile): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(profile, null, 2)}\n`);
}

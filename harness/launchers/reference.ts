/**
 * Launches the reference broker in-process as a suite target: TCP, TLS with
 * mutual TLS (client certificate CN becomes the user name), WebSocket and
 * secure WebSocket, a password file, and an ACL that makes the security
 * claims of its profile true. Returns the target and a close() that stops
 * everything it started.
 */
import { readFileSync } from 'node:fs';
import {
  composeHooks, hashPassword, parseAclFile, parseFaults, parsePasswordFile, startBroker, type BrokerOptions, type FaultName, type Logger,
} from '../../reference-broker/index.js';
import type { Profile } from '../profile.js';
import type { LaunchedTarget } from '../target.js';
import { devCertificates } from './child-process.js';
import { ACL_CLAIMS, ACL_TEXT, ROLE_PASSWORDS, roleCredentials } from './security-fixture.js';

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

/**
 * REFERENCE_FAULTS=name[,name]: the launch options of the reference broker
 * with those faults on (suite self-check, `mqtt-testbed selftest`), named
 * `<name>+fault:<faults>` so that results say which broker they are about.
 * Throws UnknownFaultError (listing the valid names) for a name that is not a fault.
 */
export function withFaults(base: ReferenceLaunchOptions, faults: string | undefined): ReferenceLaunchOptions {
  const names: FaultName[] = faults === undefined ? [] : parseFaults(faults);
  if (names.length === 0) return base;
  return { ...base, broker: { ...base.broker, faults: names }, name: faultTargetName(base.name ?? 'reference', names) };
}

/** `reference+fault:qos2-duplicate`: the target name of a broker with faults. */
export function faultTargetName(base: string, faults: readonly string[]): string {
  return `${base}+fault:${faults.join(',')}`;
}

export async function launchReference(opts: ReferenceLaunchOptions = {}): Promise<LaunchedTarget> {
  const certs = devCertificates();
  // A test fixture: a light scrypt cost (N=1024) keeps hundreds of concurrent CONNECTs fast on a
  // loaded 2-core machine; production password files use the default (N=16384).
  const users = await Promise.all(Object.entries(ROLE_PASSWORDS).map(async ([u, pw]) => `${u}:${await hashPassword(pw, { N: 1024, r: 8, p: 1 })}`));
  const hooks = composeHooks({
    passwords: parsePasswordFile(users.join('\n'), 'reference users'),
    certificateIdentity: true,
    allowAnonymous: false,
    acl: parseAclFile(ACL_TEXT, 'reference ACL'),
  });
  const material = { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.caCert) };
  const running = await startBroker({
    // Declared limits that suites/limits.test.ts checks; small enough to check quickly, far above
    // what any other suite needs from its own per-file broker.
    connectTimeoutMs: 2000,
    maxConnections: 400,
    ...opts.broker,
    logger: opts.logger,
    hooks,
    tcp: { port: 0 },
    tls: { port: 0, ...material, requireClientCert: true },
    ws: { port: 0 },
    wss: { port: 0, ...material },
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
      ...(o.maxConnections !== undefined ? { connectionLimit: o.maxConnections } : {}),
      connectTimeoutMs: o.connectTimeoutMs,
    },
    topicPrefix: 'mqtt-testbed/',
    credentials: roleCredentials(certs),
    tls: { ca: certs.caCert },
    listeners: { tcp: running.url('tcp'), tls: running.url('tls'), ws: running.url('ws'), wss: running.url('wss') },
    mutualTls: true,
    acl: [...ACL_CLAIMS],
  };
  return {
    target: { url: running.url('tcp'), profile, profileSource: 'launched: reference', baseDir: '/' },
    broker: running.broker,
    close: () => running.close(),
  };
}

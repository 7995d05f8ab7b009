/**
 * A broker profile: what a broker offers and what it claims, so suites test
 * what applies and skip, with the reason, what the broker says it lacks.
 * Anything left out is probed (harness/probe.ts) and the probed value recorded.
 */
import type { QoS } from '../codec/index.js';

export type SpecVersionName = '3.1.1' | '5.0';

/** Credentials for a named role (e.g. 'admin', 'sensor'). Paths are relative to the profile file. */
export interface RoleCredentials {
  username?: string;
  password?: string;
  /** Client id the role must use (brokers that bind identity to the client id). */
  clientId?: string;
  /** PEM client certificate and key for mutual TLS. */
  cert?: string;
  key?: string;
}

/** One claim of the broker's ACL, tried both ways by the security suite. */
export interface AclClaim {
  role: string;
  action: 'publish' | 'subscribe';
  /** Topic (publish) or filter (subscribe). */
  topic: string;
  expect: 'allow' | 'deny';
}

export interface ProfileLimits {
  /** Largest packet the broker accepts, bytes. */
  maxPacketSize?: number;
  /** 5.0 Receive Maximum the broker announces. */
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  /** Keep Alive range the broker accepts (seconds); `max` may be imposed as 5.0 Server Keep Alive. */
  keepAlive?: { min?: number; max?: number };
  maxTopicLength?: number;
  maxTopicLevels?: number;
  maxPayloadSize?: number;
  maxClientIdLength?: number;
  /** Upper bound the broker applies to 5.0 Session Expiry Interval, seconds. */
  maxSessionExpiryInterval?: number;
  /** Largest number of simultaneous connections the suites may open. */
  maxConnections?: number;
  /** The broker refuses connections beyond this many (its own configured limit, not a budget for the suites). */
  connectionLimit?: number;
  /** The broker closes a connection that has sent no complete CONNECT within this many ms (slowloris defence). */
  connectTimeoutMs?: number;
}

export interface Profile {
  name: string;
  description?: string;
  /** Where the limits and claims come from (documentation URL, config file). */
  source?: string;
  /** Where this broker usually listens (e.g. mqtt://127.0.0.1:1883); BROKER_URL, when set, wins. */
  url?: string;
  protocolVersions: SpecVersionName[];
  maxQoS?: QoS;
  retain?: boolean;
  wildcardSubscriptions?: boolean;
  sharedSubscriptions?: boolean;
  subscriptionIdentifiers?: boolean;
  /** The broker accepts a zero-length client id (and assigns one in 5.0). */
  zeroLengthClientId?: boolean;
  /** The broker keeps sessions for Clean Session 0 / Session Expiry > 0. */
  persistentSessions?: boolean;
  /** Connections without credentials are accepted. */
  anonymous?: boolean;
  limits?: ProfileLimits;
  /** Topics the suites may use: every test topic starts with this prefix (default 'mqtt-testbed/'). `{clientId}` is replaced. */
  topicPrefix?: string;
  /** Client ids the suites may use: every one starts with this prefix. */
  clientIdPrefix?: string;
  /** Named roles with credentials. 'default' is used when a test needs no particular role. */
  credentials?: Record<string, RoleCredentials>;
  /** TLS settings towards the broker. Paths relative to the profile file. */
  tls?: { ca?: string; servername?: string; rejectUnauthorized?: boolean };
  /** Extra listeners of the same broker, as URLs (e.g. { tls: 'mqtts://host:8883' }). */
  listeners?: Partial<Record<'tcp' | 'tls' | 'ws' | 'wss', string>>;
  /** Mutual TLS: the TLS listener refuses clients without a certificate from the profile's CA. */
  mutualTls?: boolean;
  /** ACL claims, tried both ways. */
  acl?: AclClaim[];
  /** Statement ids this broker is known to fail (for the gate's expectations), with why. */
  knownFailures?: Record<string, string>;
}

/** Capability names tests may require; each maps to a profile field. */
export type Capability =
  | 'v3.1.1' | 'v5.0' | 'qos1' | 'qos2' | 'retain' | 'wildcards' | 'shared' | 'subscriptionIds'
  | 'zeroLengthClientId' | 'persistentSessions' | 'tls' | 'ws' | 'wss' | 'mutualTls' | 'auth' | 'acl';

/** Why a capability is absent from `p`, or undefined when present (or not stated: then tests run and observe). */
export function missingCapability(p: Profile, c: Capability): string | undefined {
  const no = (what: string): string => `profile '${p.name}' says: ${what}`;
  switch (c) {
    case 'v3.1.1': return p.protocolVersions.includes('3.1.1') ? undefined : no('no MQTT 3.1.1');
    case 'v5.0': return p.protocolVersions.includes('5.0') ? undefined : no('no MQTT 5.0');
    case 'qos1': return p.maxQoS !== undefined && p.maxQoS < 1 ? no(`maximum QoS ${p.maxQoS}`) : undefined;
    case 'qos2': return p.maxQoS !== undefined && p.maxQoS < 2 ? no(`maximum QoS ${p.maxQoS}`) : undefined;
    case 'retain': return p.retain === false ? no('no retained messages') : undefined;
    case 'wildcards': return p.wildcardSubscriptions === false ? no('no wildcard subscriptions') : undefined;
    case 'shared': return p.sharedSubscriptions === false ? no('no shared subscriptions') : undefined;
    case 'subscriptionIds': return p.subscriptionIdentifiers === false ? no('no subscription identifiers') : undefined;
    case 'zeroLengthClientId': return p.zeroLengthClientId === false ? no('zero-length client ids are refused') : undefined;
    case 'persistentSessions': return p.persistentSessions === false ? no('no persistent sessions') : undefined;
    case 'tls': return p.listeners?.tls ? undefined : `profile '${p.name}' names no TLS listener`;
    case 'ws': return p.listeners?.ws ? undefined : `profile '${p.name}' names no WebSocket listener`;
    case 'wss': return p.listeners?.wss ? undefined : `profile '${p.name}' names no secure WebSocket listener`;
    case 'mutualTls': return p.mutualTls ? undefined : `profile '${p.name}' claims no mutual TLS`;
    case 'auth': return p.anonymous !== false ? `profile '${p.name}' claims no authentication (anonymous access)` : undefined;
    case 'acl': return p.acl && p.acl.length > 0 ? undefined : `profile '${p.name}' claims no ACL`;
  }
}

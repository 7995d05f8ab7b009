/**
 * Capability probe: fills the fields a profile leaves out by asking the
 * broker, and says how each value was found. It reads the 5.0 CONNACK
 * properties, tries a zero-length client id, an anonymous CONNECT, a QoS 2
 * SUBSCRIBE, a retained round trip, a wildcard SUBSCRIBE and a session that
 * should survive a reconnect — only for fields the profile does not state.
 *
 * Bounded: every wait has a timeout (default 2000 ms) and the whole probe a
 * budget (default 3000 ms). A broker that does not answer, closes early or
 * sends garbage yields values like { value: 'unknown', how: 'no CONNACK
 * within 2000 ms' }, never an exception.
 */
import { randomBytes } from 'node:crypto';
import type { ConnackPacket, ConnectPacket, ProtocolVersion, QoS } from '../codec/index.js';
import type { Profile, SpecVersionName } from './profile.js';
import { RawClient, WaitError } from './raw-client.js';
import type { Recorder } from './recorder.js';
import { roleCredentials, tlsOptions, type Target } from './target.js';

export interface ProbedValue {
  value: unknown;
  how: string;
}

/** Probed values by profile field path ('maxQoS', 'limits.receiveMaximum', ...). */
export type Probed = Record<string, ProbedValue>;

export interface ProbeOptions {
  /** Upper bound on the whole probe, ms. Default 3000. */
  budgetMs?: number;
  /** Upper bound on each wait (connect, CONNACK, SUBACK, ...), ms. Default 2000. */
  stepTimeoutMs?: number;
  /** Also find out which protocol versions the broker accepts (for profiles that only guessed them). */
  versions?: boolean;
  /** Credentials role to connect as. Default 'default'. */
  role?: string;
  /** Records the probe's packets (for debugging). */
  recorder?: Recorder;
}

export interface ProbeResult {
  /** The target's profile with every field the probe could determine filled in. */
  profile: Profile;
  /** Every value the probe looked for, found or not, with how. */
  probed: Probed;
}

/** Field paths the probe can fill, in report order. */
export const PROBE_FIELDS = [
  'protocolVersions', 'anonymous', 'maxQoS', 'retain', 'wildcardSubscriptions', 'sharedSubscriptions', 'subscriptionIdentifiers',
  'zeroLengthClientId', 'persistentSessions', 'limits.maxPacketSize', 'limits.receiveMaximum', 'limits.topicAliasMaximum', 'limits.keepAlive.max',
] as const;
export type ProbeField = (typeof PROBE_FIELDS)[number];

const V5_FIELDS: readonly ProbeField[] = [
  'maxQoS', 'retain', 'wildcardSubscriptions', 'sharedSubscriptions', 'subscriptionIdentifiers',
  'limits.maxPacketSize', 'limits.receiveMaximum', 'limits.topicAliasMaximum', 'limits.keepAlive.max',
];

/** Fields the SUBSCRIBE step can find out over either version. */
const SUBSCRIBE_FIELDS: readonly ProbeField[] = ['maxQoS', 'retain', 'wildcardSubscriptions'];

function isStated(p: Profile, f: ProbeField): boolean {
  switch (f) {
    case 'protocolVersions': return true;
    case 'limits.maxPacketSize': return p.limits?.maxPacketSize !== undefined;
    case 'limits.receiveMaximum': return p.limits?.receiveMaximum !== undefined;
    case 'limits.topicAliasMaximum': return p.limits?.topicAliasMaximum !== undefined;
    case 'limits.keepAlive.max': return p.limits?.keepAlive?.max !== undefined;
    default: return p[f] !== undefined;
  }
}

function apply(p: Profile, f: ProbeField, value: unknown): void {
  const limits = (): NonNullable<Profile['limits']> => (p.limits ??= {});
  switch (f) {
    case 'protocolVersions': p.protocolVersions = value as SpecVersionName[]; break;
    case 'maxQoS': p.maxQoS = value as QoS; break;
    case 'limits.maxPacketSize': limits().maxPacketSize = value as number; break;
    case 'limits.receiveMaximum': limits().receiveMaximum = value as number; break;
    case 'limits.topicAliasMaximum': limits().topicAliasMaximum = value as number; break;
    case 'limits.keepAlive.max': limits().keepAlive = { ...limits().keepAlive, max: value as number }; break;
    default: p[f] = value as boolean;
  }
}

const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** What went wrong, in a few words, for `how`. */
function failure(e: unknown): string {
  if (e instanceof WaitError) {
    switch (e.failure) {
      case 'timeout': return `no ${e.awaited} within ${/within (\d+) ms/.exec(e.message)?.[1] ?? '?'} ms`;
      case 'closed': return `the broker closed the connection while the probe waited for ${e.awaited}`;
      case 'bad-bytes': return `the broker sent bytes that are not MQTT (waiting for ${e.awaited}): ${e.message.replace(/^.*?: waiting for [^:]+: /, '')}`;
      default: return e.message;
    }
  }
  return e instanceof Error ? e.message : String(e);
}

class BudgetExhausted extends Error {}

/**
 * Probes `target` for the fields its profile leaves out. Never throws for
 * broker behaviour; each field not determined is recorded as 'unknown' with why.
 */
export async function probeCapabilities(target: Target, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const budgetMs = opts.budgetMs ?? 3000;
  const stepMs = opts.stepTimeoutMs ?? 2000;
  const deadline = Date.now() + budgetMs;
  const profile: Profile = structuredClone(target.profile);
  const stated = target.profile;
  const wanted = new Set<ProbeField>(PROBE_FIELDS.filter((f) => (f === 'protocolVersions' ? opts.versions === true : !isStated(stated, f))));
  const found = new Map<ProbeField, ProbedValue>();
  const why = new Map<ProbeField, string>();
  /** Found out, but nothing to put in the profile (e.g. no limit announced). */
  const noted = new Map<ProbeField, ProbedValue>();
  const clients = new Set<RawClient>();
  const role = opts.role ?? 'default';
  const cred = roleCredentials(target, role);
  const secure = /^(mqtts|ssl|tls|wss):/.test(target.url);
  const run = randomBytes(3).toString('hex');

  const set = (f: ProbeField, value: unknown, how: string): void => {
    if (!wanted.has(f) || found.has(f)) return;
    found.set(f, { value, how });
  };
  /** Why `fields` are still undetermined; reasons from several attempts are joined. */
  const miss = (fields: readonly ProbeField[], reason: string): void => {
    for (const f of fields) {
      if (!wanted.has(f) || found.has(f)) continue;
      const before = why.get(f);
      if (before === undefined) why.set(f, reason);
      else if (!before.split('; ').includes(reason)) why.set(f, `${before}; ${reason}`);
    }
  };
  const remaining = (): number => Math.max(0, deadline - Date.now());
  const timeout = (): number => {
    const t = Math.min(stepMs, remaining());
    if (t <= 0) throw new BudgetExhausted(`probe time budget of ${budgetMs} ms used up`);
    return t;
  };
  const clientId = (tag: string): string => cred?.clientId ?? `${stated.clientIdPrefix ?? 'mtb'}pr${run}${tag}`.slice(0, 23);
  const topicBase = (): string => `${(stated.topicPrefix ?? 'mqtt-testbed/').replaceAll('{clientId}', clientId('t'))}probe-${run}`;

  async function open(version: ProtocolVersion, label: string): Promise<RawClient> {
    const t = timeout();
    try {
      const c = await RawClient.open(target.url, {
        version, label: `probe-${label}`, recorder: opts.recorder, timeoutMs: t,
        tls: secure ? tlsOptions(target, role, true) : undefined,
      });
      clients.add(c);
      return c;
    } catch (e) {
      throw new Error(`could not open ${target.url.replace(/\/\/[^@/]*@/, '//')}: ${(e as Error).message.replace(/^.*?failed: /, '')}`);
    }
  }

  async function connect(version: ProtocolVersion, label: string, o: Partial<Omit<ConnectPacket, 'type' | 'protocolVersion'>> & { anonymous?: boolean } = {}): Promise<{ client: RawClient; connack: ConnackPacket }> {
    const client = await open(version, label);
    const { anonymous, ...rest } = o;
    const p: Omit<ConnectPacket, 'type' | 'protocolVersion'> = { clean: true, keepAlive: 60, clientId: clientId(label), ...rest };
    if (!anonymous && cred?.username !== undefined) p.username = cred.username;
    if (!anonymous && cred?.password !== undefined) p.password = Buffer.from(cred.password);
    const connack = await client.connect(p, timeout());
    return { client, connack };
  }

  const versionLabel = (v: ProtocolVersion): string => (v === 5 ? '5.0' : '3.1.1');
  const listed = (v: ProtocolVersion): boolean => opts.versions === true || stated.protocolVersions.includes(versionLabel(v) as SpecVersionName);
  const accepted = new Map<ProtocolVersion, { ok: boolean; how: string }>();

  /** 5.0 CONNECT: the CONNACK properties say most of what the profile may leave out. */
  async function probeV5(): Promise<void> {
    const v5fields = V5_FIELDS.filter((f) => wanted.has(f));
    if (!listed(5)) {
      // maxQoS, retain and wildcards are tried over 3.1.1 later; the rest only a 5.0 CONNACK says.
      miss(v5fields.filter((f) => !SUBSCRIBE_FIELDS.includes(f)), 'not probed: the profile does not list MQTT 5.0 (3.1.1 brokers announce nothing)');
      return;
    }
    if (v5fields.length === 0 && !wanted.has('protocolVersions')) return;
    let connack: ConnackPacket;
    try {
      ({ connack } = await connect(5, 'v5', { keepAlive: 65535 }));
    } catch (e) {
      const reason = `5.0 CONNECT: ${failure(e)}`;
      accepted.set(5, { ok: false, how: reason });
      miss(v5fields, reason);
      return;
    }
    if (connack.reasonCode !== 0) {
      const reason = `5.0 CONNECT refused: CONNACK ${hex(connack.reasonCode)}${connack.properties?.reasonString ? ` (${connack.properties.reasonString})` : ''}`;
      accepted.set(5, { ok: false, how: reason });
      miss(v5fields, reason);
      return;
    }
    accepted.set(5, { ok: true, how: '5.0 CONNECT got CONNACK 0x00' });
    const pr = connack.properties ?? {};
    const prop = (name: string, value: number | undefined, dflt: string): string =>
      value !== undefined ? `5.0 CONNACK property ${name} = ${value}` : `5.0 CONNACK has no ${name} property (${dflt})`;
    set('maxQoS', (pr.maximumQoS ?? 2) as QoS, prop('Maximum QoS', pr.maximumQoS, 'spec default 2'));
    set('retain', (pr.retainAvailable ?? 1) === 1, prop('Retain Available', pr.retainAvailable, 'spec default: available'));
    set('wildcardSubscriptions', (pr.wildcardSubscriptionAvailable ?? 1) === 1, prop('Wildcard Subscription Available', pr.wildcardSubscriptionAvailable, 'spec default: available'));
    set('subscriptionIdentifiers', (pr.subscriptionIdentifierAvailable ?? 1) === 1, prop('Subscription Identifier Available', pr.subscriptionIdentifierAvailable, 'spec default: available'));
    set('sharedSubscriptions', (pr.sharedSubscriptionAvailable ?? 1) === 1, prop('Shared Subscription Available', pr.sharedSubscriptionAvailable, 'spec default: available'));
    set('limits.receiveMaximum', pr.receiveMaximum ?? 65535, prop('Receive Maximum', pr.receiveMaximum, 'spec default 65535'));
    set('limits.topicAliasMaximum', pr.topicAliasMaximum ?? 0, prop('Topic Alias Maximum', pr.topicAliasMaximum, 'spec default 0: no aliases'));
    if (pr.maximumPacketSize !== undefined) set('limits.maxPacketSize', pr.maximumPacketSize, prop('Maximum Packet Size', pr.maximumPacketSize, ''));
    else if (wanted.has('limits.maxPacketSize')) noted.set('limits.maxPacketSize', { value: 'none announced', how: '5.0 CONNACK has no Maximum Packet Size property: no limit beyond the protocol limit (the profile field stays unset)' });
    set('limits.keepAlive.max', pr.serverKeepAlive ?? 65535, pr.serverKeepAlive !== undefined
      ? `5.0 CONNECT with Keep Alive 65535 got Server Keep Alive ${pr.serverKeepAlive}`
      : '5.0 CONNECT with Keep Alive 65535 was accepted without Server Keep Alive');
  }

  /** 3.1.1 CONNECT: does the broker accept it at all (only when versions are being probed). */
  async function probeV4(): Promise<void> {
    if (!wanted.has('protocolVersions')) return;
    try {
      const { connack } = await connect(4, 'v4');
      accepted.set(4, connack.reasonCode === 0
        ? { ok: true, how: '3.1.1 CONNECT got CONNACK 0' }
        : { ok: false, how: `3.1.1 CONNECT refused: CONNACK return code ${connack.reasonCode}` });
    } catch (e) {
      accepted.set(4, { ok: false, how: `3.1.1 CONNECT: ${failure(e)}` });
    }
  }

  /** The version later steps use: 3.1.1 when listed and not known to fail, else 5.0. */
  const stepVersion = (): ProtocolVersion => {
    if (listed(4) && accepted.get(4)?.ok !== false) return 4;
    if (listed(5) && accepted.get(5)?.ok !== false) return 5;
    return listed(4) ? 4 : 5;
  };

  async function probeZeroLengthClientId(): Promise<void> {
    if (!wanted.has('zeroLengthClientId')) return;
    if (cred?.clientId) {
      miss(['zeroLengthClientId'], `not probed: role '${role}' must use client id '${cred.clientId}'`);
      return;
    }
    const v: ProtocolVersion = listed(5) ? 5 : 4;
    try {
      const { connack } = await connect(v, 'z', { clientId: '' });
      const name = versionLabel(v);
      if (connack.reasonCode === 0) {
        const assigned = connack.properties?.assignedClientIdentifier;
        set('zeroLengthClientId', true, `${name} CONNECT with a zero-length client id got CONNACK 0${assigned !== undefined ? ` and Assigned Client Identifier '${assigned}'` : ''}`);
      } else if ((v === 5 && connack.reasonCode === 0x85) || (v === 4 && connack.reasonCode === 2)) {
        set('zeroLengthClientId', false, `${name} CONNECT with a zero-length client id was refused: CONNACK ${hex(connack.reasonCode)} (client identifier not valid)`);
      } else {
        miss(['zeroLengthClientId'], `${name} CONNECT with a zero-length client id got CONNACK ${hex(connack.reasonCode)}, which does not say`);
      }
    } catch (e) {
      miss(['zeroLengthClientId'], `CONNECT with a zero-length client id: ${failure(e)}`);
    }
  }

  async function probeAnonymous(): Promise<void> {
    if (!wanted.has('anonymous')) return;
    const v: ProtocolVersion = listed(4) ? 4 : 5;
    try {
      const { connack } = await connect(v, 'a', { anonymous: true });
      const name = versionLabel(v);
      if (connack.reasonCode === 0) set('anonymous', true, `${name} CONNECT without user name or password got CONNACK 0`);
      else if ([4, 5, 0x86, 0x87].includes(connack.reasonCode)) set('anonymous', false, `${name} CONNECT without user name or password was refused: CONNACK ${hex(connack.reasonCode)}`);
      else miss(['anonymous'], `${name} CONNECT without credentials got CONNACK ${hex(connack.reasonCode)}, which does not say`);
    } catch (e) {
      miss(['anonymous'], `CONNECT without credentials: ${failure(e)}`);
    }
  }

  /** QoS 2 SUBSCRIBE (granted QoS), retained round trip, wildcard SUBSCRIBE — on one connection. */
  async function probeSubscribe(): Promise<void> {
    const fields: ProbeField[] = SUBSCRIBE_FIELDS.filter((f) => wanted.has(f) && !found.has(f));
    if (fields.length === 0) return;
    const v = stepVersion();
    const name = versionLabel(v);
    let client: RawClient;
    try {
      const r = await connect(v, 's');
      if (r.connack.reasonCode !== 0) {
        miss(fields, `${name} CONNECT refused: CONNACK ${hex(r.connack.reasonCode)}`);
        return;
      }
      client = r.client;
    } catch (e) {
      miss(fields, `${name} CONNECT: ${failure(e)}`);
      return;
    }
    const base = topicBase();
    let packetId = 1;
    const subscribe = async (filter: string, qos: QoS): Promise<number> => {
      const id = packetId++;
      client.send({ type: 'subscribe', packetId: id, subscriptions: [{ topicFilter: filter, qos }] });
      const ack = await client.expect('suback', { timeoutMs: timeout(), where: (p) => p.packetId === id, what: `SUBACK to SUBSCRIBE ${filter}` });
      return ack.reasonCodes[0] ?? 0x80;
    };
    if (fields.includes('maxQoS')) {
      try {
        const code = await subscribe(`${base}/q2`, 2);
        if (code <= 2) set('maxQoS', code as QoS, `${name} SUBSCRIBE with QoS 2 was granted QoS ${code}`);
        else miss(['maxQoS'], `${name} SUBSCRIBE with QoS 2 was refused: SUBACK ${hex(code)}`);
      } catch (e) {
        miss(['maxQoS'], `${name} SUBSCRIBE with QoS 2: ${failure(e)}`);
        if (client.closed) { miss(fields, `the broker closed the connection after a QoS 2 SUBSCRIBE`); return; }
      }
    }
    if (fields.includes('wildcardSubscriptions')) {
      try {
        const code = await subscribe(`${base}/w/+`, 0);
        set('wildcardSubscriptions', code < 0x80, `${name} SUBSCRIBE to '…/w/+' got SUBACK ${hex(code)}`);
      } catch (e) {
        miss(['wildcardSubscriptions'], `${name} SUBSCRIBE with a wildcard: ${failure(e)}`);
        if (client.closed) { miss(fields, 'the broker closed the connection after a wildcard SUBSCRIBE'); return; }
      }
    }
    if (fields.includes('retain')) {
      const topic = `${base}/r`;
      const qos: QoS = (profile.maxQoS ?? 1) >= 1 ? 1 : 0;
      try {
        client.send({ type: 'publish', topic, payload: Buffer.from('probe'), qos, retain: true, dup: false, ...(qos ? { packetId: 100 } : {}) });
        if (qos) await client.expect('puback', { timeoutMs: timeout(), where: (p) => p.packetId === 100, what: 'PUBACK to the retained PUBLISH' });
        const code = await subscribe(topic, 0);
        if (code >= 0x80) {
          miss(['retain'], `${name} SUBSCRIBE to the retained topic was refused: SUBACK ${hex(code)}`);
        } else {
          const wait = Math.min(750, timeout());
          try {
            const p = await client.expect('publish', { timeoutMs: wait, where: (m) => m.topic === topic, what: 'the retained message' });
            set('retain', true, `retained ${name} PUBLISH (QoS ${qos}) came back on SUBSCRIBE${p.retain ? ' with RETAIN 1' : ', but with RETAIN 0'}`);
          } catch (e) {
            if (e instanceof WaitError && e.failure === 'timeout') set('retain', false, `retained ${name} PUBLISH (QoS ${qos}) was not delivered within ${wait} ms of a new SUBSCRIBE`);
            else throw e;
          }
        }
        client.send({ type: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }); // clear it
      } catch (e) {
        if (client.closed && !(e instanceof BudgetExhausted)) set('retain', false, `the broker closed the connection after a ${name} PUBLISH with RETAIN 1 (${failure(e)})`);
        else miss(['retain'], `retained round trip: ${failure(e)}`);
      }
    }
    client.disconnect();
  }

  /** A session that should outlive a DISCONNECT: reconnect with Clean Session 0 / Clean Start 0 and read Session Present. */
  async function probeSession(): Promise<void> {
    if (!wanted.has('persistentSessions')) return;
    const v = stepVersion();
    const name = versionLabel(v);
    const id = clientId('p');
    const props = v === 5 ? { properties: { sessionExpiryInterval: 60 } } : {};
    try {
      const first = await connect(v, 'p1', { clientId: id, clean: v === 5, ...props }); // 3.1.1: Clean Session 0 makes the session persistent
      if (first.connack.reasonCode !== 0) { miss(['persistentSessions'], `${name} CONNECT refused: CONNACK ${hex(first.connack.reasonCode)}`); return; }
      first.client.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: `${topicBase()}/s`, qos: 0 }] });
      await first.client.expect('suback', { timeoutMs: timeout() });
      first.client.disconnect();
      await first.client.expectClose(timeout()).catch(() => undefined);
      const second = await connect(v, 'p2', { clientId: id, clean: false, ...props });
      if (second.connack.reasonCode !== 0) { miss(['persistentSessions'], `${name} reconnect with clean 0 refused: CONNACK ${hex(second.connack.reasonCode)}`); return; }
      set('persistentSessions', second.connack.sessionPresent, `${name} reconnect with ${v === 5 ? 'Clean Start 0 (Session Expiry 60 s)' : 'Clean Session 0'} got Session Present ${second.connack.sessionPresent ? 1 : 0}`);
      second.client.disconnect();
      // Leave no session behind.
      const last = await connect(v, 'p3', { clientId: id, clean: true, ...(v === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}) });
      last.client.disconnect();
    } catch (e) {
      miss(['persistentSessions'], `session probe: ${failure(e)}`);
    }
  }

  const sequential = cred?.clientId !== undefined; // one client id: parallel connections would take each other over
  const phase = async (steps: (() => Promise<void>)[]): Promise<void> => {
    if (sequential) for (const s of steps) await s().catch(() => undefined);
    else await Promise.allSettled(steps.map((s) => s()));
  };
  let budgetTimer: NodeJS.Timeout | undefined;
  const work = (async () => {
    await phase([probeV5, probeV4, probeZeroLengthClientId, probeAnonymous]);
    await phase([probeSubscribe, probeSession]);
  })();
  await Promise.race([
    work.catch(() => undefined),
    new Promise<void>((resolve) => { budgetTimer = setTimeout(resolve, budgetMs + 50); }),
  ]);
  clearTimeout(budgetTimer);
  for (const c of clients) c.destroy();

  if (wanted.has('protocolVersions')) {
    const ok = ([4, 5] as const).filter((v) => accepted.get(v)?.ok).map(versionLabel) as SpecVersionName[];
    const hows = ([4, 5] as const).map((v) => accepted.get(v)?.how ?? `${versionLabel(v)}: no answer within the probe budget`).join('; ');
    if (ok.length > 0) set('protocolVersions', ok, hows);
    else miss(['protocolVersions'], `no version was accepted (${hows}); the profile's list is kept`);
  }
  const probed: Probed = {};
  for (const f of PROBE_FIELDS) {
    if (!wanted.has(f)) continue;
    const hit = found.get(f);
    const note = noted.get(f);
    if (hit) {
      probed[f] = hit;
      apply(profile, f, hit.value);
    } else if (note) {
      probed[f] = note;
    } else {
      probed[f] = { value: 'unknown', how: why.get(f) ?? `probe time budget of ${budgetMs} ms used up` };
    }
  }
  return { profile, probed };
}

/** One line per probed value, for logs. */
export function formatProbed(probed: Probed): string {
  return Object.entries(probed).map(([k, v]) => `${k} = ${JSON.stringify(v.value)} (${v.how})`).join('\n');
}

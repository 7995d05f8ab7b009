/**
 * What a conformance test body works with: the target, its own topic and
 * client-id namespace, raw clients that record into the test's trace, and
 * checks that name the statement they verify.
 */
import { randomBytes } from 'node:crypto';
import type { ConnackPacket, ConnectPacket, Packet, PacketOf, ProtocolVersion } from '../../codec/index.js';
import type { Capability } from '../../harness/profile.js';
import { missingCapability } from '../../harness/profile.js';
import { RawClient, WaitError, describe } from '../../harness/raw-client.js';
import { Recorder } from '../../harness/recorder.js';
import { listenerUrl, roleCredentials, tlsOptions, type Target } from '../../harness/target.js';

/** A check that failed: the broker broke `statement`. */
export class StatementFailure extends Error {
  override readonly name = 'StatementFailure';
  constructor(readonly statement: string | undefined, message: string) {
    super(statement ? `[${statement}] ${message}` : message);
  }
}

/** Thrown to end a test early as skipped, with the reason. */
export class SkipTest extends Error {
  override readonly name = 'SkipTest';
}

export type Listener = 'tcp' | 'tls' | 'ws' | 'wss';

export interface OpenOptions {
  /** Credentials role from the profile (default 'default'). */
  role?: string;
  listener?: Listener;
  version?: ProtocolVersion;
  /** Present the role's client certificate on TLS listeners (default true). */
  clientCert?: boolean;
  timeoutMs?: number;
}

export interface ConnectOptions extends OpenOptions {
  clientId?: string;
  clean?: boolean;
  keepAlive?: number;
  will?: ConnectPacket['will'];
  properties?: ConnectPacket['properties'];
  /** Override the role's user name / password (undefined keeps the role's; null sends none). */
  username?: string | null;
  password?: Buffer | null;
  /** Fail the test unless CONNACK is a success (default true). */
  expectSuccess?: boolean;
}

const DEFAULT_TIMEOUT = Number(process.env['SUITE_TIMEOUT_MS'] ?? 3000);

export class ConformanceContext {
  readonly recorder = new Recorder();
  /** Short unique id of this test run, used in topics and client ids. */
  readonly id = randomBytes(5).toString('hex');
  private readonly clients: RawClient[] = [];
  private findings: string[] = [];
  readonly timeoutMs = DEFAULT_TIMEOUT;

  constructor(
    readonly target: Target,
    readonly version: ProtocolVersion,
    readonly statements: readonly string[],
  ) {}

  get profile() {
    return this.target.profile;
  }

  get specVersion(): '3.1.1' | '5.0' {
    return this.version === 5 ? '5.0' : '3.1.1';
  }

  /** A topic unique to this test: `<prefix><id>/<name>`. */
  topic(name = 't'): string {
    const prefix = (this.profile.topicPrefix ?? 'mqtt-testbed/').replaceAll('{clientId}', this.clientId('x'));
    return `${prefix}${this.id}/${name}`;
  }

  /** A client id unique to this test (short: brokers must accept 1–23 alphanumerics [MQTT-3.1.3-5]). */
  clientId(name = 'c'): string {
    const prefix = this.profile.clientIdPrefix ?? 'mtb';
    return `${prefix}${this.id}${name.replace(/[^0-9a-zA-Z]/g, '')}`.slice(0, Math.max(23, prefix.length + 12));
  }

  /** Skips this test unless the profile has `capability`. */
  requires(...capabilities: Capability[]): void {
    for (const c of capabilities) {
      const why = missingCapability(this.profile, c);
      if (why) throw new SkipTest(why);
    }
  }

  skip(reason: string): never {
    throw new SkipTest(reason);
  }

  /** Opens a transport (no CONNECT yet). */
  async open(label: string, o: OpenOptions = {}): Promise<RawClient> {
    const listener = o.listener ?? 'tcp';
    const url = listenerUrl(this.target, listener);
    if (!url) throw new SkipTest(`profile '${this.profile.name}' names no ${listener} listener`);
    const secure = url.startsWith('mqtts:') || url.startsWith('wss:') || url.startsWith('ssl:') || url.startsWith('tls:');
    const client = await RawClient.open(url, {
      version: o.version ?? this.version,
      label,
      recorder: this.recorder,
      tls: secure ? tlsOptions(this.target, o.role ?? 'default', o.clientCert ?? true) : undefined,
      timeoutMs: o.timeoutMs ?? this.timeoutMs,
    });
    this.clients.push(client);
    return client;
  }

  /** Opens and connects as a role; by default fails the test unless CONNACK is a success. */
  async connect(label: string, o: ConnectOptions = {}): Promise<{ client: RawClient; connack: ConnackPacket }> {
    const client = await this.open(label, o);
    const cred = roleCredentials(this.target, o.role ?? 'default');
    const username = o.username === null ? undefined : (o.username ?? cred?.username);
    const password = o.password === null ? undefined : (o.password ?? (cred?.password !== undefined ? Buffer.from(cred.password) : undefined));
    const packet: Omit<ConnectPacket, 'type' | 'protocolVersion'> = {
      clean: o.clean ?? true,
      keepAlive: o.keepAlive ?? 0,
      clientId: o.clientId ?? this.clientId(label),
    };
    if (username !== undefined) packet.username = username;
    if (password !== undefined) packet.password = password;
    if (o.will) packet.will = o.will;
    if (o.properties) packet.properties = o.properties;
    let connack: ConnackPacket;
    try {
      connack = await client.connect(packet);
    } catch (e) {
      if (e instanceof WaitError) throw new StatementFailure(this.version === 5 ? 'MQTT-3.1.4-5' : 'MQTT-3.2.0-1', `no CONNACK for ${label}: ${e.message}`);
      throw e;
    }
    if ((o.expectSuccess ?? true) && connack.reasonCode !== 0) {
      throw new StatementFailure(undefined, `${label} was refused: CONNACK code 0x${connack.reasonCode.toString(16)} (check the profile's credentials)`);
    }
    return { client, connack };
  }

  /**
   * Connects announcing the smallest Maximum Packet Size in `sizes` the broker can work with: a
   * broker whose CONNACK itself would exceed it cannot answer [MQTT-3.1.2-24] and closes, so the
   * next size is tried. Returns the size in force.
   */
  async connectSmall(label: string, o: ConnectOptions = {}, sizes: readonly number[] = [16, 24, 32, 48, 64, 96, 128]): Promise<{ client: RawClient; connack: ConnackPacket; max: number }> {
    let last: unknown;
    for (const max of sizes) {
      try {
        const r = await this.connect(label, { ...o, properties: { ...o.properties, maximumPacketSize: max } });
        return { ...r, max };
      } catch (e) {
        if (!(e instanceof StatementFailure) || !/connection closed/.test(e.message)) throw e;
        this.recorder.event(label, 'retry', `no CONNACK with Maximum Packet Size ${max}; trying a larger one`);
        last = e;
      }
    }
    throw last instanceof Error ? last : new Error(`no CONNACK with any Maximum Packet Size of ${sizes.join(', ')}`);
  }

  /** Connects a client and subscribes it; fails unless the SUBACK grants every filter. */
  async subscriber(label: string, filters: string | { topicFilter: string; qos: 0 | 1 | 2 }[], o: ConnectOptions & { qos?: 0 | 1 | 2 } = {}): Promise<RawClient> {
    const { client } = await this.connect(label, o);
    const subs = typeof filters === 'string' ? [{ topicFilter: filters, qos: o.qos ?? 0 }] : filters;
    client.send({ type: 'subscribe', packetId: 1, subscriptions: subs });
    const ack = await this.expect(client, 'suback', 'MQTT-3.8.4-1');
    this.check(ack.reasonCodes.every((c) => c < 0x80), undefined, `SUBSCRIBE of ${subs.map((s) => s.topicFilter).join(', ')} refused: ${describe(ack)}`);
    return client;
  }

  /** Waits for a packet the spec requires; a timeout or close fails `statement`. */
  async expect<T extends Packet['type']>(client: RawClient, type: T, statement: string | undefined, o: { where?: (p: PacketOf<T>) => boolean; what?: string; timeoutMs?: number } = {}): Promise<PacketOf<T>> {
    try {
      return await client.expect(type, o);
    } catch (e) {
      if (e instanceof WaitError) throw this.waitFailure(client, statement, e);
      throw e;
    }
  }

  /** Waits for the broker to close `client`; failing to close within the timeout fails `statement`. */
  async expectClosed(client: RawClient, statement: string | undefined, timeoutMs = this.timeoutMs) {
    try {
      return await client.expectClose(timeoutMs);
    } catch (e) {
      if (e instanceof WaitError) throw this.waitFailure(client, statement, e);
      throw e;
    }
  }

  /** Fails `statement` if `client` receives a (matching) packet within `ms`. */
  async expectNothing(client: RawClient, ms: number, statement: string | undefined, match?: (p: Packet) => boolean, what?: string): Promise<void> {
    try {
      await client.expectNothing(ms, match, what);
    } catch (e) {
      if (e instanceof WaitError) throw this.waitFailure(client, statement, e);
      throw e;
    }
  }

  /**
   * A failed wait as a statement failure. Undecodable bytes from the broker break the statement the
   * codec names (e.g. MQTT-1.5.3-2 for U+0000 in a topic), not the one the test was waiting to check.
   */
  private waitFailure(client: RawClient, statement: string | undefined, e: WaitError): StatementFailure {
    if (e.failure === 'bad-bytes' && client.badBytes) {
      return new StatementFailure(client.badBytes.statement ?? statement, `the broker sent bytes that do not decode (${client.badBytes.message}) while ${e.awaited} was awaited`);
    }
    return new StatementFailure(statement, e.message);
  }

  check(condition: boolean, statement: string | undefined, message: string): void {
    if (!condition) throw new StatementFailure(statement, message);
  }

  fail(statement: string | undefined, message: string): never {
    throw new StatementFailure(statement, message);
  }

  /** Records something worth reporting that is not a statement failure (SHOULD-level, ambiguity, oddity). */
  finding(message: string): void {
    this.findings.push(message);
    this.recorder.event('-', 'finding', message);
  }

  get findingsList(): readonly string[] {
    return this.findings;
  }

  private seedValue: number | undefined;
  private counterexampleValue: string | undefined;

  /** Property tests: records the seed that replays this run (copied to the results meta). */
  seed(seed: number): void {
    this.seedValue = seed;
    this.recorder.event('-', 'seed', String(seed));
  }

  /** Property tests: records the shrunk counterexample, readable (copied to the results meta). */
  counterexample(text: string): void {
    this.counterexampleValue = text;
  }

  get recordedSeed(): number | undefined {
    return this.seedValue;
  }

  get recordedCounterexample(): string | undefined {
    return this.counterexampleValue;
  }

  private readonly cleanups: (() => void)[] = [];

  /** Runs `fn` when the test ends (for connections opened other than by open()/connect()). */
  onCleanup(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Closes every client the test opened. */
  cleanup(): void {
    for (const c of this.clients) c.destroy();
    for (const f of this.cleanups.splice(0)) {
      try {
        f();
      } catch {
        // cleanup is best effort
      }
    }
  }
}

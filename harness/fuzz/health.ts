/**
 * Is the broker still serving well-behaved clients while it is being fuzzed?
 * A control client (its own connection) does QoS 1 PUBLISH → PUBACK → the
 * PUBLISH back through its own subscription, over and over; every round trip
 * must complete within a bound. Sentinels (one idle, valid connection per
 * protocol version) answer a PINGREQ every second. A control client or a
 * sentinel that is closed was closed because of another client's bytes.
 *
 * The control topic starts with '$' so that fuzz cases subscribed to '#'
 * never receive it [MQTT-4.7.2-1]: a fuzz subscriber that reads slowly could
 * otherwise make the broker pause the control client as a publisher feeding
 * it, which is the broker's back-pressure working, not a failure.
 */
import type { ProtocolVersion } from '../../codec/index.js';
import { RawClient, WaitError } from '../raw-client.js';
import type { TlsClientOptions } from '../transport.js';

export type HealthFailureKind = 'control-connect' | 'control-timeout' | 'control-closed' | 'sentinel-closed' | 'sentinel-timeout';

export interface HealthFailure {
  kind: HealthFailureKind;
  detail: string;
  /** performance.now() when it was noticed. */
  at: number;
}

export interface HealthOptions {
  url: string;
  versions: readonly ProtocolVersion[];
  /** Bound of every control round trip and sentinel ping, ms. */
  timeoutMs: number;
  /** Pause between control round trips, ms. Default 100. */
  intervalMs?: number;
  /** Unique per run: client ids and the control topic carry it. */
  tag: string;
  tls?: TlsClientOptions | undefined;
  username?: string | undefined;
  password?: string | undefined;
}

/** The control client or a sentinel could not even connect. */
export class HealthStartError extends Error {
  override readonly name = 'HealthStartError';
  readonly code = 'FUZZ_CONTROL_CONNECT';
}

export class Health {
  /** Control round-trip times, ms. */
  readonly rtts: number[] = [];
  failure: HealthFailure | undefined;
  /** performance.now() at the start of the last control round trip that completed. */
  lastOkAt = performance.now();
  onFailure: ((f: HealthFailure) => void) | undefined;
  private stopped = false;
  private seq = 0;
  private busy: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly topic: string;

  private constructor(
    private readonly o: HealthOptions,
    private readonly control: RawClient,
    private readonly sentinels: RawClient[],
  ) {
    this.topic = `$fuzz/control/${o.tag}`;
  }

  static async start(o: HealthOptions): Promise<Health> {
    const clients: RawClient[] = [];
    const open = async (version: ProtocolVersion, label: string): Promise<RawClient> => {
      let c: RawClient;
      try {
        c = await RawClient.open(o.url, { version, label, tls: o.tls, timeoutMs: o.timeoutMs });
      } catch (e) {
        throw new HealthStartError(`${label}: ${(e as Error).message}`);
      }
      clients.push(c);
      const ack = await c.connect({ clientId: `fuzz-${label}-${o.tag}`, clean: true, keepAlive: 0, username: o.username, password: o.password !== undefined ? Buffer.from(o.password) : undefined }, o.timeoutMs)
        .catch((e: unknown) => { throw new HealthStartError(`${label}: no CONNACK: ${(e as Error).message}`); });
      if (ack.reasonCode !== 0) throw new HealthStartError(`${label}: CONNACK 0x${ack.reasonCode.toString(16)}`);
      return c;
    };
    try {
      const version = o.versions.includes(5) ? 5 : 4;
      const control = await open(version, 'control');
      const sentinels = await Promise.all(o.versions.map((v) => open(v, `sentinel${v}`)));
      const h = new Health(o, control, sentinels);
      control.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: h.topic, qos: 1 }] });
      const suback = await control.expect('suback', { timeoutMs: o.timeoutMs }).catch((e: unknown) => { throw new HealthStartError(`control: no SUBACK: ${(e as Error).message}`); });
      if ((suback.reasonCodes[0] ?? 0x80) >= 0x80) throw new HealthStartError(`control: SUBACK 0x${suback.reasonCodes[0]!.toString(16)} for ${h.topic}`);
      await h.roundTrip();
      if (h.failure) throw new HealthStartError(h.failure.detail);
      h.loop();
      return h;
    } catch (e) {
      for (const c of clients) c.destroy();
      throw e;
    }
  }

  /** One control round trip and a ping of every sentinel, now; the failure, if any. */
  async check(): Promise<HealthFailure | undefined> {
    if (this.failure) return this.failure;
    await this.roundTrip();
    if (!this.failure) await Promise.all(this.sentinels.map((s) => this.ping(s)));
    return this.failure;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const c of [this.control, ...this.sentinels]) c.destroy();
  }

  private loop(): void {
    const interval = this.o.intervalMs ?? 100;
    const control = async (): Promise<void> => {
      if (this.stopped || this.failure) return;
      await this.roundTrip();
      if (!this.stopped && !this.failure) this.timers[0] = setTimeout(() => void control(), interval);
    };
    const ping = async (): Promise<void> => {
      if (this.stopped || this.failure) return;
      await Promise.all(this.sentinels.map((s) => this.ping(s)));
      if (!this.stopped && !this.failure) this.timers[1] = setTimeout(() => void ping(), 1000);
    };
    this.timers[0] = setTimeout(() => void control(), interval);
    this.timers[1] = setTimeout(() => void ping(), 1000);
  }

  private fail(kind: HealthFailureKind, detail: string): void {
    if (this.failure || this.stopped) return;
    this.failure = { kind, detail, at: performance.now() };
    this.onFailure?.(this.failure);
  }

  /** PUBLISH QoS 1 to the control topic; PUBACK and the PUBLISH back must both arrive in time. Serialized with check(). */
  private roundTrip(): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.failure || this.stopped) return;
      const c = this.control;
      const seq = ++this.seq;
      const packetId = (seq % 0xfffe) + 1;
      const payload = `rt-${seq}`;
      const t0 = performance.now();
      try {
        c.send({ type: 'publish', topic: this.topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, packetId });
        const [, echo] = await Promise.all([
          c.expect('puback', { timeoutMs: this.o.timeoutMs, where: (p) => p.packetId === packetId }),
          c.expect('publish', { timeoutMs: this.o.timeoutMs, where: (p) => p.payload.toString() === payload }),
        ]);
        if (echo.packetId !== undefined) c.send(c.version === 5 ? { type: 'puback', packetId: echo.packetId, reasonCode: 0 } : { type: 'puback', packetId: echo.packetId });
        this.rtts.push(performance.now() - t0);
        this.lastOkAt = t0;
      } catch (e) {
        const closed = e instanceof WaitError && e.failure === 'closed';
        this.fail(closed ? 'control-closed' : 'control-timeout', closed
          ? `the control client's connection was closed: ${e.message}`
          : `control round trip ${seq} (QoS 1 PUBLISH, PUBACK, PUBLISH back) not done within ${this.o.timeoutMs} ms: ${(e as Error).message}`);
      }
    };
    const next = this.busy.then(run);
    this.busy = next;
    return next;
  }

  private async ping(s: RawClient): Promise<void> {
    if (this.failure || this.stopped) return;
    try {
      s.send({ type: 'pingreq' });
      await s.expect('pingresp', { timeoutMs: this.o.timeoutMs });
    } catch (e) {
      const closed = e instanceof WaitError && e.failure === 'closed';
      this.fail(closed ? 'sentinel-closed' : 'sentinel-timeout', closed
        ? `the idle ${s.label} connection was closed: ${e.message}`
        : `the idle ${s.label} connection got no PINGRESP within ${this.o.timeoutMs} ms`);
    }
  }
}

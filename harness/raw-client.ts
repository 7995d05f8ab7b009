/**
 * A client that speaks exact packets or exact bytes, for conformance tests.
 * It never hides what the broker does: every packet in either direction is
 * recorded, and every wait is event-driven with a timeout that fails with
 * what was awaited and what arrived instead.
 */
import {
  Decoder, encode, isMqttCodecError, type ConnackPacket, type ConnectPacket, type DisconnectPacket,
  type MqttCodecError, type Packet, type PacketOf, type ProtocolVersion,
} from '../codec/index.js';
import type { Recorder } from './recorder.js';
import { openStream, parseBrokerUrl, type Stream, type TlsClientOptions } from './transport.js';

export type WaitFailure = 'timeout' | 'closed' | 'bad-bytes' | 'unexpected';

/** A wait that did not end as hoped. Suites turn these into failures or findings. */
export class WaitError extends Error {
  override readonly name = 'WaitError';
  constructor(
    readonly failure: WaitFailure,
    readonly awaited: string,
    message: string,
    readonly client: string,
  ) {
    super(`${client}: waiting for ${awaited}: ${message}`);
  }
}

export interface CloseInfo {
  /** DISCONNECT the broker sent before closing, if any (5.0). */
  disconnect: DisconnectPacket | undefined;
  /** Transport error, when the stream failed rather than closed. */
  error: Error | undefined;
}

export interface RawClientOptions {
  version: ProtocolVersion;
  /** Name in traces, e.g. 'pub' or 'sub2'. */
  label?: string;
  recorder?: Recorder | undefined;
  tls?: TlsClientOptions | undefined;
  wsProtocols?: string[] | undefined;
  /** Default timeout of waits, ms. */
  timeoutMs?: number;
  /** Largest packet accepted from the broker. */
  maxPacketSize?: number | undefined;
}

interface Waiter {
  match: (p: Packet) => boolean;
  resolve: (p: Packet) => void;
  reject: (e: WaitError) => void;
  awaited: string;
  timer: NodeJS.Timeout;
}

export class RawClient {
  readonly label: string;
  readonly version: ProtocolVersion;
  /** Every packet received, in order. */
  readonly received: Packet[] = [];
  /** Received packets not yet taken by next()/expect(). */
  private readonly inbox: Packet[] = [];
  private waiters: Waiter[] = [];
  private closeWaiters: ((info: CloseInfo) => void)[] = [];
  private closeInfo: CloseInfo | undefined;
  private lastDisconnect: DisconnectPacket | undefined;
  /** The broker sent bytes our codec rejects (a finding in itself). */
  badBytes: MqttCodecError | undefined;
  private readonly decoder: Decoder;
  private readonly timeoutMs: number;

  private constructor(
    private readonly stream: Stream,
    private readonly opts: RawClientOptions,
  ) {
    this.label = opts.label ?? 'client';
    this.version = opts.version;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.decoder = new Decoder({ version: opts.version, role: 'client', maxPacketSize: opts.maxPacketSize });
    stream.onData((chunk) => this.onData(chunk));
    stream.onClose((error) => this.onClose(error));
  }

  /** Opens the transport to `url` (no MQTT packet is sent yet). */
  static async open(url: string, opts: RawClientOptions): Promise<RawClient> {
    const addr = parseBrokerUrl(url);
    const label = opts.label ?? 'client';
    try {
      const stream = await openStream(addr, { tls: opts.tls, wsProtocols: opts.wsProtocols, timeoutMs: opts.timeoutMs ?? 5000 });
      opts.recorder?.event(label, 'open', url);
      return new RawClient(stream, opts);
    } catch (e) {
      opts.recorder?.event(label, 'error', (e as Error).message);
      throw e;
    }
  }

  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** The TLS socket, when connected over TLS. */
  get tlsSocket() {
    return this.stream.tlsSocket;
  }

  send(p: Packet, opts: { validate?: boolean } = {}): void {
    const bytes = encode(p, this.version, opts);
    this.opts.recorder?.packet('out', this.label, p);
    this.stream.write(bytes);
  }

  /** Sends bytes exactly as given (malformed packets, split writes). */
  sendBytes(bytes: Buffer, note?: string): void {
    this.opts.recorder?.raw('out', this.label, bytes, note);
    this.stream.write(bytes);
  }

  /** Next packet not yet taken, whatever its type. */
  next(timeoutMs = this.timeoutMs): Promise<Packet> {
    return this.take(() => true, 'any packet', timeoutMs);
  }

  /** First not-yet-taken packet of `type` (and matching `where`); other packets stay for later. */
  expect<T extends Packet['type']>(type: T, opts: { timeoutMs?: number; where?: (p: PacketOf<T>) => boolean; what?: string } = {}): Promise<PacketOf<T>> {
    const where = opts.where;
    return this.take(
      (p) => p.type === type && (!where || where(p as PacketOf<T>)),
      opts.what ?? type.toUpperCase(),
      opts.timeoutMs ?? this.timeoutMs,
    ) as Promise<PacketOf<T>>;
  }

  /**
   * Resolves if no packet (matching `match`) arrives within `ms`; rejects with
   * 'unexpected' and the packet otherwise. Packets that arrive stay in the inbox.
   */
  async expectNothing(ms: number, match: (p: Packet) => boolean = () => true, what = 'silence'): Promise<void> {
    const already = this.inbox.find(match);
    if (already) throw new WaitError('unexpected', what, `got ${describe(already)}`, this.label);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      }, ms);
      const waiter: Waiter = {
        match, awaited: what, timer,
        resolve: (p) => {
          this.inbox.unshift(p); // leave it for later inspection
          reject(new WaitError('unexpected', what, `got ${describe(p)}`, this.label));
        },
        reject: (e) => (e.failure === 'closed' ? resolve() : reject(e)),
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for the broker to close the connection; resolves with what it sent first. */
  expectClose(timeoutMs = this.timeoutMs): Promise<CloseInfo> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.closeWaiters = this.closeWaiters.filter((f) => f !== done);
        this.opts.recorder?.event(this.label, 'timeout', `connection still open after ${timeoutMs} ms`);
        reject(new WaitError('timeout', 'the broker to close the connection', `still open after ${timeoutMs} ms`, this.label));
      }, timeoutMs);
      const done = (info: CloseInfo): void => {
        clearTimeout(timer);
        resolve(info);
      };
      this.closeWaiters.push(done);
    });
  }

  /** Sends CONNECT and waits for CONNACK. */
  async connect(p: Omit<ConnectPacket, 'type' | 'protocolVersion'>, timeoutMs = this.timeoutMs): Promise<ConnackPacket> {
    this.send({ type: 'connect', protocolVersion: this.version, ...p });
    return this.expect('connack', { timeoutMs });
  }

  /** Sends DISCONNECT (normal) and closes the transport. */
  disconnect(reasonCode?: number): void {
    if (this.closed) return;
    this.send(this.version === 5 ? { type: 'disconnect', reasonCode: reasonCode ?? 0 } : { type: 'disconnect' });
    this.stream.end();
  }

  /** Half-closes without DISCONNECT. */
  end(): void {
    this.stream.end();
  }

  /** Drops the connection abruptly (no DISCONNECT): the broker sees a network failure. */
  destroy(): void {
    if (!this.closed) this.opts.recorder?.event(this.label, 'destroy');
    this.stream.destroy();
  }

  private take(match: (p: Packet) => boolean, awaited: string, timeoutMs: number): Promise<Packet> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    if (this.badBytes) return Promise.reject(new WaitError('bad-bytes', awaited, this.badBytes.message, this.label));
    if (this.closeInfo) return Promise.reject(this.closedError(awaited));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.opts.recorder?.event(this.label, 'timeout', `no ${awaited} within ${timeoutMs} ms`);
        const pending = this.inbox.length ? `; unconsumed: ${this.inbox.map(describe).join(', ')}` : '';
        reject(new WaitError('timeout', awaited, `nothing within ${timeoutMs} ms${pending}`, this.label));
      }, timeoutMs);
      const waiter: Waiter = { match, resolve, reject, awaited, timer };
      this.waiters.push(waiter);
    });
  }

  private closedError(awaited: string): WaitError {
    const d = this.closeInfo?.disconnect ?? this.lastDisconnect;
    const why = d ? `connection closed after DISCONNECT 0x${(d.reasonCode ?? 0).toString(16).padStart(2, '0')}` : 'connection closed';
    return new WaitError('closed', awaited, why, this.label);
  }

  private onData(chunk: Buffer): void {
    if (this.badBytes) return;
    try {
      this.decoder.feed(chunk, (p) => this.onPacket(p));
    } catch (e) {
      if (!isMqttCodecError(e)) throw e;
      this.badBytes = e;
      this.opts.recorder?.raw('in', this.label, chunk, `undecodable: ${e.message}`);
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new WaitError('bad-bytes', w.awaited, e.message, this.label));
      }
    }
  }

  private onPacket(p: Packet): void {
    this.opts.recorder?.packet('in', this.label, p);
    this.received.push(p);
    if (p.type === 'disconnect') this.lastDisconnect = p;
    const i = this.waiters.findIndex((w) => w.match(p));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(p);
      return;
    }
    this.inbox.push(p);
  }

  private onClose(error: Error | undefined): void {
    if (this.closeInfo) return;
    this.closeInfo = { disconnect: this.lastDisconnect, error };
    this.opts.recorder?.event(this.label, 'close', error ? error.message : this.lastDisconnect ? `after DISCONNECT 0x${(this.lastDisconnect.reasonCode ?? 0).toString(16)}` : undefined);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.closedError(w.awaited));
    }
    for (const f of this.closeWaiters.splice(0)) f(this.closeInfo);
  }
}

/** Short description of a packet for messages. */
export function describe(p: Packet): string {
  switch (p.type) {
    case 'publish': return `PUBLISH(${p.topic || `alias ${p.properties?.topicAlias ?? '?'}`}, qos ${p.qos}${p.retain ? ', retain' : ''}${p.dup ? ', dup' : ''}${p.packetId ? `, id ${p.packetId}` : ''})`;
    case 'connack': return `CONNACK(0x${p.reasonCode.toString(16)}, sp ${p.sessionPresent ? 1 : 0})`;
    case 'suback': return `SUBACK(id ${p.packetId}, [${p.reasonCodes.map((c) => `0x${c.toString(16)}`).join(',')}])`;
    case 'disconnect': return `DISCONNECT(0x${(p.reasonCode ?? 0).toString(16)})`;
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp':
      return `${p.type.toUpperCase()}(id ${p.packetId}${p.reasonCode ? `, 0x${p.reasonCode.toString(16)}` : ''})`;
    default: return p.type.toUpperCase();
  }
}

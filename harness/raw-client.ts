/**
 * A client that speaks exact packets or exact bytes, for conformance tests.
 * It never hides what the broker does: every packet in either direction is
 * recorded, and every wait is event-driven with a timeout that fails with
 * what was awaited and what arrived instead.
 */
import {
  encode, type ConnackPacket, type ConnectPacket, type DisconnectPacket, type MqttCodecError, type Packet, type PacketOf, type ProtocolVersion,
} from '../codec/index.js';
import { PacketInbox } from './packet-inbox.js';
import type { Recorder } from './recorder.js';
import { openStream, parseBrokerUrl, type Stream, type TlsClientOptions } from './transport.js';

export { WaitError, type WaitFailure } from './packet-inbox.js';

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

export class RawClient {
  readonly label: string;
  readonly version: ProtocolVersion;
  private readonly inbox: PacketInbox<CloseInfo>;
  private lastDisconnect: DisconnectPacket | undefined;

  private constructor(
    private readonly stream: Stream,
    private readonly opts: RawClientOptions,
  ) {
    this.label = opts.label ?? 'client';
    this.version = opts.version;
    this.inbox = new PacketInbox<CloseInfo>(
      { label: this.label, version: opts.version, recorder: opts.recorder, maxPacketSize: opts.maxPacketSize, timeoutMs: opts.timeoutMs ?? 3000 },
      (p) => { if (p.type === 'disconnect') this.lastDisconnect = p; },
    );
    stream.onData((chunk) => this.inbox.feed(chunk));
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

  /** Every packet received, in order. */
  get received(): readonly Packet[] {
    return this.inbox.received;
  }

  /** The broker sent bytes our codec rejects (a finding in itself). */
  get badBytes(): MqttCodecError | undefined {
    return this.inbox.badBytes;
  }

  get closed(): boolean {
    return this.inbox.closed !== undefined;
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
  next(timeoutMs?: number): Promise<Packet> {
    return this.inbox.take(() => true, 'any packet', timeoutMs);
  }

  /** First not-yet-taken packet of `type` (and matching `where`); other packets stay for later. */
  expect<T extends Packet['type']>(type: T, opts: { timeoutMs?: number; where?: (p: PacketOf<T>) => boolean; what?: string } = {}): Promise<PacketOf<T>> {
    const where = opts.where;
    return this.inbox.take(
      (p) => p.type === type && (!where || where(p as PacketOf<T>)),
      opts.what ?? type.toUpperCase(),
      opts.timeoutMs,
    ) as Promise<PacketOf<T>>;
  }

  /**
   * Resolves if no packet (matching `match`) arrives within `ms`; rejects with
   * 'unexpected' and the packet otherwise. Packets that arrive stay in the inbox.
   */
  expectNothing(ms: number, match: (p: Packet) => boolean = () => true, what = 'silence'): Promise<void> {
    return this.inbox.nothing(ms, match, what, describe);
  }

  /** Waits for the broker to close the connection; resolves with what it sent first. */
  expectClose(timeoutMs?: number): Promise<CloseInfo> {
    return this.inbox.closeWait(timeoutMs);
  }

  /** Sends CONNECT and waits for CONNACK. */
  async connect(p: Omit<ConnectPacket, 'type' | 'protocolVersion'>, timeoutMs?: number): Promise<ConnackPacket> {
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

  private onClose(error: Error | undefined): void {
    if (this.closed) return;
    const d = this.lastDisconnect;
    const why = d ? `connection closed after DISCONNECT 0x${(d.reasonCode ?? 0).toString(16).padStart(2, '0')}` : 'connection closed';
    this.opts.recorder?.event(this.label, 'close', error ? error.message : d ? `after DISCONNECT 0x${(d.reasonCode ?? 0).toString(16)}` : undefined);
    this.inbox.close({ disconnect: d, error }, why);
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

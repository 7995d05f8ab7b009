/**
 * A WebSocket connection to a broker that controls frames, for MQTT over
 * WebSocket checks (3.1.1 and 5.0 §6): which subprotocol the server selected,
 * text versus binary frames, packets split over several frames or several
 * packets in one frame. Received frames are decoded as MQTT and recorded;
 * waits are event-driven with timeouts, like RawClient's.
 */
import WebSocket from 'ws';
import { encode, type Packet, type PacketOf, type ProtocolVersion } from '../codec/index.js';
import { PacketInbox } from './packet-inbox.js';
import type { Recorder } from './recorder.js';
import { parseBrokerUrl, type TlsClientOptions } from './transport.js';

export interface WsRawOptions {
  version: ProtocolVersion;
  label?: string;
  recorder?: Recorder | undefined;
  tls?: TlsClientOptions | undefined;
  /** Subprotocols offered in the handshake (default ['mqtt']; [] offers none). */
  protocols?: string[];
  timeoutMs?: number;
}

export interface WsCloseInfo {
  /** WebSocket close code (1006: closed without a close frame). */
  code: number;
  reason: string;
}

export class WsRaw {
  readonly label: string;
  readonly version: ProtocolVersion;
  /** Data frames received: binary or not, and their sizes. */
  readonly frames: { binary: boolean; bytes: number }[] = [];
  private readonly inbox: PacketInbox<WsCloseInfo>;

  private constructor(private readonly ws: WebSocket, private readonly opts: WsRawOptions) {
    this.label = opts.label ?? 'ws';
    this.version = opts.version;
    this.inbox = new PacketInbox<WsCloseInfo>({ label: this.label, version: opts.version, recorder: opts.recorder, timeoutMs: opts.timeoutMs ?? 3000 });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.frames.push({ binary: isBinary, bytes: b.length });
      if (!isBinary) opts.recorder?.raw('in', this.label, b, 'TEXT frame from the server');
      this.inbox.feed(b);
    });
    ws.on('error', (e) => opts.recorder?.event(this.label, 'error', e.message));
    ws.once('close', (code: number, reason: Buffer) => {
      opts.recorder?.event(this.label, 'close', `WebSocket close code ${code}${reason.length ? ` (${reason.toString()})` : ''}`);
      this.inbox.close({ code, reason: reason.toString() }, `connection closed (WebSocket code ${code})`);
    });
  }

  /** Opens the WebSocket (ws:// or wss://); rejects when the upgrade fails. */
  static open(url: string, opts: WsRawOptions): Promise<WsRaw> {
    const addr = parseBrokerUrl(url);
    if (addr.scheme !== 'ws' && addr.scheme !== 'wss') throw new Error(`WsRaw needs a ws:// or wss:// URL, got ${url}`);
    const label = opts.label ?? 'ws';
    const timeoutMs = opts.timeoutMs ?? 5000;
    const t = opts.tls ?? {};
    const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${addr.scheme}://${host}:${addr.port}${addr.path}`, opts.protocols ?? ['mqtt'], {
        ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.rejectUnauthorized ?? true,
        handshakeTimeout: timeoutMs,
        // ws passes TLS options through to tls.connect, whose servername its types do not list.
        ...(t.servername !== undefined ? ({ servername: t.servername } as object) : {}),
      });
      ws.binaryType = 'nodebuffer';
      ws.once('open', () => {
        opts.recorder?.event(label, 'open', `${url} subprotocol '${ws.protocol}'`);
        resolve(new WsRaw(ws, opts));
      });
      ws.once('error', (e) => {
        opts.recorder?.event(label, 'error', e.message);
        reject(new Error(`WebSocket ${url} failed: ${e.message}`));
      });
    });
  }

  /** The subprotocol the server selected ('' when none). */
  get protocol(): string {
    return this.ws.protocol;
  }

  get closed(): boolean {
    return this.inbox.closed !== undefined;
  }

  /** Every packet received, in order. */
  get received(): readonly Packet[] {
    return this.inbox.received;
  }

  /** What the codec said about undecodable bytes from the broker, if any. */
  get badBytes(): string | undefined {
    return this.inbox.badBytes?.message;
  }

  /** Encodes packets into bytes for this connection's version. */
  bytes(...packets: Packet[]): Buffer {
    return Buffer.concat(packets.map((p) => encode(p, this.version)));
  }

  /** Sends one packet in one binary frame. */
  send(p: Packet): void {
    this.opts.recorder?.packet('out', this.label, p);
    this.ws.send(encode(p, this.version), { binary: true });
  }

  /** Sends `bytes` as one data frame, binary or text (text frames carry the bytes as they are). */
  sendFrame(bytes: Buffer, o: { binary: boolean }, note?: string): void {
    this.opts.recorder?.raw('out', this.label, bytes, `${o.binary ? 'binary' : 'TEXT'} frame${note ? `: ${note}` : ''}`);
    this.ws.send(bytes, { binary: o.binary });
  }

  /** Sends `bytes` cut into `parts` binary frames (each a complete WebSocket message). */
  sendSplit(bytes: Buffer, parts: number[], note?: string): void {
    let at = 0;
    for (const [i, n] of parts.entries()) {
      const end = i === parts.length - 1 ? bytes.length : Math.min(bytes.length, at + n);
      this.sendFrame(bytes.subarray(at, end), { binary: true }, `${note ?? 'part'} ${i + 1}/${parts.length}`);
      at = end;
    }
  }

  expect<T extends Packet['type']>(type: T, o: { timeoutMs?: number; where?: (p: PacketOf<T>) => boolean } = {}): Promise<PacketOf<T>> {
    const where = o.where;
    return this.inbox.take((p) => p.type === type && (!where || where(p as PacketOf<T>)), type.toUpperCase(), o.timeoutMs) as Promise<PacketOf<T>>;
  }

  /** Resolves when the connection closes; rejects (WaitError 'timeout') if it is still open after `timeoutMs`. */
  expectClose(timeoutMs?: number): Promise<WsCloseInfo> {
    return this.inbox.closeWait(timeoutMs);
  }

  /** Drops the connection without a close frame. */
  destroy(): void {
    if (!this.closed) this.opts.recorder?.event(this.label, 'destroy');
    this.ws.terminate();
  }
}

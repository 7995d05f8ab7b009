/**
 * A WebSocket connection to a broker that controls frames, for MQTT over
 * WebSocket checks (3.1.1 and 5.0 §6): which subprotocol the server selected,
 * text versus binary frames, packets split over several frames or several
 * packets in one frame. Received frames are decoded as MQTT and recorded;
 * waits are event-driven with timeouts, like RawClient's.
 */
import WebSocket from 'ws';
import { Decoder, encode, isMqttCodecError, type Packet, type PacketOf, type ProtocolVersion } from '../codec/index.js';
import { WaitError } from './raw-client.js';
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

interface Waiter {
  match: (p: Packet) => boolean;
  resolve: (p: Packet) => void;
  reject: (e: WaitError) => void;
  awaited: string;
  timer: NodeJS.Timeout;
}

export class WsRaw {
  readonly label: string;
  readonly version: ProtocolVersion;
  readonly received: Packet[] = [];
  /** Data frames received: binary or not, and their sizes. */
  readonly frames: { binary: boolean; bytes: number }[] = [];
  private readonly inbox: Packet[] = [];
  private waiters: Waiter[] = [];
  private closeWaiters: ((c: WsCloseInfo) => void)[] = [];
  private closeInfo: WsCloseInfo | undefined;
  private readonly decoder: Decoder;
  badBytes: string | undefined;

  private constructor(private readonly ws: WebSocket, private readonly opts: WsRawOptions) {
    this.label = opts.label ?? 'ws';
    this.version = opts.version;
    this.decoder = new Decoder({ version: opts.version, role: 'client' });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.frames.push({ binary: isBinary, bytes: b.length });
      if (!isBinary) opts.recorder?.raw('in', this.label, b, 'TEXT frame from the server');
      this.onData(b);
    });
    ws.on('error', (e) => opts.recorder?.event(this.label, 'error', e.message));
    ws.once('close', (code: number, reason: Buffer) => {
      this.closeInfo = { code, reason: reason.toString() };
      opts.recorder?.event(this.label, 'close', `WebSocket close code ${code}${reason.length ? ` (${reason.toString()})` : ''}`);
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new WaitError('closed', w.awaited, `connection closed (WebSocket code ${code})`, this.label));
      }
      for (const f of this.closeWaiters.splice(0)) f(this.closeInfo);
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
    return this.closeInfo !== undefined;
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
    const match = (p: Packet): boolean => p.type === type && (!where || where(p as PacketOf<T>));
    const awaited = type.toUpperCase();
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as PacketOf<T>);
    if (this.badBytes) return Promise.reject(new WaitError('bad-bytes', awaited, this.badBytes, this.label));
    if (this.closeInfo) return Promise.reject(new WaitError('closed', awaited, `connection closed (WebSocket code ${this.closeInfo.code})`, this.label));
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs ?? 3000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.opts.recorder?.event(this.label, 'timeout', `no ${awaited} within ${timeoutMs} ms`);
        reject(new WaitError('timeout', awaited, `nothing within ${timeoutMs} ms`, this.label));
      }, timeoutMs);
      const waiter: Waiter = { match, awaited, timer, resolve: (p) => resolve(p as PacketOf<T>), reject };
      this.waiters.push(waiter);
    });
  }

  /** Resolves when the connection closes; rejects (WaitError 'timeout') if it is still open after `timeoutMs`. */
  expectClose(timeoutMs = this.opts.timeoutMs ?? 3000): Promise<WsCloseInfo> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.closeWaiters = this.closeWaiters.filter((f) => f !== done);
        this.opts.recorder?.event(this.label, 'timeout', `connection still open after ${timeoutMs} ms`);
        reject(new WaitError('timeout', 'the broker to close the connection', `still open after ${timeoutMs} ms`, this.label));
      }, timeoutMs);
      const done = (c: WsCloseInfo): void => {
        clearTimeout(timer);
        resolve(c);
      };
      this.closeWaiters.push(done);
    });
  }

  /** Drops the connection without a close frame. */
  destroy(): void {
    if (!this.closed) this.opts.recorder?.event(this.label, 'destroy');
    this.ws.terminate();
  }

  private onData(chunk: Buffer): void {
    if (this.badBytes) return;
    try {
      this.decoder.feed(chunk, (p) => this.onPacket(p));
    } catch (e) {
      if (!isMqttCodecError(e)) throw e;
      this.badBytes = e.message;
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
    const i = this.waiters.findIndex((w) => w.match(p));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(p);
      return;
    }
    this.inbox.push(p);
  }
}


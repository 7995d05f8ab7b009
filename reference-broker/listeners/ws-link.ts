/**
 * Link over a WebSocket (MQTT 5.0 §6, 3.1.1 §6): binary frames only
 * [MQTT-6.0.0-1]; packets written in one event-loop turn go out as one frame
 * (frames need not align with packets [MQTT-6.0.0-2]).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { WebSocket } from 'ws';
import type { Broker } from '../core/broker.js';
import type { Link, PeerCertificateInfo, TransportKind } from '../core/link.js';

export class WsLink implements Link {
  readonly remoteAddress: string;
  readonly peerCertificate: PeerCertificateInfo | undefined;
  private pending: Buffer[] = [];
  /** Called when everything sent so far has been handed to the OS. */
  onDrain: (() => void) | undefined;

  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
    readonly transport: TransportKind,
  ) {
    this.remoteAddress = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    if (transport === 'wss') {
      const tls = req.socket as TLSSocket;
      const cert = tls.getPeerCertificate?.();
      const cn = cert?.subject?.CN;
      this.peerCertificate = cert && Object.keys(cert).length > 0
        ? { authorized: tls.authorized, subjectCN: Array.isArray(cn) ? cn[0] : cn, fingerprint256: cert.fingerprint256 }
        : undefined;
    }
  }

  write(bytes: Buffer): void {
    if (this.pending.length === 0) setImmediate(this.flush);
    this.pending.push(bytes);
  }

  private readonly flush = (): void => {
    const parts = this.pending;
    this.pending = [];
    if (parts.length === 0 || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(parts.length === 1 ? parts[0]! : Buffer.concat(parts), { binary: true }, () => {
      if (this.ws.bufferedAmount === 0) this.onDrain?.();
    });
  };

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  close(): void {
    this.flush();
    this.ws.close();
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  destroy(): void {
    this.ws.terminate();
  }

  /** ws pauses the underlying socket: no more frames are read (one already read is still delivered). */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.resume();
  }
}

export function attachWebSocket(broker: Broker, ws: WebSocket, req: IncomingMessage, transport: TransportKind): void {
  const link = new WsLink(ws, req, transport);
  const conn = broker.accept(link);
  link.onDrain = () => conn.onDrain();
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (!isBinary) {
      // Text frames are not allowed [MQTT-6.0.0-1].
      conn.protocolError('WebSocket text frame', 0x81);
      return;
    }
    conn.onDataGuarded(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
  });
  ws.on('error', () => { /* 'close' follows */ });
  ws.on('close', () => conn.onClosed());
}

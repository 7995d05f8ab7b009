/** Link over a TCP or TLS socket: writes in one event-loop turn leave as one writev (cork/uncork). */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Broker } from '../core/broker.js';
import type { Link, PeerCertificateInfo, TransportKind } from '../core/link.js';

export class SocketLink implements Link {
  readonly remoteAddress: string;
  readonly peerCertificate: PeerCertificateInfo | undefined;
  private corked = false;

  constructor(
    private readonly socket: Socket,
    readonly transport: TransportKind,
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    if (transport === 'tls') {
      const tls = socket as TLSSocket;
      const cert = tls.getPeerCertificate();
      this.peerCertificate = cert && Object.keys(cert).length > 0
        ? { authorized: tls.authorized, subjectCN: firstString(cert.subject?.CN), fingerprint256: cert.fingerprint256 }
        : undefined;
    }
  }

  write(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      // Uncork once per event-loop turn (after this turn's I/O callbacks), so the writes
      // caused by many sockets' reads leave as one writev.
      setImmediate(this.uncork);
    }
    this.socket.write(bytes);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  bufferedBytes(): number {
    return this.socket.writableLength;
  }

  close(): void {
    if (!this.socket.destroyed) this.socket.end();
    // Do not wait forever for a peer that stops reading.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.socket.destroyed) this.socket.resume();
  }
}

function firstString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Connects a socket to the broker: data in, close and drain events. */
export function attachSocket(broker: Broker, socket: Socket, transport: TransportKind, noDelay: boolean): void {
  socket.setNoDelay(noDelay);
  const conn = broker.accept(new SocketLink(socket, transport));
  socket.on('data', (chunk: Buffer) => conn.onDataGuarded(chunk));
  socket.on('drain', () => conn.onDrain());
  socket.on('error', () => { /* 'close' follows */ });
  socket.on('close', () => conn.onClosed());
}

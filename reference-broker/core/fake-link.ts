/** An in-memory Link for driving the core in tests: records what the broker writes, decoded as a client would. */
import { Decoder, type Packet, type ProtocolVersion } from '../../codec/index.js';
import type { Link, PeerCertificateInfo, TransportKind } from './link.js';

export class FakeLink implements Link {
  readonly transport: TransportKind = 'test';
  readonly written: Buffer[] = [];
  closed = false;
  destroyed = false;
  /** What bufferedBytes() reports: set it to model a peer that reads slowly. */
  backlog = 0;
  /** Whether the broker paused reading (back-pressure); `pauses` counts pause() calls. */
  paused = false;
  pauses = 0;
  peerCertificate: PeerCertificateInfo | undefined;
  private decoder: Decoder | undefined;
  private readonly received: Packet[] = [];

  constructor(readonly remoteAddress = '127.0.0.1:1') {}

  write(bytes: Buffer): void {
    if (this.closed) return;
    this.written.push(bytes);
  }

  bufferedBytes(): number {
    return this.backlog;
  }

  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(): void {
    this.closed = true;
  }

  destroy(): void {
    this.closed = true;
    this.destroyed = true;
  }

  /** Decodes everything written so far (as a client of `version`) and returns packets not yet returned. */
  take(version: ProtocolVersion): Packet[] {
    this.decoder ??= new Decoder({ version, role: 'client' });
    const out: Packet[] = [];
    for (const b of this.written.splice(0)) this.decoder.feed(b, (p) => out.push(p));
    this.received.push(...out);
    return out;
  }
}

/**
 * Test helper: an MQTT client over a real TCP socket or WebSocket that sends
 * exactly the packets it is told to (the codec encodes them) and collects
 * what comes back, for tests of the broker over the network. Not a client
 * library: no retries, no automatic acknowledgements unless `onPacket` sends them.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { Decoder, encode, type ConnackPacket, type ConnectPacket, type Packet, type ProtocolVersion } from '../../codec/index.js';

export class SocketTestClient {
  /** Packets received and not taken yet. */
  readonly inbox: Packet[] = [];
  /** Called for every packet received (before it is put in the inbox); may send replies. */
  onPacket: ((p: Packet) => void) | undefined;
  closed = false;
  readonly whenClosed: Promise<void>;
  private readonly decoder: Decoder;
  private wake: (() => void) | undefined;
  private markClosed!: () => void;

  private constructor(
    readonly v: ProtocolVersion,
    private readonly writeBytes: (b: Buffer) => void,
    private readonly destroyLink: () => void,
  ) {
    this.decoder = new Decoder({ version: v, role: 'client' });
    this.whenClosed = new Promise((resolve) => { this.markClosed = resolve; });
  }

  /** A TCP connection to `port`, nothing sent yet. */
  static tcp(port: number, v: ProtocolVersion, host = '127.0.0.1'): Promise<SocketTestClient> {
    return new Promise((resolve, reject) => {
      const socket: Socket = netConnect({ port, host });
      const c = new SocketTestClient(v, (b) => { if (!socket.destroyed) socket.write(b); }, () => socket.destroy());
      socket.setNoDelay(true);
      socket.on('data', (d: Buffer) => c.bytes(d));
      socket.on('error', () => { /* 'close' follows */ });
      socket.on('close', () => c.gone());
      socket.once('connect', () => resolve(c));
      socket.once('error', reject);
    });
  }

  /** A WebSocket connection (subprotocol mqtt) to `url`, nothing sent yet. */
  static ws(url: string, v: ProtocolVersion): Promise<SocketTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, 'mqtt');
      const c = new SocketTestClient(v, (b) => { if (ws.readyState === ws.OPEN) ws.send(b); }, () => ws.terminate());
      ws.on('message', (d: Buffer) => c.bytes(d));
      ws.on('error', () => { /* 'close' follows */ });
      ws.on('close', () => c.gone());
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  private bytes(d: Buffer): void {
    this.decoder.feed(d, (p) => {
      this.onPacket?.(p);
      this.inbox.push(p);
    });
    this.wake?.();
  }

  private gone(): void {
    this.closed = true;
    this.markClosed();
    this.wake?.();
  }

  send(...packets: Packet[]): void {
    for (const p of packets) this.writeBytes(encode(p, this.v));
  }

  /** Drops the connection without DISCONNECT. */
  destroy(): void {
    this.destroyLink();
  }

  /** Removes and returns the first packet matching `pred`, waiting up to `ms` for it. */
  async take<T extends Packet = Packet>(pred: (p: Packet) => boolean, ms = 5000, what = 'a packet'): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as T;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) throw new Error(`${this.closed ? 'connection closed' : `timed out after ${ms} ms`} waiting for ${what}; inbox: ${this.inbox.map((p) => p.type).join(',') || 'empty'}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(t); resolve(); };
      });
      this.wake = undefined;
    }
  }

  /** Sends CONNECT and waits for the CONNACK. */
  async connect(fields: Partial<Omit<ConnectPacket, 'type' | 'protocolVersion'>> = {}): Promise<ConnackPacket> {
    this.send({ type: 'connect', protocolVersion: this.v, clean: true, keepAlive: 0, clientId: '', ...fields });
    return this.take<ConnackPacket>((p) => p.type === 'connack', 5000, 'CONNACK');
  }
}

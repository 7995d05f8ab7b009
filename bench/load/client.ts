/**
 * The setup half of a raw MQTT 3.1.1 client: open a TCP connection, CONNECT,
 * wait for CONNACK, SUBSCRIBE and wait for SUBACK, with our streaming decoder.
 * The hot paths (publisher.ts, subscriber.ts) take over the socket and the
 * decoder afterwards.
 */
import { connect, type Socket } from 'node:net';
import { Decoder, type Packet } from '../../codec/index.js';
import { connectFrame, subscribeFrame } from './frames.js';

export interface MqttConnection {
  socket: Socket;
  decoder: Decoder;
  /** Where received bytes go (setup code, then the hot path, swap it). */
  onChunk: (chunk: Buffer) => void;
}

/**
 * Read buffers for `onread`: each read lands in fresh space of a slab and is
 * never overwritten, so the decoder may keep views of it (payloads, a
 * partial packet). Reading this way skips the Readable-stream machinery and
 * its per-chunk allocation ('data' events), which costs more than decoding
 * when a broker sends one small packet per TCP segment.
 */
class ReadArena {
  private slab = Buffer.allocUnsafeSlow(SLAB);
  private off = 0;
  private cur: Buffer = EMPTY;

  /** The buffer for the next read (called by Node after each read). */
  readonly next = (): Buffer => {
    if (this.off + READ > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB);
      this.off = 0;
    }
    this.cur = this.slab.subarray(this.off, this.off + READ);
    return this.cur;
  };

  /** The `n` bytes just read. */
  take(n: number): Buffer {
    const b = this.cur.subarray(0, n);
    this.off += (n + 7) & ~7;
    return b;
  }
}
const SLAB = 512 * 1024;
const READ = 64 * 1024;
const EMPTY = Buffer.alloc(0);
const ignore = (): void => {};

export interface OpenOptions {
  host: string;
  port: number;
  noDelay: boolean;
  clientId: string;
  localAddress?: string | undefined;
  timeoutMs: number;
}

function tcpConnect(o: OpenOptions): Promise<MqttConnection> {
  return new Promise((resolve, reject) => {
    const arena = new ReadArena();
    const c: MqttConnection = { socket: undefined as unknown as Socket, decoder: new Decoder({ version: 4, role: 'client' }), onChunk: ignore };
    const socket = connect({
      host: o.host, port: o.port, localAddress: o.localAddress, noDelay: o.noDelay,
      onread: { buffer: arena.next, callback: (n: number): boolean => { c.onChunk(arena.take(n)); return true; } },
    });
    c.socket = socket;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TCP connect to ${o.host}:${o.port} timed out after ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.setNoDelay(o.noDelay);
      resolve(c);
    });
    const onError = (e: Error): void => {
      clearTimeout(timer);
      reject(e);
    };
    socket.once('error', onError);
  });
}

/** Writes `frame` and resolves with the first packet of type `expect` (other packets are an error). */
export function exchange(c: MqttConnection, frame: Buffer, expect: Packet['type'], timeoutMs: number): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const { socket, decoder } = c;
    let done = false;
    const finish = (e: Error | undefined, p?: Packet): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      c.onChunk = ignore;
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      if (e) reject(e);
      else resolve(p!);
    };
    const onData = (chunk: Buffer): void => {
      try {
        decoder.feed(chunk, (p) => {
          if (done) return;
          if (p.type === expect) finish(undefined, p);
          else finish(new Error(`expected ${expect.toUpperCase()}, got ${p.type.toUpperCase()}`));
        });
      } catch (e) {
        finish(e instanceof Error ? e : new Error(String(e)));
      }
    };
    const onClose = (): void => finish(new Error(`connection closed while waiting for ${expect.toUpperCase()}`));
    const onError = (e: Error): void => finish(e);
    const timer = setTimeout(() => finish(new Error(`no ${expect.toUpperCase()} within ${timeoutMs} ms`)), timeoutMs);
    c.onChunk = onData;
    socket.once('close', onClose);
    socket.once('error', onError);
    socket.write(frame);
  });
}

/** TCP connect + CONNECT/CONNACK (clean session, Keep Alive 0). */
export async function openMqtt(o: OpenOptions): Promise<MqttConnection> {
  const c = await tcpConnect(o);
  const socket = c.socket;
  try {
    const ack = await exchange(c, connectFrame(o.clientId), 'connack', o.timeoutMs);
    if (ack.type === 'connack' && ack.reasonCode !== 0) throw new Error(`CONNACK return code ${ack.reasonCode}`);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  return c;
}

export async function subscribe(c: MqttConnection, filter: string, qos: 0 | 1, timeoutMs: number): Promise<void> {
  const ack = await exchange(c, subscribeFrame(filter, qos), 'suback', timeoutMs);
  if (ack.type === 'suback' && ack.reasonCodes[0] !== qos) {
    throw new Error(`SUBACK granted ${ack.reasonCodes[0]} for ${filter}, asked QoS ${qos}`);
  }
}

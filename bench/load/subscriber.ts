/**
 * Subscriber worker thread of the load generator: S connections subscribed to
 * `<prefix>/#`, each decoding with our streaming Decoder. Per message it
 * counts (shared counters, read by the publisher thread for its window),
 * checks the publisher's sequence number, and records the latency from the
 * stamps in the payload; QoS 1 messages are PUBACKed, all acks of one chunk in
 * one write. Receipt time is taken once per chunk: every message of a chunk
 * arrived together.
 */
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { Decoder, Packet } from '../../codec/index.js';
import { type MqttConnection, openMqtt, subscribe } from './client.js';
import { FLAG_MEASURED, PAYLOAD, putPuback } from './frames.js';
import { newHistogram, recordNs, summarize } from '../../harness/meters/histogram.js';
import { currentThreadId } from '../../harness/meters/procfs.js';
import { CTL, type FromWorker, nowNs, sharedCounters, type ToWorker, type WorkerInit } from './protocol.js';

const { config, shared } = workerData as WorkerInit;
const P = config.publishers;
const S = config.subscribers;
const counters = sharedCounters(shared, P, S);
const { ctl, recv } = counters;
const port = parentPort!;

const openLoop = config.mode === 'open';
const latency = newHistogram(); // from the intended send time
const latencyUncorrected = newHistogram(); // from the write call
let gaps = 0;
let outOfOrder = 0;
let other = 0;
let finishing = false;

function post(m: FromWorker): void {
  port.postMessage(m);
}

function fail(message: string): void {
  if (finishing) return;
  finishing = true;
  post({ type: 'error', message });
}

class Sub {
  /** Receipt time of the chunk being decoded. */
  private now = 0;
  /** Local copies of this subscriber's row of `recv`, and the next sequence number expected from each publisher. */
  private readonly count: Int32Array;
  /** What was last stored into `recv`. */
  private readonly shown: Int32Array;
  private readonly nextSeq: Int32Array;
  /** PUBLISHes in the current chunk. */
  private got = 0;
  private readonly base: number;
  /** PUBACKs of the current chunk. */
  private acks: Buffer = Buffer.allocUnsafe(4096);
  private ackLen = 0;

  private readonly socket: Socket;
  private readonly decoder: Decoder;

  constructor(
    readonly index: number,
    private readonly conn: MqttConnection,
  ) {
    this.socket = conn.socket;
    this.decoder = conn.decoder;
    this.base = index * P;
    this.count = new Int32Array(P);
    this.shown = new Int32Array(P);
    this.nextSeq = new Int32Array(P);
    conn.onChunk = this.onData;
    this.socket.on('error', (e) => fail(`subscriber ${index}: ${e.message}`));
    this.socket.on('close', () => fail(`subscriber ${index}: the broker closed the connection`));
  }

  private readonly onData = (chunk: Buffer): void => {
    this.now = nowNs();
    this.got = 0;
    try {
      this.decoder.feed(chunk, this.onPacket);
    } catch (e) {
      fail(`subscriber ${this.index}: ${e instanceof Error ? e.message : String(e)}`);
      this.socket.destroy();
      return;
    }
    if (this.ackLen > 0) this.flushAcks();
    if (this.got === 0) return;
    const count = this.count;
    const shown = this.shown;
    for (let i = 0; i < P; i++) {
      if (count[i] !== shown[i]) {
        shown[i] = count[i]!;
        Atomics.store(recv, this.base + i, count[i]!);
      }
    }
    const total = Atomics.add(ctl, CTL.RECV_TOTAL, this.got) + this.got;
    // Wake the publisher thread only once enough has arrived for it to refill (it says how much in WAKE_AT).
    if (Atomics.load(ctl, CTL.PUB_WAITING) === 1 && total >= Atomics.load(ctl, CTL.WAKE_AT)) {
      Atomics.store(ctl, CTL.PUB_WAITING, 0);
      Atomics.add(ctl, CTL.WAKE, 1);
      Atomics.notify(ctl, CTL.WAKE);
    }
  };

  private readonly onPacket = (p: Packet): void => {
    if (p.type !== 'publish') {
      other++;
      return;
    }
    const pl = p.payload;
    const pub = pl.readUInt16LE(PAYLOAD.PUBLISHER);
    if (pub >= P) {
      other++;
      return;
    }
    this.count[pub]!++;
    this.got++;
    const seq = pl.readUInt32LE(PAYLOAD.SEQ) | 0;
    const expected = this.nextSeq[pub]!;
    if (seq > expected) gaps += seq - expected;
    else if (seq < expected) outOfOrder++;
    this.nextSeq[pub] = seq + 1;
    if ((pl[PAYLOAD.FLAGS]! & FLAG_MEASURED) !== 0) {
      recordNs(latency, this.now - pl.readDoubleLE(PAYLOAD.INTENDED));
      // Closed loop: the intended time is the write time, one histogram holds both.
      if (openLoop) recordNs(latencyUncorrected, this.now - pl.readDoubleLE(PAYLOAD.ACTUAL));
    }
    if (p.qos === 1) {
      if (this.ackLen + 4 > this.acks.length) this.flushAcks();
      this.ackLen = putPuback(this.acks, this.ackLen, p.packetId!);
    }
  };

  private flushAcks(): void {
    const bytes = this.acks.subarray(0, this.ackLen);
    this.socket.write(bytes);
    // The ack buffer may be reused only once the kernel has the bytes (a synchronous write leaves nothing queued).
    if (this.socket.writableLength > 0) this.acks = Buffer.allocUnsafe(this.acks.length);
    this.ackLen = 0;
  }

  close(): void {
    this.socket.removeAllListeners('close');
    this.conn.onChunk = () => {};
    this.socket.destroy();
  }
}

const subs: Sub[] = [];

async function main(): Promise<void> {
  const filter = `${config.topicPrefix}/#`;
  // Connect in small groups: brokers answer a burst of CONNECTs slower than a trickle.
  for (let j = 0; j < S; j += 8) {
    const group = [];
    for (let k = j; k < Math.min(S, j + 8); k++) {
      group.push((async () => {
        const c = await openMqtt({ host: config.host, port: config.port, noDelay: config.noDelay, clientId: `${config.clientIdPrefix}s${k}`, timeoutMs: 10_000 });
        await subscribe(c, filter, config.qos, 10_000);
        return new Sub(k, c);
      })());
    }
    subs.push(...(await Promise.all(group)));
  }
  post({ type: 'ready', tid: currentThreadId() });
}

port.on('message', (m: ToWorker) => {
  if (m.type !== 'finish') return;
  finishing = true;
  for (const s of subs) s.close();
  const corrected = summarize(latency);
  post({ type: 'done', latency: corrected, latencyUncorrected: openLoop ? summarize(latencyUncorrected) : corrected, gaps, outOfOrder, other });
});

main().catch((e: unknown) => fail(`subscriber setup: ${e instanceof Error ? e.message : String(e)}`));

/**
 * Publisher worker thread of the load generator: P connections, each with one
 * pre-encoded batch buffer (load/frames.ts). A send patches stamps into the
 * first n frames and writes them with one call. A batch buffer is touched
 * only while its socket has nothing queued (writableLength 0: the kernel has
 * every earlier byte), so it can be reused without copies.
 *
 * Closed loop (qos0, qos1, fanout): each publisher sends while its window has
 * room. The end-to-end window (`e2eWindow`) counts messages not yet received
 * by every subscriber (shared counters from the subscriber thread, which wakes
 * this thread through Atomics.waitAsync). QoS 1 adds the PUBACK window
 * (`window`); the end-to-end one then only keeps a broker that acknowledges
 * faster than it delivers from piling up an unbounded queue.
 *
 * Open loop (latency): message k of publisher i is due at
 * T0 + (k·P + i) / rate, fixed in advance. The thread sleeps on a futex
 * (Atomics.wait, ~70 µs late at worst) until the next due time — waking at
 * most every 100 µs — writes what is due stamped with its intended time, and
 * lets the event loop run between sleeps. A publisher whose socket is backed up simply falls behind its
 * schedule: its messages go out later but keep their intended times.
 */
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { Decoder, Packet } from '../../codec/index.js';
import { type MqttConnection, openMqtt } from './client.js';
import { FLAG_MEASURED, PublishBatch } from './frames.js';
import { newHistogram, recordNs, summarize } from '../../harness/meters/histogram.js';
import { currentThreadId } from '../../harness/meters/procfs.js';
import { CTL, type FromWorker, nowNs, PHASE, sharedCounters, type ToWorker, waitAsync, type WorkerInit } from './protocol.js';

const { config, shared } = workerData as WorkerInit;
const P = config.publishers;
const S = config.subscribers;
const { ctl, sent, acked, recv } = sharedCounters(shared, P, S);
const port = parentPort!;
const qos1 = config.qos === 1;

const sendLag = newHistogram();
let finishing = false;
let totalSent = 0;
let capped = false;

function post(m: FromWorker): void {
  port.postMessage(m);
}

function fail(message: string): void {
  if (finishing) return;
  finishing = true;
  post({ type: 'error', message });
}

class Pub {
  seq = 0;
  /** Messages this publisher wrote (mirrors sent[index]). */
  count = 0;
  /** QoS 1: PUBACKs received, Packet Identifiers in flight. */
  acks = 0;
  inflight = 0;
  private nextId = 1;
  private readonly busyIds: Uint8Array | undefined;
  /** QoS 0 closed loop: messages written off as lost after a stall, and when this publisher last wrote. */
  forgiven = 0;
  lastWriteNs = 0;
  /** Open loop: messages of this publisher's schedule already sent. */
  scheduled = 0;
  readonly batch: PublishBatch;

  readonly socket: Socket;
  private readonly decoder: Decoder;

  constructor(
    readonly index: number,
    private readonly conn: MqttConnection,
  ) {
    this.socket = conn.socket;
    this.decoder = conn.decoder;
    this.batch = new PublishBatch(`${config.topicPrefix}/p/${index}`, config.qos, config.payloadSize, index, config.batch);
    this.busyIds = qos1 ? new Uint8Array(65536) : undefined;
    conn.onChunk = this.onData;
    this.socket.on('error', (e) => fail(`publisher ${index}: ${e.message}`));
    this.socket.on('close', () => fail(`publisher ${index}: the broker closed the connection`));
  }

  /** Room in the window: end to end, and (QoS 1) for PUBACKs. */
  credit(): number {
    const e2e = this.e2eCredit();
    if (!qos1) return e2e;
    const acks = config.window - this.inflight;
    return acks < e2e ? acks : e2e;
  }

  /** Room in the end-to-end window: messages sent but not yet received by the slowest subscriber. */
  e2eCredit(): number {
    return e2eWindow - this.outstanding();
  }

  /** Messages sent but not yet received by the slowest subscriber (not counting those written off). */
  outstanding(): number {
    let slowest = Atomics.load(recv, this.index);
    for (let s = 1; s < S; s++) {
      const r = Atomics.load(recv, s * P + this.index);
      if (r < slowest) slowest = r;
    }
    return this.count - slowest - this.forgiven;
  }

  /** Deliveries of this publisher's messages still on their way, to all subscribers (not counting those written off). */
  inFlightDeliveries(): number {
    let n = 0;
    for (let s = 0; s < S; s++) {
      const d = this.count - this.forgiven - Atomics.load(recv, s * P + this.index);
      if (d > 0) n += d;
    }
    return n;
  }

  private allocateId(): number {
    const busy = this.busyIds!;
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 0xffff ? 1 : id + 1;
      if (busy[id] === 0) {
        busy[id] = 1;
        return id;
      }
    }
  }

  /** Writes n frames; frame j is due at firstDue + j·interval (closed loop: interval 0, due now). */
  write(n: number, now: number, flags: number, firstDue: number, interval: number): void {
    const b = this.batch;
    for (let j = 0; j < n; j++) {
      const intended = interval === 0 ? now : firstDue + j * interval;
      b.stamp(j, intended, now, this.seq++, flags, qos1 ? this.allocateId() : 0);
      if (interval !== 0 && flags !== 0) recordNs(sendLag, now - intended);
    }
    if (qos1) this.inflight += n;
    this.socket.write(b.view(n), this.onWritten);
    this.count += n;
    this.lastWriteNs = now;
    totalSent += n;
    Atomics.store(sent, this.index, this.count);
  }

  /** Write callback: once nothing is queued, the batch buffer is free again. */
  private readonly onWritten = (): void => {
    if (this.socket.writableLength === 0) schedule();
  };

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.decoder.feed(chunk, this.onPacket);
    } catch (e) {
      fail(`publisher ${this.index}: ${e instanceof Error ? e.message : String(e)}`);
      this.socket.destroy();
      return;
    }
    Atomics.store(acked, this.index, this.acks);
    schedule();
  };

  private readonly onPacket = (p: Packet): void => {
    if (p.type === 'puback' && this.busyIds && this.busyIds[p.packetId] === 1) {
      this.busyIds[p.packetId] = 0;
      this.inflight--;
      this.acks++;
    }
  };

  close(): void {
    this.socket.removeAllListeners('close');
    this.conn.onChunk = () => {};
    this.socket.destroy();
  }
}

const pubs: Pub[] = [];

// ---------------------------------------------------------------- closed loop

let pumpScheduled = false;
let waitingForCredit = false;

function schedule(): void {
  if (pumpScheduled || finishing) return;
  pumpScheduled = true;
  setImmediate(config.mode === 'open' ? openLoop : pump);
}

function phase(): number {
  return Atomics.load(ctl, CTL.PHASE);
}

function stopped(): boolean {
  if (finishing || phase() === PHASE.STOP) return true;
  if (totalSent >= config.maxMessages) {
    if (!capped) {
      capped = true;
      Atomics.store(ctl, CTL.CAPPED, 1);
    }
    return true;
  }
  return false;
}

function pump(): void {
  pumpScheduled = false;
  let lackCredit = false;
  // A few rounds over all publishers, then yield so acknowledgements and write completions get in.
  for (let round = 0; round < 8; round++) {
    let wrote = false;
    lackCredit = false;
    for (let k = 0; k < pubs.length; k++) {
      if (stopped()) return;
      const p = pubs[k]!;
      if (p.socket.writableLength > 0) continue; // its write callback reschedules
      let n = p.credit();
      if (n < lowWater) {
        if (p.e2eCredit() < lowWater && (!qos1 || config.window - p.inflight >= lowWater) && nowNs() - p.lastWriteNs > stallNs) {
          // The window has not moved for stallMs: the broker dropped what is outstanding. Count it lost and reopen.
          Atomics.add(ctl, CTL.STALLS, 1);
          p.forgiven += p.outstanding();
          n = p.credit();
        }
        if (n < lowWater) {
          lackCredit = true;
          continue;
        }
      }
      if (n > config.batch) n = config.batch;
      if (n > config.maxMessages - totalSent) n = config.maxMessages - totalSent;
      p.write(n, nowNs(), phase() === PHASE.MEASURE ? FLAG_MEASURED : 0, 0, 0);
      wrote = true;
    }
    if (!wrote) break;
  }
  // PUBACKs and write completions reschedule; so does the subscriber thread's progress, when asked.
  if (lackCredit) waitForCredit();
}

const stallNs = config.stallMs * 1e6;
/** End-to-end window (QoS 1 without one: unbounded). */
const e2eWindow = config.e2eWindow > 0 ? config.e2eWindow : 2 ** 30;
/**
 * A publisher refills its window only once at least a quarter of it is free,
 * so a broker that hands out messages one by one does not make the generator
 * write (and wake) once per message.
 */
const lowWater = Math.max(1, Math.floor((qos1 ? config.window : e2eWindow) / 4));

/** Sleep until the subscriber thread reports enough progress (or a PUBACK comes, or stallMs passes). */
function waitForCredit(): void {
  if (waitingForCredit) return;
  waitingForCredit = true;
  const seen = Atomics.load(ctl, CTL.WAKE);
  // Ask to be woken when a quarter of what is in flight has arrived (all of it arrives unless the broker drops).
  let inFlight = 0;
  for (const p of pubs) inFlight += p.inFlightDeliveries();
  Atomics.store(ctl, CTL.WAKE_AT, Atomics.load(ctl, CTL.RECV_TOTAL) + Math.max(1, Math.floor(inFlight / 4)));
  Atomics.store(ctl, CTL.PUB_WAITING, 1);
  // Progress may have come between the last credit check and the flag: check again.
  if (pubs.some((p) => p.credit() >= lowWater && p.socket.writableLength === 0)) {
    Atomics.store(ctl, CTL.PUB_WAITING, 0);
    waitingForCredit = false;
    schedule();
    return;
  }
  void waitAsync(ctl, CTL.WAKE, seen, config.stallMs).then(() => {
    waitingForCredit = false;
    Atomics.store(ctl, CTL.PUB_WAITING, 0);
    schedule();
  });
}

// ---------------------------------------------------------------- open loop

let t0 = 0;
let interval = 0;
const sleepCell = ctl;

function dueOf(p: Pub, k: number): number {
  return t0 + (k * P + p.index) * interval;
}

function openLoop(): void {
  pumpScheduled = false;
  if (stopped()) return;
  const now = nowNs();
  const flags = phase() === PHASE.MEASURE ? FLAG_MEASURED : 0;
  let next = Infinity;
  for (let k = 0; k < pubs.length; k++) {
    const p = pubs[k]!;
    if (p.socket.writableLength === 0) {
      let n = 0;
      while (n < config.batch && dueOf(p, p.scheduled + n) <= now) n++;
      if (n > config.maxMessages - totalSent) n = config.maxMessages - totalSent;
      if (n > 0) {
        p.write(n, now, flags, dueOf(p, p.scheduled), interval * P);
        p.scheduled += n;
      }
    }
    const due = dueOf(p, p.scheduled);
    if (due < next) next = due;
  }
  // Sleep (blocking this thread, not the subscriber's) until about the next due time — Atomics.wait wakes
  // ~70 µs late — but at least MIN_GAP: waking for every message of a dense schedule (or spinning through
  // setImmediate until it is due) costs more CPU than the few tens of µs of send lag it saves.
  const target = Math.max(next, now + MIN_GAP_NS);
  const wait = target - nowNs() - FUTEX_LATE_NS;
  if (wait > 0) Atomics.wait(sleepCell, CTL.SLEEP, 0, Math.min(wait, 50_000_000) / 1e6);
  schedule();
}

const MIN_GAP_NS = 100_000;
const FUTEX_LATE_NS = 70_000;

// ---------------------------------------------------------------- lifecycle

async function main(): Promise<void> {
  for (let i = 0; i < P; i += 8) {
    const group = [];
    for (let k = i; k < Math.min(P, i + 8); k++) {
      group.push(openMqtt({ host: config.host, port: config.port, noDelay: config.noDelay, clientId: `${config.clientIdPrefix}p${k}`, timeoutMs: 10_000 })
        .then((c) => new Pub(k, c)));
    }
    pubs.push(...(await Promise.all(group)));
  }
  post({ type: 'ready', tid: currentThreadId() });
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'start') {
    if (config.mode === 'open') {
      interval = 1e9 / config.rate;
      t0 = nowNs() + 1_000_000;
    }
    schedule();
    return;
  }
  finishing = true;
  for (const p of pubs) p.close();
  post({ type: 'done', sendLag: config.mode === 'open' ? summarize(sendLag) : undefined });
});

main().catch((e: unknown) => fail(`publisher setup: ${e instanceof Error ? e.message : String(e)}`));

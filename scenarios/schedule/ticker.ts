/**
 * A precise wake-up for the open-loop scheduler that does not block the
 * event loop: a worker thread sleeps on a futex (Atomics.wait, woken within
 * tens of µs) until the instant asked for, then posts a message; the main
 * thread, idle in its event loop meanwhile, runs the sends when the message
 * arrives. Node's timers alone fire ~1 ms late or more, which would be
 * schedule error added to every latency from the intended time; a futex
 * wait on the main thread would be precise but would stop the process from
 * reading its sockets (the collector's receipts) while it waits.
 *
 * If the main thread is busy when the message comes, the sends happen late
 * and the schedule error shows it.
 */
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const flag = new Int32Array(workerData);
parentPort.on('message', (until) => {
  const t = BigInt(until);
  for (;;) {
    if (Atomics.load(flag, 0) === 1) return;
    const rem = Number(t - process.hrtime.bigint());
    if (rem <= 0) break;
    Atomics.wait(flag, 0, 0, Math.min(rem / 1e6, 50));
  }
  parentPort.postMessage(0);
});
`;

export class Ticker {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;
  private pending: (() => void) | undefined;
  private closed = false;

  constructor() {
    this.worker = new Worker(WORKER, { eval: true, workerData: this.flag.buffer });
    this.worker.unref();
    this.worker.on('message', () => {
      const p = this.pending;
      this.pending = undefined;
      p?.();
    });
    this.worker.on('error', () => this.close());
  }

  /** Resolves at (shortly after) monotonic instant `t`, or at once when closed. */
  wakeAt(t: bigint): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.pending = resolve;
      this.worker.postMessage(String(t));
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
    const p = this.pending;
    this.pending = undefined;
    p?.();
    void this.worker.terminate();
  }
}

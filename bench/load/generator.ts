/**
 * The load generator process (spawned by bench/broker.bench.ts, one per run,
 * talking over the IPC channel). For a load run it starts two worker threads
 * — publishers (load/publisher.ts) and subscribers (load/subscriber.ts) —
 * each with its own event loop and heap, sharing counters in a
 * SharedArrayBuffer. This thread only keeps time: warm-up, the measured
 * window (counters and CPU times read at both ends), stop, drain, and
 * collects the results. For the idle test it opens the connections itself.
 * It exits when the orchestrator goes away.
 */
import { Worker } from 'node:worker_threads';
import { openIdle, type IdleSet } from './idle.js';
import { clockTicksPerSecond, machineCpu, processCpuSeconds, threadCpuSeconds } from '../../harness/meters/procfs.js';
import {
  CTL, type FromGenerator, type FromWorker, type LatencySummary, type LoadConfig, type LoadResult, nowNs, PHASE, sharedBytes,
  sharedCounters, sum, type ToGenerator, type ToWorker, type WorkerInit,
} from './protocol.js';

function send(m: FromGenerator): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(m, undefined, {}, () => resolve());
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class WorkerHandle {
  readonly worker: Worker;
  tid: number | undefined;
  private waiters: { type: FromWorker['type']; resolve: (m: FromWorker) => void }[] = [];
  private readonly inbox: FromWorker[] = [];
  error: string | undefined;
  private onError: ((message: string) => void) | undefined;

  constructor(file: string, init: WorkerInit, readonly name: string) {
    this.worker = new Worker(new URL(file, import.meta.url), { workerData: init });
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'error') {
        this.fail(m.message);
        return;
      }
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
      else this.inbox.push(m); // arrived before anyone asked for it
    });
    this.worker.on('error', (e) => this.fail(`${name} thread crashed: ${e.stack ?? e.message}`));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(`${name} thread exited with code ${code}`);
    });
  }

  private fail(message: string): void {
    if (this.error !== undefined) return;
    this.error = message;
    this.onError?.(message);
  }

  /** Rejects as soon as the worker reports an error. */
  watch(onError: (message: string) => void): void {
    this.onError = onError;
    if (this.error !== undefined) onError(this.error);
  }

  next<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    const early = this.inbox.findIndex((m) => m.type === type);
    if (early >= 0) return Promise.resolve(this.inbox.splice(early, 1)[0] as Extract<FromWorker, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} thread: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<FromWorker, { type: T }>);
        },
      });
    });
  }

  post(m: ToWorker): void {
    this.worker.postMessage(m);
  }
}

interface Snapshot {
  t: number;
  sent: number;
  recv: number;
  process: NodeJS.CpuUsage;
  pubThread: number | undefined;
  subThread: number | undefined;
  broker: number | undefined;
  machine: number | undefined;
}

async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const P = config.publishers;
  const S = config.subscribers;
  const sab = new SharedArrayBuffer(sharedBytes(P, S));
  const c = sharedCounters(sab, P, S);
  const init: WorkerInit = { config, shared: sab };
  const sub = new WorkerHandle('./subscriber.js', init, 'subscriber');
  const pub = new WorkerHandle('./publisher.js', init, 'publisher');
  let failure: string | undefined;
  const failed = new Promise<never>((_, reject) => {
    const onError = (message: string): void => {
      failure ??= message;
      reject(new Error(message));
    };
    sub.watch(onError);
    pub.watch(onError);
  });
  failed.catch(() => { /* observed through `failure` and the races below */ });

  const snapshot = (): Snapshot => ({
    t: nowNs(),
    sent: sum(c.sent),
    recv: sum(c.recv),
    process: process.cpuUsage(),
    pubThread: pub.tid !== undefined ? threadCpuSeconds(pub.tid) : undefined,
    subThread: sub.tid !== undefined ? threadCpuSeconds(sub.tid) : undefined,
    broker: config.brokerPid !== undefined ? processCpuSeconds(config.brokerPid) : undefined,
    machine: machineCpu()?.busy,
  });
  /** Sleeps ms, waking early when the publishers hit the message bound or a worker fails. */
  const hold = async (ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end && failure === undefined && Atomics.load(c.ctl, CTL.CAPPED) === 0) await sleep(Math.min(20, end - Date.now()));
  };

  try {
    // Subscribers first, so nothing published is missed.
    sub.tid = (await Promise.race([sub.next('ready', 30_000), failed])).tid;
    pub.tid = (await Promise.race([pub.next('ready', 30_000), failed])).tid;

    Atomics.store(c.ctl, CTL.PHASE, PHASE.WARMUP);
    pub.post({ type: 'start' });
    await hold(config.warmupMs);
    const a = snapshot();
    Atomics.store(c.ctl, CTL.PHASE, PHASE.MEASURE);
    await hold(config.durationMs);
    const b = snapshot();
    Atomics.store(c.ctl, CTL.PHASE, PHASE.STOP);
    if (failure !== undefined) throw new Error(failure);

    // Let the publisher thread see STOP (it may be in a write, or asleep for up to 50 ms) before counting what was sent.
    await sleep(100);
    // Drain: wait for what is still in flight.
    const drainEnd = Date.now() + config.drainMs;
    let expected = sum(c.sent) * S;
    while (sum(c.recv) < expected && Date.now() < drainEnd && failure === undefined) {
      await sleep(10);
      expected = sum(c.sent) * S;
    }
    const received = sum(c.recv);
    if (failure !== undefined) throw new Error(failure);

    const subDone = sub.next('done', 10_000);
    const pubDone = pub.next('done', 10_000);
    sub.post({ type: 'finish' });
    pub.post({ type: 'finish' });
    const [sd, pd] = await Promise.race([Promise.all([subDone, pubDone]), failed]);

    const seconds = (b.t - a.t) / 1e9;
    const pct = (x: number | undefined, y: number | undefined): number | undefined =>
      x !== undefined && y !== undefined ? Math.round(((y - x) / seconds) * 1000) / 10 : undefined;
    const genProcess = ((b.process.user - a.process.user) + (b.process.system - a.process.system)) / 1e6;
    const generatorProcess = Math.round((genProcess / seconds) * 1000) / 10;
    const broker = pct(a.broker, b.broker);
    const machine = pct(a.machine, b.machine);
    const sentInWindow = b.sent - a.sent;
    const recvInWindow = b.recv - a.recv;
    const emptySummary: LatencySummary = { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, hdr: '' };
    return {
      scenario: config.scenario,
      windowSeconds: Math.round(seconds * 1000) / 1000,
      sent: sentInWindow,
      received: recvInWindow,
      offeredPerSecond: Math.round((sentInWindow * S) / seconds),
      receivedPerSecond: Math.round(recvInWindow / seconds),
      totals: {
        sent: sum(c.sent),
        expected,
        received,
        gaps: sd.gaps ?? 0,
        outOfOrder: sd.outOfOrder ?? 0,
        stalls: Atomics.load(c.ctl, CTL.STALLS),
        capped: Atomics.load(c.ctl, CTL.CAPPED) === 1,
        drained: received >= expected,
      },
      latency: sd.latency ?? emptySummary,
      latencyUncorrected: sd.latencyUncorrected ?? emptySummary,
      sendLag: pd.sendLag,
      cpu: {
        seconds: Math.round(seconds * 1000) / 1000,
        generatorProcess,
        publisherThread: pct(a.pubThread, b.pubThread),
        subscriberThread: pct(a.subThread, b.subThread),
        broker,
        machine,
        others: machine !== undefined && broker !== undefined ? Math.max(0, Math.round((machine - broker - generatorProcess) * 10) / 10) : undefined,
      },
    };
  } finally {
    Atomics.store(c.ctl, CTL.PHASE, PHASE.STOP);
    await Promise.allSettled([sub.worker.terminate(), pub.worker.terminate()]);
  }
}

// Read USER_HZ now (it runs getconf), not inside a measured window.
clockTicksPerSecond();

let idle: IdleSet | undefined;

process.on('disconnect', () => {
  idle?.close();
  process.exit(1);
});

process.on('message', (m: ToGenerator) => {
  void (async () => {
    try {
      switch (m.type) {
        case 'run': {
          const result = await runLoad(m.config);
          await send({ type: 'result', result });
          process.exit(0);
          break;
        }
        case 'idle-open': {
          idle = await openIdle(m.config);
          await send({ type: 'idle-opened', opened: idle.opened });
          break;
        }
        case 'idle-close': {
          idle?.close();
          idle = undefined;
          await send({ type: 'idle-closed' });
          process.exit(0);
          break;
        }
      }
    } catch (e) {
      await send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      process.exit(1);
    }
  })();
});

/**
 * A fault-injecting TCP proxy on 127.0.0.1 (port 0) in front of any broker
 * address. Each accepted connection gets a fault plan (fault-plan.ts) whose
 * open choices are made by a generator seeded from (proxy seed, connection
 * index), so a run replays: cut (FIN or RST on both sides) at a byte offset
 * or after N packets or ms in a direction, black-hole a direction, delay with
 * jitter, split writes into small pieces, coalesce writes, and, in MQTT-aware
 * mode, a packet hook (packet-hook.ts) that drops, duplicates, delays,
 * reorders, rewrites or injects whole packets.
 *
 * ```ts
 * const proxy = await FaultProxy.start({ target: broker.url, seed: 7,
 *   plan: { cut: { mode: 'either', direction: 'either', at: { afterBytes: { min: 0, max: 50_000 } } } } });
 * // clients connect to proxy.url instead of the broker
 * proxy.cutAll('reset');                 // every open connection, now
 * proxy.setPlan({}, { existing: true }); // no more faults, also on open connections
 * proxy.stats();                         // connections, bytes each way, faults with timestamps
 * await proxy.close();
 * ```
 *
 * Sockets run with TCP_NODELAY (as transport.ts's clients do) unless told
 * otherwise; a pipe holding more than 1 MiB pauses its sender.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ProxiedConnection, type ConnectionRecord, type FaultKind } from './fault-connection.js';
import { validatePlan, type Direction, type FaultPlan, type PlanSource } from './fault-plan.js';
import { derivedRng } from './seeded-random.js';
import { parseBrokerUrl } from './transport.js';

export type { ConnectionRecord, FaultKind } from './fault-connection.js';
export type {
  Amount, CoalesceFault, CutFault, BlackholeFault, DelayFault, Direction, FaultPlan, PlanSource, ResolvedPlan, SplitFault, Trigger,
} from './fault-plan.js';
export type { PacketContext, PacketHook, PacketVerdict } from './packet-hook.js';

export interface FaultProxyOptions {
  /** The broker: `mqtt://host:port` (any TCP-based URL; TLS passes through as bytes) or `{ host, port }`. */
  target: string | { host: string; port: number };
  /** Faults for each new connection (default none: a plain relay). */
  plan?: PlanSource;
  /** Seed of the per-connection generators (default 1). */
  seed?: number;
  /** Listen address (default 127.0.0.1) and port (default 0: a free one). */
  host?: string;
  port?: number;
  /** TCP_NODELAY on both sockets of every connection (default true). */
  noDelay?: boolean;
  /** Fault events kept in stats().log and closed connections kept (default 10,000 and 1,000). */
  logLimit?: number;
  historyLimit?: number;
}

export interface FaultEvent {
  /** ms since the proxy started. */
  t: number;
  /** Epoch ms. */
  at: number;
  connection: number;
  kind: FaultKind;
  direction?: Direction;
  detail: string;
}

export interface ProxyStats {
  /** Epoch ms. */
  startedAt: number;
  connections: { accepted: number; open: number; closed: number };
  /** Bytes read from the sender, written to the receiver, swallowed (black hole, after a cut). */
  bytes: Record<'read' | 'written' | 'dropped', Record<Direction, number>>;
  /** Faults applied, by kind. */
  faults: Record<FaultKind, number>;
  /** The latest fault events (at most logLimit), oldest first. */
  log: FaultEvent[];
}

/** Errors of the proxy itself (not of what it proxies). */
export class FaultProxyError extends Error {
  override readonly name = 'FaultProxyError';
  constructor(readonly code: 'LISTEN_FAILED' | 'CLOSED', message: string) {
    super(message);
  }
}

const zero = (): Record<Direction, number> => ({ toBroker: 0, toClient: 0 });

export class FaultProxy {
  private plan: PlanSource;
  private readonly open = new Set<ProxiedConnection>();
  private readonly history: ConnectionRecord[] = [];
  private readonly log: FaultEvent[] = [];
  private readonly listeners = new Set<(e: FaultEvent) => void>();
  private readonly closeWaiters = new Set<() => void>();
  private accepted = 0;
  private closedCount = 0;
  private closing: Promise<void> | undefined;
  private readonly started = performance.now();
  private readonly startedAt = Date.now();
  private readonly bytes = { read: zero(), written: zero(), dropped: zero() };
  private readonly faults: Record<FaultKind, number> = {
    close: 0, reset: 0, blackhole: 0, 'upstream-failed': 0, 'decode-error': 0, 'hook-error': 0, 'framing-error': 0,
  };

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
    private readonly opts: FaultProxyOptions,
  ) {
    this.plan = opts.plan ?? {};
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    if (typeof opts.plan === 'object') validatePlan(opts.plan);
    const target = typeof opts.target === 'string' ? parseBrokerUrl(opts.target) : opts.target;
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const proxy = new FaultProxy(server, { host: target.host, port: target.port }, opts);
    server.on('connection', (s) => proxy.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new FaultProxyError('LISTEN_FAILED', `fault proxy could not listen: ${e.message}`)));
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get host(): string {
    return (this.server.address() as AddressInfo).address;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `mqtt://127.0.0.1:<port>`: give this to clients instead of the broker's URL. */
  get url(): string {
    return `mqtt://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** The plan for new connections; with `existing`, open connections switch too (their triggers count from now). */
  setPlan(plan: PlanSource, opts: { existing?: boolean } = {}): void {
    if (typeof plan === 'object') validatePlan(plan);
    this.plan = plan;
    if (!opts.existing) return;
    for (const c of this.open) {
      const p = typeof plan === 'function'
        ? plan({ index: c.index, remoteAddress: '', remotePort: 0 }, derivedRng(this.opts.seed ?? 1, c.index).fork(99))
        : plan;
      c.replan(p);
    }
  }

  /** Cuts every open connection now; returns how many. */
  cutAll(mode: 'close' | 'reset' = 'close'): number {
    let n = 0;
    for (const c of this.open) {
      if (!c.active) continue;
      c.cut(mode, 'cutAll');
      n++;
    }
    return n;
  }

  /** Records of the open connections. */
  connections(): ConnectionRecord[] {
    return [...this.open].map((c) => c.record);
  }

  /** Records of the latest closed connections (at most historyLimit), oldest first. */
  closedConnections(): ConnectionRecord[] {
    return [...this.history];
  }

  stats(): ProxyStats {
    return {
      startedAt: this.startedAt,
      connections: { accepted: this.accepted, open: this.open.size, closed: this.closedCount },
      bytes: { read: { ...this.bytes.read }, written: { ...this.bytes.written }, dropped: { ...this.bytes.dropped } },
      faults: { ...this.faults },
      log: [...this.log],
    };
  }

  /** Calls `fn` with every fault event as it happens; returns the unsubscribe function. */
  onFault(fn: (e: FaultEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves once no connection is open (e.g. after cutAll), or rejects after `timeoutMs`. */
  idle(timeoutMs = 5000): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        if (this.open.size > 0) return;
        clearTimeout(timer);
        this.closeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.closeWaiters.delete(done);
        reject(new FaultProxyError('CLOSED', `fault proxy: ${this.open.size} connection(s) still open after ${timeoutMs} ms`));
      }, timeoutMs);
      this.closeWaiters.add(done);
    });
  }

  /** Stops listening and destroys every connection; resolves when all their sockets are closed. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const c of this.open) c.destroy();
      await Promise.all([stopped, this.idle(10_000).catch(() => undefined)]);
    })());
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const index = this.accepted++;
    const rng = derivedRng(this.opts.seed ?? 1, index);
    const info = { index, remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0 };
    let plan: FaultPlan;
    try {
      plan = typeof this.plan === 'function' ? this.plan(info, rng) : this.plan;
      if (typeof this.plan === 'function') validatePlan(plan);
    } catch (e) {
      // A plan function that throws is a bug in the test: relay this connection unchanged and say so.
      this.record(index, 'hook-error', undefined, `plan function failed: ${(e as Error).message}`);
      plan = {};
    }
    const conn = new ProxiedConnection(socket, index, plan, rng, {
      target: this.target,
      noDelay: this.opts.noDelay ?? true,
      fault: (i, kind, d, detail) => this.record(i, kind, d, detail),
      bytes: (kind, d, n) => { this.bytes[kind][d] += n; },
      closed: (c) => this.closed(c),
    });
    this.open.add(conn);
  }

  private record(connection: number, kind: FaultKind, direction: Direction | undefined, detail: string): void {
    this.faults[kind]++;
    const e: FaultEvent = { t: Math.round(performance.now() - this.started), at: Date.now(), connection, kind, detail, ...(direction ? { direction } : {}) };
    this.log.push(e);
    if (this.log.length > (this.opts.logLimit ?? 10_000)) this.log.shift();
    for (const f of this.listeners) f(e);
  }

  private closed(c: ProxiedConnection): void {
    this.open.delete(c);
    this.closedCount++;
    this.history.push(c.record);
    if (this.history.length > (this.opts.historyLimit ?? 1000)) this.history.shift();
    for (const f of [...this.closeWaiters]) f();
  }
}

/**
 * One connection through the fault proxy: the client's socket, the socket to
 * the broker, a FaultPipe per direction, the plan's triggers (cut, black
 * hole) counted on the bytes read, and the optional packet hook. Sockets are
 * half-open capable so a FIN travels like any byte: after what came before it.
 */
import { connect, type Socket } from 'node:net';
import { DIRECTIONS, resolvePlan, type Direction, type FaultPlan, type ResolvedPlan, type ResolvedTrigger } from './fault-plan.js';
import { FaultPipe, type PipeConfig } from './fault-pipe.js';
import { FrameScanner } from './mqtt-framer.js';
import { PacketStage, type PacketHook, type PacketStats } from './packet-hook.js';
import type { Rng } from './seeded-random.js';

export type FaultKind = 'close' | 'reset' | 'blackhole' | 'upstream-failed' | 'decode-error' | 'hook-error' | 'framing-error';

/** Why a connection ended. */
export type ConnectionEnd = 'closed' | 'cut-close' | 'cut-reset' | 'upstream-failed' | 'proxy-closed';

export interface ConnectionRecord {
  index: number;
  remote: string;
  /** Epoch ms. */
  openedAt: number;
  closedAt?: number;
  end?: ConnectionEnd;
  plan: ResolvedPlan;
  /** Bytes read from the sending side, per direction. */
  read: Record<Direction, number>;
  /** Bytes written to the receiving side, per direction. */
  written: Record<Direction, number>;
  /** Bytes swallowed (black hole, after a cut), per direction. */
  dropped: Record<Direction, number>;
  packets?: PacketStats;
}

export interface ConnectionEnv {
  target: { host: string; port: number };
  noDelay: boolean;
  fault(conn: number, kind: FaultKind, direction: Direction | undefined, detail: string): void;
  bytes(kind: 'read' | 'written' | 'dropped', d: Direction, n: number): void;
  closed(conn: ProxiedConnection): void;
}

interface DirState {
  scanner: FrameScanner | undefined;
  /** Absolute stream offsets / packet counts at which the triggers fire. */
  cutAt: { bytes?: number; packets?: number } | undefined;
  holeAt: { bytes?: number; packets?: number } | undefined;
  blackholed: boolean;
}

/** How long a cut 'close' waits for the peer's FIN before destroying the socket. */
const CLOSE_GRACE_MS = 1000;
/** After one side closed cleanly, how long the other may take to finish. */
const HALF_CLOSE_GRACE_MS = 5000;

export class ProxiedConnection {
  readonly record: ConnectionRecord;
  private readonly broker: Socket;
  private readonly pipes = {} as Record<Direction, FaultPipe>;
  private readonly dirs = {} as Record<Direction, DirState>;
  private stage: PacketStage | undefined;
  private hook: PacketHook | undefined;
  private state: 'connecting' | 'open' | 'cut' | 'done' = 'connecting';
  private readonly timers = new Set<NodeJS.Timeout>();
  private clientClosed = false;
  private brokerClosed = false;
  private readonly paused: Record<Direction, boolean> = { toBroker: false, toClient: false };

  constructor(
    private readonly client: Socket,
    readonly index: number,
    plan: FaultPlan,
    private readonly rng: Rng,
    private readonly env: ConnectionEnv,
  ) {
    const resolved = resolvePlan(plan, rng);
    this.hook = plan.packets;
    this.record = {
      index, remote: `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`, openedAt: Date.now(), plan: resolved,
      read: { toBroker: 0, toClient: 0 }, written: { toBroker: 0, toClient: 0 }, dropped: { toBroker: 0, toClient: 0 },
    };
    client.setNoDelay(env.noDelay);
    client.pause();
    client.on('error', () => { /* seen as 'close' with hadError */ });
    client.on('close', (hadError) => this.onClose('client', hadError));
    const broker = connect({ host: env.target.host, port: env.target.port, allowHalfOpen: true });
    this.broker = broker;
    broker.on('error', (e) => {
      if (this.state === 'connecting') {
        this.record.end = 'upstream-failed';
        this.env.fault(index, 'upstream-failed', undefined, e.message);
      }
    });
    broker.on('close', (hadError) => this.onClose('broker', hadError));
    broker.once('connect', () => this.open());
  }

  /** Open and not cut. */
  get active(): boolean {
    return this.state === 'open' || this.state === 'connecting';
  }

  private open(): void {
    if (this.state !== 'connecting') return;
    const broker = this.broker;
    broker.setNoDelay(this.env.noDelay);
    this.state = 'open';
    const sockets: Record<Direction, { src: Socket; dst: Socket }> = {
      toBroker: { src: this.client, dst: broker },
      toClient: { src: broker, dst: this.client },
    };
    for (const d of DIRECTIONS) {
      const { src, dst } = sockets[d];
      this.pipes[d] = new FaultPipe(dst, {}, this.rng.fork(d === 'toBroker' ? 1 : 2), {
        backpressure: (on) => this.pause(d, src, on),
        written: (n) => { this.record.written[d] += n; this.env.bytes('written', d, n); },
        marker: (m) => (m === 'cut' ? this.cut(this.record.plan.cut?.mode ?? 'close', 'plan') : this.endTowards(dst)),
      });
      src.on('data', (chunk: Buffer) => this.onData(d, chunk));
      src.on('end', () => this.onEnd(d));
    }
    this.apply(this.record.plan); // the latest plan: replan() may have run while connecting
    this.client.resume();
  }

  /** A new plan for this open connection: triggers count from now; the hook is swapped, never added mid-stream. */
  replan(plan: FaultPlan): void {
    if (this.state !== 'open' && this.state !== 'connecting') return;
    const resolved = resolvePlan(plan, this.rng);
    if (this.stage) this.hook = plan.packets;
    resolved.packets = this.stage !== undefined;
    this.record.plan = resolved;
    if (this.state === 'open') this.apply(resolved);
  }

  private apply(plan: ResolvedPlan): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const d of DIRECTIONS) {
      const prev = this.dirs[d];
      const read = this.record.read[d];
      const packetsSoFar = prev?.scanner?.count ?? 0;
      const abs = (t: ResolvedTrigger | undefined): { bytes?: number; packets?: number } | undefined => {
        if (!t || 'afterMs' in t) return undefined;
        return 'afterBytes' in t ? { bytes: read + t.afterBytes } : { packets: packetsSoFar + t.afterPackets };
      };
      const cutAt = plan.cut?.direction === d ? abs(plan.cut.at) : undefined;
      const holeAt = plan.blackhole?.directions.includes(d) ? abs(plan.blackhole.at) : undefined;
      const needScanner = cutAt?.packets !== undefined || holeAt?.packets !== undefined;
      this.dirs[d] = {
        scanner: needScanner ? (prev?.scanner ?? new FrameScanner()) : prev?.scanner,
        cutAt, holeAt,
        blackholed: plan.blackhole?.directions.includes(d) === true && plan.blackhole.at === undefined,
      };
      if (this.dirs[d].blackholed && !prev?.blackholed) this.env.fault(this.index, 'blackhole', d, 'from the start');
      const cfg: PipeConfig = { delay: plan.delay[d], split: plan.split[d], coalesce: plan.coalesce[d] };
      this.pipes[d].setConfig(cfg);
    }
    const cut = plan.cut;
    if (cut && 'afterMs' in cut.at) {
      const ms = cut.at.afterMs;
      this.timer(ms, () => this.cut(cut.mode, `plan: after ${ms} ms`));
    }
    const hole = plan.blackhole;
    if (hole?.at && 'afterMs' in hole.at) {
      const ms = hole.at.afterMs;
      this.timer(ms, () => {
        for (const d of hole.directions) this.startBlackhole(d, `plan: after ${ms} ms`);
      });
    }
    if (plan.packets && this.hook && !this.stage) {
      this.stage = new PacketStage(
        (p, ctx) => this.hook?.(p, ctx),
        this.index,
        (d, bytes) => this.pipes[d].push(bytes),
        (kind, d, detail) => this.env.fault(this.index, kind, d, detail),
      );
      this.record.packets = this.stage.stats;
    }
  }

  private timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  private pause(d: Direction, src: Socket, on: boolean): void {
    if (this.paused[d] === on) return;
    this.paused[d] = on;
    if (on) src.pause();
    else if (this.state === 'open') src.resume();
  }

  private onData(d: Direction, chunk: Buffer): void {
    this.record.read[d] += chunk.length;
    this.env.bytes('read', d, chunk.length);
    if (this.state !== 'open') return this.drop(d, chunk.length);
    const s = this.dirs[d];
    const start = this.record.read[d] - chunk.length;
    // Offsets (in this chunk) where a trigger of this direction fires.
    const events: { at: number; what: 'cut' | 'hole' }[] = [];
    const byBytes = (target: number | undefined, what: 'cut' | 'hole'): void => {
      if (target !== undefined && target >= start && target < start + chunk.length) events.push({ at: target - start, what });
    };
    byBytes(s.cutAt?.bytes, 'cut');
    if (!s.blackholed) byBytes(s.holeAt?.bytes, 'hole');
    if (s.scanner) {
      try {
        let pos = 0;
        while (pos < chunk.length) {
          const end = s.scanner.next(chunk, pos);
          if (end < 0) break;
          pos = end;
          if (s.cutAt?.packets === s.scanner.count) events.push({ at: end, what: 'cut' });
          if (!s.blackholed && s.holeAt?.packets === s.scanner.count) events.push({ at: end, what: 'hole' });
        }
      } catch (e) {
        this.env.fault(this.index, 'framing-error', d, `packet triggers off: ${(e as Error).message}`);
        s.scanner = undefined;
      }
    }
    if (events.length === 0) return this.forward(d, chunk);
    events.sort((a, b) => a.at - b.at);
    let pos = 0;
    for (const e of events) {
      if (e.at > pos) this.forward(d, chunk.subarray(pos, e.at));
      pos = Math.max(pos, e.at);
      if (e.what === 'hole') {
        this.startBlackhole(d, `plan: at byte ${start + e.at}${s.scanner ? `, packet ${s.scanner.count}` : ''}`);
      } else {
        s.cutAt = undefined;
        this.drop(d, chunk.length - pos);
        this.pipes[d].mark('cut');
        return;
      }
    }
    if (pos < chunk.length) this.forward(d, chunk.subarray(pos));
  }

  private forward(d: Direction, bytes: Buffer): void {
    if (this.dirs[d].blackholed) return this.drop(d, bytes.length);
    if (this.stage) this.stage.input(d, bytes);
    else this.pipes[d].push(bytes);
  }

  private drop(d: Direction, n: number): void {
    if (n <= 0) return;
    this.record.dropped[d] += n;
    this.env.bytes('dropped', d, n);
  }

  private startBlackhole(d: Direction, why: string): void {
    const s = this.dirs[d];
    if (s.blackholed) return;
    s.blackholed = true;
    this.env.fault(this.index, 'blackhole', d, why);
  }

  /** FIN from the sending side of `d`: passed on after the bytes before it, unless `d` is a black hole. */
  private onEnd(d: Direction): void {
    if (this.state !== 'open' || this.dirs[d].blackholed) return;
    this.pipes[d].mark('end');
  }

  private endTowards(dst: Socket): void {
    if (!dst.destroyed && !dst.writableEnded) dst.end();
  }

  /** Cuts the connection now: 'close' ends both sockets (FIN), 'reset' resets both (RST). */
  cut(mode: 'close' | 'reset', why: string): void {
    if (this.state === 'cut' || this.state === 'done') return;
    const wasConnecting = this.state === 'connecting';
    this.state = 'cut';
    this.env.fault(this.index, mode, this.record.plan.cut?.direction, why);
    this.record.end = mode === 'close' ? 'cut-close' : 'cut-reset';
    this.stopStages();
    for (const s of [this.client, this.broker]) {
      if (s.destroyed) continue;
      if (mode === 'reset' && !(wasConnecting && s === this.broker)) {
        s.resetAndDestroy();
      } else {
        // Keep reading (and discarding) until the peer's FIN: closing with unread bytes would send RST.
        s.resume();
        s.end();
        this.timer(CLOSE_GRACE_MS, () => s.destroy());
        s.once('end', () => s.destroy());
      }
    }
  }

  /** Ends the connection at once (proxy shutdown). */
  destroy(): void {
    if (this.state === 'done') return;
    this.record.end ??= 'proxy-closed';
    this.state = 'cut';
    this.stopStages();
    this.client.destroy();
    this.broker.destroy();
  }

  private stopStages(): void {
    for (const d of DIRECTIONS) this.pipes[d]?.close();
    this.stage?.close();
  }

  private onClose(side: 'client' | 'broker', hadError: boolean): void {
    if (side === 'client') this.clientClosed = true;
    else this.brokerClosed = true;
    if (this.state === 'connecting') {
      // The client left before the broker answered, or the broker could not be reached.
      this.state = 'cut';
      this.client.destroy();
      this.broker.destroy();
    } else if (this.state === 'open') {
      const other = side === 'client' ? this.broker : this.client;
      const d: Direction = side === 'client' ? 'toBroker' : 'toClient';
      if (this.dirs[d].blackholed) {
        // A black hole swallows the close too: the other side is left half-open, as on a dead link.
      } else if (hadError) {
        this.stopStages();
        if (!other.destroyed) other.resetAndDestroy();
      } else {
        // A clean close: its FIN is queued behind the data in pipe d; give the other side time to finish.
        this.timer(HALF_CLOSE_GRACE_MS, () => other.destroy());
      }
    }
    if (this.clientClosed && this.brokerClosed) this.done();
  }

  private done(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.stopStages();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.record.end ??= 'closed';
    this.record.closedAt = Date.now();
    this.env.closed(this);
  }
}

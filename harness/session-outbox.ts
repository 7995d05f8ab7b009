/**
 * The sending side of a session (session-client.ts): messages waiting for
 * the window, QoS 1/2 messages in flight with their Packet Identifiers and
 * what of them is unacknowledged, in the order first sent — the state a
 * session keeps across connections. It decides what to send; the client
 * writes it.
 */
import type { Packet, PubackPacket, PubcompPacket, PubrecPacket } from '../codec/index.js';

export type OutboxFailure = 'SESSION_LOST' | 'REFUSED' | 'CLOSED';

interface Outgoing {
  packetId: number;
  topic: string;
  payload: Buffer;
  qos: 1 | 2;
  /** What is unacknowledged: the PUBLISH, or (QoS 2 after PUBREC) the PUBREL. */
  phase: 'publish' | 'pubrel';
  resolve: () => void;
  reject: (code: OutboxFailure, why: string) => void;
}

type Pending = Omit<Outgoing, 'packetId' | 'phase'>;

export type AckOutcome =
  | { kind: 'unexpected' }
  /** The flow ended (PUBACK, PUBCOMP, or a refusing PUBREC); room in the window. */
  | { kind: 'done'; refused: boolean }
  /** PUBREC accepted: send this PUBREL. */
  | { kind: 'pubrel'; packet: Packet };

export class Outbox {
  /** In flight, in the order first sent (Map keeps insertion order: the resend order). */
  private readonly inFlight = new Map<number, Outgoing>();
  private readonly waiting: Pending[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  private nextId = 1;

  constructor(private readonly window: number, private readonly v5: boolean) {}

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get queuedCount(): number {
    return this.waiting.length;
  }

  add(topic: string, payload: Buffer, qos: 1 | 2, resolve: () => void, reject: (code: OutboxFailure, why: string) => void): void {
    this.waiting.push({ topic, payload, qos, resolve, reject });
  }

  /** Resolves when one more message fits (in flight + queued < window). */
  space(): Promise<void> {
    if (this.inFlight.size + this.waiting.length < this.window) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** A Packet Identifier not in flight (the SUBSCRIBE takes one too) [MQTT-2.3.1-2]. */
  allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
      if (!this.inFlight.has(id)) return id;
    }
  }

  /** First sends of waiting messages while fewer than `limit` are in flight. */
  take(limit: number): Packet[] {
    const out: Packet[] = [];
    while (this.waiting.length > 0 && this.inFlight.size < limit) {
      const p = this.waiting.shift()!;
      const m: Outgoing = { ...p, packetId: this.allocateId(), phase: 'publish' };
      this.inFlight.set(m.packetId, m);
      out.push({ type: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: false, dup: false, packetId: m.packetId });
    }
    return out;
  }

  /** What goes again after a reconnect with a session present, in the order first sent [MQTT-4.4.0-1] [MQTT-4.6.0-1]. */
  resend(): { packets: Packet[]; publishes: number; pubrels: number } {
    const packets: Packet[] = [];
    let publishes = 0;
    for (const m of this.inFlight.values()) {
      if (m.phase === 'publish') {
        publishes++;
        packets.push({ type: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, retain: false, dup: true, packetId: m.packetId });
      } else packets.push(this.pubrel(m.packetId));
    }
    return { packets, publishes, pubrels: packets.length - publishes };
  }

  onAck(p: PubackPacket | PubrecPacket | PubcompPacket): AckOutcome {
    const m = this.inFlight.get(p.packetId);
    const rc = p.reasonCode ?? 0;
    if (p.type === 'pubrec') {
      if (!m || m.qos !== 2) return { kind: 'unexpected' };
      if (rc >= 0x80) return this.end(m, `PUBREC 0x${rc.toString(16)}`);
      m.phase = 'pubrel'; // from now on the PUBLISH is never sent again [MQTT-4.3.3-6]
      return { kind: 'pubrel', packet: this.pubrel(m.packetId) };
    }
    const expected = p.type === 'puback' ? m?.qos === 1 && m.phase === 'publish' : m?.qos === 2 && m.phase === 'pubrel';
    if (!m || !expected) return { kind: 'unexpected' };
    // A PUBCOMP ≥ 0x80 (0x92: identifier not found) still ends the flow: the PUBREC < 0x80 before it
    // accepted the message; the broker completed it while our copy of its PUBCOMP was lost.
    return this.end(m, p.type === 'puback' && rc >= 0x80 ? `PUBACK 0x${rc.toString(16)}` : undefined);
  }

  /** Drops everything in flight (session lost): returns how many. Waiting messages stay. */
  discardInFlight(code: OutboxFailure, why: string): number {
    const n = this.inFlight.size;
    for (const m of this.inFlight.values()) m.reject(code, why);
    this.inFlight.clear();
    return n;
  }

  /** Fails everything, waiting messages too (the client closes). */
  failAll(code: OutboxFailure, why: string): void {
    this.discardInFlight(code, why);
    for (const m of this.waiting.splice(0)) m.reject(code, why);
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  /** Wakes callers of space() while there is room. */
  wake(): void {
    while (this.spaceWaiters.length > 0 && this.inFlight.size + this.waiting.length < this.window) this.spaceWaiters.shift()!();
  }

  private end(m: Outgoing, refusal: string | undefined): AckOutcome {
    this.inFlight.delete(m.packetId);
    if (refusal) m.reject('REFUSED', refusal);
    else m.resolve();
    return { kind: 'done', refused: refusal !== undefined };
  }

  private pubrel(packetId: number): Packet {
    return { type: 'pubrel', packetId, ...(this.v5 ? { reasonCode: 0 } : {}) };
  }
}

/**
 * The bookkeeping of a delivery run: per message number, was it handed to
 * the publisher, acknowledged by the broker (PUBACK / PUBCOMP), failed, and
 * how often did the subscriber receive it. From that: losses (acknowledged,
 * never received: the broker took responsibility and did not deliver),
 * duplicates (receipts beyond the first), and order (a first receipt of a
 * lower number after a higher one: the broker reordered one publisher's
 * messages on one topic and QoS, 3.1.1 [MQTT-4.6.0-6], 5.0 [MQTT-4.6.0-5]).
 *
 * Messages carry their number in the payload: 4 bytes of run tag, then the
 * number as a 32-bit big-endian integer, then padding.
 */

export type PublishFailure = 'sessionLost' | 'refused' | 'closed';

const PUBLISHED = 1;
const ACKED = 2;
const FAILED = 4;

export interface OrderExample {
  /** The number received first … */
  seq: number;
  /** … after this higher number had already arrived. */
  after: number;
}

export interface LedgerSummary {
  published: number;
  acknowledged: number;
  failed: Record<PublishFailure, number>;
  /** Handed to the publisher, neither acknowledged nor failed when the run ended. */
  unsettled: number;
  /** Distinct messages received. */
  received: number;
  receipts: number;
  /** Acknowledged and never received: a broken guarantee. */
  lost: number;
  /** Up to 20 lost numbers, lowest first. */
  lostExamples: number[];
  /** Not acknowledged (failed or unsettled) and never received: not a broken guarantee, reported. */
  lostUnacknowledged: number;
  /** Receipts beyond the first of a message. */
  duplicates: number;
  /** Of those, how many carried DUP 1. */
  duplicatesFlaggedDup: number;
  /** Up to 20 duplicated numbers, lowest first. */
  duplicateExamples: number[];
  /** Receipts that were not messages of this run (wrong tag or size). */
  foreign: number;
  orderViolations: number;
  orderExamples: OrderExample[];
}

export function encodeMessage(tag: number, seq: number, size: number): Buffer {
  const b = Buffer.alloc(Math.max(8, size));
  b.writeUInt32BE(tag >>> 0, 0);
  b.writeUInt32BE(seq >>> 0, 4);
  return b;
}

export class DeliveryLedger {
  private readonly state: Uint8Array;
  private readonly count: Uint16Array;
  private readonly failures: Record<PublishFailure, number> = { sessionLost: 0, refused: 0, closed: 0 };
  private receipts = 0;
  private distinct = 0;
  private dupFlagged = 0;
  private foreign = 0;
  private maxFirst = -1;
  private order = 0;
  private readonly orderExamples: OrderExample[] = [];
  private highestPublished = -1;

  constructor(readonly tag: number, readonly capacity: number) {
    this.state = new Uint8Array(capacity);
    this.count = new Uint16Array(capacity);
  }

  published(seq: number): void {
    this.state[seq]! |= PUBLISHED;
    if (seq > this.highestPublished) this.highestPublished = seq;
  }

  acked(seq: number): void {
    this.state[seq]! |= ACKED;
  }

  failed(seq: number, why: PublishFailure): void {
    this.state[seq]! |= FAILED;
    this.failures[why]++;
  }

  /** A payload the subscriber got; returns the message number, or -1 for a foreign one. */
  received(payload: Buffer, dup: boolean): number {
    this.receipts++;
    if (payload.length < 8 || payload.readUInt32BE(0) !== this.tag >>> 0) {
      this.foreign++;
      return -1;
    }
    const seq = payload.readUInt32BE(4);
    if (seq >= this.capacity) {
      this.foreign++;
      return -1;
    }
    const n = this.count[seq]!;
    if (n < 0xffff) this.count[seq] = n + 1;
    if (n === 0) {
      this.distinct++;
      if (seq < this.maxFirst) {
        this.order++;
        if (this.orderExamples.length < 20) this.orderExamples.push({ seq, after: this.maxFirst });
      } else this.maxFirst = seq;
    } else if (dup) this.dupFlagged++;
    return seq;
  }

  /** Distinct messages received so far. */
  get receivedCount(): number {
    return this.distinct;
  }

  /** True when every acknowledged message has arrived. */
  allAcknowledgedReceived(): boolean {
    for (let i = 0; i <= this.highestPublished; i++) if ((this.state[i]! & ACKED) !== 0 && this.count[i] === 0) return false;
    return true;
  }

  summary(): LedgerSummary {
    let published = 0;
    let acknowledged = 0;
    let unsettled = 0;
    let lost = 0;
    let lostUnacknowledged = 0;
    let duplicates = 0;
    const lostExamples: number[] = [];
    const duplicateExamples: number[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const s = this.state[i]!;
      const c = this.count[i]!;
      if (c > 1) {
        duplicates += c - 1;
        if (duplicateExamples.length < 20) duplicateExamples.push(i);
      }
      if ((s & PUBLISHED) === 0) continue;
      published++;
      if (s & ACKED) acknowledged++;
      else if ((s & FAILED) === 0) unsettled++;
      if (c === 0) {
        if (s & ACKED) {
          lost++;
          if (lostExamples.length < 20) lostExamples.push(i);
        } else lostUnacknowledged++;
      }
    }
    return {
      published, acknowledged, failed: { ...this.failures }, unsettled, received: this.distinct, receipts: this.receipts,
      lost, lostExamples, lostUnacknowledged, duplicates, duplicatesFlaggedDup: this.dupFlagged, duplicateExamples,
      foreign: this.foreign, orderViolations: this.order, orderExamples: [...this.orderExamples],
    };
  }
}

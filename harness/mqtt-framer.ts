/**
 * Finds MQTT packet boundaries in a byte stream from the fixed header alone
 * (type byte + Remaining Length, 3.1.1 §2.2.3 / 5.0 §2.1.4), without
 * decoding bodies: the fault proxy counts packets for "cut after N packets"
 * and hands whole frames to the codec's Decoder in MQTT-aware mode, keeping
 * each frame's original bytes for byte-exact pass-through.
 */

/** The stream is not MQTT framing (a Remaining Length longer than four bytes). */
export class FramingError extends Error {
  override readonly name = 'FramingError';
  readonly code = 'BAD_FRAMING';
}

/** Boundary scanner: state carries across chunks. */
export class FrameScanner {
  /** 0: at a packet's first byte; 1: inside Remaining Length; 2: inside the body. */
  private phase = 0;
  private len = 0;
  private mult = 1;
  private lenBytes = 0;
  private left = 0;
  /** Packets completed so far. */
  count = 0;

  /** True when the scanner sits between packets. */
  get atBoundary(): boolean {
    return this.phase === 0;
  }

  /**
   * Scans `chunk` from `from`; returns the offset just after the next packet
   * that completes, or -1 when the chunk ends first (the partial packet is
   * remembered).
   */
  next(chunk: Buffer, from: number): number {
    let i = from;
    const end = chunk.length;
    while (i < end) {
      if (this.phase === 0) {
        this.phase = 1;
        this.len = 0;
        this.mult = 1;
        this.lenBytes = 0;
        i++;
      } else if (this.phase === 1) {
        const b = chunk[i++]!;
        this.len += (b & 0x7f) * this.mult;
        this.mult *= 128;
        this.lenBytes++;
        if (b & 0x80) {
          if (this.lenBytes === 4) throw new FramingError('Remaining Length longer than 4 bytes: not an MQTT stream');
          continue;
        }
        if (this.len === 0) return this.complete(i);
        this.phase = 2;
        this.left = this.len;
      } else {
        const take = Math.min(this.left, end - i);
        i += take;
        this.left -= take;
        if (this.left === 0) return this.complete(i);
      }
    }
    return -1;
  }

  private complete(at: number): number {
    this.phase = 0;
    this.count++;
    return at;
  }
}

/** Whole frames out of arbitrary chunks. */
export class MqttFramer {
  private readonly scanner = new FrameScanner();
  private partial: Buffer[] = [];

  /** Bytes held of an incomplete frame. */
  get buffered(): number {
    return this.partial.reduce((n, b) => n + b.length, 0);
  }

  /** Calls `onFrame` with every frame `chunk` completes, in order. Throws FramingError on bad framing. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let start = 0;
    for (;;) {
      let end: number;
      try {
        end = this.scanner.next(chunk, start);
      } catch (e) {
        // Keep the unframed rest, so a caller falling back to raw bytes loses nothing.
        this.partial.push(chunk.subarray(start));
        throw e;
      }
      if (end < 0) {
        if (start < chunk.length) this.partial.push(chunk.subarray(start));
        return;
      }
      if (this.partial.length > 0) {
        const frame = Buffer.concat([...this.partial, chunk.subarray(start, end)]);
        this.partial = [];
        onFrame(frame);
      } else {
        onFrame(chunk.subarray(start, end));
      }
      start = end;
    }
  }

  /** Takes what is held of an incomplete frame (for raw pass-through after a failure). */
  drain(): Buffer {
    const b = Buffer.concat(this.partial);
    this.partial = [];
    return b;
  }
}

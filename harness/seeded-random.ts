/**
 * A small seeded pseudo-random generator (mulberry32) for fault plans and
 * delivery runs: the same seed gives the same choices, so a run that found
 * something can be replayed. Not for anything secret.
 */

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: no items');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** An independent generator for sub-stream `n` (connection n of a proxy, client n of a run). */
  fork(n: number): Rng {
    return new Rng(mix(this.state ^ Math.imul(n + 1, 0x9e3779b1)));
  }
}

/** Derives the generator of item `n` from a seed without consuming the parent's stream. */
export function derivedRng(seed: number, n: number): Rng {
  return new Rng(mix((seed >>> 0) ^ Math.imul(n + 1, 0x9e3779b1)));
}

/** A 32-bit avalanche (murmur3 finaliser) so neighbouring seeds give unrelated streams. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

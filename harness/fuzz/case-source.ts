/**
 * Where fuzz cases come from: fast-check samples of arbitraryFuzzCase, in
 * blocks of BLOCK_SIZE cases per seed. Case `index` of the block with seed
 * `seed` is exactly what `fc.check(property, { seed, path: String(index) })`
 * generates, so any case can be replayed — and shrunk — from its reference
 * `seed:index` (see replayCase and shrink.ts).
 */
import fc, { type Arbitrary } from 'fast-check';
import type { FuzzCase } from './case.js';

export const BLOCK_SIZE = 64;

/** Where a case came from: replay with fc.check({ seed, path }). */
export interface CaseRef {
  seed: number;
  /** fast-check path: the run index in the block, then the shrink steps (after shrinking). */
  path: string;
}

/** Seed of block `n` of a run seeded `runSeed` (int32 mixing, so neighbouring blocks do not share streams). */
export function blockSeed(runSeed: number, n: number): number {
  let h = Math.imul(runSeed ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(n + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return (h ^ (h >>> 13)) | 0;
}

export class CaseSource {
  private block = 0;
  private cases: FuzzCase[] = [];
  private seed = 0;
  private next = 0;

  constructor(private readonly arb: Arbitrary<FuzzCase>, private readonly runSeed: number) {}

  /** The next case and its reference (a block of BLOCK_SIZE is generated at once, about 10 ms). */
  take(): { c: FuzzCase; ref: CaseRef } {
    if (this.next >= this.cases.length) {
      this.seed = blockSeed(this.runSeed, this.block++);
      this.cases = fc.sample(this.arb, { seed: this.seed, numRuns: BLOCK_SIZE });
      this.next = 0;
    }
    const index = this.next++;
    return { c: this.cases[index]!, ref: { seed: this.seed, path: String(index) } };
  }
}

/** The case at `ref` (a path from a report includes the shrink steps). */
export async function replayCase(arb: Arbitrary<FuzzCase>, ref: CaseRef): Promise<FuzzCase> {
  let value: FuzzCase | undefined;
  // The property fails at once, so fast-check stops at the path without shrinking further.
  await fc.check(fc.asyncProperty(arb, async (c) => { value = c; return false; }), { seed: ref.seed, path: ref.path, numRuns: BLOCK_SIZE, endOnFailure: true });
  if (value === undefined) throw new Error(`no case at seed ${ref.seed}, path ${ref.path}`);
  return value;
}

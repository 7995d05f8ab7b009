/**
 * What a conformance test tells the reporter, carried in vitest's task meta
 * (serialised from the worker to the main process).
 */
import type { SpecVersionName, TraceEntryJson } from '../../results/types.js';

export interface ConformanceMeta {
  area: string;
  title: string;
  specVersion: SpecVersionName;
  statements: string[];
  /** Set for findings (the vitest test passes) and for skips. */
  status?: 'finding' | 'skip';
  reason?: string;
  trace?: TraceEntryJson[];
  seed?: number;
  counterexample?: string;
  target?: { name: string; url: string; profile: string; probed?: Record<string, { value: unknown; how: string }> };
}

declare module 'vitest' {
  interface TaskMeta {
    conformance?: ConformanceMeta;
  }
}

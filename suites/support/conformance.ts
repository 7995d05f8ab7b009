/**
 * conformance(title, { v4: [...statements], v5: [...] }, body): registers one
 * vitest test per protocol version the test applies to, runs the body with a
 * ConformanceContext, and leaves statements, status, reason and the packet
 * trace in the task meta for the results reporter.
 */
import { basename } from 'node:path';
import { test, type TestContext } from 'vitest';
import type { ProtocolVersion } from '../../codec/index.js';
import { missingCapability, type Capability } from '../../harness/profile.js';
import { redactUrl } from '../../harness/transport.js';
import { ConformanceContext, SkipTest, StatementFailure } from './context.js';
import type { ConformanceMeta } from './meta.js';
import { suiteProbed, suiteTarget } from './suite-target.js';
import './meta.js';

export interface ConformanceSpec {
  /** Statements checked when run as MQTT 3.1.1; omit when the test does not apply to 3.1.1. */
  v4?: string[];
  /** Statements checked when run as MQTT 5.0; omit when the test does not apply to 5.0. */
  v5?: string[];
  /** Capabilities the test needs; absent ones (per the profile) skip it with the profile's reason. */
  requires?: Capability[];
  /** Whole-test timeout, ms (default 15 s). */
  timeoutMs?: number;
  /** Run alone, not concurrently with the file's other tests (for tests that change broker-wide state). */
  serial?: boolean;
}

export type ConformanceBody = (t: ConformanceContext) => Promise<void>;

const VERSIONS: { v: ProtocolVersion; key: 'v4' | 'v5'; name: '3.1.1' | '5.0'; cap: Capability }[] = [
  { v: 4, key: 'v4', name: '3.1.1', cap: 'v3.1.1' },
  { v: 5, key: 'v5', name: '5.0', cap: 'v5.0' },
];

export function conformance(title: string, spec: ConformanceSpec, body: ConformanceBody): void {
  for (const { v, key, name, cap } of VERSIONS) {
    const statements = spec[key];
    if (!statements) continue;
    const register = spec.serial ? test : test.concurrent;
    register(`[${name}] ${title}`, { timeout: spec.timeoutMs ?? 15_000 }, async (vctx: TestContext) => {
      const area = basename(vctx.task.file.name).replace(/\.test\.ts$/, '');
      const meta: ConformanceMeta = { area, title, specVersion: name, statements: [...statements] };
      vctx.task.meta.conformance = meta;
      const target = await suiteTarget();
      meta.target = { name: target.profile.name, url: redactUrl(target.url), profile: target.profileSource, probed: suiteProbed() ?? {} };
      const missing = [cap, ...(spec.requires ?? [])].map((c) => missingCapability(target.profile, c)).find((m) => m !== undefined);
      if (missing) {
        meta.status = 'skip';
        meta.reason = missing;
        vctx.skip(missing);
        return;
      }
      const t = new ConformanceContext(target, v, statements);
      try {
        await body(t);
      } catch (e) {
        if (e instanceof SkipTest) {
          meta.status = 'skip';
          meta.reason = e.message;
          vctx.skip(e.message);
          return;
        }
        meta.trace = t.recorder.trace();
        const err = e instanceof Error ? e : new Error(String(e));
        const statement = e instanceof StatementFailure ? e.statement : undefined;
        err.message = `${err.message}\n  statements checked: ${statements.join(', ') || '(none)'}${statement ? `; broken: ${statement}` : ''}\n  target: ${target.profile.name} ${redactUrl(target.url)}\n  packet trace:\n${indent(t.recorder.format())}`;
        throw err;
      } finally {
        if (t.recordedSeed !== undefined) meta.seed = t.recordedSeed;
        if (t.recordedCounterexample !== undefined) meta.counterexample = t.recordedCounterexample;
        t.cleanup();
      }
      if (t.findingsList.length > 0) {
        meta.status = 'finding';
        meta.reason = t.findingsList.join('; ');
        meta.trace = t.recorder.trace();
      }
    });
  }
}

function indent(s: string): string {
  return s.split('\n').map((l) => `    ${l}`).join('\n');
}

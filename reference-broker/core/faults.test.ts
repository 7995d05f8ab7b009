/**
 * The fault table itself: names validated, nothing on by default, statement
 * ids real, and each fault read at a marked switch in the core. What each
 * switch does is in fault-switches.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { Broker } from './broker.js';
import { FakeClock } from './clock.js';
import { activeFaults, FAULT_NAMES, FAULTS, faultSet, NO_FAULTS, parseFaults, UnknownFaultError, type FaultName } from './faults.js';
import { resolveOptions } from './options.js';
import { memoryLogger, st, type LogLine } from './test-client.js';

describe('fault table', () => {
  test('no fault is active by default', () => {
    const broker = new Broker({ clock: new FakeClock() });
    expect(broker.opts.faults).toBe(NO_FAULTS);
    expect(activeFaults(broker.opts.faults)).toEqual([]);
    expect(Object.values(resolveOptions({}, new FakeClock()).faults).every((on) => on === false)).toBe(true);
    expect(faultSet([])).toBe(NO_FAULTS);
    expect(Object.keys(NO_FAULTS).sort()).toEqual([...FAULT_NAMES].sort());
  });

  test('only the faults given are on, and the broker warns that it breaks the spec', () => {
    const lines: LogLine[] = [];
    const broker = new Broker({ clock: new FakeClock(), faults: ['qos2-duplicate', 'suback-order'], logger: memoryLogger(lines) });
    expect(activeFaults(broker.opts.faults)).toEqual(['qos2-duplicate', 'suback-order']);
    expect(Object.isFrozen(broker.opts.faults)).toBe(true);
    expect(lines.filter((l) => l.level === 'warn').map((l) => [l.msg, l.fields])).toEqual([
      ['FAULTS ON: this broker breaks the spec on purpose (suite self-check)', { faults: 'qos2-duplicate,suback-order' }],
    ]);
  });

  test('an unknown fault name is an error with a stable code that lists the valid names', () => {
    expect(() => new Broker({ clock: new FakeClock(), faults: ['qos2-duplicate', 'qos3-duplicate' as FaultName] })).toThrow(UnknownFaultError);
    try {
      parseFaults('session-lost, nope,also-nope');
      expect.fail('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(UnknownFaultError);
      expect((e as UnknownFaultError).code).toBe('UNKNOWN_FAULT');
      expect((e as UnknownFaultError).unknown).toEqual(['nope', 'also-nope']);
      expect((e as Error).message).toBe(`unknown faults 'nope', 'also-nope'; valid faults: ${FAULT_NAMES.join(', ')}`);
    }
  });

  test('names are trimmed, empty entries ignored, repeats merged', () => {
    expect(parseFaults(' session-lost,,session-lost , suback-order ')).toEqual(['session-lost', 'suback-order']);
    expect(parseFaults('')).toEqual([]);
  });

  test('every statement a fault names exists in its spec version, and every fault names some or a section', () => {
    for (const name of FAULT_NAMES) {
      const info: (typeof FAULTS)[FaultName] = FAULTS[name];
      for (const [version, ids] of Object.entries(info.statements)) expect(() => st(version as '3.1.1' | '5.0', ids)).not.toThrow();
      expect(Object.values(info.statements).flat().length > 0 || 'section' in info, name).toBe(true);
    }
  });

  test('each fault is read at a switch marked "FAULT <name>" in the core sources', () => {
    const dir = new URL('.', import.meta.url);
    const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'faults.ts')
      .map((f) => readFileSync(new URL(f, dir), 'utf8')).join('\n');
    for (const name of FAULT_NAMES) {
      expect(sources.includes(`['${name}']`), `${name} is read`).toBe(true);
      expect(new RegExp(`FAULT [^\\n]*\\b${name}\\b`).test(sources), `${name} is marked`).toBe(true);
    }
  });
});

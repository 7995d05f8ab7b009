import { describe, expect, it } from 'vitest';
import {
  SPEC_VERSIONS,
  coverage,
  findStatement,
  hasStatement,
  sectionOf,
  statements,
  validateStatements,
  type SpecVersion,
  type Statement,
} from './catalogue.js';

/** Appendix B counts: 3.1.1 (OASIS Standard, doc), 5.0 (OASIS Standard). See README.md. */
const TOTAL: Record<SpecVersion, number> = { '3.1.1': 141, '5.0': 251 };
/** Pinned so that any change to an `observable` flag is a deliberate, reviewed edit. */
const OBSERVABLE: Record<SpecVersion, number> = { '3.1.1': 105, '5.0': 205 };

/** `MQTT-3.10.4-2` to [3, 10, 4, 2], for checking spec order. */
function numbers(id: string): number[] {
  return id.slice('MQTT-'.length).split(/[.-]/).map(Number);
}

function compareIds(a: string, b: string): number {
  const x = numbers(a);
  const y = numbers(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

function get(id: string, version: SpecVersion): Statement {
  const s = findStatement(id, version);
  if (s === undefined) throw new Error(`${id} missing from ${version}`);
  return s;
}

describe('counts', () => {
  it.each(SPEC_VERSIONS)('%s has the Appendix B number of statements', (v) => {
    expect(statements(v)).toHaveLength(TOTAL[v]);
  });

  it.each(SPEC_VERSIONS)('%s has the pinned number of observable statements', (v) => {
    expect(statements(v).filter((s) => s.observable)).toHaveLength(OBSERVABLE[v]);
  });

  it('statements() without a version returns both, 3.1.1 first', () => {
    const all = statements();
    expect(all).toHaveLength(TOTAL['3.1.1'] + TOTAL['5.0']);
    expect(all[0]?.version).toBe('3.1.1');
    expect(all[all.length - 1]?.version).toBe('5.0');
  });

  it('per-section counts match the spec for the big sections', () => {
    const count = (v: SpecVersion, section: string): number =>
      statements(v).filter((s) => s.section === section).length;
    expect(count('3.1.1', '3.1.2')).toBe(24);
    expect(count('3.1.1', '3.1.3')).toBe(11);
    expect(count('3.1.1', '2.3.1')).toBe(7);
    expect(count('5.0', '3.1.2')).toBe(30);
    expect(count('5.0', '3.2.2')).toBe(22);
    expect(count('5.0', '3.3.2')).toBe(20);
    expect(count('5.0', '4.3.3')).toBe(13);
  });
});

describe.each(SPEC_VERSIONS)('integrity of %s', (v) => {
  const list = statements(v);

  it('ids are unique, including aliases', () => {
    const names = list.flatMap((s) => [s.id, ...(s.aliases ?? [])]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('ids have the MQTT-x.y.z-n form and the section is the one the id encodes', () => {
    for (const s of list) {
      expect(s.id).toMatch(/^MQTT-\d+(\.\d+)*-\d+$/);
      expect(s.section).toBe(sectionOf(s.id));
      expect(s.id.startsWith(`MQTT-${s.section}-`)).toBe(true);
      expect(s.version).toBe(v);
    }
  });

  it('is in spec order', () => {
    const ids = list.map((s) => s.id);
    expect([...ids].sort(compareIds)).toEqual(ids);
  });

  it('numbers each section 1, 2, 3 ... without gaps, except where the spec itself skips', () => {
    // 5.0 has no MQTT-2.2.1-1: the spec starts that section at -2.
    const skips = new Set(v === '5.0' ? ['MQTT-2.2.1-1'] : []);
    const bySection = new Map<string, number[]>();
    for (const s of list) {
      const n = Number(s.id.slice(s.id.lastIndexOf('-') + 1));
      bySection.set(s.section, [...(bySection.get(s.section) ?? []), n]);
    }
    for (const [section, ns] of bySection) {
      const expected: number[] = [];
      for (let n = 1; expected.length < ns.length; n++) {
        if (!skips.has(`MQTT-${section}-${n}`)) expected.push(n);
      }
      expect(ns, section).toEqual(expected);
    }
  });

  it('every observable statement binds the server or both sides', () => {
    for (const s of list.filter((x) => x.observable)) {
      expect(['server', 'both'], s.id).toContain(s.binds);
      expect(s.why, s.id).toBeUndefined();
    }
  });

  it('every statement that is not observable says why, and client-only ones are never observable', () => {
    for (const s of list.filter((x) => !x.observable)) {
      expect(s.why, s.id).toMatch(/\S/);
    }
    for (const s of list.filter((x) => x.binds === 'client')) {
      expect(s.observable, s.id).toBe(false);
    }
  });

  it('paraphrases are single short sentences', () => {
    for (const s of list) {
      expect(s.paraphrase.length, s.id).toBeLessThanOrEqual(200);
      expect(s.paraphrase.trim(), s.id).toBe(s.paraphrase);
      expect(s.paraphrase, s.id).toMatch(/\.$/);
    }
  });

  it('statements are frozen', () => {
    expect(Object.isFrozen(list)).toBe(true);
    expect(Object.isFrozen(list[0])).toBe(true);
  });
});

describe('well-known statements', () => {
  it('3.1.1 MQTT-3.1.0-2 (second CONNECT) binds the server and is observable', () => {
    const s = get('MQTT-3.1.0-2', '3.1.1');
    expect(s.binds).toBe('server');
    expect(s.observable).toBe(true);
    expect(s.level).toBe('MUST');
  });

  it('5.0 MQTT-3.3.1-5 (RETAIN replaces and stores) binds the server', () => {
    const s = get('MQTT-3.3.1-5', '5.0');
    expect(s.binds).toBe('server');
    expect(s.observable).toBe(true);
    expect(s.section).toBe('3.3.1');
  });

  it('3.1.1 MQTT-2.2.2-1 (reserved flag bits) binds both sides', () => {
    const s = get('MQTT-2.2.2-1', '3.1.1');
    expect(s.binds).toBe('both');
    expect(s.observable).toBe(true);
  });

  it('5.0 MQTT-1.5.5-1 (minimal Variable Byte Integer) binds both sides', () => {
    const s = get('MQTT-1.5.5-1', '5.0');
    expect(s.binds).toBe('both');
    expect(s.section).toBe('1.5.5');
  });

  it('5.0 MQTT-3.3.2-18 (User Property order) binds the server', () => {
    expect(get('MQTT-3.3.2-18', '5.0').binds).toBe('server');
  });

  it('client-only statements are not observable', () => {
    expect(get('MQTT-3.1.0-1', '3.1.1').observable).toBe(false);
    expect(get('MQTT-3.1.0-1', '5.0').binds).toBe('client');
    expect(get('MQTT-3.1.2-30', '5.0').why).toMatch(/client/);
  });

  it('the two versions number things differently', () => {
    // UTF-8 strings: 1.5.3 in 3.1.1, 1.5.4 in 5.0.
    expect(hasStatement('MQTT-1.5.3-1', '3.1.1')).toBe(true);
    expect(hasStatement('MQTT-1.5.3-1', '5.0')).toBe(false);
    expect(hasStatement('MQTT-1.5.4-1', '5.0')).toBe(true);
    expect(hasStatement('MQTT-1.5.4-1', '3.1.1')).toBe(false);
    // Packet identifiers: 2.3.1 in 3.1.1, 2.2.1 (from -2) in 5.0.
    expect(hasStatement('MQTT-2.3.1-1', '3.1.1')).toBe(true);
    expect(hasStatement('MQTT-2.2.1-1', '5.0')).toBe(false);
    expect(hasStatement('MQTT-2.2.1-2', '5.0')).toBe(true);
    // Keep Alive timeout is 3.1.2-24 in 3.1.1 but 3.1.2-22 in 5.0, where -24 is Maximum Packet Size.
    expect(get('MQTT-3.1.2-24', '3.1.1').paraphrase).toMatch(/Keep Alive/);
    expect(get('MQTT-3.1.2-22', '5.0').paraphrase).toMatch(/Keep Alive/);
    expect(get('MQTT-3.1.2-24', '5.0').paraphrase).toMatch(/Maximum Packet Size/);
    // Chapter 7 has numbered statements only in 3.1.1.
    expect(hasStatement('MQTT-7.0.0-1', '3.1.1')).toBe(true);
    expect(statements('5.0').some((s) => s.id.startsWith('MQTT-7.'))).toBe(false);
  });

  it('finds the spec’s alternative spellings and bracketed ids', () => {
    expect(findStatement('MQTT-4.2-1', '5.0')?.id).toBe('MQTT-4.2.0-1');
    expect(findStatement('MQTT-3.1.2.7', '3.1.1')?.id).toBe('MQTT-3.1.2-7');
    expect(findStatement('MQTT-3-8.3-4', '3.1.1')?.id).toBe('MQTT-3.8.3-4');
    expect(findStatement('[MQTT-3.3.1-5]', '5.0')?.id).toBe('MQTT-3.3.1-5');
    expect(findStatement(' MQTT-3.3.1-5 ', '5.0')?.id).toBe('MQTT-3.3.1-5');
    expect(hasStatement('MQTT-3.3.1-14', '5.0')).toBe(false);
    expect(hasStatement('mqtt-3.3.1-5', '5.0')).toBe(false);
  });
});

describe('coverage', () => {
  it('counts only observable statements of the requested version', () => {
    const report = coverage(
      [
        { id: 'MQTT-3.3.1-5', version: '5.0' },
        { id: '[MQTT-3.3.1-6]', version: '5.0' },
        { id: 'MQTT-3.3.1-5', version: '5.0' }, // repeated
        { id: 'MQTT-3.3.1-7', version: '3.1.1' }, // other version: ignored
        { id: 'MQTT-3.1.0-1', version: '5.0' }, // binds the client: not counted
        { id: 'MQTT-9.9.9-9', version: '5.0' }, // not in the catalogue
        { id: 'MQTT-4.2-1', version: '5.0' }, // alias of a statement that is not observable
      ],
      '5.0',
    );
    expect(report.version).toBe('5.0');
    expect(report.overall.observableServerStatements).toBe(OBSERVABLE['5.0']);
    expect(report.overall.covered).toBe(2);
    expect(report.overall.coveredIds).toEqual(['MQTT-3.3.1-5', 'MQTT-3.3.1-6']);
    expect(report.overall.uncovered).toHaveLength(OBSERVABLE['5.0'] - 2);
    expect(report.overall.uncovered).not.toContain('MQTT-3.3.1-5');
    expect(report.unknown).toEqual(['MQTT-9.9.9-9']);
    expect(report.notObservable).toEqual(['MQTT-3.1.0-1', 'MQTT-4.2.0-1']);

    const retain = report.sections['3.3.1'];
    expect(retain?.observableServerStatements).toBe(13);
    expect(retain?.covered).toBe(2);
    expect(retain?.uncovered).toHaveLength(11);
    expect(retain?.uncovered[0]).toBe('MQTT-3.3.1-1');

    // Sections with no observable statement get no bucket.
    expect('3.1.0' in report.sections).toBe(true);
    expect('4.2.0' in report.sections).toBe(false);
    const serialised = JSON.parse(JSON.stringify(report)) as {
      sections: Record<string, { covered: number }>;
    };
    expect(serialised.sections['3.3.1']?.covered).toBe(2);
  });

  it('section buckets add up to the overall bucket and come in spec order', () => {
    for (const v of SPEC_VERSIONS) {
      const report = coverage([], v);
      let total = 0;
      for (const b of Object.values(report.sections)) {
        total += b.observableServerStatements;
        expect(b.covered).toBe(0);
        expect(b.uncovered).toHaveLength(b.observableServerStatements);
      }
      expect(total).toBe(report.overall.observableServerStatements);
      const keys = Object.keys(report.sections);
      expect([...keys].sort((a, b) => compareIds(`MQTT-${a}-0`, `MQTT-${b}-0`))).toEqual(keys);
    }
  });

  it('full coverage of 3.1.1 reaches 100%', () => {
    const all = statements('3.1.1').map((s) => ({ id: s.id, version: s.version }));
    const report = coverage(all, '3.1.1');
    expect(report.overall.covered).toBe(OBSERVABLE['3.1.1']);
    expect(report.overall.uncovered).toEqual([]);
    expect(report.notObservable).toHaveLength(TOTAL['3.1.1'] - OBSERVABLE['3.1.1']);
  });
});

describe('validation on load', () => {
  const good = {
    id: 'MQTT-3.3.1-5',
    section: '3.3.1',
    binds: 'server',
    observable: true,
    level: 'MUST',
    paraphrase: 'A summary.',
  };

  it('accepts a good entry', () => {
    expect(validateStatements([good], '5.0')[0]?.id).toBe('MQTT-3.3.1-5');
  });

  it.each([
    ['not an array', { not: 'an array' }, /expected an array/],
    ['a missing field', [{ ...good, level: undefined }], /entry 0 \(MQTT-3\.3\.1-5\).*level/],
    ['a bad id', [{ ...good, id: 'MQTT-3.3.1' }], /entry 0 \(MQTT-3\.3\.1\).*does not match/],
    ['a wrong section', [{ ...good, section: '3.3' }], /section "3\.3" does not match/],
    ['a duplicate id', [good, good], /entry 1 \(MQTT-3\.3\.1-5\).*duplicates entry 0/],
    ['an observable client statement', [{ ...good, binds: 'client' }], /cannot be observable/],
    ['a missing why', [{ ...good, observable: false }], /needs a non-empty "why"/],
    ['an unknown field', [{ ...good, text: 'x' }], /unknown field "text"/],
    ['a long paraphrase', [{ ...good, paraphrase: 'x'.repeat(201) }], /longer than 200/],
    ['an alias clashing with an id', [good, { ...good, id: 'MQTT-3.3.1-6', aliases: ['MQTT-3.3.1-5'] }], /duplicates/],
  ])('rejects %s, naming the entry', (_name, raw, message) => {
    expect(() => validateStatements(raw, '5.0')).toThrow(message);
  });

  it('names the file in the error', () => {
    expect(() => validateStatements([{}], '3.1.1')).toThrow(/statements-3\.1\.1\.json: entry 0/);
  });
});

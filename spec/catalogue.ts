/**
 * The catalogue of numbered normative statements of MQTT 3.1.1 and MQTT 5.0, as data.
 *
 * The statements live in `statements-3.1.1.json` and `statements-5.0.json` next to this file;
 * this module loads them, validates them once at import time, and answers questions about them.
 * It imports nothing from the rest of the project. See README.md in this folder.
 */
import rawStatements311 from './statements-3.1.1.json' with { type: 'json' };
import rawStatements50 from './statements-5.0.json' with { type: 'json' };

/** The two specification versions catalogued. */
export type SpecVersion = '3.1.1' | '5.0';

/** Every catalogued version, oldest first. */
export const SPEC_VERSIONS: readonly SpecVersion[] = ['3.1.1', '5.0'];

/** Who a statement obliges. `both` covers "Client and Server", "sender" and "receiver" wording. */
export type Binds = 'server' | 'client' | 'both';

/**
 * The requirement keyword of the statement as worded. Where a statement mixes keywords
 * ("MAY send a CONNACK ... and MUST close") this is the mandatory one. `NONE` marks the few
 * numbered statements that carry no RFC 2119 keyword at all (for example "It is a Protocol
 * Error to ...").
 */
export type Level = 'MUST' | 'MUST NOT' | 'SHOULD' | 'SHOULD NOT' | 'MAY' | 'NONE';

/** One numbered normative statement. */
export interface Statement {
  readonly version: SpecVersion;
  /** The id as the spec prints it, without brackets, e.g. `MQTT-3.3.1-5`. */
  readonly id: string;
  /** The section the id encodes, e.g. `3.3.1` for `MQTT-3.3.1-5`. */
  readonly section: string;
  readonly binds: Binds;
  /**
   * Whether a black-box test acting as MQTT clients can see, on the wire, whether the server
   * obeys the statement. Only ever true when `binds` is `server` or `both`.
   */
  readonly observable: boolean;
  /** Why the statement is not observable; present exactly when `observable` is false. */
  readonly why?: string;
  readonly level: Level;
  /** A one-sentence summary in our own words (not the spec's text). */
  readonly paraphrase: string;
  /** Other spellings the spec prints for the same statement (typos, body versus appendix). */
  readonly aliases?: readonly string[];
  /** Anything a test author should know: preconditions, spec oddities. */
  readonly note?: string;
}

/** Coverage of the observable statements of one section, or of a whole version. */
export interface CoverageBucket {
  /** How many observable statements (binding the server or both sides) there are. */
  readonly observableServerStatements: number;
  /** How many of them are covered. */
  readonly covered: number;
  /** The covered observable statements' ids, in spec order. */
  readonly coveredIds: readonly string[];
  /** The observable statements nobody covers, in spec order. */
  readonly uncovered: readonly string[];
}

/** What {@link coverage} returns. */
export interface CoverageReport {
  readonly version: SpecVersion;
  readonly overall: CoverageBucket;
  /**
   * One bucket per section that has at least one observable statement, keyed by section
   * (`"3.3.1"`), in spec order. A plain object so that reports can serialise it as JSON.
   */
  readonly sections: Readonly<Record<string, CoverageBucket>>;
  /** Ids claimed as covered (for this version) that are not in the catalogue. */
  readonly unknown: readonly string[];
  /** Ids claimed as covered (for this version) whose statements are not observable; not counted. */
  readonly notObservable: readonly string[];
}

const ID_PATTERN = /^MQTT-\d+(\.\d+)*-\d+$/;
const BINDS: readonly Binds[] = ['server', 'client', 'both'];
const LEVELS: readonly Level[] = ['MUST', 'MUST NOT', 'SHOULD', 'SHOULD NOT', 'MAY', 'NONE'];
const MAX_PARAPHRASE = 200;
const KNOWN_FIELDS = new Set([
  'id',
  'section',
  'binds',
  'observable',
  'why',
  'level',
  'paraphrase',
  'aliases',
  'note',
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOneOf<T extends string>(value: unknown, allowed: readonly T[]): value is T {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value);
}

/** The section an id encodes: `MQTT-4.7.1-2` gives `4.7.1`. */
export function sectionOf(id: string): string {
  return id.slice('MQTT-'.length, id.lastIndexOf('-'));
}

/**
 * Checks raw catalogue data and returns it typed. Throws an Error naming the file, the index and
 * the id of the first bad entry. Exported so the checks themselves can be tested.
 */
export function validateStatements(raw: unknown, version: SpecVersion): Statement[] {
  const file = `statements-${version}.json`;
  if (!Array.isArray(raw)) {
    throw new Error(`${file}: expected an array of statements`);
  }
  const out: Statement[] = [];
  const seen = new Map<string, string>();
  raw.forEach((entry: unknown, index: number) => {
    const where = (id: unknown): string =>
      `${file}: entry ${index}${typeof id === 'string' ? ` (${id})` : ''}`;
    if (!isRecord(entry)) {
      throw new Error(`${where(undefined)}: expected an object`);
    }
    const { id, section, binds, observable, why, level, paraphrase, aliases, note } = entry;
    const fail = (message: string): never => {
      throw new Error(`${where(id)}: ${message}`);
    };
    for (const key of Object.keys(entry)) {
      if (!KNOWN_FIELDS.has(key)) fail(`unknown field "${key}"`);
    }
    if (typeof id !== 'string') return fail('missing or non-string "id"');
    if (!ID_PATTERN.test(id)) fail(`id does not match ${String(ID_PATTERN)}`);
    if (typeof section !== 'string') return fail('missing or non-string "section"');
    if (section !== sectionOf(id)) fail(`section "${section}" does not match the id's "${sectionOf(id)}"`);
    if (!isOneOf(binds, BINDS)) return fail(`"binds" must be one of ${BINDS.join(', ')}`);
    if (typeof observable !== 'boolean') return fail('missing or non-boolean "observable"');
    if (observable && binds === 'client') fail('a statement binding only the client cannot be observable');
    if (observable && why !== undefined) fail('"why" is only for statements that are not observable');
    if (!observable && (typeof why !== 'string' || why.trim() === '')) {
      fail('a statement that is not observable needs a non-empty "why"');
    }
    if (!isOneOf(level, LEVELS)) return fail(`"level" must be one of ${LEVELS.join(', ')}`);
    if (typeof paraphrase !== 'string' || paraphrase.trim() === '') {
      return fail('missing or empty "paraphrase"');
    }
    if (paraphrase.length > MAX_PARAPHRASE) fail(`paraphrase longer than ${MAX_PARAPHRASE} characters`);
    let aliasList: readonly string[] | undefined;
    if (aliases !== undefined) {
      if (!Array.isArray(aliases) || !aliases.every((a: unknown) => typeof a === 'string' && a !== '')) {
        return fail('"aliases" must be an array of non-empty strings');
      }
      aliasList = Object.freeze(aliases.slice() as string[]);
    }
    if (note !== undefined && (typeof note !== 'string' || note.trim() === '')) {
      fail('"note" must be a non-empty string');
    }
    for (const name of [id, ...(aliasList ?? [])]) {
      const earlier = seen.get(name);
      if (earlier !== undefined) fail(`"${name}" duplicates ${earlier}`);
      seen.set(name, `entry ${index} (${id})`);
    }
    const statement: Statement = {
      version,
      id,
      section,
      binds,
      observable,
      ...(typeof why === 'string' ? { why } : {}),
      level,
      paraphrase,
      ...(aliasList ? { aliases: aliasList } : {}),
      ...(typeof note === 'string' ? { note } : {}),
    };
    out.push(Object.freeze(statement));
  });
  return out;
}

interface Catalogue {
  readonly list: readonly Statement[];
  /** Canonical ids and aliases to statements. */
  readonly byName: ReadonlyMap<string, Statement>;
}

function index(list: Statement[]): Catalogue {
  const byName = new Map<string, Statement>();
  for (const s of list) {
    byName.set(s.id, s);
    for (const alias of s.aliases ?? []) byName.set(alias, s);
  }
  return { list: Object.freeze(list), byName };
}

const CATALOGUES: Readonly<Record<SpecVersion, Catalogue>> = {
  '3.1.1': index(validateStatements(rawStatements311, '3.1.1')),
  '5.0': index(validateStatements(rawStatements50, '5.0')),
};

const ALL: readonly Statement[] = Object.freeze(
  SPEC_VERSIONS.flatMap((v) => CATALOGUES[v].list),
);

/** The statements of one version in spec order, or of both versions (3.1.1 first). */
export function statements(version?: SpecVersion): readonly Statement[] {
  return version === undefined ? ALL : CATALOGUES[version].list;
}

/** Accepts `MQTT-3.3.1-5`, `[MQTT-3.3.1-5]` and surrounding whitespace. */
function normalise(id: string): string {
  const trimmed = id.trim();
  return trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1).trim() : trimmed;
}

/**
 * The statement with this id in this version, or undefined. Also accepts the bracketed form and
 * the alternative spellings the spec prints (see `aliases`), returning the canonical entry.
 */
export function findStatement(id: string, version: SpecVersion): Statement | undefined {
  return CATALOGUES[version].byName.get(normalise(id));
}

/** Whether the id (or one of the spec's alternative spellings of it) exists in this version. */
export function hasStatement(id: string, version: SpecVersion): boolean {
  return findStatement(id, version) !== undefined;
}

/**
 * Coverage of the observable statements of one version. `covered` may hold entries of either
 * version (others are ignored), repeated ids, aliases and bracketed ids. Statements that are not
 * observable never count, whoever claims them; they are listed in `notObservable`.
 */
export function coverage(
  covered: Iterable<{ readonly id: string; readonly version: SpecVersion }>,
  version: SpecVersion,
): CoverageReport {
  const claimed = new Set<string>();
  const unknown = new Set<string>();
  const notObservable = new Set<string>();
  for (const entry of covered) {
    if (entry.version !== version) continue;
    const statement = findStatement(entry.id, version);
    if (statement === undefined) unknown.add(entry.id);
    else if (!statement.observable) notObservable.add(statement.id);
    else claimed.add(statement.id);
  }

  const bucket = (list: readonly Statement[]): CoverageBucket => {
    const coveredIds: string[] = [];
    const uncovered: string[] = [];
    for (const s of list) (claimed.has(s.id) ? coveredIds : uncovered).push(s.id);
    return {
      observableServerStatements: list.length,
      covered: coveredIds.length,
      coveredIds,
      uncovered,
    };
  };

  const observable = CATALOGUES[version].list.filter((s) => s.observable);
  const bySection = new Map<string, Statement[]>();
  for (const s of observable) {
    const group = bySection.get(s.section);
    if (group) group.push(s);
    else bySection.set(s.section, [s]);
  }
  // Section keys such as "3.3.1" are not array indices, so insertion (spec) order is kept.
  const sections: Record<string, CoverageBucket> = {};
  for (const [section, list] of bySection) sections[section] = bucket(list);

  const inSpecOrder = (ids: Set<string>): string[] => {
    const order = new Map(CATALOGUES[version].list.map((s, i) => [s.id, i]));
    return [...ids].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  };

  return {
    version,
    overall: bucket(observable),
    sections,
    unknown: [...unknown].sort(),
    notObservable: inSpecOrder(notObservable),
  };
}

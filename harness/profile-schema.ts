/**
 * Validates broker profiles (JSON) against harness/profile-schema.json, plus
 * the few rules a schema cannot state (ACL roles need credentials, a client
 * certificate needs its key, ...). Every problem is reported at once, one
 * line each: which field, what is wrong, what was expected.
 */
import { Ajv, type ErrorObject } from 'ajv';
import schema from './profile-schema.json' with { type: 'json' };
import type { Profile } from './profile.js';

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const check = ajv.compile(schema);

/** The JSON Schema of profile files (draft-07). */
export const PROFILE_SCHEMA: object = schema;

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
  constructor(readonly source: string, readonly issues: readonly string[]) {
    super(`broker profile ${source} is not valid (schema: harness/profile-schema.json):\n  - ${issues.join('\n  - ')}`);
  }
}

/** `/limits/keepAlive/max` → `limits.keepAlive.max`, `/acl/1/role` → `acl[1].role`. */
function fieldName(pointer: string): string {
  if (!pointer) return '(top level)';
  return pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

function join(parent: string, child: string): string {
  return parent === '(top level)' ? child : `${parent}.${child}`;
}

function show(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length <= 4 ? `the list ${JSON.stringify(v)}` : `a list of ${v.length} items`;
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (Number.isInteger(v)) return 'an integer';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function suggestion(name: string, known: string[]): string {
  const best = known.map((k) => ({ k, d: distance(name, k) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? ` — did you mean '${best.k}'?` : '';
}

interface SubSchema {
  description?: string;
  properties?: Record<string, unknown>;
  enum?: unknown[];
  type?: string;
}

function describeError(e: ErrorObject): string | undefined {
  const field = fieldName(e.instancePath);
  const sub = (e.parentSchema ?? {}) as SubSchema;
  const expected = sub.description;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const missing = String(p['missingProperty']);
      const d = (sub.properties?.[missing] as SubSchema | undefined)?.description;
      return `${join(field, missing)}: missing; expected ${d ?? 'a value'}`;
    }
    case 'additionalProperties': {
      const extra = String(p['additionalProperty']);
      const known = Object.keys(sub.properties ?? {}).filter((k) => !k.startsWith('$'));
      return `${join(field, extra)}: unknown field${suggestion(extra, known)} (known here: ${known.join(', ')})`;
    }
    case 'type':
      return `${field}: is ${typeName(e.data)}${typeof e.data === 'object' ? '' : ` (${show(e.data)})`}, expected ${expected ?? `a ${String(p['type'])}`}`;
    case 'enum':
      return `${field}: is ${show(e.data)}, expected ${expected ?? `one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`}`;
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return `${field}: is ${show(e.data)}, expected ${expected ?? `${String(p['comparison'])} ${String(p['limit'])}`}`;
    case 'minLength':
      return `${field}: is an empty string, expected ${expected ?? 'a non-empty string'}`;
    case 'minItems':
      return `${field}: is an empty list, expected ${expected ?? `at least ${String(p['limit'])} item(s)`}`;
    case 'uniqueItems':
      return `${field}: lists the same value twice (items ${String(p['j'])} and ${String(p['i'])}), expected ${expected ?? 'no duplicates'}`;
    case 'pattern':
      if (p['propertyName'] !== undefined) return undefined; // reported by the propertyNames error below
      return `${field}: is ${show(e.data)}, expected ${expected ?? `a string matching ${String(p['pattern'])}`}`;
    case 'propertyNames': {
      const bad = String(p['propertyName']);
      const what = field === 'knownFailures' ? 'a statement id such as MQTT-3.3.1-5' : field === 'credentials' ? 'a role name of letters, digits, _ . -' : 'a valid name';
      return `${join(field, bad)}: '${bad}' is not a valid key here, expected ${what}`;
    }
    default:
      return `${field}: ${e.message ?? e.keyword}`;
  }
}

/** Rules across fields that the schema does not express. */
function crossChecks(p: Profile): string[] {
  const issues: string[] = [];
  const roles = new Set(Object.keys(p.credentials ?? {}));
  (p.acl ?? []).forEach((c, i) => {
    if (!roles.has(c.role)) issues.push(`acl[${i}].role: is '${c.role}', which has no entry in credentials; expected one of the roles in credentials (${[...roles].join(', ') || 'none defined'})`);
  });
  for (const [role, c] of Object.entries(p.credentials ?? {})) {
    if (c.cert && !c.key) issues.push(`credentials.${role}.key: missing; expected the private key that goes with credentials.${role}.cert`);
    if (c.key && !c.cert) issues.push(`credentials.${role}.cert: missing; expected the client certificate that goes with credentials.${role}.key`);
  }
  const ka = p.limits?.keepAlive;
  if (ka?.min !== undefined && ka.max !== undefined && ka.min > ka.max) {
    issues.push(`limits.keepAlive: min ${ka.min} is larger than max ${ka.max}; expected min ≤ max`);
  }
  if (p.mutualTls && !p.listeners?.tls && !p.listeners?.wss && !/^(mqtts|ssl|tls|wss):/.test(p.url ?? '')) {
    issues.push('mutualTls: is true but the profile names no TLS listener; expected listeners.tls (or listeners.wss, or a mqtts:// url)');
  }
  return issues;
}

/**
 * Checks parsed JSON as a broker profile. Returns it typed, or throws a
 * ProfileError listing every problem; `source` (a file name) starts the message.
 */
export function validateProfile(json: unknown, source = '<profile>'): Profile {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ProfileError(source, [`(top level): is ${typeName(json)}, expected a JSON object with at least "name" and "protocolVersions"`]);
  }
  if (!check(json)) {
    const issues = [...new Set((check.errors ?? []).map(describeError).filter((m): m is string => m !== undefined))];
    throw new ProfileError(source, issues.slice(0, 30));
  }
  const profile = json as unknown as Profile;
  const more = crossChecks(profile);
  if (more.length > 0) throw new ProfileError(source, more);
  return profile;
}

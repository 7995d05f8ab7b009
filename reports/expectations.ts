/**
 * The gate's expectations file: known failures by statement id and spec
 * version (optionally one test id, optionally one target), each with a
 * reason. Schema: expectations.schema.json. A broker profile's
 * `knownFailures` map (statement id → why) is accepted too and applies to
 * every spec version the profile lists.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import type { SpecVersionName, TestResult } from '../results/types.js';
import schema from './expectations.schema.json' with { type: 'json' };

export const EXPECTATIONS_SCHEMA = 'mqtt-testbed/expectations';

export interface KnownFailure {
  statement?: string;
  version: SpecVersionName;
  test?: string;
  target?: string;
  reason: string;
}

export interface Expectations {
  source: string;
  knownFailures: KnownFailure[];
}

export class ExpectationsError extends Error {
  override readonly name = 'ExpectationsError';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: not a usable expectations file:\n  - ${problems.join('\n  - ')}`);
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
const check = ajv.compile(schema);

function describeError(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  switch (e.keyword) {
    case 'required': return `${at}: missing field '${String(e.params['missingProperty'])}'`;
    case 'additionalProperties': return `${at}: unknown field '${String(e.params['additionalProperty'])}'`;
    case 'enum': return `${at}: must be one of ${JSON.stringify(e.params['allowedValues'])}`;
    case 'const': return `${at}: must be ${JSON.stringify(e.params['allowedValue'])}`;
    case 'anyOf': return `${at}: needs 'statement' or 'test'`;
    default: return `${at}: ${e.message ?? e.keyword}`;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseExpectations(json: unknown, source = '<expectations>'): Expectations {
  if (!isRecord(json)) throw new ExpectationsError(source, ['the top level is not a JSON object']);
  // A broker profile (harness/profile-schema.json) with knownFailures: statement id → why.
  if (json['schema'] === undefined && isRecord(json['knownFailures']) && Array.isArray(json['protocolVersions'])) {
    const versions = (json['protocolVersions'] as unknown[]).filter((v): v is SpecVersionName => v === '3.1.1' || v === '5.0');
    const knownFailures: KnownFailure[] = [];
    for (const [statement, why] of Object.entries(json['knownFailures'])) {
      if (typeof why !== 'string') throw new ExpectationsError(source, [`/knownFailures/${statement}: expected a string (why it fails)`]);
      for (const version of versions) knownFailures.push({ statement, version, reason: why });
    }
    return { source, knownFailures };
  }
  if (json['schema'] !== EXPECTATIONS_SCHEMA) {
    throw new ExpectationsError(source, [`'schema' is ${JSON.stringify(json['schema'])}, not '${EXPECTATIONS_SCHEMA}' (nor a broker profile with knownFailures): this is not an expectations file`]);
  }
  if (json['version'] !== 1) throw new ExpectationsError(source, [`expectations version ${JSON.stringify(json['version'])} is not supported (this build reads version 1)`]);
  if (!check(json)) throw new ExpectationsError(source, (check.errors ?? []).slice(0, 20).map(describeError));
  return { source, knownFailures: (json['knownFailures'] as KnownFailure[]).map((k) => ({ ...k })) };
}

export function readExpectationsFile(file: string): Expectations {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ExpectationsError(file, [`cannot read: ${(e as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ExpectationsError(file, [`not JSON: ${(e as Error).message}`]);
  }
  return parseExpectations(json, file);
}

/** Whether a known failure covers this test of this target. */
export function covers(k: KnownFailure, test: Pick<TestResult, 'id' | 'specVersion' | 'statements'>, target: string): boolean {
  if (k.version !== test.specVersion) return false;
  if (k.target !== undefined && k.target !== target) return false;
  if (k.test !== undefined && k.test !== test.id) return false;
  if (k.statement !== undefined && !test.statements.includes(k.statement)) return false;
  return true;
}

/** Short label for messages: "MQTT-3.1.3-8 [3.1.1]" or the test id. */
export function describeKnownFailure(k: KnownFailure): string {
  const what = k.statement !== undefined ? `${k.statement} [${k.version}]` : k.test!;
  return `${what}${k.statement !== undefined && k.test !== undefined ? ` (test ${k.test})` : ''}${k.target !== undefined ? ` on ${k.target}` : ''}`;
}

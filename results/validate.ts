/**
 * Reading results files: JSON parse, then the schema, with errors that say
 * which file, which field and what was expected; foreign files (another
 * tool's JSON, a newer schema version) are named as such.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import schema from './schema.json' with { type: 'json' };
import { RESULTS_SCHEMA, RESULTS_VERSION, type ResultsFile } from './types.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const check = ajv.compile(schema);

export class ResultsFileError extends Error {
  override readonly name = 'ResultsFileError';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: not a usable mqtt-testbed results file:\n  - ${problems.join('\n  - ')}`);
  }
}

function describeError(e: ErrorObject): string {
  const at = e.instancePath || '(top level)';
  switch (e.keyword) {
    case 'required': return `${at}: missing field '${String(e.params['missingProperty'])}'`;
    case 'enum': return `${at}: ${e.message ?? 'not an allowed value'} (${JSON.stringify(e.params['allowedValues'])})`;
    case 'const': return `${at}: must be ${JSON.stringify(e.params['allowedValue'])}`;
    default: return `${at}: ${e.message ?? e.keyword}`;
  }
}

/** Validates parsed JSON as results; `source` names it in errors. */
export function validateResults(json: unknown, source = '<results>'): ResultsFile {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ResultsFileError(source, ['the top level is not a JSON object']);
  const o = json as Record<string, unknown>;
  if (o['schema'] !== RESULTS_SCHEMA) {
    throw new ResultsFileError(source, [`'schema' is ${JSON.stringify(o['schema'])}, not '${RESULTS_SCHEMA}': this is not an mqtt-testbed results file`]);
  }
  if (o['version'] !== RESULTS_VERSION) {
    throw new ResultsFileError(source, [`schema version ${JSON.stringify(o['version'])} is not supported (this build reads version ${RESULTS_VERSION})`]);
  }
  if (!check(json)) throw new ResultsFileError(source, (check.errors ?? []).slice(0, 20).map(describeError));
  return json as unknown as ResultsFile;
}

export function readResultsFile(file: string): ResultsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ResultsFileError(file, [`cannot read: ${(e as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ResultsFileError(file, [`not JSON: ${(e as Error).message}`]);
  }
  return validateResults(json, file);
}

/** Writing results files: tool info, file naming, atomic writes into out/. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { dirname } from 'node:path';
import { readFileSync } from 'node:fs';
import { RESULTS_SCHEMA, RESULTS_VERSION, type ResultsFile, type ToolInfo } from './types.js';

export function toolInfo(): ToolInfo {
  let version = '0.0.0';
  try {
    version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    try {
      version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch { /* unknown */ }
  }
  const c = cpus();
  return { name: 'mqtt-testbed', version, node: process.version, platform: `${platform()} ${release()}`, cpu: c[0]?.model ?? 'unknown', cores: c.length };
}

export function newResults(kind: ResultsFile['kind']): ResultsFile {
  return { schema: RESULTS_SCHEMA, version: RESULTS_VERSION, kind, createdAt: new Date().toISOString(), tool: toolInfo() };
}

/** A file-name-safe slug. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'target';
}

export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writeResults(path: string, r: ResultsFile): void {
  writeFileAtomic(path, `${JSON.stringify(r, null, 2)}\n`);
}

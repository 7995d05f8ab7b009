/**
 * Every spec statement the codec names in an error must exist in the
 * catalogue of the version it is named for (3.1.1 and 5.0 number differently).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { hasStatement } from '../spec/catalogue.js';

const dir = new URL('.', import.meta.url).pathname;
const sources = [...readdirSync(dir), ...readdirSync(join(dir, 'packets')).map((f) => join('packets', f))]
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8') }));

describe('statement ids named by the codec', () => {
  test('stmt(version, v4, v5) pairs exist in 3.1.1 and 5.0 respectively', () => {
    const bad: string[] = [];
    let seen = 0;
    for (const { file, text } of sources) {
      for (const m of text.matchAll(/stmt\([^,]+,\s*(undefined|'(MQTT-[^']+)'),\s*(undefined|'(MQTT-[^']+)')\)/g)) {
        seen++;
        if (m[2] && !hasStatement(m[2], '3.1.1')) bad.push(`${file}: ${m[2]} not in 3.1.1`);
        if (m[4] && !hasStatement(m[4], '5.0')) bad.push(`${file}: ${m[4]} not in 5.0`);
      }
    }
    expect(seen).toBeGreaterThan(10);
    expect(bad).toEqual([]);
  });

  test('every other literal id exists in at least one version', () => {
    const bad: string[] = [];
    for (const { file, text } of sources) {
      const withoutStmt = text.replace(/stmt\([^)]*\)/g, '');
      for (const m of withoutStmt.matchAll(/'(MQTT-\d[^']*)'/g)) {
        if (!hasStatement(m[1]!, '3.1.1') && !hasStatement(m[1]!, '5.0')) bad.push(`${file}: ${m[1]!}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

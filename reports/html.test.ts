import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { readResultsFile, validateResults } from '../results/validate.js';
import type { LoadedResults } from './compare.js';
import { HOSTILE, sampleBenchmark, sampleConformance } from './fixtures.js';
import { niceScale, percentileTick, percentileX } from './html/charts.js';
import { esc, jsonForScript } from './html/escape.js';
import { renderReport } from './html/report.js';
import { packetFields } from './html/trace.js';

const load = (source: string, r: unknown): LoadedResults => ({ source, results: validateResults(JSON.parse(JSON.stringify(r)), source) });

const a = load('a.json', sampleConformance('broker-a'));
const b = load('b.json', sampleConformance('broker-b', { 'connect/zero-length client id with clean start 0 is refused': 'pass', 'publish/retained message replaced': 'fail' }));
const bench = load('bench.json', sampleBenchmark());
const page = renderReport({ current: [a, b, bench], generatedAt: '2026-01-01T00:00:00Z' });

/** The <tr> of a statement row. */
function row(html: string, version: string, id: string): string {
  const m = new RegExp(`<tr class="row" id="row-${version.replace(/\./g, '\\.')}-${id.replace(/[.-]/g, (c) => `\\${c}`)}"[\\s\\S]*?</tr>`).exec(html);
  if (!m) throw new Error(`no row for ${version} ${id}`);
  return m[0];
}
const cells = (tr: string): string[] => [...tr.matchAll(/<td class="cell[^"]*" data-col="(\d+)" data-s="(\w+)"/g)].map((m) => m[2]!);

describe('HTML report', () => {
  test('the fixtures are valid results', () => {
    expect(a.results.conformance?.tests.length).toBeGreaterThan(3);
    expect(bench.results.benchmark?.runs.length).toBe(4);
  });

  test('the matrix has one row per statement and one cell per target, with the right status', () => {
    expect(cells(row(page, '3.1.1', 'MQTT-3.1.3-8'))).toEqual(['fail', 'pass']);
    expect(cells(row(page, '5.0', 'MQTT-3.2.0-1'))).toEqual(['pass', 'pass']);
    expect(cells(row(page, '5.0', 'MQTT-3.3.1-5'))).toEqual(['finding', 'fail']); // worst of the tests naming it
    expect(cells(row(page, '5.0', 'MQTT-4.3.3-1'))).toEqual(['finding', 'finding']);
    const skip = row(page, '5.0', 'MQTT-4.12.0-1');
    expect(cells(skip)).toEqual(['skip', 'skip']);
    expect(skip).toContain('profile says: no enhanced authentication'); // the reason, in the cell's title
    expect(page.includes('Checks that name no statement'), 'Checks that name no statement').toBe(true);
    // section header with coverage per target, paraphrase from the catalogue
    expect(/MQTT 3\.1\.1 §3\.1\.3 CONNECT/.test(page), String(/MQTT 3\.1\.1 §3\.1\.3 CONNECT/)).toBe(true);
    expect(row(page, '5.0', 'MQTT-3.2.0-1')).toContain('CONNACK');
  });

  test('failed cells link to their evidence, which holds the decoded trace', () => {
    const tr = row(page, '3.1.1', 'MQTT-3.1.3-8');
    const href = /href="#(ev-[^"]+)"/.exec(tr)?.[1];
    expect(href).toBeDefined();
    const ev = new RegExp(`<details class="ev" id="${href}"[\\s\\S]*?</details>`).exec(page)?.[0] ?? '';
    expect(ev).toContain('<table class="trace">');
    expect(ev).toContain('0x00 Connection Accepted'); // 3.1.1 CONNACK return code decoded
    expect(ev).toMatch(/class="dir"[^>]*>→</);
    expect(ev).toMatch(/class="dir"[^>]*>←</);
    expect(ev).toContain('+9.4'); // time since the previous entry
    expect(ev).not.toContain('(text form)'); // the plain-text trace appended to the reason is replaced by the table
  });

  test('escapes hostile strings from results files everywhere', () => {
    expect(page.includes('<script>window.__pwned'), `not ${'<script>window.__pwned'}`).toBe(false);
    expect(page.includes('<img'), `not ${'<img'}`).toBe(false);
    expect(page.includes('&lt;script&gt;window.__pwned=1&lt;/script&gt;'), '&lt;script&gt;window.__pwned=1&lt;/script&gt;').toBe(true);
    // exactly two script elements: the JSON data and the page script
    expect(page.match(/<script[\s>]/g)).toHaveLength(2);
    const data = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(page)![1]!;
    expect(data).not.toContain('<');
    expect(JSON.stringify(JSON.parse(data))).toContain(HOSTILE.slice(0, 20)); // the data survives, inert
    expect(String(packetFields({ type: 'publish', topic: HOSTILE }))).not.toContain('<script');
    expect(esc('a\u0000b"\'')).toBe('a\\x00b&quot;&#39;');
    expect(jsonForScript({ s: '</script><!--\u2028' })).toBe('{"s":"\\u003c/script\\u003e\\u003c!--\\u2028"}');
  });

  test('is self-contained: no URL to load anything, no inline style attributes, a CSP that allows only its own script and style', () => {
    expect(/https?:\/\//i.test(page), `not ` + String(/https?:\/\//i)).toBe(false);
    expect(/\/\/[a-z0-9.-]+\.[a-z]{2,}\//i.test(page), `not ` + String(/\/\/[a-z0-9.-]+\.[a-z]{2,}\//i)).toBe(false);
    // attributes of every tag (results text is escaped, so '<' only starts our own tags)
    const markup = page.replace(/<script[^>]*>[\s\S]*?<\/script>/g, '').replace(/<style>[\s\S]*?<\/style>/g, '');
    const tags = [...markup.matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0]);
    expect(tags.length).toBeGreaterThan(100);
    for (const tag of tags) {
      // attribute names only: values are always double-quoted, with " escaped inside
      expect(tag.replace(/="[^"]*"/g, '=""')).not.toMatch(/\s(src|srcset|action|formaction|poster|data|xlink:href|style|on[a-z]+)\s*=/i);
      for (const m of tag.matchAll(/\shref="([^"]*)"/g)) expect(m[1]).toMatch(/^#/);
    }
    expect(/<(link|iframe|object|embed|img|audio|video|base)\b/i.test(page), `not ` + String(/<(link|iframe|object|embed|img|audio|video|base)\b/i)).toBe(false);
    expect(/\sstyle\s*=/i.test(page), `not ` + String(/\sstyle\s*=/i)).toBe(false);
    expect(/url\(/i.test(page), `not ` + String(/url\(/i)).toBe(false);
    expect(/@import/i.test(page), `not ` + String(/@import/i)).toBe(false);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)![1]!;
    expect(csp).toContain("default-src 'none'");
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    const hash = (s: string): string => createHash('sha256').update(s).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash(script)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(style)}'`);
  });

  test('static tables read without JS: filters are marked js-only, the matrix and evidence are server-rendered', () => {
    expect(/<form class="filters js-only"/.test(page), String(/<form class="filters js-only"/)).toBe(true);
    expect(page.includes('<table class="matrix" id="matrix">'), '<table class="matrix" id="matrix">').toBe(true);
    expect(page.includes(':root:not(.js) .js-only'), ':root:not(.js) .js-only').toBe(true);
  });

  test('benchmark section: percentile curves, offered vs achieved bars, stacked bytes, claims, manifest', () => {
    const curves = page.match(/<path class="curve k\d( unc)?" d="M[^"]+"/g) ?? [];
    expect(curves.length).toBe(8); // 4 runs × corrected + uncorrected
    for (const t of ['0', '90', '99', '99.9', '99.99']) expect(page.includes(`text-anchor="middle">${t}</text>`), `text-anchor="middle">${t}</text>`).toBe(true);
    expect(page.includes('percentile (log scale: 1/(1−p))'), 'percentile (log scale: 1/(1−p))').toBe(true);
    expect(page.match(/<rect class="offered"/g)).toHaveLength(4);
    expect(/<rect class="seg-headers"/.test(page), String(/<rect class="seg-headers"/)).toBe(true);
    expect(/<rect class="seg-acks"/.test(page), String(/<rect class="seg-acks"/)).toBe(true);
    expect(/<rect class="seg-payload"/.test(page), String(/<rect class="seg-payload"/)).toBe(true);
    expect(/<rect class="seg-setup"/.test(page), String(/<rect class="seg-setup"/)).toBe(true);
    expect(page.includes('MQTT uses fewer bytes per message than HTTP'), 'MQTT uses fewer bytes per message than HTTP').toBe(true);
    expect(page.includes('does not hold'), 'does not hold').toBe(true);
    expect(page.includes('3 requests timed out after 5 s'), '3 requests timed out after 5 s').toBe(true);
    expect(page.includes('Run manifest'), 'Run manifest').toBe(true);
    expect(page.includes('clientLibraries'), 'clientLibraries').toBe(true);
  });

  test('comparison with a baseline: changed statements listed and their cells outlined', () => {
    const before = load('before.json', sampleConformance('broker-a', { 'connect/zero-length client id with clean start 0 is refused': 'pass' }));
    const cmp = renderReport({ current: [a], baseline: [before], generatedAt: 'x' });
    expect(cmp.includes('Comparison with the baseline'), 'Comparison with the baseline').toBe(true);
    expect(/<tr class="ch-regression">[\s\S]*?zero-length client id[\s\S]*?pass<\/span> → <span class="s-fail">fail/.test(cmp), String(/<tr class="ch-regression">[\s\S]*?zero-length client id[\s\S]*?pass<\/span> → <span class="s-fail">fail/)).toBe(true);
    expect(row(cmp, '3.1.1', 'MQTT-3.1.3-8')).toMatch(/class="cell changed"[^>]*data-was="pass"/);
    expect(cmp.includes('changed since baseline'), 'changed since baseline').toBe(true);
  });

  test('percentile axis: x = log10(1/(1−p)), ticks 0, 90, 99, 99.9 …', () => {
    expect(percentileX(0)).toBe(0);
    expect(percentileX(90)).toBeCloseTo(1);
    expect(percentileX(99)).toBeCloseTo(2);
    expect(percentileX(99.9)).toBeCloseTo(3);
    expect(percentileX(100)).toBe(Number.POSITIVE_INFINITY);
    expect([0, 1, 2, 3, 4].map(percentileTick)).toEqual(['0', '90', '99', '99.9', '99.99']);
    expect(niceScale(870)).toEqual({ max: 1000, step: 200 });
  });

  const matrixDir = join(fileURLToPath(new URL('..', import.meta.url)), 'out', 'conformance', 'matrix');
  const real = ['reference', 'mosquitto-plain', 'aedes'].map((b) => join(matrixDir, `${b}.json`)).filter((f) => existsSync(f));
  test.skipIf(real.length === 0)('the real matrix results render: every statement row present, only in-page links', () => {
    const files = real.map((f) => ({ source: f, results: readResultsFile(f) }));
    const html = renderReport({ current: files });
    for (const f of files) {
      for (const t of f.results.conformance!.tests.filter((x) => x.statements.length > 0).slice(0, 50)) {
        expect(html.includes(`data-version="${t.specVersion}"`), `data-version="${t.specVersion}"`).toBe(true);
      }
    }
    const rows = html.match(/<tr class="row"/g)?.length ?? 0;
    expect(rows).toBeGreaterThan(200);
    const markup = html.replace(/<script[^>]*>[\s\S]*?<\/script>/g, '').replace(/<style>[\s\S]*?<\/style>/g, '');
    for (const m of markup.matchAll(/<[a-zA-Z][^>]*>/g)) {
      const tag = m[0].replace(/="[^"]*"/g, '=""');
      expect(tag).not.toMatch(/\s(src|srcset|action|style|on[a-z]+)\s*=/i);
    }
    for (const m of markup.matchAll(/\shref="([^"]*)"/g)) expect(m[1]).toMatch(/^#/);
    // every evidence link points at an element of the page
    const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    for (const m of markup.matchAll(/\shref="#([^"]+)"/g)) expect(ids.has(m[1]), m[1]).toBe(true);
  });
});

/** The suite self-check in the HTML report: score, per-fault table, correct broker status; escaped, in-page links only. */
import { describe, expect, test } from 'vitest';
import { validateResults } from '../results/validate.js';
import type { LoadedResults } from './compare.js';
import { HOSTILE, sampleConformance, sampleSelftest } from './fixtures.js';
import { renderReport } from './html/report.js';

const load = (source: string, r: unknown): LoadedResults => ({ source, results: validateResults(JSON.parse(JSON.stringify(r)), source) });

const selftest = load('out/selftest/selftest.json', sampleSelftest());
const page = renderReport({ current: [selftest, load('a.json', sampleConformance('broker-a'))], generatedAt: '2026-01-01T00:00:00Z' });
const section = /<section id="selftest">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';

/** The <tr> of one fault. */
const row = (name: string): string => new RegExp(`<tr class="fault-\\w+" id="fault-${name}">[\\s\\S]*?</tr>`).exec(section)?.[0] ?? '';

describe('HTML report: suite self-check', () => {
  test('the section shows the score, is listed in the contents and has an overview card', () => {
    expect(section).toContain('Suite self-check: faults caught');
    expect(section).toMatch(/<span class="verdict s-fail">2 of 3 faults caught<\/span>/);
    expect(page).toContain('<a href="#selftest">Suite self-check: faults caught</a>');
    expect(page).toMatch(/<div class="card"><h3><a href="#selftest-0">suite self-check<\/a><\/h3><div><span class="badge s-fail">2 of 3 faults caught/);
    expect(page).toContain('suite self-check: 2 of 3 faults caught (full)'); // the manifest
  });

  test('one row per fault: description, statements, verdict, how many tests and which', () => {
    expect(section.match(/<tr class="fault-/g)).toHaveLength(3);
    const caught = row('retain-not-stored');
    expect(caught).toContain('retain-not-stored (description)');
    expect(caught).toContain('MQTT-3.3.1-5');
    expect(caught).toContain('<span class="badge s-pass">caught</span>');
    expect(caught).toContain('<strong>12</strong> tests <span class="small muted">(7 naming a statement it breaks)</span>');
    expect(caught.match(/<li><span class="mono">retained\/\[5\.0\] test \d/g)).toHaveLength(5); // the first five
    expect(caught).toContain('… and 7 more');
    expect(row('qos2-duplicate')).toContain('confirmed: both tests failed again');
    const missed = row('acl-publish-ignored');
    expect(missed).toContain('<span class="badge s-fail">missed</span>');
    expect(missed).toContain('5.4.2');
    expect(section).toMatch(/Not caught: <a href="#fault-acl-publish-ignored" class="mono">acl-publish-ignored<\/a>/);
  });

  test('the correct broker: its verdict, counts and the flaky test re-run', () => {
    expect(section).toMatch(/Correct broker \(<span class="mono">reference<\/span>\): <span class="badge s-pass">no failures<\/span> <span class="small">508 pass, 0 fail/);
    expect(section).toContain('ordering/[3.1.1] QoS 2 messages arrive in order');
    expect(section).toContain('passed when the file was re-run');
    const failing = renderReport({ current: [load('s.json', sampleSelftest({ baselineFailures: 2 }))], generatedAt: 'x' });
    expect(failing).toContain('<span class="badge s-fail">FAILURES</span>');
    expect(failing).toContain('keep-alive/[3.1.1] failure 2');
  });

  test('strings from the results are escaped; links stay in the page', () => {
    expect(section).not.toContain('<script>window.__pwned');
    expect(section).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
    expect(HOSTILE.length).toBeGreaterThan(0);
    for (const m of section.matchAll(/<[a-zA-Z][^>]*>/g)) expect(m[0].replace(/="[^"]*"/g, '=""')).not.toMatch(/\s(src|style|on[a-z]+)\s*=/i);
    const ids = new Set([...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
    for (const m of section.matchAll(/\shref="([^"]*)"/g)) {
      expect(m[1]).toMatch(/^#/);
      expect(ids.has(m[1]!.slice(1)), m[1]).toBe(true);
    }
  });

  test('a report with only a self-check file renders without the conformance sections', () => {
    const only = renderReport({ current: [selftest], generatedAt: 'x' });
    expect(only).toContain('<section id="selftest">');
    expect(only).not.toContain('<section id="conformance">');
    expect(only).not.toContain('No results files were given');
  });
});

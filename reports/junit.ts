/**
 * JUnit XML from results JSON: one testcase per test, statement ids in the
 * name and as properties, skipped with the reason, findings as passing cases
 * with a system-out note (CI systems show them without failing).
 */
import type { ResultsFile, TestResult } from '../results/types.js';

const esc = (s: string): string => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)
  // XML 1.0 forbids most control characters
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

function traceText(t: TestResult): string {
  if (!t.trace) return '';
  return t.trace.map((e) => `${e.t}ms ${e.conn} ${e.dir === 'out' ? '->' : e.dir === 'in' ? '<-' : '*'} ${e.what}${e.packet !== undefined ? ` ${JSON.stringify(e.packet)}` : ''}${e.hex ? ` 0x${e.hex}` : ''}${e.detail ? ` (${e.detail})` : ''}`).join('\n');
}

export function toJUnit(r: ResultsFile): string {
  const tests = r.conformance?.tests ?? [];
  const byArea = new Map<string, TestResult[]>();
  for (const t of tests) {
    const list = byArea.get(t.area);
    if (list) list.push(t);
    else byArea.set(t.area, [t]);
  }
  const target = r.target?.name ?? 'target';
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const count = (s: TestResult['status']) => tests.filter((t) => t.status === s).length;
  const time = (ms: number) => (ms / 1000).toFixed(3);
  out.push(`<testsuites name="${esc(`mqtt-testbed conformance: ${target}`)}" tests="${tests.length}" failures="${count('fail')}" skipped="${count('skip')}" time="${time(tests.reduce((a, t) => a + t.durationMs, 0))}">`);
  for (const [area, list] of byArea) {
    const f = list.filter((t) => t.status === 'fail').length;
    const s = list.filter((t) => t.status === 'skip').length;
    out.push(`  <testsuite name="${esc(`${target}.${area}`)}" tests="${list.length}" failures="${f}" skipped="${s}" time="${time(list.reduce((a, t) => a + t.durationMs, 0))}">`);
    for (const t of list) {
      const name = `[${t.specVersion}] ${t.title}${t.statements.length ? ` (${t.statements.join(', ')})` : ''}`;
      out.push(`    <testcase classname="${esc(`${target}.${area}`)}" name="${esc(name)}" time="${time(t.durationMs)}">`);
      out.push('      <properties>');
      for (const st of t.statements) out.push(`        <property name="statement" value="${esc(st)}"/>`);
      out.push(`        <property name="spec" value="${t.specVersion}"/>`);
      out.push(`        <property name="status" value="${t.status}"/>`);
      out.push('      </properties>');
      if (t.status === 'fail') out.push(`      <failure message="${esc((t.reason ?? 'failed').split('\n')[0]!)}">${esc(`${t.reason ?? ''}\n${traceText(t)}`)}</failure>`);
      if (t.status === 'skip') out.push(`      <skipped message="${esc(t.reason ?? 'skipped')}"/>`);
      if (t.status === 'finding') out.push(`      <system-out>${esc(`FINDING: ${t.reason ?? ''}\n${traceText(t)}`)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

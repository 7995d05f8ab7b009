import { describe, expect, test } from 'vitest';
import { HOSTILE, sampleConformance } from './fixtures.js';
import { toJUnit } from './junit.js';

/** Minimal well-formedness: balanced tags, no raw '<' or '&' outside markup, quoted attributes. */
function checkXml(xml: string): string[] {
  const stack: string[] = [];
  const problems: string[] = [];
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const re = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of body.matchAll(re)) {
    if (m[6]) { problems.push(`stray '<' at ${m.index}`); continue; }
    if (m[5] !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(m[5])) problems.push(`bare '&' in text at ${m.index}`);
      continue;
    }
    const [, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) problems.push(`unbalanced </${name}> at ${m.index}`);
    } else if (!selfClose) stack.push(name!);
  }
  if (stack.length) problems.push(`unclosed: ${stack.join(' > ')}`);
  return problems;
}

describe('JUnit XML', () => {
  const xml = toJUnit(sampleConformance('broker-a'));
  const cases = [...xml.matchAll(/<testcase [\s\S]*?<\/testcase>/g)].map((m) => m[0]);

  test('is well-formed XML with one testcase per test and totals on <testsuites>', () => {
    expect(checkXml(xml)).toEqual([]);
    expect(cases).toHaveLength(6);
    expect(xml).toMatch(/<testsuites name="mqtt-testbed conformance: broker-a" tests="6" failures="1" skipped="1"/);
    expect(xml).toMatch(/<testsuite name="broker-a.connect" tests="2" failures="1" skipped="0"/);
  });

  test('statement ids in names and properties, spec version in both', () => {
    const c = cases.find((x) => x.includes('retained message replaced'))!;
    expect(c).toContain('name="[5.0] retained message replaced (MQTT-3.3.1-5)"');
    expect(c).toContain('<property name="statement" value="MQTT-3.3.1-5"/>');
    expect(c).toContain('<property name="spec" value="5.0"/>');
    const two = cases.find((x) => x.includes('QoS 2 delivered once'))!;
    expect(two.match(/name="statement"/g)).toHaveLength(2);
  });

  test('failed: <failure> with the first line as message and the trace in the body; hostile strings escaped', () => {
    const c = cases.find((x) => x.includes('zero-length client id'))!;
    expect(c).toMatch(/<failure message="\[MQTT-3\.1\.3-8\] CONNACK 0x00 instead of 0x02 &lt;script&gt;/);
    expect(c).toContain('-&gt; connect');
    expect(c).toContain('&lt;- connack');
    expect(xml).not.toContain(HOSTILE);
    expect(xml).not.toContain('<script');
  });

  test('skipped: <skipped> with the reason; finding: passing case with a FINDING note', () => {
    const skip = cases.find((x) => x.includes('unsupported authentication method'))!;
    expect(skip).toContain('<skipped message="profile says: no enhanced authentication"/>');
    expect(skip).not.toContain('<failure');
    const finding = cases.find((x) => x.includes('QoS 2 delivered once'))!;
    expect(finding).toContain('<system-out>FINDING: delivered twice within the session');
    expect(finding).not.toContain('<failure');
    expect(finding).not.toContain('<skipped');
    const pass = cases.find((x) => x.includes('CONNACK is the first packet'))!;
    expect(pass).not.toMatch(/<failure|<skipped|<system-out/);
  });

  test('control characters from a broker do not break the XML', () => {
    const r = sampleConformance('broker-\u0001');
    r.conformance!.tests[1]!.reason = 'bad \u0000 byte \u001b[31m';
    const x = toJUnit(r);
    expect(checkXml(x)).toEqual([]);
    expect(x).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });
});

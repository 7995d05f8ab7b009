import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { topicMatches, type ProtocolVersion } from '../../codec/index.js';
import type { ClientInfo } from '../core/options.js';
import {
  AclFileError, aclHooks, clientAcl, filterCovers, filtersIntersect, instantiatePattern, parseAclFile, readAclFile, type AclRule,
} from './acl-file.js';

function client(username: string | undefined, clientId = 'cid', protocolVersion: ProtocolVersion = 5): ClientInfo {
  return { clientId, username, protocolVersion, transport: 'tcp', remoteAddress: '127.0.0.1:1', certificate: undefined };
}

describe('parseAclFile', () => {
  test('global rules, user and clientid sections (merged when repeated), comments, CRLF', () => {
    const acl = parseAclFile([
      '# global',
      'topic read public/#',
      '  pattern readwrite home/%u/#  ',
      'user sensor',
      'topic write sensors/#',
      '',
      'clientid gw 1',
      'topic deny gw/secret',
      'user sensor',
      'topic   read   config/with space/+',
    ].join('\r\n'), 'acl.txt');
    expect(acl.global).toEqual([
      { access: 'read', filter: 'public/#', pattern: false, line: 2 },
      { access: 'readwrite', filter: 'home/%u/#', pattern: true, line: 3 },
    ]);
    expect(acl.users.get('sensor')).toEqual([
      { access: 'write', filter: 'sensors/#', pattern: false, line: 5 },
      { access: 'read', filter: 'config/with space/+', pattern: false, line: 10 },
    ]);
    expect(acl.clientIds.get('gw 1')).toEqual([{ access: 'deny', filter: 'gw/secret', pattern: false, line: 8 }]);
  });

  test.each([
    ['topic read a\nfrobnicate x', 2, /unknown keyword 'frobnicate' \(expected topic, pattern, user or clientid\)/],
    ['topic', 1, /'topic' needs an access/],
    ['topic sensors/#', 1, /unknown access 'sensors\/#' \(expected read, write, readwrite or deny/],
    ['topic rw a/b', 1, /unknown access 'rw'/],
    ['\n\ntopic deny', 3, /'topic deny' needs a topic filter/],
    ['topic read a/#/b', 1, /invalid topic filter 'a\/#\/b'/],
    ['topic read a/b+', 1, /invalid topic filter 'a\/b\+'/],
    ['pattern write x/%u#', 1, /invalid topic filter 'x\/%u#'/],
    ['topic write devices/%u/#', 1, /use a 'pattern' line/],
    ['topic read $share/g/a', 1, /without the \$share\/<name>\/ prefix/],
    ['user', 1, /'user' needs a user name/],
    ['clientid   ', 1, /'clientid' needs a client identifier/],
  ])('error names file, line and problem: %j', (text, line, problem) => {
    let err: unknown;
    try { parseAclFile(text, 'conf/acl.txt'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(AclFileError);
    expect((err as AclFileError).message).toMatch(new RegExp(`^conf/acl\\.txt:${line}: `));
    expect((err as AclFileError).problem).toMatch(problem);
  });

  test('the example in reference-broker/README.md parses', () => {
    const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md'), 'utf8');
    const example = /## ACL file grammar[\s\S]*?```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const acl = parseAclFile(example!, 'README.md');
    expect(acl.global).toHaveLength(3);
    expect([...acl.users.keys()]).toEqual(['sensor', 'admin']);
    expect([...acl.clientIds.keys()]).toEqual(['gateway-1']);
  });

  test('readAclFile names a missing file', () => {
    expect(() => readAclFile('/nonexistent/acl')).toThrow(/^\/nonexistent\/acl: cannot read/);
  });
});

describe('filterCovers(rule, requested)', () => {
  test.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['a/b', 'a/+', false],
    ['a/+', 'a/#', false],
    ['a/+', 'a', false],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/#', true],
    ['a/#', 'a/+/c/#', true],
    ['a/#', '#', false],
    ['a/#', 'b/#', false],
    ['a', 'a/#', false],
    ['#', '#', true],
    ['#', '+/+', true],
    ['#', 'a/b/c', true],
    ['+/#', '#', true], // '#' needs at least one level here, which '+' gives
    ['x/+/#', 'x/#', false], // x/# also matches x
    ['/+/#', '/#', true], // ...but /# cannot match the empty topic
    ['+/+/#', '#', false],
    ['+/+', '+/#', false],
    ['+/+', '+', false],
    ['+/b/#', 'a/b', true],
    ['+/b/#', 'a/+', false],
    ['a/+/c', 'a/+/c', true],
    ['a/+/c', 'a/+/+', false],
    ['sensors/#', 'sensors/+/temp', true],
    // $-topics: a rule starting with a wildcard matches none [MQTT-4.7.2-1]
    ['#', '$SYS/#', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/broker/+', true],
    ['$SYS/#', '#', false],
    ['$SYS/+', '$SYS/a', true],
    ['#', '+', true],
  ])('%s covers %s: %s', (rule, requested, expected) => {
    expect(filterCovers(rule, requested)).toBe(expected);
  });
});

describe('filtersIntersect', () => {
  test.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/#', 'a', true],
    ['a', 'a/#', true],
    ['a/+', 'a', false],
    ['a/+/c', 'a/b/+', true],
    ['a/+/c', 'a/b/d', false],
    ['#', 'x/y/z', true],
    ['+', 'x/y', false],
    ['+/#', 'x', true],
    ['#', '$SYS/x', false],
    ['$SYS/#', '+/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['sensors/secret/#', 'sensors/#', true],
    ['sensors/secret/#', 'sensors/+/temp', true],
    ['sensors/secret/#', 'sensors/public/+', false],
    ['+', '/#', false], // the only common topic would be the empty one
    ['+', '+/#', true],
  ])('%s ∩ %s: %s', (a, b, expected) => {
    expect(filtersIntersect(a, b)).toBe(expected);
    expect(filtersIntersect(b, a)).toBe(expected);
  });
});

describe('filter algebra agrees with topicMatches over every topic of a small universe', () => {
  // Filters use the literals a, b, $s and the empty level; topics add z and $z (stand-ins for "any other level").
  // Depth 4 topics suffice for filters of up to 3 levels: a longer counterexample truncates to one of depth 4.
  const TOPIC_LEVELS = ['a', 'b', '$s', 'z', '$z', ''];
  const universe: string[] = [];
  const grow = (prefix: string[], depth: number): void => {
    if (prefix.length > 0 && prefix.join('/') !== '') universe.push(prefix.join('/'));
    if (depth === 0) return;
    for (const l of TOPIC_LEVELS) grow([...prefix, l], depth - 1);
  };
  grow([], 4);
  const level = fc.constantFrom('a', 'b', '$s', '+', '');
  const filter = fc.tuple(fc.array(level, { minLength: 1, maxLength: 3 }), fc.boolean())
    .map(([levels, hash]) => (hash ? [...levels.slice(0, 2), '#'] : levels).join('/'))
    .filter((f) => f !== ''); // the empty filter is invalid
  const filterOrHash = fc.oneof(filter, fc.constant('#'));

  test('filterCovers(r, q) ⇔ every topic q matches, r matches', () => {
    fc.assert(fc.property(filterOrHash, filterOrHash, (r, q) => {
      const truth = universe.every((t) => !topicMatches(q, t) || topicMatches(r, t));
      expect(filterCovers(r, q)).toBe(truth);
    }), { numRuns: 1000 });
  });

  test('filtersIntersect(a, b) ⇔ some topic both match', () => {
    fc.assert(fc.property(filterOrHash, filterOrHash, (a, b) => {
      const truth = universe.some((t) => topicMatches(a, t) && topicMatches(b, t));
      expect(filtersIntersect(a, b)).toBe(truth);
    }), { numRuns: 1000 });
  });
});

describe('pattern substitution', () => {
  const rule = (access: AclRule['access'], filter: string): AclRule => ({ access, filter, pattern: true, line: 1 });
  test.each([
    ['write', 'devices/%u/#', 'alice', 'c1', 'devices/alice/#'],
    ['read', 'devices/%c/cmd', 'alice', 'c1', 'devices/c1/cmd'],
    ['read', 'u/%u/c/%c', 'alice', 'c1', 'u/alice/c/c1'],
    ['read', 'pre-%u-post/x', 'alice', 'c1', 'pre-alice-post/x'],
    ['write', 'devices/%u/#', undefined, 'c1', undefined], // no user name: rule does not apply
    ['deny', 'devices/%u/#', undefined, 'c1', undefined],
    ['write', 'devices/%u/#', '', 'c1', undefined],
    // values that could widen the pattern: grants are skipped...
    ['write', 'devices/%u/#', '+', 'c1', undefined],
    ['write', 'devices/%u/#', '#', 'c1', undefined],
    ['write', 'devices/%u/#', 'a/b', 'c1', undefined],
    ['read', '%c/#', 'alice', '$SYS', undefined],
    ['read', 'x/%c', 'alice', 'a+b', undefined],
    // ...and denies fail closed to the subtree from the placeholder's level
    ['deny', 'devices/%u/secret', 'a/b', 'c1', 'devices/#'],
    ['deny', '%c/secret', 'alice', '#', '#'],
    ['deny', 'x/y-%u/z', '+', 'c1', 'x/#'],
  ] as const)('%s %s with u=%j c=%j → %j', (access, filter, u, c, expected) => {
    expect(instantiatePattern(rule(access, filter), { username: u, clientId: c })).toBe(expected);
  });
});

describe('ACL semantics', () => {
  const acl = parseAclFile(`
# everyone may read public topics, nobody may touch secrets
topic read public/#
topic deny public/secret/#
pattern readwrite home/%u/#
pattern write clients/%c/status
pattern deny home/%u/locked

user sensor
topic write sensors/#

user admin
topic readwrite #
topic read $SYS/#

user reader
topic read sensors/+/temp
topic read sensors/room1/#

clientid gateway-1
topic write gateways/1/#
`, 'acl');
  const { authorizePublish, authorizeSubscribe } = aclHooks(acl);
  const pub = (c: ClientInfo, topic: string): boolean => authorizePublish(c, topic, 1, false);
  const sub = (c: ClientInfo, filter: string): boolean => authorizeSubscribe(c, filter, 1);

  test('seed case: sensor may publish sensors/# but not device/firmware/update', () => {
    const sensor = client('sensor');
    expect(pub(sensor, 'sensors/room1/temp')).toBe(true);
    expect(pub(sensor, 'sensors')).toBe(true);
    expect(pub(sensor, 'device/firmware/update')).toBe(false);
    expect(sub(sensor, 'sensors/#')).toBe(false); // write only
  });

  test.each([
    // who, clientId, topic, allowed
    ['sensor', 'c1', 'sensors/a/b', true],
    ['sensor', 'c1', 'public/news', false], // global grant is read only
    ['sensor', 'c1', 'home/sensor/light', true], // %u
    ['sensor', 'c1', 'home/other/light', false],
    ['sensor', 'c1', 'home/sensor/locked', false], // pattern deny wins over pattern readwrite
    ['sensor', 'c1', 'clients/c1/status', true], // %c
    ['sensor', 'c1', 'clients/c2/status', false],
    ['admin', 'c1', 'anything/at/all', true],
    ['admin', 'c1', 'public/secret/key', false], // global deny wins over the admin's readwrite #
    ['admin', 'c1', '$SYS/x', false], // '#' does not reach $-topics; the $SYS rule is read only
    ['other', 'gateway-1', 'gateways/1/up', true], // clientid section
    ['other', 'gateway-2', 'gateways/1/up', false],
    [undefined, 'gateway-1', 'gateways/1/up', true], // clientid sections apply to anonymous clients too
    [undefined, 'c1', 'home/x', false],
    ['nobody', 'c1', 'sensors/a', false], // deny by default
  ] as const)('publish: %s (%s) → %s: %s', (username, clientId, topic, allowed) => {
    expect(pub(client(username, clientId), topic)).toBe(allowed);
  });

  test.each([
    ['reader', 'sensors/room2/temp', true],
    ['reader', 'sensors/+/temp', true],
    ['reader', 'sensors/room1/#', true],
    ['reader', 'sensors/room1/+/x', true],
    ['reader', 'sensors/#', false], // wider than any single rule
    ['reader', 'sensors/+/humidity', false],
    ['reader', 'public/+', false], // public/secret/# also matches public/secret
    ['reader', 'public/news/+', true],
    ['reader', 'public/#', false], // intersects the deny public/secret/#
    ['reader', 'public/+/x', false], // can match public/secret/x
    ['reader', 'public/news/#', true],
    ['admin', '#', false], // could receive public/secret/... which is denied
    ['admin', 'sensors/#', true],
    ['admin', '$SYS/#', true],
    ['admin', '$SYS/broker/+', true],
    ['sensor', 'home/sensor/#', false], // intersects the %u deny home/sensor/locked
    ['sensor', 'home/sensor/+/x', true],
    ['sensor', 'home/sensor/locked', false],
    ['sensor', 'home/+/x', false],
    [undefined, 'public/news', true],
  ] as const)('subscribe: %s → %s: %s', (username, filter, allowed) => {
    expect(sub(client(username), filter)).toBe(allowed);
  });

  test('shared subscriptions (5.0) are checked by their inner filter; in 3.1.1 $share is a plain topic level', () => {
    expect(sub(client('reader', 'c', 5), '$share/g/sensors/+/temp')).toBe(true);
    expect(sub(client('reader', 'c', 5), '$share/g/sensors/#')).toBe(false);
    expect(sub(client('reader', 'c', 4), '$share/g/sensors/+/temp')).toBe(false);
  });

  test('a user name or client id with wildcards or slashes cannot widen a pattern', () => {
    // %u = '+' would give home/+/# (every home); the grant is skipped instead
    expect(pub(client('+'), 'home/alice/x')).toBe(false);
    expect(sub(client('#'), 'home/#')).toBe(false);
    // %u = 'alice/x' would give home/alice/x/# (inside alice's home)
    expect(pub(client('alice/x'), 'home/alice/x/y')).toBe(false);
    // %c = '+' would give clients/+/status
    expect(pub(client('sensor', '+'), 'clients/c9/status')).toBe(false);
    // a deny with such a value fails closed: home/%u/locked → home/#
    const rules = clientAcl(acl, { username: 'a/b', clientId: 'c' });
    expect(rules.deny).toContain('home/#');
  });

  test('per-connection cache follows a changed user name', () => {
    const c = client('sensor');
    expect(pub(c, 'sensors/x')).toBe(true);
    c.username = 'reader';
    expect(pub(c, 'sensors/x')).toBe(false);
  });

  test('an empty ACL denies everything', () => {
    const h = aclHooks(parseAclFile('# nothing\n'));
    expect(h.authorizePublish(client('admin'), 'a', 0, false)).toBe(false);
    expect(h.authorizeSubscribe(client('admin'), 'a', 0)).toBe(false);
  });
});

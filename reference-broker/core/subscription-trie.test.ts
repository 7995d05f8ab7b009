/**
 * SubscriptionTrie on its own: matching tables from the specs' examples,
 * add/replace/remove bookkeeping, share groups, and a property comparing
 * match() with the codec's topicMatches() over random filters and topics.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { topicFilterProblem, topicMatches } from '../../codec/index.js';
import { type ShareGroup, type Subscription, SubscriptionTrie } from './subscription-trie.js';
import { st } from './test-client.js';

function subOf(owner: string, filter: string, shareName?: string): Subscription<string> {
  return { owner, filter, shareName, qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined };
}

function matching(trie: SubscriptionTrie<string>, topic: string): { subs: string[]; groups: string[] } {
  const subs: string[] = [];
  const groups: string[] = [];
  trie.match(topic, (s) => subs.push(`${s.owner}:${s.filter}`), (g: ShareGroup<string>) => groups.push(`${g.shareName}:${g.filter}`));
  return { subs: subs.sort(), groups: groups.sort() };
}

/** [filter, topic, matches] — the examples of 3.1.1 / 5.0 §4.7 and some edges. */
const TABLE: [string, string, boolean][] = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/tennis/player1/#', 'sport/tennis/player2', false],
  ['sport/#', 'sport', true],
  ['#', 'sport', true],
  ['#', '/', true],
  ['#', 'a/b/c', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+', 'sport', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+/tennis/#', 'sport/tennis/player1', true],
  ['+/tennis/#', 'sport/tennis', true],
  ['a//b', 'a//b', true],
  ['a/+/b', 'a//b', true],
  ['a/+/b', 'a/b', false],
  ['ACCOUNTS', 'Accounts', false],
  ['Accounts payable', 'Accounts payable', true],
  ['Accounts payable', 'Accounts  payable', false],
  ['a/b', 'a/b/', false],
  ['a/b/', 'a/b/', true],
  // '$' topics [MQTT-4.7.2-1]
  ['#', '$SYS/monitor/Clients', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/#', '$SYS', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['#', '$', false],
  ['+', '$', false],
  ['$', '$', true],
  ['a/#', 'a/$x', true],
  ['a/+', 'a/$x', true],
  ['+/#', 'x$/y', true],
];

describe('SubscriptionTrie matching', () => {
  test.each(TABLE)(`${st('5.0', ['MQTT-4.7.1-1', 'MQTT-4.7.1-2', 'MQTT-4.7.2-1', 'MQTT-4.7.3-4'])} ${st('3.1.1', ['MQTT-4.7.1-2', 'MQTT-4.7.1-3', 'MQTT-4.7.2-1', 'MQTT-4.7.3-4'])} filter %j, topic %j → %s`, (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected); // the table agrees with the codec
    const trie = new SubscriptionTrie<string>();
    trie.add(filter, subOf('o', filter));
    expect(matching(trie, topic).subs).toEqual(expected ? [`o:${filter}`] : []);
    // the same filter as a share group matches the same topics
    const shared = new SubscriptionTrie<string>();
    shared.add(filter, subOf('o', `$share/g/${filter}`, 'g'));
    expect(matching(shared, topic).groups).toEqual(expected ? [`g:${filter}`] : []);
  });

  test(`${st('5.0', ['MQTT-3.3.4-2'])} every matching filter of every owner is reported once`, () => {
    const trie = new SubscriptionTrie<string>();
    for (const [o, f] of [['a', 'x/y'], ['a', 'x/+'], ['a', '#'], ['b', 'x/#'], ['b', '+/y'], ['c', 'z'], ['c', 'x/y/z']]) trie.add(f!, subOf(o!, f!));
    expect(matching(trie, 'x/y').subs).toEqual(['a:#', 'a:x/+', 'a:x/y', 'b:+/y', 'b:x/#']);
  });
});

describe('SubscriptionTrie bookkeeping', () => {
  test(`${st('5.0', 'MQTT-3.8.4-3')} ${st('3.1.1', 'MQTT-3.8.4-3')} add with the same owner and filter replaces; size counts subscriptions`, () => {
    const trie = new SubscriptionTrie<string>();
    expect(trie.add('a/+', subOf('o', 'a/+'))).toBeUndefined();
    const v1 = trie.version;
    const replacement = { ...subOf('o', 'a/+'), qos: 2 as const };
    expect(trie.add('a/+', replacement)?.qos).toBe(0);
    expect(trie.version).toBeGreaterThan(v1);
    expect(trie.size).toBe(1);
    const got: Subscription<string>[] = [];
    trie.match('a/b', (s) => got.push(s), () => {});
    expect(got).toEqual([replacement]);
    trie.add('a/+', subOf('p', 'a/+'));
    trie.add('a/+', subOf('o', '$share/g/a/+', 'g'));
    expect(trie.size).toBe(3);
  });

  test(`${st('5.0', 'MQTT-3.10.4-1')} ${st('3.1.1', 'MQTT-3.10.4-1')} remove needs the exact filter (and share name); empty branches are pruned`, () => {
    const trie = new SubscriptionTrie<string>();
    trie.add('a/b/c', subOf('o', 'a/b/c'));
    trie.add('a/+/c', subOf('o', 'a/+/c'));
    trie.add('a/b/c', subOf('o', '$share/g/a/b/c', 'g'));
    expect(trie.remove('a/b/+', 'o')).toBe(false);
    expect(trie.remove('a/b/c', 'p')).toBe(false);
    expect(trie.remove('a/b/c', 'o', 'h')).toBe(false);
    expect(trie.remove('a/b/c', 'o', 'g')).toBe(true);
    expect(matching(trie, 'a/b/c')).toEqual({ subs: ['o:a/+/c', 'o:a/b/c'], groups: [] });
    expect(trie.remove('a/b/c', 'o')).toBe(true);
    expect(trie.remove('a/b/c', 'o')).toBe(false);
    expect(trie.remove('a/+/c', 'o')).toBe(true);
    expect(trie.size).toBe(0);
    expect(matching(trie, 'a/b/c')).toEqual({ subs: [], groups: [] });
    // the root has no children left
    expect((trie as unknown as { root: { children?: Map<string, unknown> } }).root.children?.size ?? 0).toBe(0);
  });

  test(`${st('5.0', ['MQTT-4.8.2-1', 'MQTT-4.8.2-2'])} share groups: one group per ShareName and filter, members by owner`, () => {
    const trie = new SubscriptionTrie<string>();
    trie.add('t/+', subOf('a', '$share/g1/t/+', 'g1'));
    trie.add('t/+', subOf('b', '$share/g1/t/+', 'g1'));
    trie.add('t/+', subOf('c', '$share/g2/t/+', 'g2'));
    trie.add('t/#', subOf('d', '$share/g1/t/#', 'g1'));
    const groups: ShareGroup<string>[] = [];
    trie.match('t/x', () => {}, (g) => groups.push(g));
    expect(groups.map((g) => [g.shareName, g.filter, [...g.members.keys()]]).sort()).toEqual([
      ['g1', 't/#', ['d']], ['g1', 't/+', ['a', 'b']], ['g2', 't/+', ['c']],
    ]);
  });
});

describe('SubscriptionTrie property', () => {
  const level = fc.constantFrom('a', 'b', 'c', '', '$x', '$', 'x$', 'A');
  const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('/')).filter((t) => t.length > 0);
  const filter = fc
    .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 0, maxLength: 4 }), fc.boolean())
    .map(([ls, hash]) => (hash ? [...ls, '#'] : ls).join('/'))
    .filter((f) => f.length > 0 && topicFilterProblem(f, 4) === undefined);

  test(`${st('5.0', ['MQTT-4.7.2-1', 'MQTT-4.7.3-4'])} ${st('3.1.1', ['MQTT-4.7.2-1', 'MQTT-4.7.3-4'])} match() agrees with topicMatches() for random filters and topics, also after removals`, () => {
    fc.assert(
      fc.property(fc.uniqueArray(filter, { maxLength: 25 }), fc.array(topic, { minLength: 1, maxLength: 15 }), fc.array(fc.nat(), { maxLength: 10 }), (filters, topics, removals) => {
        const trie = new SubscriptionTrie<string>();
        filters.forEach((f, i) => trie.add(f, subOf(`o${i % 3}`, f)));
        const live = new Set(filters.map((f, i) => `o${i % 3}:${f}`));
        const check = (): void => {
          for (const t of topics) {
            const expected = [...live].filter((k) => topicMatches(k.slice(k.indexOf(':') + 1), t)).sort();
            expect(matching(trie, t).subs).toEqual(expected);
          }
        };
        check();
        for (const r of removals) {
          if (filters.length === 0) break;
          const i = r % filters.length;
          const key = `o${i % 3}:${filters[i]!}`;
          expect(trie.remove(filters[i]!, `o${i % 3}`)).toBe(live.delete(key));
        }
        expect(trie.size).toBe(live.size);
        check();
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * Topic ACL files. The grammar (documented in reference-broker/README.md):
 *
 *     # comment (a line whose first non-blank character is '#')
 *     topic   <access> <filter>      rule with a literal filter
 *     pattern <access> <filter>      rule where %u = user name, %c = client id
 *     user <name>                    following rules apply to that user
 *     clientid <id>                  following rules apply to that client id
 *
 * <access> is read, write, readwrite or deny. Rules before the first section
 * are global (every client). <filter> is the rest of the line, trimmed.
 *
 * Semantics: deny by default. PUBLISH to a topic is allowed when no
 * applicable deny rule matches it and some write/readwrite rule matches it.
 * SUBSCRIBE to a filter is allowed when no applicable deny rule can match a
 * topic the filter matches (the filters intersect) and one read/readwrite rule
 * covers the filter (every topic it matches, the rule matches).
 *
 * %u / %c values that are missing or empty make the rule not apply. Values
 * containing '+', '#' or '/' or starting with '$' could widen the pattern: a
 * grant rule is then skipped, and a deny rule fails closed, denying the whole
 * subtree from the level holding the placeholder (`devices/%u/secret` becomes
 * `devices/#`). Values are never escaped.
 */
import { readFileSync } from 'node:fs';
import { parseSharedFilter, topicFilterProblem, topicMatches, type QoS } from '../../codec/index.js';
import type { BrokerHooks, ClientInfo } from '../core/options.js';

export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny';
const ACCESS: readonly AclAccess[] = ['read', 'write', 'readwrite', 'deny'];

export interface AclRule {
  access: AclAccess;
  filter: string;
  /** A `pattern` rule: %u and %c are substituted. */
  pattern: boolean;
  line: number;
}

export interface Acl {
  file: string;
  global: AclRule[];
  users: Map<string, AclRule[]>;
  clientIds: Map<string, AclRule[]>;
}

export class AclFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly problem: string,
  ) {
    super(line === undefined ? `${file}: ${problem}` : `${file}:${line}: ${problem}`);
    this.name = 'AclFileError';
  }
}

const PLACEHOLDER = /%[uc]/;

function filterProblem(filter: string, pattern: boolean): string | undefined {
  if (!pattern && PLACEHOLDER.test(filter)) return `'${filter}' contains %u or %c; use a 'pattern' line for substitution`;
  if (filter.startsWith('$share/')) return `'${filter}': write the filter without the $share/<name>/ prefix (shared subscriptions are checked against their inner filter)`;
  const probe = pattern ? filter.replace(/%[uc]/g, 'x') : filter;
  const p = topicFilterProblem(probe, 5);
  return p ? `invalid topic filter '${filter}': ${p.message}` : undefined;
}

/** Parses ACL text; `file` is only used in error messages. */
export function parseAclFile(text: string, file = '<acl file>'): Acl {
  const acl: Acl = { file, global: [], users: new Map(), clientIds: new Map() };
  let current = acl.global;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fail = (problem: string): never => { throw new AclFileError(file, lineNo, problem); };
    const m = /^(\S+)(?:\s+(.*))?$/.exec(line)!;
    const keyword = m[1]!;
    const rest = (m[2] ?? '').trim();
    switch (keyword) {
      case 'user':
      case 'clientid': {
        if (rest === '') fail(`'${keyword}' needs a ${keyword === 'user' ? 'user name' : 'client identifier'}`);
        const map = keyword === 'user' ? acl.users : acl.clientIds;
        let rules = map.get(rest);
        if (!rules) map.set(rest, (rules = []));
        current = rules;
        break;
      }
      case 'topic':
      case 'pattern': {
        const r = /^(\S+)(?:\s+(.*))?$/.exec(rest);
        if (!r) fail(`'${keyword}' needs an access (read, write, readwrite or deny) and a topic filter`);
        const access = r![1]!;
        const filter = (r![2] ?? '').trim();
        if (!(ACCESS as readonly string[]).includes(access)) {
          fail(`unknown access '${access}' (expected read, write, readwrite or deny, then the topic filter)`);
        }
        if (filter === '') fail(`'${keyword} ${access}' needs a topic filter`);
        const problem = filterProblem(filter, keyword === 'pattern');
        if (problem) fail(problem);
        current.push({ access: access as AclAccess, filter, pattern: keyword === 'pattern', line: lineNo });
        break;
      }
      default:
        fail(`unknown keyword '${keyword}' (expected topic, pattern, user or clientid)`);
    }
  }
  return acl;
}

/** Reads and parses an ACL file (synchronously: it is read at start-up). */
export function readAclFile(file: string): Acl {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AclFileError(file, undefined, `cannot read: ${(e as Error).message}`);
  }
  return parseAclFile(text, file);
}

// ---------------------------------------------------------------------------
// Filter algebra

/**
 * Whether Topic Filter `rule` matches every Topic Name that `requested`
 * matches. Filters must be valid, non-shared. Follows topicMatches():
 * `a/#` also matches `a`, and a filter starting with a wildcard matches no
 * topic starting with `$` [MQTT-4.7.2-1].
 */
export function filterCovers(rule: string, requested: string): boolean {
  const r = rule.split('/');
  const q = requested.split('/');
  // A rule starting with a wildcard does not match $-topics; a request starting with a literal $ level only matches those.
  if ((r[0] === '+' || r[0] === '#') && q[0]!.startsWith('$')) return false;
  for (let i = 0; i < r.length; i++) {
    const rl = r[i]!;
    if (rl === '#') return true; // everything below (and the parent level itself) is matched
    if (i >= q.length) return false; // the request stops here; the rule needs more levels
    const ql = q[i]!;
    if (ql === '#') {
      // The request matches every continuation from here: zero or more levels, except that zero levels would
      // leave the empty topic when the prefix is '' or nothing (a Topic Name has at least one character).
      // Only '#' (handled above) matches them all, or '+/#' when no zero-level continuation exists.
      const noParent = i === 0 || (i === 1 && q[0] === '');
      return noParent && rl === '+' && r.length === i + 2 && r[i + 1] === '#';
    }
    if (rl === '+') continue; // any single level, '+' included
    if (ql === '+' || ql !== rl) return false;
  }
  // Every rule level matched; a request with more levels matches longer topics than the rule does.
  return q.length === r.length;
}

/** Whether some Topic Name is matched by both filters (valid, non-shared). */
export function filtersIntersect(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const wild = (l: string): boolean => l === '+' || l === '#';
  if ((wild(x[0]!) && y[0]!.startsWith('$')) || (wild(y[0]!) && x[0]!.startsWith('$'))) return false;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const xl = x[i];
    const yl = y[i];
    if (xl === undefined || yl === undefined) {
      // One filter has ended: the other can only continue with a final '#', which also matches the i-level
      // parent, unless that parent is the empty topic (one empty level), which is not a valid Topic Name.
      const longer = xl === undefined ? y : x;
      if (longer.length !== i + 1 || longer[i] !== '#') return false;
      return !(i === 1 && (x[0] === '' || y[0] === ''));
    }
    if (xl === '#' || yl === '#') return true;
    if (xl === '+' || yl === '+') continue;
    if (xl !== yl) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Per-client rules

/** The filters one client's rules come down to, after %u/%c substitution. */
export interface ClientAcl {
  read: string[];
  write: string[];
  deny: string[];
}

/** Why a %u/%c value cannot be substituted safely, or undefined when it can. */
export function unsafeSubstitution(value: string): string | undefined {
  if (/[+#/]/.test(value)) return "contains '+', '#' or '/'";
  if (value.startsWith('$')) return "starts with '$'";
  return undefined;
}

/**
 * Substitutes %u / %c in a pattern filter. Returns the filter, undefined when
 * the rule does not apply, or for an unsafe value: undefined for a grant and
 * the fail-closed subtree for a deny.
 */
export function instantiatePattern(rule: AclRule, client: Pick<ClientInfo, 'username' | 'clientId'>): string | undefined {
  if (!rule.pattern) return rule.filter;
  const values: Record<'u' | 'c', string | undefined> = { u: client.username, c: client.clientId };
  let unsafe = false;
  for (const m of rule.filter.matchAll(/%([uc])/g)) {
    const v = values[m[1] as 'u' | 'c'];
    if (v === undefined || v === '') return undefined;
    if (unsafeSubstitution(v)) unsafe = true;
  }
  if (unsafe) {
    if (rule.access !== 'deny') return undefined;
    const levels = rule.filter.split('/');
    const first = levels.findIndex((l) => PLACEHOLDER.test(l));
    return [...levels.slice(0, first), '#'].join('/');
  }
  return rule.filter.replace(/%([uc])/g, (_, k: 'u' | 'c') => values[k]!);
}

/** The rules that apply to `client`: global ones, its user section(s), its clientid section(s). */
export function clientAcl(acl: Acl, client: Pick<ClientInfo, 'username' | 'clientId'>): ClientAcl {
  const out: ClientAcl = { read: [], write: [], deny: [] };
  const rules = [
    ...acl.global,
    ...(client.username !== undefined ? acl.users.get(client.username) ?? [] : []),
    ...(acl.clientIds.get(client.clientId) ?? []),
  ];
  for (const rule of rules) {
    const filter = instantiatePattern(rule, client);
    if (filter === undefined) continue;
    if (rule.access === 'deny') out.deny.push(filter);
    if (rule.access === 'read' || rule.access === 'readwrite') out.read.push(filter);
    if (rule.access === 'write' || rule.access === 'readwrite') out.write.push(filter);
  }
  return out;
}

export function canPublish(c: ClientAcl, topic: string): boolean {
  if (c.deny.some((f) => topicMatches(f, topic))) return false;
  return c.write.some((f) => topicMatches(f, topic));
}

/** `filter` as sent in SUBSCRIBE; the $share/<name>/ prefix of a 5.0 shared subscription is removed first. */
export function canSubscribe(c: ClientInfo | undefined, rules: ClientAcl, filter: string): boolean {
  let inner = filter;
  if (c?.protocolVersion === 5 && filter.startsWith('$share/')) {
    const shared = parseSharedFilter(filter);
    if (typeof shared === 'string') return false;
    inner = shared.filter;
  }
  if (rules.deny.some((d) => filtersIntersect(d, inner))) return false;
  return rules.read.some((r) => filterCovers(r, inner));
}

/** authorizePublish / authorizeSubscribe hooks for `acl`; per-client rules are computed once per connection. */
export function aclHooks(acl: Acl): Required<Pick<BrokerHooks, 'authorizePublish' | 'authorizeSubscribe'>> {
  const cache = new WeakMap<ClientInfo, { username: string | undefined; clientId: string; rules: ClientAcl }>();
  const rulesOf = (client: ClientInfo): ClientAcl => {
    let hit = cache.get(client);
    if (!hit || hit.username !== client.username || hit.clientId !== client.clientId) {
      hit = { username: client.username, clientId: client.clientId, rules: clientAcl(acl, client) };
      cache.set(client, hit);
    }
    return hit.rules;
  };
  return {
    authorizePublish: (client: ClientInfo, topic: string, _qos: QoS, _retain: boolean) => canPublish(rulesOf(client), topic),
    authorizeSubscribe: (client: ClientInfo, filter: string, _qos: QoS) => canSubscribe(client, rulesOf(client), filter),
  };
}

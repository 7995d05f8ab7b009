/**
 * Topic Names and Topic Filters (3.1.1 §4.7, 5.0 §4.7): validation, shared
 * subscription parsing, and matching. The broker's router, the suites' model
 * and the codec's checks all use these, so there is one meaning of "matches".
 */
import type { ProtocolVersion } from './constants.js';
import { MqttCodecError, stmt } from './errors.js';

const PLUS = 0x2b;
const HASH = 0x23;
const SLASH = 0x2f;

export type TopicProblem = { code: 'TOPIC_NAME_EMPTY' | 'TOPIC_NAME_WILDCARD' | 'TOPIC_FILTER_EMPTY' | 'TOPIC_FILTER_INVALID' | 'SHARED_SUBSCRIPTION_INVALID'; message: string; statement?: string | undefined; section: string };

/** Why `name` is not a valid Topic Name, or undefined when it is. */
export function topicNameProblem(name: string, version: ProtocolVersion = 5): TopicProblem | undefined {
  if (name.length === 0) {
    return { code: 'TOPIC_NAME_EMPTY', message: 'Topic Name must be at least one character', statement: 'MQTT-4.7.3-1', section: '4.7.3' };
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === PLUS || c === HASH) {
      return { code: 'TOPIC_NAME_WILDCARD', message: `wildcard '${name[i]!}' at index ${i} in a Topic Name`, statement: stmt(version, 'MQTT-3.3.2-2', 'MQTT-3.3.2-2'), section: '3.3.2.1' };
    }
  }
  return undefined;
}

/** Why `filter` is not a valid Topic Filter (shared form included in 5.0), or undefined. */
export function topicFilterProblem(filter: string, version: ProtocolVersion = 5): TopicProblem | undefined {
  if (filter.length === 0) {
    return { code: 'TOPIC_FILTER_EMPTY', message: 'Topic Filter must be at least one character', statement: 'MQTT-4.7.3-1', section: '4.7.3' };
  }
  if (version === 5 && filter.startsWith('$share/')) {
    const shared = parseSharedFilter(filter);
    if (typeof shared === 'string') {
      // An empty ShareName ("$share/" or "$share//...") breaks MQTT-4.8.2-1; the rest of the form, MQTT-4.8.2-2.
      const emptyShareName = filter.length === 7 || filter.charCodeAt(7) === SLASH;
      return { code: 'SHARED_SUBSCRIPTION_INVALID', message: shared, statement: emptyShareName ? 'MQTT-4.8.2-1' : 'MQTT-4.8.2-2', section: '4.8.2' };
    }
    return wildcardProblem(shared.filter, version);
  }
  return wildcardProblem(filter, version);
}

function wildcardProblem(filter: string, version: ProtocolVersion): TopicProblem | undefined {
  const n = filter.length;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === HASH) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== SLASH) || i !== n - 1) {
        return { code: 'TOPIC_FILTER_INVALID', message: `'#' at index ${i} must be alone in the last level`, statement: stmt(version, 'MQTT-4.7.1-2', 'MQTT-4.7.1-1'), section: '4.7.1.2' };
      }
    } else if (c === PLUS) {
      if ((i > 0 && filter.charCodeAt(i - 1) !== SLASH) || (i < n - 1 && filter.charCodeAt(i + 1) !== SLASH)) {
        return { code: 'TOPIC_FILTER_INVALID', message: `'+' at index ${i} must occupy a whole level`, statement: stmt(version, 'MQTT-4.7.1-3', 'MQTT-4.7.1-2'), section: '4.7.1.3' };
      }
    }
  }
  return undefined;
}

/** Throws the codec error for an invalid Topic Name. */
export function assertTopicName(name: string, version: ProtocolVersion, packetType: string, field: string): void {
  const p = topicNameProblem(name, version);
  if (p) throw new MqttCodecError(p.code, p.message, { statement: p.statement, section: p.section, version, packetType, field, reasonCode: 0x90 });
}

/** Throws the codec error for an invalid Topic Filter. */
export function assertTopicFilter(filter: string, version: ProtocolVersion, packetType: string, field: string): void {
  const p = topicFilterProblem(filter, version);
  if (p) throw new MqttCodecError(p.code, p.message, { statement: p.statement, section: p.section, version, packetType, field, reasonCode: 0x8f });
}

export interface SharedFilter {
  shareName: string;
  filter: string;
}

/**
 * Splits `$share/{ShareName}/{filter}` (5.0 §4.8.2). Returns undefined when the
 * filter is not shared, or a message saying what is wrong with the form.
 */
export function parseSharedFilter(filter: string): SharedFilter | string {
  if (!filter.startsWith('$share/')) return 'not a shared subscription';
  const rest = filter.slice(7);
  const slash = rest.indexOf('/');
  if (slash <= 0) return `'${filter}': a shared subscription needs $share/{ShareName}/{filter} with a non-empty ShareName`;
  const shareName = rest.slice(0, slash);
  if (shareName.includes('+') || shareName.includes('#')) return `ShareName '${shareName}' must not contain '+' or '#'`;
  const inner = rest.slice(slash + 1);
  if (inner.length === 0) return `'${filter}': the filter after the ShareName is empty`;
  return { shareName, filter: inner };
}

export function isSharedFilter(filter: string): boolean {
  return filter.startsWith('$share/');
}

/**
 * Whether Topic Name `topic` matches (non-shared) Topic Filter `filter`.
 * `sport/#` matches `sport` (§4.7.1.2); filters starting with a wildcard do
 * not match topics starting with `$` [MQTT-4.7.2-1].
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter.charCodeAt(0) === PLUS || filter.charCodeAt(0) === HASH)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Splits a topic or filter into levels. */
export function topicLevels(s: string): string[] {
  return s.split('/');
}

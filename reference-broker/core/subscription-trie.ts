/**
 * Subscriptions indexed by topic-filter level, so a PUBLISH finds every
 * matching subscription in one walk of its topic's levels (5.0 §4.7,
 * 3.1.1 §4.7). Shared subscriptions (5.0 §4.8.2) hang off the same nodes,
 * grouped by ShareName.
 */
import type { QoS, RetainHandling } from '../../codec/index.js';
import { NO_FAULTS, type FaultSet } from './faults.js';

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: RetainHandling;
  subscriptionId: number | undefined;
}

/** One client's subscription to one filter. `owner` identifies the session. */
export interface Subscription<S> extends SubscriptionOptions {
  owner: S;
  /** The filter as the client sent it (with `$share/name/` for shared ones). */
  filter: string;
  /** ShareName for a shared subscription. */
  shareName: string | undefined;
}

export interface ShareGroup<S> {
  shareName: string;
  filter: string;
  members: Map<S, Subscription<S>>;
  /** Round-robin cursor. */
  next: number;
}

class Node<S> {
  children: Map<string, Node<S>> | undefined;
  subs: Map<S, Subscription<S>> | undefined;
  groups: Map<string, ShareGroup<S>> | undefined;

  child(level: string): Node<S> | undefined {
    return this.children?.get(level);
  }

  isEmpty(): boolean {
    return !this.children?.size && !this.subs?.size && !this.groups?.size;
  }
}

export class SubscriptionTrie<S> {
  private readonly root = new Node<S>();
  private count = 0;
  /** Bumped on every change, so callers can cache match results. */
  version = 0;

  /** `faults`: suite self-checks only (core/faults.ts); matching follows the spec without them. */
  constructor(private readonly faults: FaultSet = NO_FAULTS) {}

  get size(): number {
    return this.count;
  }

  /** Adds or replaces `sub` (same owner and filter). Returns the replaced subscription, if any. */
  add(filterLevels: string, sub: Subscription<S>): Subscription<S> | undefined {
    let node = this.root;
    for (const level of filterLevels.split('/')) {
      let next = node.children?.get(level);
      if (!next) {
        next = new Node<S>();
        (node.children ??= new Map()).set(level, next);
      }
      node = next;
    }
    this.version++;
    if (sub.shareName !== undefined) {
      const groups = (node.groups ??= new Map());
      let g = groups.get(sub.shareName);
      if (!g) groups.set(sub.shareName, (g = { shareName: sub.shareName, filter: filterLevels, members: new Map(), next: 0 }));
      const old = g.members.get(sub.owner);
      g.members.set(sub.owner, sub);
      if (!old) this.count++;
      return old;
    }
    const subs = (node.subs ??= new Map());
    const old = subs.get(sub.owner);
    subs.set(sub.owner, sub);
    if (!old) this.count++;
    return old;
  }

  /** Removes `owner`'s subscription to `filterLevels` (in share group `shareName`). */
  remove(filterLevels: string, owner: S, shareName?: string): boolean {
    const path: Node<S>[] = [this.root];
    const levels = filterLevels.split('/');
    let node: Node<S> | undefined = this.root;
    for (const level of levels) {
      node = node.child(level);
      if (!node) return false;
      path.push(node);
    }
    let removed: boolean;
    if (shareName !== undefined) {
      const g = node.groups?.get(shareName);
      removed = g?.members.delete(owner) ?? false;
      if (g && g.members.size === 0) node.groups!.delete(shareName);
    } else {
      removed = node.subs?.delete(owner) ?? false;
    }
    if (!removed) return false;
    this.count--;
    this.version++;
    // prune empty branches
    for (let i = path.length - 1; i > 0; i--) {
      if (!path[i]!.isEmpty()) break;
      path[i - 1]!.children!.delete(levels[i - 1]!);
    }
    return true;
  }

  /** The share group `shareName` on exactly the filter `filterLevels`, if it has members. */
  group(filterLevels: string, shareName: string): ShareGroup<S> | undefined {
    let node: Node<S> | undefined = this.root;
    for (const level of filterLevels.split('/')) {
      node = node.child(level);
      if (!node) return undefined;
    }
    return node.groups?.get(shareName);
  }

  /**
   * Calls `onSub` for every non-shared subscription and `onGroup` for every
   * share group whose filter matches `topic`. Filters starting with a
   * wildcard do not match topics starting with '$' [MQTT-4.7.2-1].
   */
  match(topic: string, onSub: (s: Subscription<S>) => void, onGroup: (g: ShareGroup<S>) => void): void {
    const levels = topic.split('/');
    const dollar = topic.charCodeAt(0) === 0x24;
    this.walk(this.root, levels, 0, dollar, onSub, onGroup);
  }

  private walk(node: Node<S>, levels: string[], i: number, dollar: boolean, onSub: (s: Subscription<S>) => void, onGroup: (g: ShareGroup<S>) => void): void {
    const children = node.children;
    if (i === levels.length) {
      emit(node, onSub, onGroup);
      // 'sport/#' also matches 'sport' (§4.7.1.2)
      const hash = children?.get('#');
      // FAULT hash-no-parent: the parent level is not matched.
      if (hash && !this.faults['hash-no-parent']) emit(hash, onSub, onGroup);
      return;
    }
    if (!children) return;
    // FAULT dollar-wildcard: wildcards at the first level also match '$' topics.
    const wild = !(dollar && i === 0) || this.faults['dollar-wildcard'];
    if (wild) {
      const hash = children.get('#');
      if (hash) emit(hash, onSub, onGroup);
      const plus = children.get('+');
      if (plus) {
        this.walk(plus, levels, i + 1, dollar, onSub, onGroup);
        // FAULT plus-multilevel: '+' also swallows the levels after its own.
        if (this.faults['plus-multilevel']) for (let j = i + 2; j <= levels.length; j++) this.walk(plus, levels, j, dollar, onSub, onGroup);
      }
    }
    const exact = children.get(levels[i]!);
    if (exact) this.walk(exact, levels, i + 1, dollar, onSub, onGroup);
  }
}

function emit<S>(node: Node<S>, onSub: (s: Subscription<S>) => void, onGroup: (g: ShareGroup<S>) => void): void {
  if (node.subs) for (const s of node.subs.values()) onSub(s);
  if (node.groups) for (const g of node.groups.values()) onGroup(g);
}

/**
 * Routes an Application Message to the sessions whose subscriptions match.
 * A client with several matching subscriptions gets one copy at the highest
 * granted QoS, carrying every matching Subscription Identifier
 * [MQTT-3.3.4-2, MQTT-3.3.4-3 / 3.1.1 MQTT-3.3.5-1]. Each share group
 * gets one copy, to one member (5.0 §4.8.2).
 */
import type { QoS } from '../../codec/index.js';
import { NO_FAULTS, type FaultSet } from './faults.js';
import type { AppMessage } from './message.js';
import type { Session, ShareRef } from './session.js';
import { type ShareGroup, type Subscription, SubscriptionTrie } from './subscription-trie.js';

interface OwnerMatch {
  owner: Session;
  subs: Subscription<Session>[];
}

interface MatchResult {
  owners: OwnerMatch[];
  groups: ShareGroup<Session>[];
}

export interface Delivery {
  session: Session;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[] | undefined;
  /** The share group, for deliveries through a shared subscription. */
  share: ShareRef | undefined;
}

const CACHE_LIMIT = 10_000;

export class Router {
  readonly trie: SubscriptionTrie<Session>;
  private cache = new Map<string, MatchResult>();
  private cacheVersion = -1;

  /** `faults`: suite self-checks only (core/faults.ts). */
  constructor(private readonly faults: FaultSet = NO_FAULTS) {
    this.trie = new SubscriptionTrie<Session>(faults);
  }

  /** Subscriptions matching `topic`, grouped by owner; cached until the subscriptions change. */
  private matches(topic: string): MatchResult {
    if (this.cacheVersion !== this.trie.version) {
      this.cache.clear();
      this.cacheVersion = this.trie.version;
    }
    let r = this.cache.get(topic);
    if (r) return r;
    const byOwner = new Map<Session, Subscription<Session>[]>();
    const groups: ShareGroup<Session>[] = [];
    this.trie.match(
      topic,
      (s) => {
        const list = byOwner.get(s.owner);
        if (list) list.push(s);
        else byOwner.set(s.owner, [s]);
      },
      (g) => groups.push(g),
    );
    r = { owners: [...byOwner].map(([owner, subs]) => ({ owner, subs })), groups };
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(topic, r);
    return r;
  }

  /**
   * Calls `deliver` once per receiving session. `isConnected` lets share
   * groups prefer members with a live connection. Returns the number of deliveries.
   */
  route(msg: AppMessage, isConnected: (s: Session) => boolean, deliver: (d: Delivery) => void): number {
    const { owners, groups } = this.matches(msg.topic);
    const f = this.faults;
    // FAULT retain-flag-live / retain-as-published-ignored: RETAIN as if Retain As Published were always 1 / 0.
    const keepRetain = f['retain-flag-live'] ? msg.retain : false;
    const dropRetain = f['retain-as-published-ignored'];
    // FAULT granted-qos-ignored: the message QoS, whatever was granted.
    const ignoreGranted = f['granted-qos-ignored'];
    // FAULT no-local-ignored: own messages come back.
    const noLocal = !f['no-local-ignored'];
    let n = 0;
    for (let i = 0; i < owners.length; i++) {
      const { owner, subs } = owners[i]!;
      let qos = -1;
      let retain = keepRetain;
      let ids: number[] | undefined;
      for (let j = 0; j < subs.length; j++) {
        const s = subs[j]!;
        // No Local: not back to the publishing client [MQTT-3.8.3-3]
        if (s.noLocal && noLocal && msg.origin === owner.clientId) continue;
        if (s.qos > qos) qos = s.qos;
        // Retain As Published [MQTT-3.3.1-12, MQTT-3.3.1-13]; 3.1.1 always clears RETAIN [MQTT-3.3.1-9]
        if (s.retainAsPublished && msg.retain && !dropRetain) retain = true;
        if (s.subscriptionId !== undefined) (ids ??= []).push(s.subscriptionId);
      }
      if (qos < 0) continue;
      deliver({ session: owner, qos: (qos < msg.qos && !ignoreGranted ? qos : msg.qos) as QoS, retain, subscriptionIds: ids, share: undefined });
      n++;
    }
    for (let i = 0; i < groups.length; i++) {
      const sub = pickMember(groups[i]!, isConnected);
      if (!sub) continue;
      deliver({
        session: sub.owner,
        qos: (sub.qos < msg.qos && !ignoreGranted ? sub.qos : msg.qos) as QoS,
        retain: keepRetain || (sub.retainAsPublished && msg.retain && !dropRetain),
        subscriptionIds: sub.subscriptionId !== undefined ? [sub.subscriptionId] : undefined,
        share: groups[i]!,
      });
      n++;
    }
    return n;
  }

  /** The next member of a share group to give a message to (connected ones first), if the group still exists. */
  shareMember(share: ShareRef, isConnected: (s: Session) => boolean): Subscription<Session> | undefined {
    const g = this.trie.group(share.filter, share.shareName);
    return g ? pickMember(g, isConnected) : undefined;
  }
}

/** Round robin over members, skipping those without a connection when any has one. */
function pickMember(g: ShareGroup<Session>, isConnected: (s: Session) => boolean): Subscription<Session> | undefined {
  const members = [...g.members.values()];
  if (members.length === 0) return undefined;
  for (let k = 0; k < members.length; k++) {
    const idx = (g.next + k) % members.length;
    const m = members[idx]!;
    if (isConnected(m.owner)) {
      g.next = idx + 1;
      return m;
    }
  }
  const m = members[g.next % members.length]!;
  g.next++;
  return m;
}

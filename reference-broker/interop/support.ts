/**
 * Shared helpers of the interop tests: event-driven waits with a timeout,
 * unique topics, and a broker watch that reports subscriptions as they happen
 * (so a test starts publishing only once an external subscriber is in place).
 */
import { randomBytes } from 'node:crypto';
import type { BrokerHooks, ClientInfo } from '../index.js';

/** Rejects with `what` when `p` has not settled within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

let counter = 0;
/** A topic no other test (or earlier run against the same broker) uses: `interop/<label>/<random>-<n>`. */
export function uniqueTopic(label: string): string {
  return `interop/${label}/${randomBytes(4).toString('hex')}-${++counter}`;
}

export function uniqueClientId(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}-${++counter}`;
}

interface SubscribeEvent {
  client: ClientInfo;
  filter: string;
}

/**
 * Watches a broker through its hooks: every SUBSCRIBE filter the broker
 * accepts is recorded, and waitForSubscribe() resolves when (or if already)
 * a client subscribed to it. The hook runs just before the subscription is
 * added, in the same synchronous step, so the subscription is in place by the
 * time an awaiting test resumes.
 */
export class BrokerWatch {
  private readonly seen: SubscribeEvent[] = [];
  private readonly waiters = new Set<(e: SubscribeEvent) => void>();

  /** Broker hooks that report subscriptions, wrapping `inner` (whose decisions stand). */
  hooks(inner: BrokerHooks = {}): BrokerHooks {
    return {
      ...inner,
      authorizeSubscribe: (client, filter, qos) => {
        const ok = inner.authorizeSubscribe ? inner.authorizeSubscribe(client, filter, qos) : true;
        if (ok) {
          const e = { client: { ...client }, filter };
          this.seen.push(e);
          for (const w of [...this.waiters]) w(e);
        }
        return ok;
      },
    };
  }

  /** Resolves with the subscribing client once `filter` was subscribed (optionally by `clientId`). */
  waitForSubscribe(filter: string, opts: { clientId?: string; timeoutMs?: number } = {}): Promise<ClientInfo> {
    const fits = (e: SubscribeEvent): boolean => e.filter === filter && (opts.clientId === undefined || e.client.clientId === opts.clientId);
    const already = this.seen.find(fits);
    if (already) return Promise.resolve(already.client);
    let waiter: ((e: SubscribeEvent) => void) | undefined;
    const p = new Promise<ClientInfo>((resolve) => {
      waiter = (e) => {
        if (fits(e)) resolve(e.client);
      };
      this.waiters.add(waiter);
    });
    return withTimeout(p, opts.timeoutMs ?? 5000, `a subscription to ${filter}`).finally(() => {
      if (waiter) this.waiters.delete(waiter);
    });
  }
}

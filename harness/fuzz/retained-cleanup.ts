/**
 * Clears the retained messages fuzz cases left on a broker: a client
 * subscribes to '#', collects the topics of the retained messages it is sent
 * [MQTT-3.3.1-6 / 5.0 MQTT-3.3.1-9], and publishes a zero-length retained
 * message to each, which removes it [MQTT-3.3.1-10 / 5.0 MQTT-3.3.1-6].
 *
 * Mutated cases leave retained messages on topics no case chose (a flipped
 * byte in a topic, a padded topic, a spliced packet): the broker must keep
 * them, so its memory grows with them. Clearing them before each memory
 * floor makes the floors compare like with like. Topics starting with '$'
 * are not matched by '#' and stay (there are few).
 */
import type { ProtocolVersion } from '../../codec/index.js';
import { RawClient, WaitError } from '../raw-client.js';
import type { TlsClientOptions } from '../transport.js';

export interface CleanupOptions {
  url: string;
  version: ProtocolVersion;
  tag: string;
  tls?: TlsClientOptions | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** The retained messages have all arrived when nothing came for this long, ms. Default 500. */
  quietMs?: number;
  /** Bound on the whole cleanup, ms. Default 20 s. */
  maxMs?: number;
}

/** Clears every retained message under '#'; returns how many topics it cleared. */
export async function clearRetained(o: CleanupOptions): Promise<number> {
  const deadline = performance.now() + (o.maxMs ?? 20_000);
  const c = await RawClient.open(o.url, { version: o.version, label: 'cleanup', tls: o.tls, timeoutMs: 5000 });
  try {
    const ack = await c.connect({ clientId: `fuzz-cleanup-${o.tag}`, clean: true, keepAlive: 0, username: o.username, password: o.password !== undefined ? Buffer.from(o.password) : undefined });
    if (ack.reasonCode !== 0) return 0;
    c.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: '#', qos: 0 }] });
    await c.expect('suback');
    const topics = new Set<string>();
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      try {
        const p = await c.expect('publish', { timeoutMs: Math.min(o.quietMs ?? 500, left) });
        if (p.retain && p.topic !== '') topics.add(p.topic);
      } catch (e) {
        if (e instanceof WaitError && e.failure === 'timeout') break;
        throw e;
      }
    }
    c.send({ type: 'unsubscribe', packetId: 2, topicFilters: ['#'] });
    for (const topic of topics) c.send({ type: 'publish', topic, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false });
    // Packets are handled in order: the PINGRESP comes after every clearing PUBLISH was.
    c.send({ type: 'pingreq' });
    await c.expect('pingresp', { timeoutMs: Math.max(1000, deadline - performance.now()) });
    return topics.size;
  } finally {
    c.destroy();
  }
}

/**
 * Retained messages, one per topic (3.1.1 §3.3.1.3, 5.0 §3.3.1.3), indexed by
 * topic level so a subscription's filter finds its matches without scanning
 * every topic.
 */
import type { AppMessage } from './message.js';

class Node {
  children: Map<string, Node> | undefined;
  message: AppMessage | undefined;
}

export class RetainedStore {
  private readonly root = new Node();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Stores `msg` for its topic, or clears the topic when the payload is empty [MQTT-3.3.1-6, MQTT-3.3.1-7]. */
  set(msg: AppMessage): void {
    if (msg.payload.length === 0) {
      this.delete(msg.topic);
      return;
    }
    let node = this.root;
    for (const level of msg.topic.split('/')) {
      let next = node.children?.get(level);
      if (!next) (node.children ??= new Map()).set(level, (next = new Node()));
      node = next;
    }
    if (!node.message) this.count++;
    node.message = msg;
  }

  get(topic: string): AppMessage | undefined {
    let node: Node | undefined = this.root;
    for (const level of topic.split('/')) {
      node = node.children?.get(level);
      if (!node) return undefined;
    }
    return node.message;
  }

  delete(topic: string): boolean {
    const levels = topic.split('/');
    const path: Node[] = [this.root];
    let node: Node | undefined = this.root;
    for (const level of levels) {
      node = node.children?.get(level);
      if (!node) return false;
      path.push(node);
    }
    if (!node.message) return false;
    node.message = undefined;
    this.count--;
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i]!;
      if (n.message || n.children?.size) break;
      path[i - 1]!.children!.delete(levels[i - 1]!);
    }
    return true;
  }

  /** Every retained message whose topic matches `filter` (non-shared form); `$` topics only for filters not starting with a wildcard. */
  match(filter: string, now: number): AppMessage[] {
    const out: AppMessage[] = [];
    const levels = filter.split('/');
    this.walk(this.root, levels, 0, now, out);
    return out;
  }

  /** All retained messages (for persistence and diagnostics). */
  all(): AppMessage[] {
    const out: AppMessage[] = [];
    collect(this.root, out, Number.NEGATIVE_INFINITY, false);
    return out;
  }

  private walk(node: Node, levels: string[], i: number, now: number, out: AppMessage[]): void {
    if (i === levels.length) {
      if (node.message) this.take(node, now, out);
      return;
    }
    const level = levels[i]!;
    if (level === '#') {
      // matches this level (parent) and everything below; at the root, not '$' topics
      if (i > 0 && node.message) this.take(node, now, out);
      if (node.children) for (const [name, child] of node.children) if (i > 0 || name.charCodeAt(0) !== 0x24) collect(child, out, now, true, this);
      return;
    }
    if (!node.children) return;
    if (level === '+') {
      for (const [name, child] of node.children) {
        if (i === 0 && name.charCodeAt(0) === 0x24) continue;
        this.walk(child, levels, i + 1, now, out);
      }
      return;
    }
    const child = node.children.get(level);
    if (child) this.walk(child, levels, i + 1, now, out);
  }

  /** Adds an unexpired message; drops expired ones from the store [MQTT-3.3.2-5]. */
  take(node: Node, now: number, out: AppMessage[]): void {
    const m = node.message!;
    if (m.expiresAt !== undefined && m.expiresAt <= now) {
      this.delete(m.topic);
      return;
    }
    out.push(m);
  }
}

function collect(node: Node, out: AppMessage[], now: number, checkExpiry: boolean, store?: RetainedStore): void {
  if (node.message) {
    if (checkExpiry && store) store.take(node, now, out);
    else out.push(node.message);
  }
  if (node.children) for (const child of [...node.children.values()]) collect(child, out, now, checkExpiry, store);
}

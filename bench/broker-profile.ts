/**
 * Summarises a V8 .cpuprofile (from `npm run bench:broker -- --profile`):
 * the functions with the most self time and the most total time (each sample
 * counted once per function on its stack), by share of the samples.
 *
 *   node dist/bench/broker-profile.js out/bench/prof-<timestamp>/broker-ours-<n>.cpuprofile [--top=25]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
}

function label(f: CallFrame): string {
  let file = f.url;
  if (file.startsWith('file://')) file = relative(process.cwd(), fileURLToPath(file));
  const name = f.functionName || '(anonymous)';
  return file ? `${name}  ${file}:${f.lineNumber + 1}` : name;
}

function main(): void {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: broker-profile.js FILE.cpuprofile [--top=N]');
    process.exit(2);
  }
  const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let samples = 0;
  const hits = new Map<number, number>();
  if (profile.samples && profile.samples.length > 0) {
    for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  } else {
    for (const n of profile.nodes) if (n.hitCount) hits.set(n.id, n.hitCount);
  }
  for (const [id, count] of hits) {
    const node = byId.get(id);
    if (!node) continue;
    samples += count;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + count);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + count);
    }
  }
  const show = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title} (of ${samples} samples)`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${((100 * v) / samples).toFixed(1).padStart(6)}%  ${k}`);
    }
  };
  show('self time', self);
  show('total time', total);
}

main();

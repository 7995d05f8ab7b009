/**
 * Runs one broker in its own process for bench/broker.bench.ts:
 *
 *   node --expose-gc dist/bench/broker-launcher.js --broker=ours|aedes [--nodelay=true|false]
 *        [--max-inflight=N] [--max-queued=N]
 *
 * Listens on 127.0.0.1, port 0, and prints one JSON line
 * {"broker":…,"port":…,"pid":…} on stdout when ready. Over the IPC channel
 * (when spawned with one) it answers {type:'gc'} (a full GC, then
 * process.memoryUsage()) and {type:'stats'}. SIGTERM, SIGINT or the parent
 * going away close the broker and exit normally, so `node --cpu-prof` writes
 * its profile.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { startBroker } from '../reference-broker/index.js';

type Kind = 'ours' | 'aedes';

function arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

const kind = (arg('broker') ?? 'ours') as Kind;
if (kind !== 'ours' && kind !== 'aedes') throw new Error(`--broker must be ours or aedes, not ${String(kind)}`);
const noDelay = (arg('nodelay') ?? 'true') !== 'false';
const maxInflight = Number(arg('max-inflight') ?? 1000);
const maxQueued = Number(arg('max-queued') ?? 100_000);

let close: () => Promise<void>;
let stats: () => unknown = () => undefined;
let port: number;

if (kind === 'ours') {
  const running = await startBroker({
    tcp: { host: '127.0.0.1', port: 0 }, noDelay, maxInflight, maxQueuedMessages: maxQueued,
  });
  port = running.listeners[0]!.port;
  close = () => running.close();
  stats = () => running.broker.stats;
} else {
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(noDelay);
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  close = () => new Promise<void>((resolve) => {
    aedes.close(() => server.close(() => resolve()));
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 2000);
  force.unref();
  close().then(() => process.exit(0), () => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);

process.on('message', (m: { type?: string }) => {
  if (m.type === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ type: 'gc', memory: process.memoryUsage() });
  } else if (m.type === 'stats') {
    process.send?.({ type: 'stats', stats: stats() });
  }
});

process.stdout.write(`${JSON.stringify({ broker: kind, port, pid: process.pid, noDelay })}\n`);

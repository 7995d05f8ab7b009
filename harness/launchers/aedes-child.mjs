// Runs Aedes 1.x in its own process for harness/launchers/aedes.ts:
//   node harness/launchers/aedes-child.mjs [tcpPort wsPort]   (default 0 0: free ports)
// Listens on 127.0.0.1 (TCP, and WebSocket on any path), then prints one JSON line
//   {"ready":true,"tcp":…,"ws":…,"pid":…,"aedes":"1.2.0"}
// and runs until SIGTERM / SIGINT or until its stdin closes (the parent went away).
// Plain JavaScript so that it runs from the sources and from dist/ alike.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';

const { Aedes } = await import('aedes');
const require = createRequire(import.meta.url);
let version = 'unknown';
try {
  version = JSON.parse(readFileSync(require.resolve('aedes/package.json'), 'utf8')).version;
} catch {
  try {
    version = JSON.parse(readFileSync(new URL('../../node_modules/aedes/package.json', import.meta.url), 'utf8')).version;
  } catch { /* unknown */ }
}

const [tcpPort = '0', wsPort = '0'] = process.argv.slice(2);
const broker = await Aedes.createBroker();
// A misbehaving client must not end the broker: errors are logged, the connection is dropped by Aedes.
broker.on('clientError', (client, err) => process.stderr.write(`clientError ${client?.id ?? '?'}: ${err.message}\n`));
broker.on('connectionError', (client, err) => process.stderr.write(`connectionError ${client?.id ?? '?'}: ${err.message}\n`));

const sockets = new Set();
const tcp = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {});
  broker.handle(socket);
});
const http = createHttpServer();
const wss = new WebSocketServer({ server: http });
wss.on('connection', (ws, req) => {
  const stream = createWebSocketStream(ws);
  stream.on('error', () => {});
  broker.handle(stream, req);
});

const listen = (server, port) => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(port), '127.0.0.1', () => resolve(server.address().port));
});

const ports = { tcp: await listen(tcp, tcpPort), ws: await listen(http, wsPort) };
process.stdout.write(`${JSON.stringify({ ready: true, ...ports, pid: process.pid, aedes: version })}\n`);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  for (const s of sockets) s.destroy();
  for (const c of wss.clients) c.terminate();
  const hard = setTimeout(() => process.exit(0), 2000);
  hard.unref();
  broker.close(() => {
    tcp.close();
    wss.close();
    http.close();
    http.closeAllConnections?.();
    process.exit(0);
  });
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

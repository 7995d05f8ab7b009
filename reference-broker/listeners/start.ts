/**
 * startBroker(): the broker core plus its network listeners (TCP 1883, TLS
 * 8883, WebSocket 8083, secure WebSocket 8084 by convention; any subset; port
 * 0 picks a free port and the bound one is reported).
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { WebSocketServer } from 'ws';
import { Broker } from '../core/broker.js';
import type { BrokerOptions } from '../core/options.js';
import { attachSocket } from './socket-link.js';
import { attachWebSocket } from './ws-link.js';

export interface TlsMaterial {
  /** PEM key and certificate of the server. */
  key: string | Buffer;
  cert: string | Buffer;
  /** PEM CA bundle that client certificates must chain to (mutual TLS). */
  ca?: string | Buffer | undefined;
  /** Require and verify a client certificate. */
  requireClientCert?: boolean | undefined;
}

export interface ListenerOptions {
  host?: string;
  port: number;
}

export interface StartOptions extends BrokerOptions {
  tcp?: ListenerOptions | false;
  tls?: (ListenerOptions & TlsMaterial) | false;
  ws?: (ListenerOptions & { path?: string }) | false;
  wss?: (ListenerOptions & TlsMaterial & { path?: string }) | false;
  /** TCP_NODELAY on accepted sockets (recorded by benchmarks). Default true. */
  noDelay?: boolean;
}

export type ListenerKind = 'tcp' | 'tls' | 'ws' | 'wss';

export interface BoundListener {
  kind: ListenerKind;
  host: string;
  port: number;
  /** e.g. mqtt://127.0.0.1:1883, wss://127.0.0.1:8084/mqtt */
  url: string;
}

export interface RunningBroker {
  broker: Broker;
  listeners: BoundListener[];
  /** URL of the first listener of `kind`. */
  url(kind?: ListenerKind): string;
  close(): Promise<void>;
}

const SCHEME: Record<ListenerKind, string> = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' };

/** `handshakeMs` bounds the TLS handshake like connectTimeoutMs bounds CONNECT (a slowloris stalls either). */
function tlsOptions(t: TlsMaterial, handshakeMs: number): TlsOptions {
  return {
    key: t.key, cert: t.cert, ca: t.ca,
    requestCert: t.requireClientCert ?? false,
    rejectUnauthorized: t.requireClientCert ?? false,
    minVersion: 'TLSv1.2',
    handshakeTimeout: handshakeMs,
  };
}

/** The HTTP upgrade of a WebSocket listener is bounded by connectTimeoutMs too. */
function boundHttp(server: HttpServer, ms: number): void {
  server.headersTimeout = ms;
  server.requestTimeout = ms;
}

/** Starts the broker and every configured listener (default: TCP on 127.0.0.1, port 1883). */
export async function startBroker(options: StartOptions = {}): Promise<RunningBroker> {
  const broker = new Broker(options);
  const noDelay = options.noDelay ?? true;
  const handshakeMs = broker.opts.connectTimeoutMs;
  const servers: (NetServer | HttpServer)[] = [];
  const wsServers: WebSocketServer[] = [];
  const listeners: BoundListener[] = [];

  async function listen(server: NetServer | HttpServer, kind: ListenerKind, l: ListenerOptions, path = ''): Promise<void> {
    const host = l.host ?? '127.0.0.1';
    server.listen(l.port, host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => { throw e; })]);
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    const shown = host.includes(':') ? `[${host}]` : host;
    listeners.push({ kind, host, port, url: `${SCHEME[kind]}://${shown}:${port}${path}` });
    broker.opts.logger.info('listening', { kind, host, port });
  }

  function websockets(server: HttpServer, path: string, kind: 'ws' | 'wss'): void {
    const wss = new WebSocketServer({
      server, path,
      // Select the 'mqtt' subprotocol [MQTT-6.0.0-3, MQTT-6.0.0-4]; accept the 3.1 name too.
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    });
    wss.on('connection', (ws, req) => attachWebSocket(broker, ws, req, kind));
    wsServers.push(wss);
  }

  try {
    const tcp = options.tcp === undefined ? { port: 1883 } : options.tcp;
    if (tcp) await listen(createNetServer((s) => attachSocket(broker, s, 'tcp', noDelay)), 'tcp', tcp);
    if (options.tls) {
      const server = createTlsServer(tlsOptions(options.tls, handshakeMs), (s) => attachSocket(broker, s, 'tls', noDelay));
      server.on('tlsClientError', (e) => broker.opts.logger.info('TLS handshake failed', { error: e.message }));
      await listen(server, 'tls', options.tls);
    }
    if (options.ws) {
      const path = options.ws.path ?? '/mqtt';
      const server = createHttpServer();
      boundHttp(server, handshakeMs);
      websockets(server, path, 'ws');
      await listen(server, 'ws', options.ws, path);
    }
    if (options.wss) {
      const path = options.wss.path ?? '/mqtt';
      const server = createHttpsServer(tlsOptions(options.wss, handshakeMs));
      boundHttp(server, handshakeMs);
      server.on('tlsClientError', (e) => broker.opts.logger.info('TLS handshake failed', { error: e.message }));
      websockets(server, path, 'wss');
      await listen(server, 'wss', options.wss, path);
    }
  } catch (e) {
    for (const s of servers) s.close();
    broker.shutdown(); // releases the data directory
    throw e;
  }

  let closed: Promise<void> | undefined;
  return {
    broker,
    listeners,
    url(kind?: ListenerKind): string {
      const l = kind ? listeners.find((x) => x.kind === kind) : listeners[0];
      if (!l) throw new Error(`no ${kind ?? ''} listener is running`);
      return l.url;
    },
    close(): Promise<void> {
      closed ??= (async () => {
        broker.shutdown();
        for (const w of wsServers) {
          for (const c of w.clients) c.terminate();
          w.close();
        }
        await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
          s.close(() => resolve());
          (s as NetServer & { closeAllConnections?: () => void }).closeAllConnections?.();
        })));
      })();
      return closed;
    },
  };
}

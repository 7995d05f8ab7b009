/**
 * Byte streams to a broker over the four MQTT transports: TCP (mqtt://),
 * TLS (mqtts://), WebSocket (ws://) and secure WebSocket (wss://), behind one
 * small interface so raw clients and meters do not care which.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';

export type Scheme = 'mqtt' | 'mqtts' | 'ws' | 'wss';

export interface TlsClientOptions {
  ca?: string | Buffer | undefined;
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  /** Default true: verify the server certificate. */
  rejectUnauthorized?: boolean | undefined;
  servername?: string | undefined;
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | undefined;
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | undefined;
}

export interface BrokerAddress {
  scheme: Scheme;
  host: string;
  port: number;
  /** WebSocket path (default /mqtt). */
  path: string;
  username?: string | undefined;
  password?: string | undefined;
}

const DEFAULT_PORT: Record<Scheme, number> = { mqtt: 1883, mqtts: 8883, ws: 8083, wss: 8084 };

/** Parses mqtt://, mqtts://, ws://, wss:// URLs (also tcp:// and ssl:// / tls:// as aliases). */
export function parseBrokerUrl(url: string): BrokerAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`broker URL '${url}' is not a URL (expected e.g. mqtt://127.0.0.1:1883, mqtts://host:8883, ws://host:8083/mqtt, wss://host:8084/mqtt)`);
  }
  const alias: Record<string, Scheme> = { 'mqtt:': 'mqtt', 'tcp:': 'mqtt', 'mqtts:': 'mqtts', 'ssl:': 'mqtts', 'tls:': 'mqtts', 'ws:': 'ws', 'wss:': 'wss' };
  const scheme = alias[u.protocol];
  if (!scheme) throw new Error(`broker URL '${url}': scheme '${u.protocol}' is not one of mqtt:, mqtts:, ws:, wss:`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error(`broker URL '${url}' has no host`);
  return {
    scheme, host,
    port: u.port ? Number(u.port) : DEFAULT_PORT[scheme],
    path: scheme === 'ws' || scheme === 'wss' ? (u.pathname && u.pathname !== '/' ? u.pathname : '/mqtt') : '',
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/** The URL without credentials, for reports. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

export interface Stream {
  readonly scheme: Scheme;
  write(bytes: Buffer): void;
  /** Half-close (TCP FIN / WebSocket close frame). */
  end(): void;
  /** Abrupt close (TCP RST-like: socket destroyed / WebSocket terminated). */
  destroy(): void;
  onData(fn: (chunk: Buffer) => void): void;
  /** `error` is set when the stream failed rather than closed cleanly. */
  onClose(fn: (error: Error | undefined) => void): void;
  /** The underlying TLS socket, when there is one (for certificate inspection). */
  tlsSocket?: TLSSocket | undefined;
}

export interface OpenOptions {
  tls?: TlsClientOptions;
  /** WebSocket subprotocols to offer. Default ['mqtt']. */
  wsProtocols?: string[];
  timeoutMs?: number;
}

/** Opens a byte stream to `addr`; rejects (with a clear message) when it cannot be established in time. */
export function openStream(addr: BrokerAddress, opts: OpenOptions = {}): Promise<Stream> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const where = `${addr.scheme}://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}${addr.path}`;
  if (addr.scheme === 'mqtt' || addr.scheme === 'mqtts') {
    return new Promise((resolve, reject) => {
      const t = opts.tls ?? {};
      const socket: Socket = addr.scheme === 'mqtt'
        ? netConnect({ host: addr.host, port: addr.port })
        : tlsConnect({
          host: addr.host, port: addr.port, ca: t.ca, cert: t.cert, key: t.key,
          rejectUnauthorized: t.rejectUnauthorized ?? true, servername: t.servername ?? (isIp(addr.host) ? undefined : addr.host),
          minVersion: t.minVersion, maxVersion: t.maxVersion,
        });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to ${where} within ${timeoutMs} ms`));
      }, timeoutMs);
      const ready = addr.scheme === 'mqtt' ? 'connect' : 'secureConnect';
      socket.once(ready, () => {
        clearTimeout(timer);
        resolve(socketStream(socket, addr.scheme));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`connection to ${where} failed: ${e.message}`));
      });
    });
  }
  return new Promise((resolve, reject) => {
    const t = opts.tls ?? {};
    const ws = new WebSocket(`${addr.scheme}://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}${addr.path}`, opts.wsProtocols ?? ['mqtt'], {
      ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.rejectUnauthorized ?? true,
      minVersion: t.minVersion, maxVersion: t.maxVersion, handshakeTimeout: timeoutMs,
      // ws passes TLS options through to tls.connect, whose servername its types do not list.
      ...(t.servername !== undefined ? ({ servername: t.servername } as object) : {}),
    });
    ws.binaryType = 'nodebuffer';
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`could not open WebSocket ${where} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(wsStream(ws, addr.scheme));
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`WebSocket ${where} failed: ${e.message}`));
    });
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function socketStream(socket: Socket, scheme: Scheme): Stream {
  let failure: Error | undefined;
  socket.on('error', (e) => { failure = e; });
  return {
    scheme,
    tlsSocket: scheme === 'mqtts' ? (socket as TLSSocket) : undefined,
    write: (b) => { if (!socket.destroyed) socket.write(b); },
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    onData: (fn) => socket.on('data', fn),
    onClose: (fn) => socket.once('close', () => fn(failure)),
  };
}

function wsStream(ws: WebSocket, scheme: Scheme): Stream {
  let failure: Error | undefined;
  ws.on('error', (e) => { failure = e; });
  return {
    scheme,
    write: (b) => { if (ws.readyState === WebSocket.OPEN) ws.send(b, { binary: true }); },
    end: () => ws.close(),
    destroy: () => ws.terminate(),
    onData: (fn) => ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      fn(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
    }),
    onClose: (fn) => ws.once('close', () => fn(failure)),
  };
}

/**
 * HTTP/1.1 adapter: Node's HTTP (or HTTPS) server with the collector in its
 * handlers, and undici clients on the device side — one `Client` (one
 * connection at a time) per device, either kept alive between requests or
 * with a new connection per request (`connection: close`, the common device
 * pattern). undici's `connect` is ours, so each raw socket is byte-counted
 * and TCP_NODELAY is set as the workload says.
 *
 * Honest equivalents of the patterns MQTT and CoAP do natively (the report
 * states them):
 *   telemetry         POST /sensors/<id>/reading → 204 No Content
 *   command-response  long-poll: the device keeps GET /devices/<id>/cmd open; the server answers it with the
 *                     command when one is due (or queues it until the next poll); the device POSTs the reply
 *                     to /devices/<id>/cmd/reply and polls again. One connection per device, so the reply and
 *                     the next poll wait for each other — as on a device with one socket.
 *   fan-out           server-sent events: each device holds GET /updates/all (text/event-stream, chunked);
 *                     every update is one `data:` event on every stream (binary payloads base64-encoded).
 *   retained-state    PUT /homeassistant/<component>/<id>/config once, PUT /testbed/<id>/state on schedule;
 *                     the late subscriber catches up with one GET /homeassistant/<component> (all configs and
 *                     latest states as one JSON document).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, isIP, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Client } from 'undici';
import { devCertificates } from '../../harness/launchers/child-process.js';
import { ByteMeter } from '../../harness/meters/byte-meter.js';
import { httpClassifier, type HttpHeadSeen } from '../accounting/http.js';
import { decodeStamp, discoveryConfig } from '../stamp.js';
import { forEachLimit, LateSubscriber, SideRun } from './context.js';
import { names, packageVersion } from './names.js';
import type { CatchUp, DeviceObservations, DeviceSide, ServerSide, SideConfig } from './types.js';

/** Server keep-alive: longer than any interval between a device's requests. */
const SERVER_KEEP_ALIVE_MS = 65_000;
/** How long a long-poll is held before it is answered 204 (the device polls again). */
const LONG_POLL_HOLD_MS = 25_000;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
    req.on('error', reject);
  });
}

const sseText = (payload: Buffer, format: 'binary' | 'json'): string => (format === 'json' ? payload.toString('latin1') : payload.toString('base64'));
const sseDecode = (text: string, format: 'binary' | 'json'): Buffer => (format === 'json' ? Buffer.from(text, 'latin1') : Buffer.from(text, 'base64'));

// ------------------------------------------------------------------ server side

export async function httpServer(cfg: SideConfig): Promise<ServerSide> {
  const w = cfg.workload;
  const tls = cfg.variant.http!.tls;
  let run: SideRun | undefined;
  const component = w.retained?.component ?? 'sensor';
  const configs = new Map<number, Buffer>();
  const states = new Map<number, Buffer>();
  const waiting = new Map<number, { res: ServerResponse; timer: NodeJS.Timeout }>();
  const queued = new Map<number, Buffer[]>();
  const streams = new Set<ServerResponse>();

  const noContent = (res: ServerResponse): void => {
    res.writeHead(204);
    res.end();
  };
  const sendCommand = (res: ServerResponse, body: Buffer): void => {
    res.writeHead(200, { 'content-type': w.payload.format === 'json' ? 'application/json' : 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\//, '');
    const id = names.idOf(path);
    void (async () => {
      if (req.method === 'POST' && path === names.reading(id)) {
        const body = await readBody(req);
        run?.recorder.record(decodeStamp(body, w.payload.format));
        return noContent(res);
      }
      if (req.method === 'GET' && path === names.command(id)) {
        const q = queued.get(id);
        if (q && q.length > 0) return sendCommand(res, q.shift()!);
        const timer = setTimeout(() => {
          waiting.delete(id);
          noContent(res);
        }, LONG_POLL_HOLD_MS);
        waiting.set(id, { res, timer });
        res.on('close', () => {
          const wt = waiting.get(id);
          if (wt?.res === res) {
            clearTimeout(wt.timer);
            waiting.delete(id);
          }
        });
        return;
      }
      if (req.method === 'POST' && path === names.reply(id)) {
        const body = await readBody(req);
        run?.recorder.record(decodeStamp(body, w.payload.format));
        return noContent(res);
      }
      if (req.method === 'GET' && path === names.fanOut) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        streams.add(res);
        res.on('close', () => streams.delete(res));
        return;
      }
      if (req.method === 'PUT' && path === names.haConfig(component, id)) {
        configs.set(id, await readBody(req));
        return noContent(res);
      }
      if (req.method === 'PUT' && path === names.haState(id)) {
        const body = await readBody(req);
        states.set(id, body);
        run?.recorder.record(decodeStamp(body, w.payload.format));
        return noContent(res);
      }
      if (req.method === 'GET' && path === `homeassistant/${component}`) {
        const all = [...configs.keys()].sort((a, b) => a - b).map((i) => ({
          id: i,
          config: JSON.parse(configs.get(i)!.toString('utf8')) as unknown,
          state: states.has(i) ? sseText(states.get(i)!, w.payload.format) : null,
        }));
        const body = Buffer.from(JSON.stringify(all));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        return res.end(body);
      }
      await readBody(req);
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    })().catch((e: unknown) => {
      run?.error('server handler', e);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-length': 0 });
        res.end();
      }
    });
  };

  let server: Server;
  if (tls) {
    const c = devCertificates();
    server = createHttpsServer({ key: readFileSync(c.serverKey), cert: readFileSync(c.serverCert), noDelay: w.noDelay, keepAliveTimeout: SERVER_KEEP_ALIVE_MS }, handler);
  } else {
    server = createHttpServer({ noDelay: w.noDelay, keepAliveTimeout: SERVER_KEEP_ALIVE_MS }, handler);
  }
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, cfg.bindHost, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    info: {
      endpoints: { port: String(port), scheme: tls ? 'https' : 'http', ...(tls ? { caFile: devCertificates().caCert } : {}) },
      settings: {
        server: `node:${tls ? 'https' : 'http'} ${process.version}`, keepAliveTimeoutMs: SERVER_KEEP_ALIVE_MS, tcpNoDelay: w.noDelay,
        ...(w.pattern === 'command-response' ? { longPollHoldMs: LONG_POLL_HOLD_MS } : {}),
        collector: 'in the request handlers',
      },
      extraPids: [],
    },
    start(r) {
      run = r;
      if (w.pattern === 'command-response') {
        r.startSchedule(w.devices, w.ratePerS, (dev, seq, intended, actual) => {
          const body = r.payload(r.stamp(dev, seq, intended, actual));
          const wt = waiting.get(dev);
          if (wt) {
            clearTimeout(wt.timer);
            waiting.delete(dev);
            sendCommand(wt.res, body);
          } else {
            const q = queued.get(dev) ?? [];
            q.push(body);
            queued.set(dev, q);
          }
        });
      } else if (w.pattern === 'fan-out') {
        r.startSchedule(1, w.ratePerS, (_s, seq, intended, actual) => {
          const event = `data: ${sseText(r.payload(r.stamp(0, seq, intended, actual)), w.payload.format)}\n\n`;
          for (const s of streams) s.write(event);
        });
      }
    },
    async stop() {
      run?.stopSchedule();
    },
    async close() {
      for (const wt of waiting.values()) clearTimeout(wt.timer);
      for (const s of streams) s.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ------------------------------------------------------------------ device side

interface CountingConnect {
  host: string;
  port: number;
  tls: boolean;
  ca: Buffer | undefined;
  noDelay: boolean;
  meter: ByteMeter;
  observe?: ((h: HttpHeadSeen) => void) | undefined;
}

type ConnectCallback = (...args: [null, Socket] | [Error, null]) => void;

/**
 * An undici `connect` function whose sockets are ours: raw TCP counted,
 * plaintext classified. `preconnect()` opens a connection ahead of the first
 * request (the set-up phase), which the next connect() hands to undici.
 */
export class CountingConnector {
  private ready: Socket | undefined;

  constructor(private readonly o: CountingConnect) {}

  private open(cb: ConnectCallback): void {
    const o = this.o;
    let done = false;
    const once: ConnectCallback = (...args) => {
      if (done) return;
      done = true;
      cb(...args);
    };
    const raw = netConnect({ host: o.host, port: o.port });
    raw.setNoDelay(o.noDelay);
    o.meter.addSocket(raw);
    const sock: Socket = o.tls
      ? tlsConnect({ socket: raw, ca: o.ca, checkServerIdentity: () => undefined, servername: isIP(o.host) ? undefined : o.host, ALPNProtocols: ['http/1.1'] })
      : raw;
    sock.once(o.tls ? 'secureConnect' : 'connect', () => {
      o.meter.tapStream(sock, httpClassifier('request', o.observe), httpClassifier('response', o.observe));
      once(null, sock);
    });
    sock.once('error', (e) => once(e, null));
  }

  /** Opens the connection the next request will use. */
  preconnect(): Promise<void> {
    return new Promise((resolve, reject) => this.open((e, s) => {
      if (e) return reject(e);
      this.ready = s!;
      resolve();
    }));
  }

  readonly connect = (_opts: unknown, cb: ConnectCallback): void => {
    const s = this.ready;
    this.ready = undefined;
    // undici expects the callback later, never from inside its connect call.
    if (s && !s.destroyed) process.nextTick(() => cb(null, s));
    else this.open(cb);
  };
}

export async function httpDevices(cfg: SideConfig): Promise<DeviceSide> {
  const w = cfg.workload;
  const v = cfg.variant.http!;
  const meter = new ByteMeter();
  const ep = cfg.endpoints ?? {};
  const port = Number(ep['port']);
  const tls = v.tls;
  const ca = ep['caFile'] ? readFileSync(ep['caFile']) : undefined;
  const host = cfg.serverHost;
  const origin = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const reset = v.connection === 'new';
  const obs: NonNullable<DeviceObservations['http']> = {
    requests: 0, responses: 0, requestHeadBytes: 0, responseHeadBytes: 0, minRequestHead: Infinity, maxRequestHead: 0, minResponseHead: Infinity, maxResponseHead: 0,
  };
  const observe = (h: HttpHeadSeen): void => {
    if (h.kind === 'request') {
      obs.requests++;
      obs.requestHeadBytes += h.bytes;
      obs.minRequestHead = Math.min(obs.minRequestHead, h.bytes);
      obs.maxRequestHead = Math.max(obs.maxRequestHead, h.bytes);
    } else {
      obs.responses++;
      obs.responseHeadBytes += h.bytes;
      obs.minResponseHead = Math.min(obs.minResponseHead, h.bytes);
      obs.maxResponseHead = Math.max(obs.maxResponseHead, h.bytes);
    }
  };
  const newClient = (m: ByteMeter, o?: (h: HttpHeadSeen) => void): { client: Client; connector: CountingConnector } => {
    const connector = new CountingConnector({ host, port, tls, ca, noDelay: w.noDelay, meter: m, observe: o });
    const client = new Client(origin, {
      connect: connector.connect as unknown as Client.Options['connect'],
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: w.timeoutMs,
      bodyTimeout: w.timeoutMs,
    });
    return { client, connector };
  };
  const devices = Array.from({ length: w.devices }, () => newClient(meter, observe));
  const clients: Client[] = devices.map((d) => d.client);
  const undiciVersion = await packageVersion('undici');
  let run: SideRun | undefined;
  let stopped = false;
  let outstanding = 0;
  let catchUp: CatchUp | undefined;
  let late: LateSubscriber | undefined;
  const loops: Promise<void>[] = [];
  const component = w.retained?.component ?? 'sensor';
  const contentType = w.payload.format === 'json' ? 'application/json' : 'application/octet-stream';

  const isTimeout = (e: unknown): boolean => /TIMEOUT/.test(String((e as { code?: string }).code ?? ''));
  /** One request whose response body is read; errors and timeouts counted, never thrown. */
  const send = async (c: Client, method: 'POST' | 'PUT' | 'GET', path: string, body: Buffer | undefined, kind: string): Promise<Buffer | undefined> => {
    outstanding++;
    try {
      const res = await c.request({ method, path: `/${path}`, reset, ...(body ? { body, headers: { 'content-type': contentType } } : {}) });
      const buf = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode >= 300) run?.error(`${kind}: HTTP ${res.statusCode}`);
      else if (run) run.acked++;
      return buf;
    } catch (e) {
      if (stopped) return undefined;
      if (isTimeout(e)) run?.timeout(kind);
      else run?.error(kind, e);
      return undefined;
    } finally {
      outstanding--;
    }
  };

  const pollLoop = async (i: number): Promise<void> => {
    const c = clients[i]!;
    while (!stopped) {
      try {
        const res = await c.request({ method: 'GET', path: `/${names.command(i)}`, reset, headersTimeout: LONG_POLL_HOLD_MS + w.timeoutMs });
        const cmd = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode === 200 && run) {
          await send(c, 'POST', names.reply(i), cmd, 'reply');
          run.crossed(cmd.length * 2);
        }
      } catch (e) {
        if (stopped) return;
        if (isTimeout(e)) run?.timeout('long-poll');
        else run?.error('long-poll', e);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };

  const sseLoop = async (i: number, ready: () => void): Promise<void> => {
    const c = clients[i]!;
    try {
      const res = await c.request({ method: 'GET', path: `/${names.fanOut}`, headers: { accept: 'text/event-stream' }, headersTimeout: w.timeoutMs, bodyTimeout: 0 });
      ready();
      let buf = '';
      for await (const chunk of res.body) {
        buf += (chunk as Buffer).toString('latin1');
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (!event.startsWith('data: ') || !run) continue;
          const payload = sseDecode(event.slice(6), w.payload.format);
          run.recorder.record(decodeStamp(payload, w.payload.format));
          run.crossed(payload.length);
        }
      }
    } catch (e) {
      ready();
      if (!stopped) run?.error('event stream', e);
    }
  };

  return {
    settings: {
      client: `undici ${undiciVersion} Client (one per device, pipelining 1)`,
      connection: v.connection === 'new' ? 'new connection per request (connection: close)' : 'keep-alive (one connection per device, reused)',
      keepAliveTimeoutMs: reset ? 0 : 60_000, tcpNoDelay: w.noDelay, tls,
      ...(tls ? { tlsVerify: 'chain verified against the dev CA, host name not checked', tlsSessionResumption: false } : {}),
      ...(w.pattern === 'command-response' ? { equivalent: 'long-poll GET for commands, POST for replies' } : {}),
      ...(w.pattern === 'fan-out' ? { equivalent: 'server-sent events (one kept-alive stream per device)' } : {}),
      ...(w.pattern === 'retained-state' ? { equivalent: 'PUT config/state; catch-up with one GET of all' } : {}),
    },
    meter,
    async connect() {
      if (w.pattern === 'fan-out') {
        await Promise.all(clients.map((_, i) => new Promise<void>((resolve) => loops.push(sseLoop(i, resolve)))));
      } else if (w.pattern === 'retained-state') {
        await forEachLimit(w.devices, 32, async (i) => {
          await send(clients[i]!, 'PUT', names.haConfig(component, i), discoveryConfig(i, component, names.haState(i), w.retained!.configBytes), 'config');
        });
      } else if (!reset) {
        // Keep-alive: open each device's connection now (the set-up phase); its first request will use it.
        await forEachLimit(w.devices, 32, (i) => devices[i]!.connector.preconnect());
      }
    },
    start(r) {
      run = r;
      if (w.pattern === 'telemetry' || w.pattern === 'retained-state') {
        const path = w.pattern === 'telemetry' ? names.reading : names.haState;
        const method = w.pattern === 'telemetry' ? 'POST' : 'PUT';
        r.startSchedule(w.devices, w.ratePerS, (dev, seq, intended, actual) => {
          const p = r.payload(r.stamp(dev, seq, intended, actual));
          void send(clients[dev]!, method, path(dev), p, 'request');
          r.crossed(p.length);
        });
      } else if (w.pattern === 'command-response') {
        for (let i = 0; i < w.devices; i++) loops.push(pollLoop(i));
      }
      if (w.pattern === 'retained-state') late = new LateSubscriber(r, w, lateSubscriber);
    },
    async stop() {
      run?.stopSchedule();
      if (late) catchUp = await late.result(w.timeoutMs);
      stopped = true;
      if (outstanding > 0 && w.pattern !== 'command-response' && w.pattern !== 'fan-out') run?.timeout(`${outstanding} requests without a response at the deadline`, outstanding);
    },
    observations() {
      const fin = (x: number): number => (Number.isFinite(x) ? x : 0);
      return {
        http: { ...obs, minRequestHead: fin(obs.minRequestHead), minResponseHead: fin(obs.minResponseHead) },
        ...(catchUp ? { catchUp } : {}),
      };
    },
    async close() {
      stopped = true;
      await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
      await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 1000))]);
    },
  };

  async function lateSubscriber(): Promise<CatchUp> {
    const m = new ByteMeter();
    const t0 = process.hrtime.bigint();
    const { client: c } = newClient(m);
    try {
      const res = await c.request({ method: 'GET', path: `/homeassistant/${component}`, reset: true });
      const all = JSON.parse(Buffer.from(await res.body.arrayBuffer()).toString('utf8')) as Array<{ config: unknown; state: unknown }>;
      const got = all.filter((x) => x.config).length + all.filter((x) => x.state).length;
      return { items: w.devices * 2, got, ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: m.snapshot().wire };
    } finally {
      await c.close().catch(() => undefined);
    }
  }
}

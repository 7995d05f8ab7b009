/**
 * CoAP adapter (RFC 7252, RFC 7641 Observe) with the `coap` npm package on
 * both sides: its server with the collector in the request handler, and one
 * client Agent per device, each on its own UDP socket (ours, so every
 * datagram is counted and classified).
 *
 *   telemetry         POST /sensors/<id>/reading (CON: piggybacked 2.04 in the ACK; NON: a NON 2.04 response,
 *                     the coap package's default)
 *   command-response  each device observes /devices/<id>/cmd; the server sends the command as a notification
 *                     (CON or NON, as the registration was); the device POSTs /devices/<id>/cmd/reply
 *   fan-out           every device observes /updates/all; each update is one notification per observer
 *   retained-state    PUT /homeassistant/<component>/<id>/config once, PUT /testbed/<id>/state on schedule;
 *                     the late subscriber GETs /homeassistant/<component>/<id> for each device, one at a time
 *                     (NSTART = 1), each answer holding that device's config and latest state
 *
 * Requests carry Content-Format (as HTTP carries Content-Type). Tokens are
 * the coap package's default 8 bytes.
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import * as coap from 'coap';
import { ByteMeter } from '../../harness/meters/byte-meter.js';
import { coapCategory, coapLayout } from '../accounting/coap.js';
import { decodeStamp, discoveryConfig } from '../stamp.js';
import { LateSubscriber, SideRun } from './context.js';
import { names, packageVersion } from './names.js';
import type { CatchUp, DeviceObservations, DeviceSide, ServerSide, SideConfig } from './types.js';

/** The first notification answers the Observe registration; it carries this and no stamp. */
const REGISTERED = Buffer.from('ok');

type CoapRes = coap.OutgoingMessage;

// ------------------------------------------------------------------ server side

export async function coapServer(cfg: SideConfig): Promise<ServerSide> {
  const w = cfg.workload;
  let run: SideRun | undefined;
  const component = w.retained?.component ?? 'sensor';
  const configs = new Map<number, Buffer>();
  const states = new Map<number, Buffer>();
  const commandObservers = new Map<number, CoapRes>();
  const updateObservers = new Set<CoapRes>();
  const server = coap.createServer({ type: 'udp4' });

  server.on('request', (req: coap.IncomingMessage, res: CoapRes) => {
    const path = req.url.split('?')[0]!.replace(/^\//, '');
    const id = names.idOf(path);
    const changed = (): void => {
      res.code = '2.04';
      res.end();
    };
    if (req.method === 'POST' && (path === names.reading(id) || path === names.reply(id))) {
      run?.recorder.record(decodeStamp(req.payload, w.payload.format));
      return changed();
    }
    if (req.method === 'GET' && req.headers['Observe'] === 0 && (path === names.command(id) || path === names.fanOut)) {
      if (path === names.fanOut) updateObservers.add(res);
      else commandObservers.set(id, res);
      res.on('finish', () => {
        updateObservers.delete(res);
        if (commandObservers.get(id) === res) commandObservers.delete(id);
      });
      res.write(REGISTERED);
      return;
    }
    if (req.method === 'PUT' && path === names.haConfig(component, id)) {
      configs.set(id, req.payload);
      return changed();
    }
    if (req.method === 'PUT' && path === names.haState(id)) {
      states.set(id, req.payload);
      run?.recorder.record(decodeStamp(req.payload, w.payload.format));
      return changed();
    }
    if (req.method === 'GET' && path === `homeassistant/${component}/${id}`) {
      const c = configs.get(id);
      const s = states.get(id);
      res.setOption('Content-Format', 'application/json');
      return res.end(JSON.stringify({ config: c ? JSON.parse(c.toString('utf8')) as unknown : null, state: s ? s.toString('base64') : null }));
    }
    res.code = '4.04';
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, cfg.bindHost, () => resolve());
  });
  const port = (server._sock as DgramSocket).address() as AddressInfo;
  const version = await packageVersion('coap');

  return {
    info: {
      endpoints: { port: String(port.port) },
      settings: { server: `coap ${version} (npm) server`, piggybackReplyMs: coap.parameters.piggybackReplyMs, nonRequestsAnswered: 'NON 2.04 response (coap default)', collector: 'in the request handler' },
      extraPids: [],
    },
    start(r) {
      run = r;
      if (w.pattern === 'command-response') {
        r.startSchedule(w.devices, w.ratePerS, (dev, seq, intended, actual) => {
          const o = commandObservers.get(dev);
          if (o) o.write(r.payload(r.stamp(dev, seq, intended, actual)));
          else r.error('command: device not observing');
        });
      } else if (w.pattern === 'fan-out') {
        r.startSchedule(1, w.ratePerS, (_s, seq, intended, actual) => {
          const p = r.payload(r.stamp(0, seq, intended, actual));
          for (const o of updateObservers) o.write(p);
        });
      }
    },
    async stop() {
      run?.stopSchedule();
    },
    async close() {
      for (const o of [...updateObservers, ...commandObservers.values()]) o.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ------------------------------------------------------------------ device side

export async function coapDevices(cfg: SideConfig): Promise<DeviceSide> {
  const w = cfg.workload;
  const confirmable = cfg.variant.coap!.confirmable;
  const meter = new ByteMeter();
  const host = cfg.serverHost;
  const port = Number(cfg.endpoints?.['port']);
  const contentFormat = w.payload.format === 'json' ? 'application/json' : 'application/octet-stream';
  const component = w.retained?.component ?? 'sensor';
  const obs: NonNullable<DeviceObservations['coap']> = {
    datagrams: 0, notCoap: 0, tokenMin: Infinity, tokenMax: 0, optionsMin: Infinity, optionsMax: 0, smallest: Infinity, headerBytes: 0, withPayload: 0,
  };
  const classify = (d: Uint8Array): ReturnType<typeof coapCategory> => {
    const l = coapLayout(d);
    obs.datagrams++;
    if (!l) obs.notCoap++;
    else {
      obs.tokenMin = Math.min(obs.tokenMin, l.token);
      obs.tokenMax = Math.max(obs.tokenMax, l.token);
      obs.optionsMin = Math.min(obs.optionsMin, l.options);
      obs.optionsMax = Math.max(obs.optionsMax, l.options);
      obs.smallest = Math.min(obs.smallest, l.total);
      obs.headerBytes += l.fixedHeader;
      if (l.payload > 0) obs.withPayload++;
    }
    return coapCategory(d);
  };
  const sockets: DgramSocket[] = [];
  const newAgent = (m: ByteMeter, c?: typeof classify): coap.Agent => {
    const s = createSocket('udp4');
    sockets.push(s);
    m.addDatagramSocket(s, (d) => (c ? c(d) : coapCategory(d)));
    return new coap.Agent({ socket: s });
  };
  const agents = Array.from({ length: w.devices }, () => newAgent(meter, classify));
  const version = await packageVersion('coap');
  let run: SideRun | undefined;
  let stopped = false;
  let outstanding = 0;
  let catchUp: CatchUp | undefined;
  let late: LateSubscriber | undefined;
  const observeReqs: coap.OutgoingMessage[] = [];

  /** One request; resolves with the response payload (undefined on error or timeout, which are counted). */
  const request = (agent: coap.Agent, method: 'POST' | 'PUT' | 'GET', path: string, payload: Buffer | undefined, kind: string, con = confirmable): Promise<Buffer | undefined> => {
    outstanding++;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (v: Buffer | undefined): void => {
        if (settled) return;
        settled = true;
        outstanding--;
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        if (!stopped) run?.timeout(kind);
        settle(undefined);
      }, w.timeoutMs);
      const req = agent.request({ hostname: host, port, pathname: `/${path}`, method, confirmable: con, ...(payload ? { contentFormat } : {}) });
      req.on('response', (res: coap.IncomingMessage) => {
        if (!String(res.code).startsWith('2.')) run?.error(`${kind}: CoAP ${String(res.code)}`);
        else if (run) run.acked++;
        settle(res.payload);
      });
      req.on('error', (e: Error) => {
        if (!stopped) run?.error(kind, e);
        settle(undefined);
      });
      req.on('timeout', () => {
        if (!stopped) run?.timeout(kind);
        settle(undefined);
      });
      req.end(payload);
    });
  };

  /** Observe registration: resolves once the first notification (the answer) arrived. */
  const observe = (agent: coap.Agent, path: string, onNotify: (p: Buffer) => void): Promise<void> => new Promise((resolve, reject) => {
    const req = agent.request({ hostname: host, port, pathname: `/${path}`, method: 'GET', observe: true, confirmable });
    observeReqs.push(req);
    const timer = setTimeout(() => reject(new Error(`CoAP Observe ${path}: no answer within ${w.timeoutMs} ms`)), w.timeoutMs);
    req.on('response', (res: coap.ObserveReadStream) => {
      clearTimeout(timer);
      resolve();
      res.on('data', (p: Buffer) => {
        if (p.length === w.payload.bytes) onNotify(p);
      });
    });
    req.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });

  return {
    settings: {
      client: `coap ${version} (npm) Agent, one UDP socket per device`, messages: confirmable ? 'CON' : 'NON', tokenBytes: 8,
      contentFormat, ...(w.pattern === 'fan-out' || w.pattern === 'command-response' ? { observe: 'RFC 7641 Observe' } : {}),
      ackTimeoutS: coap.parameters.ackTimeout, maxRetransmit: coap.parameters.maxRetransmit, timeoutMs: w.timeoutMs,
    },
    meter,
    async connect() {
      if (w.pattern === 'fan-out') {
        await Promise.all(agents.map((a) => observe(a, names.fanOut, (p) => {
          if (!run) return;
          run.recorder.record(decodeStamp(p, w.payload.format));
          run.crossed(p.length);
        })));
      } else if (w.pattern === 'command-response') {
        await Promise.all(agents.map((a, i) => observe(a, names.command(i), (p) => {
          if (!run) return;
          void request(a, 'POST', names.reply(i), p, 'reply');
          run.crossed(p.length * 2);
        })));
      } else if (w.pattern === 'retained-state') {
        await Promise.all(agents.map((a, i) => request(a, 'PUT', names.haConfig(component, i), discoveryConfig(i, component, names.haState(i), w.retained!.configBytes), 'config', true)));
      }
    },
    start(r) {
      run = r;
      if (w.pattern === 'telemetry' || w.pattern === 'retained-state') {
        const path = w.pattern === 'telemetry' ? names.reading : names.haState;
        const method = w.pattern === 'telemetry' ? 'POST' : 'PUT';
        r.startSchedule(w.devices, w.ratePerS, (dev, seq, intended, actual) => {
          const p = r.payload(r.stamp(dev, seq, intended, actual));
          void request(agents[dev]!, method, path(dev), p, 'request');
          r.crossed(p.length);
        });
      }
      if (w.pattern === 'retained-state') late = new LateSubscriber(r, w, lateSubscriber);
    },
    async stop() {
      run?.stopSchedule();
      if (late) catchUp = await late.result(w.timeoutMs);
      stopped = true;
      if (outstanding > 0 && w.pattern !== 'fan-out') run?.timeout(`${outstanding} requests without a response at the deadline`, outstanding);
    },
    observations() {
      const fin = (x: number): number => (Number.isFinite(x) ? x : 0);
      return {
        coap: { ...obs, tokenMin: fin(obs.tokenMin), optionsMin: fin(obs.optionsMin), smallest: fin(obs.smallest) },
        ...(catchUp ? { catchUp } : {}),
      };
    },
    async close() {
      stopped = true;
      for (const a of agents) a.close();
      for (const s of sockets) {
        try {
          s.close();
        } catch { /* already closed */ }
      }
    },
  };

  async function lateSubscriber(): Promise<CatchUp> {
    const m = new ByteMeter();
    const agent = newAgent(m);
    const t0 = process.hrtime.bigint();
    let got = 0;
    for (let i = 0; i < w.devices; i++) {
      const body = await request(agent, 'GET', `homeassistant/${component}/${i}`, undefined, 'catch-up GET', true);
      if (!body) continue;
      const o = JSON.parse(body.toString('utf8')) as { config: unknown; state: unknown };
      got += (o.config ? 1 : 0) + (o.state ? 1 : 0);
    }
    agent.close();
    return { items: w.devices * 2, got, ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: m.snapshot().wire };
  }
}

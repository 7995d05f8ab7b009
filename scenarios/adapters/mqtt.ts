/**
 * MQTT adapter.
 *
 * Server side: the broker (the reference broker in this process, Mosquitto
 * as a child process, or any BROKER_URL) and a collector near it — an
 * MQTT.js client in the server process on the broker's plain TCP listener —
 * that subscribes to what devices send and records latency; for
 * command-response and fan-out it is also the open-loop sender.
 *
 * Device side: N MQTT.js clients (what device teams use), each on its own
 * byte-counted connection (TCP, TLS, WebSocket or secure WebSocket, built by
 * a stream builder so the raw socket is ours).
 *
 * Patterns:
 *   telemetry         device → `sensors/<id>/reading` → collector (subscribed to sensors/+/reading)
 *   command-response  collector → `devices/<id>/cmd` → device → `devices/<id>/cmd/reply` → collector (round trip)
 *   fan-out           collector → `updates/all` → every device (each device records)
 *   retained-state    each device announces a retained `homeassistant/<component>/<id>/config`, then publishes
 *                     retained `testbed/<id>/state`; a late subscriber (device side) subscribes to both
 *                     filters and catches up with every config and the latest state.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { MqttClient, type IClientOptions } from 'mqtt';
import WebSocket, { createWebSocketStream } from 'ws';
import { launchBenchMosquitto, launchBenchReference, type BenchBroker } from '../../harness/launchers/bench-brokers.js';
import { ByteMeter } from '../../harness/meters/byte-meter.js';
import { mqttClassifier, type MqttPacketSeen } from '../accounting/mqtt.js';
import { decodeStamp, discoveryConfig } from '../stamp.js';
import type { MqttTransport } from '../workload.js';
import { forEachLimit, LateSubscriber, SideRun, waitFor } from './context.js';
import { names, packageVersion } from './names.js';
import type { CatchUp, DeviceObservations, DeviceSide, ServerSide, SideConfig } from './types.js';

export interface MqttConnectOptions {
  /** mqtt://, mqtts://, ws://, wss:// */
  url: string;
  clientId: string;
  version: '3.1.1' | '5.0';
  keepAliveS: number;
  noDelay: boolean;
  /** CA for TLS / WSS (the chain is verified; the host name is not, so namespace addresses work). */
  caFile?: string | undefined;
  meter?: ByteMeter | undefined;
  /** Sees each packet's framing, both directions. */
  observe?: ((p: MqttPacketSeen, dir: 'out' | 'in') => void) | undefined;
  connectTimeoutMs?: number;
}

const TRANSPORT_OF: Record<string, MqttTransport> = { 'mqtt:': 'tcp', 'mqtts:': 'tls', 'ws:': 'ws', 'wss:': 'wss' };

/** An MQTT.js client whose connection is ours (byte-counted, TCP_NODELAY as asked); resolves on CONNACK. */
export function connectMqtt(o: MqttConnectOptions): Promise<MqttClient> {
  const u = new URL(o.url);
  const transport = TRANSPORT_OF[u.protocol];
  if (!transport) throw new Error(`unsupported MQTT URL ${o.url}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port);
  const ca = o.caFile ? readFileSync(o.caFile) : undefined;
  const tlsOpts = { ca, checkServerIdentity: () => undefined, servername: isIP(host) ? undefined : host } as const;
  const tap = (stream: import('node:stream').Duplex): void => {
    o.meter?.tapStream(stream, mqttClassifier((p) => o.observe?.(p, 'out')), mqttClassifier((p) => o.observe?.(p, 'in')));
  };
  const rawSocket = (): Socket => {
    const raw = netConnect({ host, port });
    raw.setNoDelay(o.noDelay);
    o.meter?.addSocket(raw);
    return raw;
  };
  const builder = (): import('node:stream').Duplex => {
    if (transport === 'tcp') {
      const s = rawSocket();
      tap(s);
      return s;
    }
    if (transport === 'tls') {
      const t = tlsConnect({ socket: rawSocket(), ...tlsOpts });
      tap(t);
      return t;
    }
    const ws = new WebSocket(`${transport}://${u.host}${u.pathname || '/mqtt'}`, ['mqtt'], {
      createConnection: () => (transport === 'ws' ? rawSocket() : tlsConnect({ socket: rawSocket(), ...tlsOpts })),
    } as WebSocket.ClientOptions);
    const stream = createWebSocketStream(ws);
    tap(stream);
    return stream;
  };
  const opts: IClientOptions = {
    protocolVersion: o.version === '5.0' ? 5 : 4,
    clientId: o.clientId,
    keepalive: o.keepAliveS,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    resubscribe: false,
  };
  return new Promise((resolve, reject) => {
    const client = new MqttClient(builder as unknown as ConstructorParameters<typeof MqttClient>[0], opts);
    const onError = (e: Error): void => {
      client.end(true);
      reject(new Error(`MQTT connect to ${o.url} as ${o.clientId}: ${e.message}`));
    };
    client.once('connect', () => {
      client.off('error', onError);
      resolve(client);
    });
    client.once('error', onError);
    client.once('close', () => reject(new Error(`MQTT connect to ${o.url} as ${o.clientId}: connection closed before CONNACK`)));
  });
}

function subscribe(c: MqttClient, filters: string[], qos: 0 | 1 | 2): Promise<void> {
  return new Promise((resolve, reject) => {
    c.subscribe(filters, { qos }, (err, granted) => {
      if (err) return reject(err);
      const refused = (granted ?? []).find((g) => g.qos === 128);
      if (refused) return reject(new Error(`SUBSCRIBE ${refused.topic} refused`));
      resolve();
    });
  });
}

const endClient = (c: MqttClient): Promise<void> => new Promise((resolve) => c.end(false, {}, () => resolve()));

// ------------------------------------------------------------------ server side

export async function mqttServer(cfg: SideConfig): Promise<ServerSide> {
  const w = cfg.workload;
  const v = cfg.variant.mqtt!;
  let broker: BenchBroker | undefined;
  let brokerUrls: Record<string, string>;
  let caFile: string | undefined;
  if (v.broker.kind === 'url') {
    brokerUrls = { [v.transport]: v.broker.url, tcp: v.broker.url };
  } else {
    broker = v.broker.kind === 'mosquitto'
      ? await launchBenchMosquitto({ host: cfg.bindHost, noDelay: w.noDelay })
      : await launchBenchReference({ host: cfg.bindHost, noDelay: w.noDelay });
    brokerUrls = broker.urls;
    caFile = broker.caFile;
  }
  const collectorUrl = brokerUrls['tcp']!;
  const collector = await connectMqtt({
    url: collectorUrl, clientId: `tb-collector-${process.pid}`, version: v.version, keepAliveS: w.mqtt.keepAliveS, noDelay: w.noDelay,
  });
  let run: SideRun | undefined;
  const pattern = w.pattern;
  collector.on('message', (_topic, payload) => {
    if (!run) return;
    run.recorder.record(decodeStamp(payload, w.payload.format));
  });
  if (pattern === 'telemetry') await subscribe(collector, [names.reading(0).replace('/0/', '/+/')], v.qos);
  if (pattern === 'command-response') await subscribe(collector, [names.reply(0).replace('/0/', '/+/')], v.qos);
  if (pattern === 'retained-state') await subscribe(collector, [names.haState(0).replace('/0/', '/+/')], v.qos);

  const [mqttjs] = await Promise.all([packageVersion('mqtt')]);
  return {
    info: {
      endpoints: { url: brokerUrls[v.transport] ?? collectorUrl, ...(caFile ? { caFile } : {}) },
      settings: {
        broker: broker ? `${broker.name} ${broker.version}` : `external ${v.broker.kind === 'url' ? v.broker.url.replace(/\/\/[^@/]*@/, '//') : ''}`,
        ...(broker ? { brokerSettings: broker.settings } : {}),
        collector: `MQTT.js ${mqttjs} in the server process over the broker's TCP listener`,
      },
      extraPids: broker?.pid !== undefined ? [broker.pid] : [],
    },
    start(r) {
      run = r;
      if (pattern === 'command-response') {
        r.startSchedule(w.devices, w.ratePerS, (dev, seq, intended, actual) => {
          collector.publish(names.command(dev), r.payload(r.stamp(dev, seq, intended, actual)), { qos: v.qos }, (err) => {
            if (err) r.error('command publish', err);
          });
        });
      } else if (pattern === 'fan-out') {
        r.startSchedule(1, w.ratePerS, (_s, seq, intended, actual) => {
          collector.publish(names.fanOut, r.payload(r.stamp(0, seq, intended, actual)), { qos: v.qos }, (err) => {
            if (err) r.error('update publish', err);
          });
        });
      }
    },
    async stop() {
      run?.stopSchedule();
    },
    async close() {
      if (pattern === 'retained-state' && v.broker.kind === 'url') {
        // Leave an external broker as we found it: clear the retained messages of this run.
        for (let i = 0; i < w.devices; i++) {
          collector.publish(names.haConfig(w.retained!.component, i), Buffer.alloc(0), { qos: 0, retain: true });
          collector.publish(names.haState(i), Buffer.alloc(0), { qos: 0, retain: true });
        }
      }
      await endClient(collector).catch(() => undefined);
      await broker?.close();
    },
  };
}

// ------------------------------------------------------------------ device side

export async function mqttDevices(cfg: SideConfig): Promise<DeviceSide> {
  const w = cfg.workload;
  const v = cfg.variant.mqtt!;
  const meter = new ByteMeter();
  const url = deviceUrl(cfg);
  const caFile = cfg.endpoints?.['caFile'];
  const clients: MqttClient[] = [];
  const obs: NonNullable<DeviceObservations['mqtt']> = {
    publishCount: 0, fixedHeaderMin: Infinity, fixedHeaderMax: 0, smallestPublish: Infinity, smallPublishNot2: 0, connectBytes: 0, connackBytes: 0, pubackBytes: 0,
  };
  const observe = (p: MqttPacketSeen): void => {
    if (p.type === 3) {
      obs.publishCount++;
      obs.fixedHeaderMin = Math.min(obs.fixedHeaderMin, p.fixedHeader);
      obs.fixedHeaderMax = Math.max(obs.fixedHeaderMax, p.fixedHeader);
      obs.smallestPublish = Math.min(obs.smallestPublish, p.total);
      if (p.total - p.fixedHeader < 128 && p.fixedHeader !== 2) obs.smallPublishNot2++;
    } else if (p.type === 1) obs.connectBytes ||= p.total;
    else if (p.type === 2) obs.connackBytes ||= p.total;
    else if (p.type === 4) obs.pubackBytes ||= p.total;
  };
  let run: SideRun | undefined;
  let outstanding = 0;
  let catchUp: CatchUp | undefined;
  let late: LateSubscriber | undefined;
  let lateClient: MqttClient | undefined;
  const mqttjs = await packageVersion('mqtt');
  const component = w.retained?.component ?? 'sensor';

  const settings = {
    client: `MQTT.js ${mqttjs}`, protocolVersion: v.version, qos: v.qos, transport: v.transport, keepAliveS: w.mqtt.keepAliveS,
    cleanSession: true, tcpNoDelay: w.noDelay, tls: v.transport === 'tls' || v.transport === 'wss',
    ...(v.transport === 'tls' || v.transport === 'wss' ? { tlsVerify: 'chain verified against the dev CA, host name not checked' } : {}),
    connectionsPerDevice: 1,
  };

  const publish = (c: MqttClient, topic: string, payload: Buffer, retain: boolean, kind: string): void => {
    outstanding++;
    c.publish(topic, payload, { qos: v.qos, retain }, (err) => {
      outstanding--;
      if (err) run?.error(kind, err);
      else if (run) run.acked++;
    });
  };

  return {
    settings,
    meter,
    async connect() {
      await forEachLimit(w.devices, 32, async (i) => {
        const c = await connectMqtt({ url, clientId: `tb-dev-${i}-${process.pid}`, version: v.version, keepAliveS: w.mqtt.keepAliveS, noDelay: w.noDelay, caFile, meter, observe });
        clients[i] = c;
        if (w.pattern === 'command-response') {
          await subscribe(c, [names.command(i)], v.qos);
          c.on('message', (_t, payload) => {
            if (!run) return;
            // Echo the command's stamp back: the server computes the round trip.
            publish(c, names.reply(i), payload, false, 'reply publish');
            run.crossed(payload.length * 2);
          });
        } else if (w.pattern === 'fan-out') {
          await subscribe(c, [names.fanOut], v.qos);
          c.on('message', (_t, payload) => {
            if (!run) return;
            run.recorder.record(decodeStamp(payload, w.payload.format));
            run.crossed(payload.length);
          });
        } else if (w.pattern === 'retained-state') {
          await new Promise<void>((resolve, reject) => c.publish(names.haConfig(component, i), discoveryConfig(i, component, names.haState(i), w.retained!.configBytes), { qos: v.qos, retain: true }, (e) => (e ? reject(e) : resolve())));
        }
      });
    },
    start(r) {
      run = r;
      if (w.pattern === 'telemetry' || w.pattern === 'retained-state') {
        const topic = w.pattern === 'telemetry' ? names.reading : names.haState;
        r.startSchedule(w.devices, w.ratePerS, (dev, seq, intended, actual) => {
          const p = r.payload(r.stamp(dev, seq, intended, actual));
          publish(clients[dev]!, topic(dev), p, w.pattern === 'retained-state', 'publish');
          r.crossed(p.length);
        });
      }
      if (w.pattern === 'retained-state') late = new LateSubscriber(r, w, lateSubscriber);
    },
    async stop() {
      run?.stopSchedule();
      if (outstanding > 0 && v.qos > 0) run?.timeout(`${outstanding} QoS ${v.qos} publishes not acknowledged at the deadline`, outstanding);
      if (late) catchUp = await late.result(w.timeoutMs);
    },
    observations() {
      const fin = (x: number): number => (Number.isFinite(x) ? x : 0);
      return {
        mqtt: { ...obs, fixedHeaderMin: fin(obs.fixedHeaderMin), smallestPublish: fin(obs.smallestPublish) },
        ...(catchUp ? { catchUp } : {}),
      };
    },
    async close() {
      await Promise.all([...clients, ...(lateClient ? [lateClient] : [])].map((c) => endClient(c).catch(() => undefined)));
    },
  };

  async function lateSubscriber(): Promise<CatchUp> {
    const m = new ByteMeter();
    const t0 = process.hrtime.bigint();
    const configs = new Set<string>();
    const states = new Set<string>();
    const items = w.devices * 2;
    const c = await connectMqtt({ url, clientId: `tb-late-${process.pid}`, version: v.version, keepAliveS: w.mqtt.keepAliveS, noDelay: w.noDelay, caFile, meter: m });
    lateClient = c;
    c.on('message', (topic) => {
      if (topic.endsWith('/config')) configs.add(topic);
      else states.add(topic);
    });
    await subscribe(c, [names.haConfig(component, 0).replace('/0/', '/+/'), names.haState(0).replace('/0/', '/+/')], v.qos);
    await waitFor(() => configs.size + states.size >= items, w.timeoutMs, 1);
    return { items, got: configs.size + states.size, ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: m.snapshot().wire };
  }
}

/** The broker URL for devices: the server's endpoint with the host devices use (unless it is an external URL). */
function deviceUrl(cfg: SideConfig): string {
  const ep = cfg.endpoints?.['url'];
  if (!ep) throw new Error('MQTT devices: the server side reported no broker URL');
  if (cfg.variant.mqtt?.broker.kind === 'url') return ep;
  const u = new URL(ep);
  u.hostname = cfg.serverHost.includes(':') ? `[${cfg.serverHost}]` : cfg.serverHost;
  return u.toString();
}

export { TRANSPORT_OF as MQTT_TRANSPORT_OF };

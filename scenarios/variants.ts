/**
 * The protocol variants a run compares, from the workload and the CLI:
 * MQTT once per transport (QoS from the workload), HTTP once per connection
 * style (keep-alive, new connection per request; fan-out has one:
 * server-sent events), CoAP with CON or NON messages.
 */
import type { BrokerChoice, Protocol, VariantSpec } from './adapters/types.js';
import type { Workload } from './workload.js';

export const PROTOCOLS: readonly Protocol[] = ['mqtt', 'http', 'coap'];

const TRANSPORT_LABEL = { tcp: 'TCP', tls: 'TLS', ws: 'WebSocket', wss: 'secure WebSocket' } as const;

export function brokerLabel(b: BrokerChoice): string {
  return b.kind === 'reference' ? 'reference broker' : b.kind === 'mosquitto' ? 'Mosquitto' : 'BROKER_URL';
}

/** Parses --protocols (comma-separated), with a clear error for unknown names. */
export function parseProtocols(s: string): Protocol[] {
  const list = s.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  const bad = list.filter((p) => !PROTOCOLS.includes(p as Protocol));
  if (bad.length > 0 || list.length === 0) throw new Error(`--protocols: expected a comma-separated list of ${PROTOCOLS.join(', ')}, got '${s}'`);
  return [...new Set(list as Protocol[])];
}

/** --broker: 'reference', 'mosquitto', or a URL (BROKER_URL in the environment means the same). */
export function parseBroker(s: string | undefined): BrokerChoice {
  if (s === undefined || s === '' || s === 'reference') return { kind: 'reference' };
  if (s === 'mosquitto') return { kind: 'mosquitto' };
  if (/^(mqtts?|wss?|tcp|tls|ssl):\/\//.test(s)) return { kind: 'url', url: s };
  throw new Error(`--broker: expected 'reference', 'mosquitto' or a broker URL (mqtt://host:1883, mqtts://, ws://, wss://), got '${s}'`);
}

export function variantsFor(w: Workload, protocols: readonly Protocol[], broker: BrokerChoice): VariantSpec[] {
  const out: VariantSpec[] = [];
  for (const p of protocols) {
    if (p === 'mqtt') {
      const transports = broker.kind === 'url' ? [transportOfUrl(broker.url)] : w.mqtt.transports;
      for (const t of transports) {
        out.push({
          protocol: 'mqtt', id: `mqtt-qos${w.mqtt.qos}-${t}`,
          label: `MQTT ${w.mqtt.version} QoS ${w.mqtt.qos} over ${TRANSPORT_LABEL[t]} (${brokerLabel(broker)})`,
          mqtt: { transport: t, qos: w.mqtt.qos, version: w.mqtt.version, broker },
        });
      }
    } else if (p === 'http') {
      const conns = w.pattern === 'fan-out' ? (['keep-alive'] as const) : w.http.connections;
      const tls = w.http.tls ? ' over TLS' : '';
      for (const c of conns) {
        const label = w.pattern === 'fan-out'
          ? `HTTP/1.1 server-sent events${tls}`
          : c === 'keep-alive' ? `HTTP/1.1 keep-alive${tls}` : `HTTP/1.1 new connection per request${tls}`;
        out.push({ protocol: 'http', id: `http-${w.pattern === 'fan-out' ? 'sse' : c}${w.http.tls ? '-tls' : ''}`, label, http: { connection: c, tls: w.http.tls } });
      }
    } else {
      const con = w.coap.confirmable;
      const observe = w.pattern === 'fan-out' || w.pattern === 'command-response' ? ' + Observe' : '';
      out.push({ protocol: 'coap', id: `coap-${con ? 'con' : 'non'}`, label: `CoAP ${con ? 'CON' : 'NON'}${observe}`, coap: { confirmable: con } });
    }
  }
  return out;
}

function transportOfUrl(url: string): 'tcp' | 'tls' | 'ws' | 'wss' {
  const scheme = url.slice(0, url.indexOf(':'));
  return scheme === 'mqtts' || scheme === 'tls' || scheme === 'ssl' ? 'tls' : scheme === 'ws' ? 'ws' : scheme === 'wss' ? 'wss' : 'tcp';
}

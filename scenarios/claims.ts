/**
 * The seed's claims about header sizes, checked against what the byte
 * classifiers saw on the wire, as claim / measured / verdict rows:
 *
 * - MQTT's minimal fixed header is 2 bytes: every PUBLISH whose Remaining
 *   Length is below 128 must have a 2-byte fixed header (1 type/flags byte +
 *   1 Remaining Length byte); the smallest PUBLISH seen is shown whole.
 * - CoAP's fixed header is 4 bytes: every datagram parses as CoAP version 1
 *   with the 4-byte header; token and option bytes come on top and are shown.
 * - HTTP request + response headers are roughly 200–800 bytes per exchange:
 *   the mean request head + response head (start line, header lines, blank
 *   line) per HTTP variant, for keep-alive and new-connection variants.
 */
import type { ClaimCheck, ProtocolRun } from '../results/types.js';
import type { DeviceObservations } from './adapters/types.js';

export interface ClaimInput {
  run: ProtocolRun;
  observations: DeviceObservations | undefined;
}

export const CLAIMS = {
  mqtt: "MQTT's minimal fixed header is 2 bytes (a PUBLISH with Remaining Length < 128)",
  coap: "CoAP's fixed header is 4 bytes",
  http: 'HTTP request + response headers are roughly 200–800 bytes per exchange',
} as const;

const r1 = (x: number): number => Math.round(x * 10) / 10;

export function checkClaims(inputs: readonly ClaimInput[]): ClaimCheck[] {
  const out: ClaimCheck[] = [];

  const mqtt = inputs.filter((i) => (i.observations?.mqtt?.publishCount ?? 0) > 0);
  if (mqtt.length === 0) out.push({ claim: CLAIMS.mqtt, measured: 'no MQTT PUBLISH was measured in this run', verdict: 'not measured' });
  for (const { run, observations } of mqtt) {
    const m = observations!.mqtt!;
    const holds = m.fixedHeaderMin === 2 && m.smallPublishNot2 === 0;
    out.push({
      claim: CLAIMS.mqtt,
      measured: `${run.variant}: ${m.publishCount} PUBLISH packets on the device link, fixed header ${m.fixedHeaderMin === m.fixedHeaderMax ? m.fixedHeaderMin : `${m.fixedHeaderMin}–${m.fixedHeaderMax}`} B` +
        `${m.smallPublishNot2 > 0 ? ` (${m.smallPublishNot2} with Remaining Length < 128 had more)` : ''}; the smallest PUBLISH is ${m.smallestPublish} B on the wire` +
        ` (fixed header + topic + packet id + ${run.bytes.app.payloadPerMessage} B payload); CONNECT ${m.connectBytes} B, CONNACK ${m.connackBytes} B${m.pubackBytes ? `, PUBACK ${m.pubackBytes} B` : ''};` +
        ` ${r1(run.bytes.app.perMessage)} B per message in the steady state`,
      verdict: holds ? 'holds' : 'does not hold',
    });
  }

  const coap = inputs.filter((i) => (i.observations?.coap?.datagrams ?? 0) > 0);
  if (coap.length === 0) out.push({ claim: CLAIMS.coap, measured: 'no CoAP datagram was measured in this run', verdict: 'not measured' });
  for (const { run, observations } of coap) {
    const c = observations!.coap!;
    const range = (a: number, b: number): string => (a === b ? `${a}` : `${a}–${b}`);
    out.push({
      claim: CLAIMS.coap,
      measured: `${run.variant}: ${c.datagrams - c.notCoap} of ${c.datagrams} datagrams have the 4 B fixed header; on top of it ${range(c.tokenMin, c.tokenMax)} B token and ${range(c.optionsMin, c.optionsMax)} B options (+ 1 B payload marker with a payload);` +
        ` the smallest datagram is ${c.smallest} B; ${r1(run.bytes.app.perMessage)} B per message in the steady state (${r1(run.bytes.app.headersPerMessage)} B headers, ${r1(run.bytes.app.acksPerMessage)} B acks)`,
      verdict: c.notCoap === 0 ? 'holds' : 'does not hold',
    });
  }

  const http = inputs.filter((i) => (i.observations?.http?.requests ?? 0) > 0 && (i.observations?.http?.responses ?? 0) > 0);
  if (http.length === 0) out.push({ claim: CLAIMS.http, measured: 'no HTTP exchange was measured in this run', verdict: 'not measured' });
  for (const { run, observations } of http) {
    const h = observations!.http!;
    const req = h.requestHeadBytes / h.requests;
    const res = h.responseHeadBytes / h.responses;
    const sum = req + res;
    out.push({
      claim: CLAIMS.http,
      measured: `${run.variant}: request head ${r1(req)} B (${h.minRequestHead}–${h.maxRequestHead}) + response head ${r1(res)} B (${h.minResponseHead}–${h.maxResponseHead}) = ${r1(sum)} B per exchange, over ${h.requests} requests`,
      verdict: sum >= 200 && sum <= 800 ? 'holds' : 'does not hold',
    });
  }
  return out;
}

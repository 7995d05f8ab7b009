/** A packet trace as a table: time, delta, connection, direction arrow, packet type, decoded fields. */
import type { SpecVersionName, TraceEntryJson } from '../../results/types.js';
import { html, raw, type Raw } from './escape.js';

/** MQTT 5.0 reason codes ≥ 0x80 (unambiguous across packet types) and a few below. */
const REASON_5: Record<number, string> = {
  0x04: 'Disconnect with Will', 0x10: 'No matching subscribers', 0x11: 'No subscription existed', 0x18: 'Continue authentication', 0x19: 'Re-authenticate',
  0x80: 'Unspecified error', 0x81: 'Malformed Packet', 0x82: 'Protocol Error', 0x83: 'Implementation specific error', 0x84: 'Unsupported Protocol Version',
  0x85: 'Client Identifier not valid', 0x86: 'Bad User Name or Password', 0x87: 'Not authorized', 0x88: 'Server unavailable', 0x89: 'Server busy',
  0x8a: 'Banned', 0x8b: 'Server shutting down', 0x8c: 'Bad authentication method', 0x8d: 'Keep Alive timeout', 0x8e: 'Session taken over',
  0x8f: 'Topic Filter invalid', 0x90: 'Topic Name invalid', 0x91: 'Packet Identifier in use', 0x92: 'Packet Identifier not found', 0x93: 'Receive Maximum exceeded',
  0x94: 'Topic Alias invalid', 0x95: 'Packet too large', 0x96: 'Message rate too high', 0x97: 'Quota exceeded', 0x98: 'Administrative action',
  0x99: 'Payload format invalid', 0x9a: 'Retain not supported', 0x9b: 'QoS not supported', 0x9c: 'Use another server', 0x9d: 'Server moved',
  0x9e: 'Shared Subscriptions not supported', 0x9f: 'Connection rate exceeded', 0xa0: 'Maximum connect time', 0xa1: 'Subscription Identifiers not supported',
  0xa2: 'Wildcard Subscriptions not supported',
};
/** MQTT 3.1.1 CONNACK return codes. */
const CONNACK_311: Record<number, string> = {
  0: 'Connection Accepted', 1: 'unacceptable protocol version', 2: 'identifier rejected', 3: 'Server unavailable', 4: 'bad user name or password', 5: 'not authorized',
};

function reasonName(code: number, packetType: string, version: SpecVersionName | undefined): string | undefined {
  if (packetType === 'connack' && (version === '3.1.1' || code <= 5)) return version === '3.1.1' ? CONNACK_311[code] : code === 0 ? 'Success' : undefined;
  if (packetType === 'suback' && code <= 2) return `Granted QoS ${code}`;
  if (code === 0) return packetType === 'disconnect' ? 'Normal disconnection' : 'Success';
  if (code >= 0x80 && packetType === 'suback' && version === '3.1.1') return 'Failure';
  return REASON_5[code];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Binary fields as the recorder writes them: { bytes, hex, text }. */
function isBinary(v: unknown): v is { bytes: number; hex?: string; text?: string } {
  return isRecord(v) && typeof v['bytes'] === 'number' && ('hex' in v || 'text' in v);
}

const MAX_VALUE = 300;

function clip(s: string): string {
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}… (${s.length} chars)` : s;
}

/** A value in compact form. Strings stay JSON-quoted so that odd characters show. */
function valueText(v: unknown, key: string, packetType: string, version: SpecVersionName | undefined): string {
  if (isBinary(v)) return `${v.text !== undefined ? JSON.stringify(v.text) : `0x${v.hex ?? ''}`} (${v.bytes} B)`;
  if (typeof v === 'number' && (key === 'reasonCode' || key === 'returnCode')) {
    const name = reasonName(v, packetType, version);
    return `0x${v.toString(16).padStart(2, '0')}${name ? ` ${name}` : ''}`;
  }
  if (Array.isArray(v) && key === 'reasonCodes') {
    return `[${v.map((c) => (typeof c === 'number' ? `0x${c.toString(16).padStart(2, '0')}${reasonName(c, packetType, version) ? ` ${reasonName(c, packetType, version)!}` : ''}` : JSON.stringify(c))).join(', ')}]`;
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => valueText(x, '', packetType, version)).join(', ')}]`;
  if (isRecord(v)) return `{${Object.entries(v).map(([k, x]) => `${k}: ${valueText(x, k, packetType, version)}`).join(', ')}}`;
  return String(v);
}

/** Decoded packet fields (type omitted: it is the row's packet column). */
export function packetFields(packet: unknown, version?: SpecVersionName): Raw {
  if (!isRecord(packet)) return packet === undefined ? raw('') : html`<span>${clip(JSON.stringify(packet) ?? String(packet))}</span>`;
  const type = typeof packet['type'] === 'string' ? packet['type'] : '';
  const parts = Object.entries(packet).filter(([k]) => k !== 'type')
    .map(([k, v]) => html`<span class="kv"><span class="k">${k}=</span>${clip(valueText(v, k, type, version))}</span>`);
  return html`${parts}`;
}

const ARROW: Record<TraceEntryJson['dir'], string> = { out: '→', in: '←', event: '•' };
const DIR_TITLE: Record<TraceEntryJson['dir'], string> = { out: 'client → broker', in: 'broker → client', event: 'event' };

export const MAX_TRACE_ROWS = 600;

export function renderTrace(trace: readonly TraceEntryJson[], version?: SpecVersionName): Raw {
  if (trace.length === 0) return html`<p class="muted small">(empty trace)</p>`;
  const shown = trace.slice(0, MAX_TRACE_ROWS);
  const rows = shown.map((e, i) => {
    const prev = i > 0 ? shown[i - 1]!.t : e.t;
    const delta = e.t - prev;
    const dir = e.dir === 'out' || e.dir === 'in' ? e.dir : 'event';
    return html`<tr class="d-${dir}"><td class="t">${e.t.toFixed(1)}</td><td class="t muted">${i === 0 ? '' : `+${delta.toFixed(1)}`}</td><td class="mono">${e.conn}</td><td class="dir" title="${DIR_TITLE[dir]}" aria-label="${DIR_TITLE[dir]}">${ARROW[dir]}</td><td class="what">${e.what}</td><td class="fields">${packetFields(e.packet, version)}${e.hex ? html`<span class="kv"><span class="k">bytes=</span>${clip(e.hex.replace(/(..)(?=.)/g, '$1 '))}</span>` : ''}${e.detail ? html`<span class="kv">${clip(e.detail)}</span>` : ''}</td></tr>`;
  });
  return html`<table class="trace"><caption class="small muted">Packet trace: ms since the test started, time since the previous line; → client to broker, ← broker to client, • event</caption><thead><tr><th>t ms</th><th>Δ ms</th><th>conn</th><th>dir</th><th>packet</th><th>decoded fields</th></tr></thead><tbody>${rows}</tbody></table>${trace.length > MAX_TRACE_ROWS ? html`<p class="muted small">… ${trace.length - MAX_TRACE_ROWS} more entries in the results JSON</p>` : ''}`;
}

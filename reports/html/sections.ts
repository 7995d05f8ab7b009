/** Chapter titles of both specs (x.y level), so a section number reads as something. */
import type { SpecVersionName } from '../../results/types.js';

const COMMON: Record<string, string> = {
  '1.5': 'Data representation',
  '2.1': 'Structure of a Control Packet',
  '3.1': 'CONNECT', '3.2': 'CONNACK', '3.3': 'PUBLISH', '3.4': 'PUBACK', '3.5': 'PUBREC', '3.6': 'PUBREL', '3.7': 'PUBCOMP',
  '3.8': 'SUBSCRIBE', '3.9': 'SUBACK', '3.10': 'UNSUBSCRIBE', '3.11': 'UNSUBACK', '3.12': 'PINGREQ', '3.13': 'PINGRESP', '3.14': 'DISCONNECT',
  '4.1': 'Session state', '4.2': 'Network connections', '4.3': 'Quality of Service levels and flows', '4.4': 'Message delivery retry',
  '4.5': 'Message receipt', '4.6': 'Message ordering', '4.7': 'Topic Names and Topic Filters',
  '5': 'Security', '6': 'WebSocket transport', '7': 'Conformance',
};

const BY_VERSION: Record<SpecVersionName, Record<string, string>> = {
  '3.1.1': { ...COMMON, '2.2': 'Fixed header', '2.3': 'Variable header', '2.4': 'Payload', '4.8': 'Handling errors' },
  '5.0': {
    ...COMMON, '2.2': 'Variable header', '2.3': 'Payload', '2.4': 'Reason Code', '3.15': 'AUTH',
    '4.8': 'Subscriptions', '4.9': 'Flow control', '4.10': 'Request / Response', '4.11': 'Server redirection',
    '4.12': 'Enhanced authentication', '4.13': 'Handling errors',
  },
};

/** "CONNECT" for 3.1.2, "Security" for 5.4.1; '' when unknown. */
export function sectionTitle(section: string, version: SpecVersionName): string {
  const parts = section.split('.');
  const table = BY_VERSION[version];
  return table[parts.slice(0, 2).join('.')] ?? table[parts[0]!] ?? '';
}

/** Compares section numbers numerically: 3.2 < 3.10. */
export function compareSections(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return Number.isNaN(d) ? 0 : d;
  }
  return 0;
}

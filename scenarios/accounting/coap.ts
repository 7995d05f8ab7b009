/**
 * CoAP (RFC 7252) datagram layout and classification: the 4-byte fixed
 * header (version, type, token length, code, message id), the token, the
 * options (delta/length nibbles with their extended bytes), the 0xFF marker
 * and the payload. A datagram with a payload is a message; an empty ACK or
 * RST, or a response without a payload (a piggybacked 2.04 Changed) is an
 * ack; a request without a payload (a GET, an Observe registration) is
 * control.
 */
import type { ByteCategory } from '../../harness/meters/byte-meter.js';

export interface CoapLayout {
  type: 'CON' | 'NON' | 'ACK' | 'RST';
  /** code class and detail, e.g. '0.02' POST, '2.04' Changed, '0.00' empty. */
  code: string;
  fixedHeader: 4;
  token: number;
  /** Option bytes (all options with their headers). */
  options: number;
  /** The 0xFF marker (1 when there is a payload). */
  marker: number;
  payload: number;
  total: number;
}

const TYPES = ['CON', 'NON', 'ACK', 'RST'] as const;

/** The parts of a CoAP datagram, or undefined if it is not one. */
export function coapLayout(d: Uint8Array): CoapLayout | undefined {
  if (d.length < 4 || d[0]! >> 6 !== 1) return undefined;
  const tkl = d[0]! & 0x0f;
  if (tkl > 8 || d.length < 4 + tkl) return undefined;
  const code = `${d[1]! >> 5}.${String(d[1]! & 0x1f).padStart(2, '0')}`;
  let i = 4 + tkl;
  while (i < d.length && d[i] !== 0xff) {
    const b = d[i++]!;
    for (const nib of [b >> 4, b & 0x0f]) {
      if (nib === 13) i += 1;
      else if (nib === 14) i += 2;
      else if (nib === 15) return undefined;
    }
    // The length's extended bytes come last, right before the value.
    const lenNib = b & 0x0f;
    let len = lenNib;
    if (lenNib === 13) len = d[i - 1]! + 13;
    else if (lenNib === 14) len = ((d[i - 2]! << 8) | d[i - 1]!) + 269;
    i += len;
  }
  if (i > d.length) return undefined;
  const options = i - 4 - tkl;
  const marker = i < d.length ? 1 : 0;
  const payload = marker ? d.length - i - 1 : 0;
  return { type: TYPES[(d[0]! >> 4) & 0x03]!, code, fixedHeader: 4, token: tkl, options, marker, payload, total: d.length };
}

export function coapCategory(d: Uint8Array): ByteCategory {
  const l = coapLayout(d);
  if (!l) return 'control';
  if (l.payload > 0) return 'message';
  if (l.type === 'ACK' || l.type === 'RST') return 'ack';
  return Number(l.code[0]) >= 2 ? 'ack' : 'control';
}

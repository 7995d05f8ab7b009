/**
 * What a TLS client should check about a broker's server certificate, each
 * check on its own so a report can say which one fails: does the chain verify
 * against the CA the client trusts, is it inside its validity period, and does
 * it name the host the client connects to (RFC 6125; Node's
 * checkServerIdentity). The handshake is made with verification off so all
 * three can be reported; the clients of the harness verify for real (see
 * transport.ts: rejectUnauthorized defaults to true).
 */
import { checkServerIdentity, connect as tlsConnect, type DetailedPeerCertificate } from 'node:tls';
import { parseBrokerUrl, type TlsClientOptions } from './transport.js';
import type { Recorder } from './recorder.js';

export interface ServerCertificateReport {
  /** The handshake completed (with verification off); the rest is only meaningful when true. */
  reached: boolean;
  /** Why the handshake failed, when it did. */
  error?: string | undefined;
  subjectCN?: string | undefined;
  /** subjectAltName as the certificate lists it ("DNS:localhost, IP Address:127.0.0.1"). */
  altNames?: string | undefined;
  validFrom?: string | undefined;
  validTo?: string | undefined;
  /** Now is before validFrom. */
  notYetValid?: boolean | undefined;
  /** Now is after validTo. */
  expired?: boolean | undefined;
  /** The host name (or IP) the identity was checked against. */
  hostChecked: string;
  /** checkServerIdentity(hostChecked, cert) found no mismatch. */
  hostMatches?: boolean | undefined;
  hostError?: string | undefined;
  /** The chain verifies against the client's CA (OpenSSL's verdict, dates included). */
  chainVerified?: boolean | undefined;
  /** OpenSSL / Node code when it does not (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...). */
  chainError?: string | undefined;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/**
 * Inspects the certificate the listener at `url` (mqtts:// or wss://) presents. `tls.servername`
 * (e.g. the profile's) is the name checked; else the URL's host. Always resolves.
 */
export function inspectServerCertificate(url: string, tls: TlsClientOptions = {}, o: { timeoutMs?: number; recorder?: Recorder; label?: string } = {}): Promise<ServerCertificateReport> {
  const addr = parseBrokerUrl(url);
  const hostChecked = tls.servername ?? addr.host;
  const timeoutMs = o.timeoutMs ?? 5000;
  const label = o.label ?? 'server-cert';
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ServerCertificateReport): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      o.recorder?.event(label, 'server-certificate', r.reached
        ? `CN=${r.subjectCN ?? '?'} [${r.altNames ?? 'no subjectAltName'}] ${r.validFrom ?? '?'} .. ${r.validTo ?? '?'}; chain ${r.chainVerified ? 'verified' : `not verified (${r.chainError ?? '?'})`}; host ${hostChecked} ${r.hostMatches ? 'matches' : `does not match (${r.hostError ?? '?'})`}`
        : `handshake failed: ${r.error ?? '?'}`);
      resolve(r);
    };
    const socket = tlsConnect({
      host: addr.host, port: addr.port, ca: tls.ca, cert: tls.cert, key: tls.key,
      // Off on purpose: the handshake must complete so that every check can be reported.
      rejectUnauthorized: false,
      servername: isIp(hostChecked) ? undefined : hostChecked,
      // The identity is checked below, separately from the chain.
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => finish({ reached: false, hostChecked, error: `no handshake within ${timeoutMs} ms` }), timeoutMs);
    socket.once('secureConnect', () => {
      const cert: DetailedPeerCertificate = socket.getPeerCertificate(true);
      if (!cert || Object.keys(cert).length === 0) return finish({ reached: false, hostChecked, error: 'the server presented no certificate' });
      const now = Date.now();
      const from = Date.parse(cert.valid_from);
      const to = Date.parse(cert.valid_to);
      const identity = checkServerIdentity(hostChecked, cert);
      const cn = cert.subject?.CN as string | string[] | undefined;
      finish({
        reached: true,
        subjectCN: Array.isArray(cn) ? cn[0] : cn,
        altNames: cert.subjectaltname,
        validFrom: new Date(from).toISOString(),
        validTo: new Date(to).toISOString(),
        notYetValid: now < from,
        expired: now > to,
        hostChecked,
        hostMatches: identity === undefined,
        hostError: identity?.message,
        chainVerified: socket.authorized,
        chainError: socket.authorizationError ? String(socket.authorizationError) : undefined,
      });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => finish({ reached: false, hostChecked, error: `${e.code ?? ''} ${e.message.split('\n')[0] ?? ''}`.trim() }));
    socket.once('close', () => finish({ reached: false, hostChecked, error: 'connection closed during the handshake' }));
  });
}

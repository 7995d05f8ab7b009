/**
 * TLS handshakes alone, for security checks: which protocol versions a
 * listener agrees to, whether its certificate verifies against a CA, and what
 * it does with client certificates. Nothing MQTT is sent.
 */
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { parseBrokerUrl, type TlsClientOptions } from './transport.js';
import type { Recorder } from './recorder.js';

export interface TlsProbeOptions extends TlsClientOptions {
  /** OpenSSL cipher string. 'DEFAULT:@SECLEVEL=0' lets OpenSSL 3 offer TLS 1.0/1.1 at all. */
  ciphers?: string | undefined;
  timeoutMs?: number | undefined;
  recorder?: Recorder | undefined;
  label?: string | undefined;
}

export interface TlsProbeResult {
  /** The handshake completed (from the client's side). */
  established: boolean;
  /** Negotiated protocol (e.g. 'TLSv1.3'), when established. */
  protocol?: string | undefined;
  /** The server certificate verified against the CA given. */
  authorized?: boolean | undefined;
  authorizationError?: string | undefined;
  /** Subject CN of the server certificate, when established. */
  serverCN?: string | undefined;
  /** Why the handshake failed: OpenSSL / Node error code and message. */
  errorCode?: string | undefined;
  error?: string | undefined;
}

/**
 * Performs one TLS handshake with the listener at `url` (mqtts:// or wss://
 * host and port) and reports how it went; always resolves.
 */
export function tlsHandshake(url: string, o: TlsProbeOptions = {}): Promise<TlsProbeResult> {
  const addr = parseBrokerUrl(url);
  const label = o.label ?? 'tls-probe';
  const timeoutMs = o.timeoutMs ?? 5000;
  const isIp = /^[\d.]+$/.test(addr.host) || addr.host.includes(':');
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: TlsProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      o.recorder?.event(label, r.established ? 'tls-established' : 'tls-failed',
        r.established ? `${r.protocol ?? '?'}, server certificate ${r.authorized ? 'verified' : `not verified (${r.authorizationError ?? '?'})`}` : `${r.errorCode ?? ''} ${r.error ?? ''}`.trim());
      resolve(r);
    };
    o.recorder?.event(label, 'tls-probe', `${addr.host}:${addr.port} versions ${o.minVersion ?? 'default'}..${o.maxVersion ?? 'default'}${o.cert ? ', with a client certificate' : ', no client certificate'}`);
    const socket = tlsConnect({
      host: addr.host, port: addr.port, ca: o.ca, cert: o.cert, key: o.key,
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      servername: o.servername ?? (isIp ? undefined : addr.host),
      minVersion: o.minVersion, maxVersion: o.maxVersion, ciphers: o.ciphers,
    });
    const timer = setTimeout(() => finish({ established: false, errorCode: 'TIMEOUT', error: `no handshake result within ${timeoutMs} ms` }), timeoutMs);
    socket.once('secureConnect', () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      const cn = cert.subject?.CN as string | string[] | undefined;
      finish({
        established: true,
        protocol: socket.getProtocol() ?? undefined,
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
        serverCN: Array.isArray(cn) ? cn[0] : cn,
      });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => finish({ established: false, errorCode: e.code, error: e.message.split('\n')[0] }));
    socket.once('close', () => finish({ established: false, errorCode: 'CLOSED', error: 'connection closed during the handshake' }));
  });
}

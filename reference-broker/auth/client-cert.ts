/**
 * Mutual-TLS identity: with `useCertificateCN`, a client that presents a
 * certificate that verified against the listener's CA logs in as the
 * certificate's subject CN. The CN replaces any user name in CONNECT and no
 * password is needed. Clients without such a certificate (other listeners,
 * no certificate, a certificate that did not verify, no CN) fall back to the
 * password file, then to the anonymous rule.
 */
import type { TransportKind } from '../core/link.js';
import type { AuthenticateRequest, AuthenticateResult, ClientInfo } from '../core/options.js';
import { passwordAuthenticator, type PasswordDb } from './password-file.js';

export interface CertificateIdentityOptions {
  /** Transports whose listeners use the certificate CN as user name. Default: tls and wss. */
  transports?: readonly TransportKind[];
}

export interface CertificateAuthOptions extends CertificateIdentityOptions {
  /** Password file for clients that are not identified by a certificate. */
  passwords?: PasswordDb | undefined;
  /** Accept clients with neither a usable certificate nor a user name. Default false. */
  allowAnonymous?: boolean | undefined;
}

const DEFAULT_TRANSPORTS: readonly TransportKind[] = ['tls', 'wss'];

/** The user name a verified client certificate gives, or undefined (never from an unverified certificate). */
export function certificateUsername(client: ClientInfo, o: CertificateIdentityOptions = {}): string | undefined {
  const cert = client.certificate;
  if (!cert || cert.authorized !== true) return undefined;
  if (!(o.transports ?? DEFAULT_TRANSPORTS).includes(client.transport)) return undefined;
  const cn = cert.subjectCN;
  return cn !== undefined && cn.length > 0 ? cn : undefined;
}

/** Authenticate hook: certificate CN first, then the password file, then the anonymous rule. */
export function certificateAuthenticator(o: CertificateAuthOptions): (req: AuthenticateRequest) => AuthenticateResult | Promise<AuthenticateResult> {
  const byPassword = o.passwords ? passwordAuthenticator({ users: o.passwords, allowAnonymous: o.allowAnonymous ?? false }) : undefined;
  return (req) => {
    const cn = certificateUsername(req, o);
    if (cn !== undefined) return { ok: true, username: cn };
    if (byPassword) return byPassword(req);
    if (req.username === undefined) {
      return o.allowAnonymous ? { ok: true } : { ok: false, reason: 'not-authorized', message: 'a client certificate is required' };
    }
    return { ok: false, reason: 'bad-credentials', message: 'user names are only accepted from a verified client certificate' };
  };
}

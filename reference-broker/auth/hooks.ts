/**
 * One BrokerHooks from the built-in policies (password file, client
 * certificate CN, ACL file) and the user's own hooks.
 *
 * authenticate: the built-in step decides first (certificate CN, then
 * password file, then the anonymous rule); if it accepts, the user's
 * authenticate hook, when given, sees the request with the established user
 * name and may refuse or rename. authorizePublish / authorizeSubscribe: every
 * configured check must allow (ACL and user hook).
 *
 * A user name that nothing can verify (no password file and no user
 * authenticate hook; certificate CNs are verified by the TLS handshake) is
 * refused with 'bad-credentials', since ACL `user` sections and %u would
 * otherwise trust whatever the client claims. Only a fully open broker (no
 * password file, no certificate identity, no ACL, anonymous allowed) installs
 * no authenticate hook and takes names as given.
 */
import type { AuthenticateRequest, AuthenticateResult, BrokerHooks } from '../core/options.js';
import { aclHooks, type Acl } from './acl-file.js';
import { certificateAuthenticator, certificateUsername, type CertificateIdentityOptions } from './client-cert.js';
import { passwordAuthenticator, type PasswordDb } from './password-file.js';

export interface AuthPolicy {
  /** Users of a password file (see readPasswordFile). */
  passwords?: PasswordDb | undefined;
  /** Take the user name from verified client certificates (true: on tls and wss listeners). */
  certificateIdentity?: CertificateIdentityOptions | boolean | undefined;
  /**
   * Accept clients that send no user name (and, with certificate identity,
   * present no usable certificate). Default: true when there is no password
   * file, no certificate identity and no user authenticate hook; else false.
   */
  allowAnonymous?: boolean | undefined;
  /** Topic ACL (see readAclFile). */
  acl?: Acl | undefined;
  /** The user's own hooks, combined with the built-in ones. */
  hooks?: BrokerHooks | undefined;
}

type Authenticate = (req: AuthenticateRequest) => AuthenticateResult | Promise<AuthenticateResult>;

/** Whether anonymous access is allowed under `p` once defaults are applied. */
export function anonymousAllowed(p: AuthPolicy): boolean {
  const hasSource = p.passwords !== undefined || !!p.certificateIdentity || p.hooks?.authenticate !== undefined;
  return p.allowAnonymous ?? !hasSource;
}

function builtInAuthenticate(p: AuthPolicy): Authenticate | undefined {
  const allowAnonymous = anonymousAllowed(p);
  const cert = p.certificateIdentity ? (typeof p.certificateIdentity === 'object' ? p.certificateIdentity : {}) : undefined;
  const userVerifies = p.hooks?.authenticate !== undefined;
  if (!cert && !p.passwords && !userVerifies && p.acl === undefined && allowAnonymous) return undefined; // open broker
  if (cert && !userVerifies) return certificateAuthenticator({ ...cert, passwords: p.passwords, allowAnonymous });
  if (p.passwords && !cert) return passwordAuthenticator({ users: p.passwords, allowAnonymous });
  // General case: certificate CN, then the password file, then the user's hook verifies the name.
  const byPassword = p.passwords ? passwordAuthenticator({ users: p.passwords, allowAnonymous }) : undefined;
  return (req) => {
    const cn = cert ? certificateUsername(req, cert) : undefined;
    if (cn !== undefined) return { ok: true, username: cn };
    if (req.username === undefined) {
      return allowAnonymous ? { ok: true } : { ok: false, reason: 'not-authorized', message: 'anonymous access is not allowed' };
    }
    if (byPassword) return byPassword(req);
    if (userVerifies) return { ok: true };
    return { ok: false, reason: 'bad-credentials', message: 'user names cannot be verified on this broker (no password file)' };
  };
}

function chain(first: Authenticate | undefined, second: Authenticate | undefined): Authenticate | undefined {
  if (!first || !second) return first ?? second;
  return (req) => {
    const then = (r: AuthenticateResult): AuthenticateResult | Promise<AuthenticateResult> => {
      if (!r.ok) return r;
      const username = r.username ?? req.username;
      const next = (r2: AuthenticateResult): AuthenticateResult => (r2.ok ? { ok: true, username: r2.username ?? username } : r2);
      const r2 = second({ ...req, username });
      return r2 instanceof Promise ? r2.then(next) : next(r2);
    };
    const r = first(req);
    return r instanceof Promise ? r.then(then) : then(r);
  };
}

/** Composes the policies of `p` into one BrokerHooks. */
export function composeHooks(p: AuthPolicy): BrokerHooks {
  const out: BrokerHooks = {};
  const user = p.hooks ?? {};
  const authenticate = chain(builtInAuthenticate(p), user.authenticate?.bind(user));
  if (authenticate) out.authenticate = authenticate;

  const acl = p.acl ? aclHooks(p.acl) : undefined;
  const pub = [acl?.authorizePublish, user.authorizePublish?.bind(user)].filter((f) => f !== undefined);
  if (pub.length > 0) out.authorizePublish = (client, topic, qos, retain) => pub.every((f) => f(client, topic, qos, retain));
  const sub = [acl?.authorizeSubscribe, user.authorizeSubscribe?.bind(user)].filter((f) => f !== undefined);
  if (sub.length > 0) out.authorizeSubscribe = (client, filter, qos) => sub.every((f) => f(client, filter, qos));
  return out;
}

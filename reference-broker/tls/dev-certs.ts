/**
 * Throwaway certificates for local use and tests: a CA, a server certificate
 * for localhost / 127.0.0.1 / ::1, client certificates with chosen CNs, and an
 * unrelated "rogue" CA with its own client certificate (for refusal tests).
 * Uses the openssl command line (Node cannot issue X.509 certificates).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevCertFiles {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** CN → { cert, key } paths, signed by the CA. */
  clients: Record<string, { cert: string; key: string }>;
  /** A client certificate signed by a CA the server does not trust. */
  rogueClient: { cert: string; key: string };
}

export interface DevCertOptions {
  /** Client certificate CNs to issue. Default ['client']. */
  clients?: string[];
  /** Extra DNS names / IPs for the server certificate. */
  hosts?: string[];
  days?: number;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('openssl not found: install it (Debian: apt-get install openssl) to generate certificates');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString() ?? String(e)}`);
  }
}

/** `<name>.key` (P-256) and a signing request `<name>.csr` with subject CN `cn`. */
function newKeyAndRequest(dir: string, name: string, cn: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn.replaceAll('/', '\\/')}`], dir);
}

/** Issues `<name>.crt`/`<name>.key` in `dir` with subject CN `cn`, signed by `<caName>.crt`; `ext` = openssl extension lines. */
export function issueCertificate(dir: string, name: string, cn: string, caName: string, days: number, ext?: string): void {
  newKeyAndRequest(dir, name, cn);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days), '-sha256'];
  if (ext) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  openssl(args, dir);
}

/** An explicit validity period (openssl `ca -startdate/-enddate`), e.g. one that ended already. */
export interface ValidityPeriod {
  notBefore: Date;
  notAfter: Date;
}

/** `20200101000000Z`: the GeneralizedTime form `openssl ca` takes. */
function generalizedTime(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/**
 * Like issueCertificate, but valid exactly for `period` (which may lie in the past or the
 * future: expired and not-yet-valid certificates for client-side refusal checks). `openssl x509`
 * of OpenSSL 3.0 cannot set dates, so this goes through `openssl ca` with a throwaway database.
 */
export function issueCertificateForPeriod(dir: string, name: string, cn: string, caName: string, period: ValidityPeriod, ext: string): void {
  newKeyAndRequest(dir, name, cn);
  writeFileSync(join(dir, `${name}.index`), '');
  writeFileSync(join(dir, `${name}.serial`), `${Date.now().toString(16).padStart(16, '0')}\n`);
  writeFileSync(join(dir, `${name}.cnf`), [
    '[ca]', 'default_ca = d', '[d]', `database = ${name}.index`, 'new_certs_dir = .', `serial = ${name}.serial`,
    'default_md = sha256', 'policy = p', 'unique_subject = no', 'x509_extensions = e', '[p]', 'commonName = supplied', '[e]', ext, '',
  ].join('\n'));
  openssl(['ca', '-batch', '-notext', '-config', `${name}.cnf`, '-cert', `${caName}.crt`, '-keyfile', `${caName}.key`, '-in', `${name}.csr`, '-out', `${name}.crt`,
    '-startdate', generalizedTime(period.notBefore), '-enddate', generalizedTime(period.notAfter)], dir);
}

/** True when the PEM certificate at `path` is valid now and for at least `marginMs` more. */
function stillValid(path: string, marginMs: number): boolean {
  try {
    const c = new X509Certificate(readFileSync(path));
    const now = Date.now();
    return Date.parse(c.validFrom) <= now && Date.parse(c.validTo) > now + marginMs;
  } catch {
    return false;
  }
}

/** Creates a self-signed CA `<name>.crt`/`<name>.key` in `dir`. */
export function createCa(dir: string, name: string, cn: string, days: number): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', String(days), '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

/** Creates (or reuses, when already complete) certificates in `dir`. */
export function generateDevCerts(dir: string, opts: DevCertOptions = {}): DevCertFiles {
  const days = opts.days ?? 30;
  const clients = opts.clients ?? ['client'];
  mkdirSync(dir, { recursive: true });
  const files: DevCertFiles = {
    dir,
    caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'),
    clients: Object.fromEntries(clients.map((cn) => [cn, { cert: join(dir, `client-${cn}.crt`), key: join(dir, `client-${cn}.key`) }])),
    rogueClient: { cert: join(dir, 'rogue-client.crt'), key: join(dir, 'rogue-client.key') },
  };
  const all = [files.caCert, files.serverCert, files.rogueClient.cert, ...Object.values(files.clients).map((c) => c.cert)];
  // Reused only while every certificate has a day left: a long-lived directory must not serve expired ones.
  if (all.every((f) => existsSync(f) && stillValid(f, 86_400_000))) return files;

  createCa(dir, 'ca', 'mqtt-testbed dev CA', days);
  const sans = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1', ...(opts.hosts ?? []).map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`))];
  issueCertificate(dir, 'server', 'localhost', 'ca', days, `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\n`);
  for (const cn of clients) issueCertificate(dir, `client-${cn}`, cn, 'ca', days, 'extendedKeyUsage=clientAuth\n');
  createCa(dir, 'rogue-ca', 'not the mqtt-testbed CA', days);
  issueCertificate(dir, 'rogue-client', clients[0] ?? 'client', 'rogue-ca', days, 'extendedKeyUsage=clientAuth\n');
  return files;
}

/** Reads the PEM files a TLS listener needs. */
export function readTlsMaterial(files: DevCertFiles, requireClientCert = false): { key: Buffer; cert: Buffer; ca: Buffer; requireClientCert: boolean } {
  return { key: readFileSync(files.serverKey), cert: readFileSync(files.serverCert), ca: readFileSync(files.caCert), requireClientCert };
}

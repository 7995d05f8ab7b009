/**
 * Throwaway certificates for local use and tests: a CA, a server certificate
 * for localhost / 127.0.0.1 / ::1, client certificates with chosen CNs, and an
 * unrelated "rogue" CA with its own client certificate (for refusal tests).
 * Uses the openssl command line (Node cannot issue X.509 certificates).
 */
import { execFileSync } from 'node:child_process';
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

/** Issues `<name>.crt`/`<name>.key` in `dir` with subject CN `cn`, signed by `<caName>.crt`; `ext` = openssl extension lines. */
export function issueCertificate(dir: string, name: string, cn: string, caName: string, days: number, ext?: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn.replaceAll('/', '\\/')}`], dir);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days), '-sha256'];
  if (ext) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    args.push('-extfile', `${name}.ext`);
  }
  openssl(args, dir);
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
  if (all.every((f) => existsSync(f))) return files;

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

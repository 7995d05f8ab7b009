/**
 * A throwaway client certificate from a CA no broker trusts, for tests that
 * check mutual TLS refuses it. Made with the openssl command line (Node cannot
 * issue X.509 certificates) in a private temporary directory, once per
 * process and per CN, and removed when the process exits.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RoguePair {
  /** PEM client certificate, signed by the rogue CA. */
  cert: Buffer;
  /** PEM private key of `cert`. */
  key: Buffer;
  /** PEM certificate of the rogue CA (nobody should trust it). */
  ca: Buffer;
  /** Subject CN of `cert`. */
  cn: string;
}

let dir: string | undefined;
const pairs = new Map<string, RoguePair>();

function workDir(): string {
  if (!dir) {
    const d = mkdtempSync(join(tmpdir(), 'mqtt-testbed-rogue-'));
    dir = d;
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('openssl not found: install it (Debian: apt-get install openssl) to make the rogue client certificate');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString() ?? String(e)}`);
  }
}

/**
 * A client certificate with subject CN `cn` (e.g. a real user's name, the
 * dangerous case) issued by a freshly made CA that is not the broker's.
 */
export function roguePair(cn = 'rogue-client'): RoguePair {
  const known = pairs.get(cn);
  if (known) return known;
  const d = workDir();
  const name = `client-${pairs.size}`;
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', `${name}-ca.key`, '-out', `${name}-ca.crt`, '-days', '2', '-subj', '/CN=mqtt-testbed rogue CA (untrusted)',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], d);
  openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn.replaceAll('/', '\\/')}`], d);
  writeFileSync(join(d, `${name}.ext`), 'extendedKeyUsage=clientAuth\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${name}-ca.crt`, '-CAkey', `${name}-ca.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-sha256', '-extfile', `${name}.ext`], d);
  const pair: RoguePair = {
    cert: readFileSync(join(d, `${name}.crt`)),
    key: readFileSync(join(d, `${name}.key`)),
    ca: readFileSync(join(d, `${name}-ca.crt`)),
    cn,
  };
  pairs.set(cn, pair);
  return pair;
}

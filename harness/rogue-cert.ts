/**
 * A throwaway client certificate from a CA no broker trusts, for tests that
 * check mutual TLS refuses it. Made with the openssl command line (Node cannot
 * issue X.509 certificates) in a private temporary directory, once per
 * process and per CN, and removed when the process exits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../reference-broker/index.js';

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

/**
 * A client certificate with subject CN `cn` (e.g. a real user's name, the
 * dangerous case) issued by a freshly made CA that is not the broker's.
 */
export function roguePair(cn = 'rogue-client'): RoguePair {
  const known = pairs.get(cn);
  if (known) return known;
  const d = workDir();
  const name = `client-${pairs.size}`;
  createCa(d, `${name}-ca`, 'mqtt-testbed rogue CA (untrusted)', 2);
  issueCertificate(d, name, cn, `${name}-ca`, 2, 'extendedKeyUsage=clientAuth\n');
  const pair: RoguePair = {
    cert: readFileSync(join(d, `${name}.crt`)),
    key: readFileSync(join(d, `${name}.key`)),
    ca: readFileSync(join(d, `${name}-ca.crt`)),
    cn,
  };
  pairs.set(cn, pair);
  return pair;
}

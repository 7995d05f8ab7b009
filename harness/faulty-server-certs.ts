/**
 * Server certificates that a TLS client must refuse although they chain to a
 * CA it trusts: one that expired, one not valid yet, and one for another host.
 * Signed by the shared dev CA (launchers/child-process.ts devCertificates), so
 * the only fault of each is its dates or its names. Made with the openssl
 * command line in a private temporary directory, once per process, removed
 * when the process exits.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate, issueCertificateForPeriod } from '../reference-broker/index.js';
import { devCertificates } from './launchers/child-process.js';

export interface ServerKeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface FaultyServerCerts {
  /** Valid from two years ago until one year ago; names localhost, 127.0.0.1, ::1. */
  expired: ServerKeyPair;
  /** Valid from one year ahead; names localhost, 127.0.0.1, ::1. */
  notYetValid: ServerKeyPair;
  /** Valid now, but names only wrong-host.invalid (RFC 6761: never a real host). */
  wrongHost: ServerKeyPair;
  /** The dev CA that signed all three (what the client trusts). */
  ca: Buffer;
}

const LOCAL_SANS = 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth';
const YEAR_MS = 365 * 86_400_000;
let made: FaultyServerCerts | undefined;

export function faultyServerCerts(): FaultyServerCerts {
  if (made) return made;
  const dev = devCertificates();
  const caName = dev.caCert.replace(/\.crt$/, '');
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-testbed-faulty-server-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const now = Date.now();
  issueCertificateForPeriod(dir, 'expired', 'localhost', caName, { notBefore: new Date(now - 2 * YEAR_MS), notAfter: new Date(now - YEAR_MS) }, LOCAL_SANS);
  issueCertificateForPeriod(dir, 'not-yet-valid', 'localhost', caName, { notBefore: new Date(now + YEAR_MS), notAfter: new Date(now + 2 * YEAR_MS) }, LOCAL_SANS);
  issueCertificate(dir, 'wrong-host', 'wrong-host.invalid', caName, 2, 'subjectAltName=DNS:wrong-host.invalid\nextendedKeyUsage=serverAuth\n');
  const pair = (n: string): ServerKeyPair => ({ cert: readFileSync(join(dir, `${n}.crt`)), key: readFileSync(join(dir, `${n}.key`)) });
  made = { expired: pair('expired'), notYetValid: pair('not-yet-valid'), wrongHost: pair('wrong-host'), ca: readFileSync(dev.caCert) };
  return made;
}

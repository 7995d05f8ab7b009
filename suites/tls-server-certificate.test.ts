/**
 * The broker's server certificate, as a careful client sees it, on the TLS and
 * secure WebSocket ports: inside its validity period, naming the host the
 * clients use (the profile's tls.servername, else the URL's host; RFC 6125),
 * and refused by a client that trusts another CA or expects another host —
 * those last two check that verification is really on in the clients of this
 * testbed, against this broker's certificate.
 *
 * 3.1.1 and 5.0 §5.4.5 (Integrity and authentication of the server) is
 * non-normative: these checks name no statement (`v4: []`, `v5: []`) but
 * fail when the certificate would make a verifying client refuse the broker.
 * harness/server-certificate.test.ts proves they catch an expired, a
 * not-yet-valid and a wrong-host certificate.
 */
import { roguePair } from '../harness/rogue-cert.js';
import { inspectServerCertificate } from '../harness/server-certificate.js';
import { listenerUrl, tlsOptions } from '../harness/target.js';
import { openStream, parseBrokerUrl } from '../harness/transport.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';

const PORT = { tls: 'TLS port', wss: 'secure WebSocket port' } as const;

function skipUnverified(t: ConformanceContext): void {
  if (t.profile.tls?.rejectUnauthorized === false) t.skip(`profile '${t.profile.name}' turns server certificate verification off (tls.rejectUnauthorized false)`);
}

for (const kind of ['tls', 'wss'] as const) {
  conformance(`TLS (§5.4.5, RFC 5280 §4.1.2.5): the ${PORT[kind]}'s certificate is inside its validity period`, { v4: [], v5: [], requires: [kind] }, async (t) => {
    const url = listenerUrl(t.target, kind)!;
    const r = await inspectServerCertificate(url, tlsOptions(t.target, 'default', true), { timeoutMs: t.timeoutMs, recorder: t.recorder, label: kind });
    t.check(r.reached, undefined, `no TLS handshake with ${url}: ${r.error ?? ''}`);
    t.check(r.expired === false, undefined, `the certificate (CN=${r.subjectCN ?? '?'}) expired at ${r.validTo ?? '?'}: verifying clients refuse it (CERT_HAS_EXPIRED)`);
    t.check(r.notYetValid === false, undefined, `the certificate (CN=${r.subjectCN ?? '?'}) is valid only from ${r.validFrom ?? '?'}: verifying clients refuse it (CERT_NOT_YET_VALID)`);
  });

  conformance(`TLS (§5.4.5, RFC 6125): the ${PORT[kind]}'s certificate names the host clients connect to`, { v4: [], v5: [], requires: [kind] }, async (t) => {
    skipUnverified(t);
    const url = listenerUrl(t.target, kind)!;
    const r = await inspectServerCertificate(url, tlsOptions(t.target, 'default', true), { timeoutMs: t.timeoutMs, recorder: t.recorder, label: kind });
    t.check(r.reached, undefined, `no TLS handshake with ${url}: ${r.error ?? ''}`);
    t.check(r.hostMatches === true, undefined, `${r.hostError ?? `the certificate does not name ${r.hostChecked}`} (subjectAltName: ${r.altNames ?? 'none'}); set the profile's tls.servername if clients use another name`);
    t.check(r.chainVerified === true, undefined, `the certificate does not verify against the profile's CA: ${r.chainError ?? '?'}`);
  });

  conformance(`TLS (§5.4.5), client side: a client that trusts only another CA refuses the ${PORT[kind]}`, { v4: [], v5: [], requires: [kind] }, async (t) => {
    const url = listenerUrl(t.target, kind)!;
    const own = tlsOptions(t.target, 'default', true);
    const rogueCa = roguePair('mqtt-testbed-server-check').ca;
    t.recorder.event('-', 'untrusted-ca', 'the client trusts only a freshly made CA that signed nothing of this broker');
    const outcome = await openStream(parseBrokerUrl(url), { tls: { ...own, ca: rogueCa, rejectUnauthorized: true }, timeoutMs: t.timeoutMs }).then(
      (s) => { s.destroy(); return 'connected'; },
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    t.check(outcome !== 'connected', undefined, `a client trusting another CA completed the handshake with ${url}: the broker's certificate chain is not checked`);
    t.check(!/within \d+ ms/.test(outcome), undefined, `no handshake answer: ${outcome}`);
  });

  conformance(`TLS (§5.4.5, RFC 6125), client side: a client that expects another host name refuses the ${PORT[kind]}`, { v4: [], v5: [], requires: [kind] }, async (t) => {
    skipUnverified(t);
    const url = listenerUrl(t.target, kind)!;
    // RFC 6761: .invalid never names a real host, so no certificate may name it.
    const outcome = await openStream(parseBrokerUrl(url), { tls: { ...tlsOptions(t.target, 'default', true), servername: 'wrong-host.invalid', rejectUnauthorized: true }, timeoutMs: t.timeoutMs }).then(
      (s) => { s.destroy(); return 'connected'; },
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    t.recorder.event('-', 'wrong-host', `servername wrong-host.invalid: ${outcome}`);
    t.check(outcome !== 'connected', undefined, `a client expecting the host wrong-host.invalid completed the handshake with ${url}: the certificate names it, or names every host`);
    t.check(!/within \d+ ms/.test(outcome), undefined, `no handshake answer: ${outcome}`);
  });
}

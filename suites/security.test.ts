/**
 * Security as the profile claims it: TLS on its port, mutual TLS, user names
 * and passwords, and every ACL claim of the profile tried both ways.
 *
 * 3.1.1 and 5.0 §5 (Security) is non-normative: a check with no numbered
 * statement behind it names its section (or RFC) in the title and declares
 * no statements (`v4: []`, `v5: []`); it still fails when the broker does
 * not do what its profile claims. Numbered statements checked here: refused
 * CONNECT (3.1.1 §3.2.2: MQTT-3.2.2-4/-5; 5.0 §3.1.4, §3.2.2: MQTT-3.1.4-2,
 * MQTT-3.2.2-6/-7/-8), nothing processed after a refused CONNECT
 * (MQTT-3.1.4-5 / MQTT-3.1.4-6), refused PUBLISH (3.1.1 MQTT-3.3.5-2; 5.0
 * MQTT-3.3.4-1, MQTT-3.4.2-1, MQTT-3.5.2-1) and refused SUBSCRIBE
 * (MQTT-3.8.4-1, MQTT-3.9.3-2).
 */
import { X509Certificate } from 'node:crypto';
import { encode, reasonCodeName, topicMatches, type QoS } from '../codec/index.js';
import type { AclClaim, Capability } from '../harness/profile.js';
import { describe, RawClient, WaitError } from '../harness/raw-client.js';
import { roguePair } from '../harness/rogue-cert.js';
import { listenerUrl, roleCredentials, tlsOptions } from '../harness/target.js';
import { tlsHandshake } from '../harness/tls-probe.js';
import { parseBrokerUrl } from '../harness/transport.js';
import { conformance } from './support/conformance.js';
import type { ConformanceContext } from './support/context.js';
import {
  attemptConnect, claimsOf, connectAs, credentialsOf, expectPacket, hex, pid, roles, SILENCE_MS, topicFor, watcherFor, type Attempt,
} from './support/security-helpers.js';
import { suiteTarget } from './support/suite-target.js';

// ---------------------------------------------------------------- TLS

conformance("TLS (§4.2, §5.4.3, §5.4.5): the TLS port completes a handshake whose server certificate verifies against the profile's CA", { v4: [], v5: [], requires: ['tls'] }, async (t) => {
  if (t.profile.tls?.rejectUnauthorized === false) t.skip(`profile '${t.profile.name}' turns server certificate verification off (tls.rejectUnauthorized false)`);
  const url = listenerUrl(t.target, 'tls')!;
  const r = await tlsHandshake(url, { ...tlsOptions(t.target, 'default', true), rejectUnauthorized: true, recorder: t.recorder, label: 'tls', timeoutMs: t.timeoutMs });
  t.check(r.established, undefined, `TLS handshake with ${url} failed: ${r.errorCode ?? ''} ${r.error ?? ''}`);
  t.check(r.authorized === true, undefined, `the server certificate does not verify against the profile's CA: ${r.authorizationError ?? '?'}`);
  t.check(r.protocol === 'TLSv1.2' || r.protocol === 'TLSv1.3', undefined, `negotiated ${r.protocol ?? '?'}`);
  // MQTT flows over the verified connection.
  const { client } = await t.connect('mqtt', { listener: 'tls' });
  t.check(client.tlsSocket?.authorized === true, undefined, 'the MQTT connection over TLS did not verify the server certificate');
});

conformance('TLS (§4.2, §5.4.5): plaintext MQTT sent to the TLS port gets no CONNACK and the connection is closed', { v4: [], v5: [], requires: ['tls'] }, async (t) => {
  const tls = parseBrokerUrl(listenerUrl(t.target, 'tls')!);
  const url = `mqtt://${tls.host.includes(':') ? `[${tls.host}]` : tls.host}:${tls.port}`;
  const a = await attemptConnect(t, 'plain', url, undefined, { clean: true, keepAlive: 0, clientId: t.clientId('plain'), ...credentialsOf(t, 'default') });
  switch (a.outcome) {
    case 'handshake': return t.fail(undefined, `could not open TCP to the TLS port ${url}: ${a.error ?? ''}`);
    case 'connack': return t.fail(undefined, `the TLS port answered a plaintext CONNECT with ${describe(a.connack!)}`);
    case 'open': return t.fail(undefined, `the TLS port kept a plaintext connection open for ${t.timeoutMs} ms without closing it`);
    case 'bad-bytes': // a TLS alert is not MQTT; the connection must still close
      await t.expectClosed(a.client!, undefined);
      return;
    case 'closed': return;
  }
});

for (const kind of ['tls', 'wss'] as const) {
  const port = kind === 'tls' ? 'TLS port' : 'secure WebSocket port';
  conformance(`TLS (§5.4.5, RFC 8996): the ${port} refuses TLS 1.0 and 1.1`, { v4: [], v5: [], requires: [kind] }, async (t) => {
    const url = listenerUrl(t.target, kind)!;
    const r = await tlsHandshake(url, {
      ...tlsOptions(t.target, 'default', true),
      // Offer only TLS 1.0/1.1; SECLEVEL 0 so that OpenSSL 3 really offers (and would accept) them.
      minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0', rejectUnauthorized: false,
      recorder: t.recorder, label: `${kind}-legacy`, timeoutMs: t.timeoutMs,
    });
    t.check(!r.established, undefined, `the ${port} (${url}) completed a handshake at ${r.protocol ?? '?'}`);
    // A failure after the server chose a legacy version (our client refusing its signature) is still an acceptance.
    t.check(r.errorCode !== 'ERR_SSL_LEGACY_SIGALG_DISALLOWED_OR_UNSUPPORTED', undefined, `the ${port} agreed to TLS below 1.2 (${r.error ?? ''})`);
    t.check(r.errorCode !== 'TIMEOUT', undefined, `no handshake answer within ${t.timeoutMs} ms: cannot tell whether TLS below 1.2 is refused`);
  });
}

/** Passes when the attempt was refused (handshake, close, or CONNACK refusal); fails when it got in. */
function expectLockedOut(t: ConformanceContext, a: Attempt, who: string): void {
  switch (a.outcome) {
    case 'handshake': case 'closed': case 'bad-bytes': return;
    case 'connack':
      t.check(a.connack!.reasonCode !== 0, undefined, `${who} was let in: the TLS handshake completed and CONNECT was accepted (${describe(a.connack!)}), though the profile claims mutual TLS`);
      return;
    case 'open':
      t.fail(undefined, `${who}: the TLS handshake completed and the connection stayed open for ${t.timeoutMs} ms with neither CONNACK nor close (${a.error ?? ''})`);
  }
}

conformance('mutual TLS (§5.4.1): the TLS port refuses a client that presents no certificate, even with a valid password', { v4: [], v5: [], requires: ['tls', 'mutualTls'] }, async (t) => {
  const a = await attemptConnect(t, 'nocert', listenerUrl(t.target, 'tls')!, tlsOptions(t.target, 'default', false), {
    clean: true, keepAlive: 0, clientId: t.clientId('nocert'), ...credentialsOf(t, 'default'),
  });
  expectLockedOut(t, a, 'a client without a certificate');
});

conformance("mutual TLS (§5.4.1): the TLS port refuses a client certificate from another CA, even one naming a real user", { v4: [], v5: [], requires: ['tls', 'mutualTls'] }, async (t) => {
  const own = tlsOptions(t.target, 'default', true);
  // Impersonate the default role: same subject CN as its real certificate (or its user name).
  const cn = own.cert ? (new X509Certificate(own.cert).subject.match(/(?:^|\n)CN=([^\n]*)/)?.[1] ?? 'mqtt-testbed') : (roleCredentials(t.target, 'default')?.username ?? 'mqtt-testbed');
  const rogue = roguePair(cn);
  t.recorder.event('-', 'rogue-cert', `client certificate CN=${cn} from an untrusted CA`);
  const a = await attemptConnect(t, 'rogue', listenerUrl(t.target, 'tls')!, { ...own, cert: rogue.cert, key: rogue.key }, {
    clean: true, keepAlive: 0, clientId: t.clientId('rogue'), ...credentialsOf(t, 'default'),
  });
  expectLockedOut(t, a, `a client with a certificate for CN=${cn} from another CA`);
});

// ---------------------------------------------------------------- user names and passwords

const REFUSED = { v4: ['MQTT-3.2.2-4', 'MQTT-3.2.2-5'], v5: ['MQTT-3.1.4-2', 'MQTT-3.2.2-6', 'MQTT-3.2.2-7', 'MQTT-3.2.2-8'] };

/**
 * Wrong credentials. 3.1.1 Table 3.1 words 0x04 as "the data in the user name or password is malformed" and
 * 0x05 as "the Client is not authorized to connect": for a well-formed wrong password both fit. 5.0 words 0x86
 * as "the data in the User Name or Password is not accepted by the Server": that one fits; 0x87 is a finding.
 */
const BAD_CREDENTIALS = { v4: [0x04, 0x05], v5: [0x86] };

function tcpUrl(t: ConformanceContext): string {
  const url = listenerUrl(t.target, 'tcp');
  if (!url) t.skip(`profile '${t.profile.name}' names no TCP listener for user name / password checks`);
  return url;
}

/**
 * A refused CONNECT, as each version says: 3.1.1 §3.1.4 SHOULD send a
 * non-zero CONNACK and MUST close, with Session Present 0 [MQTT-3.2.2-4] and
 * the close after it [MQTT-3.2.2-5]; 5.0 MUST close [MQTT-3.1.4-2], MAY send
 * CONNACK >= 0x80 first, with Session Present 0 [MQTT-3.2.2-6], closing after
 * it [MQTT-3.2.2-7], and a code from the table [MQTT-3.2.2-8]. The code that
 * fits (`fits`) is SHOULD-level: another refusal code is a finding.
 */
async function expectRefused(t: ConformanceContext, a: Attempt, what: string, fits: { v4: number[]; v5: number[] }): Promise<void> {
  const want = t.version === 5 ? fits.v5 : fits.v4;
  const wanted = want.map((c) => `${hex(c)}${t.version === 5 ? ` ${reasonCodeName(c, 'connack')}` : ''}`).join(' or ');
  switch (a.outcome) {
    case 'handshake':
      t.fail(undefined, `could not reach the listener: ${a.error ?? ''}`);
    case 'bad-bytes':
      t.fail(a.statement, `${what}: the broker answered with bytes that are not a valid CONNACK: ${a.error ?? ''}`);
    case 'open':
      t.fail(t.version === 5 ? 'MQTT-3.1.4-2' : undefined, `${what}: no CONNACK and the connection is still open after ${t.timeoutMs} ms (${t.version === 5 ? 'MUST close' : '3.1.1 §3.1.4: MUST close'})`);
    case 'closed':
      if (t.version === 4) t.finding(`${what}: connection closed without a CONNACK; 3.1.1 §3.1.4 says the server SHOULD send CONNACK ${wanted} first`);
      return;
    case 'connack': {
      const c = a.connack!;
      t.check(c.reasonCode !== 0, undefined, `${what} was accepted (CONNACK 0x00), though the profile says anonymous: false / the broker checks credentials`);
      t.check(!c.sessionPresent, t.version === 5 ? 'MQTT-3.2.2-6' : 'MQTT-3.2.2-4', `${describe(c)}: Session Present 1 with a refusal`);
      await t.expectClosed(a.client!, t.version === 5 ? 'MQTT-3.2.2-7' : 'MQTT-3.2.2-5');
      if (!want.includes(c.reasonCode)) {
        t.finding(`${what}: refused with CONNACK ${hex(c.reasonCode)}${t.version === 5 ? ` ${reasonCodeName(c.reasonCode, 'connack')}` : ''} where ${wanted} fits`);
      }
    }
  }
}

function baseConnect(t: ConformanceContext, label: string) {
  return { clean: true, keepAlive: 0, clientId: t.clientId(label) };
}

function knownUser(t: ConformanceContext): { username: string; password: string } {
  const c = roleCredentials(t.target, 'default');
  if (c?.username === undefined || c.password === undefined) t.skip(`profile '${t.profile.name}' gives the default role no user name and password`);
  return { username: c.username, password: c.password };
}

conformance('authentication (§5.4.1): an unknown user name is refused', { ...REFUSED, requires: ['auth'] }, async (t) => {
  const a = await attemptConnect(t, 'unknown', tcpUrl(t), undefined, { ...baseConnect(t, 'unknown'), username: `mtb-nobody-${t.id}`, password: Buffer.from('not-a-password') });
  await expectRefused(t, a, 'CONNECT with an unknown user name', BAD_CREDENTIALS);
});

conformance("authentication (§5.4.1): a known user name with a wrong password is refused", { ...REFUSED, requires: ['auth'] }, async (t) => {
  const { username, password } = knownUser(t);
  const a = await attemptConnect(t, 'wrongpw', tcpUrl(t), undefined, { ...baseConnect(t, 'wrongpw'), username, password: Buffer.from(`${password}-wrong`) });
  await expectRefused(t, a, `CONNECT as ${username} with a wrong password`, BAD_CREDENTIALS);
});

conformance('authentication (§5.4.1): a known user name with an empty password is refused', { ...REFUSED, requires: ['auth'] }, async (t) => {
  const { username } = knownUser(t);
  const a = await attemptConnect(t, 'emptypw', tcpUrl(t), undefined, { ...baseConnect(t, 'emptypw'), username, password: Buffer.alloc(0) });
  await expectRefused(t, a, `CONNECT as ${username} with an empty password`, BAD_CREDENTIALS);
});

conformance('authentication (§5.4.1): a CONNECT without user name or password is refused when the profile says anonymous: false', { ...REFUSED, requires: ['auth'] }, async (t) => {
  const a = await attemptConnect(t, 'anon', tcpUrl(t), undefined, baseConnect(t, 'anon'));
  // Neither version names the code for "no credentials": Not authorized and Bad User Name or Password both fit.
  await expectRefused(t, a, 'CONNECT without credentials', { v4: [0x05, 0x04], v5: [0x87, 0x86] });
});

conformance('a PUBLISH sent right behind a CONNECT that is refused is not processed', { v4: ['MQTT-3.1.4-5'], v5: ['MQTT-3.1.4-6'], requires: ['auth'] }, async (t) => {
  const topic = t.topic('after-refusal');
  const watcher = await t.subscriber('watch', topic, { qos: 0 });
  const raw = await RawClient.open(tcpUrl(t), { version: t.version, label: 'refused', recorder: t.recorder, timeoutMs: t.timeoutMs });
  t.onCleanup(() => raw.destroy());
  const payload = Buffer.from(`sent after a refused CONNECT ${t.id}`);
  raw.sendBytes(Buffer.concat([
    encode({ type: 'connect', protocolVersion: t.version, ...baseConnect(t, 'refused'), username: `mtb-nobody-${t.id}`, password: Buffer.from('x') }, t.version),
    encode({ type: 'publish', topic, payload, qos: 0, retain: false, dup: false }, t.version),
  ]), 'CONNECT (unknown user) and PUBLISH in one write');
  const connack = await raw.expect('connack').catch((e: unknown) => {
    if (e instanceof WaitError && e.failure !== 'timeout') return undefined; // closed without CONNACK: refused
    throw e;
  });
  t.check(connack?.reasonCode !== 0, undefined, `CONNECT with an unknown user name was accepted (${connack ? describe(connack) : ''}): cannot check what follows a refusal`);
  try {
    await watcher.expectNothing(SILENCE_MS, (p) => p.type === 'publish' && p.payload.equals(payload), 'the PUBLISH that followed the refused CONNECT');
  } catch (e) {
    if (!(e instanceof WaitError)) throw e;
    t.fail(t.statements[0], `the PUBLISH sent after a refused CONNECT was processed and delivered: ${e.message}`);
  }
});

// ---------------------------------------------------------------- ACL claims, both ways

/** A unique payload per test and purpose, so concurrent tests on the same claimed topic do not mix. */
function payloadOf(t: ConformanceContext, what: string): Buffer {
  return Buffer.from(`mqtt-testbed ${t.id} ${what}`);
}

/** Roles with a client id the profile binds: two connections of one such role would take each other over. */
function fixedIdRoles(t: ConformanceContext): string[] {
  return Object.entries(t.profile.credentials ?? {}).filter(([, c]) => c.clientId !== undefined).map(([r]) => r);
}

function avoidFor(t: ConformanceContext, role: string): string[] {
  return fixedIdRoles(t).includes(role) ? [role] : [];
}

async function expectNoDelivery(t: ConformanceContext, watcher: RawClient, payload: Buffer, who: string): Promise<void> {
  try {
    await watcher.expectNothing(SILENCE_MS, (p) => p.type === 'publish' && p.payload.equals(payload), 'the denied message');
  } catch (e) {
    if (!(e instanceof WaitError)) throw e;
    t.fail(undefined, `${who}: the message reached a subscriber: ${e.message}`);
  }
}

/** The answer to a PUBLISH the ACL denies (QoS 1 or 2). */
async function checkDeniedAck(t: ConformanceContext, pub: RawClient, qos: 1 | 2, packetId: number, who: string): Promise<void> {
  const type = qos === 1 ? 'puback' : 'pubrec';
  const table = qos === 1 ? 'MQTT-3.4.2-1' : 'MQTT-3.5.2-1';
  let ack;
  try {
    ack = await pub.expect(type, { where: (p) => p.packetId === packetId });
  } catch (e) {
    if (!(e instanceof WaitError)) throw e;
    if (e.failure === 'closed') {
      // 3.1.1 MQTT-3.3.5-2 allows closing; so does 5.0 (DISCONNECT 0x87 Not authorized, or none).
      const d = pub.received.find((p) => p.type === 'disconnect');
      if (t.version === 5 && d?.type === 'disconnect' && d.reasonCode !== 0x87) t.finding(`${who}: connection closed with DISCONNECT ${hex(d.reasonCode ?? 0)} where 0x87 Not authorized fits`);
      return;
    }
    if (e.failure === 'bad-bytes') t.fail(t.version === 5 ? table : pub.badBytes?.statement, `${who}: ${e.message}`);
    t.fail(t.version === 5 ? 'MQTT-3.3.4-1' : 'MQTT-3.3.5-2', `${who}: neither ${type.toUpperCase()} nor a closed connection within ${t.timeoutMs} ms`);
  }
  const code = ack.reasonCode ?? 0;
  if (t.version === 5 && code < 0x80) t.finding(`${who}: acknowledged with ${type.toUpperCase()} ${hex(code)} ${reasonCodeName(code, type)}; 5.0 lets the server tell the client 0x87 Not authorized`);
  if (t.version === 5 && code >= 0x80 && code !== 0x87) t.finding(`${who}: refused with ${type.toUpperCase()} ${hex(code)} ${reasonCodeName(code, type)} where 0x87 Not authorized fits`);
  if (qos === 2 && code < 0x80) {
    // A positive PUBREC: the flow goes on by the normal QoS 2 rules (3.1.1 MQTT-3.3.5-2; 5.0 MQTT-4.3.3-11).
    pub.send({ type: 'pubrel', packetId });
    await expectPacket(t, pub, 'pubcomp', t.version === 5 ? undefined : 'MQTT-3.3.5-2', { where: (p) => p.packetId === packetId, what: 'PUBCOMP (MQTT-4.3.3-11)' });
  }
}

function claimTitle(c: AclClaim): string {
  return `role '${c.role}' ${c.action === 'publish' ? 'publishing to' : 'subscribing to'} ${c.topic}`;
}

function registerDenyPublish(claim: AclClaim, serial: boolean): void {
  conformance(`ACL (§5.4.2): ${claimTitle(claim)} at QoS 0 reaches no subscriber (claim: deny)`, { v4: [], v5: [], requires: ['acl'], serial }, async (t) => {
    const watch = await watcherFor(t, claim.topic, avoidFor(t, claim.role));
    if (!watch) return t.skip(`no role of profile '${t.profile.name}' may subscribe to ${claim.topic}: delivery cannot be observed`);
    const { client: pub } = await connectAs(t, 'pub', claim.role);
    const payload = payloadOf(t, 'denied qos0');
    pub.send({ type: 'publish', topic: claim.topic, payload, qos: 0, retain: false, dup: false });
    await expectNoDelivery(t, watch.client, payload, `${claimTitle(claim)} (denied) at QoS 0, watched by role '${watch.role}'`);
  });
  for (const qos of [1, 2] as const) {
    const v5 = ['MQTT-3.3.4-1', qos === 1 ? 'MQTT-3.4.2-1' : 'MQTT-3.5.2-1'];
    conformance(`ACL (§5.4.2): ${claimTitle(claim)} at QoS ${qos} is refused as the spec allows and reaches no subscriber (claim: deny)`, { v4: ['MQTT-3.3.5-2'], v5, requires: ['acl', ...(qos === 2 ? ['qos2' as const] : [])], serial }, async (t) => {
      const watch = await watcherFor(t, claim.topic, avoidFor(t, claim.role));
      const { client: pub } = await connectAs(t, 'pub', claim.role);
      const payload = payloadOf(t, `denied qos${qos}`);
      const who = `${claimTitle(claim)} (denied) at QoS ${qos}`;
      pub.send({ type: 'publish', topic: claim.topic, payload, qos, retain: false, dup: false, packetId: pid(qos, 7) });
      await checkDeniedAck(t, pub, qos, 7, who);
      if (!watch) {
        t.finding(`no role of profile '${t.profile.name}' may subscribe to ${claim.topic}: whether the denied message is delivered was not observed`);
        return;
      }
      await expectNoDelivery(t, watch.client, payload, `${who}, watched by role '${watch.role}'`);
    });
  }
}

function registerAllowPublish(claim: AclClaim, serial: boolean): void {
  conformance(`ACL (§5.4.2): ${claimTitle(claim)} is acknowledged and reaches a subscriber (claim: allow)`, { v4: [], v5: [], requires: ['acl'], serial }, async (t) => {
    const watch = await watcherFor(t, claim.topic, avoidFor(t, claim.role));
    if (!watch) return t.skip(`no role of profile '${t.profile.name}' may subscribe to ${claim.topic}: delivery cannot be observed`);
    const { client: pub } = await connectAs(t, 'pub', claim.role);
    const payload = payloadOf(t, 'allowed');
    pub.send({ type: 'publish', topic: claim.topic, payload, qos: 1, retain: false, dup: false, packetId: 7 });
    const ack = await expectPacket(t, pub, 'puback', undefined, { where: (p) => p.packetId === 7 });
    t.check((ack.reasonCode ?? 0) < 0x80, undefined, `${claimTitle(claim)} (allowed) was refused: ${describe(ack)}`);
    try {
      await watch.client.expect('publish', { where: (p) => p.payload.equals(payload) });
    } catch (e) {
      if (!(e instanceof WaitError)) throw e;
      t.fail(undefined, `${claimTitle(claim)} (allowed) did not reach role '${watch.role}' subscribed to it: ${e.message}`);
    }
  });
}

/** An allowed publisher for messages matching `filter`: an allow-publish claim, else any role whose message a watcher sees. */
function sourceFor(t: ConformanceContext, filter: string): AclClaim | undefined {
  return claimsOf(t, 'publish', 'allow').find((c) => topicMatches(filter, c.topic));
}

/** A claimed filter with wildcards can only be tried on a broker that takes wildcard subscriptions. */
function subscribeNeeds(claim: AclClaim): Capability[] {
  return /[+#]/.test(claim.topic) ? ['acl', 'wildcards'] : ['acl'];
}

function registerAllowSubscribe(claim: AclClaim, serial: boolean): void {
  conformance(`ACL (§5.4.2): ${claimTitle(claim)} is granted and delivers (claim: allow)`, { v4: ['MQTT-3.8.4-1'], v5: ['MQTT-3.8.4-1'], requires: subscribeNeeds(claim), serial }, async (t) => {
    const { client: sub } = await connectAs(t, 'sub', claim.role);
    sub.send({ type: 'subscribe', packetId: 3, subscriptions: [{ topicFilter: claim.topic, qos: 1 }] });
    const ack = await expectPacket(t, sub, 'suback', 'MQTT-3.8.4-1', { where: (p) => p.packetId === 3 });
    t.check((ack.reasonCodes[0] ?? 0x80) < 0x80, undefined, `${claimTitle(claim)} (allowed) was refused: ${describe(ack)}`);
    const source = sourceFor(t, claim.topic);
    if (!source) return; // no claim says who may publish there: granted is all we can check
    const { client: pub } = await connectAs(t, 'pub', source.role);
    const payload = payloadOf(t, 'through an allowed subscription');
    pub.send({ type: 'publish', topic: source.topic, payload, qos: 1, retain: false, dup: false, packetId: 9 });
    try {
      await sub.expect('publish', { where: (p) => p.payload.equals(payload) });
    } catch (e) {
      if (!(e instanceof WaitError)) throw e;
      t.fail(undefined, `role '${source.role}' published to ${source.topic} (allowed), but the granted subscription ${claim.topic} of role '${claim.role}' did not deliver it: ${e.message}`);
    }
  });
}

function registerDenySubscribe(claim: AclClaim, serial: boolean): void {
  conformance(`ACL (§5.4.2): ${claimTitle(claim)} is refused in SUBACK (claim: deny)`, { v4: ['MQTT-3.8.4-1', 'MQTT-3.9.3-2'], v5: ['MQTT-3.8.4-1', 'MQTT-3.9.3-2'], requires: subscribeNeeds(claim), serial }, async (t) => {
    const { client: sub } = await connectAs(t, 'sub', claim.role);
    sub.send({ type: 'subscribe', packetId: 3, subscriptions: [{ topicFilter: claim.topic, qos: 1 }] });
    const ack = await expectPacket(t, sub, 'suback', 'MQTT-3.8.4-1', { where: (p) => p.packetId === 3 });
    const code = ack.reasonCodes[0] ?? 0;
    // Granting is no spec violation (nothing requires an ACL to act at SUBSCRIBE time), but it is not what the profile claims.
    // Granting is no spec violation (nothing requires an ACL to act at SUBSCRIBE time, and the
    // 'receives nothing' test checks the claim itself), so a grant is reported, not failed.
    if (code < 0x80) t.finding(`${claimTitle(claim)} (denied) was granted: ${describe(ack)}; the broker may still filter on delivery (see the 'receives nothing' test)`);
    else if (t.version === 5 && code !== 0x87) t.finding(`${claimTitle(claim)} (denied) refused with SUBACK ${hex(code)} ${reasonCodeName(code, 'suback')} where 0x87 Not authorized fits`);
  });

  conformance(`ACL (§5.4.2): ${claimTitle(claim)} receives nothing through that filter, whatever the SUBACK said (claim: deny)`, { v4: [], v5: [], requires: subscribeNeeds(claim), serial }, async (t) => {
    const { client: sub } = await connectAs(t, 'sub', claim.role);
    sub.send({ type: 'subscribe', packetId: 3, subscriptions: [{ topicFilter: claim.topic, qos: 1 }] });
    const ack = await expectPacket(t, sub, 'suback', undefined, { where: (p) => p.packetId === 3 });
    // Publish a matching message that a watcher does receive, so the silence means something.
    const source = sourceFor(t, claim.topic);
    const topic = source?.topic ?? topicFor(claim.topic, `mtb${t.id}`);
    const watch = await watcherFor(t, topic, [claim.role]);
    if (!watch) return t.skip(`no other role of profile '${t.profile.name}' may subscribe to ${topic}: delivery cannot be observed`);
    const publishers = source ? [source.role] : roles(t);
    let seen = false;
    for (const [i, role] of publishers.entries()) {
      const { client: pub } = await connectAs(t, `pub${i}`, role);
      const payload = payloadOf(t, `matching a denied filter ${i}`);
      pub.send({ type: 'publish', topic, payload, qos: 1 as QoS, retain: false, dup: false, packetId: 9 });
      seen = await watch.client.expect('publish', { where: (p) => p.payload.equals(payload), timeoutMs: Math.min(t.timeoutMs, 1500) }).then(() => true, () => false);
      if (seen) break;
    }
    if (!seen) return t.skip(`no role's message on ${topic} reached a watcher: there is nothing the denied subscription could leak`);
    try {
      await sub.expectNothing(SILENCE_MS, (p) => p.type === 'publish', 'messages through a denied subscription');
    } catch (e) {
      if (!(e instanceof WaitError)) throw e;
      t.fail(undefined, `${claimTitle(claim)} (denied, ${describe(ack)}): a message arrived through it: ${e.message}`);
    }
  });
}

// Tests are registered per claim: the profile is needed now, before the tests run.
const target = await suiteTarget();
const claims = target.profile.acl ?? [];
const serialAcl = Object.values(target.profile.credentials ?? {}).some((c) => c.clientId !== undefined);
if (claims.length === 0) {
  conformance('ACL (§5.4.2): every claim of the profile holds both ways', { v4: [], v5: [], requires: ['acl'] }, async () => {});
}
for (const claim of claims) {
  if (claim.action === 'publish' && claim.expect === 'deny') registerDenyPublish(claim, serialAcl);
  if (claim.action === 'publish' && claim.expect === 'allow') registerAllowPublish(claim, serialAcl);
  if (claim.action === 'subscribe' && claim.expect === 'allow') registerAllowSubscribe(claim, serialAcl);
  if (claim.action === 'subscribe' && claim.expect === 'deny') registerDenySubscribe(claim, serialAcl);
}

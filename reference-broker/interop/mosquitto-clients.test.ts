/**
 * Debian's mosquitto_pub / mosquitto_sub (libmosquitto) against the reference
 * broker, MQTT 3.1.1 and 5.0: QoS 0/1/2 delivery, retained messages, Wills,
 * TLS, mutual TLS and username/password.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { generateDevCerts, readTlsMaterial, startBroker, type AuthenticateRequest, type DevCertFiles, type ListenerKind, type RunningBroker } from '../index.js';
import { describeResult, describeWithTools, useChildProcesses, type ChildResult } from './external-tools.js';
import { BrokerWatch, uniqueClientId, uniqueTopic } from './support.js';

const VERSIONS = ['mqttv311', 'mqttv5'] as const;
type Version = (typeof VERSIONS)[number];

const USER = 'alice';
const PASSWORD = 'correct horse battery staple';
const CLIENT_CN = 'alice-device';

function port(rb: RunningBroker, kind: ListenerKind): number {
  const l = rb.listeners.find((x) => x.kind === kind);
  if (!l) throw new Error(`no ${kind} listener`);
  return l.port;
}

function lines(r: ChildResult): string[] {
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

describeWithTools(['mosquitto_pub', 'mosquitto_sub', 'openssl'], 'mosquitto clients ↔ reference broker', (tools) => {
  const procs = useChildProcesses(10_000);
  const watch = new BrokerWatch();
  let dir: string;
  let certs: DevCertFiles;
  /** TCP + TLS (server certificate only), no authentication. */
  let open: RunningBroker;
  /** TLS that requires a client certificate from the dev CA. */
  let mtls: RunningBroker;
  /** TCP with a username/password check. */
  let auth: RunningBroker;
  const certLogins: AuthenticateRequest[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqtt-interop-mosquitto-'));
    certs = generateDevCerts(join(dir, 'certs'), { clients: [CLIENT_CN] });
    open = await startBroker({ tcp: { port: 0 }, tls: { port: 0, ...readTlsMaterial(certs) }, hooks: watch.hooks() });
    mtls = await startBroker({
      tcp: false,
      tls: { port: 0, ...readTlsMaterial(certs, true) },
      hooks: watch.hooks({
        authenticate: (req) => {
          certLogins.push(req);
          return req.certificate?.authorized ? { ok: true, username: req.certificate.subjectCN } : { ok: false, reason: 'not-authorized' };
        },
      }),
    });
    // A small inline check; the password-file implementation lives in reference-broker/auth.
    auth = await startBroker({
      tcp: { port: 0 },
      hooks: watch.hooks({
        authenticate: (req) => {
          if (req.username === undefined) return { ok: false, reason: 'not-authorized', message: 'a username is required' };
          return req.username === USER && req.password?.toString('utf8') === PASSWORD
            ? { ok: true }
            : { ok: false, reason: 'bad-credentials' };
        },
      }),
    });
  });

  afterAll(async () => {
    await Promise.all([open?.close(), mtls?.close(), auth?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const v of VERSIONS) {
    const tag = v === 'mqttv5' ? 'v5' : 'v311';
    /** Connection arguments for the plain TCP listener of `rb`. */
    const tcpArgs = (rb: RunningBroker): string[] => ['-h', '127.0.0.1', '-p', String(port(rb, 'tcp')), '-V', v];
    const tlsArgs = (rb: RunningBroker): string[] => ['-h', '127.0.0.1', '-p', String(port(rb, 'tls')), '-V', v, '--cafile', certs.caCert];
    const clientCertArgs = (): string[] => ['--cert', certs.clients[CLIENT_CN]!.cert, '--key', certs.clients[CLIENT_CN]!.key];

    /**
     * Starts mosquitto_sub on `topic` and resolves once the broker has this
     * client's subscription (matched by its own ClientID: an earlier
     * subscriber to the same topic must not count).
     */
    async function subscriber(conn: string[], topic: string, args: string[], clientId = uniqueClientId(`mosq-sub-${tag}`)) {
      const sub = procs.spawn(tools.mosquitto_sub, [...conn, '-i', clientId, '-t', topic, ...args]);
      await Promise.race([
        watch.waitForSubscribe(topic, { clientId }),
        sub.exited.then((r) => { throw new Error(`mosquitto_sub ended before subscribing\n${describeResult(r)}`); }),
      ]);
      return sub;
    }

    async function publish(conn: string[], topic: string, args: string[], stdin?: string): Promise<ChildResult> {
      return procs.run(tools.mosquitto_pub, [...conn, '-t', topic, ...args], stdin !== undefined ? { stdin } : {});
    }

    async function expectOk(p: Promise<ChildResult>): Promise<ChildResult> {
      const r = await p;
      expect(r.code, describeResult(r)).toBe(0);
      return r;
    }

    for (const qos of [0, 1, 2] as const) {
      test(`${tag}: QoS ${qos} mosquitto_pub → mosquitto_sub (-C 3 -v), in order`, async () => {
        const topic = uniqueTopic(`mosq-${tag}-qos${qos}`);
        const sub = await subscriber(tcpArgs(open), topic, ['-q', String(qos), '-C', '3', '-v']);
        await expectOk(publish(tcpArgs(open), topic, ['-q', String(qos), '-l'], 'one\ntwo\nthree\n'));
        const r = await expectOk(sub.exited);
        expect(lines(r)).toEqual([`${topic} one`, `${topic} two`, `${topic} three`]);
      });
    }

    test(`${tag}: delivered at min(publish QoS, granted QoS) (-F %q)`, async () => {
      const topic = uniqueTopic(`mosq-${tag}-downgrade`);
      const sub = await subscriber(tcpArgs(open), topic, ['-q', '1', '-C', '3', '-F', '%q %p']);
      for (const qos of [0, 1, 2]) await expectOk(publish(tcpArgs(open), topic, ['-q', String(qos), '-m', `sent-at-${qos}`]));
      const r = await expectOk(sub.exited);
      expect(lines(r)).toEqual(['0 sent-at-0', '1 sent-at-1', '1 sent-at-2']);
    });

    test(`${tag}: 64 KiB binary payload from a file (-f) arrives intact at QoS 2 (-F %x)`, async () => {
      const topic = uniqueTopic(`mosq-${tag}-binary`);
      const payload = randomBytes(64 * 1024);
      const file = join(dir, `${tag}-payload.bin`);
      writeFileSync(file, payload);
      const sub = await subscriber(tcpArgs(open), topic, ['-q', '2', '-C', '1', '-F', '%x']);
      await expectOk(publish(tcpArgs(open), topic, ['-q', '2', '-f', file]));
      const r = await expectOk(sub.exited);
      expect(r.stdout.trim()).toBe(payload.toString('hex'));
    });

    test(`${tag}: retained message reaches a later subscriber, and -r -n clears it`, async () => {
      const topic = uniqueTopic(`mosq-${tag}-retained`);
      await expectOk(publish(tcpArgs(open), topic, ['-q', '1', '-r', '-m', 'kept']));
      // A subscriber that arrives afterwards gets it, with RETAIN set (-F %r).
      const late = await expectOk(procs.run(tools.mosquitto_sub, [...tcpArgs(open), '-t', topic, '-q', '1', '-C', '1', '-F', '%r %t %p']));
      expect(lines(late)).toEqual([`1 ${topic} kept`]);
      // A zero-length retained message deletes it [MQTT-3.3.1-10 / 3.1.1 MQTT-3.3.1-10].
      await expectOk(publish(tcpArgs(open), topic, ['-q', '1', '-r', '-n']));
      // The next subscriber's first message is then a live one, not the old retained one.
      const sub = await subscriber(tcpArgs(open), topic, ['-q', '1', '-C', '1', '-F', '%r %t %p']);
      await expectOk(publish(tcpArgs(open), topic, ['-q', '1', '-m', 'live']));
      const r = await expectOk(sub.exited);
      expect(lines(r)).toEqual([`0 ${topic} live`]);
    });

    test(`${tag}: Will of a mosquitto_sub killed with SIGKILL reaches another subscriber`, async () => {
      const willTopic = uniqueTopic(`mosq-${tag}-will`);
      const watcher = await subscriber(tcpArgs(open), willTopic, ['-q', '1', '-C', '1', '-v']);
      const busyTopic = uniqueTopic(`mosq-${tag}-will-holder`);
      const doomed = await subscriber(tcpArgs(open), busyTopic, [
        '--will-topic', willTopic, '--will-payload', 'client vanished', '--will-qos', '1',
      ], uniqueClientId('doomed'));
      doomed.kill('SIGKILL');
      expect((await doomed.exited).signal).toBe('SIGKILL');
      const r = await expectOk(watcher.exited);
      expect(lines(r)).toEqual([`${willTopic} client vanished`]);
    });

    test(`${tag}: a clean disconnect sends no Will`, async () => {
      const willTopic = uniqueTopic(`mosq-${tag}-nowill`);
      // The watcher exits on its first message: the publisher's Will would come first if it were sent.
      const watcher = await subscriber(tcpArgs(open), willTopic, ['-q', '1', '-C', '1', '-v']);
      await expectOk(publish(tcpArgs(open), uniqueTopic('elsewhere'), ['-q', '1', '-m', 'x', '--will-topic', willTopic, '--will-payload', 'should not appear']));
      await expectOk(publish(tcpArgs(open), willTopic, ['-q', '1', '-m', 'marker']));
      const r = await expectOk(watcher.exited);
      expect(lines(r)).toEqual([`${willTopic} marker`]);
    });

    test(`${tag}: TLS with --cafile`, async () => {
      const topic = uniqueTopic(`mosq-${tag}-tls`);
      const sub = await subscriber(tlsArgs(open), topic, ['-q', '1', '-C', '1', '-v']);
      await expectOk(publish(tlsArgs(open), topic, ['-q', '1', '-m', 'over tls']));
      expect(lines(await expectOk(sub.exited))).toEqual([`${topic} over tls`]);
      // A client that trusts another CA refuses our server certificate.
      const rogueCa = join(certs.dir, 'rogue-ca.crt');
      const r = await publish(['-h', '127.0.0.1', '-p', String(port(open, 'tls')), '-V', v, '--cafile', rogueCa], topic, ['-m', 'x']);
      expect(r.code, describeResult(r)).not.toBe(0);
    });

    test(`${tag}: mutual TLS with --cert/--key; no or a foreign certificate is refused`, async () => {
      const topic = uniqueTopic(`mosq-${tag}-mtls`);
      const before = certLogins.length;
      const sub = await subscriber([...tlsArgs(mtls), ...clientCertArgs()], topic, ['-q', '2', '-C', '1', '-v']);
      await expectOk(publish([...tlsArgs(mtls), ...clientCertArgs()], topic, ['-q', '2', '-m', 'mutual']));
      expect(lines(await expectOk(sub.exited))).toEqual([`${topic} mutual`]);
      const logins = certLogins.slice(before);
      expect(logins).toHaveLength(2);
      for (const l of logins) expect(l.certificate).toMatchObject({ authorized: true, subjectCN: CLIENT_CN });

      const none = await publish(tlsArgs(mtls), topic, ['-m', 'x']);
      expect(none.code, describeResult(none)).not.toBe(0);
      const rogue = await publish([...tlsArgs(mtls), '--cert', certs.rogueClient.cert, '--key', certs.rogueClient.key], topic, ['-m', 'x']);
      expect(rogue.code, describeResult(rogue)).not.toBe(0);
      expect(certLogins.length - before).toBe(2); // neither reached CONNECT
    });

    test(`${tag}: username/password; a wrong password or none is refused`, async () => {
      const topic = uniqueTopic(`mosq-${tag}-auth`);
      const creds = ['-u', USER, '-P', PASSWORD];
      const sub = await subscriber([...tcpArgs(auth), ...creds], topic, ['-q', '1', '-C', '1', '-v']);
      await expectOk(publish([...tcpArgs(auth), ...creds], topic, ['-q', '1', '-m', 'authenticated']));
      expect(lines(await expectOk(sub.exited))).toEqual([`${topic} authenticated`]);

      const wrong = await publish([...tcpArgs(auth), '-u', USER, '-P', 'wrong'], topic, ['-q', '1', '-m', 'x']);
      expect(wrong.code, describeResult(wrong)).not.toBe(0);
      expect(wrong.stderr).toMatch(/refused|not authori[sz]ed|bad user name or password/i);
      const anonymous = await publish(tcpArgs(auth), topic, ['-q', '1', '-m', 'x']);
      expect(anonymous.code, describeResult(anonymous)).not.toBe(0);
      expect(anonymous.stderr).toMatch(/refused|not authori[sz]ed/i);
    });
  }
});

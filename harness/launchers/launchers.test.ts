/**
 * The process launchers start their broker, which accepts connections on
 * every listener its profile names, enforces what the profile claims, and
 * close() leaves no process and no temporary folder behind. Mosquitto tests
 * skip with the reason when /usr/sbin/mosquitto is absent (fail instead with
 * REQUIRE_EXTERNAL=1, as CI sets it).
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import type { ProtocolVersion } from '../../codec/index.js';
import { probeCapabilities } from '../probe.js';
import { RawClient } from '../raw-client.js';
import { roleCredentials, tlsOptions, type LaunchedTarget, type Target } from '../target.js';
import { launchAedes } from './aedes.js';
import { pidAlive } from './child-process.js';
import { launchMosquitto, mosquittoBinary, MOSQUITTO_INSTALL_HINT, mosquittoPasswordLine } from './mosquitto.js';

const launched: LaunchedTarget[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(launched.splice(0).map((l) => l.close()));
});

async function connect(target: Target, url: string, o: { version?: ProtocolVersion; role?: string; anonymous?: boolean; clientCert?: boolean } = {}) {
  const secure = /^(mqtts|wss):/.test(url);
  const client = await RawClient.open(url, {
    version: o.version ?? 4, label: 'c', timeoutMs: 3000,
    tls: secure ? tlsOptions(target, o.role ?? 'default', o.clientCert ?? true) : undefined,
  });
  clients.push(client);
  const cred = o.anonymous ? undefined : roleCredentials(target, o.role ?? 'default');
  const connack = await client.connect({
    clean: true, keepAlive: 30, clientId: `mtb-launch-${clients.length}`,
    ...(cred?.username !== undefined ? { username: cred.username } : {}),
    ...(cred?.password !== undefined ? { password: Buffer.from(cred.password) } : {}),
  });
  return { client, connack };
}

const haveMosquitto = existsSync(mosquittoBinary());
const requireExternal = process.env['REQUIRE_EXTERNAL'] === '1';
const skipMosquitto = !haveMosquitto && !requireExternal;
const mosquittoReason = `${mosquittoBinary()} not found: ${MOSQUITTO_INSTALL_HINT}`;

describe.skipIf(skipMosquitto)(`mosquitto launcher${skipMosquitto ? ` (skipped: ${mosquittoReason})` : ''}`, () => {
  test('the password line is what mosquitto_passwd writes ($7$, PBKDF2-SHA512, 101 rounds)', () => {
    const salt = Buffer.from('r4C9REERVOjvXx1W', 'base64');
    expect(mosquittoPasswordLine('tester', 'tester-secret', salt)).toBe(
      'tester:$7$101$r4C9REERVOjvXx1W$6vXdt7BCVZNVjZwJS3DVB5vUv8n2XMmZzGIAReGBN5MQv0RSeIGXEH+qs5oKITASYQIkyIbM5aSq1bajNBexyg==');
  });

  test('plain: TCP and WebSocket accept anonymous 3.1.1 and 5.0 clients; close() leaves nothing behind', async () => {
    if (!haveMosquitto) throw new Error(`${mosquittoReason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    const l = await launchMosquitto({ variant: 'plain' });
    launched.push(l);
    const t = l.target;
    expect(t.profile).toMatchObject({ name: 'mosquitto-plain', anonymous: true, protocolVersions: ['3.1.1', '5.0'] });
    expect(t.profile.listeners?.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    expect(l.config).toMatch(/protocol websockets/);
    expect((await connect(t, t.url)).connack.reasonCode).toBe(0);
    expect((await connect(t, t.url, { version: 5 })).connack.reasonCode).toBe(0);
    expect((await connect(t, t.profile.listeners!.ws!)).connack.reasonCode).toBe(0);
    expect(pidAlive(l.pid)).toBe(true);
    await l.close();
    expect(pidAlive(l.pid)).toBe(false);
    expect(existsSync(l.dir)).toBe(false);
  });

  test('secure: passwords, ACL, mutual TLS and WSS as the profile claims', async () => {
    if (!haveMosquitto) throw new Error(`${mosquittoReason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    const l = await launchMosquitto({ variant: 'secure' });
    launched.push(l);
    const t = l.target;
    expect(t.profile).toMatchObject({ name: 'mosquitto-secure', anonymous: false, mutualTls: true });
    expect(t.profile.acl).toHaveLength(5);
    // anonymous refused (3.1.1 code 5 not authorized), wrong password refused, right password accepted
    expect((await connect(t, t.url, { anonymous: true })).connack.reasonCode).toBe(5);
    expect((await connect(t, t.url)).connack.reasonCode).toBe(0);
    const bad: Target = { ...t, profile: { ...t.profile, credentials: { default: { username: 'tester', password: 'wrong' } } } };
    expect([4, 5], 'bad user name or password (Mosquitto 2.0 answers 5, not authorized)').toContain((await connect(bad, t.url)).connack.reasonCode);
    // mutual TLS: the certificate CN is the user name (no password needed); no certificate, no handshake
    const certOnly: Target = { ...t, profile: { ...t.profile, credentials: { default: { cert: t.profile.credentials!['sensor']!.cert!, key: t.profile.credentials!['sensor']!.key! } } } };
    const tls = t.profile.listeners!.tls!;
    const { client: sensor, connack } = await connect(certOnly, tls, { version: 5 });
    expect(connack.reasonCode).toBe(0);
    await expect(connect(t, tls, { clientCert: false })).rejects.toThrow();
    // ACL: the sensor reads sensors/#, never device/# (Mosquitto 2.0 grants the SUBSCRIBE and withholds the messages)
    sensor.send({ type: 'subscribe', packetId: 1, subscriptions: [{ topicFilter: 'sensors/#', qos: 1 }, { topicFilter: 'device/firmware/#', qos: 1 }] });
    const ack = await sensor.expect('suback');
    expect(ack.reasonCodes[0]).toBe(0x01);
    const { client: admin } = await connect(t, t.url, { role: 'admin' });
    admin.send({ type: 'publish', topic: 'device/firmware/update', payload: Buffer.from('fw'), qos: 1, retain: false, dup: false, packetId: 1 });
    await admin.expect('puback');
    admin.send({ type: 'publish', topic: 'sensors/room1/temperature', payload: Buffer.from('21'), qos: 1, retain: false, dup: false, packetId: 2 });
    await admin.expect('puback');
    const got = await sensor.expect('publish');
    expect(got.topic, 'messages arrive in order: device/… first had it not been withheld').toBe('sensors/room1/temperature');
    // WSS with user name and password
    expect((await connect(t, t.profile.listeners!.wss!)).connack.reasonCode).toBe(0);
    await l.close();
    expect(pidAlive(l.pid)).toBe(false);
    expect(existsSync(l.dir)).toBe(false);
  });

  test('the probe fills what the launched profile leaves out', async () => {
    if (!haveMosquitto) throw new Error(`${mosquittoReason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    const l = await launchMosquitto({ variant: 'plain' });
    launched.push(l);
    const { profile, probed } = await probeCapabilities(l.target);
    expect(Object.keys(probed).sort()).toEqual(['limits.maxPacketSize', 'limits.receiveMaximum']);
    expect(profile.limits?.receiveMaximum).toBeGreaterThan(0);
    expect(probed['limits.maxPacketSize']!.value, 'Mosquitto announces no Maximum Packet Size by default').toBe('none announced');
    expect(profile.limits?.maxPacketSize).toBeUndefined();
  });
});

describe('aedes launcher', () => {
  test('TCP and WebSocket accept 3.1.1 clients, 5.0 is refused as the profile says; close() stops the process', async () => {
    const l = await launchAedes();
    launched.push(l);
    const t = l.target;
    expect(t.profile).toMatchObject({ name: 'aedes', protocolVersions: ['3.1.1'], sharedSubscriptions: false });
    expect(l.version).toMatch(/^1\./);
    expect((await connect(t, t.url)).connack.reasonCode).toBe(0);
    expect((await connect(t, t.profile.listeners!.ws!)).connack.reasonCode).toBe(0);
    // Aedes 1.x answers a level-5 CONNECT with a 3.1.1 CONNACK (return code 1) that a 5.0 decoder cannot read.
    await expect(connect(t, t.url, { version: 5 })).rejects.toThrow();
    expect(pidAlive(l.pid)).toBe(true);
    await l.close();
    expect(pidAlive(l.pid)).toBe(false);
  });
});

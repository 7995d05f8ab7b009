/**
 * End to end over real sockets with MQTT.js: password file, anonymous
 * access, the `sensor` ACL case on 3.1.1 and 5.0, and mutual TLS with the
 * certificate CN as user name feeding the ACL.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig, validateConfig } from '../config.js';
import { startBroker, type RunningBroker } from '../listeners/start.js';
import { generateDevCerts, type DevCertFiles } from '../tls/dev-certs.js';
import { hashPassword } from './password-file.js';

const WAIT_MS = 5000;
const FAST = { N: 1024, r: 8, p: 1 };

/** Rejects with a clear message if `p` does not settle within `ms`. */
function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function hasOpenssl(): boolean {
  try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

const ACL = `# the seed case: sensors publish under sensors/ only
user sensor
topic write sensors/#

user watcher
topic read #
`;

let dir: string;
let certs: DevCertFiles | undefined;
let plain: RunningBroker;
let mtls: RunningBroker | undefined;
const clients: MqttClient[] = [];
const uid = (): string => randomUUID().slice(0, 8);

async function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = await within(mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: WAIT_MS, clientId: `t-${uid()}`, ...opts }, false), `CONNACK from ${url}`);
  clients.push(c);
  return c;
}

/** The CONNACK refusal code of a connection attempt that must fail. */
async function refusal(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await connect(url, opts);
    throw new Error(`connected unexpectedly as ${String(opts.username)} (${c.options.clientId})`);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'number') throw e;
    return code;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mqtt-testbed-auth-e2e-'));
  writeFileSync(join(dir, 'passwd'), [
    `sensor:${await hashPassword('sensor-pw', FAST)}`,
    `watcher:${await hashPassword('watcher-pw', FAST)}`,
  ].join('\n') + '\n');
  writeFileSync(join(dir, 'acl'), ACL);
  const config = validateConfig({ listeners: { tcp: { port: 0 } }, passwordFile: 'passwd', aclFile: 'acl' }, { baseDir: dir });
  plain = await startBroker(loadConfig(config).options);

  if (hasOpenssl()) {
    certs = generateDevCerts(join(dir, 'certs'), { clients: ['sensor', 'watcher'] });
    const tlsConfig = validateConfig({
      listeners: { tls: { port: 0, key: certs.serverKey, cert: certs.serverCert, ca: certs.caCert, requireClientCert: true, useCertificateCN: true } },
      passwordFile: 'passwd', aclFile: 'acl',
    }, { baseDir: dir });
    mtls = await startBroker(loadConfig(tlsConfig).options);
  } else {
    console.warn('openssl not found: mutual TLS tests are skipped (Debian: apt-get install openssl)');
  }
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => within(c.endAsync(true), 'client close')));
});

afterAll(async () => {
  await plain?.close();
  await mtls?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('password file over TCP', () => {
  test('wrong password or unknown user: CONNACK 4 (3.1.1) / 0x86 (5.0)', async () => {
    const url = plain.url('tcp');
    expect(await refusal(url, { protocolVersion: 4, username: 'sensor', password: 'wrong' })).toBe(4);
    expect(await refusal(url, { protocolVersion: 5, username: 'sensor', password: 'wrong' })).toBe(0x86);
    expect(await refusal(url, { protocolVersion: 4, username: 'nobody', password: 'sensor-pw' })).toBe(4);
    expect(await refusal(url, { protocolVersion: 5, username: 'sensor', password: '' })).toBe(0x86);
  });

  test('anonymous refused when not allowed: CONNACK 5 (3.1.1) / 0x87 (5.0)', async () => {
    const url = plain.url('tcp');
    expect(await refusal(url, { protocolVersion: 4 })).toBe(5);
    expect(await refusal(url, { protocolVersion: 5 })).toBe(0x87);
  });

  test('right password connects', async () => {
    const c = await connect(plain.url('tcp'), { protocolVersion: 5, username: 'sensor', password: 'sensor-pw' });
    expect(c.connected).toBe(true);
  });
});

/**
 * Publishes the denied message and then an allowed sentinel from `sensor`;
 * the watcher, subscribed to both, must receive the sentinel and nothing
 * before it (the broker keeps the order of one publisher's messages).
 */
async function deniedNeverArrives(url: string, sensor: MqttClient, version: 4 | 5, deniedPublish: () => Promise<unknown>): Promise<void> {
  const topic = `sensors/${uid()}/temp`;
  const watcher = await connect(url, { protocolVersion: version, username: 'watcher', password: 'watcher-pw' });
  await within(watcher.subscribeAsync(['device/firmware/update', topic], { qos: 1 }), 'SUBACK');
  const received: string[] = [];
  const sentinel = within(new Promise<void>((resolve) => {
    watcher.on('message', (t) => {
      received.push(t);
      if (t === topic) resolve();
    });
  }), 'the sentinel message');
  await deniedPublish();
  await within(sensor.publishAsync(topic, 'ok', { qos: 1 }), 'PUBACK of the allowed publish');
  await sentinel;
  expect(received).toEqual([topic]);
}

describe('the sensor ACL case', () => {
  test('5.0: denied QoS 1 PUBLISH gets PUBACK 0x87 and is not delivered; denied SUBSCRIBE gets 0x87', async () => {
    const url = plain.url('tcp');
    const sensor = await connect(url, { protocolVersion: 5, username: 'sensor', password: 'sensor-pw' });
    await deniedNeverArrives(url, sensor, 5, async () => {
      const err = await within(sensor.publishAsync('device/firmware/update', 'evil', { qos: 1 }).then(() => undefined, (e: unknown) => e), 'PUBACK of the denied publish');
      expect(err).toMatchObject({ code: 0x87 });
    });
    const subErr = await within(sensor.subscribeAsync('device/#', { qos: 1 }).then(() => undefined, (e: unknown) => e), 'SUBACK');
    expect(subErr).toMatchObject({ packet: { cmd: 'suback', granted: [0x87] } });
  });

  test('3.1.1: denied QoS 1 PUBLISH gets a positive PUBACK but is not delivered; denied SUBSCRIBE gets 0x80', async () => {
    const url = plain.url('tcp');
    const sensor = await connect(url, { protocolVersion: 4, username: 'sensor', password: 'sensor-pw' });
    await deniedNeverArrives(url, sensor, 4, async () => {
      const acks: Packet[] = [];
      sensor.on('packetreceive', (p) => { if (p.cmd === 'puback') acks.push(p); });
      const sent = await within(sensor.publishAsync('device/firmware/update', 'evil', { qos: 1 }), 'PUBACK of the denied publish');
      expect(acks).toEqual([expect.objectContaining({ cmd: 'puback', messageId: sent?.messageId })]);
      expect((acks[0] as { reasonCode?: number }).reasonCode ?? 0).toBe(0);
    });
    const subErr = await within(sensor.subscribeAsync('device/#', { qos: 1 }).then(() => undefined, (e: unknown) => e), 'SUBACK');
    expect(subErr).toMatchObject({ packet: { cmd: 'suback', granted: [0x80] } });
  });
});

describe('mutual TLS, certificate CN as user name', () => {
  const tlsOpts = (cn: 'sensor' | 'watcher' | 'rogue'): IClientOptions => {
    const files = cn === 'rogue' ? certs!.rogueClient : certs!.clients[cn]!;
    return { ca: readFileSync(certs!.caCert), cert: readFileSync(files.cert), key: readFileSync(files.key), rejectUnauthorized: true };
  };

  test('CN "sensor" needs no password and gets the sensor ACL (5.0)', async (ctx) => {
    if (!mtls) { ctx.skip(); return; }
    const url = mtls.url('tls');
    // The CONNECT user name and password are ignored: the certificate decides.
    const sensor = await connect(url, { protocolVersion: 5, ...tlsOpts('sensor'), username: 'watcher', password: 'not-the-password' });
    await within(sensor.publishAsync(`sensors/${uid()}/x`, 'ok', { qos: 1 }), 'PUBACK');
    const err = await within(sensor.publishAsync('device/firmware/update', 'evil', { qos: 1 }).then(() => undefined, (e: unknown) => e), 'PUBACK');
    expect(err).toMatchObject({ code: 0x87 });
    const subErr = await within(sensor.subscribeAsync('#', { qos: 0 }).then(() => undefined, (e: unknown) => e), 'SUBACK');
    expect(subErr).toMatchObject({ packet: { cmd: 'suback', granted: [0x87] } });
  });

  test('CN-identified clients on 3.1.1: denied message never reaches the CN "watcher"', async (ctx) => {
    if (!mtls) { ctx.skip(); return; }
    const url = mtls.url('tls');
    const sensor = await connect(url, { protocolVersion: 4, ...tlsOpts('sensor') });
    const topic = `sensors/${uid()}/t`;
    const watcher = await connect(url, { protocolVersion: 4, ...tlsOpts('watcher') });
    await within(watcher.subscribeAsync(['device/firmware/update', topic], { qos: 1 }), 'SUBACK');
    const received: string[] = [];
    const sentinel = within(new Promise<void>((resolve) => watcher.on('message', (t) => { received.push(t); if (t === topic) resolve(); })), 'sentinel');
    await within(sensor.publishAsync('device/firmware/update', 'evil', { qos: 1 }), 'PUBACK');
    await within(sensor.publishAsync(topic, 'ok', { qos: 1 }), 'PUBACK');
    await sentinel;
    expect(received).toEqual([topic]);
  });

  test('a certificate from another CA, or none, does not get in', async (ctx) => {
    if (!mtls) { ctx.skip(); return; }
    const url = mtls.url('tls');
    await expect(connect(url, { protocolVersion: 5, ...tlsOpts('rogue') })).rejects.toThrow();
    await expect(connect(url, { protocolVersion: 5, ca: readFileSync(certs!.caCert), username: 'sensor', password: 'sensor-pw' })).rejects.toThrow();
  });
});

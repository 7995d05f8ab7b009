import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { Decoder, encode, type Packet } from '../codec/index.js';
import { startBroker, type BrokerOptions, type RunningBroker } from '../reference-broker/index.js';
import { launchReference } from './launchers/reference.js';
import { probeCapabilities, PROBE_FIELDS } from './probe.js';
import type { Profile } from './profile.js';
import type { Target } from './target.js';

const running: RunningBroker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function reference(opts: BrokerOptions = {}): Promise<string> {
  const r = await startBroker({ ...opts, tcp: { port: 0 } });
  running.push(r);
  return r.url('tcp');
}

const bare = (url: string, p: Partial<Profile> = {}): Target => ({
  url, profile: { name: 'probe-test', protocolVersions: ['3.1.1', '5.0'], ...p }, profileSource: 'test', baseDir: '/',
});

describe('probe against the reference broker', () => {
  test('fills every field a bare profile leaves out, and says how', async () => {
    const url = await reference();
    const t0 = Date.now();
    const { profile, probed } = await probeCapabilities(bare(url), { versions: true });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(profile).toMatchObject({
      protocolVersions: ['3.1.1', '5.0'], anonymous: true, maxQoS: 2, retain: true, wildcardSubscriptions: true,
      sharedSubscriptions: true, subscriptionIdentifiers: true, zeroLengthClientId: true, persistentSessions: true,
      limits: { maxPacketSize: 16 * 1024 * 1024, receiveMaximum: 65535, topicAliasMaximum: 1024, keepAlive: { max: 65535 } },
    });
    expect(Object.keys(probed)).toEqual([...PROBE_FIELDS]);
    for (const [k, v] of Object.entries(probed)) {
      expect(v.value, k).not.toBe('unknown');
      expect(v.how, k).toMatch(/\w{4,}/);
    }
    expect(probed['maxQoS']!.how).toBe('5.0 CONNACK has no Maximum QoS property (spec default 2)');
    expect(probed['zeroLengthClientId']!.how).toMatch(/Assigned Client Identifier/);
    expect(probed['persistentSessions']!.how).toMatch(/Session Present 1/);
  });

  test('reads limits the broker announces', async () => {
    const url = await reference({
      maxQoS: 1, retainAvailable: false, sharedSubscriptions: false, subscriptionIdentifiers: false, wildcardSubscriptions: false,
      maxPacketSize: 4096, receiveMaximum: 20, topicAliasMaximum: 0, maxKeepAlive: 30, allowZeroLengthClientId: false,
    });
    const { profile, probed } = await probeCapabilities(bare(url));
    expect(profile).toMatchObject({
      maxQoS: 1, retain: false, sharedSubscriptions: false, subscriptionIdentifiers: false, wildcardSubscriptions: false,
      zeroLengthClientId: false, limits: { maxPacketSize: 4096, receiveMaximum: 20, topicAliasMaximum: 0, keepAlive: { max: 30 } },
    });
    expect(probed['maxQoS']).toEqual({ value: 1, how: '5.0 CONNACK property Maximum QoS = 1' });
    expect(probed['limits.keepAlive.max']!.how).toBe('5.0 CONNECT with Keep Alive 65535 got Server Keep Alive 30');
    expect(probed['zeroLengthClientId']!.how).toMatch(/refused: CONNACK 0x85/);
    expect(probed['protocolVersions'], 'versions are only probed when asked').toBeUndefined();
  });

  test('only what the profile leaves out is probed', async () => {
    const url = await reference({ maxQoS: 1 });
    const stated: Partial<Profile> = {
      maxQoS: 2, retain: true, wildcardSubscriptions: true, sharedSubscriptions: true, subscriptionIdentifiers: true,
      zeroLengthClientId: true, persistentSessions: true, anonymous: true,
      limits: { maxPacketSize: 1000, receiveMaximum: 10, topicAliasMaximum: 5, keepAlive: { max: 60 } },
    };
    const { profile, probed } = await probeCapabilities(bare(url, stated));
    expect(probed).toEqual({});
    expect(profile.maxQoS, 'the profile wins, even when it is wrong').toBe(2);
  });

  test('3.1.1 only: QoS 2 SUBSCRIBE, retained round trip and wildcard SUBSCRIBE instead of the CONNACK', async () => {
    const url = await reference({ maxQoS: 1, retainAvailable: true });
    const { profile, probed } = await probeCapabilities(bare(url, { protocolVersions: ['3.1.1'] }));
    expect(profile).toMatchObject({ maxQoS: 1, retain: true, wildcardSubscriptions: true, persistentSessions: true, zeroLengthClientId: true });
    expect(probed['maxQoS']).toEqual({ value: 1, how: '3.1.1 SUBSCRIBE with QoS 2 was granted QoS 1' });
    expect(probed['retain']!.how).toMatch(/^retained 3\.1\.1 PUBLISH \(QoS 1\) came back on SUBSCRIBE with RETAIN 1/);
    expect(probed['sharedSubscriptions']).toEqual({ value: 'unknown', how: 'not probed: the profile does not list MQTT 5.0 (3.1.1 brokers announce nothing)' });
    expect(profile.sharedSubscriptions).toBeUndefined();
  });

  test('a 3.1.1 broker that keeps no retained messages: the round trip says no', async () => {
    const url = await codecBroker();
    const { probed } = await probeCapabilities(bare(url, { protocolVersions: ['3.1.1'] }), { budgetMs: 2500 });
    expect(probed['retain']).toEqual({ value: false, how: 'retained 3.1.1 PUBLISH (QoS 1) was not delivered within 750 ms of a new SUBSCRIBE' });
    expect(probed['maxQoS']).toEqual({ value: 2, how: '3.1.1 SUBSCRIBE with QoS 2 was granted QoS 2' });
    expect(probed['persistentSessions']).toEqual({ value: false, how: '3.1.1 reconnect with Clean Session 0 got Session Present 0' });
  });

  test('versions: a broker that refuses 5.0 keeps only 3.1.1', async () => {
    // Aedes-like: answer a level-5 CONNECT with a 3.1.1 CONNACK "unacceptable protocol version".
    const server = await fakeBroker((socket, first) => {
      if (first[8] === 5) socket.end(Buffer.from([0x20, 0x02, 0x00, 0x01]));
      else socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    });
    const { profile, probed } = await probeCapabilities(bare(server), { versions: true, budgetMs: 1500, stepTimeoutMs: 500 });
    expect(profile.protocolVersions).toEqual(['3.1.1']);
    expect(probed['protocolVersions']!.how).toMatch(/3\.1\.1 CONNECT got CONNACK 0; 5\.0 CONNECT: /);
  });

  test('over TLS with client certificates and credentials (the reference launcher)', async () => {
    const l = await launchReference();
    try {
      const base = l.target;
      const target: Target = {
        ...base, url: base.profile.listeners!.tls!,
        profile: { name: 'tls', protocolVersions: ['3.1.1', '5.0'], credentials: base.profile.credentials, tls: base.profile.tls },
      };
      const { profile, probed } = await probeCapabilities(target);
      expect(profile).toMatchObject({ maxQoS: 2, retain: true, persistentSessions: true });
      expect(probed['anonymous']!.value, 'with mTLS the certificate is the identity').toBe(true);
    } finally {
      await l.close();
    }
  });
});

// --- misbehaving brokers: the probe stays bounded and reports, never throws ---------------

const servers: Server[] = [];
const sockets = new Set<Socket>();
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A TCP server that calls `onFirst` with the first chunk of each connection. */
async function fakeBroker(onFirst: (socket: Socket, first: Buffer) => void, onConnect?: (socket: Socket) => void): Promise<string> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnect?.(socket);
    socket.once('data', (d) => onFirst(socket, d));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A minimal 3.1.1 "broker": CONNACK 0, SUBACK granting what was asked, PUBACK; it stores and delivers nothing. */
function codecBroker(): Promise<string> {
  return fakeBroker(() => {}, (socket) => {
    const decoder = new Decoder({ version: 4, role: 'server' });
    const reply = (p: Packet): void => { socket.write(encode(p, 4)); };
    socket.on('data', (chunk) => decoder.feed(chunk, (p) => {
      if (p.type === 'connect') reply({ type: 'connack', sessionPresent: false, reasonCode: 0 });
      else if (p.type === 'subscribe') reply({ type: 'suback', packetId: p.packetId, reasonCodes: p.subscriptions.map((s) => s.qos) });
      else if (p.type === 'publish' && p.qos === 1) reply({ type: 'puback', packetId: p.packetId! });
      else if (p.type === 'disconnect') socket.end();
    }));
  });
}

describe('probe against misbehaving brokers', () => {
  test('accepts and never answers: bounded, every value unknown with why', async () => {
    const url = await fakeBroker(() => { /* silence */ });
    const t0 = Date.now();
    const { profile, probed } = await probeCapabilities(bare(url), { versions: true });
    const took = Date.now() - t0;
    expect(took).toBeLessThan(3500);
    expect(Object.keys(probed)).toEqual([...PROBE_FIELDS]);
    for (const [k, v] of Object.entries(probed)) expect(v.value, k).toBe('unknown');
    expect(probed['maxQoS']!.how).toMatch(/^5\.0 CONNECT: no CONNACK within 2000 ms; 3\.1\.1 CONNECT: (no CONNACK within \d+ ms|probe time budget of 3000 ms used up)$/);
    expect(probed['protocolVersions']!.how).toMatch(/^no version was accepted/);
    expect(profile.protocolVersions, 'the guess is kept').toEqual(['3.1.1', '5.0']);
    expect(profile.maxQoS).toBeUndefined();
  });

  test('sends garbage: bounded, reported as not MQTT', async () => {
    const url = await fakeBroker((socket) => socket.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const t0 = Date.now();
    const { probed } = await probeCapabilities(bare(url));
    expect(Date.now() - t0).toBeLessThan(3500);
    expect(probed['maxQoS']!.value).toBe('unknown');
    expect(probed['maxQoS']!.how).toMatch(/not MQTT|closed the connection/);
  });

  test('garbage straight after accept, before any CONNECT', async () => {
    const url = await fakeBroker(() => {}, (socket) => socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x00])));
    const { probed } = await probeCapabilities(bare(url), { budgetMs: 1500 });
    expect(probed['retain']!.value).toBe('unknown');
  });

  test('closes at once', async () => {
    const url = await fakeBroker(() => {}, (socket) => socket.destroy());
    const t0 = Date.now();
    const { probed } = await probeCapabilities(bare(url));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(probed['maxQoS']!.how).toMatch(/closed the connection/);
  });

  test('nothing listens', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { probed } = await probeCapabilities(bare(`mqtt://127.0.0.1:${port}`));
    expect(probed['maxQoS']!.how).toMatch(/could not open mqtt:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  test('answers CONNECT but never SUBACK: the SUBSCRIBE steps time out within the budget', async () => {
    const url = await fakeBroker((socket) => socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    const t0 = Date.now();
    const { probed } = await probeCapabilities(bare(url, { protocolVersions: ['3.1.1'] }), { budgetMs: 1500, stepTimeoutMs: 1000 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(probed['maxQoS']!.how).toMatch(/no SUBACK to SUBSCRIBE .* within \d+ ms/);
    expect(probed['anonymous']!.value).toBe(true);
  });
});

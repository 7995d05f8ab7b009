/**
 * Client-side TLS checks against the reference broker serving a faulty server
 * certificate (expired, not yet valid, for another host) on TLS and secure
 * WebSocket: inspectServerCertificate names the fault, and every client the
 * project uses — the harness transport under the suites and MQTT.js under the
 * scenarios — refuses the connection. The dev certificate is the control.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startBroker, type RunningBroker } from '../reference-broker/index.js';
import { faultyServerCerts, type ServerKeyPair } from './faulty-server-certs.js';
import { devCertificates } from './launchers/child-process.js';
import { inspectServerCertificate } from './server-certificate.js';
import { openStream, parseBrokerUrl } from './transport.js';
import { readFileSync } from 'node:fs';

interface Case {
  name: string;
  pair: () => ServerKeyPair;
  /** The host the clients connect to (the wrong-host certificate is fine for its own name only). */
  host: string;
  /** What the inspection must say. */
  expectFault: (r: Awaited<ReturnType<typeof inspectServerCertificate>>) => void;
  /** How a verifying client's error reads. */
  refusal: RegExp;
}

const CASES: Case[] = [
  {
    name: 'an expired certificate', pair: () => faultyServerCerts().expired, host: '127.0.0.1',
    expectFault: (r) => {
      expect(r.expired).toBe(true);
      expect(r.chainVerified).toBe(false);
      expect(r.chainError).toBe('CERT_HAS_EXPIRED');
      expect(r.hostMatches).toBe(true);
    },
    refusal: /certificate has expired/,
  },
  {
    name: 'a certificate not valid yet', pair: () => faultyServerCerts().notYetValid, host: '127.0.0.1',
    expectFault: (r) => {
      expect(r.notYetValid).toBe(true);
      expect(r.chainVerified).toBe(false);
      expect(r.chainError).toBe('CERT_NOT_YET_VALID');
    },
    refusal: /certificate is not yet valid/,
  },
  {
    name: 'a certificate for another host', pair: () => faultyServerCerts().wrongHost, host: 'localhost',
    expectFault: (r) => {
      expect(r.expired).toBe(false);
      expect(r.chainVerified).toBe(true); // the chain is fine: only the name is wrong
      expect(r.hostMatches).toBe(false);
      expect(r.hostError).toMatch(/wrong-host\.invalid/);
    },
    refusal: /does not match certificate's altnames|altnames/,
  },
];

function url(b: RunningBroker, kind: 'tls' | 'wss', host: string): string {
  const a = parseBrokerUrl(b.url(kind));
  return `${kind === 'tls' ? 'mqtts' : 'wss'}://${host}:${a.port}${kind === 'wss' ? '/mqtt' : ''}`;
}

async function mqttJsConnect(u: string, ca: Buffer): Promise<string> {
  const client = mqtt.connect(u, { ca, rejectUnauthorized: true, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5 });
  try {
    return await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', (e) => resolve(`error: ${e.message}`));
      client.once('close', () => resolve('closed'));
    });
  } finally {
    client.end(true);
  }
}

describe.each(CASES)('the reference broker serving $name', (c) => {
  let broker: RunningBroker;
  const ca = readFileSync(devCertificates().caCert);
  beforeAll(async () => {
    const { cert, key } = c.pair();
    broker = await startBroker({ tcp: false, tls: { port: 0, cert, key }, wss: { port: 0, cert, key } });
  });
  afterAll(() => broker?.close());

  for (const kind of ['tls', 'wss'] as const) {
    test(`${kind}: inspectServerCertificate names the fault`, async () => {
      const r = await inspectServerCertificate(url(broker, kind, c.host), { ca });
      expect(r.reached).toBe(true);
      c.expectFault(r);
    });

    test(`${kind}: the harness transport (under the suites) refuses the connection`, async () => {
      const u = parseBrokerUrl(url(broker, kind, c.host));
      await expect(openStream(u, { tls: { ca }, timeoutMs: 5000 })).rejects.toThrow(c.refusal);
    });

    test(`${kind}: MQTT.js (under the scenarios) refuses the connection`, async () => {
      expect(await mqttJsConnect(url(broker, kind, c.host), ca)).toMatch(c.refusal);
    });
  }
});

describe('the reference broker serving the dev certificate (control)', () => {
  let broker: RunningBroker;
  const dev = devCertificates();
  const ca = readFileSync(dev.caCert);
  beforeAll(async () => {
    const material = { cert: readFileSync(dev.serverCert), key: readFileSync(dev.serverKey) };
    broker = await startBroker({ tcp: false, tls: { port: 0, ...material }, wss: { port: 0, ...material } });
  });
  afterAll(() => broker?.close());

  for (const host of ['127.0.0.1', 'localhost']) {
    test(`every check passes and every client connects (host ${host})`, async () => {
      for (const kind of ['tls', 'wss'] as const) {
        const r = await inspectServerCertificate(url(broker, kind, host), { ca });
        expect(r).toMatchObject({ reached: true, expired: false, notYetValid: false, hostMatches: true, chainVerified: true });
        const s = await openStream(parseBrokerUrl(url(broker, kind, host)), { tls: { ca }, timeoutMs: 5000 });
        s.destroy();
        expect(await mqttJsConnect(url(broker, kind, host), ca)).toBe('connected');
      }
    });
  }

  test('a client that trusts only another CA refuses it', async () => {
    const other = faultyServerCerts().wrongHost.cert; // a leaf, not the signer of this server's certificate
    const r = await inspectServerCertificate(url(broker, 'tls', '127.0.0.1'), { ca: other });
    expect(r.chainVerified).toBe(false);
    await expect(openStream(parseBrokerUrl(url(broker, 'tls', '127.0.0.1')), { tls: { ca: other }, timeoutMs: 5000 })).rejects.toThrow(/certificate/);
  });
});

/**
 * Byte accounting: a known exchange per protocol, through the real client
 * libraries and byte-counting sockets, gives exactly the byte counts the
 * specifications' layouts say (counted by hand below).
 */
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as coap from 'coap';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchBenchReference, type BenchBroker } from '../../harness/launchers/bench-brokers.js';
import { ByteMeter, diffCounts, zeroCounts, type ByteCategory } from '../../harness/meters/byte-meter.js';
import { CountingConnector } from '../adapters/http.js';
import { connectMqtt } from '../adapters/mqtt.js';
import { coapCategory, coapLayout } from './coap.js';
import { httpClassifier } from './http.js';
import { mqttClassifier, type MqttPacketSeen } from './mqtt.js';
import { appByteSplit, ipByteSplit } from './split.js';

const PAYLOAD16 = Buffer.from('0123456789abcdef');

/** Feeds `bytes` to a classifier in every possible two-piece split and checks the totals never change. */
function classifyAllSplits(make: () => (chunk: Uint8Array, count: (c: ByteCategory, n: number) => void) => void, bytes: Buffer): Record<ByteCategory, number> {
  let first: Record<ByteCategory, number> | undefined;
  for (let cut = 0; cut <= bytes.length; cut++) {
    const totals: Record<ByteCategory, number> = { setup: 0, message: 0, ack: 0, control: 0 };
    const c = make();
    c(bytes.subarray(0, cut), (k, n) => { totals[k] += n; });
    c(bytes.subarray(cut), (k, n) => { totals[k] += n; });
    if (first) expect(totals).toEqual(first);
    else first = totals;
  }
  return first!;
}

describe('MQTT 3.1.1: CONNECT/CONNACK + one QoS 1 PUBLISH/PUBACK with a 16-byte payload', () => {
  let broker: BenchBroker;
  beforeAll(async () => { broker = await launchBenchReference(); });
  afterAll(async () => { await broker.close(); });

  test('the byte-counted MQTT.js connection sees exactly the spec layout', async () => {
    const meter = new ByteMeter();
    const seen: Array<MqttPacketSeen & { dir: string }> = [];
    const client = await connectMqtt({
      url: broker.urls.tcp, clientId: 'dev1', version: '3.1.1', keepAliveS: 60, noDelay: true, meter,
      observe: (p, dir) => seen.push({ ...p, dir }),
    });
    const setup = meter.snapshot();
    // CONNECT: fixed header 2 (0x10, Remaining Length 16) + variable header 10
    // (protocol name 00 04 'MQTT', level 4, flags, keep alive 2) + payload: client id 00 04 'dev1' = 18.
    // CONNACK: 0x20 0x02, session present, return code = 4.
    expect(setup.wireOut).toBe(18);
    expect(setup.wireIn).toBe(4);
    expect(setup.setup).toBe(22);
    await new Promise<void>((resolve, reject) => client.publish('sensors/0/reading', PAYLOAD16, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    const window = diffCounts(meter.snapshot(), setup);
    // PUBLISH QoS 1: fixed header 2 (0x32, Remaining Length 37) + topic 2 + 17 ('sensors/0/reading') + packet id 2 + payload 16 = 39.
    // PUBACK: 0x40 0x02 + packet id 2 = 4.
    expect(window.wireOut).toBe(39);
    expect(window.wireIn).toBe(4);
    expect(window.message).toBe(39);
    expect(window.ack).toBe(4);
    expect(appByteSplit(setup, window, 1, 16)).toEqual({ setup: 22, perMessage: 43, payloadPerMessage: 16, headersPerMessage: 23, acksPerMessage: 4, total: 43 });
    expect(seen.map((p) => [p.dir, p.type, p.fixedHeader, p.total])).toEqual([
      ['out', 1, 2, 18], ['in', 2, 2, 4], ['out', 3, 2, 39], ['in', 4, 2, 4],
    ]);
    await new Promise<void>((r) => client.end(false, {}, () => r()));
  });

  test('the framing walk is independent of how TCP cuts the stream, and reads 2-byte Remaining Lengths', () => {
    const connack = Buffer.from([0x20, 0x02, 0x00, 0x00]);
    const bigPublish = Buffer.concat([Buffer.from([0x30, 0x80, 0x01, 0x00, 0x01, 0x74]), Buffer.alloc(125)]); // Remaining Length 128: 2 bytes
    const seen: MqttPacketSeen[] = [];
    const totals = classifyAllSplits(() => mqttClassifier((p) => seen.push(p)), Buffer.concat([connack, bigPublish]));
    expect(totals).toEqual({ setup: 4, message: 131, ack: 0, control: 0 });
    expect(seen[1]).toEqual({ type: 3, fixedHeader: 3, total: 131 });
  });
});

describe('HTTP/1.1: one request and its response, fixed headers', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      res.sendDate = false; // no Date header: the response head is fixed
      req.resume();
      req.on('end', () => {
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('undici through the counting connector: request head + body + 204 response', async () => {
    const meter = new ByteMeter();
    const heads: number[] = [];
    const connector = new CountingConnector({ host: '127.0.0.1', port, tls: false, ca: undefined, noDelay: true, meter, observe: (h) => heads.push(h.bytes) });
    const client = new Client(`http://127.0.0.1:${port}`, { connect: connector.connect as unknown as Client.Options['connect'], pipelining: 1 });
    await connector.preconnect();
    const setup = meter.snapshot();
    expect(setup.wire).toBe(0); // a TCP handshake carries no application bytes
    const res = await client.request({ method: 'POST', path: '/sensors/0/reading', body: PAYLOAD16, headers: { 'content-type': 'application/octet-stream' } });
    await res.body.dump();
    const window = diffCounts(meter.snapshot(), setup);
    const requestHead =
      'POST /sensors/0/reading HTTP/1.1\r\n' + // 34
      `host: 127.0.0.1:${port}\r\n` + //           18 + port digits
      'connection: keep-alive\r\n' + //           24
      'content-length: 16\r\n' + //               20
      'content-type: application/octet-stream\r\n' + // 40
      '\r\n'; //                                   2
    const responseHead = 'HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n'; // 25 + 24 + 23 + 2 = 74
    expect(requestHead.length).toBe(138 + String(port).length);
    expect(window.wireOut).toBe(requestHead.length + 16);
    expect(window.wireIn).toBe(74);
    expect(window.message).toBe(requestHead.length + 16);
    expect(window.ack).toBe(74);
    expect(heads).toEqual([requestHead.length, 74]);
    const split = appByteSplit(setup, window, 1, 16);
    expect(split).toMatchObject({ setup: 0, payloadPerMessage: 16, headersPerMessage: requestHead.length, acksPerMessage: 74, perMessage: requestHead.length + 16 + 74 });
    await client.close();
  });

  test('chunked bodies (server-sent events): chunk framing and events are messages, the last chunk control', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n';
    const event = 'data: hello\n\n';
    const chunk = `${event.length.toString(16)}\r\n${event}\r\n`;
    const totals = classifyAllSplits(() => httpClassifier('response'), Buffer.from(head + chunk + chunk + '0\r\n\r\n', 'latin1'));
    expect(totals).toEqual({ setup: 0, message: head.length + 2 * chunk.length, ack: 0, control: 5 });
  });
});

describe('CoAP: one CON POST and its piggybacked ACK', () => {
  test('the coap client on a counted socket against the coap server', async () => {
    const server = coap.createServer({ type: 'udp4' });
    server.on('request', (_req: coap.IncomingMessage, res: coap.OutgoingMessage) => {
      res.code = '2.04';
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = ((server._sock as import('node:dgram').Socket).address()).port;
    const meter = new ByteMeter();
    const sock = createSocket('udp4');
    const layouts: Array<ReturnType<typeof coapLayout>> = [];
    meter.addDatagramSocket(sock, (d) => {
      layouts.push(coapLayout(d));
      return coapCategory(d);
    });
    const agent = new coap.Agent({ socket: sock });
    const before = meter.snapshot();
    await new Promise<void>((resolve, reject) => {
      const req = agent.request({ hostname: '127.0.0.1', port, pathname: '/sensors/0/reading', method: 'POST', confirmable: true, contentFormat: 'application/octet-stream' });
      req.on('response', () => resolve());
      req.on('error', reject);
      req.end(PAYLOAD16);
    });
    const window = diffCounts(meter.snapshot(), before);
    // Request: 4 fixed header + 8 token (the coap package's default)
    //   + Uri-Path 'sensors' (1 + 7) + Uri-Path '0' (1 + 1) + Uri-Path 'reading' (1 + 7) + Content-Format 42 (1 + 1) = 20 option bytes
    //   + 0xFF marker 1 + payload 16 = 49.
    // ACK with the piggybacked 2.04 Changed: 4 fixed header + 8 token = 12.
    expect(window.wireOut).toBe(49);
    expect(window.wireIn).toBe(12);
    expect(window.message).toBe(49);
    expect(window.ack).toBe(12);
    expect(layouts[0]).toEqual({ type: 'CON', code: '0.02', fixedHeader: 4, token: 8, options: 20, marker: 1, payload: 16, total: 49 });
    expect(layouts[1]).toMatchObject({ type: 'ACK', code: '2.04', token: 8, options: 0, payload: 0, total: 12 });
    expect(appByteSplit(zeroCounts(), window, 1, 16)).toEqual({ setup: 0, perMessage: 61, payloadPerMessage: 16, headersPerMessage: 33, acksPerMessage: 12, total: 61 });
    agent.close();
    sock.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('option layout with extended deltas and lengths', () => {
    // CON GET, token 0, Uri-Path (11) of 20 bytes: delta 11, length 13+7 → 0xBD 0x07 + 20 bytes; then Observe? no: Size1 (60) delta 49: 13+36 → 0xD1 0x24 + 1 byte value.
    const d = Buffer.concat([Buffer.from([0x40, 0x01, 0x12, 0x34, 0xbd, 0x07]), Buffer.alloc(20, 0x61), Buffer.from([0xd1, 0x24, 0x05])]);
    expect(coapLayout(d)).toEqual({ type: 'CON', code: '0.01', fixedHeader: 4, token: 0, options: 25, marker: 0, payload: 0, total: 29 });
    expect(coapCategory(d)).toBe('control');
    expect(coapLayout(Buffer.from([0x80, 0x01, 0, 0]))).toBeUndefined(); // version 2
  });
});

describe('byte split', () => {
  test('transport overhead (TLS records, WebSocket frames) counts as headers; the rest is keep-alive and other', () => {
    const setup = { ...zeroCounts(), wire: 2000 };
    const window = { ...zeroCounts(), wire: 1000, message: 600, ack: 100, control: 50 };
    const s = appByteSplit(setup, window, 10, 320);
    expect(s).toEqual({ setup: 2000, perMessage: 100, payloadPerMessage: 32, headersPerMessage: (600 - 320 + 250) / 10, acksPerMessage: 10, total: 1000 });
    expect(ipByteSplit({ bytes: 300, packets: 5 }, { bytes: 1500, packets: 20 }, 10, 320)).toEqual({ setup: 300, perMessage: 150, payloadPerMessage: 32, headersPerMessage: 118, acksPerMessage: 0, total: 1500, packets: 20 });
  });
});

import { expect, test } from 'vitest';
import { encode, decodePacket, Decoder } from './index.js';
test('smoke', () => {
  const p = { type: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, retain: false, dup: false, packetId: 7 } as const;
  const b4 = encode(p, 4);
  expect(b4.toString('hex')).toBe('3209000361' + '2f62' + '0007' + '6869');
  expect(decodePacket(b4, { version: 4 })).toEqual(p);
  const c = { type: 'connect', protocolVersion: 5, clean: true, keepAlive: 60, clientId: 'x', properties: { sessionExpiryInterval: 10, userProperties: [['a', 'b']] } } as const;
  const cb = encode(c as never, 5);
  const d = new Decoder({ role: 'server' });
  const got: unknown[] = [];
  for (const byte of cb) d.feed(Buffer.from([byte]), (x) => got.push(x));
  expect(got).toEqual([c]);
});

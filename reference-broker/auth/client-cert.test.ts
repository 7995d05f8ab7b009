import { beforeAll, describe, expect, test } from 'vitest';
import type { PeerCertificateInfo, TransportKind } from '../core/link.js';
import type { AuthenticateRequest } from '../core/options.js';
import { certificateAuthenticator, certificateUsername } from './client-cert.js';
import { hashPassword, parsePasswordFile, type PasswordDb } from './password-file.js';

function req(transport: TransportKind, certificate: PeerCertificateInfo | undefined, username?: string, password?: string): AuthenticateRequest {
  return {
    clientId: 'c', username, password: password !== undefined ? Buffer.from(password) : undefined,
    protocolVersion: 4, transport, remoteAddress: '127.0.0.1:1', certificate,
  };
}
const good: PeerCertificateInfo = { authorized: true, subjectCN: 'sensor' };

describe('certificateUsername', () => {
  test.each([
    ['verified certificate on tls', req('tls', good), 'sensor'],
    ['verified certificate on wss', req('wss', good), 'sensor'],
    ['certificate that did not verify', req('tls', { authorized: false, subjectCN: 'sensor' }), undefined],
    ['no CN', req('tls', { authorized: true }), undefined],
    ['empty CN', req('tls', { authorized: true, subjectCN: '' }), undefined],
    ['no certificate', req('tls', undefined), undefined],
    ['plain TCP', req('tcp', good), undefined],
  ])('%s', (_, r, expected) => {
    expect(certificateUsername(r)).toBe(expected);
  });

  test('only on the listed transports', () => {
    expect(certificateUsername(req('wss', good), { transports: ['tls'] })).toBeUndefined();
    expect(certificateUsername(req('tls', good), { transports: ['tls'] })).toBe('sensor');
  });
});

describe('certificateAuthenticator', () => {
  let users: PasswordDb;
  beforeAll(async () => { users = parsePasswordFile(`alice:${await hashPassword('pw', { N: 1024, r: 8, p: 1 })}\n`); });

  test('CN replaces the CONNECT user name and needs no password', async () => {
    const auth = certificateAuthenticator({ passwords: users });
    expect(await auth(req('tls', good))).toEqual({ ok: true, username: 'sensor' });
    expect(await auth(req('tls', good, 'alice', 'wrong'))).toEqual({ ok: true, username: 'sensor' });
  });

  test('without a usable certificate: password file, then the anonymous rule', async () => {
    const auth = certificateAuthenticator({ passwords: users });
    expect(await auth(req('tcp', undefined, 'alice', 'pw'))).toMatchObject({ ok: true, username: 'alice' });
    expect(await auth(req('tls', { authorized: false, subjectCN: 'alice' }, 'alice', 'nope'))).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(await auth(req('tcp', undefined))).toMatchObject({ ok: false, reason: 'not-authorized' });
    expect(await certificateAuthenticator({ passwords: users, allowAnonymous: true })(req('tcp', undefined))).toEqual({ ok: true });
  });

  test('without a password file, names are only taken from certificates', async () => {
    const auth = certificateAuthenticator({});
    expect(await auth(req('tcp', undefined, 'alice', 'pw'))).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(await auth(req('tcp', undefined))).toMatchObject({ ok: false, reason: 'not-authorized' });
    expect(await auth(req('tls', good))).toEqual({ ok: true, username: 'sensor' });
  });
});

import { beforeAll, describe, expect, test } from 'vitest';
import type { PeerCertificateInfo, TransportKind } from '../core/link.js';
import type { AuthenticateRequest, ClientInfo } from '../core/options.js';
import { parseAclFile } from './acl-file.js';
import { anonymousAllowed, composeHooks } from './hooks.js';
import { hashPassword, parsePasswordFile, type PasswordDb } from './password-file.js';

function req(username: string | undefined, password?: string, transport: TransportKind = 'tcp', certificate?: PeerCertificateInfo): AuthenticateRequest {
  return {
    clientId: 'c1', username, password: password !== undefined ? Buffer.from(password) : undefined,
    protocolVersion: 5, transport, remoteAddress: '127.0.0.1:1', certificate,
  };
}
const info = (username: string | undefined): ClientInfo => ({ ...req(username), password: undefined }) as ClientInfo;

let passwords: PasswordDb;
beforeAll(async () => {
  passwords = parsePasswordFile(`sensor:${await hashPassword('pw', { N: 1024, r: 8, p: 1 })}\n`);
});
const acl = parseAclFile('user sensor\ntopic write sensors/#\ntopic read sensors/#\n');

describe('composeHooks: authenticate', () => {
  test('nothing configured: open broker, no hooks at all', () => {
    expect(composeHooks({})).toEqual({});
    expect(anonymousAllowed({})).toBe(true);
  });

  test('password file: anonymous refused by default, allowed when asked', async () => {
    expect(anonymousAllowed({ passwords })).toBe(false);
    expect(await composeHooks({ passwords }).authenticate!(req(undefined))).toMatchObject({ ok: false, reason: 'not-authorized' });
    expect(await composeHooks({ passwords, allowAnonymous: true }).authenticate!(req(undefined))).toEqual({ ok: true });
    expect(await composeHooks({ passwords }).authenticate!(req('sensor', 'pw'))).toEqual({ ok: true, username: 'sensor' });
    expect(await composeHooks({ passwords }).authenticate!(req('sensor', 'bad'))).toMatchObject({ ok: false, reason: 'bad-credentials' });
  });

  test('ACL without a password file: anonymous clients get the global rules, unverifiable names are refused', async () => {
    const h = composeHooks({ acl });
    expect(await h.authenticate!(req(undefined))).toEqual({ ok: true });
    expect(await h.authenticate!(req('sensor', 'anything'))).toMatchObject({ ok: false, reason: 'bad-credentials' });
  });

  test('anonymous access turned off with nothing to log in with refuses everyone', async () => {
    const h = composeHooks({ allowAnonymous: false });
    expect(await h.authenticate!(req(undefined))).toMatchObject({ ok: false, reason: 'not-authorized' });
    expect(await h.authenticate!(req('x', 'y'))).toMatchObject({ ok: false, reason: 'bad-credentials' });
  });

  test('certificate CN combined with the password file', async () => {
    const h = composeHooks({ passwords, certificateIdentity: true });
    expect(await h.authenticate!(req(undefined, undefined, 'tls', { authorized: true, subjectCN: 'device-7' }))).toEqual({ ok: true, username: 'device-7' });
    expect(await h.authenticate!(req('sensor', 'pw', 'tcp'))).toEqual({ ok: true, username: 'sensor' });
    expect(await h.authenticate!(req(undefined, undefined, 'tls', { authorized: false, subjectCN: 'device-7' }))).toMatchObject({ ok: false });
  });

  test('user authenticate runs after the built-in step, sees the established name, may refuse or rename', async () => {
    const seen: (string | undefined)[] = [];
    const h = composeHooks({
      passwords, certificateIdentity: { transports: ['tls'] },
      hooks: {
        authenticate: (r) => {
          seen.push(r.username);
          if (r.username === 'device-9') return { ok: false, reason: 'banned' };
          return Promise.resolve({ ok: true, username: r.username === 'sensor' ? 'sensor@site' : undefined });
        },
      },
    });
    expect(await h.authenticate!(req('sensor', 'pw'))).toEqual({ ok: true, username: 'sensor@site' });
    expect(await h.authenticate!(req('x', 'y', 'tls', { authorized: true, subjectCN: 'device-1' }))).toEqual({ ok: true, username: 'device-1' });
    expect(await h.authenticate!(req(undefined, undefined, 'tls', { authorized: true, subjectCN: 'device-9' }))).toMatchObject({ ok: false, reason: 'banned' });
    expect(await h.authenticate!(req('sensor', 'wrong'))).toMatchObject({ ok: false, reason: 'bad-credentials' });
    expect(seen).toEqual(['sensor', 'device-1', 'device-9']); // not called after a built-in refusal
  });

  test('a user authenticate hook alone verifies names itself; anonymous needs allowAnonymous', async () => {
    const h = composeHooks({ acl, hooks: { authenticate: (r) => (r.username === 'sensor' ? { ok: true } : { ok: false, reason: 'bad-credentials' }) } });
    expect(await h.authenticate!(req('sensor'))).toEqual({ ok: true, username: 'sensor' });
    expect(await h.authenticate!(req('other'))).toMatchObject({ ok: false });
    expect(await h.authenticate!(req(undefined))).toMatchObject({ ok: false, reason: 'not-authorized' });
  });
});

describe('composeHooks: authorization', () => {
  test('ACL and user hooks must both allow', () => {
    const h = composeHooks({ passwords, acl, hooks: { authorizePublish: (_c, topic) => !topic.endsWith('/blocked'), authorizeSubscribe: (_c, f, qos) => qos < 2 } });
    expect(h.authorizePublish!(info('sensor'), 'sensors/a', 0, false)).toBe(true);
    expect(h.authorizePublish!(info('sensor'), 'sensors/blocked', 0, false)).toBe(false);
    expect(h.authorizePublish!(info('sensor'), 'device/firmware/update', 0, false)).toBe(false);
    expect(h.authorizeSubscribe!(info('sensor'), 'sensors/#', 1)).toBe(true);
    expect(h.authorizeSubscribe!(info('sensor'), 'sensors/#', 2)).toBe(false);
    expect(h.authorizeSubscribe!(info('other'), 'sensors/#', 1)).toBe(false);
  });

  test('no ACL: only the user hooks', () => {
    const h = composeHooks({ hooks: { authorizePublish: () => false } });
    expect(h.authorizePublish!(info(undefined), 'x', 0, false)).toBe(false);
    expect(h.authorizeSubscribe).toBeUndefined();
  });
});

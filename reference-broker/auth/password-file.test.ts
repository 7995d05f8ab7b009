import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AuthenticateRequest } from '../core/options.js';
import {
  DEFAULT_SCRYPT, PasswordFileError, hashPassword, parseHash, parsePasswordFile, passwordAuthenticator, readPasswordFile,
  usernameProblem, verifyPassword, writeUser, type ScryptParams,
} from './password-file.js';

/** Cheap parameters so the tests stay fast; one test uses the defaults. */
const FAST: ScryptParams = { N: 1024, r: 8, p: 1 };

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'mqtt-testbed-passwd-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('hashPassword / verifyPassword', () => {
  test('default parameters: self-describing format, verifies, rejects others', async () => {
    const h = await hashPassword('s3cret');
    expect(h).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(parseHash(h)).toMatchObject({ params: DEFAULT_SCRYPT });
    expect(await verifyPassword('s3cret', h)).toBe(true);
    expect(await verifyPassword('s3cret ', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  test('fresh salt each time; binary passwords work', async () => {
    const a = await hashPassword('same', FAST);
    const b = await hashPassword('same', FAST);
    expect(a).not.toBe(b);
    const bin = Buffer.from([0xff, 0x00, 0xfe]);
    const h = await hashPassword(bin, FAST);
    expect(await verifyPassword(bin, h)).toBe(true);
    expect(await verifyPassword(Buffer.from([0xff, 0x00]), h)).toBe(false);
  });

  test.each([
    ['$bcrypt$N=16384,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', /unsupported hash scheme 'bcrypt'/],
    ['scrypt$N=16384', /hash must look like/],
    ['$scrypt$N=1000,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', /N must be a power of two/],
    ['$scrypt$N=4194304,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', /N must be a power of two between 2 and 1048576/],
    ['$scrypt$N=16384,r=0,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', /r must be/],
    ['$scrypt$N=16384,r=8$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', /must give N, r and p/],
    ['$scrypt$N=16384,r=8,p=1,x=2$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', /bad scrypt parameter 'x=2'/],
    ['$scrypt$N=16384,r=8,p=1$not base64!$AAAAAAAAAAAAAAAAAAAAAA==', /salt is not base64/],
    ['$scrypt$N=16384,r=8,p=1$AAAAAAAAAAA=$AAAA', /hash is 3 bytes/],
  ])('parseHash(%s) explains the problem', (text, problem) => {
    const r = parseHash(text);
    expect(typeof r).toBe('string');
    expect(r).toMatch(problem);
  });

  test.each([
    ['', /empty/], ['a:b', /contains ':'/], ['tab\there', /control character/], [' pad', /white space/], ['#x', /comment/],
  ])('usernameProblem(%j)', (name, problem) => {
    expect(usernameProblem(name)).toMatch(problem);
  });
});

describe('parsePasswordFile', () => {
  test('users, comments, blank lines and CRLF', async () => {
    const h1 = await hashPassword('one', FAST);
    const h2 = await hashPassword('two', FAST);
    const users = parsePasswordFile(`# users\r\n\r\nalice:${h1}\r\n   # indented comment\n  bob smith:${h2}  \n`, 'pw');
    expect([...users.keys()]).toEqual(['alice', 'bob smith']);
    expect(users.get('alice')!.line).toBe(3);
    expect(await verifyPassword('two', users.get('bob smith')!.hash)).toBe(true);
  });

  test.each([
    ['alice\n', 1, /no ':' found/],
    ['# c\n:$scrypt$N=1024,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==\n', 2, /user name is empty/],
    ['alice:plaintext\n', 1, /user 'alice': hash must look like/],
    ['alice:$scrypt$N=1024,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==\n\nalice:$scrypt$N=1024,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==\n', 3, /user 'alice' is already defined on line 1/],
  ])('error names file and line: %j', (text, line, problem) => {
    let err: unknown;
    try { parsePasswordFile(text, 'etc/passwd'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(PasswordFileError);
    const e = err as PasswordFileError;
    expect(e.line).toBe(line);
    expect(e.message).toMatch(new RegExp(`^etc/passwd:${line}: `));
    expect(e.problem).toMatch(problem);
  });

  test('readPasswordFile names a missing file', () => {
    expect(() => readPasswordFile(join(dir, 'missing'))).toThrow(/missing: cannot read: ENOENT/);
  });
});

describe('writeUser', () => {
  test('creates a 0600 file, adds, replaces in place keeping other lines, via rename', async () => {
    const file = join(dir, 'users');
    expect(await writeUser(file, 'alice', 'pw-a', FAST)).toBe('added');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFile(file, `# managed by hand\n${await readFile(file, 'utf8')}# trailing comment\n`);
    expect(await writeUser(file, 'bob', 'pw-b', FAST)).toBe('added');
    const inodeBefore = (await stat(file)).ino;
    const before = await readFile(file, 'utf8');

    expect(await writeUser(file, 'alice', 'pw-a2', FAST)).toBe('replaced');
    const after = await readFile(file, 'utf8');
    expect((await stat(file)).ino).not.toBe(inodeBefore); // a new file was renamed over the old one
    const linesBefore = before.split('\n');
    const linesAfter = after.split('\n');
    expect(linesAfter.length).toBe(linesBefore.length);
    expect(linesAfter[0]).toBe('# managed by hand');
    expect(linesAfter[1]).toMatch(/^alice:\$scrypt\$/);
    expect(linesAfter[1]).not.toBe(linesBefore[1]);
    expect(linesAfter.slice(2)).toEqual(linesBefore.slice(2)); // comment and bob untouched

    const users = readPasswordFile(file);
    expect(await verifyPassword('pw-a2', users.get('alice')!.hash)).toBe(true);
    expect(await verifyPassword('pw-a', users.get('alice')!.hash)).toBe(false);
    expect(await verifyPassword('pw-b', users.get('bob')!.hash)).toBe(true);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('refuses to rewrite a file it cannot parse, and bad names or empty passwords', async () => {
    const file = join(dir, 'broken');
    await writeFile(file, 'garbage line\n');
    await expect(writeUser(file, 'alice', 'x', FAST)).rejects.toThrow(/broken:1: expected 'username:\$scrypt\$...'/);
    expect(await readFile(file, 'utf8')).toBe('garbage line\n');
    await expect(writeUser(join(dir, 'n1'), 'a:b', 'x', FAST)).rejects.toThrow(/contains ':'/);
    await expect(writeUser(join(dir, 'n2'), 'alice', '', FAST)).rejects.toThrow(/empty password/);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp') || f === 'n1' || f === 'n2')).toEqual([]);
  });
});

describe('passwordAuthenticator', () => {
  const req = (username: string | undefined, password: string | Buffer | undefined): AuthenticateRequest => ({
    clientId: 'c', username, password: typeof password === 'string' ? Buffer.from(password) : password,
    protocolVersion: 5, transport: 'tcp', remoteAddress: '127.0.0.1:1', certificate: undefined,
  });
  let users: ReturnType<typeof parsePasswordFile>;
  beforeAll(async () => { users = parsePasswordFile(`sensor:${await hashPassword('right', FAST)}\nempty:${await hashPassword('', FAST)}\n`); });

  test.each([
    ['right password', 'sensor', 'right', { ok: true, username: 'sensor' }],
    ['wrong password', 'sensor', 'wrong', { ok: false, reason: 'bad-credentials' }],
    ['unknown user', 'nobody', 'right', { ok: false, reason: 'bad-credentials' }],
    ['no password', 'sensor', undefined, { ok: false, reason: 'bad-credentials' }],
    ['empty password (even if the hash is of "")', 'empty', '', { ok: false, reason: 'bad-credentials' }],
    ['anonymous', undefined, undefined, { ok: false, reason: 'not-authorized' }],
  ])('%s', async (_, username, password, expected) => {
    expect(await passwordAuthenticator({ users })(req(username, password))).toMatchObject(expected);
  });

  test('anonymous allowed when configured; unknown user and wrong password look the same', async () => {
    expect(await passwordAuthenticator({ users, allowAnonymous: true })(req(undefined, undefined))).toEqual({ ok: true });
    const a = await passwordAuthenticator({ users })(req('nobody', 'x'));
    const b = await passwordAuthenticator({ users })(req('sensor', 'x'));
    expect(a).toEqual(b);
    expect(JSON.stringify(a)).not.toContain('x"');
  });
});

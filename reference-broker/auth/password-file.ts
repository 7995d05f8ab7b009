/**
 * Password files: one `username:hash` line per user, `#` comment lines and
 * blank lines ignored. Hashes are salted scrypt in a self-describing form:
 *
 *     $scrypt$N=16384,r=8,p=1$<salt, base64>$<hash, base64>
 *
 * The user name is everything before the first `:` (so it cannot contain
 * `:`); it must be non-empty and free of control characters. Verification
 * recomputes scrypt with the stored salt and parameters and compares with
 * crypto.timingSafeEqual; unknown users are checked against a dummy entry so
 * that they take as long as known ones. Passwords are never logged.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AuthenticateRequest, AuthenticateResult } from '../core/options.js';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. Default 16384. */
  N: number;
  /** Block size. Default 8. */
  r: number;
  /** Parallelism. Default 1. */
  p: number;
}

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { N: 16384, r: 8, p: 1 };

/** Upper bounds accepted when reading a hash, so a hand-edited file cannot make a login allocate gigabytes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** A parsed `$scrypt$…` hash. */
export interface PasswordHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

export class PasswordFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly problem: string,
  ) {
    super(line === undefined ? `${file}: ${problem}` : `${file}:${line}: ${problem}`);
    this.name = 'PasswordFileError';
  }
}

function scryptAsync(password: Buffer, salt: Buffer, keylen: number, p: ScryptParams): Promise<Buffer> {
  // Node refuses scrypt above `maxmem` (default 32 MiB); allow what the parameters need (128·N·r) plus headroom.
  const options: ScryptOptions = { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function toBuffer(password: string | Buffer): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

function checkParams(p: ScryptParams): string | undefined {
  if (!Number.isInteger(p.N) || p.N < 2 || p.N > MAX_N || (p.N & (p.N - 1)) !== 0) return `N must be a power of two between 2 and ${MAX_N}, got ${p.N}`;
  if (!Number.isInteger(p.r) || p.r < 1 || p.r > MAX_R) return `r must be an integer between 1 and ${MAX_R}, got ${p.r}`;
  if (!Number.isInteger(p.p) || p.p < 1 || p.p > MAX_P) return `p must be an integer between 1 and ${MAX_P}, got ${p.p}`;
  return undefined;
}

/** Hashes a password with a fresh random salt: `$scrypt$N=…,r=…,p=…$salt$hash`. */
export async function hashPassword(password: string | Buffer, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const bad = checkParams(params);
  if (bad) throw new RangeError(`scrypt parameters: ${bad}`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(toBuffer(password), salt, KEY_BYTES, params);
  return formatHash({ params, salt, hash });
}

export function formatHash(h: PasswordHash): string {
  return `$scrypt$N=${h.params.N},r=${h.params.r},p=${h.params.p}$${h.salt.toString('base64')}$${h.hash.toString('base64')}`;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a `$scrypt$…` string; returns what is wrong with it as a string. */
export function parseHash(text: string): PasswordHash | string {
  const parts = text.split('$');
  // '', 'scrypt', params, salt, hash
  if (parts.length !== 5 || parts[0] !== '') return "hash must look like $scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>";
  const [, scheme, paramText, saltText, hashText] = parts as [string, string, string, string, string];
  if (scheme !== 'scrypt') return `unsupported hash scheme '${scheme}' (only 'scrypt')`;
  const values: Partial<Record<'N' | 'r' | 'p', number>> = {};
  for (const kv of paramText.split(',')) {
    const m = /^(N|r|p)=(\d{1,10})$/.exec(kv);
    if (!m) return `bad scrypt parameter '${kv}' (expected N=<int>,r=<int>,p=<int>)`;
    const key = m[1] as 'N' | 'r' | 'p';
    if (values[key] !== undefined) return `scrypt parameter ${key} given twice`;
    values[key] = Number(m[2]);
  }
  if (values.N === undefined || values.r === undefined || values.p === undefined) return 'scrypt parameters must give N, r and p';
  const params: ScryptParams = { N: values.N, r: values.r, p: values.p };
  const bad = checkParams(params);
  if (bad) return bad;
  if (!B64.test(saltText)) return 'salt is not base64';
  if (!B64.test(hashText)) return 'hash is not base64';
  const salt = Buffer.from(saltText, 'base64');
  const hash = Buffer.from(hashText, 'base64');
  if (salt.length < 8) return `salt is ${salt.length} bytes; at least 8 expected`;
  if (hash.length < 16 || hash.length > 64) return `hash is ${hash.length} bytes; 16 to 64 expected`;
  return { params, salt, hash };
}

/** Constant-time check of `password` against a parsed hash. */
export async function verifyPassword(password: string | Buffer, stored: PasswordHash | string): Promise<boolean> {
  const h = typeof stored === 'string' ? parseHash(stored) : stored;
  if (typeof h === 'string') throw new Error(`cannot verify against a malformed hash: ${h}`);
  const candidate = await scryptAsync(toBuffer(password), h.salt, h.hash.length, h.params);
  return timingSafeEqual(candidate, h.hash);
}

/** Why `name` cannot be a user name in a password file, or undefined. */
export function usernameProblem(name: string): string | undefined {
  if (name.length === 0) return 'user name is empty';
  if (name.includes(':')) return `user name '${name}' contains ':'`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'user name contains a control character';
  if (name !== name.trim()) return `user name '${name}' has leading or trailing white space`;
  if (name.startsWith('#')) return `user name '${name}' starts with '#' (that line would be a comment)`;
  return undefined;
}

export interface PasswordEntry {
  username: string;
  hash: PasswordHash;
  line: number;
}

/** Users of a password file, by name. */
export type PasswordDb = ReadonlyMap<string, PasswordEntry>;

/** Parses password-file text; `file` is only used in error messages. */
export function parsePasswordFile(text: string, file = '<password file>'): Map<string, PasswordEntry> {
  const users = new Map<string, PasswordEntry>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new PasswordFileError(file, lineNo, "expected 'username:$scrypt$...' (no ':' found)");
    const username = line.slice(0, colon);
    const nameProblem = usernameProblem(username);
    if (nameProblem) throw new PasswordFileError(file, lineNo, nameProblem);
    const hash = parseHash(line.slice(colon + 1));
    if (typeof hash === 'string') throw new PasswordFileError(file, lineNo, `user '${username}': ${hash}`);
    const earlier = users.get(username);
    if (earlier) throw new PasswordFileError(file, lineNo, `user '${username}' is already defined on line ${earlier.line}`);
    users.set(username, { username, hash, line: lineNo });
  }
  return users;
}

/** Reads and parses a password file (synchronously: it is read at start-up). */
export function readPasswordFile(file: string): Map<string, PasswordEntry> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PasswordFileError(file, undefined, `cannot read: ${(e as Error).message}`);
  }
  return parsePasswordFile(text, file);
}

/**
 * Adds `username` or replaces its hash, keeping every other line (comments
 * included) as it was. Writes a temporary file next to `file`, syncs it and
 * renames it over `file`, so readers see the old or the new file, never half
 * of one. A new file is created with mode 0600.
 */
export async function writeUser(file: string, username: string, password: string | Buffer, params: ScryptParams = DEFAULT_SCRYPT): Promise<'added' | 'replaced'> {
  const nameProblem = usernameProblem(username);
  if (nameProblem) throw new PasswordFileError(file, undefined, nameProblem);
  if (toBuffer(password).length === 0) throw new PasswordFileError(file, undefined, `empty password for user '${username}'`);
  let text = '';
  let mode = 0o600;
  try {
    text = await readFile(file, 'utf8');
    mode = (await stat(file)).mode & 0o777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new PasswordFileError(file, undefined, `cannot read: ${(e as Error).message}`);
  }
  const users = parsePasswordFile(text, file); // refuse to rewrite a file we cannot understand
  const entry = `${username}:${await hashPassword(password, params)}`;
  const existing = users.get(username);
  let out: string;
  if (existing) {
    const lines = text.split(/(?<=\n)/); // keep each line's own ending
    const old = lines[existing.line - 1]!;
    lines[existing.line - 1] = entry + (old.match(/\r?\n$/)?.[0] ?? '');
    out = lines.join('');
  } else {
    out = text + (text.length > 0 && !text.endsWith('\n') ? '\n' : '') + entry + '\n';
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(out, 'utf8');
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  return existing ? 'replaced' : 'added';
}

export interface PasswordAuthOptions {
  /** Users allowed to log in. */
  users: PasswordDb;
  /** Accept clients that send no user name. Default false. */
  allowAnonymous?: boolean;
}

/**
 * An entry to hash against when the user is unknown, with the parameters of
 * the file's first user, so unknown and known users take the same time.
 */
const dummies = new WeakMap<PasswordDb, PasswordHash>();
function dummyHash(users: PasswordDb): PasswordHash {
  let d = dummies.get(users);
  if (!d) {
    const first = users.values().next().value as PasswordEntry | undefined;
    const params = first?.hash.params ?? { ...DEFAULT_SCRYPT };
    d = { params, salt: randomBytes(SALT_BYTES), hash: Buffer.alloc(first?.hash.hash.length ?? KEY_BYTES, 0) };
    dummies.set(users, d);
  }
  return d;
}

/** Same words for "unknown user" and "wrong password": the reason string reaches 5.0 clients. */
export const BAD_CREDENTIALS = 'bad user name or password';

/**
 * Checks a user name and password against `users`: the core of the
 * password-file authenticate hook. Unknown user, wrong password, missing or
 * empty password: 'bad-credentials'. No user name: accepted only with
 * `allowAnonymous`, else 'not-authorized'.
 */
export async function checkPassword(users: PasswordDb, username: string, password: Buffer | undefined): Promise<AuthenticateResult> {
  const entry = users.get(username);
  const given = password ?? Buffer.alloc(0);
  const ok = await verifyPassword(given, entry?.hash ?? dummyHash(users));
  if (!entry || given.length === 0 || !ok) return { ok: false, reason: 'bad-credentials', message: BAD_CREDENTIALS };
  return { ok: true, username };
}

/** The authenticate hook of a password file. */
export function passwordAuthenticator(o: PasswordAuthOptions): (req: AuthenticateRequest) => Promise<AuthenticateResult> {
  return async (req) => {
    if (req.username === undefined) {
      return o.allowAnonymous ? { ok: true } : { ok: false, reason: 'not-authorized', message: 'anonymous access is not allowed' };
    }
    return checkPassword(o.users, req.username, req.password);
  };
}

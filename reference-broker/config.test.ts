import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { hashPassword } from './auth/password-file.js';
import {
  ConfigError, LIMIT_SPECS, effectiveAllowAnonymous, loadConfig, parseConfigText, readConfigFile, validateConfig,
} from './config.js';
import { generateDevCerts, type DevCertFiles } from './tls/dev-certs.js';

const here = dirname(fileURLToPath(import.meta.url));
const EXAMPLE = join(here, 'broker.example.json');

function issuesOf(raw: unknown): string[] {
  try {
    validateConfig(raw, { baseDir: '/cfg', source: 'broker.json' });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('validateConfig', () => {
  test('empty config: TCP on 127.0.0.1:1883, defaults', () => {
    const c = validateConfig({});
    expect(c.listeners).toEqual({ tcp: { host: '127.0.0.1', port: 1883 } });
    expect(c).toMatchObject({ limits: {}, noDelay: true, logLevel: 'info', allowAnonymous: undefined });
    expect(effectiveAllowAnonymous(c)).toBe(true);
  });

  test('broker.example.json is valid and has every field', () => {
    const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { limits: Record<string, unknown>; listeners: Record<string, { port: number }> };
    expect(Object.keys(raw.limits).sort()).toEqual(Object.keys(LIMIT_SPECS).sort());
    expect(Object.fromEntries(Object.entries(raw.listeners).map(([k, v]) => [k, v.port]))).toEqual({ tcp: 1883, tls: 8883, ws: 8083, wss: 8084 });
    const c = readConfigFile(EXAMPLE);
    expect(c.listeners.tls).toMatchObject({ port: 8883, key: join(here, 'certs/server.key'), requireClientCert: true, useCertificateCN: true });
    expect(c.listeners.wss).toMatchObject({ port: 8084, path: '/mqtt', ca: join(here, 'certs/ca.crt') });
    expect(c.passwordFile).toBe(join(here, 'passwd'));
    expect(c.limits).toEqual(raw.limits);
    expect(effectiveAllowAnonymous(c)).toBe(false);
  });

  test('relative paths resolve against baseDir, absolute ones stay', () => {
    const c = validateConfig({ passwordFile: 'p', aclFile: '/etc/acl' }, { baseDir: '/srv/mqtt' });
    expect(c.passwordFile).toBe('/srv/mqtt/p');
    expect(c.aclFile).toBe('/etc/acl');
  });

  test.each([
    [[], /^\(top level\): expected an object, got an array$/],
    [{ listners: {} }, /^listners: unknown field \(did you mean 'listeners'\?\)$/],
    [{ colour: 1 }, /^colour: unknown field \(expected one of: listeners, passwordFile, aclFile, allowAnonymous, limits, dataDir, fsync, noDelay, logLevel\)$/],
    [{ listeners: {} }, /^listeners: no listener is enabled; expected at least one of tcp, tls, ws, wss$/],
    [{ listeners: { tcp: false } }, /^listeners: no listener is enabled/],
    [{ listeners: { tcp: true } }, /^listeners\.tcp: expected an object such as \{"port": 1883\}/],
    [{ listeners: { tcp: { port: 'abc' } } }, /^listeners\.tcp\.port: expected an integer from 0 to 65535, got "abc"$/],
    [{ listeners: { tcp: { port: 70000 } } }, /^listeners\.tcp\.port: expected an integer from 0 to 65535, got 70000$/],
    [{ listeners: { tcp: { host: 5 } } }, /^listeners\.tcp\.host: expected a host name or IP address/],
    [{ listeners: { tcp: { port: 1, path: '/x' } } }, /^listeners\.tcp\.path: unknown field/],
    [{ listeners: { ws: { path: 'mqtt' } } }, /^listeners\.ws\.path: expected a URL path starting with '\/', got "mqtt"$/],
    [{ listeners: { tls: { cert: 'c.pem' } } }, /^listeners\.tls\.key: a TLS listener needs the server private key/],
    [{ listeners: { wss: { key: 'k.pem' } } }, /^listeners\.wss\.cert: a TLS listener needs the server certificate/],
    [{ listeners: { tls: { key: 'k', cert: 'c', requireClientCert: true } } }, /^listeners\.tls\.ca: requireClientCert needs the CA bundle/],
    [{ listeners: { tls: { key: 'k', cert: 'c', useCertificateCN: true } } }, /^listeners\.tls\.useCertificateCN: needs requireClientCert: true/],
    [{ listeners: { tls: { key: 'k', cert: 'c', requireClientCert: 'yes', ca: 'a' } } }, /^listeners\.tls\.requireClientCert: expected true or false, got "yes"$/],
    [{ passwordFile: '' }, /^passwordFile: expected a file path \(non-empty string\), got ""$/],
    [{ aclFile: ['a'] }, /^aclFile: expected a file path \(non-empty string\), got an array$/],
    [{ allowAnonymous: false }, /^allowAnonymous: is false but there is no passwordFile and no listener with useCertificateCN/],
    [{ allowAnonymous: 'no' }, /^allowAnonymous: expected true or false, got "no"$/],
    [{ limits: [] }, /^limits: expected an object, got an array$/],
    [{ limits: { maxQoS: 3 } }, /^limits\.maxQoS: expected one of 0, 1, 2, got 3$/],
    [{ limits: { receiveMaximum: 0 } }, /^limits\.receiveMaximum: expected an integer from 1 to 65535, got 0$/],
    [{ limits: { maxPacketSize: 1.5 } }, /^limits\.maxPacketSize: expected an integer from 16 to 268435460, got 1\.5$/],
    [{ limits: { retainAvailable: 'yes' } }, /^limits\.retainAvailable: expected true or false, got "yes"$/],
    [{ limits: { responseInformation: 5 } }, /^limits\.responseInformation: expected a string, got 5$/],
    [{ limits: { maxQos: 1 } }, /^limits\.maxQos: unknown field \(did you mean 'maxQoS'\?\)$/],
    [{ limits: { faults: ['x'] } }, /^limits\.faults: unknown field/],
    [{ limits: { maxSessionExpiryInterval: -1 } }, /^limits\.maxSessionExpiryInterval: expected an integer from 0 to 4294967295, got -1$/],
    [{ limits: { queueHighWaterMark: 10, queueLowWaterMark: 10 } }, /^limits\.queueLowWaterMark: must be below limits\.queueHighWaterMark \(10\), got 10$/],
    [{ limits: { maxPendingConnections: 0 } }, /^limits\.maxPendingConnections: expected an integer from 1 to /],
    [{ dataDir: '' }, /^dataDir: expected a file path \(non-empty string\), got ""$/],
    [{ fsync: true }, /^fsync: needs dataDir/],
    [{ dataDir: 'd', fsync: 'always' }, /^fsync: expected true or false, got "always"$/],
    [{ noDelay: null }, /^noDelay: expected true or false, got null$/],
    [{ logLevel: 'verbose' }, /^logLevel: expected one of "debug", "info", "warn", "error", "silent", got "verbose"$/],
  ])('%j', (raw, problem) => {
    const issues = issuesOf(raw);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(problem);
  });

  test('every problem is reported at once, under the source name', () => {
    let err: ConfigError | undefined;
    try {
      validateConfig({ listeners: { tcp: { port: -1 } }, limits: { maxQoS: 9 }, logLevel: 1 }, { source: 'my.json' });
    } catch (e) { err = e as ConfigError; }
    expect(err?.issues).toHaveLength(3);
    expect(err?.message).toMatch(/^my\.json: 3 problems:\n  - listeners\.tcp\.port: /);
  });

  test('parseConfigText gives line and column', () => {
    expect(() => parseConfigText('{\n  "a": 1,\n}', 'b.json')).toThrow(/^b\.json: not valid JSON at line 3, column 1: /);
  });

  test('readConfigFile names an unreadable file', () => {
    expect(() => readConfigFile('/nonexistent/broker.json')).toThrow(/^\/nonexistent\/broker\.json: cannot read the config file: ENOENT/);
  });
});

function hasOpenssl(): boolean {
  try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

describe('loadConfig', () => {
  let dir: string;
  let certs: DevCertFiles | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqtt-testbed-config-'));
    if (hasOpenssl()) certs = generateDevCerts(join(dir, 'certs'), { clients: ['sensor'] });
    else console.warn('openssl not found: TLS parts of the loadConfig tests are skipped (Debian: apt-get install openssl)');
    writeFileSync(join(dir, 'passwd'), `sensor:${await hashPassword('pw', { N: 1024, r: 8, p: 1 })}\n`);
    writeFileSync(join(dir, 'acl'), 'user sensor\ntopic write sensors/#\n');
  });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  test('builds StartOptions: listeners, limits, hooks', () => {
    const config = validateConfig({
      listeners: { ws: { port: 0, path: '/m' } },
      passwordFile: 'passwd', aclFile: 'acl', limits: { maxQoS: 1, maxConnections: 5 }, noDelay: false,
    }, { baseDir: dir });
    const { options, passwords, acl } = loadConfig(config);
    expect(options).toMatchObject({ tcp: false, tls: false, wss: false, ws: { host: '127.0.0.1', port: 0, path: '/m' }, maxQoS: 1, maxConnections: 5, noDelay: false });
    expect([...passwords!.keys()]).toEqual(['sensor']);
    expect(acl!.users.get('sensor')).toHaveLength(1);
    expect(typeof options.hooks?.authenticate).toBe('function');
    expect(typeof options.hooks?.authorizePublish).toBe('function');
  });

  test('dataDir (relative to the config file) and fsync reach the broker options', () => {
    const { options } = loadConfig(validateConfig({ dataDir: 'state', fsync: true }, { baseDir: dir }));
    expect(options).toMatchObject({ dataDir: join(dir, 'state'), fsync: true });
    expect(loadConfig(validateConfig({})).options.dataDir).toBeUndefined();
  });

  test('missing files are named with their field', () => {
    const config = validateConfig({
      listeners: { tls: { port: 0, key: 'nokey.pem', cert: 'nocert.pem' } }, passwordFile: 'nopasswd', aclFile: 'noacl',
    }, { baseDir: dir });
    let err: ConfigError | undefined;
    try { loadConfig(config, { source: 'x.json' }); } catch (e) { err = e as ConfigError; }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.issues).toEqual([
      expect.stringMatching(/^listeners\.tls\.key: cannot read ".*nokey\.pem": ENOENT/),
      expect.stringMatching(/^listeners\.tls\.cert: cannot read ".*nocert\.pem": ENOENT/),
      expect.stringMatching(/^passwordFile: .*nopasswd: cannot read: ENOENT/),
      expect.stringMatching(/^aclFile: .*noacl: cannot read: ENOENT/),
    ]);
  });

  test('password and ACL parse errors keep file and line', () => {
    writeFileSync(join(dir, 'bad-passwd'), '# ok\nsensor\n');
    writeFileSync(join(dir, 'bad-acl'), 'topic write\n');
    const config = validateConfig({ passwordFile: 'bad-passwd', aclFile: 'bad-acl' }, { baseDir: dir });
    expect(() => loadConfig(config)).toThrow(/passwordFile: .*bad-passwd:2: expected 'username:\$scrypt\$\.\.\.'[\s\S]*aclFile: .*bad-acl:1: 'topic write' needs a topic filter/);
  });

  test('TLS material is read; a key that does not fit the certificate is reported', (ctx) => {
    if (!certs) { ctx.skip(); return; }
    const ok = validateConfig({ listeners: { tls: { port: 0, key: certs.serverKey, cert: certs.serverCert, ca: certs.caCert, requireClientCert: true, useCertificateCN: true } } });
    const { options } = loadConfig(ok);
    expect(options.tls).toMatchObject({ port: 0, requireClientCert: true });
    expect(Buffer.isBuffer((options.tls as { key: Buffer }).key)).toBe(true);
    const bad = validateConfig({ listeners: { wss: { port: 0, key: certs.clients.sensor!.key, cert: certs.serverCert } } });
    expect(() => loadConfig(bad)).toThrow(/listeners\.wss: the key, certificate and CA files do not load together/);
  });
});

/**
 * The built `mqtt-testbed` command as a child process: passwd, certs, help,
 * broker (config file + flags, auth, ACL, SIGTERM shutdown with DISCONNECT
 * 0x8B), and exit code 2 for bad configuration.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt, { type MqttClient, type Packet } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';

import { MAIN, newestSource, ROOT } from '../reference-broker/listeners/broker-process.js';
const WAIT_MS = 10_000;

function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}


interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs the CLI to completion (with a timeout). */
function run(args: string[], opts: { stdin?: string; cwd?: string } = {}): Promise<Run> {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: opts.cwd ?? ROOT, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdin.end(opts.stdin ?? '');
  return within(new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))), `mqtt-testbed ${args.join(' ')}`)
    .finally(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
}

let dir: string;
const children: ChildProcessWithoutNullStreams[] = [];
const clients: MqttClient[] = [];

beforeAll(() => {
  // Build when dist/ is missing or older than the sources (npm test builds first; a direct vitest run may not have).
  if (!existsSync(MAIN) || statSync(MAIN).mtimeMs < newestSource()) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
    } catch {
      // Type errors elsewhere in the project still emit JavaScript; the checks below need only the CLI.
    }
  }
  expect(existsSync(MAIN)).toBe(true);
  expect(readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'mqtt-testbed-cli-'));
}, 120_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => within(c.endAsync(true), 'client close')));
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mqtt-testbed', () => {
  test('help exits 0; unknown or missing command prints usage and exits 2', async () => {
    const help = await run(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: mqtt-testbed <command>/);
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'[\s\S]*usage: mqtt-testbed/);
    expect((await run([])).code).toBe(2);
  });

  test('passwd: --password-stdin adds and replaces; without a TTY or --password-stdin it refuses', async () => {
    const file = join(dir, 'pw-passwd');
    const added = await run(['passwd', file, 'alice', '--password-stdin'], { stdin: 'first\n' });
    expect(added).toMatchObject({ code: 0 });
    expect(added.stderr).toMatch(/added user 'alice'/);
    const before = readFileSync(file, 'utf8');
    expect(before).toMatch(/^alice:\$scrypt\$N=16384,r=8,p=1\$/);
    expect(before).not.toContain('first');
    const replaced = await run(['passwd', file, 'alice', '--password-stdin'], { stdin: 'second' });
    expect(replaced.stderr).toMatch(/replaced user 'alice'/);
    expect(readFileSync(file, 'utf8')).not.toBe(before);

    const noTty = await run(['passwd', file, 'bob']);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/standard input is not a terminal: pass --password-stdin/);
    expect((await run(['passwd', file])).code).toBe(2);
    expect((await run(['passwd', file, 'bad:name', '--password-stdin'], { stdin: 'x' })).code).toBe(2);
    const empty = await run(['passwd', file, 'bob', '--password-stdin'], { stdin: '\n' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/empty password/);
  });

  test('broker: config file + overriding flags, password file and ACL, SIGTERM → DISCONNECT 0x8B and exit 0', async () => {
    const id = randomUUID().slice(0, 8);
    const pw = `pw-${id}`;
    await run(['passwd', 'passwd', 'sensor', '--password-stdin'], { cwd: dir, stdin: pw });
    writeFileSync(join(dir, 'acl'), 'user sensor\ntopic write sensors/#\ntopic read sensors/#\n');
    // The file asks for port 1883; --port 0 must win. Paths in the file are relative to it.
    writeFileSync(join(dir, 'broker.json'), JSON.stringify({
      listeners: { tcp: { host: '127.0.0.1', port: 1883 } }, passwordFile: 'passwd', aclFile: 'acl', limits: { maxQoS: 1 }, logLevel: 'debug',
    }));
    const child = spawn(process.execPath, [MAIN, 'broker', '--config', join(dir, 'broker.json'), '--port', '0', '--log-level', 'info'], { cwd: ROOT, stdio: 'pipe' });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const url = await within(new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (l) => { if (/^mqtt:\/\//.test(l)) resolve(l.trim()); });
      child.on('exit', (code) => reject(new Error(`broker exited with ${String(code)} before printing its address:\n${stderr}`)));
    }), 'the bound address on stdout');
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:1883$/);

    // Wrong password refused; right one accepted; ACL applies.
    const refused = await within(mqtt.connectAsync(url, { protocolVersion: 5, username: 'sensor', password: 'nope', reconnectPeriod: 0, clientId: `bad-${id}` }, false).then(
      (c) => { clients.push(c); return undefined; }, (e: unknown) => e), 'refusal');
    expect(refused).toMatchObject({ code: 0x86 });
    const c = await within(mqtt.connectAsync(url, { protocolVersion: 5, username: 'sensor', password: pw, reconnectPeriod: 0, clientId: `cli-${id}` }, false), 'CONNACK');
    clients.push(c);
    await within(c.subscribeAsync(`sensors/${id}/#`, { qos: 1 }), 'SUBACK');
    const denied = await within(c.publishAsync('device/firmware/update', 'x', { qos: 1 }).then(() => undefined, (e: unknown) => e), 'PUBACK');
    expect(denied).toMatchObject({ code: 0x87 });
    const echoed = within(new Promise<string>((resolve) => c.once('message', (t) => resolve(t))), 'own message back');
    await within(c.publishAsync(`sensors/${id}/t`, 'hi', { qos: 1 }), 'PUBACK');
    expect(await echoed).toBe(`sensors/${id}/t`);

    const disconnect = within(new Promise<Packet>((resolve) => c.once('disconnect', resolve)), 'DISCONNECT from the broker');
    child.kill('SIGTERM');
    expect(await disconnect).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8b });
    expect(await within(exited, 'broker exit')).toEqual({ code: 0, signal: null });

    const lines = stderr.trim().split('\n');
    expect(lines.every((l) => /^ts=\d{4}-\d\d-\d\dT\S+Z level=(debug|info|warn|error) msg="[^"]*"/.test(l))).toBe(true);
    expect(stderr).toMatch(/msg="listening" kind=tcp host=127\.0\.0\.1 port=\d+/);
    expect(stderr).toMatch(/msg="CONNECT refused" .*why=bad-credentials/);
    expect(stderr).toMatch(/msg="client connected" clientId=cli-\S+ username=sensor/);
    expect(stderr).toMatch(/msg="PUBLISH denied" .*topic=device\/firmware\/update/);
    expect(stderr).toMatch(/msg="shutting down" signal=SIGTERM/);
    expect(stderr).toMatch(/msg="broker stopped"/);
    expect(stderr).not.toMatch(/level=debug/); // --log-level info overrode the file's debug
    expect(stderr).not.toContain(pw);
    expect(stderr).not.toContain('nope');
  });

  test('broker: a bad config exits 2 and says what is wrong', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ listeners: { tcp: { port: 'x' } }, limits: { maxQoS: 5 } }));
    const r = await run(['broker', '--config', join(dir, 'bad.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: 2 problems:\n {2}- listeners\.tcp\.port: expected an integer from 0 to 65535, got "x"\n {2}- limits\.maxQoS: expected one of 0, 1, 2, got 5/);
    const missing = await run(['broker', '--port', '0', '--acl-file', join(dir, 'no-such-acl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/aclFile: .*no-such-acl: cannot read/);
    expect(missing.stdout).toBe('');
  });

  test('certs: writes the CA, server and client certificates', async (ctx) => {
    try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); } catch { ctx.skip(); return; }
    const r = await run(['certs', 'certs', '--client', 'sensor', '--client', 'gateway'], { cwd: dir });
    expect(r.code).toBe(0);
    for (const f of ['ca.crt', 'server.crt', 'server.key', 'client-sensor.crt', 'client-gateway.key']) expect(existsSync(join(dir, 'certs', f))).toBe(true);
    expect(r.stdout).toContain(`client-cert sensor ${join(dir, 'certs', 'client-sensor.crt')}`);
    expect((await run(['certs'])).code).toBe(2);
  });
});

/** The interop tests' own plumbing: tool lookup, skip reasons, and child processes that always end. */
import { dirname } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ChildProcesses, externalToolsRequired, findExecutable, lookupTools, useChildProcesses } from './external-tools.js';

const node = process.execPath;

describe('tool lookup', () => {
  test('finds an executable on PATH, not a missing one', () => {
    expect(findExecutable('node', dirname(node))).toBe(node);
    expect(findExecutable(node)).toBe(node);
    expect(findExecutable('surely-no-such-program-here', dirname(node))).toBeUndefined();
  });

  test('a missing tool gets a reason that says how to install it', () => {
    const r = lookupTools(['mosquitto_pub', 'openssl'], '/nonexistent');
    expect(r.missing).toEqual(['mosquitto_pub', 'openssl']);
    expect(r.reason).toBe('mosquitto_pub not found: run scripts/install-system-deps.sh mqtt; openssl not found: run scripts/install-system-deps.sh mqtt');
    expect(r.paths.mosquitto_pub).toBe('mosquitto_pub');
  });

  test('REQUIRE_EXTERNAL=1 turns skips into failures', () => {
    expect(externalToolsRequired({ REQUIRE_EXTERNAL: '1' })).toBe(true);
    expect(externalToolsRequired({})).toBe(false);
    expect(externalToolsRequired({ REQUIRE_EXTERNAL: '0' })).toBe(false);
  });
});

describe('child processes', () => {
  const procs = useChildProcesses(5000);

  test('a child that outlives its timeout is killed by PID', async () => {
    const r = await procs.run(node, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 300 });
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', code: null });
  });

  test('stdin is written and closed; output and exit code are collected', async () => {
    const r = await procs.run(node, ['-e', 'process.stdin.pipe(process.stdout); process.stdin.on("end", () => process.exitCode = 3)'], { stdin: 'a\nb\n' });
    expect(r).toMatchObject({ code: 3, stdout: 'a\nb\n', timedOut: false });
  });

  test('waitForOutput resolves on a match and rejects when the child exits without one', async () => {
    const c = procs.spawn(node, ['-e', 'console.log("ready"); setInterval(() => {}, 1000)']);
    await expect(c.waitForOutput('ready')).resolves.toContain('ready');
    expect(c.running).toBe(true);
    const quiet = procs.spawn(node, ['-e', 'console.log("something else")']);
    await expect(quiet.waitForOutput(/never/)).rejects.toThrow(/exited before printing/);
  });

  test('killAll ends every running child', async () => {
    const group = new ChildProcesses(5000);
    const a = group.spawn(node, ['-e', 'setInterval(() => {}, 1000)']);
    const b = group.spawn(node, ['-e', 'setInterval(() => {}, 1000)']);
    expect(group.running).toBe(2);
    await group.killAll();
    expect(group.running).toBe(0);
    expect([(await a.exited).signal, (await b.exited).signal]).toEqual(['SIGKILL', 'SIGKILL']);
  });

  test('a program that does not exist reports a spawn error', async () => {
    const r = await procs.run('/nonexistent/program', []);
    expect(r.spawnError).toMatch(/ENOENT/);
    expect(r.code).toBeNull();
  });
});

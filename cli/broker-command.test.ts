import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { applyBrokerFlags, parseBrokerFlags } from './broker-command.js';
import { UsageError } from './io.js';
import { formatLogLine, lineLogger } from './log.js';

const apply = (raw: unknown, argv: string[]) => applyBrokerFlags(raw, parseBrokerFlags(argv), '/work');

describe('applyBrokerFlags', () => {
  test('no flags: the config as it was', () => {
    const raw = { listeners: { tcp: { port: 1883 } }, limits: { maxQoS: 1 } };
    expect(apply(raw, [])).toEqual(raw);
  });

  test('ports override the config and add listeners; other config listeners stay', () => {
    const out = apply({ listeners: { tcp: { host: '0.0.0.0', port: 1883 }, ws: { port: 8083 } } }, ['--port', '0', '--tls-port', '8883']);
    expect(out.listeners).toEqual({ tcp: { host: '0.0.0.0', port: 0 }, ws: { port: 8083 }, tls: { port: 8883 } });
  });

  test('listener flags replace the default listener', () => {
    expect(apply({}, ['--ws-port', '9001']).listeners).toEqual({ ws: { port: 9001 } });
  });

  test('--host applies to every listener (and to the default one)', () => {
    expect(apply({ listeners: { tcp: { port: 1 }, ws: { port: 2 }, wss: false } }, ['--host', '::1']).listeners)
      .toEqual({ tcp: { port: 1, host: '::1' }, ws: { port: 2, host: '::1' }, wss: false });
    expect(apply({}, ['--host', '0.0.0.0']).listeners).toEqual({ tcp: { port: 1883, host: '0.0.0.0' } });
  });

  test('TLS flags go to the tls and wss listeners; paths resolve against the working directory', () => {
    const out = apply({}, ['--tls-port', '0', '--wss-port', '0', '--cert', 'c.pem', '--key', '/k.pem', '--ca', 'ca.pem', '--require-client-cert', '--use-certificate-cn']);
    const tls = { port: 0, cert: '/work/c.pem', key: '/k.pem', ca: '/work/ca.pem', requireClientCert: true, useCertificateCN: true };
    expect(out.listeners).toEqual({ tls, wss: tls });
  });

  test('--data-dir resolves against the working directory; --fsync', () => {
    expect(apply({ dataDir: '/old' }, ['--data-dir', 'state', '--fsync'])).toEqual({ dataDir: '/work/state', fsync: true });
  });

  test('auth and log flags', () => {
    expect(apply({ allowAnonymous: false }, ['--password-file', 'pw', '--acl-file', '/etc/acl', '--allow-anonymous', '--log-level', 'debug']))
      .toEqual({ passwordFile: '/work/pw', aclFile: '/etc/acl', allowAnonymous: true, logLevel: 'debug' });
  });

  test.each([
    [['--port', 'abc'], /--port: expected a port number from 0 to 65535, got 'abc'/],
    [['--tls-port', '70000'], /--tls-port: expected a port number/],
    [['--cert', 'c.pem'], /need a TLS listener/],
    [['--log-level', 'loud'], /--log-level: expected one of debug, info, warn, error, silent/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['extra'], /Unexpected argument 'extra'|does not take positional arguments/],
  ])('%j is a usage error', (argv, problem) => {
    expect(() => apply({}, argv)).toThrow(UsageError);
    expect(() => apply({}, argv)).toThrow(problem);
  });
});

describe('log lines', () => {
  test('key=value after timestamp and level; quoting keeps one event on one line; secrets redacted', () => {
    const line = formatLogLine('info', 'client connected', {
      clientId: 'c 1', username: 'sensor', n: 3, ok: true, gone: undefined, text: 'a\nb', password: 'hunter2', url: 'mqtt://127.0.0.1:1883',
    }, new Date(0));
    expect(line).toBe('ts=1970-01-01T00:00:00.000Z level=info msg="client connected" clientId="c 1" username=sensor n=3 ok=true text="a\\nb" password=[redacted] url=mqtt://127.0.0.1:1883');
  });

  test('level filter', () => {
    const lines: string[] = [];
    const out = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } });
    const log = lineLogger('warn', out);
    log.info('hidden');
    log.warn('shown', { a: 1 });
    log.error('shown too');
    expect(lines.map((l) => /level=(\w+)/.exec(l)?.[1])).toEqual(['warn', 'error']);
    expect(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1)).toBe(true);
  });
});

/**
 * `mqtt-testbed certs <dir> [--client NAME ...]`: throwaway CA, server and
 * client certificates for local TLS tests (generateDevCerts; needs openssl).
 * Existing complete sets in <dir> are reused.
 */
import { resolve } from 'node:path';
import { generateDevCerts } from '../reference-broker/index.js';
import { parseCommandArgs, UsageError, type CliIo } from './io.js';

export const CERTS_USAGE = `mqtt-testbed certs <dir> [--client NAME ...] [--host NAME ...] [--days N]

  Writes a throwaway CA, a server certificate for localhost/127.0.0.1/::1 (plus --host names),
  one client certificate per --client (CN = NAME; default: client) and a rogue client
  certificate from an untrusted CA into <dir>. Not for production.`;

export async function certsCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  parsed = parseCommandArgs({
      args: argv,
      options: {
        client: { type: 'string', multiple: true },
        host: { type: 'string', multiple: true },
        days: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  if (parsed.values.help) {
    io.stdout.write(`${CERTS_USAGE}\n`);
    return 0;
  }
  const [dir, ...extra] = parsed.positionals;
  if (dir === undefined || extra.length > 0) throw new UsageError('certs needs exactly one argument: <dir>');
  const days = parsed.values.days;
  if (days !== undefined && !/^[1-9]\d{0,4}$/.test(days)) throw new UsageError(`--days: expected a whole number of days, got '${days}'`);
  const files = generateDevCerts(resolve(io.cwd, dir), {
    clients: parsed.values.client,
    hosts: parsed.values.host,
    days: days !== undefined ? Number(days) : undefined,
  });
  const lines = [
    `ca-cert ${files.caCert}`,
    `server-cert ${files.serverCert}`,
    `server-key ${files.serverKey}`,
    ...Object.entries(files.clients).flatMap(([cn, f]) => [`client-cert ${cn} ${f.cert}`, `client-key ${cn} ${f.key}`]),
    `rogue-client-cert ${files.rogueClient.cert}`,
    `rogue-client-key ${files.rogueClient.key}`,
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  io.stderr.write(`try: mqtt-testbed broker --tls-port 8883 --cert ${files.serverCert} --key ${files.serverKey} --ca ${files.caCert} --require-client-cert --use-certificate-cn\n`);
  return 0;
}

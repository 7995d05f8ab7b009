/**
 * `mqtt-testbed passwd <file> <username> [--password-stdin]`: adds a user
 * to a password file or replaces its password (atomically). The password
 * comes from standard input with --password-stdin (one trailing newline is
 * removed), else from a hidden prompt when standard input is a terminal.
 */
import { resolve } from 'node:path';
import { usernameProblem, writeUser } from '../reference-broker/auth/password-file.js';
import { parseCommandArgs, UsageError, type CliIo } from './io.js';

export const PASSWD_USAGE = `mqtt-testbed passwd <file> <username> [--password-stdin]

  Adds <username> to the password file <file> (created if missing) or replaces its password.
  --password-stdin   read the password from standard input (for scripts and CI)
  Without it the password is asked for twice on the terminal, without echo.`;

async function readAll(stream: CliIo['stdin']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Reads one line from a TTY in raw mode without echoing it. */
function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin;
  return new Promise((resolvePrompt, reject) => {
    let text = '';
    io.stderr.write(prompt);
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolvePrompt(text);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') text = Array.from(text).slice(0, -1).join('');
        else if (ch >= ' ') text += ch;
      }
    };
    stdin.setRawMode?.(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

export async function passwdCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  parsed = parseCommandArgs({ args: argv, options: { 'password-stdin': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (parsed.values.help) {
    io.stdout.write(`${PASSWD_USAGE}\n`);
    return 0;
  }
  const [file, username, ...extra] = parsed.positionals;
  if (file === undefined || username === undefined || extra.length > 0) throw new UsageError('passwd needs exactly two arguments: <file> <username>');
  const bad = usernameProblem(username);
  if (bad) throw new UsageError(bad);

  let password: Buffer;
  if (parsed.values['password-stdin']) {
    const text = (await readAll(io.stdin)).toString('utf8');
    password = Buffer.from(text.replace(/\r?\n$/, ''), 'utf8');
  } else if (io.stdin.isTTY) {
    const first = await promptHidden(io, `Password for ${username}: `);
    const again = await promptHidden(io, 'Again: ');
    if (first !== again) {
      io.stderr.write('mqtt-testbed passwd: the passwords differ; nothing changed\n');
      return 1;
    }
    password = Buffer.from(first, 'utf8');
  } else {
    throw new UsageError('standard input is not a terminal: pass --password-stdin and write the password to standard input');
  }
  if (password.length === 0) {
    io.stderr.write('mqtt-testbed passwd: empty password; nothing changed\n');
    return 1;
  }
  const path = resolve(io.cwd, file);
  const what = await writeUser(path, username, password);
  io.stderr.write(`${what} user '${username}' in ${path}\n`);
  return 0;
}

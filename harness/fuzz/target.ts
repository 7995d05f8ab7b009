/**
 * What the fuzzer fuzzes: a broker URL plus what the oracle may assume about
 * it (a ServerModel), and — when the fuzzer runs the broker itself — its
 * process: for crash detection, memory readings and restarts between shrink
 * attempts.
 *
 * The default target is the reference broker as a child process
 * (`mqtt-testbed broker` with a generated config), so that a crash ends that
 * process, not the fuzzer, and its resident memory is its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerCommandLine } from '../../reference-broker/listeners/broker-process.js';
import { pidAlive, projectRoot, spawnChild, type Child } from '../launchers/child-process.js';
import type { Profile } from '../profile.js';
import type { TlsClientOptions } from '../transport.js';
import { modelFromProfile, referenceModel, type ReferenceFuzzLimits, type ServerModel } from './server-model.js';

export interface FuzzTarget {
  /** For reports, e.g. 'reference broker (child process)'. */
  readonly label: string;
  /** The oracle knows this broker's configuration exactly: every mismatch is a failure. */
  readonly exact: boolean;
  readonly model: ServerModel;
  readonly restartable: boolean;
  readonly tls?: TlsClientOptions | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  url(): string;
  /** The broker's process id, when it can be read from /proc. */
  pid(): number | undefined;
  /** Why the broker process is gone, or undefined while it runs (or when it is not ours to watch). */
  exitInfo(): string | undefined;
  /** Error lines the broker logged since the last call (when its log is ours to read). */
  takeErrors(): string[];
  /** Stops the broker (if ours) and starts it again; the URL may change. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The limits the fuzzer runs the reference broker with, and why. */
export const FUZZ_BROKER_LIMITS: ReferenceFuzzLimits & { maxSessionExpiryInterval: number } = {
  // Small enough that "beyond the Maximum Packet Size" costs little to send, large enough for every generated packet.
  maxPacketSize: 65_536,
  topicAliasMaximum: 1024,
  receiveMaximum: 65_535,
  // Persistent sessions of fuzz cases expire after 2 s, so the session store stays bounded and memory can be judged.
  maxSessionExpiryInterval: 2,
};

/** `node … broker`: dist/cli/main.js when this code runs compiled (npm run fuzz builds first), else as reference-broker/listeners/broker-process.ts builds it (tests run the sources). */
function brokerArgv(): { argv: string[]; dispose(): void } {
  if (!fileURLToPath(import.meta.url).endsWith('.ts')) {
    return { argv: [process.execPath, join(projectRoot(), 'dist', 'cli', 'main.js'), 'broker'], dispose() {} };
  }
  return brokerCommandLine();
}

export interface ReferenceProcessOptions {
  limits?: Partial<typeof FUZZ_BROKER_LIMITS>;
  /** The broker's log (stdout and stderr) is appended here. */
  logFile?: string | undefined;
}

/** Starts `mqtt-testbed broker` on a free port of 127.0.0.1 with the fuzz limits; resolves once it prints its URL. */
export async function launchReferenceProcess(o: ReferenceProcessOptions = {}): Promise<FuzzTarget> {
  const limits = { ...FUZZ_BROKER_LIMITS, ...o.limits };
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-testbed-fuzz-'));
  const config = join(dir, 'broker.json');
  writeFileSync(config, JSON.stringify({ listeners: { tcp: { host: '127.0.0.1', port: 0 } }, limits, logLevel: 'warn' }, null, 2));
  const command = brokerArgv();
  let child: Child | undefined;
  let url = '';
  let errors: string[] = [];

  const start = async (): Promise<void> => {
    const [node, ...args] = command.argv;
    const c = spawnChild(node!, [...args, '--config', config], { name: 'reference broker', logFile: o.logFile, cwd: projectRoot() });
    child = c;
    let partial = '';
    c.process.stderr?.on('data', (chunk: string | Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.includes('level=error') && errors.length < 100) errors.push(l);
    });
    url = (await c.waitForLine(/^mqtt:\/\//, 30_000, 'its listener URL')).trim();
  };
  await start();

  return {
    label: 'reference broker (child process: mqtt-testbed broker)',
    exact: true,
    model: referenceModel(limits),
    restartable: true,
    url: () => url,
    pid: () => (child && !child.exited ? child.process.pid : undefined),
    exitInfo: () => {
      if (!child?.exited) return undefined;
      const code = child.process.exitCode;
      const signal = child.process.signalCode;
      return `the broker process exited ${signal ? `on ${signal}` : `with code ${code}`}\n${child.tail()}`;
    },
    takeErrors: () => {
      const out = errors;
      errors = [];
      return out;
    },
    restart: async () => {
      await child?.stop(2000);
      await start();
    },
    close: async () => {
      await child?.stop(3000);
      command.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RemoteTargetOptions {
  profile?: Profile | undefined;
  /** A local broker's process id: memory is read and its exit noticed. */
  pid?: number | undefined;
  tls?: TlsClientOptions | undefined;
  username?: string | undefined;
  password?: string | undefined;
}

/** A broker someone else runs: not restartable; its memory is measurable only when its pid is given. */
export function remoteTarget(url: string, o: RemoteTargetOptions = {}): FuzzTarget {
  const pid = o.pid;
  return {
    label: `${o.profile?.name ?? 'broker'} at ${url}`,
    exact: false,
    model: modelFromProfile(o.profile),
    restartable: false,
    tls: o.tls,
    username: o.username,
    password: o.password,
    url: () => url,
    pid: () => (pid !== undefined && pidAlive(pid) ? pid : undefined),
    exitInfo: () => (pid !== undefined && !pidAlive(pid) ? `process ${pid} is gone` : undefined),
    takeErrors: () => [],
    restart: () => Promise.reject(new Error(`cannot restart ${url}: the fuzzer did not start it`)),
    close: () => Promise.resolve(),
  };
}

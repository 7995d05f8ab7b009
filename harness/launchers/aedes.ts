/**
 * Launches Aedes 1.x (npm) as a suite target in its own Node process
 * (harness/launchers/aedes-child.mjs): a TCP and a WebSocket listener on
 * 127.0.0.1, default options. Its own process, so that a broker that crashes
 * or hangs cannot take the test run with it. Profile: harness/profiles/aedes.json
 * (3.1.1 only — Aedes 1.x refuses protocol level 5) plus the listeners.
 * close() stops the process (SIGTERM, then SIGKILL).
 */
import { join } from 'node:path';
import type { Profile } from '../profile.js';
import { validateProfile } from '../profile-schema.js';
import aedesProfileJson from '../profiles/aedes.json' with { type: 'json' };
import type { LaunchedTarget } from '../target.js';
import { projectRoot, spawnChild } from './child-process.js';

export interface AedesLaunchOptions {
  /** How long the child may take to report its ports. Default 10000 ms. */
  startTimeoutMs?: number;
  /** Append the child's output (Aedes client errors) to this file. */
  logFile?: string;
}

export interface LaunchedAedes extends LaunchedTarget {
  pid: number;
  version: string;
}

interface Ready {
  ready: true;
  tcp: number;
  ws: number;
  pid: number;
  aedes: string;
}

export async function launchAedes(opts: AedesLaunchOptions = {}): Promise<LaunchedAedes> {
  const root = projectRoot();
  const script = join(root, 'harness', 'launchers', 'aedes-child.mjs');
  const child = spawnChild(process.execPath, [script], { name: 'aedes', cwd: root, logFile: opts.logFile });
  let ready: Ready;
  try {
    const line = await child.waitForLine(/^\{"ready":true/, opts.startTimeoutMs ?? 10_000, "Aedes' ready line");
    ready = JSON.parse(line) as Ready;
  } catch (e) {
    await child.stop(1000);
    const msg = (e as Error).message;
    const hint = /Cannot find (package|module) 'aedes'/.test(msg) ? ' (run npm install: aedes is a devDependency)' : '';
    throw new Error(`Aedes did not start${hint}: ${msg}`);
  }
  const profile = structuredClone(validateProfile(aedesProfileJson, 'harness/profiles/aedes.json')) as Profile & { $schema?: string; $comment?: string };
  delete profile.$schema;
  delete profile.$comment;
  const tcp = `mqtt://127.0.0.1:${ready.tcp}`;
  profile.url = tcp;
  profile.description = `Aedes ${ready.aedes} launched in a child process with default options (harness/launchers/aedes.ts)`;
  profile.listeners = { tcp, ws: `ws://127.0.0.1:${ready.ws}/mqtt` };
  let closing: Promise<void> | undefined;
  return {
    target: { url: tcp, profile, profileSource: 'launched: aedes', baseDir: '/' },
    pid: ready.pid,
    version: ready.aedes,
    close: () => (closing ??= child.stop(3000)),
  };
}

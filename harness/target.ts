/**
 * A target is a broker URL plus its profile: the same object whether the
 * broker runs in this process, as a child process, or somewhere else.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Profile, RoleCredentials } from './profile.js';
import { validateProfile } from './profile-schema.js';
import type { TlsClientOptions } from './transport.js';

export interface Target {
  url: string;
  profile: Profile;
  /** Where the profile came from (file path, or 'launched: …'). */
  profileSource: string;
  /** Directory that relative paths in the profile are resolved against. */
  baseDir: string;
}

/** A target some launcher started, with the way to stop it. */
export interface LaunchedTarget {
  target: Target;
  /** The in-process broker, when there is one (self-checks reach into it). */
  broker?: unknown;
  close(): Promise<void>;
}

function file(target: Target, path: string): Buffer {
  const p = isAbsolute(path) ? path : resolve(target.baseDir, path);
  try {
    return readFileSync(p);
  } catch (e) {
    throw new Error(`profile '${target.profile.name}' (${target.profileSource}) names ${p}, which cannot be read: ${(e as Error).message}`);
  }
}

/** Credentials of `role` (falling back to 'default'; undefined when the profile names none). */
export function roleCredentials(target: Target, role = 'default'): RoleCredentials | undefined {
  const c = target.profile.credentials;
  return c?.[role] ?? (role === 'default' ? undefined : undefined);
}

/** TLS options for connecting as `role`: the profile's CA, plus the role's client certificate when it has one. */
export function tlsOptions(target: Target, role = 'default', withClientCert = true): TlsClientOptions {
  const t = target.profile.tls ?? {};
  const cred = roleCredentials(target, role);
  return {
    ca: t.ca ? file(target, t.ca) : undefined,
    servername: t.servername,
    rejectUnauthorized: t.rejectUnauthorized ?? true,
    cert: withClientCert && cred?.cert ? file(target, cred.cert) : undefined,
    key: withClientCert && cred?.key ? file(target, cred.key) : undefined,
  };
}

/** URL of a listener kind ('tcp' is the target URL unless the profile names another). */
export function listenerUrl(target: Target, kind: 'tcp' | 'tls' | 'ws' | 'wss'): string | undefined {
  // The URL the user gave wins for its own kind; the profile names the other listeners.
  const scheme = target.url.split(':')[0];
  const kindOf: Record<string, string> = { mqtt: 'tcp', tcp: 'tcp', mqtts: 'tls', ssl: 'tls', tls: 'tls', ws: 'ws', wss: 'wss' };
  if (kindOf[scheme ?? ''] === kind) return target.url;
  return target.profile.listeners?.[kind];
}

/** Reads a profile JSON file and checks it against harness/profile-schema.json (ProfileError lists every problem). */
export function readProfileFile(path: string): { profile: Profile; baseDir: string } {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read broker profile ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new Error(`broker profile ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return { profile: validateProfile(json, path), baseDir: dirname(resolve(path)) };
}

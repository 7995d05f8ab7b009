/**
 * The broker the suites run against: BROKER_URL (+ BROKER_PROFILE) when set,
 * else the reference broker launched in this worker. One per test file.
 *
 * A BROKER_URL target is probed (harness/probe.ts) for whatever its profile
 * leaves out; the probed values are in suiteProbed() and go into the results.
 * BROKER_PROFILE alone (no BROKER_URL) uses the profile's own `url`.
 * REFERENCE_FAULTS=name[,name] launches the reference broker with those
 * faults on (reference-broker/core/faults.ts), for `mqtt-testbed selftest`.
 */
import { afterAll } from 'vitest';
import { LIMITED_REFERENCE, launchReference, withFaults } from '../../harness/launchers/reference.js';
import { probeCapabilities, type Probed } from '../../harness/probe.js';
import { parseBrokerUrl } from '../../harness/transport.js';
import { readProfileFile, type LaunchedTarget, type Target } from '../../harness/target.js';
import type { Profile } from '../../harness/profile.js';

let current: Promise<Target> | undefined;
let launched: LaunchedTarget | undefined;
let probed: Probed | undefined;
let hooked = false;

/** A profile that claims nothing: every test runs and what the broker lacks shows up as results. */
function unknownProfile(url: string): Profile {
  const addr = parseBrokerUrl(url);
  return { name: `${addr.host}:${addr.port}`, protocolVersions: ['3.1.1', '5.0'], topicPrefix: 'mqtt-testbed/' };
}

/** PROBE_BUDGET_MS bounds the capability probe (default 3000 ms); 0 turns probing off. */
function probeBudget(): number {
  const raw = process.env['PROBE_BUDGET_MS'];
  const n = raw === undefined || raw === '' ? 3000 : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : 3000;
}

async function byUrl(url: string, file: string | undefined): Promise<Target> {
  parseBrokerUrl(url); // clear error for a bad URL
  let target: Target;
  if (file) {
    const { profile, baseDir } = readProfileFile(file);
    target = { url, profile, profileSource: file, baseDir };
  } else {
    target = { url, profile: unknownProfile(url), profileSource: 'none (BROKER_PROFILE not set)', baseDir: process.cwd() };
  }
  const budgetMs = probeBudget();
  if (budgetMs === 0) {
    probed = {};
    return target;
  }
  // Without a profile the protocol versions are a guess: find out which ones the broker accepts.
  const result = await probeCapabilities(target, { budgetMs, stepTimeoutMs: Math.min(2000, budgetMs), versions: !file });
  probed = result.probed;
  return { ...target, profile: result.profile };
}

export function suiteTarget(): Promise<Target> {
  if (!hooked) {
    hooked = true;
    afterAll(async () => {
      const l = launched;
      launched = undefined;
      current = undefined;
      probed = undefined;
      await l?.close();
    });
  }
  current ??= (async () => {
    const file = process.env['BROKER_PROFILE'] || undefined;
    const url = process.env['BROKER_URL'] || (file ? readProfileFile(file).profile.url : undefined);
    // REFERENCE_FAULTS=name[,name]: the in-process reference broker with faults on (suite self-check).
    const faults = process.env['REFERENCE_FAULTS'] || undefined;
    if (url && faults) throw new Error('REFERENCE_FAULTS applies to the reference broker launched in-process: unset BROKER_URL / BROKER_PROFILE');
    if (url) return byUrl(url, file);
    if (file) throw new Error(`BROKER_PROFILE ${file} names no url and BROKER_URL is not set: set BROKER_URL=mqtt://host:port`);
    probed = {};
    // REFERENCE_VARIANT=limited: every optional capability off (the matrix's 'reference-limited').
    const limited = process.env['REFERENCE_VARIANT'] === 'limited';
    launched = await launchReference(withFaults(limited ? { broker: LIMITED_REFERENCE, name: 'reference-limited' } : {}, faults));
    return launched.target;
  })();
  return current;
}

/**
 * Capabilities probed for the current target (each with how it was found);
 * empty for the in-process reference broker, whose profile is complete.
 * Undefined until suiteTarget() has resolved.
 */
export function suiteProbed(): Probed | undefined {
  return probed;
}

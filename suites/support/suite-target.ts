/**
 * The broker the suites run against: BROKER_URL (+ BROKER_PROFILE) when set,
 * else the reference broker launched in this worker. One per test file.
 */
import { afterAll } from 'vitest';
import { launchReference } from '../../harness/launchers/reference.js';
import { parseBrokerUrl } from '../../harness/transport.js';
import { readProfileFile, type LaunchedTarget, type Target } from '../../harness/target.js';
import type { Profile } from '../../harness/profile.js';

let current: Promise<Target> | undefined;
let launched: LaunchedTarget | undefined;
let hooked = false;

/** A profile that claims nothing: every test runs and what the broker lacks shows up as results. */
function unknownProfile(url: string): Profile {
  const addr = parseBrokerUrl(url);
  return { name: `${addr.host}:${addr.port}`, protocolVersions: ['3.1.1', '5.0'], topicPrefix: 'mqtt-testbed/' };
}

export function suiteTarget(): Promise<Target> {
  if (!hooked) {
    hooked = true;
    afterAll(async () => {
      const l = launched;
      launched = undefined;
      current = undefined;
      await l?.close();
    });
  }
  current ??= (async () => {
    const url = process.env['BROKER_URL'];
    if (url) {
      parseBrokerUrl(url); // clear error for a bad URL
      const file = process.env['BROKER_PROFILE'];
      if (file) {
        const { profile, baseDir } = readProfileFile(file);
        return { url, profile, profileSource: file, baseDir };
      }
      return { url, profile: unknownProfile(url), profileSource: 'none (BROKER_PROFILE not set)', baseDir: process.cwd() };
    }
    launched = await launchReference();
    return launched.target;
  })();
  return current;
}

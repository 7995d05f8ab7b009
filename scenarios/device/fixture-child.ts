/**
 * A separate process for the crash and Ctrl-C tests (device.test.ts) and for
 * trying a profile by hand:
 *
 *   node <built>/scenarios/device/fixture-child.js hold <device> <link> [verify]
 *     sets the profile up, starts a sleeping process on each side, prints one
 *     JSON line describing everything it made, and waits to be killed.
 *   node <built>/scenarios/device/fixture-child.js exit|throw <device> <link>
 *     like hold, then ends at once by process.exit(3) or by an uncaught error
 *     (the exit handlers must tear down).
 *   node <built>/scenarios/device/fixture-child.js show <device> <link>
 *     sets the profile up (verified), prints the manifest, tears down.
 */
import { setupDeviceProfile } from './setup.js';

async function main(): Promise<void> {
  const [mode, device = 'pi-class', link, verify] = process.argv.slice(2);
  if (mode === 'show') {
    const s = await setupDeviceProfile({ device, ...(link ? { link } : {}), runId: 'fixture-show' });
    process.stdout.write(`${JSON.stringify(s.manifest, null, 2)}\n`);
    await s.teardown();
    return;
  }
  if (mode !== 'hold' && mode !== 'exit' && mode !== 'throw') throw new Error(`usage: fixture-child.js hold|exit|throw|show <device> [link] [verify]`);
  const s = await setupDeviceProfile({ device, ...(link ? { link } : {}), runId: 'fixture-hold', verify: verify === 'verify' });
  const dev = s.execDevice('sleep', ['1000'], { stdio: 'ignore' });
  const srv = s.execServer('sleep', ['1000'], { stdio: 'ignore' });
  const relay = (s.manifest.linkSettings?.['tun-relay'] as { pid?: number } | undefined)?.pid;
  process.stdout.write(`${JSON.stringify({
    ready: true, pid: process.pid, tag: s.tag, namespaces: [s.deviceNs, s.serverNs].filter(Boolean),
    cgroupDirs: s.manifest.cgroup.dirs ?? [], relayPid: relay ?? null, childPids: [dev.pid, srv.pid],
  })}\n`);
  if (mode === 'exit') process.exit(3);
  if (mode === 'throw') setImmediate(() => { throw new Error('fixture: uncaught on purpose'); });
  setInterval(() => {}, 60_000);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

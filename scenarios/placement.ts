/**
 * Where the two sides of a run go: the seam between the runner and the
 * device profiles (scenarios/device/).
 *
 * A Placement spawns the server-side and the device-side processes and
 * says which address the server binds and devices use. Optional hooks give
 * the IP-layer counters of the device link and the device cgroup's CPU and
 * memory. Two implementations:
 *
 * - hostPlacement(): plain child_process.spawn on loopback (127.0.0.1), the
 *   `host` profile. No IP-layer counters (loopback carries everything else on
 *   the machine too).
 * - deviceProfilePlacement(name): scenarios/device's setupDeviceProfile()
 *   — server and devices in their own network namespaces joined by a veth
 *   pair (or a shaped link), devices in a CPU/memory-capped cgroup; spawns
 *   through execServer / execDevice; counters() and deviceUsage() feed the
 *   IP-layer bytes and the device CPU/memory. It is loaded at run time, so
 *   the runner builds and runs without it.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export type SpawnFn = (command: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

export interface IpCounters {
  /** Bytes and packets the device's interface sent + received (IP packets, link-layer header removed). */
  bytes: number;
  packets: number;
}

export interface DeviceUsageReading {
  cpuMs: number;
  memoryPeakKiB: number;
  throttledMs?: number;
}

export interface Placement {
  /** Profile name, e.g. 'host', 'pi-class'. */
  readonly name: string;
  /** Address the server binds. */
  readonly bindHost: string;
  /** Address devices connect to. */
  readonly serverHost: string;
  spawnServer: SpawnFn;
  spawnDevice: SpawnFn;
  /** IP-layer counters of the device link, or undefined when there are none (loopback). */
  ipCounters?: () => Promise<IpCounters | undefined>;
  /** CPU time and peak memory of the device cgroup, or undefined without one. */
  deviceUsage?: () => DeviceUsageReading | undefined;
  /** What goes into BenchmarkResults.deviceProfile (the device profile's manifest). */
  describe(): { name: string; [key: string]: unknown };
  teardown(): Promise<void>;
}

export function hostPlacement(): Placement {
  const s: SpawnFn = (command, args, opts) => spawn(command, [...args], opts);
  return {
    name: 'host',
    bindHost: '127.0.0.1',
    serverHost: '127.0.0.1',
    spawnServer: s,
    spawnDevice: s,
    describe: () => ({
      name: 'host',
      description: 'the full machine: server and device processes as plain child processes on loopback (127.0.0.1); no CPU or memory caps, no link shaping, no IP-layer counters',
      network: { mode: 'loopback', serverAddress: '127.0.0.1' },
    }),
    teardown: async () => undefined,
  };
}

/** The part of scenarios/device's DeviceSetup the runner uses (structural, so either side can change behind it). */
interface DeviceSetupLike {
  serverAddress: string;
  execServer(command: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  execDevice(command: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  counters(): Promise<{ device: { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number }; l2HeaderBytes?: number } | null>;
  deviceUsage(): { cpuMs: number; memoryPeakKiB: number; throttledMs?: number } | null;
  manifest: { name: string; [key: string]: unknown };
  teardown(): Promise<void>;
}

interface DeviceModuleLike {
  setupDeviceProfile(opts: { device: string; link?: string; runId: string; verify?: boolean; seed?: number }): Promise<DeviceSetupLike>;
}

export class DeviceProfilesUnavailable extends Error {
  override readonly name = 'DeviceProfilesUnavailable';
}

/** A device profile from scenarios/device (network namespaces, cgroups, link shaping). */
export async function deviceProfilePlacement(opts: { device: string; link?: string | undefined; runId: string; seed?: number; verify?: boolean }): Promise<Placement> {
  let mod: DeviceModuleLike;
  try {
    mod = (await import(new URL('./device/index.js', import.meta.url).href)) as DeviceModuleLike;
  } catch (e) {
    throw new DeviceProfilesUnavailable(`device profile '${opts.device}' needs scenarios/device (not available in this build: ${(e as Error).message}); use --profile host`);
  }
  const setup = await mod.setupDeviceProfile({
    device: opts.device, runId: opts.runId,
    ...(opts.link !== undefined ? { link: opts.link } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.verify !== undefined ? { verify: opts.verify } : {}),
  });
  return {
    name: opts.device,
    bindHost: setup.serverAddress,
    serverHost: setup.serverAddress,
    spawnServer: (command, args, o) => setup.execServer(command, args, o),
    spawnDevice: (command, args, o) => setup.execDevice(command, args, o),
    ipCounters: async () => {
      const c = await setup.counters();
      if (!c) return undefined;
      const l2 = c.l2HeaderBytes ?? 0;
      const packets = c.device.rxPackets + c.device.txPackets;
      return { bytes: c.device.rxBytes + c.device.txBytes - l2 * packets, packets };
    },
    deviceUsage: () => setup.deviceUsage() ?? undefined,
    describe: () => ({ ...setup.manifest, name: opts.device }),
    teardown: () => setup.teardown(),
  };
}

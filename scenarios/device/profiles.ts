/**
 * Device and link profiles as data. A device profile caps the device side
 * (CPU quota, memory limit) and names its default link; a link profile says
 * what the network between device and server does, per direction. Adding a
 * profile is adding an entry here (or passing an object of the same shape to
 * setupDeviceProfile); nothing else changes.
 *
 * The calibration of `pi-class` is documented in the data itself (it goes
 * into every run's manifest) and in scenarios/README.md ("Device profiles").
 */

export interface BenchmarkScore {
  benchmark: string;
  device: string;
  score: number;
  unit: string;
  source: string;
}

export interface CpuCalibration {
  /** What the cap stands for. */
  target: string;
  /** How the quota was derived, in one paragraph. */
  method: string;
  /** Published single-core numbers for the target devices. */
  published: BenchmarkScore[];
  /** The same benchmark measured on this project's machines. */
  host: BenchmarkScore & { cpu: string; runs: number[] };
  /** target score / host score, per reference. */
  ratios: Record<string, number>;
}

export interface CpuCap {
  /** Fraction of ONE CPU of this machine that all device-side processes together may use (cfs quota / period). */
  quota: number;
  /** CFS period in µs; a throttled process can stall up to period × (1 − quota). */
  periodUs: number;
  calibration: CpuCalibration;
}

export interface MemoryCap {
  /** Hard limit for all device-side processes together (RSS + page cache, no swap); the kernel OOM-kills past it. */
  limitMiB: number;
  rationale: string;
}

export interface DeviceProfile {
  name: string;
  description: string;
  /** Absent: no CPU cap (the cgroup still accounts CPU time when one can be made). */
  cpu?: CpuCap;
  /** Absent: no memory cap (peak still accounted when a cgroup can be made). */
  memory?: MemoryCap;
  /** Link used when the caller names none. */
  defaultLink: string;
}

/** One direction of a link. */
export interface LinkDirection {
  /** Mean one-way delay, ms. */
  delayMs: number;
  /** Standard deviation of the one-way delay, ms (normal distribution, clipped at 0; never reorders). */
  jitterMs: number;
  /** Random (Bernoulli) packet loss, percent. */
  lossPct: number;
  /** Bottleneck rate, Mbit/s at the IP layer; undefined = not limited. */
  rateMbit?: number;
}

export interface LinkProfile {
  name: string;
  description: string;
  /** Device → server. */
  up: LinkDirection;
  /** Server → device. */
  down: LinkDirection;
  /** Buffer at the bottleneck, in ms of the direction's rate (tbf latency / relay queue); default 50. */
  queueMs?: number;
  /** Where the numbers come from. */
  sources: string[];
}

/** sysbench 1.0.20 `cpu --threads=1` (primes up to 10000), events/s. */
const SYSBENCH = 'sysbench 1.0.20 cpu --threads=1 (cpu-max-prime 10000, default)';
const LEONCODE = 'https://leoncode.co.uk/articles/raspberry-pi-benchmarks (sysbench table, 1 core)';

export const PI_CLASS_CALIBRATION: CpuCalibration = {
  target: 'Raspberry Pi 3B+ (Cortex-A53 @ 1.4 GHz) to Raspberry Pi 4B (Cortex-A72 @ 1.5 GHz), one core',
  method:
    'Published single-core sysbench scores of the Pi 3B+ and Pi 4 divided by the same sysbench (same version, ' +
    'same arguments) measured on this machine give 0.152 and 0.327 of one host core; the geometric middle of the ' +
    'class is 0.223. Mixed workloads show a larger gap than the prime sieve (Geekbench single-core: Pi 4B 202 vs ' +
    'a Zen 3 desktop core 1355, 0.149), and a Node.js client is a mixed workload, so the quota is rounded down to ' +
    '0.20 of one core. The quota caps CPU time, not per-instruction speed: work runs at host speed for 2 ms of ' +
    'every 10 ms period. Before each run the quota is checked with a fixed single-threaded Node loop (manifest: ' +
    'device.cpu.measured).',
  published: [
    { benchmark: SYSBENCH, device: 'Raspberry Pi 3B+', score: 687.45, unit: 'events/s', source: LEONCODE },
    { benchmark: SYSBENCH, device: 'Raspberry Pi 4B', score: 1477.83, unit: 'events/s', source: LEONCODE },
    {
      benchmark: 'Geekbench single-core', device: 'Raspberry Pi 4B', score: 202, unit: 'points',
      source: 'https://gist.github.com/psmgeelen/9b3549da169fe4b273c08ab51d64369a (Pi 4B 202 vs AMD Ryzen 5 5500 1355)',
    },
  ],
  host: {
    benchmark: SYSBENCH, device: 'this machine', cpu: 'AMD EPYC (family 25 model 17, Zen 4), KVM guest, 2 vCPU',
    score: 4515, unit: 'events/s', runs: [4511.65, 4518.54],
    source: 'measured 2025-11-25: `sysbench cpu --threads=1 --time=10 run`, Debian 12 sysbench 1.0.20+ds-5',
  },
  ratios: { 'Raspberry Pi 3B+ (sysbench)': 0.152, 'Raspberry Pi 4B (sysbench)': 0.327, 'Raspberry Pi 4B vs Zen 3 (Geekbench)': 0.149 },
};

export const DEVICE_PROFILES: Readonly<Record<string, DeviceProfile>> = {
  host: {
    name: 'host',
    description: 'The full machine: no CPU or memory cap; device and server in two network namespaces joined by an unshaped veth pair (IP-layer byte counters), or in the root namespace on loopback with rootNamespace: true.',
    defaultLink: 'none',
  },
  'pi-class': {
    name: 'pi-class',
    description: 'A Raspberry Pi 3B+/4-class device: 0.20 of one host core and 512 MiB for all device-side processes, on a home Wi-Fi link by default.',
    cpu: { quota: 0.2, periodUs: 10_000, calibration: PI_CLASS_CALIBRATION },
    memory: {
      limitMiB: 512,
      rationale: 'The Pi 3B+ has 1 GiB of RAM (the Pi 4B 1–8 GiB); the OS and other services use part of it, so half of the smallest model is left to the device application.',
    },
    defaultLink: 'home-wifi',
  },
};

const WIFI_DIRECTION: LinkDirection = { delayMs: 10, jitterMs: 4, lossPct: 0.5, rateMbit: 30 };

export const LINK_PROFILES: Readonly<Record<string, LinkProfile>> = {
  none: {
    name: 'none',
    description: 'No shaping: a veth pair at memory speed.',
    up: { delayMs: 0, jitterMs: 0, lossPct: 0 },
    down: { delayMs: 0, jitterMs: 0, lossPct: 0 },
    sources: [],
  },
  'home-wifi': {
    name: 'home-wifi',
    description: 'A device on a home Wi-Fi network talking to a server one hop away: 10 ms each way (20 ms RTT) with 4 ms jitter, 0.5 % residual loss per direction, 30 Mbit/s each way, 50 ms of buffer.',
    up: { ...WIFI_DIRECTION },
    down: { ...WIFI_DIRECTION },
    queueMs: 50,
    sources: [
      'Pei et al., "WiFi can be the weakest link of round trip network latency in the wild", IEEE INFOCOM 2016: more than half of TCP packets see > 20 ms on the Wi-Fi hop, 10 % > 100 ms (busy campus APs; a quiet home link is taken as 20 ms RTT)',
      'Sundaresan, Feamster, Teixeira, "Home network or access link? Locating last-mile downstream throughput bottlenecks", PAM 2016: in 2,652 homes the Wi-Fi, not the access link, is the bottleneck above ~20 Mbit/s',
      'Sharma, Richardson, Martins, Feamster, "Measuring the Prevalence of WiFi Bottlenecks in Home Access Networks", arXiv 2311.05499 (2023): Wi-Fi still the throughput bottleneck in 50+ homes',
      'loss 0.5 % and jitter 4 ms: chosen within the usual "< 1 % loss, a few ms jitter" of a working home Wi-Fi link (residual loss after 802.11 retransmissions)',
    ],
  },
  'lossy-cellular': {
    name: 'lossy-cellular',
    description: 'A device on a weak LTE/3G link: 35 ms each way (70 ms RTT) with 10 ms jitter, 2 % loss per direction, 2 Mbit/s up and 5 Mbit/s down, deep (200 ms) buffers.',
    up: { delayMs: 35, jitterMs: 10, lossPct: 2, rateMbit: 2 },
    down: { delayMs: 35, jitterMs: 10, lossPct: 2, rateMbit: 5 },
    queueMs: 200,
    sources: [
      'Huang et al., "An In-depth Study of LTE: Effect of Network Protocol and Application Behavior on Performance", ACM SIGCOMM 2013: LTE RTTs of tens of ms, far lower than 3G; TCP often under-uses the bandwidth',
      'Garcia, Alfredsson, Brunstrom, "A Measurement Based Study of TCP Protocol Efficiency in Cellular Networks", WiOpt 2014: base RTT and RTT under load of cellular networks (deep buffers)',
      'rates and loss: an illustrative cell-edge link (uplink slower than downlink), not a measured one',
    ],
  },
};

/** A device profile by name (or the object itself); throws naming the known ones. */
export function resolveDeviceProfile(p: string | DeviceProfile): DeviceProfile {
  if (typeof p !== 'string') return p;
  const found = DEVICE_PROFILES[p];
  if (!found) throw new Error(`unknown device profile '${p}' (known: ${Object.keys(DEVICE_PROFILES).join(', ')})`);
  return found;
}

/** A link profile by name (or the object itself); throws naming the known ones. */
export function resolveLinkProfile(p: string | LinkProfile): LinkProfile {
  if (typeof p !== 'string') return p;
  const found = LINK_PROFILES[p];
  if (!found) throw new Error(`unknown link profile '${p}' (known: ${Object.keys(LINK_PROFILES).join(', ')})`);
  return found;
}

/** Whether a link profile shapes anything at all. */
export function linkIsShaped(l: LinkProfile): boolean {
  return [l.up, l.down].some((d) => d.delayMs > 0 || d.jitterMs > 0 || d.lossPct > 0 || d.rateMbit !== undefined);
}

/** Checks a profile's numbers; returns the problems (empty when fine). */
export function checkLinkProfile(l: LinkProfile): string[] {
  const problems: string[] = [];
  for (const [dir, d] of [['up', l.up], ['down', l.down]] as const) {
    if (!(d.delayMs >= 0)) problems.push(`${l.name}.${dir}.delayMs must be ≥ 0`);
    if (!(d.jitterMs >= 0)) problems.push(`${l.name}.${dir}.jitterMs must be ≥ 0`);
    if (!(d.lossPct >= 0 && d.lossPct < 100)) problems.push(`${l.name}.${dir}.lossPct must be in [0, 100)`);
    if (d.rateMbit !== undefined && !(d.rateMbit > 0)) problems.push(`${l.name}.${dir}.rateMbit must be > 0 or absent`);
  }
  if (l.queueMs !== undefined && !(l.queueMs > 0)) problems.push(`${l.name}.queueMs must be > 0`);
  return problems;
}

export function checkDeviceProfile(p: DeviceProfile): string[] {
  const problems: string[] = [];
  if (p.cpu) {
    if (!(p.cpu.quota > 0 && p.cpu.quota <= 64)) problems.push(`${p.name}.cpu.quota must be in (0, 64] CPUs`);
    if (!(p.cpu.periodUs >= 1000 && p.cpu.periodUs <= 1_000_000)) problems.push(`${p.name}.cpu.periodUs must be in [1000, 1000000]`);
    else if (Math.round(p.cpu.quota * p.cpu.periodUs) < 1000) problems.push(`${p.name}: quota × period must be ≥ 1000 µs (kernel minimum); use a longer period`);
  }
  if (p.memory && !(p.memory.limitMiB >= 8)) problems.push(`${p.name}.memory.limitMiB must be ≥ 8`);
  return problems;
}

/**
 * Two network namespaces (device, server) and the link between them, process
 * spawning inside a namespace (optionally inside the device cgroup), and
 * per-interface byte/packet counters.
 *
 * Addresses come from a private /30 given only inside the namespaces this
 * module creates (every pair has its own namespaces, so every pair reuses
 * the same two addresses); nothing in the root namespace uses them.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { DeviceCgroup } from './cgroup.js';
import { bin, killQuiet, run, runSync, sleepSync, trySync } from './system.js';

export const DEVICE_ADDRESS = '10.77.0.1';
export const SERVER_ADDRESS = '10.77.0.2';
export const LINK_PREFIX_LEN = 30;
/** Interface name of a veth link end (each namespace has its own). */
export const VETH_IF = 'mtb0';
/** Interface name of a TUN link end. */
export const TUN_IF = 'mtbt0';

export interface NamespacePair {
  tag: string;
  deviceNs: string;
  serverNs: string;
}

export function namespacePath(ns: string): string {
  return `/var/run/netns/${ns}`;
}

/** Names in `ip netns list`. */
export function listNamespaces(): string[] {
  const out = trySync(bin('ip'), ['netns', 'list']) ?? '';
  return out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
}

/** PIDs of processes in a namespace. */
export function namespacePids(ns: string): number[] {
  const out = trySync(bin('ip'), ['netns', 'pids', ns]) ?? '';
  return out.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/**
 * Kills every process in the namespace (SIGKILL) and deletes it. Returns
 * false if it is still listed afterwards.
 */
export function deleteNamespace(ns: string, timeoutMs = 3000): boolean {
  if (!existsSync(namespacePath(ns)) && !listNamespaces().includes(ns)) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = namespacePids(ns);
    for (const p of pids) killQuiet(p);
    if (pids.length === 0 || Date.now() > deadline) break;
    sleepSync(20);
  }
  trySync(bin('ip'), ['netns', 'delete', ns]);
  return !listNamespaces().includes(ns);
}

function ipIn(ns: string, ...args: string[]): void {
  runSync(bin('ip'), ['-n', ns, ...args]);
}

/** Creates `<tag>-d` and `<tag>-s` with loopback up. */
export function createNamespacePair(tag: string): NamespacePair {
  const pair: NamespacePair = { tag, deviceNs: `${tag}-d`, serverNs: `${tag}-s` };
  runSync(bin('ip'), ['netns', 'add', pair.deviceNs]);
  try {
    runSync(bin('ip'), ['netns', 'add', pair.serverNs]);
    ipIn(pair.deviceNs, 'link', 'set', 'lo', 'up');
    ipIn(pair.serverNs, 'link', 'set', 'lo', 'up');
  } catch (e) {
    deleteNamespace(pair.deviceNs);
    deleteNamespace(pair.serverNs);
    throw e;
  }
  return pair;
}

/** Turns IPv6 off on one interface (no router solicitations or MLD reports in the byte counters). */
function disableIpv6(ns: string, ifname: string): void {
  trySync(bin('ip'), ['netns', 'exec', ns, 'sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`]);
}

function addressBoth(pair: NamespacePair, ifname: string): void {
  disableIpv6(pair.deviceNs, ifname);
  disableIpv6(pair.serverNs, ifname);
  ipIn(pair.deviceNs, 'addr', 'add', `${DEVICE_ADDRESS}/${LINK_PREFIX_LEN}`, 'dev', ifname);
  ipIn(pair.serverNs, 'addr', 'add', `${SERVER_ADDRESS}/${LINK_PREFIX_LEN}`, 'dev', ifname);
  ipIn(pair.deviceNs, 'link', 'set', ifname, 'up');
  ipIn(pair.serverNs, 'link', 'set', ifname, 'up');
}

/** A veth pair, one end `mtb0` in each namespace, addressed and up. */
export function addVethLink(pair: NamespacePair): string {
  ipIn(pair.deviceNs, 'link', 'add', VETH_IF, 'type', 'veth', 'peer', 'name', VETH_IF, 'netns', pair.serverNs);
  addressBoth(pair, VETH_IF);
  return VETH_IF;
}

/**
 * Packets a TUN device holds for the relay to read (default 500): long
 * enough that a briefly descheduled relay shows as delay, not as loss.
 */
export const TUN_TXQUEUELEN = 10_000;

/** A persistent TUN device `mtbt0` in each namespace, addressed and up (no carrier until a relay attaches). */
export function addTunDevices(pair: NamespacePair): string {
  for (const ns of [pair.deviceNs, pair.serverNs]) {
    ipIn(ns, 'tuntap', 'add', 'dev', TUN_IF, 'mode', 'tun');
    ipIn(ns, 'link', 'set', TUN_IF, 'txqueuelen', String(TUN_TXQUEUELEN));
  }
  addressBoth(pair, TUN_IF);
  return TUN_IF;
}

export interface ExecOptions extends SpawnOptions {
  /** Run inside this cgroup: the wrapper shell moves itself in before anything else runs. */
  cgroup?: DeviceCgroup;
}

/**
 * Spawns `command args` inside namespace `ns` (null = the current one). With
 * a cgroup, a tiny shell first writes its own PID into every cgroup.procs
 * file and only then execs the command (`ip netns exec` and the command keep
 * that PID), so no instruction of the command runs outside the cgroup; if a
 * write fails, the shell exits non-zero without running it.
 */
export function exec(ns: string | null, command: string, args: readonly string[] = [], opts: ExecOptions = {}): ChildProcess {
  const { cgroup, ...spawnOpts } = opts;
  const inner = ns ? [bin('ip'), 'netns', 'exec', ns, command, ...args] : [command, ...args];
  if (cgroup) {
    return spawn('/bin/sh', ['-c', `${cgroup.shellMoveSelf()} && exec "$@"`, 'mtb-exec', ...inner], spawnOpts);
  }
  return spawn(inner[0] as string, inner.slice(1), spawnOpts);
}

export interface InterfaceCounters {
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

interface IpLinkStats { stats64?: { rx?: Record<string, number>; tx?: Record<string, number> } }

function parseCounters(json: string, ns: string, ifname: string): InterfaceCounters {
  const parsed = JSON.parse(json) as IpLinkStats[];
  const s = parsed[0]?.stats64;
  if (!s?.rx || !s.tx) throw new Error(`no counters for ${ifname} in ${ns}`);
  return {
    rxBytes: s.rx['bytes'] ?? 0, rxPackets: s.rx['packets'] ?? 0, rxDropped: s.rx['dropped'] ?? 0,
    txBytes: s.tx['bytes'] ?? 0, txPackets: s.tx['packets'] ?? 0, txDropped: s.tx['dropped'] ?? 0,
  };
}

/** rx/tx bytes and packets of `ifname` in `ns` (exact kernel counters). */
export async function interfaceCounters(ns: string, ifname: string): Promise<InterfaceCounters> {
  const { stdout } = await run(bin('ip'), ['-n', ns, '-j', '-s', 'link', 'show', 'dev', ifname]);
  return parseCounters(stdout, ns, ifname);
}

export function interfaceCountersSync(ns: string, ifname: string): InterfaceCounters {
  return parseCounters(runSync(bin('ip'), ['-n', ns, '-j', '-s', 'link', 'show', 'dev', ifname]), ns, ifname);
}

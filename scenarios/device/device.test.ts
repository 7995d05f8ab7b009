/**
 * Device profiles: set-up and teardown of `host` and `pi-class` (+ home-wifi)
 * on this machine — the CPU quota holds a busy loop at about the quota, the
 * memory limit OOM-kills a child that allocates past it, the link shows the
 * configured delay/loss/rate, the interface counters count — and nothing is
 * left behind: after teardown, after a SIGKILLed runner (the next
 * sweepStale() removes it) and after Ctrl-C (the runner tears down itself).
 *
 * The machine tests need root and iproute2: they skip with the reason
 * otherwise (fail instead with REQUIRE_EXTERNAL=1, as CI sets it). The data
 * and judgement tests run everywhere.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createNamespacePair, deleteNamespace, DEVICE_ADDRESS, DEVICE_PROFILES, DeviceProfileUnavailable, DeviceProfileVerificationFailed, detectLinkMechanisms, judgeCpu, judgeLink,
  LINK_PROFILES, measureLink, parseCgroupLayout, PI_CLASS_CALIBRATION, SERVER_ADDRESS, setupDeviceProfile, shapeLink, sweepStale,
  type DeviceSetup, type LinkMeasurement, type LinkMechanismSupport, type ShapedLink,
} from './index.js';
import { deviceAsset, haveCommand, isRoot, ownerGone, pidAlive, projectRoot, tagOf } from './system.js';

// ---------------------------------------------------------------- data and judgement (no root needed)

describe('profiles as data', () => {
  test('pi-class calibration: the ratios are the published scores over the host score, and the quota sits inside the class', () => {
    const c = PI_CLASS_CALIBRATION;
    const score = (device: string): number => c.published.find((p) => p.device === device && p.benchmark === c.host.benchmark)?.score ?? NaN;
    expect(score('Raspberry Pi 3B+') / c.host.score).toBeCloseTo(c.ratios['Raspberry Pi 3B+ (sysbench)'] as number, 2);
    expect(score('Raspberry Pi 4B') / c.host.score).toBeCloseTo(c.ratios['Raspberry Pi 4B (sysbench)'] as number, 2);
    const quota = DEVICE_PROFILES['pi-class']?.cpu?.quota as number;
    expect(quota).toBeGreaterThanOrEqual(c.ratios['Raspberry Pi 3B+ (sysbench)'] as number);
    expect(quota).toBeLessThanOrEqual(c.ratios['Raspberry Pi 4B (sysbench)'] as number);
    expect(DEVICE_PROFILES['pi-class']?.memory?.limitMiB).toBe(512);
  });

  test('every link profile is well formed and cites its sources', () => {
    for (const l of Object.values(LINK_PROFILES)) {
      expect(l.up.lossPct).toBeGreaterThanOrEqual(0);
      if (l.name !== 'none') expect(l.sources.length).toBeGreaterThan(0);
    }
    expect(LINK_PROFILES['home-wifi']?.up).toMatchObject({ delayMs: 10, jitterMs: 4, lossPct: 0.5, rateMbit: 30 });
  });

  test('cgroup layout: v2 without controllers → v1 children under our own cgroup of each hierarchy', () => {
    const mountinfo = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
      '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    const self = '4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n';
    const l = parseCgroupLayout(mountinfo, self, () => ['hugetlb']);
    expect(l.v2).toEqual({ mountPoint: '/sys/fs/cgroup/unified', ownDir: '/sys/fs/cgroup/unified', controllers: ['hugetlb'] });
    expect(l.v1).toEqual({ cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct', memory: '/sys/fs/cgroup/memory/process_api/abc' });
  });

  test('cgroup layout: co-mounted cpu,cpuacct and a pure v2 host', () => {
    const v1 = parseCgroupLayout('1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct', '2:cpu,cpuacct:/user.slice\n', () => []);
    expect(v1.v1.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct/user.slice');
    expect(v1.v1.cpuacct).toBe(v1.v1.cpu);
    const v2 = parseCgroupLayout('1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw', '0::/user.slice/session-1.scope\n', () => ['cpu', 'memory', 'io']);
    expect(v2.v2).toMatchObject({ mountPoint: '/sys/fs/cgroup', ownDir: '/sys/fs/cgroup/user.slice/session-1.scope', controllers: ['cpu', 'memory', 'io'] });
  });

  test('resource names carry the runner PID; a dead PID marks them stale, our own active tags never', () => {
    expect(tagOf('mtb-123-4-d')).toBe('mtb-123-4');
    expect(tagOf('mtb-123-4')).toBe('mtb-123-4');
    expect(tagOf('other-123')).toBeUndefined();
    expect(ownerGone(`mtb-${process.pid}-1`, [], new Set([`mtb-${process.pid}-1`]))).toBe(false);
    expect(ownerGone(`mtb-${process.pid}-99`, [], new Set())).toBe(true); // left by a previous holder of our PID
    expect(ownerGone('mtb-1-1', [{ tag: 'mtb-1-1', pid: 1, startTime: -5, namespaces: [], cgroups: [], processes: [] }], new Set())).toBe(true); // PID recycled
  });

  test('judgement: values far off the profile are refused, saying what was measured', () => {
    const link = LINK_PROFILES['home-wifi'] as NonNullable<(typeof LINK_PROFILES)['home-wifi']>;
    const good: LinkMeasurement = {
      rtt: { sent: 60, received: 60, meanMs: 20.3, p50Ms: 20, p99Ms: 33, minMs: 9, maxMs: 33, stddevMs: 5.4, expectedMeanMs: 20, expectedStddevMs: 5.66, intervalMs: 20, method: 'ping' },
      loss: { up: { sent: 4000, received: 3979, lossPct: 0.52, expectedPct: 0.5, pps: 8000 }, down: { sent: 4000, received: 3978, lossPct: 0.55, expectedPct: 0.5, pps: 8000 } },
      rate: { up: { measuredMbit: 30.4, expectedMbit: 29.85, offeredMbit: 39, datagrams: 2000 }, down: { measuredMbit: 30.2, expectedMbit: 29.85, offeredMbit: 39, datagrams: 2000 } },
      tcpUp: { goodputMbit: 27.5, bytes: 4e6, durationMs: 1200 },
      durationMs: 5000,
    };
    expect(judgeLink(link, good)).toEqual([]);
    const bad = structuredClone(good);
    bad.rtt.meanMs = 0.3;
    bad.rtt.stddevMs = 0.05;
    if (bad.loss) bad.loss.up.received = 4000;
    if (bad.rate?.down) bad.rate.down.measuredMbit = 900;
    const problems = judgeLink(link, bad);
    expect(problems.join('\n')).toMatch(/RTT: measured mean 0.3 ms/);
    expect(problems.join('\n')).toMatch(/jitter: measured RTT standard deviation 0.05 ms/);
    expect(problems.join('\n')).toMatch(/loss up \(device → server\): 0 of 4000 datagrams lost/);
    expect(problems.join('\n')).toMatch(/rate down \(server → device\): measured 900 Mbit\/s/);
    expect(judgeCpu({ unconstrainedPerCpuS: 1000, constrainedPerWallS: 900, ratio: 0.9, quota: 0.2, workload: 'x' })[0]).toMatch(/ran at 0.9 of its unconstrained speed, quota 0.2/);
  });

  test('a parameter no mechanism here can shape refuses the profile, naming what is missing', async () => {
    const none: LinkMechanismSupport = { netem: false, tbf: false, nftNumgen: false, tun: false, python3: false, how: { netem: 'no netem', tun: 'no /dev/net/tun', python3: 'no python3', tbf: 'no tbf', nftNumgen: 'no nft' } };
    const pair = { tag: 'mtb-0-0', deviceNs: 'mtb-0-0-d', serverNs: 'mtb-0-0-s' }; // never touched: refusal comes first
    const err = await shapeLink(pair, LINK_PROFILES['home-wifi'] as NonNullable<(typeof LINK_PROFILES)['home-wifi']>, { support: none }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceProfileUnavailable);
    const missing = (err as DeviceProfileUnavailable).missing.join('\n');
    expect(missing).toMatch(/delay\/jitter: no netem .* needs TUN devices \(no \/dev\/net\/tun\) and python3 \(no python3\)/);
    expect(missing).toMatch(/rate: no tbf qdisc/);
    expect(missing).toMatch(/loss: no nftables numgen/);
    const forced = await shapeLink(pair, LINK_PROFILES['home-wifi'] as NonNullable<(typeof LINK_PROFILES)['home-wifi']>, { mode: 'netem', support: none }).catch((e: unknown) => e);
    expect((forced as DeviceProfileUnavailable).missing[0]).toMatch(/netem qdisc not available/);
  });

  test('rootNamespace cannot shape a link: refused before anything is made', async () => {
    const err = await setupDeviceProfile({ device: 'host', link: 'home-wifi', runId: 't', rootNamespace: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceProfileUnavailable);
    expect((err as Error).message).toMatch(/shaping needs the two network namespaces/);
  });
});

// ---------------------------------------------------------------- on this machine (root + iproute2)

const requireExternal = process.env['REQUIRE_EXTERNAL'] === '1';
const machineReason = !isRoot() ? 'needs root (uid 0) for namespaces and cgroups'
  : !haveCommand('ip') || !haveCommand('tc') ? 'needs iproute2 (ip, tc): scripts/install-system-deps.sh net' : '';
const skipMachine = machineReason !== '' && !requireExternal;

/** Everything a set-up could leave behind, as one list (empty = clean). */
function leftovers(tag: string, extra: { cgroupDirs?: string[]; pids?: Array<number | null | undefined> } = {}): string[] {
  const left: string[] = [];
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of ns.split('\n')) if (line.startsWith(tag)) left.push(`netns ${line}`);
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of links.split('\n')) if (/: mtb/.test(line)) left.push(`root-namespace link ${line}`);
  const qd = spawnSync('tc', ['qdisc', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of qd.split('\n')) if (/dev mtb/.test(line)) left.push(`qdisc ${line}`);
  if (haveCommand('nft')) {
    const t = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout ?? '';
    for (const line of t.split('\n')) if (line.includes(tag)) left.push(`nft ${line}`);
  }
  for (const d of extra.cgroupDirs ?? []) if (existsSync(d)) left.push(`cgroup ${d}`);
  for (const p of extra.pids ?? []) if (p && pidAlive(p)) left.push(`process ${p}`);
  const relays = spawnSync('pgrep', ['-f', `tun-relay.py --tag ${tag} `], { encoding: 'utf8' }).stdout?.trim();
  if (relays) left.push(`relay ${relays}`);
  if (existsSync(`/run/mqtt-testbed/${tag}.json`)) left.push(`state file ${tag}`);
  return left;
}

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
}

async function firstJson<T>(child: ChildProcess, timeoutMs: number): Promise<T> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const it = lines(child);
  const t = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no JSON line within ${timeoutMs} ms: ${stderr}`)), timeoutMs));
  const exited = new Promise<never>((_, reject) => child.once('exit', (c, s) => reject(new Error(`exited (${s ?? c}) before its JSON line: ${stderr}`))));
  for (;;) {
    const r = await Promise.race([it.next(), t, exited]);
    if (r.done) throw new Error(`no JSON line: ${stderr}`);
    try {
      return JSON.parse(r.value) as T;
    } catch { /* not JSON: keep reading */ }
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** A TCP sink on the server side that prints {"bytes"} when the peer closes. */
const TCP_SINK = `const s=require('net').createServer(c=>{let n=0;c.on('data',d=>n+=d.length);c.on('end',()=>{console.log(JSON.stringify({bytes:n}));process.exit(0)})});s.listen(47100,()=>console.log(JSON.stringify({ready:true})))`;
const tcpSend = (host: string, bytes: number): string => `const c=require('net').connect(47100,'${host}',()=>{c.end(Buffer.alloc(${bytes},7))});c.on('close',()=>process.exit(0))`;

describe.skipIf(skipMachine)(`device profiles on this machine${skipMachine ? ` (skipped: ${machineReason})` : ''}`, () => {
  let buildDir = '';
  let childScript = '';

  beforeAll(() => {
    if (machineReason) throw new Error(`${machineReason} (REQUIRE_EXTERNAL=1 makes this a failure)`);
    // The crash and Ctrl-C tests run the module in a separate plain-node process: compile it (TypeScript 7, ~1 s).
    const root = projectRoot();
    buildDir = join(root, 'out', `device-test-build-${process.pid}`);
    mkdirSync(buildDir, { recursive: true });
    writeFileSync(join(buildDir, 'tsconfig.json'), JSON.stringify({
      extends: '../../tsconfig.json',
      compilerOptions: { outDir: '.', rootDir: '../..', sourceMap: false },
      include: ['../../scenarios/device/*.ts'], exclude: ['../../scenarios/device/*.test.ts'],
    }));
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(buildDir, 'tsconfig.json')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`compiling scenarios/device for the child process failed: ${r.stdout}${r.stderr}`);
    childScript = join(buildDir, 'scenarios', 'device', 'fixture-child.js');
  }, 60_000);

  afterAll(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  test('host: two namespaces and an unshaped veth pair; counters count the bytes sent; teardown leaves nothing', async () => {
    const s = await setupDeviceProfile({ device: 'host', runId: 'test-host' });
    let tag = s.tag;
    try {
      tag = s.tag;
      expect(s.manifest).toMatchObject({ name: 'host', link: 'none', verification: 'passed', network: { mode: 'netns', transport: 'veth', l2HeaderBytes: 14 } });
      expect(s.serverAddress).toBe('10.77.0.2');
      const before = await s.counters();
      const sink = s.execServer(process.execPath, ['-e', TCP_SINK]);
      await firstJson(sink, 5000);
      const src = s.execDevice(process.execPath, ['-e', tcpSend(s.serverAddress, 100_000)]);
      const got = await firstJson<{ bytes: number }>(sink, 5000);
      await exitOf(src);
      expect(got.bytes).toBe(100_000);
      const after = await s.counters();
      if (!before || !after) throw new Error('no counters');
      const tx = after.device.txBytes - before.device.txBytes;
      const rx = after.server.rxBytes - before.server.rxBytes;
      expect(tx).toBeGreaterThan(100_000);
      expect(tx).toBeLessThan(100_000 * 1.2);
      expect(rx).toBe(tx); // one veth: what one end sends, the other receives
      expect(s.deviceUsage()?.cpuMs).toBeGreaterThan(0); // accounting-only cgroup
    } finally {
      await s.teardown();
    }
    expect(leftovers(tag, { cgroupDirs: s.manifest.cgroup.dirs ?? [] })).toEqual([]);
  });

  test('host with rootNamespace: loopback, no namespaces, no IP counters', async () => {
    const s = await setupDeviceProfile({ device: 'host', runId: 'test-root', rootNamespace: true });
    try {
      expect(s.manifest.network).toMatchObject({ mode: 'root-namespace', serverAddress: '127.0.0.1' });
      expect(s.deviceNs).toBeNull();
      expect(await s.counters()).toBeNull();
      const p = s.execDevice(process.execPath, ['-e', 'console.log(JSON.stringify({ok:1}))']);
      expect(await firstJson(p, 5000)).toEqual({ ok: 1 });
    } finally {
      await s.teardown();
    }
    expect(leftovers(s.tag, { cgroupDirs: s.manifest.cgroup.dirs ?? [] })).toEqual([]);
  });

  describe('pi-class on home-wifi', () => {
    let s: DeviceSetup | undefined;
    beforeAll(async () => {
      s = await setupDeviceProfile({ device: 'pi-class', link: 'home-wifi', runId: 'test-pi' });
    }, 60_000);
    afterAll(async () => {
      if (!s) return;
      const relayPid = (s.manifest.linkSettings?.['tun-relay'] as { pid: number }).pid;
      await s.teardown();
      expect(leftovers(s.tag, { cgroupDirs: s.manifest.cgroup.dirs ?? [], pids: [relayPid] })).toEqual([]);
    });

    test('the manifest says which mechanism shaped each parameter and what was measured, all within tolerance', () => {
      const m = s?.manifest;
      if (!m) throw new Error('no setup');
      expect(m.verification).toBe('passed');
      expect(m.cgroup.version).toMatch(/^v[12]$/);
      expect(m.mechanisms.cpu).toMatch(/cpu\.(cfs_quota_us 2000|max 2000 10000)/);
      expect(m.mechanisms.memory).toMatch(/536870912/);
      for (const k of ['delay', 'jitter', 'loss', 'rate'] as const) expect(m.mechanisms[k]).not.toBe('none');
      const l = m.measured.link;
      if (!l?.loss || !l.rate?.up || !l.rate.down) throw new Error('link not measured');
      expect(l.rtt.meanMs).toBeGreaterThan(14);
      expect(l.rtt.meanMs).toBeLessThan(28);
      expect(l.rtt.stddevMs).toBeGreaterThan(2.5);
      expect(l.rtt.stddevMs).toBeLessThan(10);
      for (const d of [l.loss.up, l.loss.down]) {
        expect(d.lossPct).toBeGreaterThan(0.1);
        expect(d.lossPct).toBeLessThan(1.2);
      }
      for (const r of [l.rate.up, l.rate.down]) {
        expect(r.measuredMbit).toBeGreaterThan(0.75 * 29.85);
        expect(r.measuredMbit).toBeLessThan(1.1 * 29.85);
      }
      // the memory peak starts after verification (its probes ran in the cgroup)
      expect(s?.deviceUsage()?.memoryPeakKiB).toBeLessThan(64 * 1024);
      expect(m.measured.cpu?.ratio).toBeGreaterThan(0.12);
      expect(m.measured.cpu?.ratio).toBeLessThan(0.27);
    });

    test('a CPU-bound loop in the device cgroup runs at about the quota and the cgroup shows throttling', async () => {
      if (!s) throw new Error('no setup');
      const run = async (unconstrained: boolean): Promise<{ iterations: number; wallMs: number; cpuMs: number }> =>
        firstJson(s!.execDevice(process.execPath, [deviceAsset('probe.mjs'), 'cpu', JSON.stringify({ ms: 500 })], { unconstrained }), 20_000);
      const before = s.deviceUsage();
      const free = await run(true);
      const capped = await run(false);
      const ratio = (capped.iterations / (capped.wallMs / 1000)) / (free.iterations / (free.cpuMs / 1000));
      expect(ratio).toBeGreaterThan(0.2 * 0.6);
      expect(ratio).toBeLessThan(0.2 * 1.35);
      const after = s.deviceUsage();
      if (!before || !after) throw new Error('no usage');
      expect(after.nrThrottled).toBeGreaterThan(before.nrThrottled);
      expect(after.throttledMs).toBeGreaterThan(before.throttledMs + 100);
      expect(after.cpuMs - before.cpuMs).toBeGreaterThan(50);
      expect(after.cpuMs - before.cpuMs).toBeLessThan(500 * 0.2 * 1.5 + 150); // the loop plus node start-up, capped
    });

    test('interface counters count the bytes through the shaped TUN link (IP layer, no L2 header)', async () => {
      if (!s) throw new Error('no setup');
      const c0 = await s.counters();
      const sink = s.execServer(process.execPath, ['-e', TCP_SINK]);
      await firstJson(sink, 5000);
      const src = s.execDevice(process.execPath, ['-e', tcpSend(s.serverAddress, 200_000)], { unconstrained: true });
      const got = await firstJson<{ bytes: number }>(sink, 10_000);
      await exitOf(src);
      expect(got.bytes).toBe(200_000);
      const c1 = await s.counters();
      if (!c0 || !c1) throw new Error('no counters');
      expect(c1.l2HeaderBytes).toBe(0);
      expect(c1.device.txBytes - c0.device.txBytes).toBeGreaterThan(200_000);
      expect(c1.device.txBytes - c0.device.txBytes).toBeLessThan(200_000 * 1.25); // headers + retransmissions of lost segments
      const relay = (await s.shapingCounters()).relay;
      expect(relay?.ab.forwarded).toBeGreaterThan(0);
      expect(relay?.ab.queueDrops).toBe(0);
    });
  });

  test('the memory limit bites: a device process allocating past it is OOM-killed', async () => {
    const base = DEVICE_PROFILES['pi-class'];
    if (!base) throw new Error('no pi-class');
    const small = { ...base, name: 'pi-class-96MiB', memory: { limitMiB: 96, rationale: 'test' } };
    const s = await setupDeviceProfile({ device: small, link: 'none', runId: 'test-mem', verify: false });
    try {
      const hog = s.execDevice(process.execPath, ['-e', 'const a=[];for(let i=0;i<64;i++){a.push(Buffer.alloc(8<<20,1))}console.log("survived")'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      hog.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
      const r = await exitOf(hog);
      expect(out).not.toMatch(/survived/);
      expect(r.signal).toBe('SIGKILL');
      const u = s.deviceUsage();
      expect(u?.oomKills).toBeGreaterThanOrEqual(1);
      expect(u?.memoryLimitKiB).toBe(96 * 1024);
      expect(u?.memoryPeakKiB).toBeLessThanOrEqual(96 * 1024);
      expect(u?.memoryPeakKiB).toBeGreaterThan(80 * 1024);
    } finally {
      await s.teardown();
    }
    expect(leftovers(s.tag, { cgroupDirs: s.manifest.cgroup.dirs ?? [] })).toEqual([]);
  });

  test('crash: a runner killed with SIGKILL leaves its profile behind; the next sweepStale() removes all of it', async () => {
    const child = spawn(process.execPath, [childScript, 'hold', 'pi-class', 'home-wifi'], { stdio: ['ignore', 'pipe', 'pipe'] });
    type Held = { tag: string; namespaces: string[]; cgroupDirs: string[]; relayPid: number; childPids: number[] };
    const held = await firstJson<Held>(child, 20_000);
    expect(held.namespaces).toHaveLength(2);
    expect(held.cgroupDirs.every((d) => existsSync(d))).toBe(true);
    expect(pidAlive(held.relayPid)).toBe(true);
    child.kill('SIGKILL');
    expect((await exitOf(child)).signal).toBe('SIGKILL');
    // the crash left the namespaces, cgroups and the processes in them
    expect(leftovers(held.tag, { cgroupDirs: held.cgroupDirs }).length).toBeGreaterThan(0);
    const report = sweepStale();
    expect(report.namespaces.sort()).toEqual([...held.namespaces].sort());
    expect(report.cgroups.sort()).toEqual([...held.cgroupDirs].sort());
    expect(report.failed).toEqual([]);
    expect(leftovers(held.tag, { cgroupDirs: held.cgroupDirs, pids: [held.relayPid, ...held.childPids] })).toEqual([]);
  });

  test('Ctrl-C: SIGINT to a runner with a profile set up → it tears down, then ends by the signal', async () => {
    const child = spawn(process.execPath, [childScript, 'hold', 'pi-class', 'home-wifi'], { stdio: ['ignore', 'pipe', 'pipe'] });
    type Held = { tag: string; namespaces: string[]; cgroupDirs: string[]; relayPid: number; childPids: number[] };
    const held = await firstJson<Held>(child, 20_000);
    expect(leftovers(held.tag).length).toBeGreaterThan(0);
    child.kill('SIGINT');
    const r = await exitOf(child);
    expect(r.signal).toBe('SIGINT');
    expect(leftovers(held.tag, { cgroupDirs: held.cgroupDirs, pids: [held.relayPid, ...held.childPids] })).toEqual([]);
  });

  test.each([
    ['process.exit()', 'exit', { code: 3, signal: null }],
    ['an uncaught error', 'throw', { code: 1, signal: null }],
  ] as const)('%s in a runner with a profile set up tears it down', async (_what, mode, expected) => {
    const child = spawn(process.execPath, [childScript, mode, 'pi-class', 'home-wifi'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = exitOf(child);
    type Held = { tag: string; cgroupDirs: string[]; relayPid: number; childPids: number[] };
    const held = await firstJson<Held>(child, 20_000);
    expect(await exited).toEqual(expected);
    expect(leftovers(held.tag, { cgroupDirs: held.cgroupDirs, pids: [held.relayPid, ...held.childPids] })).toEqual([]);
  });

  test('without root: pi-class is refused naming what needs root; host falls back to loopback and says so', () => {
    const asNobody = (...args: string[]) => spawnSync(process.execPath, [childScript, 'show', ...args], { encoding: 'utf8', uid: 65534, gid: 65534, timeout: 20_000 });
    const pi = asNobody('pi-class', 'home-wifi');
    expect(pi.status).toBe(1);
    expect(pi.stderr).toMatch(/DeviceProfileUnavailable: device profile 'pi-class' with link 'home-wifi': cannot be set up on this machine:\n\s+- root \(uid 0\) is needed for network namespaces, a CPU quota \(cgroup\), a memory limit \(cgroup\); this process runs as uid 65534/);
    const host = asNobody('host');
    expect(host.status).toBe(0);
    const m = JSON.parse(host.stdout) as { network: { mode: string; why: string }; cgroup: { version: string } };
    expect(m.network).toMatchObject({ mode: 'root-namespace', why: 'fallback to loopback: not root (uid 65534), so no namespaces and no IP-layer counters' });
    expect(m.cgroup.version).toBe('none');
  });

  test('where tbf and nftables are missing, the relay does rate and loss too (measured within tolerance)', async () => {
    const tag = `mtb-${process.pid}-900`;
    const link = { name: 'relay-only', description: 'test', up: { delayMs: 5, jitterMs: 0, lossPct: 5, rateMbit: 10 }, down: { delayMs: 5, jitterMs: 0, lossPct: 5, rateMbit: 10 }, sources: ['test'] };
    const support = { ...detectLinkMechanisms(tag), tbf: false, nftNumgen: false };
    const pair = createNamespacePair(tag);
    let shaped: ShapedLink | undefined;
    try {
      shaped = await shapeLink(pair, link, { support });
      expect(shaped.mechanisms.rate).toMatch(/tun-relay\.py.*no tbf here/);
      expect(shaped.mechanisms.loss).toMatch(/tun-relay\.py.*no nftables numgen here/);
      const m = await measureLink({ deviceNs: pair.deviceNs, serverNs: pair.serverNs, deviceAddress: DEVICE_ADDRESS, serverAddress: SERVER_ADDRESS }, link, false);
      expect(judgeLink(link, m)).toEqual([]);
      const c = await shaped.relay?.counters();
      expect(c?.ab.lossDrops).toBeGreaterThan(0);
      expect(c?.ba.lossDrops).toBeGreaterThan(0);
    } finally {
      await shaped?.relay?.stop();
      deleteNamespace(pair.deviceNs);
      deleteNamespace(pair.serverNs);
    }
    expect(leftovers(tag, { pids: [shaped?.relay?.pid] })).toEqual([]);
  }, 40_000);

  test('a link this machine cannot deliver is refused, saying what was measured, and leaves nothing', async () => {
    // 1 Gbit/s through the user-space relay (it holds each packet 1 ms): Python forwards far less.
    const fast = { name: 'gigabit-1ms', description: 'test', up: { delayMs: 1, jitterMs: 0, lossPct: 0, rateMbit: 1000 }, down: { delayMs: 1, jitterMs: 0, lossPct: 0, rateMbit: 1000 }, sources: ['test'] };
    const before = new Set(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n'));
    const err = await setupDeviceProfile({ device: 'host', link: fast, runId: 'test-refuse' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceProfileVerificationFailed);
    expect((err as Error).message).toMatch(/rate up \(device → server\): measured [\d.]+ Mbit\/s .* profile 1000 Mbit\/s/);
    const tag = /\((mtb-\d+-\d+)\)/.exec((err as Error).message)?.[1];
    expect(tag).toBeDefined();
    const after = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => !before.has(l) && l.startsWith('mtb-'));
    expect(after).toEqual([]);
    if (tag) expect(leftovers(tag)).toEqual([]);
  }, 60_000);
});

/**
 * One side of a scenario run in its own process:
 *
 *   node dist/scenarios/proc/side.js
 *
 * The runner starts it through its placement's spawn (plain child_process
 * on the host profile; the device profile's execServer / execDevice inside
 * network namespaces and cgroups), writes a `config` line, waits for
 * `ready`, writes `start` with the run's clock, reads `progress` lines and
 * the final `report`, then writes `close` (or closes stdin). The side stops
 * by itself at the run's deadline and exits when its stdin closes, so it
 * never outlives the runner.
 */
import { createInterface } from 'node:readline';
import { processCpuSeconds, peakRssBytes } from '../../harness/meters/procfs.js';
import { diffCounts, zeroCounts, type ByteCounts } from '../../harness/meters/byte-meter.js';
import { atInstant, SideRun } from '../adapters/context.js';
import type { DeviceSide, ServerSide, SideConfig } from '../adapters/types.js';
import { clockFromJson } from '../schedule/open-loop.js';
import { LINE_PREFIX, type FromSide, type SideReport, type SideRole, type ToSide } from './messages.js';

const send = (m: FromSide): void => {
  process.stdout.write(`${LINE_PREFIX}${JSON.stringify(m)}\n`);
};

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// Only the adapter a side needs is loaded: start-up time and memory are the protocol's, not all three's.
async function createServer(cfg: SideConfig): Promise<ServerSide> {
  switch (cfg.variant.protocol) {
    case 'mqtt': return (await import('../adapters/mqtt.js')).mqttServer(cfg);
    case 'http': return (await import('../adapters/http.js')).httpServer(cfg);
    case 'coap': return (await import('../adapters/coap.js')).coapServer(cfg);
  }
}

async function createDevices(cfg: SideConfig): Promise<DeviceSide> {
  switch (cfg.variant.protocol) {
    case 'mqtt': return (await import('../adapters/mqtt.js')).mqttDevices(cfg);
    case 'http': return (await import('../adapters/http.js')).httpDevices(cfg);
    case 'coap': return (await import('../adapters/coap.js')).coapDevices(cfg);
  }
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const queue: ToSide[] = [];
  let wake: (() => void) | undefined;
  let stdinClosed = false;
  lines.on('line', (l) => {
    if (!l.trim()) return;
    queue.push(JSON.parse(l) as ToSide);
    wake?.();
  });
  lines.on('close', () => {
    stdinClosed = true;
    wake?.();
  });
  const next = async (): Promise<ToSide | undefined> => {
    while (queue.length === 0 && !stdinClosed) await new Promise<void>((r) => { wake = r; });
    return queue.shift();
  };

  const first = await next();
  if (!first || first.type !== 'config') throw new Error('side: expected a config line first');
  const role: SideRole = first.role;
  const cfg = first.config;

  if (role === 'autocannon') {
    send({ type: 'ready', role, pid: process.pid });
    const start = await next();
    if (start?.type !== 'start') return;
    const { runAutocannon } = await import('./autocannon-side.js');
    const outcome = await runAutocannon(first.autocannon!);
    send({ type: 'report', report: emptyReport(role, { autocannon: outcome }) });
    await next();
    return;
  }

  let server: ServerSide | undefined;
  let devices: DeviceSide | undefined;
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await Promise.race([
      Promise.all([server?.close(), devices?.close()]),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
  };

  if (role === 'server') {
    server = await createServer(cfg);
    send({ type: 'ready', role, pid: process.pid, info: server.info });
  } else {
    devices = await createDevices(cfg);
    await devices.connect();
    send({ type: 'ready', role, pid: process.pid, settings: devices.settings });
  }
  const setupBytes: ByteCounts = devices?.meter.snapshot() ?? zeroCounts();

  const start = await next();
  if (!start || start.type !== 'start') {
    await close();
    return;
  }
  const clock = clockFromJson(start.clock);
  const run = new SideRun(clock, cfg.workload, cfg.precise ?? true);
  const extraPids = server?.info.extraPids ?? [];
  let cpu0 = 0;
  let cpu1: number | undefined;
  const extra0 = new Map<number, number>();
  const extra1 = new Map<number, number>();
  let bytes0: ByteCounts | undefined;
  let bytes1: ByteCounts | undefined;
  const link0 = { messages: 0, payload: 0 };
  const link1 = { messages: -1, payload: 0 };
  atInstant(clock.windowStartNs, () => {
    cpu0 = cpuMs();
    bytes0 = devices?.meter.snapshot();
    link0.messages = run.linkMessages;
    link0.payload = run.linkPayload;
    for (const p of extraPids) extra0.set(p, (processCpuSeconds(p) ?? 0) * 1000);
  });
  atInstant(clock.windowEndNs, () => {
    cpu1 = cpuMs();
    bytes1 = devices?.meter.snapshot();
    link1.messages = run.linkMessages;
    link1.payload = run.linkPayload;
    for (const p of extraPids) extra1.set(p, (processCpuSeconds(p) ?? 0) * 1000);
  });
  const progress = setInterval(() => {
    send({ type: 'progress', role, sent: run.sentAll, received: run.recorder.receivedAll, errors: run.errors, timeouts: run.timeouts });
  }, 1000);
  (server ?? devices)!.start(run);
  await new Promise<void>((resolve) => atInstant(clock.deadlineNs, resolve));
  clearInterval(progress);
  await (server ?? devices)!.stop();
  const schedule = await run.scheduleStats();
  const end = cpuMs();
  const report: SideReport = {
    role, pid: process.pid,
    latency: run.recorder.report(),
    schedule,
    errors: run.errors, timeouts: run.timeouts, errorNotes: run.errorNotes(),
    sentAll: run.sentAll, acked: run.acked,
    cpu: { windowMs: Math.round((cpu1 ?? end) - cpu0), totalMs: Math.round(end) },
    peakKiB: process.resourceUsage().maxRSS,
    extra: extraPids.map((pid) => {
      const total = (processCpuSeconds(pid) ?? 0) * 1000;
      const peak = peakRssBytes(pid);
      return {
        pid, name: 'broker',
        cpu: { windowMs: Math.round((extra1.get(pid) ?? total) - (extra0.get(pid) ?? 0)), totalMs: Math.round(total) },
        ...(peak !== undefined ? { peakKiB: Math.round(peak / 1024) } : {}),
      };
    }),
    ...(devices ? {
      bytes: { setup: setupBytes, window: diffCounts(bytes1 ?? devices.meter.snapshot(), bytes0 ?? setupBytes), linkMessages: (link1.messages < 0 ? run.linkMessages : link1.messages) - link0.messages,
        linkPayload: (link1.messages < 0 ? run.linkPayload : link1.payload) - link0.payload },
      observations: devices.observations(),
    } : {}),
  };
  send({ type: 'report', report });
  // Wait for close (or stdin closing), then go.
  for (;;) {
    const m = await next();
    if (!m || m.type === 'close') break;
  }
  await close();
}

function emptyReport(role: SideRole, more: Partial<SideReport>): SideReport {
  return {
    role, pid: process.pid,
    latency: { received: 0, receivedAll: 0, late: 0, undecodable: 0, correctedHdr: '', uncorrectedHdr: '' },
    errors: 0, timeouts: 0, errorNotes: [], sentAll: 0, acked: 0,
    cpu: { windowMs: 0, totalMs: Math.round(cpuMs()) }, peakKiB: process.resourceUsage().maxRSS, extra: [],
    ...more,
  };
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    send({ type: 'fatal', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exit(1);
  },
);

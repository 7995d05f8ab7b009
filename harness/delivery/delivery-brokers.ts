/**
 * Brokers for delivery runs, each configured so that a persistent session's
 * queue can hold a whole run while its subscriber is away (otherwise a
 * broker's queue limit, not its delivery logic, would be measured):
 *
 * - reference: in this process, or `node dist/cli/main.js broker` in its own
 *   process (the long run: broker and load generator on separate cores);
 *   `maxQueuedMessages` 1,000,000 (default 10,000), everything else default;
 * - mosquitto: the Debian binary, `max_queued_messages 0` (no limit; default
 *   1000), everything else default (max_inflight_messages 20);
 * - aedes: Aedes 1.x defaults (its in-memory persistence has no queue limit);
 *   3.1.1 only.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtocolVersion } from '../../codec/index.js';
import { startBroker } from '../../reference-broker/index.js';
import { launchAedes } from '../launchers/aedes.js';
import { projectRoot, spawnChild } from '../launchers/child-process.js';
import { launchMosquitto } from '../launchers/mosquitto.js';

export const DELIVERY_BROKERS = ['reference', 'mosquitto', 'aedes'] as const;
export type DeliveryBrokerName = (typeof DELIVERY_BROKERS)[number];

export interface DeliveryBroker {
  name: DeliveryBrokerName;
  version: string;
  url: string;
  /** Protocol levels it accepts. */
  versions: ProtocolVersion[];
  /** How it was configured, for the report. */
  settings: string[];
  /** The broker's process, when it has its own. */
  pid: number | undefined;
  close(): Promise<void>;
}

/** Protocol levels each broker accepts (Aedes 1.x refuses level 5). */
export const DELIVERY_BROKER_VERSIONS: Record<DeliveryBrokerName, readonly ProtocolVersion[]> = { reference: [4, 5], mosquitto: [4, 5], aedes: [4] };

export const REFERENCE_MAX_QUEUED = 1_000_000;

export interface DeliveryBrokerOptions {
  /** reference only: run it in this process (default) or as `node dist/cli/main.js broker`. */
  referenceInProcess?: boolean;
  logFile?: string;
}

function projectVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function launchDeliveryBroker(name: DeliveryBrokerName, o: DeliveryBrokerOptions = {}): Promise<DeliveryBroker> {
  switch (name) {
    case 'reference': return o.referenceInProcess === false ? referenceProcess(o) : referenceInProcess();
    case 'mosquitto': {
      const extra = ['max_queued_messages 0'];
      const m = await launchMosquitto({ variant: 'plain', extraConfig: extra, ...(o.logFile ? { logFile: o.logFile } : {}) });
      return {
        name, version: m.version ?? 'unknown', url: m.target.url, versions: [4, 5], pid: m.pid,
        settings: [`Mosquitto ${m.version ?? ''} from ${m.config.split('\n').length} config lines; ${extra.join(', ')} (default 1000 would drop messages of an offline persistent session); max_inflight_messages default (20); persistence false`],
        close: () => m.close(),
      };
    }
    case 'aedes': {
      const a = await launchAedes(o.logFile ? { logFile: o.logFile } : {});
      return {
        name, version: a.version, url: a.target.url, versions: [4], pid: a.pid,
        settings: [`Aedes ${a.version}, default options (in-memory persistence, no queue limit); 3.1.1 only`],
        close: () => a.close(),
      };
    }
  }
}

async function referenceInProcess(): Promise<DeliveryBroker> {
  const running = await startBroker({ tcp: { host: '127.0.0.1', port: 0 }, maxQueuedMessages: REFERENCE_MAX_QUEUED });
  return {
    name: 'reference', version: projectVersion(), url: running.url('tcp'), versions: [4, 5], pid: undefined,
    settings: [`reference broker in the runner's process; maxQueuedMessages ${REFERENCE_MAX_QUEUED} (default 10,000), other limits default`],
    close: () => running.close(),
  };
}

async function referenceProcess(o: DeliveryBrokerOptions): Promise<DeliveryBroker> {
  const root = projectRoot();
  // The CLI next to this module when running compiled (dist/ or a private build), else dist/.
  const sibling = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
  const main = import.meta.url.endsWith('.js') && existsSync(sibling) ? sibling : join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} not found: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-testbed-delivery-'));
  const config = join(dir, 'broker.json');
  writeFileSync(config, JSON.stringify({
    listeners: { tcp: { host: '127.0.0.1', port: 0 } },
    limits: { maxQueuedMessages: REFERENCE_MAX_QUEUED },
    logLevel: 'warn',
  }));
  const child = spawnChild(process.execPath, [main, 'broker', '--config', config], { name: 'reference broker', cwd: root, logFile: o.logFile });
  let url: string;
  try {
    url = (await child.waitForLine(/^mqtt:\/\/127\.0\.0\.1:\d+$/, 10_000, 'the broker URL on stdout')).trim();
  } catch (e) {
    await child.stop(1000);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    name: 'reference', version: projectVersion(), url, versions: [4, 5], pid: child.process.pid,
    settings: [`reference broker as its own process (node dist/cli/main.js broker); maxQueuedMessages ${REFERENCE_MAX_QUEUED} (default 10,000), other limits default`],
    close: async () => {
      await child.stop(3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

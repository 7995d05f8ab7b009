/**
 * `mqtt-testbed fuzz`: the structure-aware fuzzer (harness/fuzz/). Valid and
 * mutated packets of both versions, sent to a broker over many concurrent
 * connections while a control client checks it keeps serving others; writes
 * out/fuzz/fuzz-<time>.json. Live progress on a terminal, a quiet line every
 * 10 s otherwise (CI). Exit 0 when every pass criterion holds, 1 when one
 * fails, 2 on bad options.
 */
import { resolve } from 'node:path';
import type { ProtocolVersion } from '../codec/index.js';
import { arbitraryFuzzCase, describeCase } from '../harness/fuzz/case.js';
import { replayCase } from '../harness/fuzz/case-source.js';
import { ClientIds, executeCase } from '../harness/fuzz/execute.js';
import { describeVerdict } from '../harness/fuzz/oracle.js';
import { summarize, writeReport } from '../harness/fuzz/report.js';
import { runFuzz, type FuzzProgress } from '../harness/fuzz/runner.js';
import { launchReferenceProcess, remoteTarget, type FuzzTarget } from '../harness/fuzz/target.js';
import { readProfileFile, roleCredentials, tlsOptions, type Target } from '../harness/target.js';
import { parseBrokerUrl } from '../harness/transport.js';
import { parseDurationS } from '../scenarios/workload.js';
import { integerOption, parseCommandArgs, UsageError, type CliIo } from './io.js';

export const FUZZ_USAGE = `mqtt-testbed fuzz [options]

  --packets N              stop after N packets (default 100000)
  --target URL             the broker to fuzz (mqtt://, mqtts://, ws://, wss://); default: the reference broker,
                           started by the fuzzer as a child process (crashes detected, memory measured)
  --profile FILE           the target's profile (harness/profiles/*.json): limits, credentials, TLS settings;
                           its "url" is used when --target is not given
  --pid N                  with --target: the broker's process id on this machine, to measure its memory
  --seed S                 run seed, an integer (default: random, printed and in the results)
  --versions LIST          protocol versions: 4,5 or 3.1.1,5.0 (default both)
  --concurrency K          connections at a time, 1 to 1000 (default 128)
  --max-time D             bound on the sending phase (default 30m; e.g. 90s, 10m, 1h)
  --shrink-time D          time for shrinking failures (default 2m)
  --case-timeout D         each connection must be served or closed within this (default 10s)
  --control-timeout D      bound of each control-client round trip (default 5s)
  --out FILE               results JSON (default out/fuzz/fuzz-<time>.json)
  --replay SEED:PATH       run one case from a report, alone, and show what happened
  --quiet                  no progress lines
Exit 0 when the broker passed, 1 when a pass criterion failed (crash, hang, control client not served,
another client closed, memory growth, a wrong reason code from the reference broker), 2 for bad options.`;

const OPTIONS = {
  packets: { type: 'string' },
  target: { type: 'string' },
  profile: { type: 'string' },
  pid: { type: 'string' },
  seed: { type: 'string' },
  versions: { type: 'string' },
  concurrency: { type: 'string' },
  'max-time': { type: 'string' },
  'shrink-time': { type: 'string' },
  'case-timeout': { type: 'string' },
  'control-timeout': { type: 'string' },
  out: { type: 'string' },
  replay: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function durationMs(v: string | undefined, flag: string, fallbackMs: number, minMs = 100): number {
  if (v === undefined) return fallbackMs;
  const s = parseDurationS(v);
  if (s === undefined || s * 1000 < minMs || s > 24 * 3600) throw new UsageError(`${flag}: expected a duration such as 500ms, 90s, 10m or 1h (at least ${minMs} ms, at most 24h), got '${v}'`);
  return s * 1000;
}

export function parseVersions(v: string | undefined): ProtocolVersion[] {
  if (v === undefined) return [4, 5];
  const out = new Set<ProtocolVersion>();
  for (const part of v.split(',').map((x) => x.trim())) {
    if (part === '4' || part === '3.1.1') out.add(4);
    else if (part === '5' || part === '5.0') out.add(5);
    else throw new UsageError(`--versions: expected 4, 5, 3.1.1 or 5.0 (comma-separated), got '${part}'`);
  }
  return [...out].sort();
}

function parseReplay(v: string): { seed: number; path: string } {
  const m = /^(-?\d+):(\d+(?::\d+)*)$/.exec(v);
  if (!m || !Number.isSafeInteger(Number(m[1]))) throw new UsageError(`--replay: expected SEED:PATH as printed in a report (e.g. -123456:17:0:4), got '${v}'`);
  return { seed: Number(m[1]), path: m[2]! };
}

async function openTarget(f: ReturnType<typeof parseFlags>, io: CliIo): Promise<FuzzTarget> {
  let profile: Target['profile'] | undefined;
  let baseDir = io.cwd;
  if (f.profile !== undefined) {
    try {
      ({ profile, baseDir } = readProfileFile(resolve(io.cwd, f.profile)));
    } catch (e) {
      throw new UsageError(`--profile: ${(e as Error).message}`);
    }
  }
  const url = f.target ?? profile?.url;
  if (url === undefined) {
    if (f.pid !== undefined) throw new UsageError('--pid needs --target (the reference broker started by the fuzzer is measured anyway)');
    return launchReferenceProcess();
  }
  try {
    parseBrokerUrl(url);
  } catch (e) {
    throw new UsageError(`--target: ${(e as Error).message}`);
  }
  const t: Target | undefined = profile ? { url, profile, profileSource: f.profile!, baseDir } : undefined;
  const cred = t ? roleCredentials(t) : undefined;
  return remoteTarget(url, {
    profile, pid: f.pid !== undefined ? integerOption(f.pid, '--pid', 1, 2 ** 31 - 1, 0) : undefined,
    tls: t ? tlsOptions(t) : undefined, username: cred?.username, password: cred?.password,
  });
}

function parseFlags(argv: string[]) {
  return parseCommandArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }).values;
}

function progressPrinter(io: CliIo, quiet: boolean): (p: FuzzProgress) => void {
  const tty = Boolean((io.stderr as { isTTY?: boolean }).isTTY) && !process.env['CI'];
  let lastLine = -Infinity;
  return (p) => {
    if (quiet) return;
    const line = `fuzz ${p.elapsedS.toFixed(0)} s | ${p.packets.toLocaleString('en-US')}/${p.goal.toLocaleString('en-US')} packets (${p.idle ? 'broker idle for a memory floor' : `${Math.round(p.ratePerS).toLocaleString('en-US')}/s`}) | ${p.cases.toLocaleString('en-US')} cases | mismatches ${p.mismatches} | failures ${p.failures} | broker RSS ${p.rssBytes !== undefined ? `${(p.rssBytes / 1048576).toFixed(0)} MiB` : 'n/a'} | control p99 ${p.controlP99Ms !== undefined ? `${p.controlP99Ms.toFixed(0)} ms` : 'n/a'}`;
    if (tty) {
      io.stderr.write(`\r\x1b[2K${line}`);
    } else if (p.elapsedS - lastLine >= 10) {
      lastLine = p.elapsedS;
      io.stderr.write(`${line}\n`);
    }
  };
}

export async function fuzzCommand(argv: string[], io: CliIo): Promise<number> {
  const f = parseFlags(argv);
  if (f.help) {
    io.stdout.write(`${FUZZ_USAGE}\n`);
    return 0;
  }
  const packets = integerOption(f.packets, '--packets', 1, 1e10, 100_000);
  const seed = integerOption(f.seed, '--seed', -(2 ** 31), 2 ** 31 - 1, (Math.random() * 2 ** 32) | 0);
  const versions = parseVersions(f.versions);
  const concurrency = integerOption(f.concurrency, '--concurrency', 1, 1000, 128);
  const maxTimeMs = durationMs(f['max-time'], '--max-time', 30 * 60_000, 1000);
  const shrinkTimeMs = durationMs(f['shrink-time'], '--shrink-time', 120_000, 0);
  const caseTimeoutMs = durationMs(f['case-timeout'], '--case-timeout', 10_000);
  const controlTimeoutMs = durationMs(f['control-timeout'], '--control-timeout', 5000);
  const replay = f.replay !== undefined ? parseReplay(f.replay) : undefined;

  const target = await openTarget(f, io);
  try {
    if (replay) return await replayOne(replay, target, versions, caseTimeoutMs, io);
    io.stderr.write(`fuzzing ${target.label} at ${target.url()}: ${packets.toLocaleString('en-US')} packets, MQTT ${versions.map((v) => (v === 5 ? '5.0' : '3.1.1')).join(' + ')}, seed ${seed}, ${concurrency} connections at a time\n`);
    const report = await runFuzz({
      target, packets, seed, versions, concurrency, maxTimeMs, shrinkTimeMs, caseTimeoutMs, controlTimeoutMs,
      onProgress: progressPrinter(io, f.quiet ?? false), commandLine: ['mqtt-testbed', 'fuzz', ...argv].join(' '),
      replayHint: `npm run fuzz -- --replay {ref}${f.target !== undefined ? ` --target ${f.target}` : ''}${versions.length === 1 ? ` --versions ${versions[0]}` : ''}`,
    });
    const out = resolve(io.cwd, f.out ?? `out/fuzz/fuzz-${new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeReport(out, report);
    if (!f.quiet && Boolean((io.stderr as { isTTY?: boolean }).isTTY) && !process.env['CI']) io.stderr.write('\n');
    io.stdout.write(`${summarize(report)}\nresults: ${out}\n`);
    return report.passed ? 0 : 1;
  } finally {
    await target.close();
  }
}

async function replayOne(ref: { seed: number; path: string }, target: FuzzTarget, versions: ProtocolVersion[], caseTimeoutMs: number, io: CliIo): Promise<number> {
  const c = await replayCase(arbitraryFuzzCase({ versions }), ref);
  const r = await executeCase(c, new ClientIds('rp').next(), target, { caseTimeoutMs, incompleteWaitMs: 500 });
  const lines = [
    `case seed ${ref.seed} path ${ref.path} against ${target.label} at ${target.url()}`,
    ...describeCase(c, r.clientId).map((l) => `  ${l}`),
    `  bytes (${r.materialized.stream.length}, written as ${r.materialized.chunks.map((x) => x.length).join('+')}): ${r.materialized.stream.toString('hex')}`,
    `  expected: ${r.verdict ? describeVerdict(r.verdict) : `the codec failed first: ${r.codec?.detail ?? '?'}`}`,
    `  got: ${r.outcome ? `${r.outcome.status} ${r.outcome.kind}: ${r.outcome.detail}` : r.observation?.openError ?? r.codec?.detail ?? '?'}`,
  ];
  const exit = target.exitInfo();
  if (exit !== undefined) lines.push(`  the broker is gone: ${exit}`);
  io.stdout.write(`${lines.join('\n')}\n`);
  return r.outcome?.status === 'ok' && exit === undefined ? 0 : 1;
}

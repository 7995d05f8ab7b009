/**
 * Test helper: the command line that runs `mqtt-testbed broker` as a child
 * process. When dist/ is up to date (npm test builds first) that is
 * `node dist/cli/main.js broker`. When it is stale, the broker command is
 * compiled into a private folder under out/ instead of rebuilding dist/:
 * cli/cli.test.ts rebuilds dist/ in that case, and two compilers writing
 * dist/ at once break each other's child processes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN = join(ROOT, 'dist/cli/main.js');

/** Newest modification time of the .ts sources the CLI is built from. */
export function newestSource(): number {
  let newest = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['cli', 'reference-broker', 'codec']) walk(join(ROOT, d));
  return newest;
}

export interface BrokerCommand {
  /** node plus the script; append the broker flags. */
  argv: string[];
  /** Where it came from: dist/cli/main.js or the private build. */
  source: 'dist' | 'private build';
  /** Removes the private build, if any. */
  dispose(): void;
}

/** `node … broker` from dist/ if it is current, else from a private build of the broker command (about a second). */
export function brokerCommandLine(): BrokerCommand {
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestSource()) {
    return { argv: [process.execPath, MAIN, 'broker'], source: 'dist', dispose() {} };
  }
  mkdirSync(join(ROOT, 'out'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'out', 'broker-build-'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: { outDir: join(dir, 'js'), rootDir: ROOT, sourceMap: false, noEmitOnError: false },
    include: [],
    files: [join(ROOT, 'cli/broker-command.ts'), join(ROOT, 'cli/io.ts')],
  }));
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // type errors still emit JavaScript; a missing output is caught below
  }
  const entry = join(dir, 'js', 'broker-main.mjs');
  writeFileSync(entry, [
    "import { brokerCommand } from './cli/broker-command.js';",
    "import { processIo } from './cli/io.js';",
    'brokerCommand(process.argv.slice(2), processIo()).then((code) => process.exit(code), (e) => { process.stderr.write(`${String(e)}\\n`); process.exit(1); });',
    '',
  ].join('\n'));
  if (!existsSync(join(dir, 'js', 'cli', 'broker-command.js'))) throw new Error(`could not compile the broker command into ${dir}`);
  return { argv: [process.execPath, entry], source: 'private build', dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

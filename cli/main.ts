#!/usr/bin/env node
/** The `mqtt-testbed` command: dispatches to one file per subcommand. Exit 2 on usage or configuration errors. */
import { ConfigError } from '../reference-broker/config.js';
import { benchCommand } from './bench-command.js';
import { brokerCommand } from './broker-command.js';
import { certsCommand } from './certs-command.js';
import { deliveryCommand } from './delivery-command.js';
import { fuzzCommand } from './fuzz-command.js';
import { gateCommand } from './gate-command.js';
import { matrixCommand } from './matrix-command.js';
import { processIo, UsageError, type CliIo } from './io.js';
import { passwdCommand } from './passwd-command.js';
import { reportCommand } from './report-command.js';
import { selftestCommand } from './selftest-command.js';
import { USAGE } from './usage.js';

const COMMANDS: Record<string, (argv: string[], io: CliIo) => Promise<number>> = {
  broker: brokerCommand,
  passwd: passwdCommand,
  certs: certsCommand,
  bench: benchCommand,
  report: reportCommand,
  gate: gateCommand,
  fuzz: fuzzCommand,
  matrix: matrixCommand,
  delivery: deliveryCommand,
  selftest: selftestCommand,
};

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    io.stdout.write(USAGE);
    return 0;
  }
  const run = command !== undefined ? COMMANDS[command] : undefined;
  if (!run) {
    io.stderr.write(`${command === undefined ? 'mqtt-testbed: no command given' : `mqtt-testbed: unknown command '${command}'`}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`mqtt-testbed ${command}: ${e.message}\n(mqtt-testbed ${command} --help shows the options)\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      io.stderr.write(`mqtt-testbed ${command}: bad configuration: ${e.message}\n`);
      return 2;
    }
    io.stderr.write(`mqtt-testbed ${command}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

main(process.argv.slice(2), processIo()).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`mqtt-testbed: ${String(e)}\n`);
    process.exit(1);
  },
);

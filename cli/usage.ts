/** `mqtt-testbed help` and the text printed for unknown commands. */
import { BROKER_USAGE } from './broker-command.js';
import { CERTS_USAGE } from './certs-command.js';
import { PASSWD_USAGE } from './passwd-command.js';

export const USAGE = `usage: mqtt-testbed <command> [options]

commands:
  broker    run the reference broker
  passwd    add a user to a password file, or change its password
  certs     generate throwaway TLS certificates
  help      show this text

${BROKER_USAGE}

${PASSWD_USAGE}

${CERTS_USAGE}
`;

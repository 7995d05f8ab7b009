/** `mqtt-testbed help` and the text printed for unknown commands. */
import { BENCH_USAGE } from './bench-command.js';
import { BROKER_USAGE } from './broker-command.js';
import { CERTS_USAGE } from './certs-command.js';
import { DELIVERY_USAGE } from './delivery-command.js';
import { FUZZ_USAGE } from './fuzz-command.js';
import { GATE_USAGE } from './gate-command.js';
import { MATRIX_USAGE } from './matrix-command.js';
import { PASSWD_USAGE } from './passwd-command.js';
import { REPORT_USAGE } from './report-command.js';
import { SELFTEST_USAGE } from './selftest-command.js';

export const USAGE = `usage: mqtt-testbed <command> [options]

commands:
  broker    run the reference broker
  passwd    add a user to a password file, or change its password
  certs     generate throwaway TLS certificates
  bench     MQTT vs HTTP vs CoAP on a scenario workload (bytes, latency, throughput)
  matrix    the conformance suites against the reference broker, Mosquitto and Aedes
  delivery  QoS 1/2 delivery guarantees under random connection cuts (reference, Mosquitto, Aedes)
  selftest  the conformance suites against deliberately faulty brokers: which faults they catch
  report    one self-contained HTML report from results JSON files
  gate      compare results with a baseline; non-zero exit on a regression
  fuzz      valid and mutated packets against a broker: crashes, hangs, wrong reason codes, memory growth
  help      show this text

${BROKER_USAGE}

${PASSWD_USAGE}

${CERTS_USAGE}

${BENCH_USAGE}

${MATRIX_USAGE}

${DELIVERY_USAGE}

${SELFTEST_USAGE}

${REPORT_USAGE}

${GATE_USAGE}

${FUZZ_USAGE}
`;

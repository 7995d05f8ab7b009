/** Public surface of the reference broker. */
export { Broker, type BrokerStats, type RestoreReport } from './core/broker.js';
export { FilePersistence, noPersistence, type Persistence } from './core/persistence.js';
export {
  FAULTS, FAULT_NAMES, NO_FAULTS, activeFaults, faultSet, isFaultName, parseFaults, UnknownFaultError,
  type FaultInfo, type FaultName, type FaultSet,
} from './core/faults.js';
export { systemClock, FakeClock, type Clock, type TimerHandle } from './core/clock.js';
export type { Link, PeerCertificateInfo, TransportKind } from './core/link.js';
export {
  silentLogger, type AuthenticateRequest, type AuthenticateResult, type AuthFailure, type BrokerHooks,
  type BrokerOptions, type ClientInfo, type Logger,
} from './core/options.js';
export {
  startBroker, type BoundListener, type ListenerKind, type ListenerOptions, type RunningBroker, type StartOptions, type TlsMaterial,
} from './listeners/start.js';
export {
  generateDevCerts, readTlsMaterial, createCa, issueCertificate, issueCertificateForPeriod, type DevCertFiles, type DevCertOptions, type ValidityPeriod,
} from './tls/dev-certs.js';
export { composeHooks, anonymousAllowed, type AuthPolicy } from './auth/hooks.js';
export { hashPassword, formatHash, verifyPassword, readPasswordFile, parsePasswordFile, writeUser, passwordAuthenticator, PasswordFileError } from './auth/password-file.js';
export { parseAclFile, readAclFile, aclHooks, filterCovers, filtersIntersect, AclFileError, type Acl, type AclRule } from './auth/acl-file.js';
export { certificateUsername, certificateAuthenticator } from './auth/client-cert.js';
export { validateConfig, readConfigFile, loadConfig, ConfigError, type BrokerConfig } from './config.js';

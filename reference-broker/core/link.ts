/**
 * The byte pipe between the broker core and one network connection. Listener
 * adapters (TCP, TLS, WebSocket) implement it; tests use a fake.
 */
export type TransportKind = 'tcp' | 'tls' | 'ws' | 'wss' | 'test';

export interface PeerCertificateInfo {
  /** Whether the certificate chain verified against the configured CA. */
  authorized: boolean;
  subjectCN?: string | undefined;
  fingerprint256?: string | undefined;
}

export interface Link {
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  readonly peerCertificate?: PeerCertificateInfo | undefined;
  /** Queues bytes for sending. */
  write(bytes: Buffer): void;
  /** Bytes queued but not yet handed to the OS (for back-pressure decisions). */
  bufferedBytes(): number;
  /** Sends what is queued, then closes. */
  close(): void;
  /** Closes at once, dropping what is queued. */
  destroy(): void;
  /** Stops reading from the peer (back-pressure towards a publisher); bytes already read are still delivered. */
  pause(): void;
  /** Reads again after pause(). */
  resume(): void;
}

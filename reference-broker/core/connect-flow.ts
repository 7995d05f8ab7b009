/**
 * CONNECT handling as a list of small steps (3.1.1 §3.1.4, 5.0 §3.1.4):
 * limits → client identifier → capabilities → authentication → takeover →
 * session (Clean Start / Session Expiry) → CONNACK → resend in-flight.
 */
import { encode, MAX_PACKET_SIZE, type ConnackProperties, type ConnectPacket, type PublishProperties, type QoS, type WillProperties } from '../../codec/index.js';
import type { Connection } from './connection.js';
import { forwardedProperties, type AppMessage } from './message.js';
import type { AuthenticateResult, AuthFailure, ClientInfo } from './options.js';

/** CONNACK codes per failure: [3.1.1 return code, 5.0 reason code]. */
const REFUSAL: Record<AuthFailure | 'client-id' | 'quota' | 'auth-method' | 'qos' | 'retain', [number, number]> = {
  'bad-credentials': [0x04, 0x86],
  'not-authorized': [0x05, 0x87],
  banned: [0x05, 0x8a],
  'server-unavailable': [0x03, 0x88],
  'client-id': [0x02, 0x85],
  quota: [0x03, 0x97],
  'auth-method': [0x05, 0x8c],
  qos: [0x05, 0x9b],
  retain: [0x05, 0x9a],
};

function refuse(conn: Connection, why: keyof typeof REFUSAL, detail: string): void {
  const [v4, v5] = REFUSAL[why];
  conn.broker.opts.logger.info('CONNECT refused', { remote: conn.link.remoteAddress, why, detail });
  // Session Present is 0 on a refusal [MQTT-3.2.2-6 / 3.1.1 MQTT-3.2.2-4]; then close [MQTT-3.2.2-7].
  conn.send({ type: 'connack', sessionPresent: false, reasonCode: conn.version === 5 ? v5 : v4, properties: conn.problemInfo(detail) });
  conn.close(`CONNECT refused: ${why}`);
}

export function handleConnect(conn: Connection, p: ConnectPacket): void {
  const broker = conn.broker;
  const opts = broker.opts;
  conn.version = p.protocolVersion;
  const v5 = p.protocolVersion === 5;
  const props = p.properties;
  if (v5 && props) {
    conn.requestProblemInformation = props.requestProblemInformation !== 0;
    if (props.receiveMaximum !== undefined) conn.clientReceiveMaximum = props.receiveMaximum;
    if (props.maximumPacketSize !== undefined) conn.clientMaxPacketSize = props.maximumPacketSize;
    if (props.topicAliasMaximum !== undefined) conn.clientTopicAliasMaximum = props.topicAliasMaximum;
  }
  // A client taking over its own connection does not add one, so it is let in at the limit.
  if (opts.maxConnections !== undefined && broker.openConnections >= opts.maxConnections && !(p.clientId.length > 0 && broker.isConnected(p.clientId))) {
    broker.stats.refused++;
    broker.limitLog.warn('connection-limit', 'connection limit reached (maxConnections): CONNECT refused', {
      remote: conn.link.remoteAddress, clientId: p.clientId, open: broker.openConnections, limit: opts.maxConnections,
    });
    refuse(conn, 'quota', `connection limit of ${opts.maxConnections} reached`);
    return;
  }
  // Client identifier [MQTT-3.1.3-6, MQTT-3.1.3-7; 3.1.1 MQTT-3.1.3-7, MQTT-3.1.3-8]
  let clientId = p.clientId;
  let assigned: string | undefined;
  if (clientId.length === 0) {
    if (!opts.allowZeroLengthClientId || (!v5 && !p.clean)) {
      refuse(conn, 'client-id', 'a zero-length ClientID needs Clean Session 1 (3.1.1) and a server that assigns IDs');
      return;
    }
    clientId = assigned = broker.newClientId();
  }
  // Capabilities the Will asks for [MQTT-3.2.2-12, MQTT-3.2.2-13]
  if (p.will && v5) {
    if (p.will.qos > opts.maxQoS) { refuse(conn, 'qos', `Will QoS ${p.will.qos} above Maximum QoS ${opts.maxQoS}`); return; }
    if (p.will.retain && !opts.retainAvailable) { refuse(conn, 'retain', 'retained Will but retain is not available'); return; }
  }
  if (v5 && props?.authenticationMethod !== undefined) {
    refuse(conn, 'auth-method', `authentication method '${props.authenticationMethod}' is not supported`);
    return;
  }
  const info: ClientInfo = {
    clientId, username: p.username, protocolVersion: p.protocolVersion,
    transport: conn.link.transport, remoteAddress: conn.link.remoteAddress, certificate: conn.link.peerCertificate,
  };
  conn.info = info;
  const authenticate = opts.hooks.authenticate;
  if (!authenticate) {
    accept(conn, p, info, assigned);
    return;
  }
  let result: AuthenticateResult | Promise<AuthenticateResult>;
  try {
    result = authenticate({ ...info, password: p.password });
  } catch (e) {
    opts.logger.error('authenticate hook threw', { error: String(e) });
    refuse(conn, 'server-unavailable', 'authentication failed internally');
    return;
  }
  const settle = (r: AuthenticateResult): void => {
    if (conn.state === 'closed') return;
    if (!r.ok) { refuse(conn, r.reason, r.message ?? r.reason); return; }
    if (r.username !== undefined) info.username = r.username;
    broker.atomically(() => accept(conn, p, info, assigned));
  };
  if (result instanceof Promise) {
    conn.beginAuthentication();
    result.then(settle, (e: unknown) => {
      opts.logger.error('authenticate hook rejected', { error: String(e) });
      if (conn.state !== 'closed') refuse(conn, 'server-unavailable', 'authentication failed internally');
    });
  } else {
    settle(result);
  }
}

function accept(conn: Connection, p: ConnectPacket, info: ClientInfo, assigned: string | undefined): void {
  const broker = conn.broker;
  const opts = broker.opts;
  const v5 = p.protocolVersion === 5;
  // Session Expiry: 3.1.1 Clean Session 0 keeps the session without limit; 5.0 takes the property.
  const requested = v5 ? (p.properties?.sessionExpiryInterval ?? 0) : p.clean ? 0 : 0xffffffff;
  const expiry = broker.capSessionExpiry(requested);
  conn.connectSessionExpiry = requested;

  if (p.will) {
    const w = p.will;
    const wp = w.properties;
    const f = opts.faults;
    const msg: AppMessage = {
      // FAULT will-qos0 / will-retain-ignored: Will QoS / Will Retain not honoured.
      topic: w.topic, payload: Buffer.from(w.payload), qos: f['will-qos0'] ? 0 : Math.min(w.qos, opts.maxQoS) as QoS,
      retain: w.retain && opts.retainAvailable && !f['will-retain-ignored'],
      properties: wp ? forwardedProperties(willToPublishProperties(wp)) : undefined,
      expiresAt: undefined, origin: info.clientId,
    };
    conn.will = { msg, delay: wp?.willDelayInterval ?? 0 };
  }

  // Keep Alive; a 5.0 server may impose its own [MQTT-3.2.2-21, MQTT-3.2.2-22]
  let keepAlive = p.keepAlive;
  let serverKeepAlive: number | undefined;
  if (opts.maxKeepAlive !== undefined && (keepAlive === 0 || keepAlive > opts.maxKeepAlive) && v5) {
    serverKeepAlive = keepAlive = opts.maxKeepAlive;
  }
  conn.keepAliveMs = keepAlive * 1000;

  let properties: ConnackProperties | undefined;
  if (v5) {
    properties = {};
    if (assigned !== undefined) properties.assignedClientIdentifier = assigned; // [MQTT-3.2.2-16]
    if (expiry !== requested) properties.sessionExpiryInterval = expiry;
    if (opts.receiveMaximum < 65535) properties.receiveMaximum = opts.receiveMaximum;
    if (opts.maxQoS < 2) properties.maximumQoS = opts.maxQoS; // [MQTT-3.2.2-9]
    if (!opts.retainAvailable) properties.retainAvailable = 0;
    if (opts.maxPacketSize < MAX_PACKET_SIZE) properties.maximumPacketSize = opts.maxPacketSize;
    if (opts.topicAliasMaximum > 0) properties.topicAliasMaximum = opts.topicAliasMaximum;
    if (!opts.wildcardSubscriptions) properties.wildcardSubscriptionAvailable = 0;
    if (!opts.subscriptionIdentifiers) properties.subscriptionIdentifierAvailable = 0;
    if (!opts.sharedSubscriptions) properties.sharedSubscriptionAvailable = 0;
    if (serverKeepAlive !== undefined) properties.serverKeepAlive = serverKeepAlive;
    if (p.properties?.requestResponseInformation === 1 && opts.responseInformation !== undefined) {
      properties.responseInformation = opts.responseInformation.replaceAll('%c', info.clientId);
    }
    if (Object.keys(properties).length === 0) properties = undefined;
  }
  // A CONNACK the client's Maximum Packet Size cannot take cannot be sent [MQTT-3.1.2-24]; without it
  // the connection cannot proceed, so close it rather than leave the client waiting.
  if (encode({ type: 'connack', sessionPresent: false, reasonCode: 0, properties }, p.protocolVersion, { validate: false }).length > conn.clientMaxPacketSize) {
    opts.logger.info('CONNACK larger than the client Maximum Packet Size; closing', { clientId: info.clientId, maximumPacketSize: conn.clientMaxPacketSize });
    conn.will = undefined;
    conn.close('CONNACK does not fit the client Maximum Packet Size');
    return;
  }
  const { present } = broker.attachSession(conn, info.clientId, p.clean, p.protocolVersion, expiry);
  conn.send({ type: 'connack', sessionPresent: present, reasonCode: 0, properties });
  opts.logger.info('client connected', {
    clientId: info.clientId, username: info.username, version: p.protocolVersion === 5 ? '5.0' : '3.1.1',
    transport: info.transport, clean: p.clean, sessionPresent: present, keepAlive,
  });
  conn.opened(); // resumes the session: in-flight resent, queue drained
}

/** Will Properties become the PUBLISH properties of the Will Message (5.0 §3.1.3.2), minus the delay. */
function willToPublishProperties(wp: WillProperties): PublishProperties {
  const { willDelayInterval: _d, ...rest } = wp;
  return rest;
}

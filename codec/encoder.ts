/** encode(packet, version): the one entry point that turns a packet object into bytes. */
import type { ProtocolVersion } from './constants.js';
import { MqttCodecError } from './errors.js';
import { encodeConnack } from './packets/connack.js';
import { encodeConnect } from './packets/connect.js';
import { encodeAck } from './packets/pub-ack.js';
import { encodePublish } from './packets/publish.js';
import { encodeEmpty, encodeReasonOnly } from './packets/reason-only.js';
import { encodeSuback } from './packets/suback.js';
import { encodeSubscribe } from './packets/subscribe.js';
import { encodeUnsubscribe } from './packets/unsubscribe.js';
import type { Packet } from './types.js';
import type { EncodeOptions } from './wire.js';

export type { EncodeOptions };

export function encode(packet: Packet, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  if (version !== 4 && version !== 5) {
    throw new MqttCodecError('UNSUPPORTED_PROTOCOL_LEVEL', `cannot encode for protocol level ${String(version)}`, { protocolLevel: version });
  }
  switch (packet.type) {
    case 'publish': return encodePublish(packet, version, opts);
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': return encodeAck(packet, version, opts);
    case 'connect': return encodeConnect(packet, version, opts);
    case 'connack': return encodeConnack(packet, version, opts);
    case 'subscribe': return encodeSubscribe(packet, version, opts);
    case 'suback': case 'unsuback': return encodeSuback(packet, version, opts);
    case 'unsubscribe': return encodeUnsubscribe(packet, version, opts);
    case 'pingreq': case 'pingresp': return encodeEmpty(packet, version, opts);
    case 'disconnect': case 'auth': return encodeReasonOnly(packet, version, opts);
    default: {
      const t: unknown = (packet as { type?: unknown }).type;
      throw new MqttCodecError('UNKNOWN_PACKET_TYPE', `cannot encode packet type ${String(t)}`, { version });
    }
  }
}

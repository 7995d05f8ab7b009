/**
 * MQTT byte classifier: walks the packet framing of one direction of a
 * connection (fixed header byte, Remaining Length, then the rest) without
 * decoding packets, and counts each packet's bytes as it passes:
 *
 *   CONNECT, CONNACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, AUTH → setup
 *   PUBLISH → message
 *   PUBACK, PUBREC, PUBREL, PUBCOMP → ack
 *   PINGREQ, PINGRESP, DISCONNECT → control
 *
 * An observer sees each packet's type, fixed header size (1 + the Remaining
 * Length bytes) and total size, for the claim checks.
 */
import type { ByteCategory, Classifier } from '../../harness/meters/byte-meter.js';

export const MQTT_PACKET_NAMES = ['reserved', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'] as const;

const CATEGORY: readonly ByteCategory[] = ['control', 'setup', 'setup', 'message', 'ack', 'ack', 'ack', 'ack', 'setup', 'setup', 'setup', 'setup', 'control', 'control', 'control', 'setup'];

export interface MqttPacketSeen {
  type: number;
  /** 1 + the Remaining Length bytes. */
  fixedHeader: number;
  total: number;
}

/** A classifier for one direction; `observe` sees each complete packet's framing. */
export function mqttClassifier(observe?: (p: MqttPacketSeen) => void): Classifier {
  let type = -1; // -1: at a packet boundary
  let vbiBytes = 0;
  let vbiDone = false;
  let remaining = 0;
  let multiplier = 1;
  let left = 0; // bytes of the packet body still to come
  return (chunk, count) => {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (type < 0) {
        type = chunk[i]! >> 4;
        vbiBytes = 0;
        vbiDone = false;
        remaining = 0;
        multiplier = 1;
        count(CATEGORY[type]!, 1);
        i++;
        continue;
      }
      const cat = CATEGORY[type]!;
      if (!vbiDone) {
        const b = chunk[i]!;
        remaining += (b & 0x7f) * multiplier;
        multiplier *= 128;
        vbiBytes++;
        count(cat, 1);
        i++;
        if ((b & 0x80) === 0 || vbiBytes >= 4) {
          vbiDone = true;
          left = remaining;
          if (left === 0) {
            observe?.({ type, fixedHeader: 1 + vbiBytes, total: 1 + vbiBytes });
            type = -1;
          }
        }
        continue;
      }
      const take = Math.min(left, n - i);
      count(cat, take);
      i += take;
      left -= take;
      if (left === 0) {
        observe?.({ type, fixedHeader: 1 + vbiBytes, total: 1 + vbiBytes + remaining });
        type = -1;
      }
    }
  };
}

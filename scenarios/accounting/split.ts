/**
 * From byte counts to the results' ByteSplit.
 *
 * Method (application layer):
 * - setup: wire bytes of the connect phase, before the warm-up, all devices
 *   (TCP payload: TLS handshakes, MQTT CONNECT/CONNACK and SUBSCRIBE/SUBACK,
 *   WebSocket upgrades, CoAP Observe registrations). A TCP handshake carries
 *   no application bytes: it shows only at the IP layer.
 * - In the measured window, per application message (a reading, a fan-out
 *   delivery, a command exchange):
 *     perMessage        = window wire bytes / messages
 *     payloadPerMessage = the application payload bytes (known to the sender) / messages
 *     acksPerMessage    = bytes of frames that carry no payload (PUBACK/PUBREC/PUBREL/PUBCOMP,
 *                         CoAP ACK or bodiless response, HTTP bodiless response) / messages
 *     headersPerMessage = (frames that carry a payload − payload
 *                          + transport overhead (wire − classified plaintext: TLS records, WebSocket frames)
 *                          + set-up inside the window (a new connection per request)) / messages
 *   What is left (perMessage − payload − headers − acks) is keep-alive and
 *   other control traffic (PINGREQ/PINGRESP, HTTP polls, the end of chunked streams).
 *   Messages and bytes are snapshotted together at the window's edges, so
 *   they cover the same span; an ack or response to a message sent just
 *   before an edge can fall on the other side of it (± one per edge).
 *   A message sent twice (CoAP retransmission, QoS 1 DUP) counts once, its
 *   bytes twice: retransmissions raise bytes per message, as on the wire.
 *
 * IP layer (interface counters in a network namespace): the same setup /
 * window split by time; per message only total and payload are known, so
 * headersPerMessage = perMessage − payload and acksPerMessage = 0 there.
 */
import type { ByteCounts } from '../../harness/meters/byte-meter.js';
import type { ByteSplit } from '../../results/types.js';

const round = (x: number): number => Math.round(x * 100) / 100;

export function appByteSplit(setup: ByteCounts, window: ByteCounts, messages: number, payloadBytes: number): ByteSplit {
  const per = (x: number): number => (messages > 0 ? round(x / messages) : 0);
  const classified = window.setup + window.message + window.ack + window.control;
  const transport = Math.max(0, window.wire - classified);
  return {
    setup: setup.wire,
    perMessage: per(window.wire),
    payloadPerMessage: per(payloadBytes),
    headersPerMessage: per(Math.max(0, window.message - payloadBytes) + transport + window.setup),
    acksPerMessage: per(window.ack),
    total: window.wire,
  };
}

/** Interface counters (tx + rx of the device's interface) as bytes and packets. */
export interface IpCounts {
  bytes: number;
  packets: number;
}

export function ipByteSplit(setup: IpCounts, window: IpCounts, messages: number, payloadBytes: number): ByteSplit {
  const per = (x: number): number => (messages > 0 ? round(x / messages) : 0);
  return {
    setup: setup.bytes,
    perMessage: per(window.bytes),
    payloadPerMessage: per(payloadBytes),
    headersPerMessage: per(Math.max(0, window.bytes - payloadBytes)),
    acksPerMessage: 0,
    total: window.bytes,
    packets: window.packets,
  };
}

/**
 * Compares what the broker did with one case (an Observation) with what the
 * oracle says a correct server must do (a Verdict). The outcome is ok (with
 * how), a mismatch (the broker answered, but not as the spec says: a wrong
 * or missing reason code, a close it should not have made, a connection it
 * should have closed), or a hang (the broker neither answered the probe nor
 * closed the connection in time).
 */
import type { Observation } from './case-connection.js';
import type { Alternative, Verdict } from './oracle.js';

export type OutcomeStatus = 'ok' | 'mismatch' | 'hang';

export interface Outcome {
  status: OutcomeStatus;
  /** Stable name: counted per kind in the report. */
  kind: string;
  /** What was expected and what happened, one line. */
  detail: string;
}

export interface ClassifyContext {
  /** Another case connected with the same ClientId meanwhile: a takeover close is allowed. */
  takeoverPossible: boolean;
  /** The client's Keep Alive, seconds (0: none), to allow the server's keep-alive close. */
  keepAlive: number;
}

const hex = (c: number): string => `0x${c.toString(16).padStart(2, '0')}`;
const list = (cs: readonly number[]): string => cs.map(hex).join('/');
const ok = (kind: string, detail: string): Outcome => ({ status: 'ok', kind, detail });
const bad = (kind: string, detail: string): Outcome => ({ status: 'mismatch', kind, detail });

function allowed(alts: readonly Alternative[], via: Alternative['via'], code: number | undefined): Alternative | undefined {
  return alts.find((a) => a.via === via && (via === 'silent' || (code !== undefined && a.codes.includes(code))));
}

/** How the broker ended the connection, for messages. */
function how(o: Observation): string {
  const parts: string[] = [];
  if (o.connack) parts.push(`CONNACK ${hex(o.connack.code)}`);
  if (o.disconnect) parts.push(`DISCONNECT ${hex(o.disconnect.code)}`);
  parts.push(o.closed ? 'closed' : 'still open');
  return parts.join(', ');
}

/** A close of an open connection that some rule allows even though the case was acceptable. */
function allowedClose(v: Verdict, o: Observation, ctx: ClassifyContext): Outcome | undefined {
  if (o.connack && o.connack.code !== 0) {
    const a = allowed(v.alternatives, 'connack', o.connack.code);
    return a ? ok('allowed-refusal', `CONNACK ${hex(o.connack.code)}: ${a.why}`) : undefined;
  }
  if (o.disconnect) {
    const a = allowed(v.alternatives, 'disconnect', o.disconnect.code);
    if (a) return ok('allowed-close', `DISCONNECT ${hex(o.disconnect.code)}: ${a.why}`);
  }
  const silent = allowed(v.alternatives, 'silent', undefined);
  if (silent && o.disconnect === undefined) return ok('allowed-close', `closed: ${silent.why}`);
  // Keep Alive ran out while the case was slow [MQTT-3.1.2-24 / 5.0 MQTT-3.1.2-22]: 0x8D in 5.0.
  if (ctx.keepAlive > 0 && (o.closedAfterMs ?? 0) >= ctx.keepAlive * 1000 && (o.disconnect === undefined || o.disconnect.code === 0x8d)) {
    return ok('keep-alive', `closed after the Keep Alive of ${ctx.keepAlive} s`);
  }
  // Another connection with this ClientId took the session over [MQTT-3.1.4-3]: 0x8E in 5.0.
  if (ctx.takeoverPossible && (o.disconnect === undefined || o.disconnect.code === 0x8e)) return ok('taken-over', 'session taken over by a connection with the same ClientId');
  if (o.closed && o.disconnect === undefined) {
    // A close the server may make, but without the DISCONNECT it SHOULD send first.
    const close = v.alternatives.find((a) => a.via === 'disconnect');
    if (close) return bad('no-reason-code', `closed without DISCONNECT ${list(close.codes)} (5.0 §4.13.1 SHOULD), which it may close with: ${close.why}`);
  }
  return undefined;
}

export function classify(v: Verdict, o: Observation, ctx: ClassifyContext): Outcome {
  if (o.badBytes !== undefined) return bad('bad-bytes', `the broker sent bytes a client cannot decode: ${o.badBytes}`);
  if (v.connected && v.version === 5) {
    const max = v.connect?.properties?.maximumPacketSize;
    if (max !== undefined && o.largestPacket > max) return bad('oversize-sent', `the broker sent a ${o.largestPacket}-byte packet above the client's Maximum Packet Size ${max} [MQTT-3.1.2-24]`);
  }
  if (o.disconnectBeforeConnack) return bad('disconnect-before-connack', `DISCONNECT ${hex(o.disconnect!.code)} before any CONNACK [MQTT-3.14.0-1]`);
  if (v.connected && o.closed && o.connack === undefined) {
    // An acceptable CONNECT is answered with CONNACK 0x00 [5.0 MQTT-3.1.4-5, 3.1.1 MQTT-3.1.4-4], also when a later packet then closes the connection.
    const silent = v.alternatives.find((a) => a.via === 'silent' || (a.via === 'connack' && a.silentToo === true));
    if (silent) return ok('allowed-close', `closed without CONNACK: ${silent.why}`);
    return bad('closed-without-connack', `the CONNECT was acceptable but the connection was closed without a CONNACK [${v.version === 5 ? 'MQTT-3.1.4-5' : 'MQTT-3.1.4-4'}]${v.kind === 'close' ? `; a close was due after packet ${v.packets} (${v.why})` : ''}`);
  }

  switch (v.kind) {
    case 'accept':
    case 'incomplete': {
      if (o.closed || (o.connack && o.connack.code !== 0)) {
        return allowedClose(v, o, ctx) ?? bad(o.connack && o.connack.code !== 0 ? 'unexpected-refusal' : 'unexpected-close', `expected the connection to stay open; got ${how(o)}`);
      }
      if (v.kind === 'incomplete') return ok('waited', 'left open while the packet is incomplete');
      if (o.connack === undefined) return { status: 'hang', kind: 'no-connack', detail: 'no CONNACK and no close in time' };
      if (o.pingresps <= v.pingreqs) return { status: 'hang', kind: 'no-pingresp', detail: `no PINGRESP to the probe and no close in time (${o.pingresps} PINGRESP(s) for ${v.pingreqs + 1} PINGREQ(s))` };
      return ok('accepted', 'served');
    }
    case 'client-disconnect': {
      if (o.connack && o.connack.code !== 0) return allowedClose(v, o, ctx) ?? bad('unexpected-refusal', `expected CONNACK 0x00; got ${how(o)}`);
      if (o.disconnect) return allowedClose(v, o, ctx) ?? bad('unexpected-answer', `the broker answered the client's DISCONNECT with ${how(o)}`);
      return ok('client-disconnect', 'closed after the client\'s DISCONNECT');
    }
    case 'close': {
      const a = v.answer;
      if (!o.closed && o.disconnect === undefined && v.mayStayOpen !== undefined) return ok('tolerated', `left open: ${v.mayStayOpen}`);
      if (a.via === 'connack') {
        if (o.connack?.code === 0) return bad('accepted-bad-connect', `expected CONNACK ${list(a.codes)} or a close; got ${how(o)} (${v.why})`);
        if (o.connack !== undefined && !a.codes.includes(o.connack.code)) {
          return allowedClose(v, o, ctx) ?? bad('wrong-code', `expected CONNACK ${list(a.codes)}; got ${how(o)} (${v.why})`);
        }
        if (!o.closed) return bad('not-closed', `expected ${o.connack ? 'the close after CONNACK' : `CONNACK ${list(a.codes)} and a close`}; got ${how(o)} (${v.why})`);
        if (o.connack === undefined && a.required) return bad('missing-connack', `expected CONNACK ${list(a.codes)} before the close; got ${how(o)} (${v.why})`);
        return ok(o.connack ? 'refused' : 'closed', v.rule);
      }
      if (a.via === 'disconnect') {
        if (o.connack && o.connack.code !== 0) return allowedClose(v, o, ctx) ?? bad('unexpected-refusal', `expected CONNACK 0x00 then DISCONNECT ${list(a.codes)}; got ${how(o)} (${v.why})`);
        if (o.disconnect && !a.codes.includes(o.disconnect.code)) {
          return allowedClose(v, o, ctx) ?? bad('wrong-code', `expected DISCONNECT ${list(a.codes)}; got ${how(o)} (${v.why})`);
        }
        if (!o.closed) return bad('not-closed', `expected DISCONNECT ${list(a.codes)} and a close; got ${how(o)} (${v.why})`);
        if (o.disconnect === undefined) return allowedClose(v, o, ctx) ?? bad('no-reason-code', `expected DISCONNECT ${list(a.codes)} before the close (5.0 §4.13.1 SHOULD); got ${how(o)} (${v.why})`);
        return ok('closed-with-reason', v.rule);
      }
      // Nothing to send: 3.1.1, or before the version is known.
      if (v.connected && o.connack && o.connack.code !== 0) return allowedClose(v, o, ctx) ?? bad('unexpected-refusal', `expected CONNACK 0x00 then a close; got ${how(o)} (${v.why})`);
      if (o.disconnect) return bad('unexpected-answer', `expected a plain close; got ${how(o)} (${v.why})`);
      if (o.connack && o.connack.code === 0 && !v.connected) return bad('accepted-bad-connect', `expected a plain close; got ${how(o)} (${v.why})`);
      if (!o.closed) return bad('not-closed', `expected the connection to be closed; got ${how(o)} (${v.why})`);
      return ok('closed', v.rule);
    }
  }
}

/**
 * A deliberately broken fuzz target, so tests can show the fuzzer catches and
 * shrinks what it claims to: the reference broker in this process behind a
 * TCP proxy that reads what each client sends and, on the first packet
 * matching a trigger, misbehaves —
 *  - 'close-others': closes every connection (the control client's too);
 *  - 'freeze': stops passing bytes on every connection (the broker "hangs");
 *  - 'crash': closes everything and stops listening, as if the process died.
 * restart() puts it back in order (a new listener; the URL changes).
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Decoder, type Packet } from '../../codec/index.js';
import { startBroker, type RunningBroker } from '../../reference-broker/index.js';
import { referenceModel } from './server-model.js';
import { FUZZ_BROKER_LIMITS, type FuzzTarget } from './target.js';

export type Misbehaviour = 'close-others' | 'freeze' | 'crash';

export interface FaultyTarget extends FuzzTarget {
  /** How many times the trigger fired. */
  readonly triggered: number;
}

export async function faultyTarget(mode: Misbehaviour, trigger: (p: Packet) => boolean): Promise<FaultyTarget> {
  const broker: RunningBroker = await startBroker({ ...FUZZ_BROKER_LIMITS, tcp: { host: '127.0.0.1', port: 0 } });
  const upstream = broker.listeners[0]!;
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let url = '';
  let frozen = false;
  let crashed: string | undefined;
  let triggered = 0;

  const misbehave = (): void => {
    triggered++;
    if (mode === 'freeze') {
      frozen = true;
      return;
    }
    for (const s of sockets) s.destroy();
    if (mode === 'crash') {
      crashed = 'the faulty target "crashed" (trigger packet seen)';
      server?.close();
    }
  };

  const listen = async (): Promise<void> => {
    frozen = false;
    crashed = undefined;
    const s = createServer((client) => {
      if (crashed) return void client.destroy();
      const up = connect(upstream.port, upstream.host);
      sockets.add(client);
      sockets.add(up);
      const decoder = new Decoder({ role: 'server' });
      let sniffing = true;
      client.on('data', (chunk: Buffer) => {
        if (sniffing) {
          try {
            decoder.feed(chunk, (p) => { if (sniffing && trigger(p)) { sniffing = false; misbehave(); } });
          } catch {
            sniffing = false; // mutated bytes: nothing more to recognise on this connection
          }
        }
        if (!frozen && !crashed && !up.destroyed) up.write(chunk);
      });
      up.on('data', (chunk: Buffer) => { if (!frozen && !crashed && !client.destroyed) client.write(chunk); });
      const drop = (): void => {
        client.destroy();
        up.destroy();
        sockets.delete(client);
        sockets.delete(up);
      };
      client.on('close', drop);
      up.on('close', drop);
      client.on('error', () => {});
      up.on('error', () => {});
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
    server = s;
    url = `mqtt://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  await listen();

  return {
    label: `faulty target (${mode} on trigger)`,
    exact: true,
    model: referenceModel(FUZZ_BROKER_LIMITS),
    restartable: true,
    get triggered() { return triggered; },
    url: () => url,
    pid: () => undefined,
    exitInfo: () => crashed,
    takeErrors: () => [],
    restart: async () => {
      for (const s of sockets) s.destroy();
      server?.close();
      await listen();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      server?.close();
      await broker.close();
    },
  };
}

/**
 * Opens N idle MQTT connections (TCP + CONNECT/CONNACK, Keep Alive 0) and
 * holds them. Connections are spread over several loopback source addresses
 * (each has its own ephemeral port range) and opened a bounded number at a
 * time, so neither the port range nor the broker's listen backlog runs out.
 */
import { connect, type Socket } from 'node:net';
import { connectFrame } from './frames.js';
import type { IdleConfig, IdleOpened } from './protocol.js';

export interface IdleSet {
  opened: IdleOpened;
  close(): void;
}

function openOne(cfg: IdleConfig, index: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const localAddress = cfg.localAddresses.length > 0 ? cfg.localAddresses[index % cfg.localAddresses.length] : undefined;
    const socket = connect({ host: cfg.host, port: cfg.port, localAddress, noDelay: cfg.noDelay });
    let got = 0;
    const head = Buffer.alloc(4);
    const done = (e: Error | undefined): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (e) {
        socket.destroy();
        reject(e);
        return;
      }
      // Idle from here on: swallow late errors, never read again.
      socket.on('error', () => {});
      socket.pause();
      resolve(socket);
    };
    const onData = (chunk: Buffer): void => {
      const n = Math.min(4 - got, chunk.length);
      chunk.copy(head, got, 0, n);
      got += n;
      if (got < 4) return;
      if (head[0] !== 0x20 || head[1] !== 0x02) done(new Error(`expected CONNACK, got bytes ${head.toString('hex')}`));
      else if (head[3] !== 0) done(new Error(`CONNACK return code ${head[3]}`));
      else done(undefined);
    };
    const onError = (e: Error): void => done(e);
    const onClose = (): void => done(new Error('closed before CONNACK'));
    const timer = setTimeout(() => done(new Error(`no CONNACK within ${cfg.connectTimeoutMs} ms`)), cfg.connectTimeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('connect', () => {
      socket.setNoDelay(cfg.noDelay);
      socket.write(connectFrame(`${cfg.clientIdPrefix}${index}`));
    });
  });
}

export async function openIdle(cfg: IdleConfig): Promise<IdleSet> {
  const sockets: Socket[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const start = process.hrtime.bigint();
  const lane = async (): Promise<void> => {
    while (next < cfg.connections) {
      const i = next++;
      try {
        sockets.push(await openOne(cfg, i));
      } catch (e) {
        failed++;
        firstError ??= e instanceof Error ? e.message : String(e);
        // Give up early when the broker clearly refuses (e.g. out of file descriptors).
        if (failed > 100 && failed > sockets.length) next = cfg.connections;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, cfg.concurrency) }, lane));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    opened: { connected: sockets.length, failed, firstError, seconds: Math.round(seconds * 1000) / 1000 },
    close(): void {
      for (const s of sockets) s.destroy();
      sockets.length = 0;
    },
  };
}

// Measurement helper run inside the device/server namespaces by verify.ts
// (plain JavaScript: it is started with `node`, from the sources, in any
// namespace). One mode per process; every result is one JSON line on stdout.
//
//   node probe.mjs <mode> '<json options>'
//
//   udp-echo   {port}                           echo every datagram back; {"ready":true}; ends when stdin closes
//   rtt        {host, port, count, intervalMs, timeoutMs}
//              open loop: a probe every intervalMs, replies matched by sequence number
//              → {"sent", "received", "rttUs": [...]}
//   udp-sink   {port}                           counts datagrams; {"ready":true}; when stdin closes
//              → {"received", "unique", "bytes", "firstNs", "lastNs", "bytesAfterFirst"}
//   udp-blast  {host, port, count, pps, size}   paced datagrams → {"sent", "errors", "durationMs"}
//   tcp-sink   {port}                           {"ready":true}; one connection → {"bytes", "firstNs", "lastNs"}
//   tcp-source {host, port, ms}                 writes as fast as it can for ms → {"bytes"}
//   cpu        {ms}                             fixed single-threaded loop for ms of wall time
//              → {"iterations", "wallMs", "cpuMs"}
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, json] = process.argv.slice(2);
const o = JSON.parse(json ?? '{}');
const out = (x) => process.stdout.write(`${JSON.stringify(x)}\n`);
const now = () => process.hrtime.bigint();
const onStdinEnd = (f) => {
  process.stdin.on('end', f);
  process.stdin.on('close', f);
  process.stdin.resume();
};

function udpEcho() {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, r) => s.send(msg, r.port, r.address));
  s.bind(o.port, () => out({ ready: true }));
  onStdinEnd(() => process.exit(0));
}

function rtt() {
  const s = dgram.createSocket('udp4');
  const sentAt = new Map();
  const rttUs = [];
  let sent = 0;
  s.on('message', (msg) => {
    const seq = msg.readUInt32BE(0);
    const t0 = sentAt.get(seq);
    if (t0 === undefined) return;
    sentAt.delete(seq);
    rttUs.push(Number(now() - t0) / 1000);
  });
  s.bind(0, () => {
    const tick = () => {
      if (sent >= o.count) {
        setTimeout(() => {
          out({ sent, received: rttUs.length, rttUs });
          s.close();
        }, o.timeoutMs);
        return;
      }
      const buf = Buffer.alloc(32); // fresh: send() reads it asynchronously
      buf.writeUInt32BE(sent, 0);
      sentAt.set(sent, now());
      s.send(buf, o.port, o.host);
      sent += 1;
      setTimeout(tick, o.intervalMs);
    };
    tick();
  });
}

function udpSink() {
  const s = dgram.createSocket('udp4');
  const seen = new Set();
  let received = 0;
  let bytes = 0;
  let bytesAfterFirst = 0;
  let firstNs = 0n;
  let lastNs = 0n;
  s.on('message', (msg) => {
    const t = now();
    if (received === 0) firstNs = t;
    else bytesAfterFirst += msg.length;
    lastNs = t;
    received += 1;
    bytes += msg.length;
    seen.add(msg.readUInt32BE(0));
  });
  s.bind(o.port, () => {
    // a large receive buffer: the sink must not be where datagrams are lost
    try { s.setRecvBufferSize(8 << 20); } catch { /* capped by rmem_max */ }
    out({ ready: true });
  });
  onStdinEnd(() => {
    out({ received, unique: seen.size, bytes, bytesAfterFirst, firstNs: String(firstNs), lastNs: String(lastNs) });
    process.exit(0);
  });
}

function udpBlast() {
  const s = dgram.createSocket('udp4');
  const size = Math.max(8, o.size);
  let sent = 0;
  let errors = 0;
  let pending = 0;
  const tickMs = 2;
  const perTick = Math.max(1, Math.round((o.pps * tickMs) / 1000));
  const start = performance.now();
  let next = start;
  s.bind(0, () => {
    try { s.setSendBufferSize(8 << 20); } catch { /* capped by wmem_max */ }
    const tick = () => {
      // catch up on late ticks so the average rate holds
      const due = Math.min(o.count, Math.floor(((performance.now() - start) / 1000) * o.pps) + perTick);
      while (sent < due) {
        // a fresh buffer per datagram: send() reads it later, asynchronously
        const buf = Buffer.alloc(size);
        buf.writeUInt32BE(sent, 0);
        pending += 1;
        s.send(buf, o.port, o.host, (err) => {
          pending -= 1;
          if (err) errors += 1;
        });
        sent += 1;
      }
      if (sent >= o.count) {
        const finish = () => (pending > 0 ? setImmediate(finish) : (out({ sent, errors, durationMs: performance.now() - start }), s.close()));
        finish();
        return;
      }
      next += tickMs;
      setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  });
}

function tcpSink() {
  const srv = net.createServer((sock) => {
    let bytes = 0;
    let firstNs = 0n;
    let lastNs = 0n;
    sock.on('data', (d) => {
      const t = now();
      if (bytes === 0) firstNs = t;
      lastNs = t;
      bytes += d.length;
    });
    sock.on('end', () => {
      out({ bytes, firstNs: String(firstNs), lastNs: String(lastNs) });
      sock.end();
      srv.close();
    });
    sock.on('error', () => {});
  });
  srv.listen(o.port, () => out({ ready: true }));
}

function tcpSource() {
  const sock = net.connect(o.port, o.host, () => {
    const chunk = Buffer.alloc(64 * 1024);
    let bytes = 0;
    const end = performance.now() + o.ms;
    const pump = () => {
      while (performance.now() < end) {
        bytes += chunk.length;
        if (!sock.write(chunk)) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end(() => out({ bytes }));
    };
    pump();
  });
  sock.on('close', () => process.exit(0));
  sock.on('error', (e) => {
    out({ error: e.message });
    process.exit(1);
  });
}

function cpu() {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let iterations = 0;
  let x = 0;
  while (performance.now() - t0 < o.ms) {
    for (let i = 0; i < 20000; i++) x = (x + i * i) % 1000003;
    iterations += 1;
  }
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  out({ iterations, wallMs, cpuMs: (c.user + c.system) / 1000, x });
}

const modes = { 'udp-echo': udpEcho, rtt, 'udp-sink': udpSink, 'udp-blast': udpBlast, 'tcp-sink': tcpSink, 'tcp-source': tcpSource, cpu };
const f = modes[mode];
if (!f) {
  process.stderr.write(`probe.mjs: unknown mode ${mode}\n`);
  process.exit(2);
}
f();

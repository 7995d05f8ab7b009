/**
 * autocannon in a side process (so it runs where the devices run: in the
 * device namespace and cgroup under a device profile). Used only for HTTP
 * saturation throughput: autocannon is closed-loop (each connection sends
 * its next request when the previous one is answered) and its latency
 * histogram has whole-millisecond resolution (p50 = p99 = 0 ms on
 * loopback), so its latencies are not used.
 */
import autocannon from 'autocannon';
import { packageVersion } from '../adapters/names.js';
import type { AutocannonJob, AutocannonOutcome } from './messages.js';

export async function runAutocannon(job: AutocannonJob): Promise<AutocannonOutcome> {
  const version = await packageVersion('autocannon');
  const result = await autocannon({
    url: job.url,
    method: job.method,
    body: Buffer.from(job.body, 'base64'),
    // New connection per request: `connection: close` (the server closes, autocannon reconnects);
    // autocannon's own reconnectRate: 1 sends nothing at all (8.0.0, measured).
    headers: { 'content-type': job.contentType, ...(job.newConnection ? { connection: 'close' } : {}) },
    connections: job.connections,
    duration: job.durationS,
    pipelining: 1,
    timeout: 10,
  });
  return {
    requestsPerS: result.requests.average,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    durationS: result.duration,
    connections: job.connections,
    version,
  };
}

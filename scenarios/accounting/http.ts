/**
 * HTTP/1.1 byte classifier: follows the message framing of one direction
 * of a connection (head up to CRLF CRLF, then a Content-Length body or
 * chunks) and counts:
 *
 *   a message with a body (request or response; each chunk of a chunked
 *   stream such as server-sent events)                     → message
 *   a response without a body (204, a bare 200)            → ack
 *   a request without a body (a poll, a subscription GET)  → control
 *   the last chunk of a chunked body                       → control
 *
 * An observer sees each head's size (request line or status line plus
 * header lines and the blank line), for the claim checks.
 */
import type { ByteCategory, Classifier } from '../../harness/meters/byte-meter.js';

export interface HttpHeadSeen {
  kind: 'request' | 'response';
  /** Bytes of the head, CRLF CRLF included. */
  bytes: number;
  /** Body bytes announced (Content-Length), or -1 for chunked. */
  body: number;
}

const MAX_HEAD = 64 * 1024;

export function httpClassifier(kind: 'request' | 'response', observe?: (h: HttpHeadSeen) => void): Classifier {
  let state: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' = 'head';
  let head: number[] = [];
  let left = 0;
  let chunkCat: ByteCategory = 'message';
  let line: number[] = [];
  return (chunk, count) => {
    let i = 0;
    while (i < chunk.length) {
      if (state === 'head') {
        const b = chunk[i++]!;
        head.push(b);
        const n = head.length;
        if (n >= 4 && head[n - 4] === 13 && head[n - 3] === 10 && head[n - 2] === 13 && head[n - 1] === 10) {
          const text = Buffer.from(head).toString('latin1');
          const status = kind === 'response' ? Number(/^HTTP\/\d\.\d (\d{3})/.exec(text)?.[1] ?? 0) : 0;
          const cl = /\r\ncontent-length:\s*(\d+)/i.exec(text);
          const chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(text);
          const noBody = kind === 'response' && (status < 200 || status === 204 || status === 304);
          const body = noBody ? 0 : chunked ? -1 : cl ? Number(cl[1]) : 0;
          observe?.({ kind, bytes: n, body });
          const cat: ByteCategory = body !== 0 ? 'message' : kind === 'response' ? 'ack' : 'control';
          count(cat, n);
          head = [];
          if (body > 0) {
            state = 'body';
            left = body;
          } else if (body < 0) {
            state = 'chunk-size';
            line = [];
          }
        } else if (n > MAX_HEAD) {
          count('control', n); // not HTTP as we know it: count and go on
          head = [];
        }
        continue;
      }
      if (state === 'body' || state === 'chunk-data') {
        const take = Math.min(left, chunk.length - i);
        count(state === 'body' ? 'message' : chunkCat, take);
        i += take;
        left -= take;
        if (left === 0) {
          if (state === 'body') state = 'head';
          else {
            state = 'chunk-end';
            left = 2;
          }
        }
        continue;
      }
      if (state === 'chunk-end') {
        const take = Math.min(left, chunk.length - i);
        count(chunkCat, take);
        i += take;
        left -= take;
        if (left === 0) {
          state = 'chunk-size';
          line = [];
        }
        continue;
      }
      // chunk-size line or trailer lines: read up to LF
      const b = chunk[i++]!;
      line.push(b);
      if (b !== 10) continue;
      if (state === 'chunk-size') {
        const size = parseInt(Buffer.from(line).toString('latin1'), 16);
        chunkCat = size > 0 ? 'message' : 'control';
        count(chunkCat, line.length);
        line = [];
        if (size > 0) {
          state = 'chunk-data';
          left = size;
        } else {
          state = 'trailer';
        }
      } else {
        count('control', line.length);
        const blank = line.length <= 2;
        line = [];
        if (blank) state = 'head';
      }
    }
  };
}

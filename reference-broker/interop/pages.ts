/**
 * The HTML pages the browser interop test serves. Everything they need is
 * inline or served by the test's own HTTP server: no CDN, no network. The
 * broker URL, topic prefix and ClientID come in the query string; each page
 * reports its progress in #status[data-state] (starting → subscribed → ok,
 * or error) and lists what it received in #received.
 */

const STYLE = `
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
  h1 { font-size: 1.3em; }
  code, li { font-family: ui-monospace, monospace; }
  #status { padding: 0.1em 0.5em; border-radius: 4px; background: #eee; }
  #status[data-state="ok"] { background: #c8f0c8; color: #064; }
  #status[data-state="error"] { background: #f6c8c8; color: #900; }
  #log li { color: #555; }
`;

/** Shared page script: status, log and received-message list. */
const PAGE_HELPERS = `
  const params = new URLSearchParams(location.search);
  const brokerUrl = params.get('broker');
  const base = params.get('topic');
  const clientId = params.get('clientId');
  document.getElementById('broker').textContent = brokerUrl;
  const statusEl = document.getElementById('status');
  function setStatus(state, text) {
    if (statusEl.dataset.state === 'error' || statusEl.dataset.state === 'ok') return;
    statusEl.dataset.state = state;
    statusEl.textContent = text || state;
  }
  function log(text) {
    const li = document.createElement('li');
    li.textContent = text;
    document.getElementById('log').appendChild(li);
  }
  const seen = { own: false, fromNode: false };
  function received(topic, payload, extra) {
    const li = document.createElement('li');
    li.dataset.topic = topic;
    li.dataset.payload = payload;
    li.textContent = topic + ' ← ' + JSON.stringify(payload) + (extra ? ' ' + extra : '');
    document.getElementById('received').appendChild(li);
    if (topic === base + '/from-page' && payload === OWN_PAYLOAD) seen.own = true;
    if (topic === base + '/to-page') seen.fromNode = true;
    if (seen.own && seen.fromNode) setStatus('ok', 'ok: received its own message and the one from Node');
  }
`;

function page(title: string, body: string, script: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>${STYLE}</style>
${head}
</head>
<body>
<h1>${title}</h1>
${body}
<p>Broker: <code id="broker"></code></p>
<p>Status: <span id="status" data-state="starting">starting</span></p>
<h2>Received</h2>
<ul id="received"></ul>
<h2>Log</h2>
<ol id="log"></ol>
<script>
${script}
</script>
</body>
</html>
`;
}

/** Payload the raw page publishes (and expects back). */
export const RAW_PAGE_PAYLOAD = 'hello from Chromium (hand-built MQTT 3.1.1)';

/**
 * MQTT 3.1.1 spoken by hand over the browser's native WebSocket (subprotocol
 * 'mqtt'): CONNECT, SUBSCRIBE <topic>/# QoS 1, PUBLISH <topic>/from-page QoS 1;
 * parses CONNACK, SUBACK, PUBACK and PUBLISH (answering QoS 1 with PUBACK).
 */
export function rawMqttPage(): string {
  return page('MQTT 3.1.1 over native WebSocket, bytes built by hand', '', `
  'use strict';
  const OWN_PAYLOAD = ${JSON.stringify(RAW_PAGE_PAYLOAD)};
  ${PAGE_HELPERS}
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const str = (s) => { const b = enc.encode(s); return [b.length >> 8, b.length & 255, ...b]; };
  const id16 = (n) => [n >> 8, n & 255];
  function remainingLength(n) {
    const out = [];
    do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 128; out.push(d); } while (n > 0);
    return out;
  }
  const packet = (first, body) => new Uint8Array([first, ...remainingLength(body.length), ...body]);
  // CONNECT: protocol name, level 4, flags = Clean Session, Keep Alive 30 s, ClientID.
  const connect = () => packet(0x10, [...str('MQTT'), 4, 0x02, 0, 30, ...str(clientId)]);
  const subscribe = (id, filter, qos) => packet(0x82, [...id16(id), ...str(filter), qos]);
  const publish = (topic, payload, qos, id) =>
    packet(0x30 | (qos << 1), [...str(topic), ...(qos > 0 ? id16(id) : []), ...enc.encode(payload)]);
  const puback = (id) => packet(0x40, id16(id));

  const ws = new WebSocket(brokerUrl, 'mqtt');
  ws.binaryType = 'arraybuffer';
  const send = (bytes) => ws.send(bytes);
  let buf = new Uint8Array(0);

  ws.onopen = () => { log('WebSocket open, subprotocol ' + JSON.stringify(ws.protocol)); send(connect()); };
  ws.onerror = () => setStatus('error', 'error: WebSocket error');
  ws.onclose = (e) => setStatus('error', 'error: WebSocket closed (' + e.code + ')');
  ws.onmessage = (e) => {
    const chunk = new Uint8Array(e.data);
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf); joined.set(chunk, buf.length);
    buf = joined;
    for (;;) {
      if (buf.length < 2) return;
      let len = 0, mult = 1, i = 1, b;
      do {
        if (i >= buf.length) return;
        b = buf[i++]; len += (b & 127) * mult; mult *= 128;
      } while (b & 128);
      if (buf.length < i + len) return;
      const first = buf[0];
      const body = buf.slice(i, i + len);
      buf = buf.slice(i + len);
      handle(first, body);
    }
  };

  function handle(first, body) {
    switch (first >> 4) {
      case 2: { // CONNACK
        log('CONNACK return code ' + body[1]);
        if (body[1] !== 0) return setStatus('error', 'error: CONNACK return code ' + body[1]);
        send(subscribe(1, base + '/#', 1));
        return;
      }
      case 9: { // SUBACK
        const granted = body[2];
        log('SUBACK granted QoS ' + granted);
        if (granted !== 1) return setStatus('error', 'error: SUBACK ' + granted);
        setStatus('subscribed');
        send(publish(base + '/from-page', OWN_PAYLOAD, 1, 2));
        return;
      }
      case 4: log('PUBACK ' + ((body[0] << 8) | body[1])); return;
      case 3: { // PUBLISH
        const qos = (first >> 1) & 3;
        const tlen = (body[0] << 8) | body[1];
        const topic = dec.decode(body.subarray(2, 2 + tlen));
        let i = 2 + tlen;
        let id = 0;
        if (qos > 0) { id = (body[i] << 8) | body[i + 1]; i += 2; }
        const payload = dec.decode(body.subarray(i));
        log('PUBLISH QoS ' + qos + ' on ' + topic);
        if (qos === 1) send(puback(id));
        received(topic, payload, '(QoS ' + qos + ')');
        return;
      }
      default:
        setStatus('error', 'error: unexpected packet type ' + (first >> 4));
    }
  }
  `);
}

/** Payload the MQTT.js page publishes (and expects back). */
export const MQTTJS_PAGE_PAYLOAD = 'hello from MQTT.js in Chromium';

/** MQTT 5.0 with MQTT.js's browser bundle (served at /mqtt.min.js): the same exchange plus a user property. */
export function mqttJsPage(): string {
  return page('MQTT 5.0 over WebSocket with the MQTT.js browser bundle', '', `
  'use strict';
  const OWN_PAYLOAD = ${JSON.stringify(MQTTJS_PAGE_PAYLOAD)};
  ${PAGE_HELPERS}
  try {
    const client = mqtt.connect(brokerUrl, { protocolVersion: 5, clientId, reconnectPeriod: 0, connectTimeout: 10000 });
    client.on('connect', () => {
      log('CONNACK');
      client.subscribe(base + '/#', { qos: 1 }, (err, granted) => {
        if (err) return setStatus('error', 'error: ' + err.message);
        log('SUBACK granted QoS ' + granted.map((g) => g.qos).join(','));
        setStatus('subscribed');
        client.publish(base + '/from-page', OWN_PAYLOAD, { qos: 1, properties: { userProperties: { browser: 'chromium' }, contentType: 'text/plain' } });
      });
    });
    client.on('message', (topic, payload, packet) => {
      received(topic, new TextDecoder().decode(payload), '(QoS ' + packet.qos + ')');
    });
    client.on('error', (e) => setStatus('error', 'error: ' + e.message));
    client.on('close', () => log('closed'));
  } catch (e) {
    setStatus('error', 'error: ' + e.message);
  }
  `, '<script src="/mqtt.min.js"></script>');
}

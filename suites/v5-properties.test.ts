/**
 * MQTT 5.0 PUBLISH properties the broker passes through (5.0 §3.3.2.3):
 * Payload Format Indicator, Content Type, Response Topic, Correlation Data and
 * User Properties (all of them, in order), to every subscriber, on live and
 * retained delivery; and request/response (§4.10, which numbers no statement
 * of its own) built on Response Topic and Correlation Data.
 */
import type { PublishProperties } from '../codec/index.js';
import { conformance } from './support/conformance.js';
import { clearRetained, publish, subscribe } from './support/v5-helpers.js';

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' ? Buffer.from((x as { data: number[] }).data).toString('hex') : x));

conformance('the Payload Format Indicator reaches the subscriber unchanged', { v5: ['MQTT-3.3.2-4'] }, async (t) => {
  const topic = t.topic('pfi');
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'UTF-8 text ✓', { qos: 1, properties: { payloadFormatIndicator: 1 } });
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-4', { where: (p) => p.topic === topic });
  t.check(got.properties?.payloadFormatIndicator === 1, 'MQTT-3.3.2-4', `Payload Format Indicator arrived as ${json(got.properties?.payloadFormatIndicator)}, sent 1`);
});

conformance('the Content Type reaches the subscriber unchanged', { v5: ['MQTT-3.3.2-20', 'MQTT-3.3.2-19'] }, async (t) => {
  const topic = t.topic('ct');
  const contentType = 'application/vnd.mqtt-testbed+json; charset=utf-8; x="ü"';
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, '{}', { qos: 1, properties: { contentType } });
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-20', { where: (p) => p.topic === topic });
  t.check(got.properties?.contentType === contentType, 'MQTT-3.3.2-20', `Content Type arrived as ${json(got.properties?.contentType)}, sent ${json(contentType)}`);
});

conformance('the Response Topic reaches the subscriber unchanged', { v5: ['MQTT-3.3.2-15', 'MQTT-3.3.2-13'] }, async (t) => {
  const topic = t.topic('rt');
  const responseTopic = `${t.topic('reply')}/ünïcode/level`;
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'request', { qos: 1, properties: { responseTopic } });
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-15', { where: (p) => p.topic === topic });
  t.check(got.properties?.responseTopic === responseTopic, 'MQTT-3.3.2-15', `Response Topic arrived as ${json(got.properties?.responseTopic)}, sent ${json(responseTopic)}`);
});

conformance('the Correlation Data (every byte value) reaches the subscriber unchanged', { v5: ['MQTT-3.3.2-16'] }, async (t) => {
  const topic = t.topic('cd');
  const correlationData = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'request', { qos: 1, properties: { correlationData } });
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-16', { where: (p) => p.topic === topic });
  t.check(got.properties?.correlationData?.equals(correlationData) === true, 'MQTT-3.3.2-16', `Correlation Data arrived as ${got.properties?.correlationData?.toString('hex') ?? 'absent'}`);
});

conformance('every User Property is forwarded, in order, repeated names and pairs included', { v5: ['MQTT-3.3.2-17', 'MQTT-3.3.2-18'] }, async (t) => {
  const topic = t.topic('up');
  const userProperties: [string, string][] = [
    ['z', 'first'], ['a', '1'], ['a', '2'], ['a', '1'], ['', ''], ['ключ', 'значение'], ['dup', 'x'], ['dup', 'x'], ['m', 'last'],
  ];
  const sub = await t.subscriber('sub', topic, { qos: 1 });
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'x', { qos: 1, properties: { userProperties } });
  const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-17', { where: (p) => p.topic === topic });
  const recv = got.properties?.userProperties ?? [];
  t.check(recv.length === userProperties.length, 'MQTT-3.3.2-17', `${recv.length} User Properties arrived, ${userProperties.length} sent: ${json(recv)}`);
  const sameSet = [...recv].map((p) => json(p)).sort().join() === [...userProperties].map((p) => json(p)).sort().join();
  t.check(sameSet, 'MQTT-3.3.2-17', `User Properties changed: ${json(recv)}, sent ${json(userProperties)}`);
  t.check(json(recv) === json(userProperties), 'MQTT-3.3.2-18', `User Properties reordered: ${json(recv)}, sent ${json(userProperties)}`);
});

conformance('every subscriber, whatever its QoS, receives the same message properties', { v5: ['MQTT-3.3.2-4', 'MQTT-3.3.2-15', 'MQTT-3.3.2-16', 'MQTT-3.3.2-17', 'MQTT-3.3.2-20'], requires: ['qos2'] }, async (t) => {
  const topic = t.topic('all');
  const properties: PublishProperties = {
    payloadFormatIndicator: 1, contentType: 'text/plain', responseTopic: t.topic('reply'),
    correlationData: Buffer.from([0, 1, 2, 0xfe, 0xff]), userProperties: [['k', 'v1'], ['k', 'v2']],
  };
  const subs = [
    await t.subscriber('sub0', topic, { qos: 0 }),
    await t.subscriber('sub1', topic, { qos: 1 }),
    await t.subscriber('sub2', topic, { qos: 2 }),
  ];
  const { client: pub } = await t.connect('pub');
  await publish(t, pub, topic, 'text', { qos: 2, properties });
  for (const [i, sub] of subs.entries()) {
    const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-17', { where: (p) => p.topic === topic, what: `the message at subscriber QoS ${i}` });
    const p = got.properties ?? {};
    t.check(p.payloadFormatIndicator === 1, 'MQTT-3.3.2-4', `subscriber at QoS ${i}: Payload Format Indicator ${json(p.payloadFormatIndicator)}`);
    t.check(p.contentType === properties.contentType, 'MQTT-3.3.2-20', `subscriber at QoS ${i}: Content Type ${json(p.contentType)}`);
    t.check(p.responseTopic === properties.responseTopic, 'MQTT-3.3.2-15', `subscriber at QoS ${i}: Response Topic ${json(p.responseTopic)}`);
    t.check(p.correlationData?.equals(properties.correlationData!) === true, 'MQTT-3.3.2-16', `subscriber at QoS ${i}: Correlation Data ${p.correlationData?.toString('hex') ?? 'absent'}`);
    t.check(json(p.userProperties) === json(properties.userProperties), 'MQTT-3.3.2-17', `subscriber at QoS ${i}: User Properties ${json(p.userProperties)}`);
  }
});

conformance('a retained message keeps its properties for a later subscriber', { v5: ['MQTT-3.3.2-4', 'MQTT-3.3.2-15', 'MQTT-3.3.2-16', 'MQTT-3.3.2-17', 'MQTT-3.3.2-18', 'MQTT-3.3.2-20'], requires: ['retain'] }, async (t) => {
  const topic = t.topic('ret');
  const properties: PublishProperties = {
    payloadFormatIndicator: 1, contentType: 'text/plain', responseTopic: t.topic('reply'),
    correlationData: Buffer.from('corr-123'), userProperties: [['b', '2'], ['a', '1'], ['b', '2']],
  };
  const { client: pub } = await t.connect('pub');
  try {
    await publish(t, pub, topic, 'retained', { qos: 1, retain: true, properties });
    const { client: sub } = await t.connect('sub');
    await subscribe(t, sub, [{ topicFilter: topic, qos: 1 }]);
    const got = await t.expect(sub, 'publish', 'MQTT-3.3.2-17', { where: (p) => p.topic === topic, what: 'the retained message' });
    const p = got.properties ?? {};
    t.check(p.payloadFormatIndicator === 1, 'MQTT-3.3.2-4', `Payload Format Indicator ${json(p.payloadFormatIndicator)}`);
    t.check(p.contentType === properties.contentType, 'MQTT-3.3.2-20', `Content Type ${json(p.contentType)}`);
    t.check(p.responseTopic === properties.responseTopic, 'MQTT-3.3.2-15', `Response Topic ${json(p.responseTopic)}`);
    t.check(p.correlationData?.equals(properties.correlationData!) === true, 'MQTT-3.3.2-16', `Correlation Data ${p.correlationData?.toString('hex') ?? 'absent'}`);
    t.check(json(p.userProperties) === json(properties.userProperties), 'MQTT-3.3.2-18', `User Properties ${json(p.userProperties)}, sent ${json(properties.userProperties)}`);
  } finally {
    clearRetained(pub, topic);
  }
});

conformance('request/response: the responder answers on the Response Topic with the Correlation Data (§4.10)', { v5: ['MQTT-3.3.2-15', 'MQTT-3.3.2-16'] }, async (t) => {
  const requestTopic = t.topic('service');
  const responseTopic = t.topic('replies/requester');
  const requester = await t.subscriber('requester', responseTopic, { qos: 1 });
  const responder = await t.subscriber('responder', requestTopic, { qos: 1 });
  const correlation = [Buffer.from('req-1'), Buffer.from('req-2')];
  for (const [i, c] of correlation.entries()) {
    await publish(t, requester, requestTopic, `question ${i}`, { qos: 1, properties: { responseTopic, correlationData: c } });
  }
  // The responder answers each request using only what the request carried.
  for (let i = 0; i < correlation.length; i++) {
    const req = await t.expect(responder, 'publish', 'MQTT-3.3.2-15', { where: (p) => p.payload.toString() === `question ${i}` });
    const rt = req.properties?.responseTopic;
    const cd = req.properties?.correlationData;
    t.check(rt === responseTopic, 'MQTT-3.3.2-15', `request ${i} arrived with Response Topic ${json(rt)}`);
    t.check(cd !== undefined && cd.equals(correlation[i]!), 'MQTT-3.3.2-16', `request ${i} arrived with Correlation Data ${cd?.toString('hex') ?? 'absent'}`);
    if (req.qos === 1) responder.send({ type: 'puback', packetId: req.packetId! });
    await publish(t, responder, rt!, `answer ${i}`, { qos: 1, properties: { correlationData: cd! } });
  }
  for (let i = 0; i < correlation.length; i++) {
    const res = await t.expect(requester, 'publish', 'MQTT-3.3.2-15', { where: (p) => p.payload.toString() === `answer ${i}`, what: `response ${i} on the Response Topic` });
    t.check(res.properties?.correlationData?.equals(correlation[i]!) === true, 'MQTT-3.3.2-16', `response ${i} carries Correlation Data ${res.properties?.correlationData?.toString('hex') ?? 'absent'}`);
  }
});

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import type { Profile } from './profile.js';
import { PROFILE_SCHEMA, ProfileError, validateProfile } from './profile-schema.js';
import { readProfileFile } from './target.js';

const here = dirname(fileURLToPath(import.meta.url));
const PROFILES = join(here, 'profiles');

function issues(json: unknown): string[] {
  try {
    validateProfile(json, 'bad.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    expect((e as Error).message).toMatch(/^broker profile bad\.json is not valid/);
    return [...(e as ProfileError).issues];
  }
  throw new Error('expected a ProfileError');
}

const minimal = { name: 'x', protocolVersions: ['3.1.1'] };

describe('shipped profiles', () => {
  const files = readdirSync(PROFILES).filter((f) => f.endsWith('.json'));

  test('all seven are there', () => {
    expect(files.sort()).toEqual([
      'aedes.json', 'aws-iot-core.json', 'azure-iot-hub.json', 'home-assistant-mosquitto.json',
      'mosquitto-default.json', 'mosquitto-secure.json', 'reference.json',
    ]);
  });

  test.each(files)('%s is valid and says where it comes from', (f) => {
    const { profile, baseDir } = readProfileFile(join(PROFILES, f));
    expect(baseDir).toBe(PROFILES);
    expect(profile.name).toBe(f.replace(/\.json$/, ''));
    expect(profile.source, 'every shipped profile cites its source').toMatch(/\S{10,}/);
  });

  test('the documented claims of the cloud profiles', () => {
    const aws = readProfileFile(join(PROFILES, 'aws-iot-core.json')).profile;
    expect(aws).toMatchObject({ maxQoS: 1, retain: true, mutualTls: true, limits: { maxPayloadSize: 131072, maxTopicLevels: 8 } });
    const azure = readProfileFile(join(PROFILES, 'azure-iot-hub.json')).profile;
    expect(azure).toMatchObject({ protocolVersions: ['3.1.1'], maxQoS: 1, retain: false, wildcardSubscriptions: false });
    expect(azure.topicPrefix).toBe('devices/{clientId}/messages/events/');
    const ha = readProfileFile(join(PROFILES, 'home-assistant-mosquitto.json')).profile;
    expect(ha.anonymous).toBe(false);
    const aedes = readProfileFile(join(PROFILES, 'aedes.json')).profile;
    expect(aedes.protocolVersions).toEqual(['3.1.1']);
  });
});

describe('the schema documents the Profile type', () => {
  test('top-level fields are exactly the fields of Profile (plus $schema, $comment)', () => {
    // Compile-time: every Profile key must be listed here (and nothing else).
    const keys: Record<keyof Profile, true> = {
      name: true, description: true, source: true, url: true, protocolVersions: true, maxQoS: true, retain: true,
      wildcardSubscriptions: true, sharedSubscriptions: true, subscriptionIdentifiers: true, zeroLengthClientId: true,
      persistentSessions: true, anonymous: true, limits: true, topicPrefix: true, clientIdPrefix: true, credentials: true,
      tls: true, listeners: true, mutualTls: true, acl: true, knownFailures: true,
    };
    const props = Object.keys((PROFILE_SCHEMA as { properties: Record<string, unknown> }).properties).filter((k) => !k.startsWith('$'));
    expect(props.sort()).toEqual(Object.keys(keys).sort());
  });

  test('limits fields are those of ProfileLimits', () => {
    const limits = (PROFILE_SCHEMA as { properties: { limits: { properties: Record<string, unknown> } } }).properties.limits.properties;
    const keys: Record<keyof NonNullable<Profile['limits']>, true> = {
      maxPacketSize: true, receiveMaximum: true, topicAliasMaximum: true, keepAlive: true, maxTopicLength: true,
      maxTopicLevels: true, maxPayloadSize: true, maxClientIdLength: true, maxSessionExpiryInterval: true, maxConnections: true,
      connectionLimit: true, connectTimeoutMs: true,
    };
    expect(Object.keys(limits).sort()).toEqual(Object.keys(keys).sort());
  });
});

describe('validateProfile rejects bad profiles with one readable line per problem', () => {
  test('a minimal profile is fine', () => {
    expect(validateProfile(minimal)).toEqual(minimal);
  });

  test('not an object', () => {
    expect(issues([1, 2])).toEqual(['(top level): is a list, expected a JSON object with at least "name" and "protocolVersions"']);
  });

  test('missing required fields say what is expected', () => {
    expect(issues({})).toEqual([
      'name: missing; expected a non-empty name, shown in reports',
      'protocolVersions: missing; expected a non-empty list of "3.1.1" and/or "5.0"',
    ]);
  });

  test('every problem at once: field, what is wrong, what was expected', () => {
    const got = issues({
      name: '', protocolVersions: ['3.1.1', '4.0'], maxQoS: 3, retain: 'yes',
      limits: { keepAlive: { max: 70000 }, receiveMaximum: 0 },
      listeners: { tls: 'mqtt://host:8883' },
      url: 'http://host',
    });
    expect(got).toEqual(expect.arrayContaining([
      'name: is an empty string, expected a non-empty name, shown in reports',
      'protocolVersions[1]: is "4.0", expected one of "3.1.1", "5.0"',
      'maxQoS: is 3, expected the highest QoS the broker supports: 0, 1 or 2',
      'retain: is a string ("yes"), expected true or false: whether retained messages are stored and delivered',
      'limits.keepAlive.max: is 70000, expected seconds, 0 to 65535',
      'limits.receiveMaximum: is 0, expected 5.0 Receive Maximum the broker announces (1 to 65535)',
      'listeners.tls: is "mqtt://host:8883", expected an mqtts:// URL',
      'url: is "http://host", expected a broker URL such as mqtt://127.0.0.1:1883, mqtts://host:8883, ws://host:8083/mqtt or wss://host:8084/mqtt',
    ]));
    expect(got).toHaveLength(8);
  });

  test('a misspelt field gets a suggestion', () => {
    const [line] = issues({ ...minimal, maxQos: 1 });
    expect(line).toMatch(/^maxQos: unknown field — did you mean 'maxQoS'\? \(known here: name, description/);
    expect(issues({ ...minimal, limits: { maxPacketsize: 10 } })[0]).toMatch(/^limits\.maxPacketsize: unknown field — did you mean 'maxPacketSize'\?/);
    expect(issues({ ...minimal, credentials: { default: { user: 'a' } } })[0]).toMatch(/^credentials\.default\.user: unknown field .*known here: username, password, clientId, cert, key/);
  });

  test('ACL entries and keys', () => {
    const got = issues({ ...minimal, acl: [{ role: 'sensor', action: 'write', topic: 'a/#', expect: 'allow' }, { role: 'x', action: 'publish' }], knownFailures: { 'not-an-id': 'why' } });
    expect(got).toEqual(expect.arrayContaining([
      'acl[0].action: is "write", expected "publish" or "subscribe"',
      'acl[1].topic: missing; expected a topic (publish) or topic filter (subscribe)',
      'acl[1].expect: missing; expected "allow" or "deny"',
      "knownFailures.not-an-id: 'not-an-id' is not a valid key here, expected a statement id such as MQTT-3.3.1-5",
    ]));
  });

  test('rules across fields', () => {
    expect(issues({
      ...minimal,
      credentials: { sensor: { username: 's', cert: 'c.pem' } },
      acl: [{ role: 'admin', action: 'publish', topic: 'a', expect: 'allow' }],
      limits: { keepAlive: { min: 30, max: 10 } },
      mutualTls: true,
    })).toEqual([
      "acl[0].role: is 'admin', which has no entry in credentials; expected one of the roles in credentials (sensor)",
      'credentials.sensor.key: missing; expected the private key that goes with credentials.sensor.cert',
      'limits.keepAlive: min 30 is larger than max 10; expected min ≤ max',
      'mutualTls: is true but the profile names no TLS listener; expected listeners.tls (or listeners.wss, or a mqtts:// url)',
    ]);
  });
});

describe('readProfileFile (BROKER_PROFILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtb-profile-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('names the file and every problem', () => {
    const f = join(dir, 'p.json');
    writeFileSync(f, JSON.stringify({ name: 'p', protocolVersions: [], maxQoS: 5 }));
    expect(() => readProfileFile(f)).toThrow(new RegExp(`broker profile ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid[^]*protocolVersions: is an empty list[^]*maxQoS: is 5`));
  });

  test('not JSON, or not there', () => {
    const f = join(dir, 'q.json');
    writeFileSync(f, '{ name: ');
    expect(() => readProfileFile(f)).toThrow(/is not valid JSON/);
    expect(() => readProfileFile(join(dir, 'none.json'))).toThrow(/cannot read broker profile/);
  });
});

import { describe, expect, it } from 'vitest';
import { accessories } from '../../src/config/schema/accessories.js';
import { healthcheck } from '../../src/config/schema/app.js';
import { duration, envValue, volumes } from '../../src/config/schema/fields.js';
import { hosts } from '../../src/config/schema/hosts.js';
import { swarm } from '../../src/config/schema/swarm.js';
import { SERVICE_RE } from '../../src/config/service-name.js';

const messages = (result: { success: boolean; error?: { issues: { message: string; path: PropertyKey[] }[] } }) =>
  (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('schema fields', () => {
  it('refuses two volumes on one mount point, naming the first', () => {
    const result = volumes('v').safeParse({ data: '/data', other: { path: '/data', mode: 'ro' } });
    expect(messages(result)).toEqual(['other: /data is already the mount point of volume "data"']);
    expect(volumes('v').parse({ data: '/data', logs: { path: '/logs', mode: 'ro' } })).toEqual({ data: '/data', logs: { path: '/logs', mode: 'ro' } });
  });

  it('keeps newlines and NUL out of env values, and turns scalars into strings', () => {
    expect(envValue().safeParse('x\nNODE_OPTIONS=--require=/tmp/evil.js').success).toBe(false);
    expect(envValue().safeParse('a\0b').success).toBe(false);
    expect(envValue().parse(1.5)).toBe('1.5');
  });

  it('takes durations the pattern allows that are a time, and applies the default', () => {
    const d = duration('1s', 'd');
    expect(d.parse(undefined)).toBe('1s');
    expect(d.parse('250ms')).toBe('250ms');
    expect(d.safeParse('0s').success).toBe(false);
    expect(d.safeParse('soon').success).toBe(false);
  });
});

describe('schema sections', () => {
  it('hosts: the same server twice is refused, whatever the case of its host name', () => {
    const result = hosts.safeParse(['root@Web.example.com', { address: 'deploy@web.example.com:22' }]);
    expect(messages(result)).toEqual(['1.address: duplicate host: "deploy@web.example.com:22" is the same server as hosts[0] "root@Web.example.com"']);
    expect(hosts.safeParse(['web.example.com', 'web.example.com:2222']).success).toBe(true);
  });

  it('accessories: host and hosts exclude each other, and publish needs port', () => {
    const result = accessories.safeParse({ db: { image: 'redis:7', host: 'a', hosts: ['b'], publish: '127.0.0.1' } });
    expect(messages(result)).toEqual(['db.hosts: host and hosts are both set', 'db.publish: publish needs port: it publishes that port']);
    expect(accessories.safeParse({ 'Bad-Name': { image: 'redis:7' } }).success).toBe(false);
  });

  it('healthcheck: defaults apply to an absent section, and a path with a space is refused', () => {
    expect(healthcheck.parse(undefined)).toEqual({ path: '/health', interval: '1s', timeout: '2s', retries: 10 });
    expect(healthcheck.safeParse({ path: '/he alth' }).success).toBe(false);
  });

  it('swarm: constraints are placement constraints docker takes', () => {
    expect(swarm.parse({ constraints: ['node.labels.web == true'] })).toEqual({ constraints: ['node.labels.web == true'] });
    expect(swarm.safeParse({ constraints: ['node.name == x'] }).success).toBe(false);
  });

  it('service names are one DNS label', () => {
    expect(SERVICE_RE.test('a'.repeat(63))).toBe(true);
    expect(SERVICE_RE.test('a'.repeat(64))).toBe(false);
    expect(SERVICE_RE.test('-web')).toBe(false);
    expect(SERVICE_RE.test('Web')).toBe(false);
  });
});

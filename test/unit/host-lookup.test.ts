import { describe, expect, it } from 'vitest';
import { findHost } from '../../src/config/host-lookup.js';
import type { Config, HostConfig } from '../../src/config/types.js';
import { selectHosts } from '../../src/hosts/fleet.js';

const host = (name: string, hostname: string, port: number, user = 'root'): HostConfig => ({ name, user, hostname, port, knownHosts: '/k', instances: 1 });
// `web` is an alias of the ssh config (HostName 10.0.0.5, Port 2222); the others are written out.
const hosts = [
  host('web', '10.0.0.5', 2222, 'deploy'),
  host('root@Db.Example.com', 'Db.Example.com', 22),
  host('root@db.example.com:2200', 'db.example.com', 2200),
];

describe('findHost', () => {
  it('takes a name as written in hosts:, exactly', () => {
    expect(findHost(hosts, 'web')).toBe(hosts[0]);
    expect(findHost(hosts, 'root@db.example.com:2200')).toBe(hosts[2]);
  });

  it('compares host names case-insensitively, as written or as resolved through the ssh config', () => {
    expect(findHost(hosts, 'WEB')).toBe(hosts[0]);
    expect(findHost(hosts, '10.0.0.5')).toBe(hosts[0]);
    expect(findHost(hosts, 'db.EXAMPLE.com')).toBe(hosts[1]);
  });

  it('holds a written port and user to the ones boxship connects with', () => {
    expect(findHost(hosts, 'db.example.com:2200')).toBe(hosts[2]);
    expect(findHost(hosts, '10.0.0.5:2222')).toBe(hosts[0]);
    expect(findHost(hosts, 'deploy@web')).toBe(hosts[0]);
    expect(findHost(hosts, 'web:22')).toBeUndefined();
    expect(findHost(hosts, 'root@web')).toBeUndefined();
    expect(findHost(hosts, 'db.example.com:2201')).toBeUndefined();
  });

  it('finds an IPv6 host with or without brackets', () => {
    const v6 = [host('root@[fe80::1]:22', 'fe80::1', 22)];
    expect(findHost(v6, '[FE80::1]')).toBe(v6[0]);
    expect(findHost(v6, 'fe80::1')).toBe(v6[0]);
    expect(findHost(v6, 'fe80::2')).toBeUndefined();
  });
});

describe('selectHosts', () => {
  const config = { file: 'boxship.yml', hosts } as Config;

  it('reads --host as findHost does, each host once, and refuses a name that is no host', () => {
    expect(selectHosts(config, undefined)).toBe(hosts);
    expect(selectHosts(config, ['Web', '10.0.0.5', 'db.example.com:2200'])).toEqual([hosts[0], hosts[2]]);
    expect(() => selectHosts(config, ['db.example.org'])).toThrow(/--host db.example.org is not a host in boxship.yml/);
  });
});

/**
 * Host aliases from an OpenSSH client config (ssh.config_file, default ~/.ssh/config): HostName, User, Port,
 * IdentityFile and ProxyJump as OpenSSH resolves them, values written in boxship.yml first, errors at file:line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { hostMatches, matchPattern, parseSshConfig, settingsFor } from '../../src/config/ssh-config.js';
import type { Config } from '../../src/config/types.js';

let dir: string;
let file: string;
let sshConfig: string;
let key: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'boxship-sshconfig-'));
  file = path.join(dir, 'boxship.yml');
  sshConfig = path.join(dir, 'ssh_config');
  key = path.join(dir, 'id_web');
  writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(key, 'key\n');
  writeFileSync(path.join(dir, 'id_other'), 'key\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(sshLines: string[], ...yaml: string[]): Config {
  writeFileSync(sshConfig, `${sshLines.join('\n')}\n`);
  writeFileSync(file, `${['service: hello', 'ssh:', `  config_file: ${sshConfig}`, ...yaml].join('\n')}\n`);
  return loadConfig(file);
}

function problems(sshLines: string[], ...yaml: string[]): ConfigError {
  try {
    load(sshLines, ...yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected the config to be rejected');
}

describe('host aliases from the ssh config', () => {
  it('brings HostName, User, Port, IdentityFile and ProxyJump for an alias', () => {
    const config = load(
      [
        'Host web',
        '  HostName 10.0.0.5',
        '  User deploy',
        '  Port 2222',
        `  IdentityFile ${key}`,
        '  ProxyJump bastion',
        '',
        'Host bastion',
        '  HostName bastion.example.com',
        '  User jumper',
        '  Port 2200',
      ],
      'hosts:',
      '  - web',
    );
    expect(config.hosts).toEqual([
      {
        name: 'web',
        user: 'deploy',
        hostname: '10.0.0.5',
        port: 2222,
        identityFile: key,
        knownHosts: path.join(homedir(), '.ssh/known_hosts'),
        jump: { user: 'jumper', hostname: 'bastion.example.com', port: 2200, name: 'bastion' },
        instances: 1,
      },
    ]);
  });

  it('applies Host * (and patterns with ? and negation) to every matching name, first value winning', () => {
    const config = load(
      [
        'User everyone-first',
        'Host web-? !web-3',
        '  HostName %h.example.com',
        '  Port 2022',
        'Host web-1',
        '  Port 9999',
        '  User not-first',
        'Host *',
        '  User fallback',
        '  Port 2023',
        `  IdentityFile ${path.join(dir, 'missing_key')}`,
        `  IdentityFile ${key}`,
      ],
      'hosts:',
      '  - web-1',
      '  - web-3',
      '  - web-10',
    );
    const got = config.hosts.map((h) => ({ name: h.name, user: h.user, hostname: h.hostname, port: h.port, identityFile: h.identityFile }));
    expect(got).toEqual([
      // The line before any Host applies to all; web-? gave Port first, so web-1's later Port 9999 loses.
      { name: 'web-1', user: 'everyone-first', hostname: 'web-1.example.com', port: 2022, identityFile: key },
      // !web-3 excludes it from web-?; Host * still applies. The first IdentityFile that exists is used.
      { name: 'web-3', user: 'everyone-first', hostname: 'web-3', port: 2023, identityFile: key },
      // ? is exactly one character.
      { name: 'web-10', user: 'everyone-first', hostname: 'web-10', port: 2023, identityFile: key },
    ]);
  });

  it('takes values written in boxship.yml over the ssh config', () => {
    const config = load(
      ['Host web', '  HostName 10.0.0.5', '  User deploy', '  Port 2222', `  IdentityFile ${key}`, '  ProxyJump bastion'],
      'hosts:',
      '  - admin@web:2020',
      '  - address: web',
      '    identity_file: id_other',
      '    jump: root@other-bastion:2',
    );
    expect(config.hosts[0]).toMatchObject({ name: 'admin@web:2020', user: 'admin', hostname: '10.0.0.5', port: 2020, identityFile: key });
    expect(config.hosts[0]!.jump).toEqual({ user: 'root', hostname: 'bastion', port: 22, name: 'bastion' });
    expect(config.hosts[1]).toMatchObject({
      name: 'web',
      user: 'deploy',
      port: 2222,
      identityFile: path.join(dir, 'id_other'),
      jump: { user: 'root', hostname: 'other-bastion', port: 2, name: 'root@other-bastion:2' },
    });
  });

  it('takes ssh: defaults in boxship.yml over the ssh config, and resolves a jump written there through it', () => {
    const config = load(
      ['Host web', '  User deploy', `  IdentityFile ${key}`, 'Host bastion', '  HostName 192.0.2.1', '  Port 2200'],
      '  identity_file: id_other',
      '  jump: bastion',
      'hosts: [web]',
    );
    expect(config.hosts[0]).toMatchObject({
      user: 'deploy',
      hostname: 'web',
      port: 22,
      identityFile: path.join(dir, 'id_other'),
      jump: { user: 'root', hostname: '192.0.2.1', port: 2200, name: 'bastion' },
    });
  });

  it('leaves names the ssh config does not mention as they are, and ProxyJump none means no jump', () => {
    const config = load(['Host web', '  ProxyJump none', 'Host *', '  ProxyJump bastion'], 'hosts: [web, 10.1.1.1]');
    expect(config.hosts[0]!.jump).toBeUndefined();
    expect(config.hosts[1]).toMatchObject({ user: 'root', hostname: '10.1.1.1', port: 22, jump: { hostname: 'bastion', port: 22, user: 'root' } });
  });

  it('skips Match blocks and reads keywords in any case, with = separators and quotes', () => {
    const config = load(['Match host web', '  User matched', 'Host web', '  hostname=10.0.0.9', '  USER "deploy"', '  port = 2201'], 'hosts: [web]');
    expect(config.hosts[0]).toMatchObject({ user: 'deploy', hostname: '10.0.0.9', port: 2201 });
  });

  it('reads no ssh config with config_file: none', () => {
    writeFileSync(file, `${['service: hello', 'ssh:', '  config_file: none', 'hosts: [web]'].join('\n')}\n`);
    expect(loadConfig(file).hosts[0]).toMatchObject({ user: 'root', hostname: 'web', port: 22 });
  });
});

describe('errors name the ssh config file and line', () => {
  it('reports unusable values at their line', () => {
    const err = problems(
      [
        '# comment',
        '',
        'Host web',
        '  Port 99999',
        '  User "bad user"',
        '  HostName not_a_host!',
        'Host web2',
        '  ProxyJump a,b',
        `  IdentityFile ${path.join(dir, 'nope')}`,
      ],
      'hosts: [web, web2]',
    );
    expect(err.problems.map((p) => ({ file: p.file, line: p.line }))).toEqual([4, 5, 6, 8, 9].map((line) => ({ file: sshConfig, line })));
    expect(err.message).toContain(`${sshConfig}:4:1: Port "99999" (for web): expected a number from 1 to 65535`);
    expect(err.message).toContain(`${sshConfig}:8:1: ProxyJump "a,b" (for web2): more than one jump host is not supported`);
    expect(err.message).toContain(`${sshConfig}:9:1: IdentityFile (for web2): key not found: ${path.join(dir, 'nope')}`);
  });

  it('reports a missing ssh.config_file at its place in boxship.yml', () => {
    writeFileSync(file, `${['service: hello', 'ssh:', '  config_file: no-such-file', 'hosts: [web]'].join('\n')}\n`);
    try {
      loadConfig(file);
      throw new Error('expected an error');
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => [p.line, p.path, p.message])).toEqual([
        [3, 'ssh.config_file', `file not found: ${path.join(dir, 'no-such-file')}`],
      ]);
    }
  });

  it('reports two aliases for one server', () => {
    const err = problems(['Host one two', '  HostName 10.0.0.5'], 'hosts: [one, two]');
    expect(err.problems.map((p) => [p.path, p.message])).toEqual([
      ['hosts[1]', `duplicate host: "two" is the same server (10.0.0.5:22, through ${sshConfig}) as hosts[0] "one"`],
    ]);
  });
});

describe('patterns and parsing', () => {
  it('matches as OpenSSH does', () => {
    expect(matchPattern('web-?', 'web-1')).toBe(true);
    expect(matchPattern('web-?', 'web-')).toBe(false);
    expect(matchPattern('*.example.com', 'a.EXAMPLE.com')).toBe(true);
    expect(matchPattern('a.b', 'axb')).toBe(false);
    expect(matchPattern('*', '')).toBe(true);
    expect(matchPattern('a*b*c', 'aXbYbZc')).toBe(true);
    expect(matchPattern('a*b?c', 'ab_c')).toBe(true);
    expect(matchPattern('a*bc', 'abcx')).toBe(false);
    expect(matchPattern('**.x', '.x')).toBe(true);
    // Many stars against a long name that does not match: a backtracking regular expression took 77 s here.
    const t0 = Date.now();
    expect(matchPattern(`${'*a'.repeat(30)}b`, 'a'.repeat(5000))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(hostMatches(['*', '!db*'], 'db1')).toBe(false);
    expect(hostMatches(['!db*'], 'web')).toBe(false);
    expect(hostMatches(['db*', 'web'], 'web')).toBe(true);
  });

  it('counts lines through comments, blank lines and sections', () => {
    const parsed = parseSshConfig(['# a', '', 'Port 1', 'Host x', '  # b', '', '  User u', 'Match all', '  User m', 'Host y', '  HostName h'].join('\n'), 'f');
    expect(parsed.matchLines).toEqual([8]);
    expect(settingsFor(parsed, 'x')).toEqual({ port: { value: '1', line: 3 }, user: { value: 'u', line: 7 }, identityFiles: [] });
    expect(settingsFor(parsed, 'y')).toEqual({ port: { value: '1', line: 3 }, hostname: { value: 'h', line: 11 }, identityFiles: [] });
  });
});

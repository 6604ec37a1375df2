import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/config/address.js';
import { parseDuration } from '../../src/config/duration.js';
import { ConfigError } from '../../src/config/problems.js';
import { parseSecrets, readSecretsFile } from '../../src/config/secrets.js';
import { didYouMean, editDistance } from '../../src/config/suggest.js';
import { InputError } from '../../src/util/errors.js';

describe('parseAddress', () => {
  it.each([
    ['10.0.0.7', { user: 'root', hostname: '10.0.0.7', port: 22 }],
    ['deploy@10.0.0.7:2222', { user: 'deploy', hostname: '10.0.0.7', port: 2222 }],
    ['db-1.example.com:2200', { user: 'root', hostname: 'db-1.example.com', port: 2200 }],
    ['root@[::1]:22', { user: 'root', hostname: '::1', port: 22 }],
    ['[fe80::1]', { user: 'root', hostname: 'fe80::1', port: 22 }],
  ])('parses %s', (text, value) => {
    expect(parseAddress(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['', undefined, 'expected [user@]host[:port], got an empty string'],
    ['root@h:0', 'port', 'expected a number from 1 to 65535, got "0"'],
    ['root@h:65536', 'port', 'expected a number from 1 to 65535, got "65536"'],
    ['root@h:', 'port', 'expected a number from 1 to 65535, got ""'],
    ['my user@h', 'user', 'expected a user name (letters, digits, _ . -), got "my user"'],
    ['root@', 'hostname', 'expected a host name or IP address, got ""'],
    ['-bad.example', 'hostname', 'expected a host name or IP address, got "-bad.example"'],
    ['fe80::1', 'hostname', 'expected an IPv6 address in brackets, e.g. [fe80::1], got "fe80::1"'],
    ['[::1', 'hostname', 'expected "]" after the IPv6 address, got "[::1"'],
    ['[::1]22', 'port', 'expected ":<port>" after "]", got "22"'],
    ['[nope]:22', 'hostname', 'expected an IPv6 address in brackets, got "nope"'],
  ])('rejects %j', (text, part, message) => {
    expect(parseAddress(text)).toEqual(part ? { ok: false, part, message } : { ok: false, message });
  });
});

describe('parseDuration', () => {
  it.each([
    [1, 1000],
    [0.25, 250],
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
  ])('%j is %d ms', (value, ms) => expect(parseDuration(value)).toBe(ms));

  it.each([0, -1, '0s', '2', '2h', 's', '1.s', ''])('rejects %j', (value) => expect(parseDuration(value)).toBeUndefined());
});

describe('didYouMean', () => {
  const keys = ['service', 'build', 'ssh', 'hosts', 'instances', 'app', 'healthcheck', 'proxy', 'releases'];
  it('finds typos, transpositions and other spellings of a key', () => {
    expect(didYouMean('helthcheck', keys)).toBe('healthcheck');
    expect(didYouMean('hsots', keys)).toBe('hosts');
    expect(didYouMean('Instances', keys)).toBe('instances');
    expect(didYouMean('identityFile', ['identity_file', 'known_hosts'])).toBe('identity_file');
    expect(didYouMean('identity-file', ['identity_file', 'known_hosts'])).toBe('identity_file');
  });
  it('suggests nothing for a key that is not close to any', () => {
    expect(didYouMean('port', keys)).toBeUndefined();
    expect(didYouMean('x', keys)).toBeUndefined();
  });
  it('counts edits', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('secrets files', () => {
  it('reads KEY=VALUE lines, values as is', () => {
    const text = '# comment\r\n\r\nA=1\r\nB= spaced = "quoted" \nexport_X=\n';
    expect(parseSecrets(text, 's.env')).toEqual({ values: { A: '1', B: ' spaced = "quoted" ', export_X: '' }, problems: [] });
  });

  it('names the file and line of a bad line', () => {
    const { problems } = parseSecrets('export A=1\nA B=2\nsecret\n', 's.env');
    expect(problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`)).toEqual([
      's.env:1:1: expected KEY=VALUE with KEY made of letters, digits and _, got key "export A"',
      's.env:2:1: expected KEY=VALUE with KEY made of letters, digits and _, got key "A B"',
      's.env:3:1: expected KEY=VALUE, got a line without "="',
    ]);
  });

  it('reads a file for the deploy step, or throws an InputError', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'boxship-secrets-'));
    try {
      writeFileSync(path.join(dir, 'ok.env'), 'TOKEN=abc\n');
      writeFileSync(path.join(dir, 'bad.env'), 'TOKEN\n');
      expect(readSecretsFile(path.join(dir, 'ok.env'))).toEqual({ TOKEN: 'abc' });
      expect(() => readSecretsFile(path.join(dir, 'bad.env'), '.env.secrets')).toThrow(ConfigError);
      expect(() => readSecretsFile(path.join(dir, 'bad.env'), '.env.secrets')).toThrow('.env.secrets:1:1: expected KEY=VALUE');
      expect(() => readSecretsFile(path.join(dir, 'none.env'))).toThrow(InputError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkHostKey, fingerprint, keyTypeOf, knownHostsLine, knownKeyTypes, parseKnownHosts } from '../../src/hosts/known-hosts.js';

/** An ssh-ed25519 public key blob: string "ssh-ed25519" + string key. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
}

describe('known_hosts', () => {
  const key = ed25519Blob();
  const other = ed25519Blob();

  it('matches a [host]:port entry and reports its line', () => {
    const text = `# comment\n\n${knownHostsLine('127.0.0.1', 2201, key)}\n`;
    expect(checkHostKey(parseKnownHosts(text), '127.0.0.1', 2201, key)).toEqual({ status: 'match', line: 3 });
  });

  it('does not match the same host on another port', () => {
    const text = knownHostsLine('127.0.0.1', 2201, key);
    expect(checkHostKey(parseKnownHosts(text), '127.0.0.1', 2202, key).status).toBe('unknown');
  });

  it('reports a changed key with the line and the known fingerprint', () => {
    const text = knownHostsLine('10.0.0.5', 22, key);
    expect(text.startsWith('10.0.0.5 ssh-ed25519 ')).toBe(true);
    expect(checkHostKey(parseKnownHosts(text), '10.0.0.5', 22, other)).toEqual({ status: 'changed', line: 1, knownFingerprint: fingerprint(key) });
  });

  it('understands hashed host names', () => {
    const salt = Buffer.from('0123456789abcdefghij');
    const hash = createHmac('sha1', salt).update('[example.com]:2222').digest('base64');
    const text = `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${key.toString('base64')}`;
    expect(checkHostKey(parseKnownHosts(text), 'example.com', 2222, key).status).toBe('match');
    expect(checkHostKey(parseKnownHosts(text), 'example.org', 2222, key).status).toBe('unknown');
  });

  it('honours wildcards, negation and @revoked', () => {
    const text = [`*.example.com,!bad.example.com ssh-ed25519 ${key.toString('base64')}`, `@revoked * ssh-ed25519 ${other.toString('base64')}`].join('\n');
    const entries = parseKnownHosts(text);
    expect(checkHostKey(entries, 'web.example.com', 22, key).status).toBe('match');
    expect(checkHostKey(entries, 'bad.example.com', 22, key).status).toBe('unknown');
    expect(checkHostKey(entries, 'web.example.com', 22, other).status).toBe('revoked');
    expect(knownKeyTypes(entries, 'web.example.com', 22)).toEqual(['ssh-ed25519']);
  });

  it('reads the key type from the blob', () => {
    expect(keyTypeOf(key)).toBe('ssh-ed25519');
    expect(fingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

import { createHmac, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { utils } from 'ssh2';
import {
  checkHostKey,
  fingerprint,
  hostKeyAlgorithms,
  keyTypeOf,
  keyTypeOfAlgorithm,
  knownHostName,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
} from '../../src/hosts/known-hosts.js';

/** An ssh-ed25519 public key blob: string "ssh-ed25519" + string key. */
function ed25519Blob(): Buffer {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
}

/** A public key blob of another type, as OpenSSH's .pub files carry it ("type base64 comment"). */
function blobOf(type: 'rsa' | 'ecdsa', bits: number): Buffer {
  const pub = utils.generateKeyPairSync(type, { bits }).public;
  return Buffer.from(pub.trim().split(/\s+/)[1]!, 'base64');
}

/** ssh2's default host key order, which src/hosts/ssh.ts offers. */
const DEFAULTS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] as const;

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

  describe('ssh-rsa entries against servers that refuse SHA-1 signatures', () => {
    const rsa = blobOf('rsa', 2048);

    it('offers rsa-sha2-512 and rsa-sha2-256 first for a host known by its ssh-rsa key, ssh-rsa only after them', () => {
      const entries = parseKnownHosts(knownHostsLine('10.0.0.5', 22, rsa));
      const types = knownKeyTypes(entries, '10.0.0.5', 22);
      expect(types).toEqual(['ssh-rsa']);
      expect(hostKeyAlgorithms(DEFAULTS, types)).toEqual([
        'rsa-sha2-512',
        'rsa-sha2-256',
        'ssh-rsa',
        'ssh-ed25519',
        'ecdsa-sha2-nistp256',
        'ecdsa-sha2-nistp384',
        'ecdsa-sha2-nistp521',
      ]);
    });

    it('keeps the default order within the known and the unknown groups, and leaves it alone when nothing is known', () => {
      expect(hostKeyAlgorithms(DEFAULTS, ['ecdsa-sha2-nistp384', 'ssh-rsa'])).toEqual([
        'ecdsa-sha2-nistp384',
        'rsa-sha2-512',
        'rsa-sha2-256',
        'ssh-rsa',
        'ssh-ed25519',
        'ecdsa-sha2-nistp256',
        'ecdsa-sha2-nistp521',
      ]);
      expect(hostKeyAlgorithms(DEFAULTS, ['ssh-ed25519'])).toEqual([...DEFAULTS]);
      expect(hostKeyAlgorithms(DEFAULTS, [])).toEqual([...DEFAULTS]);
    });

    it('maps the rsa-sha2-* signature algorithms to the ssh-rsa key type, every other algorithm to itself', () => {
      expect(keyTypeOfAlgorithm('rsa-sha2-512')).toBe('ssh-rsa');
      expect(keyTypeOfAlgorithm('rsa-sha2-256')).toBe('ssh-rsa');
      expect(keyTypeOfAlgorithm('ssh-rsa')).toBe('ssh-rsa');
      expect(keyTypeOfAlgorithm('ecdsa-sha2-nistp256')).toBe('ecdsa-sha2-nistp256');
    });

    it('matches the ssh-rsa entry with the key ssh2 hands over after an rsa-sha2-512 negotiation (its blob says ssh-rsa)', () => {
      // ssh2 checks the blob type against the negotiated algorithm, allowing ssh-rsa for rsa-sha2-*, and passes the
      // blob unchanged to hostVerifier: the type inside it is the key's, never the signature algorithm's.
      expect(keyTypeOf(rsa)).toBe('ssh-rsa');
      const text = `10.0.0.5 ${knownHostsLine('10.0.0.5', 22, ed25519Blob()).split(' ').slice(1).join(' ')}\n${knownHostsLine('10.0.0.5', 22, rsa)}\n`;
      expect(checkHostKey(parseKnownHosts(text), '10.0.0.5', 22, rsa)).toEqual({ status: 'match', line: 2 });
    });
  });

  describe('a host known by a key of another type is not new', () => {
    it('reports the first entry of another type, with its type and fingerprint, instead of unknown', () => {
      const ecdsa = blobOf('ecdsa', 384);
      const text = `# old\n${knownHostsLine('10.0.0.5', 22, ecdsa)}\n${knownHostsLine('10.0.0.6', 22, key)}\n`;
      expect(checkHostKey(parseKnownHosts(text), '10.0.0.5', 22, key)).toEqual({
        status: 'other-type',
        line: 2,
        knownType: 'ecdsa-sha2-nistp384',
        knownFingerprint: fingerprint(ecdsa),
      });
      // Another host's key of the offered type does not make this host known by it.
      expect(checkHostKey(parseKnownHosts(text), '10.0.0.6', 22, key).status).toBe('match');
      expect(checkHostKey(parseKnownHosts(text), '10.0.0.7', 22, key).status).toBe('unknown');
    });

    it('still reports a changed key when an entry of the offered type exists next to others', () => {
      const rsa = blobOf('rsa', 2048);
      const text = `${knownHostsLine('10.0.0.5', 22, rsa)}\n${knownHostsLine('10.0.0.5', 22, other)}\n`;
      expect(checkHostKey(parseKnownHosts(text), '10.0.0.5', 22, key)).toEqual({ status: 'changed', line: 2, knownFingerprint: fingerprint(other) });
    });

    it('ignores @revoked lines when deciding that a host is known', () => {
      const text = `@revoked 10.0.0.5 ${knownHostsLine('x', 22, other).split(' ').slice(1).join(' ')}`;
      expect(checkHostKey(parseKnownHosts(text), '10.0.0.5', 22, key).status).toBe('unknown');
      expect(checkHostKey(parseKnownHosts(text), '10.0.0.5', 22, other)).toEqual({ status: 'revoked', line: 1 });
    });
  });

  describe('@cert-authority', () => {
    const ca = ed25519Blob();
    const caLine = `@cert-authority *.example.com ssh-ed25519 ${ca.toString('base64')}`;

    it('names the @cert-authority line when it is all known_hosts has for the host', () => {
      const entries = parseKnownHosts(`# fleet CA\n${caLine}\n`);
      expect(checkHostKey(entries, 'web.example.com', 22, key)).toEqual({ status: 'cert-authority', line: 2 });
      // The CA key itself is no host key, and it is never a type to ask the server for.
      expect(checkHostKey(entries, 'web.example.com', 22, ca)).toEqual({ status: 'cert-authority', line: 2 });
      expect(knownKeyTypes(entries, 'web.example.com', 22)).toEqual([]);
      expect(checkHostKey(entries, 'web.example.org', 22, key).status).toBe('unknown');
    });

    it('lets plain entries for the host decide when there are any', () => {
      const entries = parseKnownHosts(`${caLine}\n${knownHostsLine('web.example.com', 22, key)}\n`);
      expect(checkHostKey(entries, 'web.example.com', 22, key)).toEqual({ status: 'match', line: 2 });
      expect(checkHostKey(entries, 'web.example.com', 22, other).status).toBe('changed');
    });
  });

  describe('host names are matched case-insensitively, as OpenSSH lower-cases them', () => {
    it('matches a mixed-case host name against a lower-case entry and a mixed-case pattern against a lower-case name', () => {
      const entries = parseKnownHosts(
        `[web.example.com]:2222 ${knownHostsLine('x', 22, key).split(' ').slice(1).join(' ')}\n*.EXAMPLE.org ${knownHostsLine('x', 22, other).split(' ').slice(1).join(' ')}\n`,
      );
      expect(checkHostKey(entries, 'Web.Example.COM', 2222, key)).toEqual({ status: 'match', line: 1 });
      expect(checkHostKey(entries, 'api.example.org', 22, other)).toEqual({ status: 'match', line: 2 });
      expect(knownKeyTypes(entries, 'WEB.example.com', 2222)).toEqual(['ssh-ed25519']);
    });

    it('hashes the lower-cased name for |1| entries', () => {
      const salt = Buffer.from('abcdefghij0123456789');
      const hash = createHmac('sha1', salt).update('[web.example.com]:2222').digest('base64');
      const entries = parseKnownHosts(`|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${key.toString('base64')}`);
      expect(checkHostKey(entries, 'Web.Example.COM', 2222, key)).toEqual({ status: 'match', line: 1 });
      expect(checkHostKey(entries, 'web.example.com', 2222, key)).toEqual({ status: 'match', line: 1 });
    });

    it('writes and names the lower-cased host, as ssh does', () => {
      expect(knownHostName('Web.Example.COM', 2222)).toBe('[web.example.com]:2222');
      expect(knownHostName('Web.Example.COM', 22)).toBe('web.example.com');
      expect(knownHostsLine('Web.Example.COM', 22, key)).toBe(`web.example.com ssh-ed25519 ${key.toString('base64')}`);
    });
  });
});

/**
 * A failed SSH connect becomes a message that says what went wrong on which host and a hint at what to do.
 */
import { describe, expect, it } from 'vitest';
import type { HostConfig } from '../../src/config/types.js';
import { connectAuth, describeConnectError } from '../../src/hosts/ssh-connect.js';
import { HostError } from '../../src/util/errors.js';

const host: HostConfig = { name: 'deploy@web1', user: 'deploy', hostname: 'web1', port: 22, knownHosts: '/k/known_hosts', instances: 1 };
const fail = (message: string, extra: { code?: string; level?: string } = {}) => Object.assign(new Error(message), extra);

describe('describeConnectError', () => {
  it('names the host and keeps the library error as the cause', () => {
    const err = fail('connect ECONNREFUSED 10.0.0.5:22', { code: 'ECONNREFUSED' });
    const e = describeConnectError('deploy@web1', err, host);
    expect(e).toBeInstanceOf(HostError);
    expect(e.host).toBe('deploy@web1');
    expect(e.message).toBe('deploy@web1: connection refused');
    expect(e.hint).toMatch(/sshd running/);
    expect(e.cause).toBe(err);
  });

  it('tells a name that does not resolve from a host that does not answer', () => {
    expect(describeConnectError('h', fail('getaddrinfo ENOTFOUND web1', { code: 'ENOTFOUND' }), host).message).toBe('h: host name not found');
    expect(describeConnectError('h', fail('getaddrinfo EAI_AGAIN web1', { code: 'EAI_AGAIN' }), host).message).toBe('h: host name not found');
    for (const err of [
      fail('connect ETIMEDOUT', { code: 'ETIMEDOUT' }),
      fail('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' }),
      fail('Timed out while waiting for handshake'),
    ]) {
      const e = describeConnectError('h', err, host);
      expect(e.message).toBe(`h: no answer (${err.message})`);
      expect(e.hint).toMatch(/reachable/);
    }
  });

  it('points an authentication failure at the identity file, or at the agent when there is none', () => {
    const err = fail('All configured authentication methods failed', { level: 'client-authentication' });
    const withKey = describeConnectError('h', err, { ...host, identityFile: '/keys/id_web' });
    expect(withKey.message).toBe('h: authentication failed for user deploy');
    expect(withKey.hint).toBe('is the public key of /keys/id_web in ~deploy/.ssh/authorized_keys on the host?');
    expect(describeConnectError('h', err, host).hint).toMatch(/ssh-add/);
  });

  it('passes any other error through under the host name', () => {
    const e = describeConnectError('h', fail('Handshake failed: no matching key exchange algorithm'), host);
    expect(e.message).toBe('h: Handshake failed: no matching key exchange algorithm');
    expect(e.hint).toBeUndefined();
  });
});

describe('authentication of a connection', () => {
  it('uses the agent without forwarding it on the connection: only a relay hop may ask for it, per channel', () => {
    const auth = connectAuth(host, '/tmp/agent.sock');
    expect(auth.agent).toBe('/tmp/agent.sock');
    expect(auth.agentForward).toBeUndefined();
  });

  it('uses the identity file when there is one, and never the agent then', () => {
    const auth = connectAuth({ ...host, identityFile: '/dev/null' }, '/tmp/agent.sock');
    expect(auth.privateKey).toBeInstanceOf(Buffer);
    expect(auth.agent).toBeUndefined();
    expect(auth.agentForward).toBeUndefined();
  });

  it('names what is missing when there is neither', () => {
    expect(() => connectAuth(host, undefined)).toThrow(/no identity_file is configured and no ssh-agent is running/);
  });
});
